// The team's test vectors (Fernet, HKDF, Argon2, with provenance in their
// README) are kept in test/vectors, a copy of ../shared/vectors, so a clone
// tests itself wherever it is checked out. When the shared folder is beside
// the repository (as in CI), vectors.test.ts checks the copy has not drifted.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: this file is <root>/test/helpers/shared-vectors.ts. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export const vectorsDir = path.join(repoRoot, 'test', 'vectors');
export const sharedVectorsDir = path.resolve(repoRoot, '..', 'shared', 'vectors');

/** Parse one vector file, e.g. `loadVectors<FernetInvalid[]>('fernet/invalid.json')`. */
export function loadVectors<T>(relativePath: string): T {
  const file = path.join(vectorsDir, relativePath);
  if (!existsSync(file)) throw new Error(`test vector ${relativePath} not found at ${file}`);
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/** Seconds since the epoch of an ISO-8601 time with offset ("1985-10-26T01:20:00-07:00" = 499162800). */
export function isoToEpochSeconds(iso: string): number {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms) || ms % 1000 !== 0) throw new Error(`not a whole-second ISO-8601 time: ${iso}`);
  return ms / 1000;
}

export const hex = (s: string): Buffer => Buffer.from(s, 'hex');

// Shapes of the files under vectors/ (see vectors/README.md).

export interface FernetGenerateVector {
  token: string;
  now: string;
  iv: number[];
  src: string;
  secret: string;
}

export interface FernetVerifyVector {
  token: string;
  now: string;
  ttl_sec: number;
  src: string;
  secret: string;
}

export interface FernetInvalidVector {
  desc: string;
  token: string;
  now: string;
  ttl_sec: number;
  secret: string;
}

export interface HkdfVector {
  ikm: string;
  salt: string;
  info: string;
  /** Output length in bytes. */
  L: number;
  prk: string;
  okm: string;
}

export interface Argon2PhcVector {
  type: 'argon2id';
  version: number;
  password: string;
  salt: string;
  t: number;
  m: number;
  p: number;
  tagLength: number;
  tag: string;
  phc: string;
}

export interface Argon2RfcVector {
  type: 'argon2id';
  version: number;
  password: string;
  salt: string;
  secret: string;
  ad: string;
  t: number;
  m: number;
  p: number;
  tagLength: number;
  prehash: string;
  tag: string;
}
