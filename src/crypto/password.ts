// Password hashing with argon2id (PHC strings). The password authenticates the
// account; it is never an input to the data key.
import { Algorithm, hash, verify } from '@node-rs/argon2';
import { randomBytes } from 'node:crypto';

/** OWASP 2023 baseline: m = 19 MiB, t = 2, p = 1; 16-byte salt, 32-byte tag. */
export const PASSWORD_HASH_PARAMS = { memoryCost: 19456, timeCost: 2, parallelism: 1, outputLen: 32, saltLen: 16 } as const;

export async function hashPassword(password: string): Promise<string> {
  const { memoryCost, timeCost, parallelism, outputLen, saltLen } = PASSWORD_HASH_PARAMS;
  return hash(password, { algorithm: Algorithm.Argon2id, memoryCost, timeCost, parallelism, outputLen, salt: randomBytes(saltLen) });
}

export async function verifyPassword(phc: string, password: string): Promise<boolean> {
  try {
    return await verify(phc, password);
  } catch {
    return false; // a malformed stored hash verifies nothing
  }
}

interface PhcParams {
  algorithm: string;
  memoryCost: number;
  timeCost: number;
  parallelism: number;
  outputLen: number;
  saltLen: number;
}

function parsePhc(phc: string): PhcParams | null {
  const match = /^\$(argon2(?:id|i|d))\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(phc);
  if (!match) return null;
  const [, algorithm, m, t, p, salt, tag] = match as unknown as [string, string, string, string, string, string, string];
  // Salt and tag are unpadded standard base64: n characters carry floor(3n/4) bytes.
  return {
    algorithm,
    memoryCost: Number(m),
    timeCost: Number(t),
    parallelism: Number(p),
    outputLen: Math.floor((tag.length * 3) / 4),
    saltLen: Math.floor((salt.length * 3) / 4),
  };
}

/**
 * True when a stored hash is weaker than today's parameters, so login should
 * replace it: another algorithm or version, less memory, fewer passes, a
 * shorter tag or a shorter salt. A stronger hash is kept (replacing it would
 * be a downgrade); parallelism alone does not make a hash weaker.
 */
export function passwordNeedsRehash(phc: string): boolean {
  const params = parsePhc(phc);
  if (!params) return true;
  return (
    params.algorithm !== 'argon2id' ||
    params.memoryCost < PASSWORD_HASH_PARAMS.memoryCost ||
    params.timeCost < PASSWORD_HASH_PARAMS.timeCost ||
    params.outputLen < PASSWORD_HASH_PARAMS.outputLen ||
    params.saltLen < PASSWORD_HASH_PARAMS.saltLen
  );
}

/**
 * A hash of a random password at today's parameters: verifying against it
 * when an email is unknown makes that answer take as long as a wrong password.
 */
export async function makeDecoyPasswordHash(): Promise<string> {
  return hashPassword(randomBytes(32).toString('base64url'));
}
