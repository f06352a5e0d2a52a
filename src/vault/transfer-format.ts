// The shapes of the plaintext files users move between accounts: our JSON
// export and the reference memory server's memory.jsonl. No Node imports, so
// the browser client (src/web/e2e/) checks an import with the same schemas
// as the server-key import (transfer.ts).
import { z } from 'zod';
import { type EntityRecord, LIMITS, type RelationRecord } from './records.ts';

export const JSON_EXPORT_FORMAT = 'anamnesis-json-export';
/** The record format version the JSON export carries (crypto/keys.ts FORMAT_VERSION; a test checks they agree). */
export const JSON_EXPORT_VERSION = 'v1';

const shortText = z.string().min(1).max(LIMITS.nameChars);
const entityFields = { name: shortText, entityType: shortText, observations: z.array(z.string().max(LIMITS.observationChars)).max(LIMITS.observations) };
const relationFields = { from: shortText, to: shortText, relationType: shortText };

export const jsonExportSchema = z.object({
  format: z.literal(JSON_EXPORT_FORMAT),
  version: z.literal(JSON_EXPORT_VERSION),
  memories: z.array(z.object({
    id: z.string().min(1).max(100),
    content: z.string().min(1).max(LIMITS.contentChars),
    tags: z.array(z.string().max(LIMITS.tagChars)).max(LIMITS.tags),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })),
  entities: z.array(z.object(entityFields)),
  relations: z.array(z.object(relationFields)),
});

export const mcpLineSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('entity'), ...entityFields }),
  z.object({ type: z.literal('relation'), ...relationFields }),
]);

export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? `${issue.path.join('.') || 'line'}: ${issue.message}` : 'invalid';
}

export interface McpMemoryLines {
  records: Array<EntityRecord | RelationRecord>;
  /** Lines that are not an entity or relation, by 1-based number. */
  errors: Array<{ line: number; message: string }>;
}

/**
 * The reference server's memory.jsonl: one `{"type":"entity"|"relation",…}`
 * per line, tolerant of blank lines and a missing final newline; a damaged
 * line is reported by number. `check` sees every parsed line first (and may
 * throw to refuse the whole file).
 */
export function parseMcpMemoryJsonl(text: string, check: (value: unknown, line: number) => void = () => undefined): McpMemoryLines {
  const out: McpMemoryLines = { records: [], errors: [] };
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      out.errors.push({ line: i + 1, message: 'not JSON' });
      return;
    }
    check(value, i + 1);
    const parsed = mcpLineSchema.safeParse(value);
    if (!parsed.success) {
      out.errors.push({ line: i + 1, message: describeIssue(parsed.error) });
      return;
    }
    const { type, ...fields } = parsed.data;
    out.records.push({ kind: type, ...fields } as EntityRecord | RelationRecord);
  });
  return out;
}
