// Two devices of one account editing offline, then syncing through the real
// server (both drivers): they converge and nothing either wrote is lost. And
// a server that drops, rolls back or swaps a row is caught by the client,
// never accepted quietly (the rows are edited directly in the database).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { logIn, signUp } from '../../src/e2e-client/account.ts';
import { E2eApi, OfflineError } from '../../src/e2e-client/api.ts';
import { MemoryReplicaCache } from '../../src/e2e-client/cache.ts';
import { CONFLICT_TAG } from '../../src/e2e-client/conflicts.ts';
import type { UserRecord } from '../../src/e2e-client/envelope.ts';
import { IntegrityError, Replica } from '../../src/e2e-client/replica.ts';
import type { MemoryRecord } from '../../src/vault/records.ts';
import { testDrivers } from '../http/support.ts';
import { PASSWORD, device, newEmail, serve, type Served } from './with-server.ts';

const at = (minute: number) => new Date(Date.UTC(2026, 2, 1, 9, minute)).toISOString();
const memory = (id: string, content: string, minute: number, tags: string[] = []): MemoryRecord => ({ kind: 'memory', id, content, tags, created_at: at(0), updated_at: at(minute) });

function snapshot(replica: Replica): Array<[string, UserRecord]> {
  return [...replica.records()].map(([id, r]): [string, UserRecord] => [id, r.record]).sort(([a], [b]) => a.localeCompare(b));
}

function failure(kind: IntegrityError['failure']) {
  return (error: unknown) => error instanceof IntegrityError && error.failure === kind;
}

for (const driver of await testDrivers('end-to-end client core sync')) {
  describe(`client core sync against the real server (${driver})`, () => {
    let s: Served;
    before(async () => {
      s = await serve(driver);
    });
    after(() => s.close());

    async function lastSeq(userId: string): Promise<number> {
      const [row] = await s.db.query('SELECT MAX(seq) AS top FROM e2e_records WHERE user_id = ?', [userId]);
      return Number(row!.top);
    }

    /** An account with two devices, both synced. */
    async function twoDevices(): Promise<{ userId: string; a: Replica; b: Replica; email: string }> {
      const email = newEmail();
      const account = await signUp(s.api, { email, password: PASSWORD });
      const second = await logIn(s.api, { email, password: PASSWORD });
      return { userId: account.userId, email, a: await device(s.api, account), b: await device(s.api, second) };
    }

    it('two devices editing the same memory, entity and relations offline converge with nothing lost', async () => {
      const { a, b } = await twoDevices();
      const shared = a.newMemoryId();
      const doomed = a.newMemoryId();
      await a.put(
        memory(shared, 'meeting on Tuesday', 1, ['work']),
        memory(doomed, 'call the plumber', 1),
        { kind: 'entity', name: 'Ada Lovelace', entityType: 'person', observations: ['born 1815'] },
        { kind: 'relation', from: 'Ada Lovelace', to: 'Babbage', relationType: 'worked with' },
      );
      await a.sync();
      await b.sync();
      assert.deepEqual(snapshot(b), snapshot(a));

      // Offline on both devices.
      const ada = await a.entityId('Ada Lovelace');
      await a.put(memory(shared, 'meeting moved to Wednesday', 5, ['work']));
      await b.put(memory(shared, 'meeting on Tuesday, bring slides', 3, ['work', 'slides']));
      await a.put({ kind: 'entity', name: 'Ada Lovelace', entityType: 'person', observations: ['born 1815', 'wrote the first program'] });
      await b.put({ kind: 'entity', name: 'Ada Lovelace', entityType: 'mathematician', observations: ['born 1815', 'daughter of Byron'] });
      await a.delete(doomed);
      await b.put(memory(doomed, 'call the plumber about the boiler', 4));
      await a.delete(await a.relationId('Ada Lovelace', 'Babbage', 'worked with'));
      // Both create the same new entity and relation, and one memory each.
      await a.put({ kind: 'entity', name: 'Charles Babbage', entityType: 'person', observations: ['built engines'] });
      await b.put({ kind: 'entity', name: 'Charles Babbage', entityType: 'inventor', observations: ['designed the Difference Engine'] });
      await a.put({ kind: 'relation', from: 'Charles Babbage', to: 'Ada Lovelace', relationType: 'corresponded with' });
      await b.put({ kind: 'relation', from: 'Charles Babbage', to: 'Ada Lovelace', relationType: 'corresponded with' });
      const onlyA = a.newMemoryId();
      const onlyB = b.newMemoryId();
      await a.put(memory(onlyA, 'written on the laptop', 6));
      await b.put(memory(onlyB, 'written on the phone', 6));

      await a.sync();
      const merge = await b.sync();
      await a.sync();
      assert.ok(merge.merged.length >= 4, `merged ${merge.merged.join(', ')}`);
      // What changed on b is reported, so a search index can refresh: the merged entity, the kept edit, the new copy.
      for (const id of [ada, doomed, shared, merge.conflictCopies[0]!, await b.entityId('Charles Babbage'), onlyA]) assert.ok(merge.changed.includes(id), `b reports ${id} changed`);
      assert.ok(!merge.changed.includes(onlyB), 'b\'s own new memory did not change by syncing');
      assert.equal(merge.conflictCopies.length, 1);
      assert.equal(a.pendingCount + b.pendingCount, 0);
      assert.deepEqual(snapshot(a), snapshot(b), 'the two devices hold the same records');

      // The later memory edit stays in place; the other side is a new memory tagged conflict.
      assert.equal((a.get(shared)?.record as MemoryRecord).content, 'meeting moved to Wednesday');
      const copy = a.get(merge.conflictCopies[0]!)?.record as MemoryRecord;
      assert.equal(copy.content, 'meeting on Tuesday, bring slides');
      assert.deepEqual(copy.tags, ['work', 'slides', CONFLICT_TAG]);
      // Edit beats delete.
      assert.equal((a.get(doomed)?.record as MemoryRecord).content, 'call the plumber about the boiler');
      // Entities merge: every observation, in order, and the type of the later arrival.
      assert.deepEqual(a.get(ada)?.record, { kind: 'entity', name: 'Ada Lovelace', entityType: 'mathematician', observations: ['born 1815', 'wrote the first program', 'daughter of Byron'] });
      assert.deepEqual(a.get(await a.entityId('Charles Babbage'))?.record, { kind: 'entity', name: 'Charles Babbage', entityType: 'inventor', observations: ['built engines', 'designed the Difference Engine'] });
      // Relations: the one both made is there once; the deleted one is gone (nobody else edited it).
      assert.ok(a.get(await a.relationId('Charles Babbage', 'Ada Lovelace', 'corresponded with')));
      assert.equal(a.get(await a.relationId('Ada Lovelace', 'Babbage', 'worked with')), undefined);
      // Both new memories.
      assert.ok(a.get(onlyA) && a.get(onlyB));
      // A third device starting from nothing sees exactly the same, and the manifest vouches for it.
      const third = await device(s.api, await logIn(s.api, { email: (await s.db.query('SELECT email FROM users WHERE id = ?', [a.userId]))[0]!.email as string, password: PASSWORD }));
      await third.sync();
      assert.deepEqual(snapshot(third), snapshot(a));
    });

    it('a write that lands between this device\'s pull and push (409) is merged and pushed again, and a device\'s own writes are not pulled back', async () => {
      const email = newEmail();
      const account = await signUp(s.api, { email, password: PASSWORD });
      const a = await device(s.api, account);
      const shared = a.newMemoryId();
      await a.put(memory(shared, 'draft', 1), { kind: 'entity', name: 'Project', entityType: 'plan', observations: ['start'] });
      await a.sync();
      assert.equal((await a.sync()).pulled, 0, 'a device does not pull back what it pushed');

      // Device b, whose first push is preceded by a's write: the server answers 409 to b.
      const session = await logIn(s.api, { email, password: PASSWORD });
      let raced = false;
      const racing: typeof fetch = async (input, init) => {
        if (!raced && init?.method === 'POST' && String(input).endsWith('/api/v1/e2e/changes')) {
          raced = true;
          await a.put(memory(shared, 'final text from a', 9), { kind: 'entity', name: 'Project', entityType: 'plan', observations: ['start', 'from a'] });
          await a.sync();
        }
        return fetch(input, init);
      };
      const b = await Replica.open({ api: new E2eApi({ baseUrl: s.api.baseUrl, token: session.token, fetch: racing }), userId: session.userId, dataKey: session.dataKey, cache: new MemoryReplicaCache() });
      await b.sync();
      await b.put(memory(shared, 'text from b', 5), { kind: 'entity', name: 'Project', entityType: 'plan', observations: ['start', 'from b'] });
      const report = await b.sync();
      assert.equal(raced, true);
      assert.equal(report.conflictCopies.length, 1);
      await a.sync();
      assert.deepEqual(snapshot(a), snapshot(b));
      assert.equal((a.get(shared)?.record as MemoryRecord).content, 'final text from a');
      assert.equal((a.get(report.conflictCopies[0]!)?.record as MemoryRecord).content, 'text from b');
      assert.deepEqual((a.get(await a.entityId('Project'))?.record as { observations: string[] }).observations, ['start', 'from a', 'from b']);
    });

    it('writes made with the server out of reach apply at once, survive a restart in the cache, and reach the other device at the next sync', async () => {
      const { b, userId, email } = await twoDevices();
      const laptop = await logIn(s.api, { email, password: PASSWORD });
      const cache = new MemoryReplicaCache();
      const unreachable = new E2eApi({ baseUrl: 'http://127.0.0.1:9', token: laptop.token });
      const offline = await Replica.open({ api: unreachable, userId, dataKey: laptop.dataKey, cache });
      const [id] = await offline.put(memory(offline.newMemoryId(), 'written on the train', 3));
      assert.equal((offline.get(id!)?.record as MemoryRecord).content, 'written on the train');
      await assert.rejects(offline.sync(), OfflineError);
      // Back online, a later run of the program opens the same cache and syncs.
      const online = await Replica.open({ api: s.api.withToken(laptop.token), userId, dataKey: laptop.dataKey, cache });
      assert.equal(online.pendingCount, 1);
      assert.equal((await online.sync()).pushed, 1);
      await b.sync();
      assert.equal((b.get(id!)?.record as MemoryRecord).content, 'written on the train');
    });

    it('a relation deleted on one device and kept on the other stays; a memory deleted on both is gone', async () => {
      const { a, b } = await twoDevices();
      const m = a.newMemoryId();
      await a.put({ kind: 'relation', from: 'x', to: 'y', relationType: 'r' }, memory(m, 'old note', 1));
      await a.sync();
      await b.sync();
      const rel = await a.relationId('x', 'y', 'r');
      await a.delete(rel, m);
      await b.delete(m);
      await b.put({ kind: 'relation', from: 'x', to: 'y', relationType: 'r' }); // still there on b: b re-asserts it
      await a.sync();
      await b.sync();
      await a.sync();
      assert.deepEqual(snapshot(a), snapshot(b));
      assert.equal(a.get(m), undefined);
      assert.ok(a.get(rel), 'the relation b re-asserted is present');
    });

    it('a device offline through many writes catches up page by page, and its cache survives a restart', async () => {
      const email = newEmail();
      const account = await signUp(s.api, { email, password: PASSWORD });
      const a = await device(s.api, account);
      for (let i = 0; i < 30; i++) await a.put(memory(a.newMemoryId(), `note ${i}`, i));
      await a.sync();
      const session = await logIn(s.api, { email, password: PASSWORD });
      const cache = new MemoryReplicaCache();
      const b = await Replica.open({ api: s.api.withToken(session.token), userId: session.userId, dataKey: session.dataKey, cache, pageSize: 7 });
      const report = await b.sync();
      assert.equal(report.pulled, 31);
      assert.equal(b.size, 30);
      assert.deepEqual(snapshot(b), snapshot(a));
      // The next run of the program opens the same cache: everything is there, and nothing needs pulling.
      const again = await Replica.open({ api: s.api.withToken(session.token), userId: session.userId, dataKey: session.dataKey, cache, pageSize: 7 });
      assert.deepEqual(snapshot(again), snapshot(a));
      assert.equal(again.cursor, b.cursor);
      assert.equal((await again.sync()).pulled, 0);
    });

    it('a row the server dropped is caught: by the manifest on a new device, by an audit, and by a 409 "no such row" to a device that edits it', async () => {
      const { a, b, userId, email } = await twoDevices();
      const ids = await a.put(memory(a.newMemoryId(), 'keep me', 1), memory(a.newMemoryId(), 'and me', 1));
      await a.sync();
      await b.sync();
      await s.db.query('DELETE FROM e2e_records WHERE user_id = ? AND id = ?', [userId, ids[0]]);
      const fresh = await device(s.api, await logIn(s.api, { email, password: PASSWORD }));
      await assert.rejects(fresh.sync(), failure('manifest-mismatch'));
      await assert.rejects(a.sync({ full: true }), failure('manifest-mismatch'));
      // b's incremental feed cannot show a row that is simply gone; its next write to it can.
      await b.put(memory(ids[0]!, 'keep me, edited', 2));
      await assert.rejects(b.sync(), (error: unknown) => error instanceof IntegrityError && error.failure === 'dropped' && error.recordId === ids[0]);
    });

    it('a row rolled back to an older version is caught: by the version check on a device that saw the newer one, by the manifest on a new one', async () => {
      const { a, userId, email } = await twoDevices();
      const [id] = await a.put(memory(a.newMemoryId(), 'version one', 1));
      await a.sync();
      const [v1] = await s.db.query('SELECT version, token FROM e2e_records WHERE user_id = ? AND id = ?', [userId, id]);
      await a.put(memory(id!, 'version two', 2));
      await a.sync();
      // The server puts the old row back, even moving it to the head of the feed so the device is served it.
      const top = await lastSeq(userId);
      await s.db.query('UPDATE e2e_records SET version = ?, token = ?, seq = ? WHERE user_id = ? AND id = ?', [v1!.version, v1!.token, Number(top) + 1, userId, id]);
      await s.db.query('UPDATE e2e_accounts SET last_seq = ? WHERE user_id = ?', [Number(top) + 1, userId]);
      await assert.rejects(a.sync(), failure('rolled-back'));
      const fresh = await device(s.api, await logIn(s.api, { email, password: PASSWORD }));
      await assert.rejects(fresh.sync(), failure('manifest-mismatch'));
    });

    it('a cursor whose tombstones were purged (410) rebuilds the replica from cursor 0, and a deletion it missed is applied', async () => {
      const { a, b, userId } = await twoDevices();
      const [gone, kept] = await a.put(memory(a.newMemoryId(), 'delete me later', 1), memory(a.newMemoryId(), 'keep me', 1));
      await a.sync();
      await b.sync();
      await a.delete(gone!);
      await a.sync();
      // Ninety days later the server purges the tombstone; b never saw it.
      const [tomb] = await s.db.query('SELECT seq FROM e2e_records WHERE user_id = ? AND id = ?', [userId, gone]);
      await s.db.query('DELETE FROM e2e_records WHERE user_id = ? AND id = ?', [userId, gone]);
      await s.db.query('UPDATE e2e_accounts SET purged_through_seq = ? WHERE user_id = ?', [tomb!.seq, userId]);
      const report = await b.sync();
      assert.equal(report.resynced, true);
      assert.ok(report.changed.includes(gone!));
      assert.equal(b.get(gone!), undefined);
      assert.ok(b.get(kept!));
      assert.deepEqual(snapshot(b), snapshot(a));
    });

    it('a server restored from an older backup is caught, not synced back to the past', async () => {
      const { a, userId } = await twoDevices();
      await a.put(memory(a.newMemoryId(), 'before the backup', 1));
      await a.sync();
      const backupSeq = await lastSeq(userId);
      const backup = await s.db.query('SELECT id, seq, version, token, deleted, updated_at FROM e2e_records WHERE user_id = ?', [userId]);
      await a.put(memory(a.newMemoryId(), 'after the backup', 2));
      await a.sync();
      // The restore: every row as it was at the backup (the manifest at its older version), later ones gone.
      await s.db.query('DELETE FROM e2e_records WHERE user_id = ?', [userId]);
      for (const r of backup) {
        await s.db.query('INSERT INTO e2e_records (user_id, id, seq, version, token, deleted, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [userId, r.id, r.seq, r.version, r.token, r.deleted, r.updated_at]);
      }
      await s.db.query('UPDATE e2e_accounts SET last_seq = ? WHERE user_id = ?', [backupSeq, userId]);
      await assert.rejects(a.sync(), failure('rolled-back'));
    });

    it('a token swapped onto another row is refused as tampered', async () => {
      const { a, userId, email } = await twoDevices();
      const [x, y] = await a.put(memory(a.newMemoryId(), 'x', 1), memory(a.newMemoryId(), 'y', 1));
      await a.sync();
      const [rowY] = await s.db.query('SELECT token FROM e2e_records WHERE user_id = ? AND id = ?', [userId, y]);
      await s.db.query('UPDATE e2e_records SET token = ? WHERE user_id = ? AND id = ?', [rowY!.token, userId, x]);
      const fresh = await device(s.api, await logIn(s.api, { email, password: PASSWORD }));
      await assert.rejects(fresh.sync(), (error: unknown) => error instanceof IntegrityError && error.failure === 'tampered' && error.recordId === x);
    });
  });
}
