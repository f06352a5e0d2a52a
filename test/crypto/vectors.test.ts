// test/vectors is a copy of the team's shared vectors; where the shared folder
// is checked out beside the repository (CI lays it there), the copy must be
// byte for byte the same, so the crypto is tested against the real thing.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { sharedVectorsDir, vectorsDir } from '../helpers/shared-vectors.ts';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? filesUnder(full).map((f) => path.join(name, f)) : [name];
  });
}

describe('test vectors', () => {
  it('the copy in test/vectors equals ../shared/vectors, file for file', (t) => {
    if (!existsSync(sharedVectorsDir)) {
      t.diagnostic(`${sharedVectorsDir} is not checked out here: the copy in test/vectors is used as it is`);
      return;
    }
    const shared = filesUnder(sharedVectorsDir).sort();
    assert.deepEqual(filesUnder(vectorsDir).sort(), shared);
    for (const file of shared) assert.ok(readFileSync(path.join(vectorsDir, file)).equals(readFileSync(path.join(sharedVectorsDir, file))), file);
  });
});
