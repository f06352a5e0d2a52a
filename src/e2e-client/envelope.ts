// Records on the wire and at rest (docs/e2e-protocol.md §2): one Fernet token
// under K per record, whose plaintext is `{"v":1,"id","version","record"}`;
// a deletion is a token too, with `"record":null` (a tombstone the server
// cannot forge). Opening checks that the id and version inside equal the
// row's, so the server can neither swap two records nor serve an older
// version as the current one, and that the record has its kind's shape.
import { z } from 'zod';
import { entitySchema, memorySchema, relationSchema, type EntityRecord, type MemoryRecord, type RelationRecord } from '../vault/records.ts';
import { decodeUtf8 } from './encoding.ts';
import { type FernetKey, InvalidFernetToken } from './fernet.ts';
import { isRecordId } from './keys.ts';
import { MANIFEST_ID, type ManifestRecord } from './manifest.ts';

export const ENVELOPE_VERSION = 1;

/** What a user's record can be; the manifest is bookkeeping, kept apart. */
export type UserRecord = MemoryRecord | EntityRecord | RelationRecord;
export type SealedRecord = UserRecord | ManifestRecord;

export interface Envelope<R extends SealedRecord = SealedRecord> {
  v: 1;
  id: string;
  version: number;
  /** null: the record was deleted at this version. */
  record: R | null;
}

/** A row as the server stores and serves it. */
export interface TokenRow {
  id: string;
  version: number;
  token: string;
}

export type EnvelopeFailure =
  | 'undecryptable' // not a Fernet token under this account's K (or tampered with)
  | 'not-json' // decrypts, but is not UTF-8 JSON
  | 'bad-envelope' // not {"v":1,"id","version","record"}
  | 'swapped-id' // sealed for another id
  | 'wrong-version' // sealed for another version of this id
  | 'bad-record'; // the record does not have its kind's shape

/** A token that must not be believed. Fixed text: the id and reason, never plaintext. */
export class TamperedRecord extends Error {
  constructor(
    readonly recordId: string,
    readonly reason: EnvelopeFailure,
  ) {
    super(`record ${recordId} was refused: ${reason}`);
    this.name = 'TamperedRecord';
  }
}

// Loose: a field a newer client added survives this client's edits.
const manifestSchema = z.object({ kind: z.literal('manifest'), count: z.number().int().nonnegative(), digest: z.string() });
const userRecordSchema = z.discriminatedUnion('kind', [memorySchema.loose(), entitySchema.loose(), relationSchema.loose()]);
const envelopeSchema = z.object({
  v: z.literal(ENVELOPE_VERSION),
  id: z.string(),
  version: z.number().int().positive(),
  record: z.unknown(),
});

function checkRecord(id: string, record: unknown): SealedRecord | null {
  if (record === null) return null;
  if (id === MANIFEST_ID) {
    const parsed = manifestSchema.safeParse(record);
    return parsed.success ? parsed.data : null;
  }
  const parsed = userRecordSchema.safeParse(record);
  if (!parsed.success) return null;
  // A memory carries its own id: it must be the row's, or one memory could pose as another.
  if (parsed.data.kind === 'memory' && parsed.data.id !== id) return null;
  return parsed.data;
}

/** The largest token the server stores (docs/e2e-protocol.md §2). */
export const MAX_TOKEN_CHARS = 256 * 1024;

/** A record whose token would exceed what the server stores: refused before it is queued, so it cannot block a sync. */
export class RecordTooLarge extends RangeError {
  constructor(readonly recordId: string) {
    super(`record ${recordId} is too large: a sealed record is at most ${MAX_TOKEN_CHARS / 1024} KiB`);
    this.name = 'RecordTooLarge';
  }
}

/** Seals one record (or a tombstone, `record` null) for `id` at `version`. */
export async function sealRecord(key: FernetKey, id: string, version: number, record: SealedRecord | null): Promise<string> {
  if (!isRecordId(id)) throw new RangeError('a record id is 1-64 characters from A-Z a-z 0-9 _ -');
  if (!Number.isSafeInteger(version) || version < 1) throw new RangeError('a record version is a whole number from 1');
  if (record !== null && checkRecord(id, record) === null) throw new RangeError(`record ${id} does not have its kind's shape`);
  const envelope: Envelope = { v: ENVELOPE_VERSION, id, version, record };
  const token = await key.encrypt(JSON.stringify(envelope));
  if (token.length > MAX_TOKEN_CHARS) throw new RecordTooLarge(id);
  return token;
}

/** Opens a row's token; TamperedRecord unless it is exactly this id at this version with a well-formed record. */
export async function openRecord(key: FernetKey, row: TokenRow): Promise<Envelope> {
  let bytes: Uint8Array;
  try {
    bytes = await key.decrypt(row.token);
  } catch (error) {
    if (error instanceof InvalidFernetToken) throw new TamperedRecord(row.id, 'undecryptable');
    throw error;
  }
  const text = decodeUtf8(bytes);
  let value: unknown;
  try {
    if (text === null) throw new SyntaxError();
    value = JSON.parse(text);
  } catch {
    throw new TamperedRecord(row.id, 'not-json');
  }
  const envelope = envelopeSchema.safeParse(value);
  if (!envelope.success) throw new TamperedRecord(row.id, 'bad-envelope');
  if (envelope.data.id !== row.id) throw new TamperedRecord(row.id, 'swapped-id');
  if (envelope.data.version !== row.version) throw new TamperedRecord(row.id, 'wrong-version');
  const record = checkRecord(row.id, envelope.data.record);
  if (record === null && envelope.data.record !== null) throw new TamperedRecord(row.id, 'bad-record');
  return { v: ENVELOPE_VERSION, id: row.id, version: row.version, record };
}
