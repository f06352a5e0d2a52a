// Export and import in the browser: the export is made here, in the same
// format as a server-key account's JSON export (src/vault/transfer.ts), so
// either kind of account reads the other's file; the reference memory
// server's memory.jsonl imports too.
import type { Entity, Memory, Relation } from '../../../vault/records.ts';
import { describeIssue, JSON_EXPORT_FORMAT, JSON_EXPORT_VERSION, jsonExportSchema, parseMcpMemoryJsonl } from '../../../vault/transfer-format.ts';
import { UserFacingError } from './dom.ts';

export type { Entity, Memory, Relation };

/** The JSON export, as a server-key account's export makes it too. */
export interface JsonExport {
  format: typeof JSON_EXPORT_FORMAT;
  version: typeof JSON_EXPORT_VERSION;
  user_id: string;
  exported_at: string;
  memories: Memory[];
  entities: Entity[];
  relations: Relation[];
  unreadable: string[];
}

export interface Importable {
  memories: Memory[];
  entities: Entity[];
  relations: Relation[];
}

/**
 * Our JSON export (all or nothing), or the reference server's memory.jsonl
 * (a damaged line refuses the file, with its number), checked with the
 * server-key import's own schemas.
 */
export function parseImport(text: string): Importable {
  let whole: unknown;
  try {
    whole = JSON.parse(text);
  } catch {
    whole = undefined;
  }
  if (whole && typeof whole === 'object' && !Array.isArray(whole)) {
    const parsed = jsonExportSchema.safeParse(whole);
    if (!parsed.success) throw new UserFacingError(`This is not an Anamnesis JSON export: ${describeIssue(parsed.error)}.`);
    return { memories: parsed.data.memories, entities: parsed.data.entities, relations: parsed.data.relations };
  }
  const lines = parseMcpMemoryJsonl(text);
  const [first] = lines.errors;
  if (first) throw new UserFacingError(`Line ${first.line} is neither part of an Anamnesis JSON export nor an entity or relation of a memory.jsonl file (${first.message}). Nothing was imported.`);
  const out: Importable = { memories: [], entities: [], relations: [] };
  for (const { kind, ...fields } of lines.records) {
    if ('name' in fields) out.entities.push(fields);
    else out.relations.push(fields);
  }
  return out;
}

/** Offers `data` as a file download, made in this browser (nothing is sent). */
export function download(fileName: string, data: unknown): void {
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
