// The real server process killed with SIGKILL (no shutdown handler runs) in
// the middle of the three big multi-record changes — key rotation confirm over
// thousands of records, a large import, account deletion — then restarted on
// the same data. Whatever instant the kill lands on, the user's data is
// intact and readable with exactly one key: the old one or the new one, never
// both or neither, and every stored token opens under that key. The kill
// instants are spread over the measured duration of each request.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { fernetDecrypt } from '../../src/crypto/fernet.ts';
import { deriveDataKey, FORMAT_VERSION } from '../../src/crypto/keys.ts';
import { JSON_EXPORT_FORMAT } from '../../src/vault/transfer.ts';
import { postgresAvailableForTests, postgresTestUrl, randomSchemaName } from '../helpers/postgres.ts';
import { bearer, killAllServers, request, type Answer, type RemoteUser, type ServerProcess, signUpRemote, startServer } from '../fixtures/server-process.ts';

// Past 1 too: right after a restart the process is slower than when the duration was measured.
const FRACTIONS = [0.1, 0.4, 0.7, 1, 1.3, 1.8];
const SEED_ENTITIES = 2500;
const SEED_MEMORIES = 1000;

type Query = (sql: string, params?: unknown[]) => Promise<Array<Record<string, unknown>>>;

interface Target {
  env: Record<string, string>;
  query: Query;
  cleanup(): Promise<void>;
}

async function sqliteTarget(): Promise<Target> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'anamnesis-kill-'));
  return {
    env: { ANAMNESIS_DATA_DIR: dir },
    // A fresh connection per query: the server process may be killed and restarted between two.
    async query(sql, params = []) {
      const db = new Database(path.join(dir, 'anamnesis.db'), { readonly: true });
      try {
        return db.prepare(sql).all(...params) as Array<Record<string, unknown>>;
      } finally {
        db.close();
      }
    },
    async cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgresTarget(): Promise<Target> {
  const schema = randomSchemaName();
  const client = new pg.Client({ connectionString: postgresTestUrl() });
  await client.connect();
  await client.query(`CREATE SCHEMA "${schema}"`);
  return {
    env: { DATABASE_URL: `${postgresTestUrl()}?options=${encodeURIComponent(`-c search_path=${schema}`)}` },
    async query(sql, params = []) {
      let n = 0;
      return (await client.query(sql.replace(/\?/g, () => `$${++n}`).replace(/\bFROM (\w+)/g, `FROM "${schema}".$1`), params)).rows;
    },
    async cleanup() {
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends a request, SIGKILLs the server `delayMs` later, and says whether the answer had come back first. */
async function killDuring(server: ServerProcess, send: () => Promise<Answer>, delayMs: number): Promise<'answered first' | 'killed mid-request'> {
  let answered = false;
  const pending = send().then((answer) => {
    answered = answer.status < 500;
    return answer;
  }, () => null);
  await sleep(delayMs);
  const before = answered;
  await server.kill();
  await pending;
  return before ? 'answered first' : 'killed mid-request';
}

async function seed(server: ServerProcess, user: RemoteUser, label: string): Promise<void> {
  const now = Date.now();
  const body = {
    format: JSON_EXPORT_FORMAT,
    version: FORMAT_VERSION,
    memories: Array.from({ length: SEED_MEMORIES }, (_, i) => ({ id: crypto.randomUUID(), content: `${label} memory ${i} about lighthouses`, tags: ['seed'], created_at: new Date(now - 100_000 + i).toISOString(), updated_at: new Date(now - 100_000 + i).toISOString() })),
    entities: Array.from({ length: SEED_ENTITIES }, (_, i) => ({ name: `${label} keeper ${i}`, entityType: 'person', observations: [`tends lamp ${i}`] })),
    relations: Array.from({ length: 200 }, (_, i) => ({ from: `${label} keeper ${i}`, to: `${label} keeper ${i + 1}`, relationType: 'relieves' })),
  };
  const answer = await request(server.url, { method: 'POST', path: '/api/v1/import?format=json', headers: bearer(user.apiKey), body });
  assert.equal(answer.status, 200, answer.body);
}

/** Which of the keys opens the account now (GET /api/v1/accounts/current). */
async function keysThatOpen(server: ServerProcess, keys: string[]): Promise<string[]> {
  const open: string[] = [];
  for (const key of keys) {
    const answer = await request(server.url, { path: '/api/v1/accounts/current', headers: bearer(key) });
    assert.ok(answer.status === 200 || answer.status === 401, `${answer.status} ${answer.body}`);
    if (answer.status === 200) open.push(key);
  }
  return open;
}

/** Every stored token of the user opens under K of this key; the export reads every record. */
async function assertAllReadable(target: Target, server: ServerProcess, userId: string, apiKey: string, expected: { memories: number; entities: number }): Promise<void> {
  const rows = await target.query('SELECT id, kind, token FROM records WHERE user_id = ?', [userId]);
  const key = deriveDataKey(apiKey, userId);
  for (const row of rows) assert.doesNotThrow(() => fernetDecrypt(key, String(row.token)), `${String(row.kind)} ${String(row.id)} does not open under the one working key`);
  const exported = (await request(server.url, { path: '/api/v1/export?format=json', headers: bearer(apiKey) })).json();
  assert.deepEqual(exported.unreadable, []);
  assert.equal(exported.memories.length, expected.memories);
  assert.equal(exported.entities.length, expected.entities);
  // The search indexes agree with the records.
  assert.equal((await request(server.url, { path: '/api/v1/memories/search?q=lighthouses&limit=50', headers: bearer(apiKey) })).json().results.length, Math.min(50, expected.memories));
}

/** How long a request takes on this machine, so the kills can be spread over it. */
async function measure(send: () => Promise<Answer>): Promise<number> {
  const started = performance.now();
  const answer = await send();
  assert.ok(answer.status < 300, answer.body);
  return performance.now() - started;
}

const drivers: Array<['sqlite' | 'postgres', () => Promise<Target>]> = [['sqlite', sqliteTarget]];
if (await postgresAvailableForTests('faults: SIGKILL during writes on PostgreSQL')) drivers.push(['postgres', postgresTarget]);

for (const [driver, makeTarget] of drivers) {
  describe(`SIGKILL during the big multi-record changes (${driver})`, () => {
    let target: Target;
    let server: ServerProcess;
    const restart = async () => {
      server = await startServer({ env: { ...target.env, ANAMNESIS_RATE_LIMIT_FACTOR: '0' } });
    };

    before(async () => {
      target = await makeTarget();
      await restart();
    });
    after(async () => {
      await killAllServers();
      await target.cleanup();
    });

    it(`key rotation confirm over ${SEED_MEMORIES + SEED_ENTITIES + 200} records: afterwards exactly one key opens the account, and every record opens under it`, async (t) => {
      const user = await signUpRemote(server.url, 'rotate');
      await seed(server, user, 'rotate');
      let current = user.apiKey;
      const rotate = async () => (await request(server.url, { method: 'POST', path: '/api/v1/keys/rotate', headers: bearer(current) })).json().api_key as string;
      const calibration = await rotate();
      const duration = await measure(() => request(server.url, { method: 'POST', path: '/api/v1/keys/rotate/confirm', headers: bearer(calibration) }));
      current = calibration;
      const outcomes: string[] = [];
      for (const fraction of FRACTIONS) {
        const pending = await rotate();
        const when = await killDuring(server, () => request(server.url, { method: 'POST', path: '/api/v1/keys/rotate/confirm', headers: bearer(pending) }), duration * fraction);
        await restart();
        const open = await keysThatOpen(server, [current, pending]);
        assert.equal(open.length, 1, `after a kill at ${Math.round(duration * fraction)} ms, ${open.length} keys open the account`);
        outcomes.push(`${Math.round(duration * fraction)} ms: ${when}, ${open[0] === pending ? 'new key' : 'old key'}`);
        current = open[0]!;
        await assertAllReadable(target, server, user.userId, current, { memories: SEED_MEMORIES, entities: SEED_ENTITIES });
      }
      t.diagnostic(`confirm took ${Math.round(duration)} ms; kills: ${outcomes.join('; ')}`);
    });

    it(`a large import (${SEED_ENTITIES} entities, ${SEED_MEMORIES} memories): after the kill it is there whole or not at all`, async (t) => {
      const user = await signUpRemote(server.url, 'import');
      const calibrationUser = await signUpRemote(server.url, 'import-calibration');
      const duration = await measure(async () => {
        await seed(server, calibrationUser, 'calibration');
        return { status: 200 } as Answer;
      });
      let expected = { memories: 0, entities: 0 };
      const outcomes: string[] = [];
      for (const [i, fraction] of FRACTIONS.entries()) {
        const when = await killDuring(server, async () => {
          await seed(server, user, `attempt${i}`);
          return { status: 200 } as Answer;
        }, duration * fraction);
        await restart();
        const count = (await request(server.url, { path: '/api/v1/export?format=json', headers: bearer(user.apiKey) })).json();
        const landed = count.entities.length === expected.entities + SEED_ENTITIES;
        assert.ok(landed || count.entities.length === expected.entities, `${count.entities.length} entities after a kill: a partial import`);
        if (landed) expected = { memories: expected.memories + SEED_MEMORIES, entities: expected.entities + SEED_ENTITIES };
        assert.equal(count.memories.length, expected.memories, 'memories and entities of one import land together');
        outcomes.push(`${Math.round(duration * fraction)} ms: ${when}, ${landed ? 'imported' : 'not imported'}`);
        assert.deepEqual(await keysThatOpen(server, [user.apiKey]), [user.apiKey]);
        if (expected.memories > 0) await assertAllReadable(target, server, user.userId, user.apiKey, expected);
      }
      t.diagnostic(`import took ${Math.round(duration)} ms; kills: ${outcomes.join('; ')}`);
    });

    it('remembers killed while their index deltas merge: every stored memory is found, none twice', async (t) => {
      const user = await signUpRemote(server.url, 'merge');
      // 40 writers at once: the index merges after every 32 deltas, so the kills land in and around merges.
      const burst = (round: number) => Promise.all(Array.from({ length: 40 }, (_, i) =>
        request(server.url, { method: 'POST', path: '/api/v1/memories', headers: bearer(user.apiKey), body: { content: `merge round ${round} note ${i} about lighthouses`, tags: [`round${round}`] } }).catch(() => null)));
      const duration = await measure(async () => {
        await burst(-1);
        return { status: 200 } as Answer;
      });
      const outcomes: string[] = [];
      for (const [round, fraction] of FRACTIONS.entries()) {
        const when = await killDuring(server, async () => {
          await burst(round);
          return { status: 200 } as Answer;
        }, duration * fraction);
        await restart();
        const stored = (await request(server.url, { path: '/api/v1/export?format=json', headers: bearer(user.apiKey) })).json().memories as Array<{ id: string; tags: string[] }>;
        // Each round's memories (at most 40, within one search's limit of 50) by their tag.
        for (let r = -1; r <= round; r++) {
          const found = (await request(server.url, { path: `/api/v1/memories/search?q=lighthouses&limit=50&tag=round${r}`, headers: bearer(user.apiKey) })).json();
          assert.deepEqual(found.unreadable, []);
          assert.deepEqual(
            found.results.map((hit: { memory: { id: string } }) => hit.memory.id).sort(),
            stored.filter((m) => m.tags.includes(`round${r}`)).map((m) => m.id).sort(),
            `after a kill at ${Math.round(duration * fraction)} ms the index holds exactly the stored memories of round ${r}`,
          );
        }
        outcomes.push(`${Math.round(duration * fraction)} ms: ${when}, ${stored.length} stored`);
      }
      t.diagnostic(`a burst took ${Math.round(duration)} ms; kills: ${outcomes.join('; ')}`);
    });

    it('account deletion: after the kill the account is there whole (key, password, every record) or gone without a trace', async (t) => {
      const del = (user: RemoteUser) => request(server.url, { method: 'DELETE', path: '/api/v1/accounts/current', headers: { cookie: user.cookie, origin: server.url }, body: { password: user.password } });
      const calibrationUser = await signUpRemote(server.url, 'delete-calibration');
      await seed(server, calibrationUser, 'calibration-delete');
      const duration = await measure(() => del(calibrationUser));
      const outcomes: string[] = [];
      for (const [i, fraction] of FRACTIONS.entries()) {
        const user = await signUpRemote(server.url, `delete${i}`);
        await seed(server, user, `delete${i}`);
        const when = await killDuring(server, () => del(user), duration * fraction);
        await restart();
        const rows = (await target.query('SELECT COUNT(*) AS n FROM records WHERE user_id = ?', [user.userId]))[0]!.n;
        const userRows = (await target.query('SELECT COUNT(*) AS n FROM users WHERE id = ?', [user.userId]))[0]!.n;
        const login = await request(server.url, { method: 'POST', path: '/api/v1/sessions', body: { email: user.email, password: user.password } });
        if (Number(userRows) === 0) {
          assert.equal(Number(rows), 0, 'records left behind by a deleted account');
          for (const table of ['sessions', 'audit']) assert.equal(Number((await target.query(`SELECT COUNT(*) AS n FROM ${table} WHERE user_id = ?`, [user.userId]))[0]!.n), 0, table);
          assert.deepEqual(await keysThatOpen(server, [user.apiKey]), []);
          assert.equal(login.status, 401);
          outcomes.push(`${Math.round(duration * fraction)} ms: ${when}, deleted`);
        } else {
          assert.equal(login.status, 200);
          assert.deepEqual(await keysThatOpen(server, [user.apiKey]), [user.apiKey]);
          await assertAllReadable(target, server, user.userId, user.apiKey, { memories: SEED_MEMORIES, entities: SEED_ENTITIES });
          outcomes.push(`${Math.round(duration * fraction)} ms: ${when}, intact`);
        }
      }
      t.diagnostic(`deletion took ${Math.round(duration)} ms; kills: ${outcomes.join('; ')}`);
    });
  });
}
