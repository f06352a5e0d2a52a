// This browser as a device of an end-to-end account: its session token, the
// account's data key and its ciphertext cache live in one IndexedDB database
// of this site, so the account opens again after a reload, offline too.
// Logging out deletes the whole database. Nothing in it is plaintext except
// the key itself and the token, which is what "this device is logged in"
// means (docs/web.md says so; the local MCP server keeps its key in the OS
// keychain instead).
import { Database } from './idb.ts';

export const DATABASE_NAME = 'anamnesis-e2e';
/** device: the one state record; rows, pending, meta: the replica's ciphertext cache. */
export const STORES = ['device', 'rows', 'pending', 'meta'] as const;

export interface DeviceState {
  userId: string;
  email: string;
  /** The E2E session token (`ane_…`), sent as a bearer. */
  token: string;
  /** The account's data key K (32 bytes). */
  dataKey: Uint8Array<ArrayBuffer>;
}

export function openDatabase(): Promise<Database> {
  return Database.open(DATABASE_NAME, STORES);
}

export async function loadDevice(db: Database): Promise<DeviceState | null> {
  return (await db.get<DeviceState>('device', 'current')) ?? null;
}

/** Makes this browser a device of the account, replacing (and emptying the cache of) any other. */
export async function saveDevice(state: DeviceState): Promise<void> {
  await forgetDevice();
  const db = await openDatabase();
  try {
    await db.change(['device'], (store) => store('device').put(state, 'current'));
  } finally {
    db.close();
  }
}

export async function forgetDevice(): Promise<void> {
  await Database.remove(DATABASE_NAME);
}
