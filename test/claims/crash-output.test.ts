// "No key, token, password or plaintext in logs, error answers or crash
// output", with real processes. A workload full of secrets runs against the
// service; then the process is made to fail: (1) the test harness (the real
// app and the crash handlers of src/server.ts, plus one deliberate bug)
// throws an uncaught exception, and an unhandled rejection, whose message
// holds the request's API key, cookie and body; (2) the real src/server.ts
// has its database destroyed under it (SQLite file overwritten, or the
// PostgreSQL schema dropped) mid-workload. Every byte the processes printed,
// and every error answer they gave, is searched for every secret in every
// encoding.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { postgresAvailableForTests, postgresTestUrl, randomSchemaName } from '../helpers/postgres.ts';
import { type Answer, bearer, killAllServers, request, type ServerProcess, signUpRemote, startServer } from '../fixtures/server-process.ts';
import { foundIn } from './support.ts';

/** Runs requests full of secrets; returns the secrets and every error answer. */
async function secretWorkload(server: ServerProcess): Promise<{ secrets: string[]; outputOnly: string[]; errorAnswers: Answer[]; apiKey: string; cookie: string }> {
  const secrets: string[] = [];
  const keep = (s: string) => (secrets.push(s), s);
  // A 400 names an unknown field back to the client that sent it (never its value); it must still never be logged.
  const outputOnly: string[] = [];
  const keepOutputOnly = (s: string) => (outputOnly.push(s), s);
  const answers: Answer[] = [];
  const send = async (options: Parameters<typeof request>[1]) => {
    const answer = await request(server.url, options);
    answers.push(answer);
    return answer;
  };
  const user = await signUpRemote(server.url, 'crash');
  keep(user.apiKey);
  keep(user.password);
  keep(user.cookie.split('=')[1]!);
  await send({ method: 'POST', path: '/api/v1/memories', headers: bearer(user.apiKey), body: { content: keep('Crash-secret memory: the heron sings at 4am'), tags: [keep('crash-secret-tag')] } });
  await send({ method: 'GET', path: `/api/v1/memories/search?q=${keep('heronsecretquery')}`, headers: bearer(user.apiKey) });
  await send({ method: 'POST', path: '/api/v1/memories', headers: bearer(user.apiKey), body: `{"content": "${keep('Malformed-JSON-secret-Mandrill')}"` });
  await send({ method: 'POST', path: '/api/v1/memories', headers: bearer(user.apiKey), body: { content: 'x', [keepOutputOnly('Unknown-field-secret-Tapir')]: keep('Unknown-value-secret-Quokka') } });
  await send({ method: 'POST', path: '/api/v1/sessions', body: { email: user.email, password: keep('Wrong-password-secret-Gibbon-4') } });
  await send({ method: 'GET', path: '/api/v1/memories', headers: bearer(keep(`anm_${randomBytes(32).toString('base64url')}`)) });
  await send({ method: 'POST', path: '/api/v1/sessions/unlock', headers: { cookie: user.cookie, origin: server.url }, body: { api_key: keep(`anm_${randomBytes(32).toString('base64url')}`) } });
  await send({ method: 'POST', path: '/api/v1/import?format=mcp-memory-jsonl', headers: { ...bearer(user.apiKey), 'content-type': 'application/x-ndjson' }, body: `{"type":"entity","name":"${keep('Crash Secret Entity Name')}","entityType":"person","observations":["${keep('crash secret observation')}"]}\nbroken ${keep('Broken-line-secret-Axolotl')}` });
  await send({ method: 'POST', path: '/mcp', headers: { ...bearer(user.apiKey), accept: 'application/json, text/event-stream' }, body: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'add_observations', arguments: { observations: [{ entityName: keep('Unknown-entity-secret-Pangolin'), contents: [keep('orphan observation secret')] }] } } } });
  const pending = keep((await send({ method: 'POST', path: '/api/v1/keys/rotate', headers: bearer(user.apiKey) })).json().api_key);
  await send({ method: 'POST', path: '/api/v1/keys/rotate/confirm', headers: bearer(pending) });
  await send({ method: 'GET', path: '/api/v1/memories', headers: bearer(user.apiKey) });
  return { secrets, outputOnly, errorAnswers: answers.filter((a) => a.status >= 400), apiKey: pending, cookie: user.cookie };
}

function assertNothingLeaked(server: ServerProcess, secrets: string[], outputOnly: string[], answers: Answer[]): void {
  const printed = Buffer.from(server.stdout() + server.stderr(), 'utf8');
  assert.deepEqual(foundIn(printed, [...secrets, ...outputOnly]), [], 'a secret in the process output');
  for (const answer of answers) assert.deepEqual(foundIn(Buffer.from(answer.body, 'utf8'), secrets), [], `a secret in an error answer: ${answer.body}`);
  assert.doesNotMatch(server.stdout() + server.stderr(), /bug while handling|authorization:|body:/, 'the error message itself was printed');
}

function fatalLines(server: ServerProcess): Array<Record<string, unknown>> {
  return server.stdout().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry.level === 60);
}

after(() => killAllServers());

describe('crash output of the real process holds no secret', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
  const dataDir = () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'anamnesis-crash-'));
    dirs.push(dir);
    return dir;
  };

  for (const mode of ['uncaught', 'rejection'] as const) {
    it(`an ${mode === 'uncaught' ? 'uncaught exception' : 'unhandled rejection'} carrying the request's key, cookie and body: exit 1, one fatal line with the error's class and frames only`, async () => {
      const server = await startServer({ script: 'test/fixtures/crashing-server.ts', env: { ANAMNESIS_DATA_DIR: dataDir(), LOG_LEVEL: 'debug', ANAMNESIS_RATE_LIMIT_FACTOR: '0' } });
      const { secrets, outputOnly, errorAnswers, apiKey, cookie } = await secretWorkload(server);
      const content = 'Crash-trigger secret: the ninth lantern';
      secrets.push(content);
      // The connection may close before an answer: the process is dying.
      await request(server.url, { method: 'POST', path: '/api/v1/memories', headers: { ...bearer(apiKey), cookie, 'x-crash-test': mode }, body: { content } }).catch(() => undefined);
      assert.equal(await server.exited, 1);
      const [fatal, ...more] = fatalLines(server);
      assert.equal(more.length, 0);
      assert.equal(fatal!.msg, mode === 'uncaught' ? 'uncaught exception' : 'unhandled rejection');
      assert.equal(fatal!.error_name, mode === 'uncaught' ? 'Error' : 'TypeError');
      assert.match(String(fatal!.stack), /^ {4}at .*crashing-server\.ts/m, 'the stack frames are there for the operator');
      assertNothingLeaked(server, secrets, outputOnly, errorAnswers);
    });
  }

  it('the SQLite file overwritten under the running server: clean 5xx answers, no secret printed or answered', async () => {
    const dir = dataDir();
    const server = await startServer({ env: { ANAMNESIS_DATA_DIR: dir, LOG_LEVEL: 'debug', ANAMNESIS_RATE_LIMIT_FACTOR: '0' } });
    const { secrets, outputOnly, errorAnswers, apiKey } = await secretWorkload(server);
    for (const file of readdirSync(dir)) writeFileSync(path.join(dir, file), randomBytes(Math.max(4096, statSync(path.join(dir, file)).size)));
    const broken: Answer[] = [];
    for (const content of ['After-corruption secret one', 'After-corruption secret two']) {
      secrets.push(content);
      broken.push(await request(server.url, { method: 'POST', path: '/api/v1/memories', headers: bearer(apiKey), body: { content } }));
      broken.push(await request(server.url, { method: 'GET', path: `/api/v1/memories/search?q=${encodeURIComponent(content)}`, headers: bearer(apiKey) }));
    }
    for (const answer of broken) {
      assert.ok(answer.status >= 500, `${answer.status} ${answer.body}`);
      assert.ok(['unavailable', 'internal'].includes(answer.json().error.code), answer.body);
    }
    assertNothingLeaked(server, secrets, outputOnly, [...errorAnswers, ...broken]);
    assert.equal(server.child.exitCode, null, 'still running');
  });
});

if (await postgresAvailableForTests('claims: crash output on PostgreSQL')) {
  describe('PostgreSQL schema dropped under the running server', () => {
    const schema = randomSchemaName();
    const admin = new pg.Client({ connectionString: postgresTestUrl() });
    after(async () => {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
      await admin.end();
    });

    it('clean 5xx answers, no secret printed or answered', async () => {
      await admin.connect();
      await admin.query(`CREATE SCHEMA "${schema}"`);
      const url = `${postgresTestUrl()}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
      const server = await startServer({ env: { DATABASE_URL: url, LOG_LEVEL: 'debug', ANAMNESIS_RATE_LIMIT_FACTOR: '0' } });
      const { secrets, outputOnly, errorAnswers, apiKey } = await secretWorkload(server);
      await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
      const broken: Answer[] = [];
      for (const content of ['After-drop secret one', 'After-drop secret two']) {
        secrets.push(content);
        broken.push(await request(server.url, { method: 'POST', path: '/api/v1/memories', headers: bearer(apiKey), body: { content } }));
        broken.push(await request(server.url, { method: 'GET', path: `/api/v1/memories/search?q=${encodeURIComponent(content)}`, headers: bearer(apiKey) }));
      }
      for (const answer of broken) assert.ok(answer.status >= 500, `${answer.status} ${answer.body}`);
      assertNothingLeaked(server, secrets, outputOnly, [...errorAnswers, ...broken]);
      assert.equal(server.child.exitCode, null, 'still running');
      await server.stop();
    });
  });
}
