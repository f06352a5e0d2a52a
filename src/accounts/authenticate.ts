// Bearer API keys: looked up by their SHA-256, never stored or logged.
import { isApiKey, secretLookupHash } from '../crypto/keys.ts';
import type { ServerKeyUserRow, Store } from '../storage/store.ts';
import { Vault } from '../vault/vault.ts';

export async function authenticateApiKey(store: Store, apiKey: string): Promise<{ user: ServerKeyUserRow; vault: Vault } | null> {
  if (!isApiKey(apiKey)) return null;
  const user = await store.findUserByApiKeyHash(secretLookupHash(apiKey));
  if (!user) return null;
  return { user, vault: Vault.forApiKey(store, user.id, apiKey) };
}
