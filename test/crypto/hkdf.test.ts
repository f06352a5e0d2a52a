// HKDF-SHA256: the RFC 5869 vectors, and the key hierarchy's derivations
// recomputed here from HMAC alone (RFC 5869 section 2), independently of
// node's hkdfSync that src/crypto/keys.ts uses.
import assert from 'node:assert/strict';
import { createHmac, hkdfSync, randomBytes, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { fernetDecrypt } from '../../src/crypto/fernet.ts';
import {
  DATA_KEY_INFO,
  KEY_WRAP_INFO,
  LOOKUP_KEY_INFO,
  deriveDataKey,
  deriveLookupKey,
  generateApiKey,
  generateSessionToken,
  wrapDataKey,
} from '../../src/crypto/keys.ts';
import { type HkdfVector, hex, loadVectors } from '../helpers/shared-vectors.ts';

const vectors = loadVectors<HkdfVector[]>('hkdf/rfc5869-sha256.json');

const HASH_LEN = 32;

/** RFC 5869 2.2: PRK = HMAC-Hash(salt, IKM); a missing salt is HashLen zero bytes. */
function extract(salt: Buffer, ikm: Buffer): Buffer {
  return createHmac('sha256', salt.length > 0 ? salt : Buffer.alloc(HASH_LEN)).update(ikm).digest();
}

/** RFC 5869 2.3: T(i) = HMAC-Hash(PRK, T(i-1) | info | i), OKM = first L bytes of T(1) | T(2) | … */
function expand(prk: Buffer, info: Buffer, length: number): Buffer {
  assert.ok(length <= 255 * HASH_LEN);
  const blocks: Buffer[] = [];
  let previous = Buffer.alloc(0);
  for (let i = 1; Buffer.concat(blocks).length < length; i++) {
    previous = createHmac('sha256', prk).update(Buffer.concat([previous, info, Buffer.from([i])])).digest();
    blocks.push(previous);
  }
  return Buffer.concat(blocks).subarray(0, length);
}

const referenceHkdf = (ikm: Buffer, salt: Buffer, info: Buffer, length: number): Buffer => expand(extract(salt, ikm), info, length);
const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

describe('RFC 5869 HKDF-SHA256 test cases', () => {
  it('has the three SHA-256 cases', () => assert.equal(vectors.length, 3));

  vectors.forEach((v, i) => {
    it(`A.${i + 1}: PRK via HMAC, OKM via node hkdfSync and via HMAC expand (L=${v.L})`, () => {
      const prk = extract(hex(v.salt), hex(v.ikm));
      assert.equal(prk.toString('hex'), v.prk);
      assert.equal(expand(prk, hex(v.info), v.L).toString('hex'), v.okm);
      // The primitive keys.ts calls, with the argument shapes it uses.
      assert.equal(Buffer.from(hkdfSync('sha256', hex(v.ikm), hex(v.salt), hex(v.info), v.L)).toString('hex'), v.okm);
    });
  });

  it('node hkdfSync takes string arguments as UTF-8 (keys.ts passes the user id and info as strings)', () => {
    const salt = 'üser-ïd';
    const info = 'smtry-at-rest-v1';
    const ikm = randomBytes(40);
    assert.deepEqual(Buffer.from(hkdfSync('sha256', ikm, salt, info, 32)), referenceHkdf(ikm, utf8(salt), utf8(info), 32));
    // and an empty string salt is the RFC's "not provided" (HashLen zeros).
    assert.deepEqual(Buffer.from(hkdfSync('sha256', ikm, '', info, 32)), referenceHkdf(ikm, Buffer.alloc(0), utf8(info), 32));
  });
});

describe('the key hierarchy derivations, recomputed independently', () => {
  it('the info strings are the ones DESIGN.md fixes', () => {
    assert.equal(DATA_KEY_INFO, 'smtry-at-rest-v1');
    assert.equal(KEY_WRAP_INFO, 'smtry-key-wrap-v1');
    assert.equal(LOOKUP_KEY_INFO, 'anamnesis-lookup-v1');
  });

  it('deriveDataKey = HKDF(ikm=UTF-8(api_key), salt=UTF-8(user_id), info="smtry-at-rest-v1", L=32)', () => {
    for (let i = 0; i < 25; i++) {
      const apiKey = generateApiKey();
      const userId = randomUUID();
      const k = deriveDataKey(apiKey, userId);
      assert.equal(k.length, 32);
      assert.deepEqual(k, referenceHkdf(utf8(apiKey), utf8(userId), utf8('smtry-at-rest-v1'), 32));
    }
  });

  it('deriveDataKey pinned on fixed inputs (a regression anchor for the v1 format)', () => {
    const apiKey = `anm_${Buffer.alloc(32, 7).toString('base64url')}`;
    assert.equal(apiKey, 'anm_BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc');
    // Computed with PyCA cryptography 48.0.0: HKDF(SHA256(), 32, salt=user_id.encode(), info=b"smtry-at-rest-v1").derive(api_key.encode())
    const expected = '197a706db1a8b441d59dacc45ce8c1b36f19f2d690453c8265ba1fe0103f026e';
    assert.equal(deriveDataKey(apiKey, '8c0e2f4a-1b3c-4d5e-8f60-718293a4b5c6').toString('hex'), expected);
  });

  it('the whole "anm_…" string is the IKM, not the decoded 32 bytes', () => {
    const apiKey = generateApiKey();
    const userId = randomUUID();
    const raw = Buffer.from(apiKey.slice(4), 'base64url');
    assert.notDeepEqual(deriveDataKey(apiKey, userId), referenceHkdf(raw, utf8(userId), utf8(DATA_KEY_INFO), 32));
  });

  it('different user ids, different keys, or a case change give a different K', () => {
    const apiKey = generateApiKey();
    const userId = randomUUID();
    const k = deriveDataKey(apiKey, userId);
    const others = [
      deriveDataKey(apiKey, randomUUID()),
      deriveDataKey(generateApiKey(), userId),
      deriveDataKey(apiKey, userId.toUpperCase()),
      deriveDataKey(apiKey.slice(0, -1) + (apiKey.endsWith('A') ? 'B' : 'A'), userId),
    ];
    for (const other of others) assert.notDeepEqual(other, k);
    assert.equal(new Set([k, ...others].map((x) => x.toString('hex'))).size, others.length + 1);
    // and the same inputs give the same K every time (it is never stored, so it must be re-derivable)
    assert.deepEqual(deriveDataKey(apiKey, userId), k);
  });

  it('the session wrap key is HKDF(ikm=UTF-8(token), salt=UTF-8(user_id), info="smtry-key-wrap-v1", L=32)', () => {
    const token = generateSessionToken();
    const userId = randomUUID();
    const k = deriveDataKey(generateApiKey(), userId);
    const wrapKey = referenceHkdf(utf8(token), utf8(userId), utf8('smtry-key-wrap-v1'), 32);
    assert.deepEqual(fernetDecrypt(wrapKey, wrapDataKey(token, userId, k)), k);
  });

  it('the lookup sub-key is HKDF(ikm=K, no salt, info="anamnesis-lookup-v1", L=32)', () => {
    const k = deriveDataKey(generateApiKey(), randomUUID());
    assert.deepEqual(deriveLookupKey(k), referenceHkdf(k, Buffer.alloc(0), utf8('anamnesis-lookup-v1'), 32));
  });
});
