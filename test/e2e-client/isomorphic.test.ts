// The client core runs unchanged in the browser: no file under
// src/e2e-client imports a node: module or Buffer, and nothing outside the
// folder pulls one in (records.ts and errors.ts are the only shared imports).
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../helpers/shared-vectors.ts';

const IMPORT = /^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm;

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => (m[1] ?? m[2])!);
}

describe('the client core is isomorphic', () => {
  it('imports only relative files, zod and @serenity-kit/opaque, transitively, and never Buffer or process', () => {
    const start = path.join(repoRoot, 'src', 'e2e-client');
    const queue = readdirSync(start).filter((f) => f.endsWith('.ts')).map((f) => path.join(start, f));
    const seen = new Set<string>();
    while (queue.length > 0) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const code = readFileSync(file, 'utf8').replace(/\/\/.*$/gm, '');
      assert.doesNotMatch(code, /\bBuffer\b|\bprocess\.|\brequire\(/, `${path.relative(repoRoot, file)} uses a Node-only global`);
      for (const spec of importsOf(file)) {
        if (spec.startsWith('.')) queue.push(path.resolve(path.dirname(file), spec));
        else assert.ok(spec === 'zod' || spec === '@serenity-kit/opaque', `${path.relative(repoRoot, file)} imports ${spec}`);
      }
    }
    assert.ok(seen.size >= 8);
  });
});
