// The key hierarchy of DESIGN.md section 1. Pure functions: nothing here
// logs, stores or caches a key.
import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { fernetDecrypt, fernetEncrypt } from './fernet.ts';

export const FORMAT_VERSION = 'v1';
export const DATA_KEY_INFO = 'smtry-at-rest-v1';
export const KEY_WRAP_INFO = 'smtry-key-wrap-v1';
/** Sub-key for keyed lookup columns (blind indexes): its own HKDF info, so it never equals K. */
export const LOOKUP_KEY_INFO = 'anamnesis-lookup-v1';

const API_KEY_PREFIX = 'anm_';
const API_KEY_PATTERN = /^anm_[A-Za-z0-9_-]{43}$/;
const SECRET_BYTES = 32;

/** The per-user data key K. Raw bytes; only a request's Vault should hold one. */
export type DataKey = Buffer;

function hkdf(ikm: string | Uint8Array, salt: string, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, 32));
}

export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(SECRET_BYTES).toString('base64url');
}

export function isApiKey(candidate: string): boolean {
  return API_KEY_PATTERN.test(candidate);
}

/** A browser-session (or future OAuth) token: 32 CSPRNG bytes, base64url. */
export function generateSessionToken(): string {
  return randomBytes(SECRET_BYTES).toString('base64url');
}

/** What the server stores instead of an API key or token: hex SHA-256 of its UTF-8 text. */
export function secretLookupHash(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** K = HKDF-SHA256(ikm = UTF-8(api_key), salt = UTF-8(user_id), info = "smtry-at-rest-v1", L = 32). */
export function deriveDataKey(apiKey: string, userId: string): DataKey {
  return hkdf(Buffer.from(apiKey, 'utf8'), userId, DATA_KEY_INFO);
}

/**
 * wrap = Fernet(HKDF-SHA256(ikm = UTF-8(credential), salt = user_id, info = "smtry-key-wrap-v1")).encrypt(K).
 * The credential is a session token, or a pending API key during rotation.
 */
export function wrapDataKey(credential: string, userId: string, dataKey: DataKey): string {
  return fernetEncrypt(hkdf(Buffer.from(credential, 'utf8'), userId, KEY_WRAP_INFO), dataKey);
}

/** Throws InvalidFernetToken when the credential is not the one the key was wrapped with. */
export function unwrapDataKey(credential: string, userId: string, wrapped: string): DataKey {
  const key = fernetDecrypt(hkdf(Buffer.from(credential, 'utf8'), userId, KEY_WRAP_INFO), wrapped);
  if (key.length !== 32) throw new RangeError('a wrapped data key is 32 bytes');
  return key;
}

/** Sub-key for keyed lookup columns, derived from K; rotates with K. */
export function deriveLookupKey(dataKey: DataKey): Buffer {
  return hkdf(dataKey, '', LOOKUP_KEY_INFO);
}

/** A keyed lookup tag: reveals nothing without K, equal for equal inputs under one K. */
export function lookupTag(lookupKey: Buffer, value: string): string {
  return createHmac('sha256', lookupKey).update(value, 'utf8').digest('base64url');
}

/** Constant-time equality of two secrets or their hashes, whatever their lengths. */
export function secretsEqual(a: string, b: string): boolean {
  // Hashing first gives equal lengths, so the comparison time says nothing about either.
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}
