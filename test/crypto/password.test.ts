// Password hashing: argon2id PHC strings at the OWASP 2023 baseline, the
// published reference vectors, and the needs-rehash rule.
import { Algorithm, Version, hash, hashRaw } from '@node-rs/argon2';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { PASSWORD_HASH_PARAMS, hashPassword, makeDecoyPasswordHash, passwordNeedsRehash, verifyPassword } from '../../src/crypto/password.ts';
import { argon2idPrehash, argon2id as argon2idReference, blake2b } from '../helpers/argon2-reference.ts';
import { type Argon2PhcVector, type Argon2RfcVector, hex, loadVectors } from '../helpers/shared-vectors.ts';

const phcVector = loadVectors<Argon2PhcVector>('argon2/phc-argon2id-reference.json');
const rfcVector = loadVectors<Argon2RfcVector>('argon2/rfc9106-argon2id.json');

const TODAY = /^\$argon2id\$v=19\$m=19456,t=2,p=1\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

/** PHC salt and hash fields are standard base64 without '=' padding. */
const phcBytes = (field: string): Buffer => {
  assert.match(field, /^[A-Za-z0-9+/]+$/);
  return Buffer.from(field, 'base64');
};

describe('hashPassword', () => {
  it('uses the OWASP 2023 baseline', () => {
    assert.deepEqual(PASSWORD_HASH_PARAMS, { memoryCost: 19456, timeCost: 2, parallelism: 1, outputLen: 32, saltLen: 16 });
  });

  it('produces $argon2id$v=19$m=19456,t=2,p=1$ with a 16-byte salt and a 32-byte tag', async () => {
    const phc = await hashPassword('hunter2');
    const match = TODAY.exec(phc);
    assert.ok(match, phc);
    assert.equal(match[1]!.length, 22);
    assert.equal(phcBytes(match[1]!).length, 16);
    assert.equal(match[2]!.length, 43);
    assert.equal(phcBytes(match[2]!).length, 32);
    assert.ok(!phc.includes('hunter2'));
  });

  it('salts every hash: one password, two different strings, both verify', async () => {
    const [a, b] = await Promise.all([hashPassword('same password'), hashPassword('same password')]);
    assert.notEqual(a, b);
    assert.notEqual(TODAY.exec(a)![1], TODAY.exec(b)![1]);
    assert.equal(await verifyPassword(a, 'same password'), true);
    assert.equal(await verifyPassword(b, 'same password'), true);
  });

  it('the tag is argon2id(password, salt) at the stated parameters, recomputed', async () => {
    const phc = await hashPassword('recompute me');
    const [, salt, tag] = TODAY.exec(phc)!;
    const raw = await hashRaw('recompute me', { algorithm: Algorithm.Argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1, outputLen: 32, salt: phcBytes(salt!) });
    assert.deepEqual(raw, phcBytes(tag!));
  });
});

describe('verifyPassword', () => {
  it('accepts the right password and refuses wrong ones', async () => {
    const password = 'Tr0ub4dor&3 — ünïcödé ✓';
    const phc = await hashPassword(password);
    assert.equal(await verifyPassword(phc, password), true);
    for (const wrong of ['', 'Tr0ub4dor&3', password.toUpperCase(), `${password} `, password.normalize('NFD')]) {
      assert.equal(await verifyPassword(phc, wrong), false, JSON.stringify(wrong));
    }
  });

  it('an empty password is a password like any other', async () => {
    const phc = await hashPassword('');
    assert.equal(await verifyPassword(phc, ''), true);
    assert.equal(await verifyPassword(phc, ' '), false);
  });

  it('a malformed stored hash verifies nothing (and does not throw)', async () => {
    const phc = await hashPassword('x');
    for (const broken of ['', 'not a hash', phc.slice(0, -5), phc.replace('argon2id', 'argon2xx'), phc.replace('m=19456', 'm=abc'), '$argon2id$v=19$m=19456,t=2,p=1$$']) {
      assert.equal(await verifyPassword(broken, 'x'), false, broken);
    }
  });

  it('verifies the PHC reference vector (argon2 CLI example, password "password")', async () => {
    assert.equal(await verifyPassword(phcVector.phc, phcVector.password), true);
    assert.equal(await verifyPassword(phcVector.phc, 'Password'), false);
    assert.equal(await verifyPassword(phcVector.phc, ''), false);
  });

  it('the PHC reference vector is reproduced byte for byte by the library we hash with', async () => {
    const options = { algorithm: Algorithm.Argon2id, version: Version.V0x13, memoryCost: phcVector.m, timeCost: phcVector.t, parallelism: phcVector.p, outputLen: phcVector.tagLength, salt: Buffer.from(phcVector.salt, 'utf8') };
    assert.equal((await hashRaw(phcVector.password, options)).toString('hex'), phcVector.tag);
    assert.equal(await hash(phcVector.password, options), phcVector.phc);
  });
});

describe('RFC 9106 section 5.3 Argon2id vector', () => {
  // @node-rs/argon2 takes a `secret` but has no associated-data input, so the
  // library we hash with cannot compute this vector (the AD enters H0). The
  // vector is checked three ways instead:
  //  - H0, the BLAKE2b-512 pre-hash over every input, with node:crypto (here);
  //  - the tag with a plain test-only Argon2id (test/helpers/argon2-reference.ts),
  //    itself shown equal to @node-rs/argon2 on inputs without AD (here);
  //  - the tag with PyCA cryptography's Argon2id (test/crypto/pyca-interop.test.ts,
  //    skipped there when the installed cryptography is older than 44, as
  //    Debian's python3-cryptography 38 and 43 are).
  const input = {
    password: hex(rfcVector.password),
    salt: hex(rfcVector.salt),
    secret: hex(rfcVector.secret),
    ad: hex(rfcVector.ad),
    t: rfcVector.t,
    m: rfcVector.m,
    p: rfcVector.p,
    tagLength: rfcVector.tagLength,
  };

  it('H0 pre-hash over (p, T, m, t, v, y, P, S, K, X) matches the RFC', () => {
    const le32 = (n: number): Buffer => {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(n);
      return b;
    };
    const withLength = (bytes: Buffer): Buffer => Buffer.concat([le32(bytes.length), bytes]);
    const ARGON2ID = 2;
    const h0 = createHash('blake2b512')
      .update(Buffer.concat([le32(rfcVector.p), le32(rfcVector.tagLength), le32(rfcVector.m), le32(rfcVector.t), le32(rfcVector.version), le32(ARGON2ID)]))
      .update(withLength(hex(rfcVector.password)))
      .update(withLength(hex(rfcVector.salt)))
      .update(withLength(hex(rfcVector.secret)))
      .update(withLength(hex(rfcVector.ad)))
      .digest('hex');
    assert.equal(h0, rfcVector.prehash);
    assert.equal(argon2idPrehash(input).toString('hex'), rfcVector.prehash);
  });

  it('the tag matches the RFC (secret and associated data included), via the reference Argon2id', () => {
    assert.equal(argon2idReference(input).toString('hex'), rfcVector.tag);
  });

  it('the reference BLAKE2b agrees with node blake2b512 and with BLAKE2b-256("abc")', () => {
    for (const length of [0, 1, 64, 127, 128, 129, 1024, 1031]) {
      const data = randomBytes(length);
      assert.deepEqual(blake2b(data), createHash('blake2b512').update(data).digest(), `${length} bytes`);
    }
    // RFC 7693 appendix A (512) and Python hashlib.blake2b(b"abc", digest_size=32) (256).
    assert.equal(blake2b(Buffer.from('abc')).toString('hex').slice(0, 32), 'ba80a53f981c4d0d6a2797b69f12f6e9');
    assert.equal(blake2b(Buffer.from('abc'), 32).toString('hex'), 'bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319');
  });

  it('the reference Argon2id equals @node-rs/argon2 wherever the library can follow (no AD)', async () => {
    const cases = [
      { m: 8, t: 1, p: 1, tagLength: 32 },
      { m: 64, t: 2, p: 1, tagLength: 32 },
      { m: 256, t: 2, p: 2, tagLength: 16 },
      { m: 1024, t: 1, p: 1, tagLength: 64 }, // segments of 256 blocks: several address blocks
      { m: 32, t: 3, p: 4, tagLength: 32, secret: input.secret }, // the RFC vector without its AD
    ];
    for (const c of cases) {
      const password = randomBytes(12);
      const salt = randomBytes(16);
      const ours = argon2idReference({ password, salt, ...c });
      const lib = await hashRaw(password, { algorithm: Algorithm.Argon2id, memoryCost: c.m, timeCost: c.t, parallelism: c.p, outputLen: c.tagLength, salt, ...(c.secret ? { secret: c.secret } : {}) });
      assert.deepEqual(ours, lib, JSON.stringify({ ...c, secret: undefined }));
    }
    // and the RFC vector minus its AD is not the RFC tag: the AD is really an input
    const withoutAd = await hashRaw(input.password, { algorithm: Algorithm.Argon2id, memoryCost: input.m, timeCost: input.t, parallelism: input.p, outputLen: input.tagLength, salt: input.salt, secret: input.secret });
    assert.notEqual(withoutAd.toString('hex'), rfcVector.tag);
  });
});

describe('passwordNeedsRehash', () => {
  /** A real hash made with the given settings (low memory where the test allows, to stay quick). */
  const make = (options: Parameters<typeof hash>[1]): Promise<string> => hash('pw', { salt: randomBytes(16), ...options });

  it('is false for a fresh hash and for the decoy hash', async () => {
    assert.equal(passwordNeedsRehash(await hashPassword('pw')), false);
    assert.equal(passwordNeedsRehash(await makeDecoyPasswordHash()), false);
  });

  it('is true for the PHC reference vector: more memory, but an 8-byte salt ("somesalt") where today is 16', async () => {
    // m=65536 > 19456 and t=2 = 2 and a 32-byte tag: not weaker there; p=4 is
    // not weaker either. The salt is: 8 bytes, below today's 16.
    assert.equal(phcBytes(phcVector.phc.split('$')[4]!).length, 8);
    assert.equal(passwordNeedsRehash(phcVector.phc), true);
    // The same parameters with a 16-byte salt are kept (rehashing would weaken them).
    const sameParamsLongSalt = await make({ algorithm: Algorithm.Argon2id, memoryCost: 65536, timeCost: 2, parallelism: 4 });
    assert.match(sameParamsLongSalt, /^\$argon2id\$v=19\$m=65536,t=2,p=4\$/);
    assert.equal(passwordNeedsRehash(sameParamsLongSalt), false);
  });

  it('is true for argon2i and argon2d hashes at today\'s parameters, which still verify (so login can upgrade them)', async () => {
    for (const [algorithm, name] of [[Algorithm.Argon2i, 'argon2i'], [Algorithm.Argon2d, 'argon2d']] as const) {
      const phc = await make({ algorithm, memoryCost: 19456, timeCost: 2, parallelism: 1 });
      assert.match(phc, new RegExp(`^\\$${name}\\$v=19\\$m=19456,t=2,p=1\\$`));
      assert.equal(passwordNeedsRehash(phc), true, name);
      assert.equal(await verifyPassword(phc, 'pw'), true, name);
    }
  });

  it('is true for weaker memory, fewer passes, a shorter tag, a shorter salt or Argon2 version 0x10', async () => {
    const weaker: Array<[string, Parameters<typeof hash>[1]]> = [
      ['m=4096', { memoryCost: 4096 }],
      ['m=19455', { memoryCost: 19455 }],
      ['t=1', { timeCost: 1 }],
      ['16-byte tag', { outputLen: 16 }],
      ['8-byte salt', { salt: randomBytes(8) }],
      ['version 0x10', { version: Version.V0x10 }],
    ];
    for (const [name, options] of weaker) {
      const phc = await make({ algorithm: Algorithm.Argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1, ...options });
      assert.equal(passwordNeedsRehash(phc), true, `${name}: ${phc}`);
    }
  });

  it('is false for stronger hashes (more memory, more passes, longer tag)', async () => {
    const stronger: Array<Parameters<typeof hash>[1]> = [{ memoryCost: 47104, timeCost: 2 }, { memoryCost: 19456, timeCost: 3 }, { memoryCost: 19456, timeCost: 2, outputLen: 64 }];
    for (const options of stronger) {
      const phc = await make({ algorithm: Algorithm.Argon2id, parallelism: 1, ...options });
      assert.equal(passwordNeedsRehash(phc), false, phc);
    }
  });

  it('is true for anything that is not an argon2 PHC string', () => {
    for (const junk of ['', 'password', '$2b$12$abcdefghijklmnopqrstuuJ0XKXv8nYb1Hj3pI1mB1x7O0u8zUyS', '$argon2id$v=19$m=19456,t=2,p=1$$', '$scrypt$ln=16,r=8,p=1$c2FsdA$aGFzaA']) {
      assert.equal(passwordNeedsRehash(junk), true, junk);
    }
  });
});
