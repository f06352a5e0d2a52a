// One behavioural contract for every ReplicaCache (src/e2e-client/cache.ts):
// the in-memory reference here, SQLite in the local MCP server, IndexedDB in
// the browser. Each test gets a fresh, empty cache from `open`; `reopen`
// reads the same storage as a new run of the program would.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { E2eApi } from '../../src/e2e-client/api.ts';
import type { ReplicaCache } from '../../src/e2e-client/cache.ts';
import { generateDataKey } from '../../src/e2e-client/keys.ts';
import { Replica } from '../../src/e2e-client/replica.ts';

export interface OpenedCache {
  cache: ReplicaCache;
  /** The same storage, opened again (a restart). */
  reopen(): Promise<ReplicaCache>;
  close(): Promise<void>;
}

const token = (n: number) => `gAAAAA${String(n).padStart(4, '0')}${'A'.repeat(90)}==`;
const row = (id: string, version: number, seq: number) => ({ id, version, seq, token: token(seq) });
const write = (id: string, base: number) => ({ id, base_version: base, version: base + 1, token: token(1000 + base) });
const byId = <T extends { id: string }>(items: T[]) => [...items].sort((a, b) => a.id.localeCompare(b.id));

export function replicaCacheConformance(name: string, open: () => Promise<OpenedCache>): void {
  describe(`ReplicaCache conformance: ${name}`, () => {
    let opened: OpenedCache;
    beforeEach(async () => {
      opened = await open();
    });
    afterEach(() => opened.close());

    it('starts empty at cursor 0', async () => {
      assert.deepEqual(await opened.cache.load(), { cursor: 0, rows: [], pending: [] });
    });

    it('upserts rows and pending writes by id, and keeps the cursor, across a restart', async () => {
      const { cache } = opened;
      await cache.apply({ rows: [row('a', 1, 1), row('b', 1, 2)], cursor: 2, putPending: [write('c', 0)] });
      await cache.apply({ rows: [row('a', 2, 3)], cursor: 3, putPending: [write('c', 0), write('a', 2)] });
      for (const c of [cache, await opened.reopen()]) {
        const snapshot = await c.load();
        assert.equal(snapshot.cursor, 3);
        assert.deepEqual(byId(snapshot.rows), [row('a', 2, 3), row('b', 1, 2)]);
        assert.deepEqual(byId(snapshot.pending), [write('a', 2), write('c', 0)]);
      }
    });

    it('removes rows and pending writes by id, and resetRows drops every row but no pending write', async () => {
      const { cache } = opened;
      await cache.apply({ rows: [row('a', 1, 1), row('b', 1, 2), row('c', 1, 3)], putPending: [write('x', 0), write('y', 0)], cursor: 3 });
      await cache.apply({ removeRows: ['b', 'nope'], removePending: ['x', 'nope'] });
      let snapshot = await cache.load();
      assert.deepEqual(byId(snapshot.rows), [row('a', 1, 1), row('c', 1, 3)]);
      assert.deepEqual(snapshot.pending, [write('y', 0)]);
      await cache.apply({ resetRows: true, rows: [row('c', 2, 9)], cursor: 9 });
      snapshot = await (await opened.reopen()).load();
      assert.deepEqual(snapshot, { cursor: 9, rows: [row('c', 2, 9)], pending: [write('y', 0)] });
    });

    it('applies one change in order: reset, removed rows, rows; removed pending writes, then new ones', async () => {
      const { cache } = opened;
      await cache.apply({ rows: [row('a', 1, 1)], putPending: [write('p', 0)] });
      await cache.apply({ resetRows: true, removeRows: ['a'], rows: [row('a', 2, 2)], removePending: ['p'], putPending: [write('p', 1)] });
      const snapshot = await cache.load();
      assert.deepEqual(snapshot.rows, [row('a', 2, 2)]);
      assert.deepEqual(snapshot.pending, [write('p', 1)]);
    });

    it('hands out copies: changing a loaded snapshot changes nothing stored', async () => {
      const { cache } = opened;
      await cache.apply({ rows: [row('a', 1, 1)], putPending: [write('p', 0)] });
      const snapshot = await cache.load();
      snapshot.rows[0]!.version = 99;
      snapshot.pending[0]!.token = 'changed';
      assert.deepEqual(await cache.load(), { cursor: 0, rows: [row('a', 1, 1)], pending: [write('p', 0)] });
    });

    it('a replica written offline over this cache reopens with the same records after a restart', async () => {
      const api = new E2eApi({ baseUrl: 'http://127.0.0.1:9', token: 'ane_' + 'x'.repeat(43) });
      const dataKey = generateDataKey();
      const userId = '8c0e2f4a-1b3c-4d5e-8f60-718293a4b5c6';
      const replica = await Replica.open({ api, userId, dataKey, cache: opened.cache });
      const [m] = await replica.put({ kind: 'memory', id: replica.newMemoryId(), content: 'offline note', tags: ['t'], created_at: '2026-03-01T09:00:00.000Z', updated_at: '2026-03-01T09:00:00.000Z' });
      await replica.put({ kind: 'entity', name: 'Ada', entityType: 'person', observations: ['one'] });
      await replica.delete(m!);
      await replica.put({ kind: 'memory', id: m!, content: 'offline note, back', tags: [], created_at: '2026-03-01T09:00:00.000Z', updated_at: '2026-03-01T09:05:00.000Z' });
      const again = await Replica.open({ api, userId, dataKey, cache: await opened.reopen() });
      assert.deepEqual([...again.records()].sort(([a], [b]) => a.localeCompare(b)), [...replica.records()].sort(([a], [b]) => a.localeCompare(b)));
      assert.equal(again.pendingCount, 2);
    });
  });
}
