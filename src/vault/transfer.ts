// Export and import. The encrypted export is the stored tokens as they are,
// decryptable offline with the API key alone; the JSON export is plaintext for
// the user's own use; the reference server's memory.jsonl imports one-to-one.
// Every import is one transaction: it lands whole or not at all.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { FORMAT_VERSION } from '../crypto/keys.ts';
import { AppError, badRequest } from '../errors.ts';
import { requireWellFormed } from '../unicode.ts';
import type { RecordRow, Store } from '../storage/store.ts';
import type { GraphChange } from './graph-index.ts';
import { entityDoc, relationDoc, relationKey } from './graph.ts';
import { memoryDocOf } from './memory-index.ts';
import {
  type Entity,
  entitySchema,
  type MemoryRecord,
  normaliseTags,
  type PlainRecord,
  type Relation,
  relationSchema,
  requireObservationRoom,
  toEntity,
  toMemory,
  toRelation,
} from './records.ts';
import { describeIssue, JSON_EXPORT_FORMAT, jsonExportSchema, parseMcpMemoryJsonl } from './transfer-format.ts';
import type { Vault } from './vault.ts';

export { JSON_EXPORT_FORMAT };

export const ENCRYPTED_EXPORT_FORMAT = 'anamnesis-encrypted-export';
const EXPORTED_KINDS = ['memory', 'entity', 'relation'] as const;

export interface ImportReport {
  imported: { memories: number; entities: number; relations: number; observations: number };
  skipped: { memories: number; entities: number; relations: number };
  /** Lines that could not be imported, by 1-based line number; the rest still import. */
  errors: Array<{ line: number; message: string }>;
}

function emptyReport(): ImportReport {
  return { imported: { memories: 0, entities: 0, relations: 0, observations: 0 }, skipped: { memories: 0, entities: 0, relations: 0 }, errors: [] };
}

const encryptedHeaderSchema = z.object({ format: z.literal(ENCRYPTED_EXPORT_FORMAT), version: z.literal(FORMAT_VERSION), user_id: z.string() });
const encryptedLineSchema = z.object({
  id: z.string().min(1).max(100),
  kind: z.enum(EXPORTED_KINDS),
  created_at: z.number().int().nonnegative(),
  updated_at: z.number().int().nonnegative(),
  token: z.string().min(1),
});

export class Transfer {
  constructor(
    private readonly store: Store,
    private readonly userId: string,
    private readonly vault: Vault,
  ) {}

  /** A header line, then one stored token per line with its addressing metadata. */
  async exportEncrypted(): Promise<string> {
    const rows = await this.store.allRecords(this.userId, [...EXPORTED_KINDS]);
    const header = { format: ENCRYPTED_EXPORT_FORMAT, version: FORMAT_VERSION, user_id: this.userId, exported_at: new Date().toISOString(), records: rows.length };
    const lines = rows.map((row) => JSON.stringify({ id: row.id, kind: row.kind, created_at: row.createdAt, updated_at: row.updatedAt, token: row.token }));
    return [JSON.stringify(header), ...lines].join('\n') + '\n';
  }

  /** Every record in plaintext; unreadable records are listed by id instead. */
  async exportJson(): Promise<{ format: string; version: string; user_id: string; exported_at: string; memories: ReturnType<typeof toMemory>[]; entities: Entity[]; relations: Relation[]; unreadable: string[] }> {
    const out = { format: JSON_EXPORT_FORMAT, version: FORMAT_VERSION, user_id: this.userId, exported_at: new Date().toISOString(), memories: [] as ReturnType<typeof toMemory>[], entities: [] as Entity[], relations: [] as Relation[], unreadable: [] as string[] };
    for (const row of await this.store.allRecords(this.userId, [...EXPORTED_KINDS])) {
      let record: PlainRecord;
      try {
        record = this.vault.openRow(row);
      } catch {
        out.unreadable.push(row.id);
        continue;
      }
      if (record.kind === 'memory') out.memories.push(toMemory(record));
      else if (record.kind === 'entity') out.entities.push(toEntity(record));
      else out.relations.push(toRelation(record));
    }
    return out;
  }

  /** Our own encrypted export: every token must open under this account's current key. */
  async importEncrypted(text: string): Promise<ImportReport> {
    const report = emptyReport();
    const lines = text.split('\n');
    let header: unknown;
    try {
      header = JSON.parse(lines[0] ?? '');
    } catch {
      throw badRequest('line 1 is not the export header');
    }
    requireWellFormed(header, 'line 1');
    const parsedHeader = encryptedHeaderSchema.safeParse(header);
    if (!parsedHeader.success) throw badRequest('line 1 is not an Anamnesis encrypted export header of format version v1');
    const records: Array<{ row: RecordRow; record: PlainRecord }> = [];
    lines.slice(1).forEach((line, i) => {
      const lineNumber = i + 2;
      if (!line.trim()) return;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        report.errors.push({ line: lineNumber, message: 'not JSON' });
        return;
      }
      requireWellFormed(value, `line ${lineNumber}`);
      const parsed = encryptedLineSchema.safeParse(value);
      if (!parsed.success) {
        report.errors.push({ line: lineNumber, message: describeIssue(parsed.error) });
        return;
      }
      const { id, kind, created_at, updated_at, token } = parsed.data;
      let record: PlainRecord;
      try {
        record = this.vault.openRow({ userId: this.userId, id, kind, token, lookup: null, createdAt: created_at, updatedAt: updated_at }, true);
      } catch {
        report.errors.push({ line: lineNumber, message: 'the token does not open with this account\'s current key' });
        return;
      }
      requireWellFormed(record, `line ${lineNumber}`);
      // Sealed afresh so entities and relations get their lookup tags.
      records.push({ row: this.vault.sealRow(record, id, created_at, updated_at), record });
    });
    await this.importRecords(records, report);
    return report;
  }

  /** Our own plaintext JSON export. */
  async importJson(value: unknown): Promise<ImportReport> {
    requireWellFormed(value, 'the JSON export');
    const parsed = jsonExportSchema.safeParse(value);
    if (!parsed.success) throw new AppError('validation_failed', `not an Anamnesis JSON export: ${describeIssue(parsed.error)}`);
    const report = emptyReport();
    const now = Date.now();
    const records: Array<{ row: RecordRow; record: PlainRecord }> = [];
    for (const m of parsed.data.memories) {
      const record: MemoryRecord = { kind: 'memory', id: m.id, content: m.content, tags: normaliseTags(m.tags), created_at: m.created_at, updated_at: m.updated_at };
      records.push({ row: this.vault.sealRow(record, m.id, Date.parse(m.created_at), Date.parse(m.updated_at)), record });
    }
    for (const e of parsed.data.entities) records.push(this.sealedNew({ kind: 'entity', ...e }, now));
    for (const r of parsed.data.relations) records.push(this.sealedNew({ kind: 'relation', ...r }, now));
    await this.importRecords(records, report);
    return report;
  }

  /**
   * The reference server's memory.jsonl: one `{"type":"entity"|"relation",…}`
   * per line, tolerant of a missing final newline and of corrupt lines, which
   * are reported by number while the others import.
   */
  async importMcpMemoryJsonl(text: string): Promise<ImportReport> {
    const report = emptyReport();
    const now = Date.now();
    const records: Array<{ row: RecordRow; record: PlainRecord }> = [];
    // Unlike a damaged line (reported, the rest imports), text that is not well-formed refuses the whole file.
    const lines = parseMcpMemoryJsonl(text, (value, line) => requireWellFormed(value, `line ${line}`));
    report.errors.push(...lines.errors);
    for (const record of lines.records) records.push(this.sealedNew(record, now + records.length));
    await this.importRecords(records, report);
    return report;
  }

  private sealedNew(record: PlainRecord, createdAt: number): { row: RecordRow; record: PlainRecord } {
    const id = randomUUID();
    return { row: this.vault.sealRow(record, id, createdAt, createdAt), record };
  }

  /**
   * Writes what is new in one transaction: memories by id, entities by name
   * (observations of an existing entity are merged in), relations by their
   * (from, to, type). Nothing that exists is overwritten.
   */
  private async importRecords(records: Array<{ row: RecordRow; record: PlainRecord }>, report: ImportReport): Promise<void> {
    await this.store.transaction(async (tx) => {
      await tx.lockUser(this.userId);
      const memories = records.filter((r) => r.record.kind === 'memory');
      const existingIds = new Set((await tx.getRecords(this.userId, memories.map((m) => m.row.id))).map((row) => row.id));
      const entitiesByName = new Map<string, { row: RecordRow; record: Entity }>();
      const entityRows = records.filter((r) => r.record.kind === 'entity');
      for (const row of await tx.findRecordsByLookup(this.userId, 'entity', entityRows.map((e) => e.row.lookup!))) {
        const record = entitySchema.parse(this.vault.openRow(row));
        entitiesByName.set(record.name, { row, record });
      }
      const relationRows = records.filter((r) => r.record.kind === 'relation');
      const existingRelations = new Set<string>();
      for (const row of await tx.findRecordsByLookup(this.userId, 'relation', relationRows.map((r) => r.row.lookup!))) {
        existingRelations.add(relationKey(relationSchema.parse(this.vault.openRow(row))));
      }

      const writes = new Map<string, RecordRow>();
      const newMemories: MemoryRecord[] = [];
      const graphChanges = new Map<string, GraphChange>();
      for (const { row, record } of records) {
        if (record.kind === 'memory') {
          if (existingIds.has(row.id) || writes.has(row.id)) report.skipped.memories++;
          else {
            writes.set(row.id, row);
            newMemories.push(record);
            report.imported.memories++;
          }
        } else if (record.kind === 'entity') {
          const existing = entitiesByName.get(record.name);
          if (!existing) {
            entitiesByName.set(record.name, { row, record: toEntity(record) });
            writes.set(row.id, row);
            graphChanges.set(row.id, { id: row.id, doc: entityDoc(record, row.createdAt) });
            report.imported.entities++;
            continue;
          }
          const added = record.observations.filter((o) => !existing.record.observations.includes(o));
          report.skipped.entities++;
          if (added.length === 0) continue;
          existing.record.observations.push(...added);
          requireObservationRoom(existing.record.observations.length);
          report.imported.observations += added.length;
          writes.set(existing.row.id, this.vault.sealRow({ kind: 'entity', ...existing.record }, existing.row.id, existing.row.createdAt, Date.now()));
          graphChanges.set(existing.row.id, { id: existing.row.id, doc: entityDoc(existing.record, existing.row.createdAt) });
        } else {
          const key = relationKey(record);
          if (existingRelations.has(key)) report.skipped.relations++;
          else {
            existingRelations.add(key);
            writes.set(row.id, row);
            graphChanges.set(row.id, { id: row.id, doc: relationDoc(record, row.createdAt) });
            report.imported.relations++;
          }
        }
      }
      await tx.putRecords([...writes.values()]);
      // Imported ids come from outside and may have been indexed before (a delta of their deletion may be pending): not new.
      await this.vault.index.apply(tx, newMemories.map((record) => ({ id: record.id, doc: memoryDocOf(record), previous: null, isNew: false })));
      await this.vault.graph.reindex(tx, [...graphChanges.values()]);
    });
  }
}
