// What the pages need from the end-to-end client: the account flows (sign-up,
// log-in, recovery, switch) and this device's local replica. Built on the
// shared client core (src/e2e-client/); this file only ties it to the
// browser (IndexedDB for the device state and the ciphertext cache).
import type { Importable, JsonExport, Memory } from './transfer.ts';

export interface ImportCounts {
  memories: number;
  entities: number;
  relations: number;
  skipped: number;
}

/** This browser's copy of an account: decrypted in memory, cached as ciphertext in IndexedDB. */
export interface LocalClient {
  readonly email: string;
  memories(): Memory[];
  search(query: string, limit: number): Array<{ memory: Memory; score: number }>;
  createMemory(content: string, tags: string[]): Promise<void>;
  updateMemory(id: string, content: string, tags: string[]): Promise<void>;
  deleteMemory(id: string): Promise<void>;
  importData(data: Importable): Promise<ImportCounts>;
  exportData(): JsonExport;
  /** Sends queued changes and applies the server's; an unreachable server leaves them queued. */
  sync(): Promise<void>;
  syncState(): 'synced' | 'offline';
  pendingCount(): number;
  onChange(listener: () => void): void;
}

const notYet = (): never => {
  throw new Error('the end-to-end client core is not merged yet');
};

/** Creates an account; answers the recovery code to show once. */
export async function signUp(_email: string, _password: string): Promise<string> {
  return notYet();
}

export async function logIn(_email: string, _password: string): Promise<void> {
  notYet();
}

/** Opens the account with the recovery code and sets a new password; answers the new recovery code. */
export async function recoverAccount(_email: string, _code: string, _password: string): Promise<string> {
  return notYet();
}

/** Converts the signed-in server-key account, whose records are `exported`; answers the recovery code. */
export async function switchToEndToEnd(_password: string, _exported: JsonExport, _email: string): Promise<string> {
  return notYet();
}

/** This device's account, or null when this browser is not logged in. */
export async function openLocalClient(): Promise<LocalClient | null> {
  return null;
}

export async function logOut(): Promise<void> {
  notYet();
}
