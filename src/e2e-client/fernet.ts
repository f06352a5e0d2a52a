// Fernet (https://github.com/fernet/spec) on WebCrypto: AES-128-CBC with PKCS7
// padding, authenticated by HMAC-SHA256 over version, time, IV and ciphertext.
// Byte-compatible with src/crypto/fernet.ts (node:crypto) and PyCA's Fernet,
// but isomorphic: only globalThis.crypto.subtle, so the browser and the local
// MCP server run the same code. The MAC is checked by crypto.subtle.verify,
// which compares in constant time.
import { concatBytes, decodeBase64url, encodeBase64url, encodeUtf8, randomBytes } from './encoding.ts';

const VERSION = 0x80;
const HEADER_BYTES = 1 + 8 + 16; // version, big-endian seconds, IV
const MAC_BYTES = 32;
const BLOCK_BYTES = 16;
/** PyCA refuses tokens stamped more than this far in the future when a TTL is checked. */
export const MAX_CLOCK_SKEW_SECONDS = 60;

export type FernetFailure =
  | 'malformed-base64'
  | 'bad-version'
  | 'too-short'
  | 'bad-block-length'
  | 'expired'
  | 'from-the-future'
  | 'bad-signature'
  | 'bad-padding';

/** A token that cannot be opened. The reason is a fixed code: never key or plaintext material. */
export class InvalidFernetToken extends Error {
  constructor(readonly reason: FernetFailure) {
    super(`invalid Fernet token: ${reason}`);
    this.name = 'InvalidFernetToken';
  }
}

export interface EncryptOptions {
  /** Seconds since the epoch written into the token; defaults to now. */
  now?: number;
  /** Fixed IV, only for reproducing published test vectors. */
  iv?: Uint8Array;
}

export interface DecryptOptions {
  /** Maximum age in seconds; omitted, the timestamp is not checked (as in PyCA). */
  ttlSeconds?: number;
  /** Seconds since the epoch to judge the TTL by; defaults to now. */
  now?: number;
}

/**
 * A Fernet key imported into WebCrypto once (non-extractable), for the many
 * records a replica seals and opens. Make one with `FernetKey.import(raw)`.
 */
export class FernetKey {
  private constructor(
    private readonly signing: CryptoKey,
    private readonly encryption: CryptoKey,
  ) {}

  /** `raw` is 32 bytes: `raw[0:16]` signs, `raw[16:32]` encrypts (DESIGN.md §1). */
  static async import(raw: Uint8Array): Promise<FernetKey> {
    if (raw.length !== 32) throw new RangeError('a Fernet key is 32 bytes');
    const subtle = globalThis.crypto.subtle;
    const signing = await subtle.importKey('raw', raw.slice(0, 16), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    const encryption = await subtle.importKey('raw', raw.slice(16, 32), { name: 'AES-CBC' }, false, ['encrypt', 'decrypt']);
    return new FernetKey(signing, encryption);
  }

  async encrypt(plaintext: Uint8Array | string, options: EncryptOptions = {}): Promise<string> {
    const subtle = globalThis.crypto.subtle;
    const iv = options.iv ? Uint8Array.from(options.iv) : randomBytes(16);
    if (iv.length !== 16) throw new RangeError('a Fernet IV is 16 bytes');
    const data = typeof plaintext === 'string' ? encodeUtf8(plaintext) : Uint8Array.from(plaintext);
    const ciphertext = new Uint8Array(await subtle.encrypt({ name: 'AES-CBC', iv }, this.encryption, data));
    const header = new Uint8Array(HEADER_BYTES);
    header[0] = VERSION;
    new DataView(header.buffer).setBigUint64(1, BigInt(Math.floor(options.now ?? Date.now() / 1000)));
    header.set(iv, 9);
    const body = concatBytes(header, ciphertext);
    const mac = new Uint8Array(await subtle.sign('HMAC', this.signing, body));
    return encodeBase64url(concatBytes(body, mac), true);
  }

  /** The plaintext bytes, or InvalidFernetToken with the first reason the token fails. */
  async decrypt(token: string, options: DecryptOptions = {}): Promise<Uint8Array<ArrayBuffer>> {
    const subtle = globalThis.crypto.subtle;
    const data = decodeToken(token);
    if (data.length < 1 || data[0] !== VERSION) throw new InvalidFernetToken('bad-version');
    // Too short: no room for the header, the MAC and at least one ciphertext
    // byte. A ciphertext that is there but not whole AES blocks is a
    // block-length error (the spec's vector is a 15-byte ciphertext under a valid MAC).
    const cipherBytes = data.length - HEADER_BYTES - MAC_BYTES;
    if (cipherBytes <= 0) throw new InvalidFernetToken('too-short');
    if (cipherBytes % BLOCK_BYTES !== 0) throw new InvalidFernetToken('bad-block-length');

    if (options.ttlSeconds !== undefined) {
      const now = options.now ?? Math.floor(Date.now() / 1000);
      const stamped = Number(new DataView(data.buffer, data.byteOffset, data.byteLength).getBigUint64(1));
      if (stamped + options.ttlSeconds < now) throw new InvalidFernetToken('expired');
      if (now + MAX_CLOCK_SKEW_SECONDS < stamped) throw new InvalidFernetToken('from-the-future');
    }

    const body = data.subarray(0, data.length - MAC_BYTES);
    if (!(await subtle.verify('HMAC', this.signing, data.subarray(data.length - MAC_BYTES), body))) {
      throw new InvalidFernetToken('bad-signature');
    }
    try {
      const iv = data.subarray(9, HEADER_BYTES);
      return new Uint8Array(await subtle.decrypt({ name: 'AES-CBC', iv }, this.encryption, body.subarray(HEADER_BYTES)));
    } catch {
      throw new InvalidFernetToken('bad-padding');
    }
  }
}

function decodeToken(token: string): Uint8Array<ArrayBuffer> {
  // Only the canonical padded form: every other spelling of the same bytes is refused.
  const data = decodeBase64url(token, true);
  if (!data) throw new InvalidFernetToken('malformed-base64');
  return data;
}

export async function fernetEncrypt(key: Uint8Array, plaintext: Uint8Array | string, options: EncryptOptions = {}): Promise<string> {
  return (await FernetKey.import(key)).encrypt(plaintext, options);
}

export async function fernetDecrypt(key: Uint8Array, token: string, options: DecryptOptions = {}): Promise<Uint8Array<ArrayBuffer>> {
  return (await FernetKey.import(key)).decrypt(token, options);
}

/** The key string PyCA's `Fernet()` takes for a raw 32-byte key. */
export function fernetKeyString(key: Uint8Array): string {
  if (key.length !== 32) throw new RangeError('a Fernet key is 32 bytes');
  return encodeBase64url(key, true);
}

export function parseFernetKeyString(keyString: string): Uint8Array<ArrayBuffer> {
  const key = decodeBase64url(keyString, true);
  if (key?.length !== 32) throw new RangeError('a Fernet key string is 44 base64url characters encoding 32 bytes');
  return key;
}
