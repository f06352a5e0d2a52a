// Fernet authenticates each token, but a token moved to another row of the
// same user would still decrypt. Every record is bound to its row (a memory
// by the id inside it, an entity or relation by its keyed lookup tag), so a
// swap inside the database is reported as unreadable, never shown as the
// other record.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { generateApiKey } from '../../src/crypto/keys.ts';
import { openSqliteStore } from '../../src/storage/sqlite.ts';
import type { Store } from '../../src/storage/store.ts';
import { Vault } from '../../src/vault/vault.ts';

describe('records are bound to their rows', () => {
  let store: Store;
  let vault: Vault;
  let userId: string;

  before(async () => {
    store = await openSqliteStore({ file: ':memory:' });
    userId = randomUUID();
    await store.createUser({ mode: 'server-key', id: userId, email: `${userId}@example.com`, passwordHash: 'x', apiKeyHash: userId, pendingKeyHash: null, pendingKeyWrap: null, pendingKeyExpiresAt: null, createdAt: Date.now() });
    vault = Vault.forApiKey(store, userId, generateApiKey());
  });
  after(async () => store.close());

  const swapTokens = async (firstId: string, secondId: string) => {
    const [first, second] = await store.getRecords(userId, [firstId, secondId]);
    await store.putRecords([{ ...first!, token: second!.token }, { ...second!, token: first!.token }]);
  };

  it('two memories whose tokens were swapped are both unreadable, in every read', async () => {
    const payday = await vault.memories.create({ content: 'Payday is the 25th' });
    const allergy = await vault.memories.create({ content: 'Allergic to penicillin' });
    await swapTokens(payday.id, allergy.id);
    for (const id of [payday.id, allergy.id]) {
      await assert.rejects(vault.memories.get(id), (error: Error & { details?: { unreadable?: string[] } }) => error.details?.unreadable?.[0] === id);
    }
    const page = await vault.memories.list({ limit: 10 });
    assert.deepEqual(page.items, []);
    assert.deepEqual([...page.unreadable].sort(), [payday.id, allergy.id].sort());
    assert.deepEqual([...(await vault.transfer.exportJson()).unreadable].sort(), [payday.id, allergy.id].sort());
  });

  it('two entities whose tokens were swapped are refused where records are read', async () => {
    await vault.graph.createEntities([
      { name: 'Dr Okafor', entityType: 'person', observations: ['family doctor'] },
      { name: 'Mr Lindqvist', entityType: 'person', observations: ['landlord'] },
    ]);
    const rows = await store.allRecords(userId, ['entity']);
    await swapTokens(rows[0]!.id, rows[1]!.id);
    await assert.rejects(vault.graph.addObservations([{ entityName: 'Dr Okafor', contents: ['moved practice'] }]), (error: Error & { code?: string; details?: { unreadable?: string[] } }) =>
      error.code === 'conflict' && rows.some((r) => r.id === error.details?.unreadable?.[0]));
    const exported = await vault.transfer.exportJson();
    assert.deepEqual(exported.entities, []);
    for (const row of rows) assert.ok(exported.unreadable.includes(row.id), row.id);
    // The user can still delete them by name.
    await vault.graph.deleteEntities(['Dr Okafor', 'Mr Lindqvist']);
    assert.deepEqual(await store.allRecords(userId, ['entity']), []);
  });
});
