// The manifest (docs/e2e-protocol.md §2): the reserved record `_manifest`
// holds the count of live records and the XOR, over them, of
// HMAC-SHA256(D, id + "\n" + version), an incremental set MAC (Bellare and
// Micciancio's XOR-MAC over HMAC). Every write batch updates it; a client
// that applied the changes feed compares it with its own live set, so a
// record the server dropped or rolled back is noticed. Tombstones are not in it.
import { decodeBase64url, encodeBase64url } from './encoding.ts';
import { hmac } from './keys.ts';

export const MANIFEST_ID = '_manifest';

export interface ManifestRecord {
  kind: 'manifest';
  count: number;
  /** base64url (unpadded) of the 32-byte XOR. */
  digest: string;
}

/** One live record's term in the digest. */
export function manifestTerm(manifest: CryptoKey, id: string, version: number): Promise<Uint8Array<ArrayBuffer>> {
  return hmac(manifest, `${id}\n${version}`);
}

/**
 * A running digest: `add` a record's (id, version) when it becomes live,
 * `remove` it when it is replaced or deleted. XOR makes both the same step.
 */
export class ManifestDigest {
  readonly #manifest: CryptoKey;
  readonly #acc = new Uint8Array(32);
  #count = 0;

  constructor(manifest: CryptoKey) {
    this.#manifest = manifest;
  }

  /** The digest of a whole live set, e.g. `ManifestDigest.of(D, [['id', 3], …])`. */
  static async of(manifest: CryptoKey, live: Iterable<readonly [string, number]>): Promise<ManifestDigest> {
    const digest = new ManifestDigest(manifest);
    await digest.update([], [...live]);
    return digest;
  }

  /** An independent copy, to compute what a write batch will make of the set. */
  clone(): ManifestDigest {
    const copy = new ManifestDigest(this.#manifest);
    copy.#acc.set(this.#acc);
    copy.#count = this.#count;
    return copy;
  }

  async add(id: string, version: number): Promise<void> {
    await this.update([], [[id, version]]);
  }

  async remove(id: string, version: number): Promise<void> {
    await this.update([[id, version]], []);
  }

  /** Many records at once; their HMACs are computed concurrently (XOR does not care about order). */
  async update(removed: ReadonlyArray<readonly [string, number]>, added: ReadonlyArray<readonly [string, number]>): Promise<void> {
    const terms = await Promise.all([...removed, ...added].map(([id, version]) => manifestTerm(this.#manifest, id, version)));
    for (const term of terms) this.#xor(term);
    this.#count += added.length - removed.length;
  }

  #xor(term: Uint8Array): void {
    for (let i = 0; i < 32; i++) this.#acc[i]! ^= term[i]!;
  }

  get count(): number {
    return this.#count;
  }

  get digest(): string {
    return encodeBase64url(this.#acc);
  }

  record(): ManifestRecord {
    return { kind: 'manifest', count: this.#count, digest: this.digest };
  }

  /** Whether a manifest record describes exactly this set (count and digest). */
  matches(record: ManifestRecord): boolean {
    const other = decodeBase64url(record.digest, false);
    if (!other || other.length !== 32 || record.count !== this.#count) return false;
    // Neither value is secret (both are computed from what the device holds), so a plain comparison is fine.
    return other.every((b, i) => b === this.#acc[i]);
  }
}
