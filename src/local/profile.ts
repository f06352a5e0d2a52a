// What is not secret about a log-in, kept in profile.json: the server, the
// email and the user id. The secrets (K and the session token) are in the
// keystore; the records in the ciphertext cache.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { z } from 'zod';

const profileSchema = z.object({ server: z.string().url(), email: z.string(), userId: z.string().uuid() });
export type Profile = z.infer<typeof profileSchema>;

export function readProfile(file: string): Profile | null {
  if (!existsSync(file)) return null;
  try {
    return profileSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    return null;
  }
}

export function writeProfile(file: string, profile: Profile): void {
  writeFileSync(file, JSON.stringify(profile, null, 2) + '\n', { mode: 0o600 });
}

export function removeProfile(file: string): void {
  rmSync(file, { force: true });
}

/** The keychain entry's account name: one log-in per user id and server. */
export function keychainAccount(profile: Pick<Profile, 'server' | 'userId'>): string {
  return `${profile.userId}@${new URL(profile.server).origin}`;
}
