// Wire schemas of the end-to-end endpoints (docs/e2e-protocol.md section 3).
// Bodies are strict; the ciphertext fields are plain strings here and are
// checked for the shape of a Fernet token by `requireCiphertext`, so that a
// client sending plaintext hears `not_ciphertext`, not a schema error.
import { z } from 'zod';
import { isFernetTokenShape } from '../crypto/fernet.ts';
import { AppError } from '../errors.ts';
import { errorSchema } from '../http/schemas.ts';

/** A record token, a password wrap or a recovery wrap: at most 256 KiB. */
export const TOKEN_MAX_CHARS = 256 * 1024;
/** Writes per POST /changes. */
export const MAX_WRITES = 500;
export const CHANGES_BODY_LIMIT = 8 * 1024 * 1024;
/** A conversion carries every record of the account at once. */
export const CONVERSION_BODY_LIMIT = 64 * 1024 * 1024;
export const MAX_CONVERSION_WRITES = 100_000;

const base64url = (max: number) => z.string().min(1).max(max).regex(/^[A-Za-z0-9_-]+$/, 'must be base64url');
/** OPAQUE messages from the client (the largest, a registration record, is 256 characters). */
export const opaqueMessage = base64url(1024);
export const stepId = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be an id this server gave');
/** Bounded by the body limit; anything that is not a Fernet token of at most 256 KiB is `not_ciphertext`. */
export const ciphertext = z.string();
export const recordId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ -');
export const recoveryVerifier = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits');
export const recoveryAuth = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be 32 bytes in base64url');
export const label = z.string().max(80).regex(/^[^\p{Cc}]*$/u, 'must not hold control characters');
const version = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

export const credentials = {
  registration_record: opaqueMessage,
  password_wrap: ciphertext,
  recovery_wrap: ciphertext,
  recovery_verifier: recoveryVerifier,
};

export const write = z
  .strictObject({
    id: recordId,
    base_version: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER - 1),
    version,
    token: ciphertext,
    /** A tombstone: the server keeps it ANAMNESIS_E2E_TOMBSTONE_DAYS, then purges it. */
    deleted: z.boolean().optional(),
  })
  .refine((w) => w.version === w.base_version + 1, { message: 'version must be base_version + 1', path: ['version'] });

export function uniqueIds(writes: readonly { id: string }[], ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  writes.forEach((w, i) => {
    if (seen.has(w.id)) ctx.addIssue({ code: 'custom', message: 'each id at most once per batch', path: [i, 'id'] });
    seen.add(w.id);
  });
}

export const changeSchema = z.object({ id: z.string(), seq: z.number(), version: z.number(), token: z.string(), deleted: z.boolean() });

/** 400 not_ciphertext unless every value has the shape of a Fernet token. */
export function requireCiphertext(fields: Record<string, string>): void {
  const bad = Object.entries(fields).filter(([, token]) => !isFernetTokenShape(token, TOKEN_MAX_CHARS)).map(([where]) => where);
  if (bad.length > 0) {
    throw new AppError('not_ciphertext', 'these fields must hold Fernet tokens (ciphertext made on your device), at most 256 KiB each', { fields: bad.slice(0, 20) });
  }
}

/** OpenAPI: the flows anyone may start, and the routes an `ane_` token opens. */
export const PUBLIC = { tags: ['e2e'], security: [] };
export const E2E_BEARER = { tags: ['e2e'], security: [{ e2eSession: [] }] };

export const e2eErrors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema, 410: errorSchema, 413: errorSchema, 429: errorSchema };
