// PostgreSQL stopped and started again under load. A private throwaway
// cluster (initdb in a temporary folder, its own port and socket) is used so
// the machine's main server, which other tests share, is never touched.
// While it is down every request is answered at once with 503 `unavailable`
// (none hangs: each has a 30 s client deadline, and none reaches it); when it
// is back the service recovers on its own, and every write acknowledged at any
// point reads back.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bearer, freePort, killAllServers, request, type RemoteUser, type ServerProcess, signUpRemote, startServer } from '../fixtures/server-process.ts';

const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs a PostgreSQL tool as the `postgres` OS user when we are root (initdb refuses root). */
function asPostgres(tool: string, args: string[]): void {
  const [command, argv] = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', path.join(PG_BIN, tool), ...args]] : [path.join(PG_BIN, tool), args];
  execFileSync(command, argv, { stdio: 'pipe' });
}

function clusterToolsAvailable(): boolean {
  const ok = existsSync(path.join(PG_BIN, 'initdb')) && (process.getuid?.() !== 0 || spawnSync('id', ['postgres']).status === 0);
  if (ok) return true;
  const why = `no ${PG_BIN}/initdb (or no postgres OS user); set PG_BIN`;
  if (process.env.CI) it('faults: a private PostgreSQL cluster can be made (mandatory in CI)', () => assert.fail(why));
  else {
    process.stderr.write(`\n${'!'.repeat(78)}\n!!! PostgreSQL RESTART NOT TESTED: ${why}\n${'!'.repeat(78)}\n\n`);
    it.skip('faults: PostgreSQL restart NOT TESTED (no initdb)');
  }
  return false;
}

interface Outcome {
  phase: 'up' | 'down' | 'back';
  status: number;
  code?: string;
  ms: number;
  failure?: string;
}

if (clusterToolsAvailable()) {
  describe('PostgreSQL stopped and restarted under load', () => {
    let dir: string;
    let port: number;
    let server: ServerProcess;
    let users: RemoteUser[];
    const pgCtl = (action: 'start' | 'stop') =>
      asPostgres('pg_ctl', ['-D', path.join(dir, 'data'), '-l', path.join(dir, 'log'), '-w', ...(action === 'start' ? ['-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`] : ['-m', 'fast']), action]);

    before(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'anamnesis-pgcluster-'));
      if (process.getuid?.() === 0) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString()), Number(execFileSync('id', ['-g', 'postgres']).toString()));
      port = await freePort();
      asPostgres('initdb', ['-D', path.join(dir, 'data'), '-U', 'postgres', '--auth=trust', '--no-sync']);
      pgCtl('start');
      server = await startServer({ env: { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/postgres`, ANAMNESIS_RATE_LIMIT_FACTOR: '0' } });
      users = [];
      for (let i = 0; i < 4; i++) users.push(await signUpRemote(server.url, `pgrestart${i}`));
    });
    after(async () => {
      await killAllServers();
      try {
        pgCtl('stop');
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    });

    it('answers 503 unavailable while it is down (no hang, no other 5xx), recovers by itself, and loses no acknowledged write', async (t) => {
      let phase: Outcome['phase'] = 'up';
      let stop = false;
      const outcomes: Outcome[] = [];
      const acknowledged: Array<{ user: RemoteUser; id: string; content: string }> = [];
      const worker = async (w: number) => {
        for (let i = 0; !stop; i++) {
          const user = users[w % users.length]!;
          const content = `worker ${w} write ${i}`;
          const sentIn = phase;
          const started = performance.now();
          try {
            const answer = await request(server.url, { method: 'POST', path: '/api/v1/memories', headers: bearer(user.apiKey), body: { content }, timeoutMs: 30_000 });
            const ms = performance.now() - started;
            if (answer.status === 201) acknowledged.push({ user, id: answer.json().id, content });
            outcomes.push({ phase: sentIn, status: answer.status, ms, ...(answer.status >= 400 ? { code: answer.json().error?.code } : {}) });
            if (answer.status !== 201) await sleep(20);
            else if (i % 3 === 0) {
              const read = await request(server.url, { path: '/api/v1/memories/search?q=worker&limit=5', headers: bearer(user.apiKey), timeoutMs: 30_000 });
              outcomes.push({ phase: sentIn, status: read.status, ms: performance.now() - started, ...(read.status >= 400 ? { code: read.json().error?.code } : {}) });
            }
          } catch (error) {
            outcomes.push({ phase: sentIn, status: 0, ms: performance.now() - started, failure: (error as Error).message });
          }
        }
      };
      const until = async (condition: () => boolean) => {
        for (let i = 0; i < 3000 && !condition(); i++) await sleep(10);
        assert.ok(condition(), 'the load never reached the expected state');
      };
      const workers = Array.from({ length: 12 }, (_, w) => worker(w));
      await until(() => acknowledged.length >= 100);
      pgCtl('stop');
      phase = 'down';
      await until(() => outcomes.filter((o) => o.phase === 'down' && o.status === 503).length >= 50);
      pgCtl('start');
      phase = 'back';
      const ackedBeforeBack = acknowledged.length;
      await until(() => acknowledged.length >= ackedBeforeBack + 100);
      stop = true;
      await Promise.all(workers);

      assert.deepEqual(outcomes.filter((o) => o.status === 0), [], 'a request failed without an answer (hang or dropped connection)');
      const unexpected = outcomes.filter((o) => ![200, 201, 503].includes(o.status) || (o.status === 503 && o.code !== 'unavailable'));
      assert.deepEqual(unexpected, [], 'only successes and 503 unavailable');
      const down = outcomes.filter((o) => o.phase === 'down');
      assert.ok(down.filter((o) => o.status === 503).length >= 50);
      assert.equal(server.child.exitCode, null, 'the server process kept running');

      for (const { user, id, content } of acknowledged) {
        const read = await request(server.url, { path: `/api/v1/memories/${id}`, headers: bearer(user.apiKey) });
        assert.equal(read.status, 200, `acknowledged write ${id} is gone`);
        assert.equal(read.json().content, content);
      }
      const slowest = Math.max(...down.map((o) => o.ms));
      t.diagnostic(`${outcomes.length} requests: ${outcomes.filter((o) => o.status < 300).length} ok, ${outcomes.filter((o) => o.status === 503).length} answered 503 unavailable; slowest answer while down ${Math.round(slowest)} ms; ${acknowledged.length} acknowledged writes all read back`);
    });
  });
}
