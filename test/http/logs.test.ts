// A full workload at LOG_LEVEL debug, then every log line and every file
// under the SQLite data folder is searched for the secrets and plaintext the
// workload used: passwords, API keys (old and new), session tokens, memory
// contents, tags, entity names and search text. None may appear, and each log
// line carries metadata keys only.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bearer, browser, cookieFrom, makeTestApp, type TestApp } from '../helpers/app.ts';
import { openDirectDb, testDrivers } from './support.ts';

const METADATA_KEYS = new Set(['level', 'time', 'reqId', 'msg', 'method', 'route', 'status', 'ms', 'user_id', 'error_code', 'error_name', 'stack']);

/** Runs the workload and returns every secret and plaintext it used. */
async function workload(t: TestApp): Promise<string[]> {
  const { app } = t;
  const secrets: string[] = [];
  const keep = <T extends string>(value: T): T => {
    secrets.push(value);
    return value;
  };
  const tokenOf = (cookie: string) => keep(cookie.slice(cookie.indexOf('=') + 1));
  const password = keep('Pelican-Harbour-Lantern-8812');
  const email = 'log-workload@example.com';

  const signUp = await app.inject({ method: 'POST', url: '/api/v1/accounts', payload: { email, password } });
  assert.equal(signUp.statusCode, 201);
  const apiKey = keep(signUp.json().api_key as string);
  const firstCookie = cookieFrom(signUp);
  tokenOf(firstCookie);
  await app.inject({ method: 'POST', url: '/api/v1/accounts', payload: { email: 'weak@example.com', password: keep('Tortoise-2') } });
  await app.inject({ method: 'POST', url: '/api/v1/sessions', payload: { email, password: keep('Wrong-Guess-Flamingo-11') } });
  await app.inject({ method: 'POST', url: '/api/v1/sessions', payload: { email: 'ghost-user@example.com', password: keep('Unknown-Marmot-Quartz-5') } });

  const login = await app.inject({ method: 'POST', url: '/api/v1/sessions', payload: { email, password } });
  const session = cookieFrom(login);
  tokenOf(session);
  await app.inject({ method: 'POST', url: '/api/v1/sessions/unlock', headers: browser(session), payload: { api_key: keep('anm_' + 'WrongKeyGuess'.repeat(3) + 'abcd') } });
  assert.equal((await app.inject({ method: 'POST', url: '/api/v1/sessions/unlock', headers: browser(session), payload: { api_key: apiKey } })).statusCode, 200);

  const created = await app.inject({ method: 'POST', url: '/api/v1/memories', headers: bearer(apiKey), payload: { content: keep('Grandmother hid the ledger behind the Zeppelinstraße clock'), tags: [keep('family-archive-tag')] } });
  assert.equal(created.statusCode, 201);
  const id = created.json().id;
  await app.inject({ method: 'POST', url: '/api/v1/memories', headers: browser(session), payload: { content: keep('Посылка придёт в четверг, код Ёлка') } });
  await app.inject({ method: 'GET', url: `/api/v1/memories/${id}`, headers: { cookie: session } });
  await app.inject({ method: 'PATCH', url: `/api/v1/memories/${id}`, headers: bearer(apiKey), payload: { content: keep('The ledger moved to the Wintergarten safe'), tags: [keep('moved-ledger-tag')] } });
  await app.inject({ method: 'GET', url: '/api/v1/memories?tag=moved-ledger-tag', headers: bearer(apiKey) });
  await app.inject({ method: 'GET', url: `/api/v1/memories/search?q=${encodeURIComponent(keep('Wintergarten'))}&tag=moved-ledger-tag`, headers: bearer(apiKey) });
  await app.inject({
    method: 'POST',
    url: '/api/v1/import?format=mcp-memory-jsonl',
    headers: { ...bearer(apiKey), 'content-type': 'application/x-ndjson' },
    payload: `{"type":"entity","name":"${keep('Professor Quillfeather')}","entityType":"person","observations":["${keep('keeps bees on the roof')}"]}\n{"type":"relation","from":"Professor Quillfeather","to":"Professor Quillfeather","relationType":"${keep('mentors-self')}"}\nnot json ${keep('Basilisk-in-a-bad-line')}`,
  });

  // Errors whose input carries secrets: none of it may be echoed to a log.
  await app.inject({ method: 'POST', url: '/api/v1/memories', headers: { ...bearer(apiKey), 'content-type': 'application/json' }, payload: `{"content": "${keep('Malformed-Marzipan-Secret')}"` });
  await app.inject({ method: 'POST', url: '/api/v1/memories', headers: bearer(apiKey), payload: { content: 'x', [keep('Unknown-Field-Okapi')]: keep('Okapi-Value-Secret') } });
  await app.inject({ method: 'GET', url: `/api/v1/memories/search?q=${keep('Percent-Broken-Narwhal')}%zz`, headers: bearer(apiKey) });
  await app.inject({ method: 'GET', url: `/api/v1/${keep('no-such-route-Gryphon')}?q=${keep('Lost-Query-Walrus')}`, headers: bearer(apiKey) });
  await app.inject({ method: 'GET', url: '/api/v1/memories', headers: bearer(keep('anm_' + 'UnknownKeyGuess'.repeat(2) + 'abcdefghijklm')) });

  // Rotation: a pending key, confirmed; the session unlocked again with it.
  const pending = keep((await app.inject({ method: 'POST', url: '/api/v1/keys/rotate', headers: bearer(apiKey) })).json().api_key as string);
  assert.equal((await app.inject({ method: 'POST', url: '/api/v1/keys/rotate/confirm', headers: bearer(pending) })).json().status, 'rotated');
  await app.inject({ method: 'POST', url: '/api/v1/keys/rotate/confirm', headers: bearer(pending) });
  await app.inject({ method: 'GET', url: '/api/v1/memories', headers: bearer(apiKey) });
  await app.inject({ method: 'POST', url: '/api/v1/sessions/unlock', headers: browser(session), payload: { api_key: pending } });

  const encrypted = await app.inject({ method: 'GET', url: '/api/v1/export?format=encrypted', headers: bearer(pending) });
  const json = await app.inject({ method: 'GET', url: '/api/v1/export?format=json', headers: { cookie: session } });
  await app.inject({ method: 'POST', url: '/api/v1/import?format=encrypted', headers: { ...bearer(pending), 'content-type': 'application/x-ndjson' }, payload: encrypted.body });
  await app.inject({ method: 'POST', url: '/api/v1/import?format=json', headers: bearer(pending), payload: json.json() });
  await app.inject({ method: 'DELETE', url: `/api/v1/memories/${id}`, headers: bearer(pending) });

  // Lost key: start over with a new one.
  const reset = await app.inject({ method: 'POST', url: '/api/v1/keys/reset', headers: browser(session), payload: { password, confirm: 'DELETE MY MEMORIES' } });
  const resetKey = keep(reset.json().api_key as string);
  await app.inject({ method: 'POST', url: '/api/v1/memories', headers: bearer(resetKey), payload: { content: keep('After the reset: the Albatross protocol') } });
  await app.inject({ method: 'GET', url: '/api/v1/sessions', headers: { cookie: session } });
  await app.inject({ method: 'DELETE', url: '/api/v1/sessions/current', headers: browser(firstCookie) });

  // A second account that stays, and the first one deleted.
  const other = await app.inject({ method: 'POST', url: '/api/v1/accounts', payload: { email: 'log-other@example.com', password: keep('Harpsichord-Meadow-Kestrel-3') } });
  keep(other.json().api_key as string);
  tokenOf(cookieFrom(other));
  await app.inject({ method: 'DELETE', url: '/api/v1/accounts/current', headers: browser(session), payload: { password: keep('Not-My-Password-Ibex-9') } });
  assert.equal((await app.inject({ method: 'DELETE', url: '/api/v1/accounts/current', headers: browser(session), payload: { password } })).statusCode, 204);
  return secrets;
}

/** Every way a secret could be written down: as is, URL-encoded, JSON-escaped, base64, UTF-16. */
function encodings(secret: string): Buffer[] {
  const forms = new Set([secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1), Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('base64url')]);
  return [...[...forms].map((form) => Buffer.from(form, 'utf8')), Buffer.from(secret, 'utf16le')];
}

for (const driver of await testDrivers('HTTP logs and data files')) {
  describe(`logs and stored files hold no secret (${driver})`, () => {
    let t: TestApp;
    let secrets: string[];
    before(async () => {
      t = await makeTestApp({ driver, logLevel: 'debug' });
      secrets = await workload(t);
    });
    after(() => t.close());

    it('no log line holds a password, API key, session token, memory content, tag, entity name or search text', () => {
      assert.ok(t.logs.length >= 36, `a request line per request (${t.logs.length})`);
      const logBytes = Buffer.from(t.logs.join(''), 'utf8');
      for (const secret of secrets) {
        for (const form of encodings(secret)) assert.equal(logBytes.indexOf(form), -1, `a log line contains "${secret}"`);
      }
    });

    it('nothing stored holds any of them: no file under the SQLite data folder (db, WAL, shm), no row of any PostgreSQL table', async () => {
      const stored: Array<{ where: string; bytes: Buffer }> = [];
      if (t.dataDir) {
        const files = readdirSync(t.dataDir);
        assert.ok(files.includes('anamnesis.db'));
        for (const file of files) stored.push({ where: file, bytes: readFileSync(path.join(t.dataDir, file)) });
      } else {
        const db = await openDirectDb(t);
        try {
          const tables = await db.query('SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()');
          assert.ok(tables.length >= 4);
          for (const { table_name } of tables) stored.push({ where: String(table_name), bytes: Buffer.from(JSON.stringify(await db.query(`SELECT * FROM ${String(table_name)}`)), 'utf8') });
        } finally {
          await db.close();
        }
      }
      for (const { where, bytes } of stored) {
        for (const secret of secrets) {
          for (const form of encodings(secret)) assert.equal(bytes.indexOf(form), -1, `${where} contains "${secret}"`);
        }
      }
    });

    it('every log line is metadata only, and 4xx lines carry the error code', () => {
      let errorLines = 0;
      for (const line of t.logs.flatMap((raw) => raw.split('\n')).filter(Boolean)) {
        const entry = JSON.parse(line) as Record<string, unknown>;
        for (const key of Object.keys(entry)) assert.ok(METADATA_KEYS.has(key), `log key "${key}" in ${line}`);
        assert.equal(typeof entry.time, 'string');
        if (entry.msg !== 'request') continue;
        assert.doesNotMatch(String(entry.route), /\?/, 'the route pattern, never the URL with its query');
        if (Number(entry.status) >= 400) {
          errorLines++;
          assert.equal(typeof entry.error_code, 'string', `no error_code in ${line}`);
        } else {
          assert.equal(entry.error_code, undefined);
        }
      }
      assert.ok(errorLines >= 10, `error lines seen: ${errorLines}`);
      const codes = new Set(t.logs.map((line) => (JSON.parse(line) as { error_code?: string }).error_code));
      for (const code of ['validation_failed', 'unauthorized', 'forbidden', 'bad_request', 'not_found']) assert.ok(codes.has(code), `no ${code} line`);
    });
  });
}
