// The E2E key hierarchy (docs/e2e-protocol.md §1) as the client core derives
// it on WebCrypto, checked against RFC 5869's vectors and against the same
// derivations done independently with node:crypto, as a reviewer would.
import assert from 'node:assert/strict';
import { createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import * as node from '../../src/crypto/fernet.ts';
import { decodeBase64url, encodeBase64url } from '../../src/e2e-client/encoding.ts';
import { E2eApi } from '../../src/e2e-client/api.ts';
import { MemoryReplicaCache } from '../../src/e2e-client/cache.ts';
import { FernetKey } from '../../src/e2e-client/fernet.ts';
import { Replica } from '../../src/e2e-client/replica.ts';
import {
  WrongKey,
  accountKeys,
  entityId,
  generateDataKey,
  hkdfBytes,
  manifestKey,
  newMemoryId,
  recoveryAuth,
  recoveryVerifier,
  relationId,
  unwrapWithPassword,
  unwrapWithRecoveryCode,
  wrapWithPassword,
  wrapWithRecoveryCode,
} from '../../src/e2e-client/keys.ts';
import { ManifestDigest } from '../../src/e2e-client/manifest.ts';
import { InvalidRecoveryCode, formatRecoveryCode, makeRecoveryCode, normaliseRecoveryCode, parseRecoveryCode } from '../../src/e2e-client/recovery-code.ts';
import { type HkdfVector, hex, loadVectors } from '../helpers/shared-vectors.ts';

const userId = '8c0e2f4a-1b3c-4d5e-8f60-718293a4b5c6';
const nodeHkdf = (ikm: Uint8Array, salt: string, info: string): Buffer => Buffer.from(hkdfSync('sha256', ikm, salt, info, 32));

describe('HKDF on WebCrypto', () => {
  for (const v of loadVectors<HkdfVector[]>('hkdf/rfc5869-sha256.json')) {
    it(`RFC 5869: ${v.L} bytes from a ${v.ikm.length / 2}-byte ikm`, async () => {
      assert.equal(Buffer.from(await hkdfBytes(hex(v.ikm), hex(v.salt), hex(v.info), v.L)).toString('hex'), v.okm);
    });
  }
});

describe('key wraps', () => {
  it('K is 32 fresh random bytes per account', () => {
    const keys = new Set(Array.from({ length: 20 }, () => Buffer.from(generateDataKey()).toString('hex')));
    assert.equal(keys.size, 20);
    for (const k of keys) assert.equal(k.length, 64);
  });

  it('password_wrap is Fernet(HKDF(export key, user id, password-wrap info)).encrypt(K), as node:crypto reproduces', async () => {
    const exportKey = randomBytes(64).toString('base64url');
    const K = generateDataKey();
    const wrapped = await wrapWithPassword(exportKey, userId, K);
    const wp = nodeHkdf(Buffer.from(exportKey, 'base64url'), userId, 'anamnesis-e2e-password-wrap-v1');
    assert.deepEqual(node.fernetDecrypt(wp, wrapped), Buffer.from(K));
    assert.deepEqual(await unwrapWithPassword(exportKey, userId, wrapped), K);
  });

  it('a wrap does not open under another export key, another user id, or after tampering', async () => {
    const exportKey = randomBytes(64).toString('base64url');
    const K = generateDataKey();
    const wrapped = await wrapWithPassword(exportKey, userId, K);
    await assert.rejects(unwrapWithPassword(randomBytes(64).toString('base64url'), userId, wrapped), WrongKey);
    await assert.rejects(unwrapWithPassword(exportKey, '00000000-0000-4000-8000-000000000000', wrapped), WrongKey);
    await assert.rejects(unwrapWithPassword(exportKey, userId, wrapped.slice(0, -8) + 'AAAAAAA='), WrongKey);
    // A wrap of something that is not 32 bytes (the server offering another Fernet token under W_p) is refused too.
    const wp = nodeHkdf(Buffer.from(exportKey, 'base64url'), userId, 'anamnesis-e2e-password-wrap-v1');
    await assert.rejects(unwrapWithPassword(exportKey, userId, node.fernetEncrypt(wp, randomBytes(31))), WrongKey);
  });

  it('recovery_wrap is Fernet(HKDF(code bytes, user id, recovery-wrap info)).encrypt(K)', async () => {
    const code = makeRecoveryCode();
    const K = generateDataKey();
    const wrapped = await wrapWithRecoveryCode(code.bytes, userId, K);
    assert.deepEqual(node.fernetDecrypt(nodeHkdf(code.bytes, userId, 'anamnesis-e2e-recovery-wrap-v1'), wrapped), Buffer.from(K));
    assert.deepEqual(await unwrapWithRecoveryCode(parseRecoveryCode(code.text.toLowerCase()).bytes, userId, wrapped), K);
    await assert.rejects(unwrapWithRecoveryCode(makeRecoveryCode().bytes, userId, wrapped), WrongKey);
  });

  it('recovery_auth and recovery_verifier: the server keeps hex SHA-256 of the proof, and the proof is not the wrap key', async () => {
    const code = makeRecoveryCode();
    const auth = await recoveryAuth(code.bytes);
    const expected = hkdfSync('sha256', code.bytes, Buffer.alloc(0), 'anamnesis-e2e-recovery-auth-v1', 32);
    assert.equal(auth, Buffer.from(expected).toString('base64url'));
    assert.match(auth, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(await recoveryVerifier(auth), createHash('sha256').update(auth, 'utf8').digest('hex'));
    assert.notEqual(auth, nodeHkdf(code.bytes, userId, 'anamnesis-e2e-recovery-wrap-v1').toString('base64url'));
    assert.notEqual(await recoveryAuth(makeRecoveryCode().bytes), auth);
  });
});

describe('recovery code', () => {
  it('is 32 Crockford base32 characters in 8 groups of 4, 160 random bits', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const code = makeRecoveryCode();
      assert.match(code.text, /^([0-9ABCDEFGHJKMNPQRSTVWXYZ]{4}-){7}[0-9ABCDEFGHJKMNPQRSTVWXYZ]{4}$/);
      assert.equal(code.bytes.length, 20);
      assert.deepEqual(parseRecoveryCode(code.text).bytes, code.bytes);
      seen.add(code.text);
    }
    assert.equal(seen.size, 200);
  });

  it('encodes bytes as Crockford base32, most significant bits first', () => {
    assert.equal(formatRecoveryCode(new Uint8Array(20)), '0000-0000-0000-0000-0000-0000-0000-0000');
    assert.equal(formatRecoveryCode(new Uint8Array(20).fill(0xff)), 'ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ');
    const bytes = new Uint8Array(20);
    bytes[0] = 0b00001_000; // first 5 bits 00001 -> '1'
    bytes[19] = 0b000_11111; // last 5 bits 11111 -> 'Z'
    assert.equal(formatRecoveryCode(bytes), '1000-0000-0000-0000-0000-0000-0000-000Z');
  });

  it('is read back case-insensitively, with or without dashes or spaces, O as 0 and I or L as 1', () => {
    const code = parseRecoveryCode('01AB-CDEF-GHJK-MNPQ-RSTV-WXYZ-0000-1111');
    for (const typed of [
      '01ab-cdef-ghjk-mnpq-rstv-wxyz-0000-1111',
      '01ABCDEFGHJKMNPQRSTVWXYZ00001111',
      ' 01AB CDEF GHJK MNPQ RSTV WXYZ 0000 1111 ',
      'O1AB-CDEF-GHJK-MNPQ-RSTV-WXYZ-oOoO-IiLl',
    ]) {
      assert.equal(normaliseRecoveryCode(typed), '01ABCDEFGHJKMNPQRSTVWXYZ00001111', typed);
      assert.deepEqual(parseRecoveryCode(typed).bytes, code.bytes);
    }
    assert.equal(code.text, '01AB-CDEF-GHJK-MNPQ-RSTV-WXYZ-0000-1111');
  });

  it('refuses what cannot be a code, without repeating it in the message', () => {
    for (const typed of ['', 'ABCD', '01AB-CDEF-GHJK-MNPQ-RSTV-WXYZ-0000-111', '01AB-CDEF-GHJK-MNPQ-RSTV-WXYZ-0000-11111', '01AB-CDEF-GHJK-MNPQ-RSTV-WXYZ-0000-111U', '01AB-CDEF-GHJK-MNPQ-RSTV-WXYZ-0000-111!']) {
      assert.throws(() => parseRecoveryCode(typed), (error: unknown) => error instanceof InvalidRecoveryCode && (typed.length < 5 || !error.message.includes(typed)));
    }
  });
});

describe('manifest key, derived ids and the manifest digest', () => {
  it('D = HKDF(K, user id, manifest info); entity and relation ids are e_ + base64url of 18 HMAC bytes', async () => {
    const K = generateDataKey();
    const D = nodeHkdf(K, userId, 'anamnesis-e2e-manifest-v1');
    const d = await manifestKey(K, userId);
    const expected = (message: string) => 'e_' + createHmac('sha256', D).update(message, 'utf8').digest().subarray(0, 18).toString('base64url');
    assert.equal(await entityId(d, 'Ada Lovelace'), expected('entity\nAda Lovelace'));
    assert.equal(await relationId(d, 'Ada Lovelace', 'Analytical Engine', 'wrote about'), expected('relation\nAda Lovelace\nAnalytical Engine\nwrote about'));
    assert.match(await entityId(d, 'x'), /^e_[A-Za-z0-9_-]{24}$/);
    // The same name on another device (same K) meets on the same id; another account's K does not.
    assert.equal(await entityId(await manifestKey(Uint8Array.from(K), userId), 'Ada Lovelace'), await entityId(d, 'Ada Lovelace'));
    assert.notEqual(await entityId(await manifestKey(generateDataKey(), userId), 'Ada Lovelace'), await entityId(d, 'Ada Lovelace'));
  });

  it('memory ids are random UUIDs', () => {
    assert.match(newMemoryId(), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(newMemoryId(), newMemoryId());
  });

  it('the digest is the XOR of HMAC(D, id + "\\n" + version) over the live set, kept incrementally', async () => {
    const K = generateDataKey();
    const D = nodeHkdf(K, userId, 'anamnesis-e2e-manifest-v1');
    const d = await manifestKey(K, userId);
    const live: Array<[string, number]> = [['a', 1], ['b', 3], ['e_x', 2]];
    const acc = Buffer.alloc(32);
    for (const [id, version] of live) {
      const term = createHmac('sha256', D).update(`${id}\n${version}`).digest();
      for (let i = 0; i < 32; i++) acc[i]! ^= term[i]!;
    }
    const whole = await ManifestDigest.of(d, live);
    assert.equal(whole.digest, acc.toString('base64url'));
    assert.equal(whole.count, 3);
    assert.ok(whole.matches({ kind: 'manifest', count: 3, digest: acc.toString('base64url') }));

    // Incremental: b goes from version 3 to 4, a is deleted, c is added; the result equals a fresh digest of the new set.
    await whole.remove('b', 3);
    await whole.add('b', 4);
    await whole.remove('a', 1);
    await whole.add('c', 1);
    const fresh = await ManifestDigest.of(d, [['b', 4], ['e_x', 2], ['c', 1]]);
    assert.equal(whole.digest, fresh.digest);
    assert.ok(whole.matches(fresh.record()));

    // A dropped record, a rolled-back version or a wrong count do not match.
    assert.ok(!(await ManifestDigest.of(d, [['b', 4], ['e_x', 2]])).matches(fresh.record()));
    assert.ok(!(await ManifestDigest.of(d, [['b', 3], ['e_x', 2], ['c', 1]])).matches(fresh.record()));
    assert.ok(!whole.matches({ ...fresh.record(), count: 2 }));
    assert.ok(!whole.matches({ ...fresh.record(), digest: 'not base64url!' }));
    // The empty set's digest is 32 zero bytes.
    assert.equal(decodeBase64url((await ManifestDigest.of(d, [])).digest, false)?.every((b) => b === 0), true);
    assert.equal(encodeBase64url(new Uint8Array(32)), (await ManifestDigest.of(d, [])).digest);
  });
});

describe('account keys: K held as non-extractable WebCrypto keys', () => {
  it('seal, open and name records exactly as K does, and refuse to be exported', async () => {
    const dataKey = generateDataKey();
    const keys = await accountKeys(dataKey, userId);
    for (const key of [keys.signing, keys.encryption, keys.manifest]) {
      assert.equal(key.extractable, false);
      await assert.rejects(globalThis.crypto.subtle.exportKey('raw', key));
      await assert.rejects(globalThis.crypto.subtle.exportKey('jwk', key));
    }
    // A token made from the working keys opens with K's bytes in node:crypto (and the other way round).
    const token = await FernetKey.from(keys.signing, keys.encryption).encrypt('the heron counts lanterns');
    assert.equal(node.fernetDecrypt(dataKey, token).toString('utf8'), 'the heron counts lanterns');
    assert.equal(new TextDecoder().decode(await FernetKey.from(keys.signing, keys.encryption).decrypt(node.fernetEncrypt(dataKey, 'back'))), 'back');
    // D from the working keys names entities as D from K does.
    assert.equal(await entityId(keys.manifest, 'Ada Lovelace'), await entityId(await manifestKey(dataKey, userId), 'Ada Lovelace'));
    // A replica written with K's bytes opens with the working keys alone, and the other way round.
    const api = new E2eApi({ baseUrl: 'http://127.0.0.1:9', token: 'ane_' + 'x'.repeat(43) });
    const cache = new MemoryReplicaCache();
    const memory = { kind: 'memory' as const, id: 'm1', content: 'the ibis counts candles', tags: [], created_at: '2026-01-01T00:00:00.000Z', updated_at: '2026-01-01T00:00:00.000Z' };
    await (await Replica.open({ api, userId, dataKey, cache })).put(memory);
    const reopened = await Replica.open({ api, userId, dataKey: keys, cache });
    assert.deepEqual(reopened.get('m1')?.record, memory);
    const [ada] = await reopened.put({ kind: 'entity', name: 'Ada Lovelace', entityType: 'person', observations: [] });
    assert.equal(ada, await entityId(await manifestKey(dataKey, userId), 'Ada Lovelace'));
    assert.equal((await Replica.open({ api, userId, dataKey, cache })).size, 2);
  });

  it('keys of the wrong kind are refused, not used', async () => {
    const subtle = globalThis.crypto.subtle;
    const aes = await subtle.importKey('raw', new Uint8Array(16), { name: 'AES-CBC' }, false, ['encrypt', 'decrypt']);
    const hmac = await subtle.importKey('raw', new Uint8Array(16), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    const wideHmac = await subtle.importKey('raw', new Uint8Array(32), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    assert.throws(() => FernetKey.from(aes, hmac), TypeError);
    assert.throws(() => FernetKey.from(wideHmac, aes), TypeError);
    assert.ok(FernetKey.from(hmac, aes));
  });
});
