// Export and import in the browser: the export is made here, in the same
// format as a server-key account's JSON export (src/vault/transfer.ts), so
// either kind of account reads the other's file; the reference memory
// server's memory.jsonl imports too.
import type { Entity, Memory, Relation } from '../../../vault/records.ts';
import { describeIssue, JSON_EXPORT_FORMAT, JSON_EXPORT_VERSION, jsonExportSchema, mcpLineSchema } from '../../../vault/transfer-format.ts';
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
  const out: Importable = { memories: [], entities: [], relations: [] };
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new UserFacingError(`Line ${i + 1} is not JSON: this is neither an Anamnesis JSON export nor a memory.jsonl file.`);
    }
    const parsed = mcpLineSchema.safeParse(value);
    if (!parsed.success) throw new UserFacingError(`Line ${i + 1} is not an entity or relation of the reference memory server: ${describeIssue(parsed.error)}.`);
    if (parsed.data.type === 'entity') out.entities.push({ name: parsed.data.name, entityType: parsed.data.entityType, observations: parsed.data.observations });
    else out.relations.push({ from: parsed.data.from, to: parsed.data.to, relationType: parsed.data.relationType });
  });
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
