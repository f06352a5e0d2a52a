// This browser as a device of an end-to-end account: its session token, the
// account's working keys and its ciphertext cache live in one IndexedDB
// database of this site, so the account opens again after a reload, offline
// too. Logging out deletes the whole database. The keys are non-extractable
// WebCrypto keys (the Fernet sub-keys of K and the manifest key D), stored by
// structured clone: script on this page can use them but never read their
// bytes, and K's own bytes are never stored. The token is plaintext, which is
// what "this device is logged in" means (docs/web.md says so; the local MCP
// server keeps its key in the OS keychain instead).
import { accountKeys, type AccountKeys } from '../../../e2e-client/index.ts';
import { Database } from './idb.ts';

export const DATABASE_NAME = 'anamnesis-e2e';
/** device: the one state record; rows, pending, meta: the replica's ciphertext cache. */
export const STORES = ['device', 'rows', 'pending', 'meta'] as const;

export interface DeviceState {
  userId: string;
  email: string;
  /** The E2E session token (`ane_…`), sent as a bearer. */
  token: string;
  /** K's working keys, non-extractable (usable, never exportable). */
  keys: AccountKeys;
}

/** What a browser running an earlier release kept: K's raw bytes instead of the keys. */
interface EarlierDeviceState extends Omit<DeviceState, 'keys'> {
  dataKey: Uint8Array<ArrayBuffer>;
}

/** A freshly logged-in device's state: K becomes non-extractable keys here, and only those are kept. */
export async function deviceState(userId: string, email: string, token: string, dataKey: Uint8Array<ArrayBuffer>): Promise<DeviceState> {
  return { userId, email, token, keys: await accountKeys(dataKey, userId) };
}

export function openDatabase(): Promise<Database> {
  return Database.open(DATABASE_NAME, STORES);
}

export async function loadDevice(db: Database): Promise<DeviceState | null> {
  const state = await db.get<DeviceState | EarlierDeviceState>('device', 'current');
  if (!state || 'keys' in state) return state ?? null;
  // Kept by an earlier release as raw bytes: replaced by non-extractable keys, and the bytes overwritten.
  const { dataKey, ...rest } = state;
  const upgraded = await deviceState(rest.userId, rest.email, rest.token, dataKey);
  await db.change(['device'], (store) => store('device').put(upgraded, 'current'));
  return upgraded;
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
