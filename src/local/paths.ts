// Where the local MCP server keeps its files: one folder per user account of
// the operating system (ANAMNESIS_LOCAL_DIR overrides it, e.g. for a second
// "device" in tests). The folder is made private to the user (0700).
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface LocalPaths {
  dir: string;
  /** Server, email and user id: what is not secret about the log-in. */
  profile: string;
  /** The ciphertext cache (SQLite). */
  cache: string;
  /** The encrypted credentials file, used only where no OS keychain answers. */
  credentials: string;
}

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.ANAMNESIS_LOCAL_DIR) return path.resolve(env.ANAMNESIS_LOCAL_DIR);
  const home = os.homedir();
  switch (process.platform) {
    case 'darwin':
      return path.join(home, 'Library', 'Application Support', 'anamnesis-local');
    case 'win32':
      return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'anamnesis-local');
    default:
      return path.join(env.XDG_CONFIG_HOME || path.join(home, '.config'), 'anamnesis-local');
  }
}

export function localPaths(env: NodeJS.ProcessEnv = process.env): LocalPaths {
  const dir = configDir(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return { dir, profile: path.join(dir, 'profile.json'), cache: path.join(dir, 'cache.db'), credentials: path.join(dir, 'credentials.enc') };
}
