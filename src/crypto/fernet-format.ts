// The layout of a Fernet token (https://github.com/fernet/spec) and the checks
// that need no key, shared by the node:crypto Fernet (src/crypto/fernet.ts)
// and the WebCrypto one of the client core (src/e2e-client/fernet.ts). No
// node: imports: this file also runs in the browser.

export const VERSION = 0x80;
export const HEADER_BYTES = 1 + 8 + 16; // version, big-endian seconds, IV
export const MAC_BYTES = 32;
export const BLOCK_BYTES = 16;
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
 * The checks before the MAC, in the spec's order: version byte, room for
 * header, MAC and at least one ciphertext byte, whole AES blocks (the spec's
 * block-length vector is a 15-byte ciphertext under a valid MAC), and the TTL
 * when one is asked for. Throws InvalidFernetToken with the first failure.
 */
export function checkTokenLayout(data: Uint8Array, options: DecryptOptions = {}): void {
  if (data.length < 1 || data[0] !== VERSION) throw new InvalidFernetToken('bad-version');
  const cipherBytes = data.length - HEADER_BYTES - MAC_BYTES;
  if (cipherBytes <= 0) throw new InvalidFernetToken('too-short');
  if (cipherBytes % BLOCK_BYTES !== 0) throw new InvalidFernetToken('bad-block-length');
  if (options.ttlSeconds !== undefined) {
    const now = options.now ?? Math.floor(Date.now() / 1000);
    const stamped = Number(new DataView(data.buffer, data.byteOffset, data.byteLength).getBigUint64(1));
    if (stamped + options.ttlSeconds < now) throw new InvalidFernetToken('expired');
    if (now + MAX_CLOCK_SKEW_SECONDS < stamped) throw new InvalidFernetToken('from-the-future');
  }
}
