// Wire schemas shared by routes: request bodies are strict (unknown fields
// are refused), answers list their fields so nothing else can leak out.
import { z } from 'zod';
import { LIMITS } from '../vault/records.ts';

export const errorSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }).loose() });

export const memorySchema = z.object({
  id: z.string(),
  content: z.string(),
  tags: z.array(z.string()),
  created_at: z.string(),
  updated_at: z.string(),
});

export const memoryContent = z.string().min(1).max(LIMITS.contentChars);
export const memoryTags = z.array(z.string().trim().min(1).max(LIMITS.tagChars)).max(LIMITS.tags);
export const memoryId = z.uuid();
export const cursor = z.string().min(1).max(512);
export const tagFilter = z.string().trim().min(1).max(LIMITS.tagChars);
export const email = z.string().min(3).max(320);
export const password = z.string().min(1).max(1024);
export const apiKey = z.string().min(1).max(200);

export const unreadableIds = z.array(z.string()).describe('records that are stored but could not be decrypted (tampered or corrupt)');
