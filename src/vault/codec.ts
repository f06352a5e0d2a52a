// The only holder of a user's data key K. A codec is created by the Vault for
// one request and dropped with it; it seals plaintext into Fernet tokens,
// opens them, and computes keyed lookup tags.
import { fernetDecrypt, fernetEncrypt, InvalidFernetToken } from '../crypto/fernet.ts';
import { type DataKey, deriveLookupKey, lookupTag, wrapDataKey } from '../crypto/keys.ts';
import { decodeUtf8 } from '../unicode.ts';

/** A stored token that does not open under this key or holds the wrong shape. */
export class UnreadableRecord extends Error {
  constructor(readonly recordId: string, reason: string) {
    super(`record ${recordId} is unreadable: ${reason}`);
    this.name = 'UnreadableRecord';
  }
}

export class RecordCodec {
  readonly #key: DataKey;
  #lookupKey: Buffer | undefined;

  constructor(key: DataKey) {
    this.#key = key;
  }

  seal(value: unknown): string {
    return fernetEncrypt(this.#key, JSON.stringify(value));
  }

  /** Decrypts and parses one token; `recordId` names it in the error if it cannot. */
  open(recordId: string, token: string): unknown {
    let bytes: Buffer;
    try {
      bytes = fernetDecrypt(this.#key, token);
    } catch (error) {
      if (error instanceof InvalidFernetToken) throw new UnreadableRecord(recordId, error.reason);
      throw error;
    }
    try {
      // Strict: a token sealed elsewhere (an imported export) must not be read with its bad bytes replaced.
      return JSON.parse(decodeUtf8(bytes, 'a record'));
    } catch {
      throw new UnreadableRecord(recordId, 'not UTF-8 JSON');
    }
  }

  /** Keyed lookup tag of a value, namespaced by purpose so tags of different kinds never collide. */
  lookup(purpose: string, value: string): string {
    this.#lookupKey ??= deriveLookupKey(this.#key);
    return lookupTag(this.#lookupKey, `${purpose}\u0000${value}`);
  }

  /** K wrapped for another credential (a session token or a pending API key). */
  wrapFor(credential: string, userId: string): string {
    return wrapDataKey(credential, userId, this.#key);
  }
}
