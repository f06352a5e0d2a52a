// Sign-up, log-in from a second device, and sync through the changes feed,
// driven by the real OPAQUE client and real Fernet tokens, on both drivers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomBytes, randomUUID } from 'node:crypto';
import * as opaque from '@serenity-kit/opaque';
import { fernetDecrypt } from '../../src/crypto/fernet.ts';
import type { TestApp } from '../helpers/app.ts';
import { appWithDirectDb, testDrivers, type DirectDb } from '../http/support.ts';
import { auth, credentialsFor, finishRegistration, logIn, newEmail, PASSWORD, openRecord, passwordWrapKey, post, sealRecord, signUpE2E, snapshotE2E } from './support.ts';

for (const driver of await testDrivers('end-to-end sync')) {
  describe(`end-to-end accounts and sync (${driver})`, () => {
    let t: TestApp;
    let db: DirectDb;
    appWithDirectDb(driver, (app, direct) => ([t, db] = [app, direct]));

    const changes = (token: string, query = '') => t.app.inject({ method: 'GET', url: `/api/v1/e2e/changes${query}`, headers: auth(token) });
    const write = (token: string, writes: unknown[]) => post(t.app, '/api/v1/e2e/changes', { writes }, auth(token));

    it('signs up, and the account holds no password hash, no API key and nothing readable', async () => {
      const user = await signUpE2E(t.app);
      assert.match(user.token, /^ane_[A-Za-z0-9_-]{43}$/);
      const [row] = await db.query('SELECT mode, password_hash, api_key_hash FROM users WHERE id = ?', [user.userId]);
      assert.deepEqual({ ...row }, { mode: 'e2e', password_hash: null, api_key_hash: null });
      const account = await t.app.inject({ method: 'GET', url: '/api/v1/e2e/account', headers: auth(user.token) });
      assert.equal(account.statusCode, 200);
      assert.deepEqual(account.json(), { user_id: user.userId, email: user.email, cursor: 0, records: 0 });
      const [session] = await db.query('SELECT token_hash FROM e2e_sessions WHERE user_id = ?', [user.userId]);
      assert.notEqual(session!.token_hash, user.token);
      assert.ok(!JSON.stringify(await snapshotE2E(db)).includes(user.token));
    });

    it('the same email cannot sign up twice, in either mode', async () => {
      const user = await signUpE2E(t.app);
      const again = await post(t.app, '/api/v1/e2e/registrations', { email: user.email.toUpperCase(), registration_request: 'A'.repeat(43) });
      assert.equal(again.statusCode, 409);
      assert.equal(again.json().error.code, 'email_taken');
      const classic = await post(t.app, '/api/v1/accounts', { email: user.email, password: 'another long passphrase 77' });
      assert.equal(classic.statusCode, 409);
      assert.equal(classic.json().error.code, 'conflict');
    });

    it('two registrations of one new email started together: the first to finish gets it, the other 409 email_taken', async () => {
      await opaque.ready;
      const email = newEmail();
      const starts = await Promise.all([0, 1].map(async () => {
        const reg = opaque.client.startRegistration({ password: PASSWORD });
        const answer = (await post(t.app, '/api/v1/e2e/registrations', { email, registration_request: reg.registrationRequest })).json() as { registration_id: string; user_id: string; registration_response: string };
        return { ...answer, record: finishRegistration(PASSWORD, reg.clientRegistrationState, answer.registration_response) };
      }));
      const finish = (s: (typeof starts)[number]) =>
        post(t.app, '/api/v1/e2e/accounts', { registration_id: s.registration_id, ...credentialsFor(s.user_id, s.record, randomBytes(32), randomBytes(20)) });
      assert.equal((await finish(starts[0]!)).statusCode, 201);
      const second = await finish(starts[1]!);
      assert.equal(second.statusCode, 409);
      assert.equal(second.json().error.code, 'email_taken');
      assert.deepEqual(await db.query('SELECT id FROM users WHERE id = ?', [starts[1]!.user_id]), []);
    });

    it('a second device logs in with the password, unwraps K, and sees the first device\'s writes', async () => {
      const first = await signUpE2E(t.app);
      const id = randomUUID();
      const token = sealRecord(first.key, id, 1, { kind: 'memory', content: 'the cat is called Ada' });
      const written = await write(first.token, [{ id, base_version: 0, version: 1, token }]);
      assert.equal(written.statusCode, 200);
      assert.deepEqual(written.json(), { cursor: 1, applied: [{ id, version: 1, seq: 1 }] });

      const { start, finish, exportKey } = await logIn(t.app, first.email, first.password);
      assert.equal(start.statusCode, 200);
      assert.equal(finish!.statusCode, 200);
      const second = finish!.json() as { user_id: string; token: string; password_wrap: string };
      assert.equal(second.user_id, first.userId);
      assert.notEqual(second.token, first.token);
      const key = fernetDecrypt(passwordWrapKey(exportKey!, second.user_id), second.password_wrap);
      assert.deepEqual(key, first.key);

      const feed = await changes(second.token, '?cursor=0');
      assert.equal(feed.statusCode, 200);
      const body = feed.json() as { changes: { id: string; seq: number; version: number; token: string; deleted: boolean }[]; cursor: number; more: boolean };
      assert.deepEqual(body.changes.map((c) => ({ ...c, token: undefined })), [{ id, seq: 1, version: 1, token: undefined, deleted: false }]);
      assert.deepEqual(openRecord(key, body.changes[0]!.token).record, { kind: 'memory', content: 'the cat is called Ada' });
      assert.equal(body.cursor, 1);
      assert.equal(body.more, false);
      // Nothing new after the cursor.
      assert.deepEqual((await changes(second.token, '?cursor=1')).json(), { changes: [], cursor: 1, more: false });
    });

    it('a wrong password gets 401 invalid_credentials, no session, and the account is unchanged', async () => {
      const user = await signUpE2E(t.app);
      const beforeRows = await snapshotE2E(db);
      const { finish } = await logIn(t.app, user.email, 'not the password at all');
      assert.equal(finish!.statusCode, 401);
      assert.equal(finish!.json().error.code, 'invalid_credentials');
      const afterRows = await snapshotE2E(db);
      // Only a metadata audit line is added.
      assert.deepEqual({ ...afterRows, audit: [] }, { ...beforeRows, audit: [] });
      const audits = await db.query('SELECT action, outcome FROM audit WHERE user_id = ? ORDER BY id', [user.userId]);
      assert.deepEqual(audits.map((a) => `${a.action}:${a.outcome}`), ['e2e.account.create:ok', 'e2e.session.login:denied']);
    });

    it('an unknown email gets a log-in answer of the same shape, then 401 like a wrong password', async () => {
      const known = await signUpE2E(t.app);
      const real = await logIn(t.app, known.email, 'wrong password here');
      const unknown = await logIn(t.app, newEmail(), 'wrong password here');
      assert.equal(unknown.start.statusCode, 200);
      const a = real.start.json() as Record<string, string>;
      const b = unknown.start.json() as Record<string, string>;
      assert.deepEqual(Object.keys(b).sort(), Object.keys(a).sort());
      assert.equal(b.login_response!.length, a.login_response!.length);
      assert.equal(b.login_id!.length, a.login_id!.length);
      assert.equal(unknown.finish!.statusCode, 401);
      assert.deepEqual(unknown.finish!.json(), real.finish!.json());
    });

    it('writes are versioned: a stale base version is a 409 with the server\'s rows, and nothing changes', async () => {
      const user = await signUpE2E(t.app);
      const id = randomUUID();
      const other = randomUUID();
      assert.equal((await write(user.token, [{ id, base_version: 0, version: 1, token: sealRecord(user.key, id, 1, { n: 1 }) }])).statusCode, 200);
      assert.equal((await write(user.token, [{ id, base_version: 1, version: 2, token: sealRecord(user.key, id, 2, { n: 2 }) }])).statusCode, 200);
      const beforeRows = await snapshotE2E(db);
      const stale = await write(user.token, [
        { id: other, base_version: 0, version: 1, token: sealRecord(user.key, other, 1, { n: 'new' }) },
        { id, base_version: 1, version: 2, token: sealRecord(user.key, id, 2, { n: 'offline edit' }) },
        { id: 'never-seen', base_version: 4, version: 5, token: sealRecord(user.key, 'never-seen', 5, {}) },
      ]);
      assert.equal(stale.statusCode, 409);
      const error = stale.json().error as { code: string; conflicts: { id: string; seq: number; version: number; token: string | null }[] };
      assert.equal(error.code, 'conflict');
      assert.deepEqual(error.conflicts.map((c) => [c.id, c.version, c.seq]), [[id, 2, 2], ['never-seen', 0, 0]]);
      assert.deepEqual((openRecord(user.key, error.conflicts[0]!.token!)).record, { n: 2 });
      assert.equal(error.conflicts[1]!.token, null);
      assert.deepEqual(await snapshotE2E(db), beforeRows, 'rows byte-identical before and after');
    });

    it('tombstones travel through the feed; the feed gives each id once at its latest seq, in pages', async () => {
      const user = await signUpE2E(t.app);
      const ids = Array.from({ length: 5 }, () => randomUUID());
      await write(user.token, ids.map((id) => ({ id, base_version: 0, version: 1, token: sealRecord(user.key, id, 1, { id }) })));
      const gone = ids[1]!;
      const deleted = await write(user.token, [{ id: gone, base_version: 1, version: 2, token: sealRecord(user.key, gone, 2, null), deleted: true }]);
      assert.deepEqual(deleted.json(), { cursor: 6, applied: [{ id: gone, version: 2, seq: 6 }] });
      const page1 = (await changes(user.token, '?cursor=0&limit=3')).json() as { changes: { id: string; seq: number; deleted: boolean }[]; cursor: number; more: boolean };
      assert.deepEqual(page1.changes.map((c) => c.seq), [1, 3, 4]);
      assert.equal(page1.more, true);
      const page2 = (await changes(user.token, `?cursor=${page1.cursor}&limit=3`)).json() as typeof page1;
      assert.deepEqual(page2.changes.map((c) => [c.seq, c.deleted]), [[5, false], [6, true]]);
      assert.equal(page2.more, false);
      assert.equal(openRecord(user.key, (page2.changes[1] as unknown as { token: string }).token).record, null);
      const account = await t.app.inject({ method: 'GET', url: '/api/v1/e2e/account', headers: auth(user.token) });
      assert.deepEqual(account.json(), { user_id: user.userId, email: user.email, cursor: 6, records: 4 });
    });

    it('one account never sees another\'s records', async () => {
      const a = await signUpE2E(t.app);
      const b = await signUpE2E(t.app);
      const id = randomUUID();
      await write(a.token, [{ id, base_version: 0, version: 1, token: sealRecord(a.key, id, 1, {}) }]);
      assert.deepEqual((await changes(b.token)).json(), { changes: [], cursor: 0, more: false });
      // The same id is b's own, from version 1.
      assert.equal((await write(b.token, [{ id, base_version: 0, version: 1, token: sealRecord(b.key, id, 1, {}) }])).statusCode, 200);
    });

    it('two devices writing the same record at once: one wins, the other gets 409 with the winner\'s row', async () => {
      const user = await signUpE2E(t.app);
      const second = ((await logIn(t.app, user.email, user.password)).finish!.json() as { token: string }).token;
      const id = randomUUID();
      await write(user.token, [{ id, base_version: 0, version: 1, token: sealRecord(user.key, id, 1, { n: 0 }) }]);
      const [a, b] = await Promise.all([
        write(user.token, [{ id, base_version: 1, version: 2, token: sealRecord(user.key, id, 2, { by: 'laptop' }) }]),
        write(second, [{ id, base_version: 1, version: 2, token: sealRecord(user.key, id, 2, { by: 'phone' }) }]),
      ]);
      assert.deepEqual([a.statusCode, b.statusCode].sort(), [200, 409]);
      const lost = a.statusCode === 409 ? a : b;
      const winner = a.statusCode === 200 ? 'laptop' : 'phone';
      const [conflict] = lost.json().error.conflicts as { token: string; version: number; seq: number }[];
      assert.deepEqual([conflict!.version, conflict!.seq], [2, 2]);
      assert.deepEqual(openRecord(user.key, conflict!.token).record, { by: winner });
    });

    it('deleting the account removes every row of it, the E2E ones too, and ends its sessions', async () => {
      const user = await signUpE2E(t.app);
      const id = randomUUID();
      await write(user.token, [{ id, base_version: 0, version: 1, token: sealRecord(user.key, id, 1, {}) }]);
      const deleted = await t.app.inject({ method: 'DELETE', url: '/api/v1/e2e/account', headers: auth(user.token) });
      assert.equal(deleted.statusCode, 204);
      for (const table of ['users', 'e2e_accounts', 'e2e_records', 'e2e_sessions', 'e2e_pending', 'audit']) {
        const column = table === 'users' ? 'id' : 'user_id';
        assert.deepEqual(await db.query(`SELECT * FROM ${table} WHERE ${column} = ?`, [user.userId]), [], table);
      }
      assert.equal((await changes(user.token)).statusCode, 401);
      const audit = await db.query("SELECT user_id FROM audit WHERE action = 'e2e.account.delete'");
      assert.ok(audit.length >= 1 && audit.every((a) => a.user_id === null), 'audited without naming the deleted user');
      // The address is free again.
      await signUpE2E(t.app, { email: user.email });
    });

    it('a session unused for 30 days ends; a flow step unused for 10 minutes lapses', async () => {
      const user = await signUpE2E(t.app);
      await db.query('UPDATE e2e_sessions SET last_seen_at = last_seen_at - ? WHERE user_id = ?', [30 * 24 * 3600_000, user.userId]);
      assert.equal((await changes(user.token)).statusCode, 401);
      assert.deepEqual(await db.query('SELECT id FROM e2e_sessions WHERE user_id = ?', [user.userId]), []);

      await opaque.ready;
      const started = opaque.client.startLogin({ password: user.password });
      const start = (await post(t.app, '/api/v1/e2e/sessions/start', { email: user.email, start_login_request: started.startLoginRequest })).json() as Record<string, string>;
      await db.query('UPDATE e2e_pending SET expires_at = expires_at - ? WHERE user_id = ?', [10 * 60_000, user.userId]);
      const finished = opaque.client.finishLogin({ clientLoginState: started.clientLoginState, loginResponse: start.login_response!, password: user.password, keyStretching: 'memory-constrained' });
      const late = await post(t.app, '/api/v1/e2e/sessions/finish', { login_id: start.login_id, finish_login_request: finished!.finishLoginRequest });
      assert.equal(late.statusCode, 401, 'the right password, too late');
    });

    it('ending a session makes its token worthless; the other device stays in', async () => {
      const user = await signUpE2E(t.app);
      const { finish } = await logIn(t.app, user.email, user.password);
      const second = (finish!.json() as { token: string }).token;
      const ended = await t.app.inject({ method: 'DELETE', url: '/api/v1/e2e/sessions/current', headers: auth(second) });
      assert.equal(ended.statusCode, 204);
      assert.equal((await changes(second)).statusCode, 401);
      assert.equal((await changes(user.token)).statusCode, 200);
    });
  });
}

