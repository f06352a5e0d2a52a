// The client core's WebCrypto Fernet against the published spec vectors
// (test/vectors/fernet, a copy of ../shared/vectors) and against the server's
// node:crypto Fernet both ways: a token made by either opens in the other.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import * as node from '../../src/crypto/fernet.ts';
import {
  type FernetFailure,
  FernetKey,
  InvalidFernetToken,
  fernetDecrypt,
  fernetEncrypt,
  fernetKeyString,
  parseFernetKeyString,
} from '../../src/e2e-client/fernet.ts';
import { FERNET_INVALID_REASON, isoToEpochSeconds, loadFernetVectors } from '../helpers/shared-vectors.ts';

const { generate, verify, invalid } = loadFernetVectors();

async function rejection(promise: Promise<unknown>): Promise<FernetFailure> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof InvalidFernetToken, `expected InvalidFernetToken, got ${String(error)}`);
    return error.reason;
  }
  assert.fail('the token was accepted');
}

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');

describe('WebCrypto Fernet: spec vectors', () => {
  it('has every vector it expects', () => {
    assert.equal(generate.length, 1);
    assert.equal(verify.length, 1);
    assert.equal(invalid.length, Object.keys(FERNET_INVALID_REASON).length);
  });

  for (const v of generate) {
    it(`generate: the vector's IV and time reproduce ${v.token.slice(0, 16)}… exactly`, async () => {
      const key = parseFernetKeyString(v.secret);
      assert.equal(await fernetEncrypt(key, v.src, { iv: Uint8Array.from(v.iv), now: isoToEpochSeconds(v.now) }), v.token);
      assert.equal(fernetKeyString(key), v.secret);
    });
  }

  for (const v of verify) {
    it(`verify: ${v.token.slice(0, 16)}… opens to ${JSON.stringify(v.src)}, and expires one second past its TTL`, async () => {
      const key = parseFernetKeyString(v.secret);
      const now = isoToEpochSeconds(v.now);
      assert.equal(text(await fernetDecrypt(key, v.token, { ttlSeconds: v.ttl_sec, now })), v.src);
      const stamp = node.fernetTimestamp(v.token);
      assert.equal(text(await fernetDecrypt(key, v.token, { ttlSeconds: v.ttl_sec, now: stamp + v.ttl_sec })), v.src);
      assert.equal(await rejection(fernetDecrypt(key, v.token, { ttlSeconds: v.ttl_sec, now: stamp + v.ttl_sec + 1 })), 'expired');
    });
  }

  for (const v of invalid) {
    it(`invalid: "${v.desc}" is refused as ${FERNET_INVALID_REASON[v.desc] ?? '(unknown)'}`, async () => {
      const expected = FERNET_INVALID_REASON[v.desc];
      assert.ok(expected, `no expected reason for "${v.desc}"`);
      const key = parseFernetKeyString(v.secret);
      assert.equal(await rejection(fernetDecrypt(key, v.token, { ttlSeconds: v.ttl_sec, now: isoToEpochSeconds(v.now) })), expected);
    });
  }
});

describe('WebCrypto Fernet and node:crypto Fernet interoperate', () => {
  const sizes = [0, 1, 15, 16, 17, 1000, 65_537];

  it('a token from the client core opens with the server\'s Fernet, byte for byte', async () => {
    for (const size of sizes) {
      const key = randomBytes(32);
      const plaintext = randomBytes(size);
      const token = await fernetEncrypt(key, plaintext);
      assert.ok(token.startsWith('gAAAAA'));
      assert.deepEqual(node.fernetDecrypt(key, token), plaintext);
    }
  });

  it('a token from the server\'s Fernet opens with the client core, byte for byte', async () => {
    for (const size of sizes) {
      const key = randomBytes(32);
      const plaintext = randomBytes(size);
      assert.deepEqual(Buffer.from(await fernetDecrypt(key, node.fernetEncrypt(key, plaintext))), plaintext);
    }
  });

  it('with the same IV and time both produce the same token', async () => {
    const key = randomBytes(32);
    const iv = randomBytes(16);
    const message = 'Grüße, 世界 🌍 — e\u0301';
    assert.equal(await fernetEncrypt(key, message, { iv, now: 1_700_000_000 }), node.fernetEncrypt(key, message, { iv, now: 1_700_000_000 }));
  });

  it('a token under another key, or with one bit flipped, fails the MAC check in both', async () => {
    const key = randomBytes(32);
    const token = await fernetEncrypt(key, 'secret');
    assert.equal(await rejection(fernetDecrypt(randomBytes(32), token)), 'bad-signature');
    const bytes = Buffer.from(token, 'base64url');
    for (const at of [9, 30, bytes.length - 1]) {
      const flipped = Buffer.from(bytes);
      flipped[at]! ^= 1;
      const tampered = flipped.toString('base64url') + '='.repeat((3 - (flipped.length % 3)) % 3);
      assert.equal(await rejection(fernetDecrypt(key, tampered)), 'bad-signature');
      assert.throws(() => node.fernetDecrypt(key, tampered), node.InvalidFernetToken);
    }
  });

  it('only the canonical padded base64url spelling of a token is accepted, as on the server', async () => {
    const key = randomBytes(32);
    const token = await fernetEncrypt(key, 'x');
    const spellings = [
      token.replace(/=+$/, ''), // padding dropped
      token + '=', // extra padding
      token.replace(/-/g, '+').replace(/_/g, '/'), // standard alphabet
      ` ${token}`,
      token.slice(0, 10) + '\n' + token.slice(10),
    ].filter((s) => s !== token);
    for (const spelling of spellings) {
      assert.equal(await rejection(fernetDecrypt(key, spelling)), 'malformed-base64', JSON.stringify(spelling.slice(0, 12)));
    }
    // The last character before the padding with an unused bit set names the same bytes: refused.
    const body = token.replace(/=+$/, '');
    const pad = token.slice(body.length);
    const last = body.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sibling = alphabet[alphabet.indexOf(last) + 1]!;
    const twin = body.slice(0, -1) + sibling + pad;
    assert.deepEqual(Buffer.from(twin, 'base64url'), Buffer.from(token, 'base64url'));
    assert.equal(await rejection(fernetDecrypt(key, twin)), 'malformed-base64');
  });

  it('an imported FernetKey is reused across many records and gives fresh IVs', async () => {
    const key = await FernetKey.import(randomBytes(32));
    const tokens = await Promise.all(Array.from({ length: 50 }, () => key.encrypt('same')));
    assert.equal(new Set(tokens).size, 50);
    for (const token of tokens) assert.equal(text(await key.decrypt(token)), 'same');
  });

  it('refuses keys and key strings of the wrong length', async () => {
    await assert.rejects(FernetKey.import(randomBytes(16)), RangeError);
    assert.throws(() => parseFernetKeyString(randomBytes(32).toString('base64url')), RangeError);
    assert.throws(() => parseFernetKeyString(randomBytes(33).toString('base64url')), RangeError);
  });
});
