// Fernet (https://github.com/fernet/spec) on node:crypto: AES-128-CBC with
// PKCS7 padding, authenticated by HMAC-SHA256 over version, time, IV and
// ciphertext. Byte-compatible with PyCA cryptography's `Fernet`.
import { createCipheriv, createDecipheriv, createHmac, randomFillSync, timingSafeEqual } from 'node:crypto';

import {
  BLOCK_BYTES,
  checkTokenLayout,
  type DecryptOptions,
  type EncryptOptions,
  HEADER_BYTES,
  InvalidFernetToken,
  MAC_BYTES,
  VERSION,
} from './fernet-format.ts';

export { InvalidFernetToken, MAX_CLOCK_SKEW_SECONDS, type DecryptOptions, type EncryptOptions, type FernetFailure } from './fernet-format.ts';

const PADDED_BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/;

function splitKey(key: Uint8Array): { signing: Buffer; encryption: Buffer } {
  if (key.length !== 32) throw new RangeError('a Fernet key is 32 bytes');
  const buf = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  return { signing: buf.subarray(0, 16), encryption: buf.subarray(16, 32) };
}

/**
 * IVs are handed out 16 bytes at a time from this buffer of CSPRNG output,
 * refilled once used up: one call into OpenSSL's RNG per 256 seals instead of
 * one per seal, which cost more than the AES and HMAC of a small record. No
 * byte is handed out twice. An IV is public (every token carries its own), so
 * the ones waiting here reveal nothing.
 */
const ivPool = Buffer.alloc(4096);
let ivPoolUsed = ivPool.length;

function writeFreshIv(target: Buffer, at: number): void {
  if (ivPoolUsed === ivPool.length) {
    randomFillSync(ivPool);
    ivPoolUsed = 0;
  }
  ivPool.copy(target, at, ivPoolUsed, ivPoolUsed + 16);
  ivPoolUsed += 16;
}

export function fernetEncrypt(key: Uint8Array, plaintext: Uint8Array | string, options: EncryptOptions = {}): string {
  const { signing, encryption } = splitKey(key);
  if (options.iv && options.iv.length !== 16) throw new RangeError('a Fernet IV is 16 bytes');
  const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
  // The token is built in one buffer (header, ciphertext, MAC), not concatenated
  // from parts: a sealed index fragment is kilobytes, copied once less per part.
  // PKCS7 always pads, to the next whole block above the plaintext.
  const end = HEADER_BYTES + (Math.floor(data.length / BLOCK_BYTES) + 1) * BLOCK_BYTES;
  const token = Buffer.allocUnsafe(end + MAC_BYTES);
  token[0] = VERSION;
  token.writeBigUInt64BE(BigInt(Math.floor(options.now ?? Date.now() / 1000)), 1);
  if (options.iv) token.set(options.iv, 9);
  else writeFreshIv(token, 9);
  const cipher = createCipheriv('aes-128-cbc', encryption, token.subarray(9, HEADER_BYTES));
  let at = HEADER_BYTES + cipher.update(data).copy(token, HEADER_BYTES);
  at += cipher.final().copy(token, at);
  // allocUnsafe: a byte left unwritten would leak old memory into the token.
  if (at !== end) throw new Error('AES-CBC wrote an unexpected ciphertext length');
  createHmac('sha256', signing).update(token.subarray(0, end)).digest().copy(token, end);
  return token.toString('base64url') + padding(token.length);
}

function padding(byteLength: number): string {
  return '='.repeat((3 - (byteLength % 3)) % 3);
}

function decodeToken(token: string): Buffer {
  // Buffer.from(…, 'base64url') silently skips foreign characters, also takes
  // '+' and '/', and ignores the unused low bits of the last character, so
  // several strings would name one token. Only the canonical padded form is
  // accepted: every skipped character shortens the decoded length, '+' and
  // '/' are refused outright, and the last group must re-encode to itself.
  // (Re-encoding the whole token would cost milliseconds on an index segment.)
  if (token.length % 4 !== 0 || token.includes('+') || token.includes('/')) throw new InvalidFernetToken('malformed-base64');
  const pad = token.endsWith('==') ? 2 : token.endsWith('=') ? 1 : 0;
  const data = Buffer.from(token, 'base64url');
  const tailBytes = 3 - pad;
  const firstPad = token.indexOf('=');
  if (data.length !== (token.length / 4) * 3 - pad || (firstPad !== -1 && firstPad < token.length - pad) ||
      data.subarray(data.length - tailBytes).toString('base64url') + '='.repeat(pad) !== token.slice(-4)) {
    throw new InvalidFernetToken('malformed-base64');
  }
  return data;
}

/** Seconds since the epoch at which the token says it was made, without verifying it. */
export function fernetTimestamp(token: string): number {
  const data = decodeToken(token);
  if (data.length < 1 || data[0] !== VERSION) throw new InvalidFernetToken('bad-version');
  if (data.length < 9) throw new InvalidFernetToken('too-short');
  return Number(data.readBigUInt64BE(1));
}

export function fernetDecrypt(key: Uint8Array, token: string, options: DecryptOptions = {}): Buffer {
  const { signing, encryption } = splitKey(key);
  const data = decodeToken(token);
  checkTokenLayout(data, options);

  const body = data.subarray(0, data.length - MAC_BYTES);
  const expected = createHmac('sha256', signing).update(body).digest();
  if (!timingSafeEqual(expected, data.subarray(data.length - MAC_BYTES))) throw new InvalidFernetToken('bad-signature');

  const decipher = createDecipheriv('aes-128-cbc', encryption, data.subarray(9, HEADER_BYTES));
  try {
    return Buffer.concat([decipher.update(body.subarray(HEADER_BYTES)), decipher.final()]);
  } catch {
    throw new InvalidFernetToken('bad-padding');
  }
}

/**
 * Whether `token` has the shape of a Fernet token, without a key: canonical
 * padded base64url, version 0x80, a header, whole AES blocks (at least one)
 * and a MAC, at most `maxChars` long. Only the holder of the key can tell a
 * forgery; this refuses what is plainly not ciphertext (plaintext, JSON).
 */
export function isFernetTokenShape(token: string, maxChars: number): boolean {
  if (token.length > maxChars) return false;
  let data: Buffer;
  try {
    data = decodeToken(token);
  } catch {
    return false;
  }
  const cipherBytes = data.length - HEADER_BYTES - MAC_BYTES;
  return data[0] === VERSION && cipherBytes > 0 && cipherBytes % BLOCK_BYTES === 0;
}

/** The key string PyCA's `Fernet()` takes for a raw 32-byte key. */
export function fernetKeyString(key: Uint8Array): string {
  splitKey(key);
  return Buffer.from(key).toString('base64url') + '=';
}

export function parseFernetKeyString(keyString: string): Buffer {
  const key = PADDED_BASE64URL.test(keyString) && keyString.length === 44 ? Buffer.from(keyString, 'base64url') : null;
  // 44 characters without '=' decode to 33 bytes, with '==' to 31: PyCA refuses both.
  if (key?.length !== 32) throw new RangeError('a Fernet key string is 44 base64url characters encoding 32 bytes');
  return key;
}
