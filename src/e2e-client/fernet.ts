// Fernet (https://github.com/fernet/spec) on WebCrypto: AES-128-CBC with PKCS7
// padding, authenticated by HMAC-SHA256 over version, time, IV and ciphertext.
// Byte-compatible with src/crypto/fernet.ts (node:crypto) and PyCA's Fernet,
// but isomorphic: only globalThis.crypto.subtle, so the browser and the local
// MCP server run the same code. The MAC is checked by crypto.subtle.verify,
// which compares in constant time.
import { checkTokenLayout, type DecryptOptions, type EncryptOptions, HEADER_BYTES, InvalidFernetToken, MAC_BYTES, VERSION } from '../crypto/fernet-format.ts';
import { concatBytes, decodeBase64url, encodeBase64url, encodeUtf8, randomBytes } from './encoding.ts';

export { InvalidFernetToken, MAX_CLOCK_SKEW_SECONDS, type DecryptOptions, type EncryptOptions, type FernetFailure } from '../crypto/fernet-format.ts';

/**
 * A Fernet key imported into WebCrypto once (non-extractable), for the many
 * records a replica seals and opens. Make one with `FernetKey.import(raw)`,
 * or from its two sub-keys already in WebCrypto with `FernetKey.from(...)`
 * (e.g. non-extractable keys a browser kept in IndexedDB).
 */
export class FernetKey {
  private constructor(
    /** HMAC-SHA256 over K[0:16]: usable, never exportable. */
    readonly signing: CryptoKey,
    /** AES-CBC-128 over K[16:32]: usable, never exportable. */
    readonly encryption: CryptoKey,
  ) {}

  /** A Fernet key from its sub-keys: an HMAC-SHA256 key that signs and verifies, an AES-CBC key that encrypts and decrypts. */
  static from(signing: CryptoKey, encryption: CryptoKey): FernetKey {
    const hmac = signing.algorithm as HmacKeyAlgorithm;
    const aes = encryption.algorithm as AesKeyAlgorithm;
    if (hmac.name !== 'HMAC' || hmac.hash?.name !== 'SHA-256' || hmac.length !== 128 || !signing.usages.includes('sign') || !signing.usages.includes('verify')) {
      throw new TypeError('a Fernet signing key is a 16-byte HMAC-SHA256 key for sign and verify');
    }
    if (aes.name !== 'AES-CBC' || aes.length !== 128 || !encryption.usages.includes('encrypt') || !encryption.usages.includes('decrypt')) {
      throw new TypeError('a Fernet encryption key is an AES-CBC-128 key for encrypt and decrypt');
    }
    return new FernetKey(signing, encryption);
  }

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
    checkTokenLayout(data, options);
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
