// SIGTERM on the real server process (src/shutdown.ts), on both drivers. A
// request in flight when the signal lands finishes with its 2xx and its data
// is there after a restart; once shutdown has begun a new connection is
// refused (the listener is closed), an idle keep-alive connection is closed,
// and a request that was still arriving on an open connection gets 503 in the
// JSON error shape; the store is closed (SQLite: no write-ahead log left
// behind) and the process exits 0. A request still open when the grace period
// runs out is cut and the exit code is 3; so is one open when a second signal
// comes, and the store is closed all the same.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { EXIT_CLEAN, EXIT_UNCLEAN } from '../../src/shutdown.ts';
import { sqliteFileIn } from '../../src/storage/open.ts';
import { makeServerSchema, postgresAvailableForTests } from '../helpers/postgres.ts';
import { bearer, holdRequest, killAllServers, request, type RemoteUser, type ServerProcess, signUpRemote, startServer } from '../fixtures/server-process.ts';

/** Stops a hang from stalling the suite; never a measure of speed. */
const HANG_MS = 60_000;

interface Target {
  driver: 'sqlite' | 'postgres';
  env: Record<string, string>;
  /** SQLite only: the database file, to open after the process has gone. */
  sqliteFile?: string;
  cleanup(): Promise<void>;
}

async function sqliteTarget(): Promise<Target> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'anamnesis-shutdown-'));
  return { driver: 'sqlite', env: { ANAMNESIS_DATA_DIR: dir }, sqliteFile: sqliteFileIn(dir), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
}

async function postgresTarget(): Promise<Target> {
  const { databaseUrl, drop } = await makeServerSchema();
  return { driver: 'postgres', env: { DATABASE_URL: databaseUrl }, cleanup: drop };
}

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  const hang = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: nothing after ${HANG_MS} ms`)), HANG_MS).unref());
  return Promise.race([promise, hang]);
}

function logLine(server: ServerProcess, msg: string): Record<string, unknown> {
  const line = server.stdout().split('\n').find((l) => l.includes(`"msg":"${msg}"`));
  assert.ok(line, `no "${msg}" line in:\n${server.stdout()}`);
  return JSON.parse(line);
}

/** After a clean stop the database is one self-contained file: the write-ahead log is gone or empty, and the file checks out. */
function assertSqliteClosedCleanly(file: string): void {
  const wal = `${file}-wal`;
  assert.ok(!existsSync(wal) || statSync(wal).size === 0, `write-ahead log left behind: ${existsSync(wal) ? statSync(wal).size : 0} bytes`);
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  } finally {
    db.close();
  }
}

async function memoryContents(server: ServerProcess, user: RemoteUser): Promise<string[]> {
  const answer = await request(server.url, { path: '/api/v1/memories?limit=100', headers: bearer(user.apiKey) });
  assert.equal(answer.status, 200, answer.body);
  return answer.json<{ items: Array<{ content: string }> }>().items.map((m) => m.content).sort();
}

/** A raw connection that has sent the start of a request and waits for the test to finish it. */
async function startRequestSlowly(port: number, start: string): Promise<{ finish(rest: string): Promise<string> }> {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write(start);
  return {
    async finish(rest) {
      socket.write(rest);
      await within(closed, 'the slow request');
      return received;
    },
  };
}

const targets: Array<[string, () => Promise<Target>]> = [['sqlite', sqliteTarget]];
if (await postgresAvailableForTests('graceful shutdown on PostgreSQL')) targets.push(['postgres', postgresTarget]);

for (const [driver, makeTarget] of targets) {
  describe(`graceful shutdown (${driver})`, () => {
    after(killAllServers);

    it('SIGTERM: the request in flight finishes with 201 and is kept; new connections are refused, a request still arriving gets 503 in the JSON shape; exit 0', async () => {
      const target = await makeTarget();
      try {
        const env = { ...target.env, ANAMNESIS_SHUTDOWN_GRACE_MS: '30000' };
        const server = await startServer({ env });
        const user = await signUpRemote(server.url, 'shutdown');
        assert.equal((await request(server.url, { method: 'POST', path: '/api/v1/memories', headers: bearer(user.apiKey), body: { content: 'written before the signal' } })).status, 201);

        // An idle keep-alive connection, left open after its one request.
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        let idleSocket: net.Socket | undefined;
        await new Promise<void>((resolve, reject) => {
          const req = http.get({ host: '127.0.0.1', port: server.port, path: '/healthz', agent }, (res) => res.resume().on('end', resolve));
          req.on('socket', (socket) => (idleSocket = socket));
          req.on('error', reject);
        });
        const idleClosed = new Promise<void>((resolve) => idleSocket!.once('close', () => resolve()));

        // A request whose first line and some headers are on the wire before the signal, the rest after.
        const arriving = await startRequestSlowly(server.port, `GET /api/v1/memories HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n`);
        // A write whose headers the server has read (it answered 100 Continue); its body is sent after the signal.
        const inFlight = await holdRequest(server.url, { method: 'POST', path: '/api/v1/memories', headers: bearer(user.apiKey), body: { content: 'in flight across SIGTERM', tags: ['shutdown'] } });

        server.child.kill('SIGTERM');
        await server.waitForOutput('"msg":"shutdown started"');

        await assert.rejects(request(server.url, { path: '/healthz', timeoutMs: 10_000 }), (error: NodeJS.ErrnoException) => error.code === 'ECONNREFUSED', 'a new connection is refused: the listener is closed');
        await within(idleClosed, 'the idle keep-alive connection');
        agent.destroy();

        const refused = await arriving.finish(`Authorization: Bearer ${user.apiKey}\r\n\r\n`);
        const [head, body] = refused.split('\r\n\r\n');
        assert.match(head!, /^HTTP\/1\.1 503 /);
        assert.match(head!, /^connection: close$/im);
        assert.match(head!, /^retry-after: 2$/im);
        assert.match(head!, /^content-type: application\/json/im);
        assert.deepEqual(JSON.parse(body!), { error: { code: 'unavailable', message: 'the server is restarting; try again shortly', retry_after: 2 } });

        const written = await within(inFlight.release(), 'the request in flight');
        assert.equal(written.status, 201, written.body);
        assert.equal(written.headers.connection, 'close', 'its connection closes after the answer');
        const id = written.json<{ id: string }>().id;

        assert.equal(await within(server.exited, 'the exit'), EXIT_CLEAN);
        assert.deepEqual(
          { signal: logLine(server, 'shutdown started').signal, ...pick(logLine(server, 'shutdown finished'), ['connections_cut', 'store_closed', 'exit_code']) },
          { signal: 'SIGTERM', connections_cut: false, store_closed: true, exit_code: 0 },
        );
        // Metadata only: neither the key nor any content reaches the shutdown's lines (nor any other).
        assert.ok(!server.stdout().includes(user.apiKey) && !server.stdout().includes('in flight across'), 'no key or content in the log');
        if (target.sqliteFile) assertSqliteClosedCleanly(target.sqliteFile);

        const restarted = await startServer({ env });
        const read = await request(restarted.url, { path: `/api/v1/memories/${id}`, headers: bearer(user.apiKey) });
        assert.equal(read.status, 200);
        assert.equal(read.json().content, 'in flight across SIGTERM');
        assert.deepEqual(await memoryContents(restarted, user), ['in flight across SIGTERM', 'written before the signal']);
        assert.equal(await within(restarted.stop(), 'the second exit'), EXIT_CLEAN);
        if (target.sqliteFile) assertSqliteClosedCleanly(target.sqliteFile);
      } finally {
        await killAllServers();
        await target.cleanup();
      }
    });

    it('a request still open when the grace period runs out is cut; the store is closed all the same; exit 3', async () => {
      await cutStuckRequest(makeTarget, '500', async (server) => {
        server.child.kill('SIGTERM');
      }, (server) => {
        assert.deepEqual(pick(logLine(server, 'shutdown finished'), ['connections_cut', 'store_closed', 'exit_code']), { connections_cut: true, store_closed: true, exit_code: 3 });
      });
    });

    it('a second signal during shutdown cuts the wait short but still closes the store; exit 3', async () => {
      // An hour of grace: only the second signal can end this shutdown.
      await cutStuckRequest(makeTarget, '3600000', async (server) => {
        server.child.kill('SIGTERM');
        await server.waitForOutput('"msg":"shutdown started"');
        server.child.kill('SIGINT');
      }, (server) => {
        assert.equal(logLine(server, 'second signal during shutdown: cutting open connections, then closing the store').signal, 'SIGINT');
        assert.deepEqual(pick(logLine(server, 'shutdown finished'), ['signal', 'connections_cut', 'store_closed', 'exit_code']), { signal: 'SIGTERM', connections_cut: true, store_closed: true, exit_code: 3 });
      });
    });
  });
}

/**
 * One write acknowledged, then a client that sends part of a write's body and
 * nothing more (stuck until the server gives up on it); `signal` stops the
 * server. The stuck request is cut without an answer, the exit code is 3,
 * `checkLog` looks at the lines, the store was closed, and after a restart
 * only the acknowledged write is there.
 */
async function cutStuckRequest(makeTarget: () => Promise<Target>, graceMs: string, signal: (server: ServerProcess) => Promise<void>, checkLog: (server: ServerProcess) => void): Promise<void> {
  const target = await makeTarget();
  try {
    const env = { ...target.env, ANAMNESIS_SHUTDOWN_GRACE_MS: graceMs };
    const server = await startServer({ env });
    const user = await signUpRemote(server.url, 'stuck');
    assert.equal((await request(server.url, { method: 'POST', path: '/api/v1/memories', headers: bearer(user.apiKey), body: { content: 'acknowledged before the signal' } })).status, 201);
    const stuck = await holdRequest(server.url, { method: 'POST', path: '/api/v1/memories', headers: bearer(user.apiKey), body: { content: 'never finished' } });
    const answer = stuck.release(10);

    await signal(server);
    await assert.rejects(within(answer, 'the stuck request'), (error: NodeJS.ErrnoException) => error.code === 'ECONNRESET', 'the stuck request is cut without an answer');
    assert.equal(await within(server.exited, 'the exit'), EXIT_UNCLEAN);
    checkLog(server);
    if (target.sqliteFile) assertSqliteClosedCleanly(target.sqliteFile);

    const restarted = await startServer({ env });
    assert.deepEqual(await memoryContents(restarted, user), ['acknowledged before the signal'], 'the cut request stored nothing');
  } finally {
    await killAllServers();
    await target.cleanup();
  }
}

function pick(line: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((key) => [key, line[key]]));
}
