// tokenize skips splitting into script runs a word with no character of an
// unspaced script: it must give exactly what splitting every word gives.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fold, isUnspaced, tokenize } from '../../src/vault/search.ts';

/** The reference: every word split into runs of one kind, unspaced runs as characters and bigrams. */
function tokenizeByRuns(text: string): string[] {
  const terms: string[] = [];
  for (const [word] of fold(text).matchAll(/[\p{L}\p{N}\p{M}]+/gu)) {
    const runs: string[] = [];
    for (const char of word) {
      const last = runs.length - 1;
      if (last >= 0 && isUnspaced(char) === isUnspaced([...runs[last]!][0]!)) runs[last] += char;
      else runs.push(char);
    }
    for (const run of runs) {
      const chars = [...run];
      if (!isUnspaced(chars[0]!)) {
        terms.push(run);
        continue;
      }
      chars.forEach((char, i) => {
        terms.push(char);
        if (i + 1 < chars.length) terms.push(char + chars[i + 1]!);
      });
    }
  }
  return terms;
}

const PIECES = ['tea', 'Straße', 'café', 'e\u0301', 'ΟΔΥΣΣΕΑΣ', 'москва', 'iPhone', '東京', 'タワー', 'を買った', 'ไทย', '9000', ' ', '-', '.', 'ー'];

describe('tokenize', () => {
  it('gives what splitting every word into script runs gives', () => {
    fc.assert(fc.property(fc.array(fc.constantFrom(...PIECES), { maxLength: 12 }), (pieces) => {
      const text = pieces.join('');
      assert.deepEqual(tokenize(text), tokenizeByRuns(text));
    }), { numRuns: 2000 });
  });

  it('splits a mixed-script word into its runs', () => {
    assert.deepEqual(tokenize('新しいiPhoneを買った'), ['新', '新し', 'し', 'しい', 'い', 'iphone', 'を', 'を買', '買', '買っ', 'っ', 'った', 'た']);
  });
});
