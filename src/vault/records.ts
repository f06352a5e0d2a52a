// The plaintext shapes sealed inside records (DESIGN.md section 2). These
// schemas check every record after decryption, so a token that decrypts but
// holds the wrong shape is reported, never passed on.
import { z } from 'zod';
import { badRequest } from '../errors.ts';

export const LIMITS = {
  contentChars: 65_536,
  tags: 32,
  tagChars: 64,
  nameChars: 512,
  observationChars: 8_192,
  observations: 1_000,
} as const;

/**
 * Checked wherever an entity's observations grow (create, add, import merge),
 * so every entity fits the limit the JSON export's import applies.
 */
export function requireObservationRoom(count: number): void {
  if (count > LIMITS.observations) throw badRequest(`an entity holds at most ${LIMITS.observations} observations`);
}

export const memorySchema = z.object({
  kind: z.literal('memory'),
  id: z.string(),
  content: z.string(),
  tags: z.array(z.string()),
  created_at: z.string(),
  updated_at: z.string(),
});
export type MemoryRecord = z.infer<typeof memorySchema>;

export const entitySchema = z.object({
  kind: z.literal('entity'),
  name: z.string(),
  entityType: z.string(),
  observations: z.array(z.string()),
});
export type EntityRecord = z.infer<typeof entitySchema>;

export const relationSchema = z.object({
  kind: z.literal('relation'),
  from: z.string(),
  to: z.string(),
  relationType: z.string(),
});
export type RelationRecord = z.infer<typeof relationSchema>;

export type PlainRecord = MemoryRecord | EntityRecord | RelationRecord;

/** A memory as the API shows it: the record without its kind tag. */
export interface Memory {
  id: string;
  content: string;
  tags: string[];
  created_at: string;
  updated_at: string;
}

export interface Entity {
  name: string;
  entityType: string;
  observations: string[];
}

export interface Relation {
  from: string;
  to: string;
  relationType: string;
}

export function toMemory(record: MemoryRecord): Memory {
  return { id: record.id, content: record.content, tags: record.tags, created_at: record.created_at, updated_at: record.updated_at };
}

export function toEntity(record: EntityRecord): Entity {
  return { name: record.name, entityType: record.entityType, observations: record.observations };
}

export function toRelation(record: RelationRecord): Relation {
  return { from: record.from, to: record.to, relationType: record.relationType };
}

/** Tags are compared case-insensitively and kept once each, in the order given. */
export function normaliseTags(tags: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const raw of tags) {
    const t = raw.trim().normalize('NFC');
    const folded = t.toLowerCase();
    if (t && !seen.has(folded)) {
      seen.add(folded);
      out.push(t);
    }
  }
  return out;
}
