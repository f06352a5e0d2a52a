// Creating memories without a lock, on SQLite and PostgreSQL: stamped by the
// clock and written in one statement when that stamp is the newest, otherwise
// stamped after the newest one stored. Either way a client's memories keep
// the order it created them in, and concurrent creates from several
// processes all land, each once, in the index too.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateApiKey } from '../../src/crypto/keys.ts';
import { openPostgresStore } from '../../src/storage/postgres.ts';
import type { Store } from '../../src/storage/store.ts';
import { Vault } from '../../src/vault/vault.ts';
import { testDrivers } from '../http/support.ts';
import { makePostgresTestStore } from '../helpers/postgres.ts';
import { newStoreUser } from '../helpers/store-user.ts';
import { storeForSuite } from '../helpers/suite-store.ts';

const T = Date.UTC(2031, 0, 1);

async function newVault(store: Store): Promise<Vault> {
  return Vault.forApiKey(store, await newStoreUser(store), generateApiKey());
}

/** Every memory of the vault, newest first. */
async function listAll(vault: Vault) {
  return (await vault.memories.list({ limit: 1000 })).items;
}

for (const driver of await testDrivers('memory creation order')) {
  describe(`memory creation order (${driver})`, () => {
    let store: Store;
    storeForSuite(driver, (opened) => (store = opened));

    it('keeps a client\'s memories in the order it created them when the clock stands still or goes back', async (t) => {
      const vault = await newVault(store);
      const clock = t.mock.method(Date, 'now', () => T);
      const contents = ['first', 'second', 'third'];
      for (const content of contents) await vault.memories.create({ content });
      // Another process's clock was ahead when it wrote: a create after it is stamped after it all the same.
      clock.mock.mockImplementation(() => T + 500);
      await vault.memories.create({ content: 'from a clock ahead' });
      clock.mock.mockImplementation(() => T + 10);
      await vault.memories.create({ content: 'fifth' });
      clock.mock.restore();
      const listed = await listAll(vault);
      assert.deepEqual(listed.map((m) => m.content), ['fifth', 'from a clock ahead', 'third', 'second', 'first']);
      assert.deepEqual(listed.map((m) => m.created_at).reverse(), [T, T + 1, T + 2, T + 500, T + 501].map((ms) => new Date(ms).toISOString()));
    });

    it('stamps a memory with the clock when it is the newest', async () => {
      const vault = await newVault(store);
      const before = Date.now();
      const created = await vault.memories.create({ content: 'now' });
      assert.ok(Date.parse(created.created_at) >= before && Date.parse(created.created_at) <= Date.now());
      assert.deepEqual(await listAll(vault), [created]);
    });
  });
}

if ((await testDrivers('memory creates from two processes')).includes('postgres')) {
  describe('memory creates from two processes on one PostgreSQL', () => {
    it('all land, each once, in creation order and in the index, while both create at once', async () => {
      const first = await makePostgresTestStore();
      const second = await openPostgresStore({ url: first.url, schema: first.schema });
      try {
        const userId = await newStoreUser(first.store);
        const apiKey = generateApiKey();
        const vaults = [Vault.forApiKey(first.store, userId, apiKey), Vault.forApiKey(second, userId, apiKey)];
        // Each process has several clients, each creating one memory after the other.
        const created = await Promise.all(
          Array.from({ length: 8 }, async (_, client) => {
            const mine = [];
            for (let i = 0; i < 6; i++) mine.push(await vaults[client % 2]!.memories.create({ content: `client ${client} memory ${i} about quinces` }));
            return mine;
          }),
        );
        const listed = await listAll(vaults[0]!);
        assert.deepEqual(listed.map((m) => m.id).sort(), created.flat().map((m) => m.id).sort());
        for (const mine of created) {
          const order = listed.filter((m) => mine.some((own) => own.id === m.id)).reverse();
          assert.deepEqual(order.map((m) => m.id), mine.map((m) => m.id), 'each client\'s memories in the order it created them');
        }
        const found = await vaults[1]!.memories.search({ q: 'quinces', limit: 100 });
        assert.equal(found.results.length, 48);
      } finally {
        await second.close();
        await first.cleanup();
      }
    });
  });
}
