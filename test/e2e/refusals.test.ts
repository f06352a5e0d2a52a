// What the end-to-end endpoints refuse, on both drivers: server-key routes
// for E2E accounts (403 e2e_account), plaintext where ciphertext belongs
// (400 not_ciphertext), a cursor older than the purged tombstones (410),
// and every malformed request (4xx, tables unchanged). And no secret of the
// flows reaches a log line.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as opaque from '@serenity-kit/opaque';
import { fernetEncrypt } from '../../src/crypto/fernet.ts';
import { makeTestApp, TEST_ORIGIN, type TestApp } from '../helpers/app.ts';
import { openDirectDb, testDrivers, type DirectDb } from '../http/support.ts';
import { auth, credentialsFor, finishRegistration, logIn, newEmail, post, recoverySecrets, sealRecord, signUpE2E, snapshotE2E, type E2EUser } from './support.ts';

const DAY_MS = 24 * 3600_000;

for (const driver of await testDrivers('end-to-end refusals')) {
  describe(`end-to-end refusals (${driver})`, () => {
    let t: TestApp;
    let db: DirectDb;
    let user: E2EUser;
    before(async () => {
      t = await makeTestApp({ driver });
      db = await openDirectDb(t);
      user = await signUpE2E(t.app);
    });
    after(async () => {
      await db.close();
      await t.close();
    });

    const write = (token: string, writes: unknown[]) => post(t.app, '/api/v1/e2e/changes', { writes }, auth(token));

    it('an E2E account is refused by every server-key route with 403 e2e_account (log-in and unlock too)', async () => {
      const mcpHeaders = { ...auth(user.token), accept: 'application/json, text/event-stream', 'content-type': 'application/json' };
      const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } };
      const answers = [
        await t.app.inject({ method: 'GET', url: '/api/v1/memories', headers: auth(user.token) }),
        await t.app.inject({ method: 'POST', url: '/api/v1/memories', headers: auth(user.token), payload: { content: 'x' } }),
        await t.app.inject({ method: 'GET', url: '/api/v1/memories/search?q=x', headers: auth(user.token) }),
        await t.app.inject({ method: 'GET', url: '/api/v1/export', headers: auth(user.token) }),
        await t.app.inject({ method: 'POST', url: '/api/v1/import?format=json', headers: { ...auth(user.token), 'content-type': 'application/json' }, payload: '[]' }),
        await t.app.inject({ method: 'POST', url: '/mcp', headers: mcpHeaders, payload: initialize }),
        await t.app.inject({ method: 'POST', url: '/api/v1/keys/rotate', headers: auth(user.token) }),
        await post(t.app, '/api/v1/sessions/unlock', { api_key: 'anm_' + 'x'.repeat(43) }, auth(user.token)),
        await t.app.inject({ method: 'GET', url: '/api/v1/sessions', headers: auth(user.token) }),
        await post(t.app, '/api/v1/sessions', { email: user.email, password: user.password }),
      ];
      for (const answer of answers) {
        assert.equal(answer.statusCode, 403, answer.body);
        assert.equal(answer.json().error.code, 'e2e_account');
        assert.match(answer.json().error.message, /local MCP server/);
      }
      // The log-in page (where OAuth consent starts) says the same, on the page.
      const page = await t.app.inject({
        method: 'POST',
        url: '/login?next=/oauth/authorize',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: TEST_ORIGIN },
        payload: new URLSearchParams({ email: user.email, password: user.password }).toString(),
      });
      assert.equal(page.statusCode, 403);
      assert.match(page.body, /end-to-end account/);
      assert.equal(page.headers['set-cookie'], undefined, 'no session');
      // A token that is not live is just not valid.
      const dead = `ane_${randomBytes(32).toString('base64url')}`;
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/memories', headers: auth(dead) })).statusCode, 401);
    });

    it('plaintext where ciphertext belongs is refused with not_ciphertext, and nothing is written', async () => {
      const before = await snapshotE2E(db);
      const id = randomUUID();
      const valid = sealRecord(user.key, id, 1, { content: 'x' });
      const notTokens = [
        'remember that the door code is 4711',
        JSON.stringify({ v: 1, id, version: 1, record: { content: 'plain' } }),
        Buffer.from('plaintext in base64url, not a token at all').toString('base64url'),
        Buffer.from(`\x80${'x'.repeat(70)}`, 'latin1').toString('base64url') + '=', // right version byte, no whole AES blocks
        valid.slice(0, -4), // cut short: no longer whole AES blocks and a MAC
        `${valid.slice(0, 5)}+${valid.slice(6)}`, // base64, not base64url
        fernetEncrypt(user.key, 'x'.repeat(256 * 1024)), // a real token, over 256 KiB
      ];
      for (const token of notTokens) {
        const answer = await write(user.token, [{ id, base_version: 0, version: 1, token }]);
        assert.equal(answer.statusCode, 400, token.slice(0, 40));
        assert.equal(answer.json().error.code, 'not_ciphertext');
      }
      // One bad token among good ones: the whole batch is refused.
      const mixed = await write(user.token, [{ id, base_version: 0, version: 1, token: valid }, { id: 'b', base_version: 0, version: 1, token: 'plain' }]);
      assert.deepEqual([mixed.statusCode, mixed.json().error.fields], [400, ['writes.1.token']]);
      // Wraps are ciphertext too.
      const reg = opaque.client.startRegistration({ password: 'pw' });
      const started = (await post(t.app, '/api/v1/e2e/registrations', { email: newEmail(), registration_request: reg.registrationRequest })).json() as Record<string, string>;
      const record = finishRegistration('pw', reg.clientRegistrationState, started.registration_response!);
      const creds = credentialsFor(started.user_id!, record, randomBytes(32), randomBytes(20));
      const plainWrap = await post(t.app, '/api/v1/e2e/accounts', { registration_id: started.registration_id, ...creds, password_wrap: randomBytes(32).toString('base64url') });
      assert.equal(plainWrap.json().error.code, 'not_ciphertext');
      const after = await snapshotE2E(db);
      assert.deepEqual({ ...after, e2e_pending: [] }, { ...before, e2e_pending: [] });
    });

    it('a cursor older than purged tombstones gets 410 cursor_expired; from 0 the feed is whole again', async () => {
      const u = await signUpE2E(t.app);
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
      await write(u.token, [a, b, c].map((id) => ({ id, base_version: 0, version: 1, token: sealRecord(u.key, id, 1, {}) })));
      await write(u.token, [{ id: a, base_version: 1, version: 2, token: sealRecord(u.key, a, 2, null), deleted: true }]);
      // 91 days pass for those rows (the server's clock is not ours to move).
      await db.query('UPDATE e2e_records SET updated_at = updated_at - ? WHERE user_id = ?', [91 * DAY_MS, u.userId]);
      await write(u.token, [{ id: b, base_version: 1, version: 2, token: sealRecord(u.key, b, 2, { edited: true }) }]);
      const feed = (cursor: number) => t.app.inject({ method: 'GET', url: `/api/v1/e2e/changes?cursor=${cursor}`, headers: auth(u.token) });
      const old = await feed(2);
      assert.equal(old.statusCode, 410);
      assert.equal(old.json().error.code, 'cursor_expired');
      assert.equal(old.json().error.purged_through, 4);
      assert.equal((await feed(4)).statusCode, 200, 'a cursor at the purged seq missed nothing');
      const whole = (await feed(0)).json() as { changes: { id: string; seq: number }[]; cursor: number };
      assert.deepEqual(whole.changes.map((ch) => ch.id), [c, b]);
      assert.equal(whole.cursor, 5);
      assert.equal((await feed(99)).statusCode, 410, 'a cursor beyond the last seq (a restored server)');
    });

    it('every malformed request gets a 4xx in the error shape and changes nothing', async () => {
      const id = randomUUID();
      const token = sealRecord(user.key, id, 1, {});
      const reg = opaque.client.startRegistration({ password: 'pw' });
      const login = opaque.client.startLogin({ password: 'pw' });
      const stepId = randomBytes(32).toString('base64url');
      const creds = { registration_record: 'A'.repeat(256), password_wrap: token, recovery_wrap: token, recovery_verifier: 'a'.repeat(64) };
      const { recovery_auth } = recoverySecrets(randomBytes(20), user.userId, user.key);
      const big = 'A'.repeat(1024 * 1024 + 10);
      const cases: [string, string, unknown, Record<string, string>, number][] = [
        ['POST', '/api/v1/e2e/registrations', {}, {}, 400],
        ['POST', '/api/v1/e2e/registrations', { email: newEmail() }, {}, 400],
        ['POST', '/api/v1/e2e/registrations', { email: 42, registration_request: reg.registrationRequest }, {}, 400],
        ['POST', '/api/v1/e2e/registrations', { email: 'not an email', registration_request: reg.registrationRequest }, {}, 400],
        ['POST', '/api/v1/e2e/registrations', { email: newEmail(), registration_request: 'not base64url!' }, {}, 400],
        ['POST', '/api/v1/e2e/registrations', { email: newEmail(), registration_request: 'AAAA' }, {}, 400],
        ['POST', '/api/v1/e2e/registrations', { email: newEmail(), registration_request: reg.registrationRequest, extra: 1 }, {}, 400],
        ['POST', '/api/v1/e2e/registrations', { email: newEmail(), registration_request: big }, {}, 413],
        ['POST', '/api/v1/e2e/accounts', { registration_id: stepId, ...creds }, {}, 400],
        ['POST', '/api/v1/e2e/accounts', { registration_id: stepId, ...creds, recovery_verifier: 'XYZ' }, {}, 400],
        ['POST', '/api/v1/e2e/accounts', { registration_id: 'short', ...creds }, {}, 400],
        ['POST', '/api/v1/e2e/accounts', { registration_id: stepId, ...creds, label: 'bell\u0007' }, {}, 400],
        ['POST', '/api/v1/e2e/sessions/start', { email: user.email }, {}, 400],
        ['POST', '/api/v1/e2e/sessions/start', { email: user.email, start_login_request: 'AAAA' }, {}, 400],
        ['POST', '/api/v1/e2e/sessions/start', { email: user.email, start_login_request: [login.startLoginRequest] }, {}, 400],
        ['POST', '/api/v1/e2e/sessions/finish', { login_id: stepId, finish_login_request: 'AAAA' }, {}, 401],
        ['POST', '/api/v1/e2e/sessions/finish', { login_id: stepId }, {}, 400],
        ['DELETE', '/api/v1/e2e/sessions/current', undefined, {}, 401],
        ['POST', '/api/v1/e2e/recovery/start', { email: user.email, recovery_auth: 'short', registration_request: reg.registrationRequest }, {}, 400],
        ['POST', '/api/v1/e2e/recovery/start', { email: user.email, recovery_auth }, {}, 400],
        ['POST', '/api/v1/e2e/recovery/finish', { reset_id: stepId, ...creds }, {}, 400],
        ['POST', '/api/v1/e2e/recovery/finish', { reset_id: stepId, ...creds, password_wrap: 'plain' }, {}, 400],
        ['POST', '/api/v1/e2e/conversions/start', { registration_request: reg.registrationRequest }, {}, 401],
        ['POST', '/api/v1/e2e/conversions/start', { registration_request: reg.registrationRequest }, auth(user.token), 403],
        ['POST', '/api/v1/e2e/conversions/finish', { registration_id: stepId, ...creds, writes: [] }, {}, 401],
        ['GET', '/api/v1/e2e/account', undefined, {}, 401],
        ['GET', '/api/v1/e2e/account', undefined, auth('ane_' + 'x'.repeat(43)), 401],
        ['DELETE', '/api/v1/e2e/account', undefined, { authorization: 'Bearer anm_' + 'x'.repeat(43) }, 401],
        ['GET', '/api/v1/e2e/changes?cursor=-1', undefined, auth(user.token), 400],
        ['GET', '/api/v1/e2e/changes?cursor=abc', undefined, auth(user.token), 400],
        ['GET', '/api/v1/e2e/changes?limit=0', undefined, auth(user.token), 400],
        ['GET', '/api/v1/e2e/changes?limit=1001', undefined, auth(user.token), 400],
        ['GET', '/api/v1/e2e/changes?since=3', undefined, auth(user.token), 400],
        ['GET', '/api/v1/e2e/changes', undefined, {}, 401],
        ['POST', '/api/v1/e2e/changes', { writes: [] }, auth(user.token), 400],
        ['POST', '/api/v1/e2e/changes', {}, auth(user.token), 400],
        ['POST', '/api/v1/e2e/changes', { writes: [{ id, base_version: 0, version: 2, token }] }, auth(user.token), 400],
        ['POST', '/api/v1/e2e/changes', { writes: [{ id, base_version: -1, version: 0, token }] }, auth(user.token), 400],
        ['POST', '/api/v1/e2e/changes', { writes: [{ id, base_version: '0', version: 1, token }] }, auth(user.token), 400],
        ['POST', '/api/v1/e2e/changes', { writes: [{ id: 'has space', base_version: 0, version: 1, token }] }, auth(user.token), 400],
        ['POST', '/api/v1/e2e/changes', { writes: [{ id: 'x'.repeat(65), base_version: 0, version: 1, token }] }, auth(user.token), 400],
        ['POST', '/api/v1/e2e/changes', { writes: [{ id, base_version: 0, version: 1 }] }, auth(user.token), 400],
        ['POST', '/api/v1/e2e/changes', { writes: [{ id, base_version: 0, version: 1, token, deleted: 'yes' }] }, auth(user.token), 400],
        ['POST', '/api/v1/e2e/changes', { writes: [{ id, base_version: 0, version: 1, token }, { id, base_version: 0, version: 1, token }] }, auth(user.token), 400],
        ['POST', '/api/v1/e2e/changes', { writes: Array.from({ length: 501 }, (_, i) => ({ id: `r${i}`, base_version: 0, version: 1, token })) }, auth(user.token), 400],
        ['POST', '/api/v1/e2e/changes', { writes: [{ id, base_version: 0, version: 1, token: 'A'.repeat(8 * 1024 * 1024) }] }, auth(user.token), 413],
        ['POST', '/api/v1/e2e/changes', { writes: [{ id, base_version: 0, version: 1, token }] }, {}, 401],
      ];
      const before = await snapshotE2E(db);
      for (const [method, url, payload, headers, status] of cases) {
        const answer = await t.app.inject({ method: method as 'GET', url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });
        assert.equal(answer.statusCode, status, `${method} ${url} ${JSON.stringify(payload)?.slice(0, 120)}: ${answer.body.slice(0, 200)}`);
        const body = answer.json() as { error: { code: string; message: string } };
        assert.equal(typeof body.error.code, 'string');
        assert.equal(typeof body.error.message, 'string');
      }
      const after = await snapshotE2E(db);
      // Audit lines only (a denied log-in of a known account would add one; none here).
      assert.deepEqual(after, before);
    });

    it('no token, wrap, registration record, password or recovery proof appears in any log line, nor a key or password in the database', async () => {
      const secrets: string[] = [];
      const u = await signUpE2E(t.app, { password: 'a password that must never be logged' });
      secrets.push(u.token, u.password, u.key.toString('base64url'), u.key.toString('hex'));
      const { recovery_auth, recovery_wrap } = recoverySecrets(u.code, u.userId, u.key);
      secrets.push(recovery_auth, recovery_wrap);
      const login = await logIn(t.app, u.email, u.password);
      const second = login.finish!.json() as { token: string; password_wrap: string };
      secrets.push(second.token, second.password_wrap, login.exportKey!, (login.start.json() as { login_id: string }).login_id);
      const id = randomUUID();
      const recordToken = sealRecord(u.key, id, 1, { content: 'a memory nobody may log' });
      secrets.push(recordToken, 'a memory nobody may log');
      await write(second.token, [{ id, base_version: 0, version: 1, token: recordToken }]);
      await write(second.token, [{ id, base_version: 0, version: 1, token: recordToken }]); // a 409 that carries the token back
      await write(second.token, [{ id: 'p', base_version: 0, version: 1, token: 'plaintext memory for the log scan' }]);
      secrets.push('plaintext memory for the log scan');
      const reg = opaque.client.startRegistration({ password: 'new password never logged' });
      const started = await post(t.app, '/api/v1/e2e/recovery/start', { email: u.email, recovery_auth, registration_request: reg.registrationRequest });
      const { reset_id, registration_response } = started.json() as Record<string, string>;
      const record = finishRegistration('new password never logged', reg.clientRegistrationState, registration_response!);
      const creds = credentialsFor(u.userId, record, u.key, randomBytes(20));
      secrets.push(reset_id!, record.registrationRecord, record.exportKey, creds.password_wrap, 'new password never logged');
      const finished = await post(t.app, '/api/v1/e2e/recovery/finish', { reset_id, ...creds });
      secrets.push((finished.json() as { token: string }).token);
      const logs = t.logs.join('\n');
      assert.ok(logs.includes('/api/v1/e2e/changes'), 'the requests were logged');
      for (const secret of secrets) assert.ok(!logs.includes(secret), `a secret reached the logs: ${secret.slice(0, 12)}…`);
      // A copy of the database holds the wraps, the record and the tokens' hashes, and nothing that opens them.
      const stored = JSON.stringify(await snapshotE2E(db));
      const neverStored = [u.token, second.token, (finished.json() as { token: string }).token, u.password, 'new password never logged',
        u.key.toString('base64url'), u.key.toString('hex'), u.code.toString('hex'), recovery_auth, login.exportKey!, record.exportKey,
        'a memory nobody may log', 'plaintext memory for the log scan', reset_id!];
      for (const secret of neverStored) assert.ok(!stored.includes(secret), `stored in the database: ${secret.slice(0, 12)}…`);
      assert.ok(stored.includes(recordToken), 'the record is stored, as ciphertext');
    });
  });
}
