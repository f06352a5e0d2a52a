// The key hierarchy of DESIGN.md section 1: API keys, lookup hashes, wraps,
// keyed lookup tags, constant-time comparison.
import assert from 'node:assert/strict';
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { InvalidFernetToken, fernetDecrypt } from '../../src/crypto/fernet.ts';
import {
  deriveDataKey,
  deriveLookupKey,
  generateApiKey,
  generateSessionToken,
  isApiKey,
  lookupTag,
  secretLookupHash,
  secretsEqual,
  unwrapDataKey,
  wrapDataKey,
} from '../../src/crypto/keys.ts';

const API_KEY_FORMAT = /^anm_[A-Za-z0-9_-]{43}$/;

function failureReason(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof InvalidFernetToken, `expected InvalidFernetToken, got ${String(error)}`);
    return error.reason;
  }
  assert.fail('accepted');
}

describe('API keys', () => {
  it('have the format anm_ + 43 base64url characters that decode to 32 bytes', () => {
    for (let i = 0; i < 200; i++) {
      const key = generateApiKey();
      assert.match(key, API_KEY_FORMAT);
      assert.equal(key.length, 47);
      const raw = Buffer.from(key.slice(4), 'base64url');
      assert.equal(raw.length, 32);
      // canonical: the 43 characters are exactly the unpadded encoding of those 32 bytes
      assert.equal(raw.toString('base64url'), key.slice(4));
      assert.ok(isApiKey(key));
    }
  });

  it('are distinct across 1000 calls and look random (bit balance, byte spread)', () => {
    const keys = Array.from({ length: 1000 }, generateApiKey);
    assert.equal(new Set(keys).size, 1000);
    const raw = Buffer.concat(keys.map((k) => Buffer.from(k.slice(4), 'base64url')));
    let ones = 0;
    const byteCounts = new Array<number>(256).fill(0);
    for (const byte of raw) {
      byteCounts[byte]!++;
      for (let b = byte; b; b &= b - 1) ones++;
    }
    const bits = raw.length * 8; // 256 000: mean 128 000, sigma ~253
    assert.ok(Math.abs(ones - bits / 2) < 6 * Math.sqrt(bits / 4), `ones=${ones} of ${bits}`);
    // 32 000 bytes over 256 values: every value appears (expected 125 each)
    assert.ok(byteCounts.every((n) => n > 50), 'every byte value appears');
    // The 32 raw bytes differ between keys in their first 8 bytes too (no shared prefix or counter).
    assert.equal(new Set(keys.map((k) => k.slice(4, 15))).size, 1000);
  });

  const accepted: Array<[string, string]> = [
    ['all A', `anm_${'A'.repeat(43)}`],
    ['dash and underscore', `anm_${'-_'.repeat(21)}z`],
    ['digits', `anm_${'0123456789'.repeat(4)}abc`],
  ];
  const rejected: Array<[string, string]> = [
    ['empty', ''],
    ['prefix only', 'anm_'],
    ['no prefix', 'A'.repeat(47)],
    ['43 characters without prefix', 'A'.repeat(43)],
    ['upper-case prefix', `ANM_${'A'.repeat(43)}`],
    ['other prefix', `anx_${'A'.repeat(43)}`],
    ['prefix with dash', `anm-${'A'.repeat(43)}`],
    ['42 characters', `anm_${'A'.repeat(42)}`],
    ['44 characters', `anm_${'A'.repeat(44)}`],
    ['base64 padding', `anm_${'A'.repeat(43)}=`],
    ['standard base64 +', `anm_${'A'.repeat(42)}+`],
    ['standard base64 /', `anm_${'A'.repeat(42)}/`],
    ['trailing newline', `anm_${'A'.repeat(43)}\n`],
    ['leading space', ` anm_${'A'.repeat(43)}`],
    ['trailing space', `anm_${'A'.repeat(43)} `],
    ['inner space', `anm_${'A'.repeat(21)} ${'A'.repeat(21)}`],
    ['Bearer prefix kept', `Bearer anm_${'A'.repeat(43)}`],
    ['non-ASCII letter', `anm_${'A'.repeat(42)}é`],
    ['Cyrillic А (U+0410)', `anm_${'A'.repeat(42)}\u0410`],
    ['fullwidth A', `anm_${'A'.repeat(42)}\uFF21`],
    ['NUL', `anm_${'A'.repeat(42)}\u0000`],
    ['two keys', `anm_${'A'.repeat(43)}anm_${'A'.repeat(43)}`],
  ];
  for (const [name, candidate] of accepted) it(`isApiKey accepts: ${name}`, () => assert.equal(isApiKey(candidate), true));
  for (const [name, candidate] of rejected) it(`isApiKey rejects: ${name}`, () => assert.equal(isApiKey(candidate), false));

  it('session tokens are 32 random bytes, base64url, distinct', () => {
    const tokens = Array.from({ length: 1000 }, generateSessionToken);
    assert.equal(new Set(tokens).size, 1000);
    for (const token of tokens) {
      assert.match(token, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(Buffer.from(token, 'base64url').length, 32);
      assert.equal(isApiKey(token), false);
    }
  });
});

describe('secretLookupHash', () => {
  it('is lowercase hex SHA-256 of the UTF-8 text', () => {
    // FIPS 180-2 / NIST examples
    assert.equal(secretLookupHash(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    assert.equal(secretLookupHash('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    // Non-ASCII: the UTF-8 bytes, not UTF-16 or Latin-1.
    const utf8Bytes = Buffer.from([0x63, 0x61, 0x66, 0xc3, 0xa9, 0x20, 0xe2, 0x98, 0x95]); // "café ☕"
    assert.equal(secretLookupHash('café ☕'), createHash('sha256').update(utf8Bytes).digest('hex'));
    const key = generateApiKey();
    const expected = createHash('sha256').update(Buffer.from(key, 'ascii')).digest('hex');
    assert.equal(secretLookupHash(key), expected);
    assert.match(secretLookupHash(key), /^[0-9a-f]{64}$/);
  });

  it('differs from K and from anything that reveals the key', () => {
    const apiKey = generateApiKey();
    const userId = randomUUID();
    assert.notEqual(secretLookupHash(apiKey), deriveDataKey(apiKey, userId).toString('hex'));
    assert.ok(!secretLookupHash(apiKey).includes(apiKey.slice(4, 12)));
  });
});

describe('wrapped data keys (sessions and pending keys)', () => {
  const userId = randomUUID();
  const k = deriveDataKey(generateApiKey(), userId);

  it('wrap then unwrap with the same token and user id gives K back', () => {
    const token = generateSessionToken();
    const wrapped = wrapDataKey(token, userId, k);
    assert.ok(wrapped.startsWith('gAAAAA'));
    assert.deepEqual(unwrapDataKey(token, userId, wrapped), k);
    // The wrap does not carry K in any readable form.
    assert.ok(!wrapped.includes(k.toString('base64url').slice(0, 16)));
    assert.ok(!Buffer.from(wrapped, 'base64url').includes(k));
  });

  it('a pending API key wraps K_old the same way (rotation)', () => {
    const pending = generateApiKey();
    assert.deepEqual(unwrapDataKey(pending, userId, wrapDataKey(pending, userId, k)), k);
  });

  it('two wraps of one K under one token differ (fresh IV)', () => {
    const token = generateSessionToken();
    assert.notEqual(wrapDataKey(token, userId, k), wrapDataKey(token, userId, k));
  });

  it('unwrapping with another token, another user id or K itself fails as a bad signature', () => {
    const token = generateSessionToken();
    const wrapped = wrapDataKey(token, userId, k);
    assert.equal(failureReason(() => unwrapDataKey(generateSessionToken(), userId, wrapped)), 'bad-signature');
    assert.equal(failureReason(() => unwrapDataKey(token, randomUUID(), wrapped)), 'bad-signature');
    assert.equal(failureReason(() => unwrapDataKey(token, userId.toUpperCase(), wrapped)), 'bad-signature');
    assert.equal(failureReason(() => unwrapDataKey(secretLookupHash(token), userId, wrapped)), 'bad-signature');
    // Knowing K (or the stored hash of the token) does not open the wrap either.
    assert.equal(failureReason(() => fernetDecrypt(k, wrapped)), 'bad-signature');
  });

  it('a wrap of something that is not 32 bytes is refused on unwrap', () => {
    const token = generateSessionToken();
    const wrapped = wrapDataKey(token, userId, Buffer.alloc(16));
    assert.throws(() => unwrapDataKey(token, userId, wrapped), RangeError);
  });
});

describe('keyed lookup tags', () => {
  const k1 = deriveDataKey(generateApiKey(), randomUUID());
  const k2 = deriveDataKey(generateApiKey(), randomUUID());

  it('the lookup sub-key is not K, and differs per K', () => {
    const l1 = deriveLookupKey(k1);
    assert.equal(l1.length, 32);
    assert.notDeepEqual(l1, k1);
    assert.notDeepEqual(deriveLookupKey(k2), l1);
    assert.deepEqual(deriveLookupKey(k1), l1);
  });

  it('a tag is HMAC-SHA256(lookup key, UTF-8 value), base64url, equal for equal inputs', () => {
    const l1 = deriveLookupKey(k1);
    const tag = lookupTag(l1, 'Ada Lovelace');
    assert.equal(tag, createHmac('sha256', l1).update(Buffer.from('Ada Lovelace', 'utf8')).digest('base64url'));
    assert.match(tag, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(lookupTag(l1, 'Ada Lovelace'), tag);
    assert.notEqual(lookupTag(l1, 'Ada lovelace'), tag);
    assert.notEqual(lookupTag(l1, ''), tag);
  });

  it('is keyed: another K gives another tag for the same value, and an unkeyed hash is no match', () => {
    const value = 'Ada Lovelace';
    const t1 = lookupTag(deriveLookupKey(k1), value);
    const t2 = lookupTag(deriveLookupKey(k2), value);
    assert.notEqual(t1, t2);
    assert.notEqual(t1, createHash('sha256').update(value).digest('base64url'));
    // K used directly (instead of the sub-key) gives a different tag: the sub-key separates the uses.
    assert.notEqual(lookupTag(k1, value), t1);
  });
});

describe('secretsEqual', () => {
  const cases: Array<[string, string, boolean]> = [
    ['', '', true],
    ['a', 'a', true],
    ['a', 'b', false],
    ['a', 'aa', false],
    ['', 'a', false],
    ['anm_x', 'anm_X', false],
    ['é', 'e\u0301', false], // no Unicode normalisation: secrets compare as bytes
    ['☕'.repeat(100), '☕'.repeat(100), true],
  ];
  for (const [a, b, equal] of cases) {
    it(`${JSON.stringify(a.slice(0, 8))} vs ${JSON.stringify(b.slice(0, 8))} -> ${equal}`, () => {
      assert.equal(secretsEqual(a, b), equal);
      assert.equal(secretsEqual(b, a), equal);
    });
  }

  it('compares real hashes and keys', () => {
    const key = generateApiKey();
    assert.equal(secretsEqual(secretLookupHash(key), secretLookupHash(key)), true);
    assert.equal(secretsEqual(secretLookupHash(key), secretLookupHash(generateApiKey())), false);
    assert.equal(secretsEqual(key, `${key} `), false);
  });
});
