// The shapes of the plaintext files users move between accounts: our JSON
// export and the reference memory server's memory.jsonl. No Node imports, so
// the browser client (src/web/e2e/) checks an import with the same schemas
// as the server-key import (transfer.ts).
import { z } from 'zod';
import { LIMITS } from './records.ts';

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
