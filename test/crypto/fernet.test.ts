// Fernet against the published spec vectors (github.com/fernet/spec, copied
// byte-exact into ../shared/vectors/fernet) and against tampering.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  type FernetFailure,
  InvalidFernetToken,
  MAX_CLOCK_SKEW_SECONDS,
  fernetDecrypt,
  fernetEncrypt,
  fernetKeyString,
  fernetTimestamp,
  parseFernetKeyString,
} from '../../src/crypto/fernet.ts';
import { FERNET_INVALID_REASON, type FernetInvalidVector, isoToEpochSeconds, loadFernetVectors } from '../helpers/shared-vectors.ts';

const { generate, verify, invalid } = loadFernetVectors();

const EXPECTED_REASON = FERNET_INVALID_REASON;

function rejection(fn: () => unknown): FernetFailure {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof InvalidFernetToken, `expected InvalidFernetToken, got ${String(error)}`);
    return error.reason;
  }
  assert.fail('the token was accepted');
}

const decoded = (token: string): Buffer => Buffer.from(token, 'base64url');
const encoded = (data: Buffer): string => data.toString('base64url') + '='.repeat((3 - (data.length % 3)) % 3);

describe('fernet spec vectors', () => {
  it('has the vector files it expects', () => {
    assert.equal(generate.length, 1);
    assert.equal(verify.length, 1);
    assert.equal(invalid.length, Object.keys(EXPECTED_REASON).length);
  });

  for (const v of generate) {
    it(`generate: our encrypt with the vector's IV and time reproduces ${v.token.slice(0, 16)}… exactly`, () => {
      const key = parseFernetKeyString(v.secret);
      const token = fernetEncrypt(key, v.src, { iv: Uint8Array.from(v.iv), now: isoToEpochSeconds(v.now) });
      assert.equal(token, v.token);
      assert.equal(fernetKeyString(key), v.secret);
      assert.equal(fernetTimestamp(token), isoToEpochSeconds(v.now));
    });
  }

  for (const v of verify) {
    it(`verify: ${v.token.slice(0, 16)}… decrypts to ${JSON.stringify(v.src)} at ${v.now} with ttl ${v.ttl_sec}s`, () => {
      const key = parseFernetKeyString(v.secret);
      const now = isoToEpochSeconds(v.now);
      assert.equal(fernetDecrypt(key, v.token, { ttlSeconds: v.ttl_sec, now }).toString('utf8'), v.src);
      // The TTL boundary: still valid at exactly stamp + ttl, expired one second later.
      const stamp = fernetTimestamp(v.token);
      assert.equal(fernetDecrypt(key, v.token, { ttlSeconds: v.ttl_sec, now: stamp + v.ttl_sec }).toString('utf8'), v.src);
      assert.equal(rejection(() => fernetDecrypt(key, v.token, { ttlSeconds: v.ttl_sec, now: stamp + v.ttl_sec + 1 })), 'expired');
    });
  }

  for (const v of invalid) {
    it(`invalid: "${v.desc}" is rejected as ${EXPECTED_REASON[v.desc] ?? '(unknown desc)'}`, () => {
      const expected = EXPECTED_REASON[v.desc];
      assert.ok(expected, `no expected reason for the vector "${v.desc}"`);
      const key = parseFernetKeyString(v.secret);
      const reason = rejection(() => fernetDecrypt(key, v.token, { ttlSeconds: v.ttl_sec, now: isoToEpochSeconds(v.now) }));
      assert.equal(reason, expected);
    });
  }

  it('the invalid vectors are what their names say (checked on the raw bytes)', () => {
    const byDesc = new Map(invalid.map((v) => [v.desc, v]));
    const vector = (desc: string): FernetInvalidVector => {
      const v = byDesc.get(desc);
      assert.ok(v, desc);
      return v;
    };
    const macIsValid = (v: FernetInvalidVector): boolean => {
      const data = decoded(v.token);
      const signing = parseFernetKeyString(v.secret).subarray(0, 16);
      const mac = createHmac('sha256', signing).update(data.subarray(0, -32)).digest();
      return mac.equals(data.subarray(-32));
    };
    const stamp = (v: FernetInvalidVector): number => Number(decoded(v.token).readBigUInt64BE(1));

    // Wrong MAC, but a timestamp inside the TTL: the signature is the only fault.
    const mac = vector('incorrect mac');
    assert.equal(macIsValid(mac), false);
    assert.ok(stamp(mac) <= isoToEpochSeconds(mac.now) && isoToEpochSeconds(mac.now) <= stamp(mac) + mac.ttl_sec);

    // Shorter than version + time + IV + MAC: nothing to check a MAC over.
    assert.ok(decoded(vector('too short').token).length < 1 + 8 + 16 + 32);

    // '%' is outside the alphabet (Buffer would silently skip it).
    assert.match(vector('invalid base64').token, /%/);

    const blocks = vector('payload size not multiple of block size');
    assert.equal(decoded(blocks.token).length - 25 - 32, 15);
    assert.equal(macIsValid(blocks), true);

    for (const desc of ['payload padding error', 'incorrect IV (causes padding error)', 'expired TTL', 'far-future TS (unacceptable clock skew)']) {
      assert.equal(macIsValid(vector(desc)), true, `${desc}: the MAC is valid`);
    }

    const future = vector('far-future TS (unacceptable clock skew)');
    assert.ok(stamp(future) > isoToEpochSeconds(future.now) + MAX_CLOCK_SKEW_SECONDS);
    const expired = vector('expired TTL');
    assert.ok(stamp(expired) + expired.ttl_sec < isoToEpochSeconds(expired.now));
  });

  it('expired and future tokens still open when no TTL is asked for (records at rest have none, as in PyCA)', () => {
    for (const desc of ['expired TTL', 'far-future TS (unacceptable clock skew)']) {
      const v = invalid.find((x) => x.desc === desc);
      assert.ok(v);
      // Both carry an empty plaintext under a valid MAC.
      assert.deepEqual(fernetDecrypt(parseFernetKeyString(v.secret), v.token), Buffer.alloc(0));
    }
  });
});

describe('fernet round trips', () => {
  const key = randomBytes(32);

  const cases: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['one byte', Buffer.from([0])],
    ['exactly one block', randomBytes(16)],
    ['1 KiB', randomBytes(1024)],
    ['1 MiB', randomBytes(1024 * 1024)],
  ];
  for (const [name, plaintext] of cases) {
    it(`${name} plaintext round-trips with whole-block PKCS7 ciphertext`, () => {
      const token = fernetEncrypt(key, plaintext);
      assert.ok(token.startsWith('gAAAAA'));
      assert.deepEqual(fernetDecrypt(key, token), plaintext);
      const cipherBytes = decoded(token).length - 1 - 8 - 16 - 32;
      assert.equal(cipherBytes, 16 * (Math.floor(plaintext.length / 16) + 1));
    });
  }

  it('unicode text round-trips as UTF-8', () => {
    const text = 'Grüße, 世界 🌍 — e\u0301 ≠ é, \u0000 and \u{10FFFF}';
    const token = fernetEncrypt(key, text);
    const plaintext = fernetDecrypt(key, token);
    assert.deepEqual(plaintext, Buffer.from(text, 'utf8'));
    assert.equal(plaintext.toString('utf8'), text);
  });

  it('the same plaintext gives a different token every time (random IV)', () => {
    const tokens = new Set(Array.from({ length: 100 }, () => fernetEncrypt(key, 'same')));
    assert.equal(tokens.size, 100);
    const ivs = new Set([...tokens].map((t) => decoded(t).subarray(9, 25).toString('hex')));
    assert.equal(ivs.size, 100);
  });

  it('IVs never repeat across refills of the pool they are taken from, and none is all zeros', () => {
    // 4096-byte pool, 16 bytes an IV: 1,000 seals refill it several times.
    const ivs = Array.from({ length: 1000 }, () => decoded(fernetEncrypt(key, 'same')).subarray(9, 25).toString('hex'));
    assert.equal(new Set(ivs).size, ivs.length);
    assert.ok(!ivs.includes('0'.repeat(32)));
  });

  it('a plaintext of every length up to four blocks round-trips (the token is sized before AES writes into it)', () => {
    for (let n = 0; n <= 64; n++) {
      const plaintext = randomBytes(n);
      const data = decoded(fernetEncrypt(key, plaintext));
      assert.equal(data.length, 25 + (Math.floor(n / 16) + 1) * 16 + 32);
      assert.deepEqual(fernetDecrypt(key, encoded(data)), plaintext);
    }
  });

  it('every token starts with gAAAAA and carries the time it was made', () => {
    const before = Math.floor(Date.now() / 1000);
    for (let i = 0; i < 50; i++) {
      const token = fernetEncrypt(key, randomBytes(i));
      assert.ok(token.startsWith('gAAAAA'), token);
      assert.equal(decoded(token)[0], 0x80);
      const stamp = fernetTimestamp(token);
      assert.ok(stamp >= before && stamp <= Math.floor(Date.now() / 1000) + 1);
    }
    assert.equal(fernetTimestamp(fernetEncrypt(key, 'x', { now: 2 ** 33 })), 2 ** 33);
  });

  it('a fresh token passes a TTL check judged by the real clock', () => {
    assert.equal(fernetDecrypt(key, fernetEncrypt(key, 'now'), { ttlSeconds: 60 }).toString(), 'now');
  });
});

describe('fernet rejects what it must', () => {
  const key = randomBytes(32);
  // 5-byte plaintext: 73-byte token, so its base64 ends in '=='.
  const token = fernetEncrypt(key, 'hello');

  it('a different key is rejected as a bad signature', () => {
    assert.equal(rejection(() => fernetDecrypt(randomBytes(32), token)), 'bad-signature');
    // Same signing half, other encryption half: the MAC passes, but it never opens as the plaintext.
    for (let i = 0; i < 20; i++) {
      const sameSigning = Buffer.concat([key.subarray(0, 16), randomBytes(16)]);
      let opened: string | null = null;
      try {
        opened = fernetDecrypt(sameSigning, token).toString('utf8');
      } catch (error) {
        assert.ok(error instanceof InvalidFernetToken && error.reason === 'bad-padding');
      }
      assert.notEqual(opened, 'hello');
    }
  });

  it('changing any single byte of a real token is rejected', () => {
    const data = decoded(token);
    for (let i = 0; i < data.length; i++) {
      for (const flip of [0x01, 0x80, 0xff]) {
        const tampered = Buffer.from(data);
        tampered[i] = tampered[i]! ^ flip;
        const reason = rejection(() => fernetDecrypt(key, encoded(tampered)));
        assert.equal(reason, i === 0 ? 'bad-version' : 'bad-signature', `byte ${i} ^ ${flip}`);
      }
    }
  });

  it('changing any single character of a real token string is rejected', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=';
    for (let i = 0; i < token.length; i++) {
      for (const c of alphabet) {
        if (c === token[i]) continue;
        const tampered = token.slice(0, i) + c + token.slice(i + 1);
        assert.throws(() => fernetDecrypt(key, tampered), InvalidFernetToken, `position ${i} -> ${c}`);
      }
    }
  });

  it('truncated or extended tokens are rejected', () => {
    const data = decoded(token);
    assert.equal(rejection(() => fernetDecrypt(key, encoded(data.subarray(0, -1)))), 'bad-block-length');
    // 57 bytes: version, time, IV and MAC-sized tail, but no ciphertext block.
    assert.equal(rejection(() => fernetDecrypt(key, encoded(data.subarray(0, -16)))), 'too-short');
    const twoBlocks = decoded(fernetEncrypt(key, 'x'.repeat(20)));
    assert.equal(rejection(() => fernetDecrypt(key, encoded(twoBlocks.subarray(0, -16)))), 'bad-signature');
    assert.equal(rejection(() => fernetDecrypt(key, encoded(data.subarray(0, 20)))), 'too-short');
    assert.equal(rejection(() => fernetDecrypt(key, encoded(Buffer.concat([data, Buffer.alloc(16)])))), 'bad-signature');
    assert.equal(rejection(() => fernetDecrypt(key, '')), 'bad-version');
  });

  it('unpadded, re-alphabeted or padded-with-junk base64 is rejected as malformed', () => {
    assert.ok(token.endsWith('=='), 'the sample token needs padding for this test');
    assert.equal(rejection(() => fernetDecrypt(key, token.replace(/=+$/, ''))), 'malformed-base64');
    assert.equal(rejection(() => fernetDecrypt(key, token.slice(0, -1))), 'malformed-base64');
    assert.equal(rejection(() => fernetDecrypt(key, `${token}==`)), 'malformed-base64');
    assert.equal(rejection(() => fernetDecrypt(key, `${token}\n`)), 'malformed-base64');
    assert.equal(rejection(() => fernetDecrypt(key, ` ${token}`)), 'malformed-base64');
    // Standard base64 ('+/') is not Fernet's alphabet.
    let withUrlChars = token;
    while (!/[-_]/.test(withUrlChars)) withUrlChars = fernetEncrypt(key, 'hello');
    assert.equal(rejection(() => fernetDecrypt(key, withUrlChars.replaceAll('-', '+').replaceAll('_', '/'))), 'malformed-base64');
    // Non-canonical: the unused low bits of the character before '==' set.
    const last = token.at(-3)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sibling = alphabet[alphabet.indexOf(last) ^ 1]!;
    assert.equal(rejection(() => fernetDecrypt(key, `${token.slice(0, -3)}${sibling}==`)), 'malformed-base64');
  });

  it('a wrong version byte is rejected', () => {
    const data = decoded(token);
    data[0] = 0x81;
    assert.equal(rejection(() => fernetDecrypt(key, encoded(data))), 'bad-version');
  });

  it('the error names a reason and nothing else', () => {
    try {
      fernetDecrypt(randomBytes(32), token);
      assert.fail('accepted');
    } catch (error) {
      assert.ok(error instanceof InvalidFernetToken);
      assert.equal(error.message, 'invalid Fernet token: bad-signature');
      assert.ok(!error.message.includes(token.slice(10, 30)));
    }
  });

  it('keys and IVs of the wrong size are refused', () => {
    assert.throws(() => fernetEncrypt(randomBytes(31), 'x'), RangeError);
    assert.throws(() => fernetEncrypt(randomBytes(33), 'x'), RangeError);
    assert.throws(() => fernetDecrypt(randomBytes(16), token), RangeError);
    assert.throws(() => fernetEncrypt(key, 'x', { iv: randomBytes(15) }), RangeError);
  });

  it('key strings: 44 characters that decode to exactly 32 bytes', () => {
    assert.deepEqual(parseFernetKeyString(fernetKeyString(key)), key);
    assert.equal(fernetKeyString(key).length, 44);
    assert.throws(() => parseFernetKeyString('A'.repeat(44)), RangeError); // 33 bytes
    assert.throws(() => parseFernetKeyString(`${'A'.repeat(42)}==`), RangeError); // 31 bytes
    assert.throws(() => parseFernetKeyString(fernetKeyString(key).replace('=', '')), RangeError);
    assert.throws(() => parseFernetKeyString(`${'A'.repeat(42)}+=`), RangeError);
  });
});
