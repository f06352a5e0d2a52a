// API-key rotation in two steps (DESIGN.md section 1), so a lost answer never
// locks the user out: `rotate` issues a pending key and stores K wrapped under
// it while the old key keeps working; `confirm`, called with the pending key,
// re-encrypts every record under the new K in one transaction and deletes
// every wrapped copy of the old K.
import { generateApiKey, isApiKey, secretLookupHash, unwrapDataKey } from '../crypto/keys.ts';
import { AppError, unauthorized } from '../errors.ts';
import type { Store } from '../storage/store.ts';
import { Vault } from '../vault/vault.ts';

export const PENDING_KEY_TTL_MS = 3600_000;

export async function beginRotation(store: Store, vault: Vault): Promise<{ apiKey: string; expiresAt: string }> {
  const apiKey = generateApiKey();
  const expiresAt = Date.now() + PENDING_KEY_TTL_MS;
  await store.setPendingKey(vault.userId, { hash: secretLookupHash(apiKey), wrap: vault.wrapFor(apiKey), expiresAt });
  await store.appendAudit({ userId: vault.userId, action: 'key.rotate', outcome: 'pending', at: Date.now() });
  return { apiKey, expiresAt: new Date(expiresAt).toISOString() };
}

export interface RotationResult {
  status: 'rotated' | 'already_rotated';
  records: number;
}

/** Idempotent: confirming again with the (now current) key answers `already_rotated`. */
export async function confirmRotation(store: Store, pendingKey: string): Promise<RotationResult> {
  if (!isApiKey(pendingKey)) throw unauthorized('a pending API key is required');
  const hash = secretLookupHash(pendingKey);
  const pendingOwner = await store.findUserByPendingKeyHash(hash);
  if (!pendingOwner) {
    const current = await store.findUserByApiKeyHash(hash);
    if (current) return { status: 'already_rotated', records: await countSealed(store, current.id) };
    throw unauthorized('this key is not a pending API key');
  }
  const userId = pendingOwner.id;
  const result = await store.transaction(async (tx) => {
    await tx.lockUser(userId);
    const found = await tx.findUserById(userId);
    const user = found?.mode === 'server-key' ? found : null;
    if (user?.apiKeyHash === hash) return { status: 'already_rotated' as const, records: await countSealed(tx, userId) };
    if (!user || user.pendingKeyHash !== hash || !user.pendingKeyWrap) throw unauthorized('this key is not a pending API key');
    if ((user.pendingKeyExpiresAt ?? 0) <= Date.now()) {
      await tx.setPendingKey(userId, null);
      return null;
    }
    const oldVault = new Vault(store, userId, unwrapDataKey(pendingKey, userId, user.pendingKeyWrap));
    const newVault = Vault.forApiKey(store, userId, pendingKey);
    const records = await oldVault.reencryptInto(tx, newVault);
    await tx.setApiKeyHash(userId, hash);
    await tx.clearWrappedKeys(userId);
    return { status: 'rotated' as const, records };
  });
  if (!result) throw new AppError('unauthorized', 'this pending API key expired unconfirmed; start the rotation again');
  await store.appendAudit({ userId, action: 'key.rotate.confirm', outcome: result.status, at: Date.now() });
  return result;
}

/** The user's memories, entities and relations (search-index records are not counted: they are derived). */
export async function countSealed(store: Pick<Store, 'countRecords'>, userId: string): Promise<number> {
  const counts = await Promise.all((['memory', 'entity', 'relation'] as const).map((kind) => store.countRecords(userId, kind)));
  return counts.reduce((a, b) => a + b, 0);
}
