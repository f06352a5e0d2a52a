// A user row written straight into a store, for tests of the vault beneath
// the HTTP layer (no password, no API key of its own: the test derives K).
import { randomUUID } from 'node:crypto';
import type { Store } from '../../src/storage/store.ts';

export async function newStoreUser(store: Store): Promise<string> {
  const id = randomUUID();
  await store.createUser({ mode: 'server-key', id, email: `${id}@example.com`, passwordHash: 'x', apiKeyHash: randomUUID(), pendingKeyHash: null, pendingKeyWrap: null, pendingKeyExpiresAt: null, createdAt: Date.now() });
  return id;
}
