// Accounts and browser sessions through the HTTP API, on both storage drivers:
// sign-up, password policy, log-in (locked) and unlock, log-out, listing and
// revoking sessions, expiry, account deletion, lost-key start-over, rehash.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { Algorithm, hash } from '@node-rs/argon2';
import { generateApiKey } from '../../src/crypto/keys.ts';
import { bearer, browser, cookieFrom, signUp, TEST_ORIGIN, type TestApp, type TestUser } from '../helpers/app.ts';
import { appWithDirectDb, type DirectDb, rowsOfUser, sealedRecords, testDrivers } from './support.ts';

const DAY = 24 * 3600_000;

for (const driver of await testDrivers('HTTP accounts and sessions')) {
  describe(`accounts and sessions (${driver})`, () => {
    let t: TestApp;
    let db: DirectDb;
    appWithDirectDb(driver, (app, direct) => ([t, db] = [app, direct]));

    const logIn = (user: Pick<TestUser, 'email' | 'password'>, password = user.password) =>
      t.app.inject({ method: 'POST', url: '/api/v1/sessions', payload: { email: user.email, password } });
    const listMemories = (headers: Record<string, string>) => t.app.inject({ method: 'GET', url: '/api/v1/memories', headers });
    const sessionRow = async (cookie: string) => {
      const token = cookie.slice(cookie.indexOf('=') + 1);
      const hashHex = createHash('sha256').update(token).digest('hex');
      return (await db.query('SELECT * FROM sessions WHERE token_hash = ?', [hashHex]))[0];
    };

    it('sign-up answers 201 {user_id, api_key} once, with an unlocked HttpOnly; Secure; SameSite=Lax; Path=/ cookie', async () => {
      const email = `new-${Date.now()}@example.com`;
      const response = await t.app.inject({ method: 'POST', url: '/api/v1/accounts', payload: { email, password: 'a long and unusual passphrase 42' } });
      assert.equal(response.statusCode, 201);
      const body = response.json();
      assert.deepEqual(Object.keys(body).sort(), ['api_key', 'user_id']);
      assert.match(body.user_id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.match(body.api_key, /^anm_[A-Za-z0-9_-]{43}$/);
      const setCookie = String(response.headers['set-cookie']);
      assert.match(setCookie, /^anamnesis_session=[A-Za-z0-9_-]{43};/);
      for (const attribute of ['HttpOnly', 'Secure', 'SameSite=Lax', 'Path=/']) assert.ok(setCookie.split('; ').includes(attribute), `cookie lacks ${attribute}: ${setCookie}`);
      // The session is unlocked: the cookie reads memory straight away.
      assert.equal((await listMemories({ cookie: cookieFrom(response) })).statusCode, 200);
      // The server keeps only the hash of the key and an argon2id hash at OWASP 2023 parameters.
      const [user] = await db.query('SELECT * FROM users WHERE id = ?', [body.user_id]);
      assert.equal(user!.api_key_hash, createHash('sha256').update(body.api_key).digest('hex'));
      assert.match(String(user!.password_hash), /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      assert.equal(user!.email, email);
    });

    it('refuses weak passwords with a reason a person can act on, and stores nothing', async () => {
      const [{ n: usersBefore }] = (await db.query('SELECT COUNT(*) AS n FROM users')) as [{ n: unknown }];
      const cases = [
        { email: 'weak1@example.com', password: 'short pw 1', reason: /at least 12 characters/ },
        { email: 'weak2@example.com', password: 'Password1234', reason: /commonly used/ },
        { email: 'weak3@example.com', password: 'iloveyou2024', reason: /commonly used/ },
        { email: 'margarethe.weiss@example.com', password: 'Margarethe.Weiss-1999!', reason: /must not contain your email/ },
        { email: 'weak4@example.com', password: 'aaaaaaaaaaaaaaaa', reason: /too few different characters/ },
      ];
      for (const { email, password, reason } of cases) {
        const response = await t.app.inject({ method: 'POST', url: '/api/v1/accounts', payload: { email, password } });
        assert.equal(response.statusCode, 400, password);
        const { error } = response.json();
        assert.equal(error.code, 'validation_failed');
        assert.equal(error.field, 'password');
        assert.match(error.message, reason);
        assert.ok(!error.message.includes(password), 'the refusal never echoes the password');
        assert.equal(response.headers['set-cookie'], undefined);
      }
      const badEmail = await t.app.inject({ method: 'POST', url: '/api/v1/accounts', payload: { email: 'not an email', password: 'a long and unusual passphrase 42' } });
      assert.equal(badEmail.statusCode, 400);
      assert.equal(badEmail.json().error.field, 'email');
      const [{ n: usersAfter }] = (await db.query('SELECT COUNT(*) AS n FROM users')) as [{ n: unknown }];
      assert.equal(Number(usersAfter), Number(usersBefore));
    });

    it('refuses a second account for the same email (any case) with 409', async () => {
      const user = await signUp(t.app);
      const again = await t.app.inject({ method: 'POST', url: '/api/v1/accounts', payload: { email: user.email.toUpperCase(), password: 'another long passphrase 77' } });
      assert.equal(again.statusCode, 409);
      assert.equal(again.json().error.code, 'conflict');
      assert.equal(again.headers['set-cookie'], undefined);
    });

    it('log-in gives a locked session: account pages work, memory answers 403 locked until unlocked with the API key', async () => {
      const user = await signUp(t.app);
      await t.app.inject({ method: 'POST', url: '/api/v1/memories', headers: bearer(user.apiKey), payload: { content: 'the locked session cannot read this' } });
      const login = await logIn({ email: `  ${user.email.toUpperCase()} `, password: user.password });
      assert.equal(login.statusCode, 200);
      assert.deepEqual(login.json(), { user_id: user.userId, unlocked: false });
      const cookie = cookieFrom(login);
      assert.equal((await sessionRow(cookie))!.wrapped_key, null, 'a locked session holds no wrapped key');

      const locked = await listMemories({ cookie });
      assert.equal(locked.statusCode, 403);
      assert.equal(locked.json().error.code, 'locked');
      assert.ok(!locked.body.includes('the locked session cannot read this'));
      const sessions = await t.app.inject({ method: 'GET', url: '/api/v1/sessions', headers: { cookie } });
      assert.equal(sessions.statusCode, 200);
      assert.equal(sessions.json().sessions.find((s: { current: boolean }) => s.current).unlocked, false);

      for (const wrongKey of [generateApiKey(), 'not a key at all', user.apiKey.slice(0, -1) + (user.apiKey.endsWith('A') ? 'B' : 'A')]) {
        const refused = await t.app.inject({ method: 'POST', url: '/api/v1/sessions/unlock', headers: browser(cookie), payload: { api_key: wrongKey } });
        assert.equal(refused.statusCode, 403);
        assert.equal(refused.json().error.code, 'forbidden');
        assert.equal((await listMemories({ cookie })).statusCode, 403);
      }
      const denied = await t.store.listAudit(user.userId, 50);
      assert.ok(denied.filter((e) => e.action === 'session.unlock' && e.outcome === 'denied').length >= 3);

      const unlocked = await t.app.inject({ method: 'POST', url: '/api/v1/sessions/unlock', headers: browser(cookie), payload: { api_key: user.apiKey } });
      assert.equal(unlocked.statusCode, 200);
      assert.deepEqual(unlocked.json(), { unlocked: true });
      assert.match(String((await sessionRow(cookie))!.wrapped_key), /^gAAAAA/);
      const read = await listMemories({ cookie });
      assert.equal(read.statusCode, 200);
      assert.equal(read.json().items[0].content, 'the locked session cannot read this');
    });

    it('answers an unknown email and a wrong password identically, and audits both as denied', async () => {
      const user = await signUp(t.app);
      const countAnonymousDenials = async () =>
        Number(((await db.query("SELECT COUNT(*) AS n FROM audit WHERE user_id IS NULL AND action = 'session.login' AND outcome = 'denied'")) as [{ n: unknown }])[0].n);
      const anonymousBefore = await countAnonymousDenials();
      const wrongPassword = await logIn(user, 'not the right passphrase 1');
      const unknownEmail = await logIn({ email: `nobody-${Date.now()}@example.com`, password: user.password });
      for (const response of [wrongPassword, unknownEmail]) {
        assert.equal(response.statusCode, 401);
        assert.equal(response.headers['set-cookie'], undefined);
      }
      assert.equal(wrongPassword.body, unknownEmail.body);
      assert.deepEqual(wrongPassword.json(), { error: { code: 'unauthorized', message: 'the email or password is not right' } });
      const audit = await t.store.listAudit(user.userId, 50);
      assert.ok(audit.some((e) => e.action === 'session.login' && e.outcome === 'denied'));
      assert.equal(await countAnonymousDenials(), anonymousBefore + 1);
    });

    it('log-out answers 204, clears the cookie and deletes the session row with its wrapped key', async () => {
      const user = await signUp(t.app);
      const before = await sessionRow(user.cookie);
      assert.match(String(before!.wrapped_key), /^gAAAAA/);
      const response = await t.app.inject({ method: 'DELETE', url: '/api/v1/sessions/current', headers: browser(user.cookie) });
      assert.equal(response.statusCode, 204);
      assert.equal(response.body, '');
      const cleared = response.cookies.find((c) => c.name === 'anamnesis_session');
      assert.ok(cleared, 'the answer clears the cookie');
      assert.equal(cleared.value, '');
      assert.ok((cleared.expires && cleared.expires.getTime() <= Date.now()) || cleared.maxAge === 0);
      assert.equal(await sessionRow(user.cookie), undefined);
      assert.equal((await listMemories({ cookie: user.cookie })).statusCode, 401);
      // The API key is not a session: it still works.
      assert.equal((await listMemories(bearer(user.apiKey))).statusCode, 200);
    });

    it('lists the user’s sessions and revokes any of them; another user’s session id is 404', async () => {
      const user = await signUp(t.app);
      const second = cookieFrom(await logIn(user));
      const other = await signUp(t.app);
      const list = await t.app.inject({ method: 'GET', url: '/api/v1/sessions', headers: { cookie: user.cookie } });
      assert.equal(list.statusCode, 200);
      const sessions = list.json().sessions as Array<{ id: string; current: boolean; unlocked: boolean; label: string; created_at: string; expires_at: string }>;
      assert.equal(sessions.length, 2);
      assert.equal(sessions.filter((s) => s.current).length, 1);
      assert.deepEqual(sessions.map((s) => s.unlocked).sort(), [false, true]);
      for (const s of sessions) {
        assert.equal(Object.keys(s).includes('token_hash') || Object.keys(s).includes('wrapped_key'), false);
        assert.ok(Date.parse(s.expires_at) > Date.parse(s.created_at));
      }
      const secondId = sessions.find((s) => !s.current)!.id;
      const otherId = (await t.app.inject({ method: 'GET', url: '/api/v1/sessions', headers: { cookie: other.cookie } })).json().sessions[0].id;

      const foreign = await t.app.inject({ method: 'DELETE', url: `/api/v1/sessions/${otherId}`, headers: browser(user.cookie) });
      assert.equal(foreign.statusCode, 404);
      assert.equal(foreign.json().error.code, 'not_found');
      assert.equal((await listMemories({ cookie: other.cookie })).statusCode, 200, 'the other user’s session survives');
      const notAnId = await t.app.inject({ method: 'DELETE', url: '/api/v1/sessions/not-a-uuid', headers: browser(user.cookie) });
      assert.equal(notAnId.statusCode, 400);

      const revoked = await t.app.inject({ method: 'DELETE', url: `/api/v1/sessions/${secondId}`, headers: browser(user.cookie) });
      assert.equal(revoked.statusCode, 204);
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/sessions', headers: { cookie: second } })).statusCode, 401);
      assert.equal((await t.app.inject({ method: 'DELETE', url: `/api/v1/sessions/${secondId}`, headers: browser(user.cookie) })).statusCode, 404);
      assert.equal((await listMemories({ cookie: user.cookie })).statusCode, 200);
    });

    it('a session idle for over a week, or past its absolute limit, is refused with 401 and its row deleted', async () => {
      const user = await signUp(t.app);
      const idle = cookieFrom(await logIn(user));
      const old = cookieFrom(await logIn(user));
      const now = Date.now();
      await db.query('UPDATE sessions SET last_seen_at = ? WHERE id = ?', [now - 8 * DAY, (await sessionRow(idle))!.id]);
      // Seen a minute ago, but created a month and a day ago: the absolute cap applies.
      await db.query('UPDATE sessions SET created_at = ?, expires_at = ?, last_seen_at = ? WHERE id = ?', [now - 31 * DAY, now - DAY, now - 60_000, (await sessionRow(old))!.id]);
      for (const cookie of [idle, old]) {
        const response = await t.app.inject({ method: 'GET', url: '/api/v1/sessions', headers: { cookie } });
        assert.equal(response.statusCode, 401);
        assert.equal(response.json().error.code, 'unauthorized');
        assert.equal(await sessionRow(cookie), undefined, 'the expired row is deleted');
      }
      // Six days idle is still inside the limit; using it slides the idle window.
      await db.query('UPDATE sessions SET last_seen_at = ? WHERE id = ?', [now - 6 * DAY, (await sessionRow(user.cookie))!.id]);
      assert.equal((await listMemories({ cookie: user.cookie })).statusCode, 200);
      assert.ok(Number((await sessionRow(user.cookie))!.last_seen_at) >= now);
    });

    it('deleting the account needs the password; then every row of the user is gone and other users are untouched', async () => {
      const user = await signUp(t.app);
      const other = await signUp(t.app);
      for (const u of [user, other]) {
        await t.app.inject({ method: 'POST', url: '/api/v1/memories', headers: bearer(u.apiKey), payload: { content: 'something to remember', tags: ['x'] } });
        await t.app.inject({ method: 'POST', url: '/api/v1/import?format=mcp-memory-jsonl', headers: { ...bearer(u.apiKey), 'content-type': 'application/x-ndjson' }, payload: '{"type":"entity","name":"Ada","entityType":"person","observations":["wrote programs"]}\n' });
      }
      await logIn(user);
      const userRowsBefore = await rowsOfUser(db, user.userId);
      const otherRowsBefore = await rowsOfUser(db, other.userId);
      assert.deepEqual({ users: userRowsBefore.users, sessions: userRowsBefore.sessions, audit: userRowsBefore.audit! > 0 }, { users: 1, sessions: 2, audit: true });
      assert.equal((await sealedRecords(db, user.userId)).length, 2);

      const wrong = await t.app.inject({ method: 'DELETE', url: '/api/v1/accounts/current', headers: browser(user.cookie), payload: { password: 'not the right passphrase 1' } });
      assert.equal(wrong.statusCode, 403);
      assert.equal((await sealedRecords(db, user.userId)).length, 2);
      const missing = await t.app.inject({ method: 'DELETE', url: '/api/v1/accounts/current', headers: browser(user.cookie), payload: {} });
      assert.equal(missing.statusCode, 400);
      const byKey = await t.app.inject({ method: 'DELETE', url: '/api/v1/accounts/current', headers: bearer(user.apiKey), payload: { password: user.password } });
      assert.equal(byKey.statusCode, 401, 'deletion is a browser-session action');

      const deleted = await t.app.inject({ method: 'DELETE', url: '/api/v1/accounts/current', headers: browser(user.cookie), payload: { password: user.password } });
      assert.equal(deleted.statusCode, 204);
      assert.equal(deleted.cookies.find((c) => c.name === 'anamnesis_session')?.value, '');
      assert.deepEqual(await rowsOfUser(db, user.userId), { users: 0, sessions: 0, records: 0, audit: 0 });
      assert.deepEqual(await rowsOfUser(db, other.userId), otherRowsBefore);
      assert.equal((await listMemories(bearer(user.apiKey))).statusCode, 401);
      assert.equal((await listMemories({ cookie: user.cookie })).statusCode, 401);
      assert.equal((await logIn(user)).statusCode, 401);
      assert.equal((await listMemories(bearer(other.apiKey))).json().items.length, 1);
    });

    it('lost key: with the password and the typed confirmation, a new key is issued and the old records are deleted', async () => {
      const user = await signUp(t.app);
      const otherSession = cookieFrom(await logIn(user));
      await t.app.inject({ method: 'POST', url: '/api/v1/sessions/unlock', headers: browser(otherSession), payload: { api_key: user.apiKey } });
      for (const content of ['first', 'second', 'third']) {
        await t.app.inject({ method: 'POST', url: '/api/v1/memories', headers: bearer(user.apiKey), payload: { content } });
      }
      const reset = (payload: Record<string, unknown>) => t.app.inject({ method: 'POST', url: '/api/v1/keys/reset', headers: browser(user.cookie), payload });

      const unconfirmed = await reset({ password: user.password, confirm: 'delete my memories' });
      assert.equal(unconfirmed.statusCode, 400);
      assert.match(unconfirmed.json().error.message, /DELETE MY MEMORIES/);
      const wrongPassword = await reset({ password: 'not the right passphrase 1', confirm: 'DELETE MY MEMORIES' });
      assert.equal(wrongPassword.statusCode, 403);
      assert.equal((await sealedRecords(db, user.userId)).length, 3, 'refused attempts delete nothing');
      assert.equal((await listMemories(bearer(user.apiKey))).statusCode, 200);

      const done = await reset({ password: user.password, confirm: 'DELETE MY MEMORIES' });
      assert.equal(done.statusCode, 200);
      const { api_key: newKey, deleted_records } = done.json();
      assert.match(newKey, /^anm_[A-Za-z0-9_-]{43}$/);
      assert.notEqual(newKey, user.apiKey);
      assert.equal(deleted_records, 3);
      assert.equal((await rowsOfUser(db, user.userId)).records, 0);
      assert.equal((await listMemories(bearer(user.apiKey))).statusCode, 401);
      assert.deepEqual((await listMemories(bearer(newKey))).json().items, []);
      // This session was re-unlocked with the new key; the other one lost its wrapped copy of the old K.
      const created = await t.app.inject({ method: 'POST', url: '/api/v1/memories', headers: browser(user.cookie), payload: { content: 'after the reset' } });
      assert.equal(created.statusCode, 201);
      assert.equal((await listMemories(bearer(newKey))).json().items[0].content, 'after the reset');
      assert.equal((await listMemories({ cookie: otherSession })).json().error.code, 'locked');
      assert.equal((await sessionRow(otherSession))!.wrapped_key, null);
    });

    it('rehashes a weaker stored password hash at log-in, transparently', async () => {
      const user = await signUp(t.app);
      const weak = await hash(user.password, { algorithm: Algorithm.Argon2id, memoryCost: 4096, timeCost: 1, parallelism: 1 });
      await t.store.updatePasswordHash(user.userId, weak);
      const login = await logIn(user);
      assert.equal(login.statusCode, 200);
      const [row] = await db.query('SELECT password_hash FROM users WHERE id = ?', [user.userId]);
      assert.match(String(row!.password_hash), /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      assert.notEqual(row!.password_hash, weak);
      assert.equal((await logIn(user)).statusCode, 200, 'the new hash verifies the same password');
      assert.equal((await logIn(user, 'not the right passphrase 1')).statusCode, 401);
    });

    it('unlock and the other session routes refuse an API key in place of a session', async () => {
      const user = await signUp(t.app);
      const response = await t.app.inject({ method: 'GET', url: '/api/v1/sessions', headers: bearer(user.apiKey) });
      assert.equal(response.statusCode, 401);
      assert.equal(response.json().error.code, 'unauthorized');
      const noCookie = await t.app.inject({ method: 'POST', url: '/api/v1/sessions/unlock', headers: { origin: TEST_ORIGIN }, payload: { api_key: user.apiKey } });
      assert.equal(noCookie.statusCode, 401);
    });
  });
}
