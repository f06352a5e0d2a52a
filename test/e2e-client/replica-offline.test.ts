// A replica with no server in reach: local writes apply at once and queue,
// the cache holds only ciphertext, and a reopened replica reads it back.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { E2eApi, OfflineError } from '../../src/e2e-client/api.ts';
import { MemoryReplicaCache } from '../../src/e2e-client/cache.ts';
import { generateDataKey } from '../../src/e2e-client/keys.ts';
import { IntegrityError, Replica } from '../../src/e2e-client/replica.ts';
import type { MemoryRecord } from '../../src/vault/records.ts';

/** A port nothing listens on: one we held a moment ago and closed. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const userId = '8c0e2f4a-1b3c-4d5e-8f60-718293a4b5c6';
const memory = (id: string, content: string): MemoryRecord => ({ kind: 'memory', id, content, tags: [], created_at: '2026-01-01T00:00:00.000Z', updated_at: '2026-01-01T00:00:00.000Z' });

describe('replica offline', () => {
  it('writes apply locally and queue; sync fails with OfflineError and keeps them; the cache holds only ciphertext', async () => {
    const api = new E2eApi({ baseUrl: `http://127.0.0.1:${await deadPort()}`, token: 'ane_' + 'x'.repeat(43) });
    const cache = new MemoryReplicaCache();
    const dataKey = generateDataKey();
    const replica = await Replica.open({ api, userId, dataKey, cache });
    const [id] = await replica.put(memory('m1', 'the launch code is tulip'));
    const [ada] = await replica.put({ kind: 'entity', name: 'Ada Lovelace', entityType: 'person', observations: ['wrote the first program'] });
    assert.equal(id, 'm1');
    assert.equal(ada, await replica.entityId('Ada Lovelace'));
    assert.equal(replica.get('m1')?.record.kind, 'memory');
    assert.equal(replica.size, 2);
    assert.equal(replica.pendingCount, 2);

    await assert.rejects(replica.sync(), OfflineError);
    assert.equal(replica.pendingCount, 2);

    const cached = JSON.stringify(await cache.load());
    for (const secret of ['tulip', 'Ada Lovelace', 'first program']) assert.ok(!cached.includes(secret), `the cache holds "${secret}"`);

    // Deleting a record the server never saw just forgets it: nothing to push for it.
    await replica.delete('m1');
    assert.equal(replica.get('m1'), undefined);
    assert.equal(replica.pendingCount, 1);

    // Reopened from the cache (another run of the program), the state is the same.
    const again = await Replica.open({ api, userId, dataKey, cache });
    assert.equal(again.size, 1);
    assert.deepEqual(again.get(ada!)?.record, { kind: 'entity', name: 'Ada Lovelace', entityType: 'person', observations: ['wrote the first program'] });
  });

  it('a cache opened with another account\'s key is refused, not read as empty', async () => {
    const api = new E2eApi({ baseUrl: 'http://127.0.0.1:9', token: 'ane_' + 'x'.repeat(43) });
    const cache = new MemoryReplicaCache();
    await (await Replica.open({ api, userId, dataKey: generateDataKey(), cache })).put(memory('m1', 'x'));
    await assert.rejects(Replica.open({ api, userId, dataKey: generateDataKey(), cache }), (error: unknown) => error instanceof IntegrityError && error.failure === 'tampered' && error.recordId === 'm1');
  });
});
