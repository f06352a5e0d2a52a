// The team's test vectors (Fernet, HKDF, Argon2, with provenance in their
// README) are kept in test/vectors, a copy of ../shared/vectors, so a clone
// tests itself wherever it is checked out. When the shared folder is beside
// the repository (as in CI), vectors.test.ts checks the copy has not drifted.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FernetFailure } from '../../src/crypto/fernet-format.ts';

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

/** The three Fernet vector files: generate, verify, invalid. */
export function loadFernetVectors(): { generate: FernetGenerateVector[]; verify: FernetVerifyVector[]; invalid: FernetInvalidVector[] } {
  return {
    generate: loadVectors<FernetGenerateVector[]>('fernet/generate.json'),
    verify: loadVectors<FernetVerifyVector[]>('fernet/verify.json'),
    invalid: loadVectors<FernetInvalidVector[]>('fernet/invalid.json'),
  };
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

/**
 * The one right reason per invalid Fernet vector, by its `desc`, for both
 * Fernets. Each was checked against the token's bytes (test/crypto/fernet.test.ts,
 * "the invalid vectors are what their names say"): the padding, IV, clock-skew, TTL and block-length tokens all
 * carry a VALID MAC, so their failure is not a signature failure.
 */
export const FERNET_INVALID_REASON: Record<string, FernetFailure> = {
  'incorrect mac': 'bad-signature',
  'too short': 'too-short',
  'invalid base64': 'malformed-base64',
  // 72 bytes: header 25 + 15-byte ciphertext + MAC 32, the MAC is valid.
  'payload size not multiple of block size': 'bad-block-length',
  'payload padding error': 'bad-padding',
  'far-future TS (unacceptable clock skew)': 'from-the-future',
  'expired TTL': 'expired',
  // IV[0] changed and the MAC recomputed: the MAC is valid, CBC then yields a bad PKCS7 pad.
  'incorrect IV (causes padding error)': 'bad-padding',
};

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
