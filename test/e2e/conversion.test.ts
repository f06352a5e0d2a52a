// Switching a server-key account to end-to-end mode, on both drivers: the
// browser re-encrypts every record under a fresh key and the finish is one
// transaction. A failure half-way (injected after every delete and the new
// records were written) or a batch with one token that is not ciphertext
// leaves every row as it was.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as opaque from '@serenity-kit/opaque';
import { fernetDecrypt } from '../../src/crypto/fernet.ts';
import type { Store, Transaction } from '../../src/storage/store.ts';
import { bearer, makeTestApp, signUp, type TestApp, type TestUser } from '../helpers/app.ts';
import { openDirectDb, testDrivers, type DirectDb } from '../http/support.ts';
import { auth, credentialsFor, finishRegistration, logIn, openRecord, passwordWrapKey, post, sealRecord, snapshotE2E } from './support.ts';

const T0 = Date.now();

/** A store whose transactions fail right after their E2E write, while `armed`: everything before it in the transaction has run. */
function failAfterE2EWrite(state: { armed: boolean }) {
  return (store: Store): Store => ({
    ...store,
    transaction: <T>(work: (tx: Transaction) => Promise<T>) =>
      store.transaction((tx) => work({
        ...tx,
        writeE2ERecords: async (...args: Parameters<Transaction['writeE2ERecords']>) => {
          const result = await tx.writeE2ERecords(...args);
          if (state.armed) throw new Error('injected failure after the new records were written');
          return result;
        },
      })),
  });
}

for (const driver of await testDrivers('switch to end-to-end mode')) {
  describe(`switching an account to end-to-end mode (${driver})`, () => {
    const fault = { armed: false };
    let t: TestApp;
    let db: DirectDb;
    before(async () => {
      t = await makeTestApp({ driver, wrapStore: failAfterE2EWrite(fault) });
      db = await openDirectDb(t);
    });
    after(async () => {
      await db.close();
      await t.close();
    });

    /** A server-key account with memories, a pending key rotation and an OAuth grant. */
    async function classicAccount(): Promise<TestUser & { memories: { id: string; content: string; tags: string[] }[] }> {
      const user = await signUp(t.app);
      for (const content of ['first memory', 'second memory', 'third, with a tag']) {
        const made = await t.app.inject({ method: 'POST', url: '/api/v1/memories', headers: bearer(user.apiKey), payload: { content, tags: content.includes('tag') ? ['tagged'] : [] } });
        assert.equal(made.statusCode, 201);
      }
      assert.equal((await t.app.inject({ method: 'POST', url: '/api/v1/keys/rotate', headers: bearer(user.apiKey) })).statusCode, 200);
      await t.store.putOAuthClient({ id: `client-${user.userId}`, kind: 'registered', name: 'Connector', redirectUris: ['https://c.example/cb'], createdAt: T0, lastUsedAt: null });
      const grant = await t.store.ensureOAuthGrant({ id: `grant-${user.userId}`, userId: user.userId, clientId: `client-${user.userId}`, scope: 'mcp', resource: 'http://localhost/mcp', createdAt: T0, lastUsedAt: T0 });
      await t.store.createOAuthToken({ tokenHash: randomBytes(32).toString('hex'), grantId: grant.id, kind: 'refresh', wrappedKey: 'gAAAA', expiresAt: T0 + 3600_000, usedAt: null, redirectUri: null, codeChallenge: null });
      const listed = await t.app.inject({ method: 'GET', url: '/api/v1/memories?limit=100', headers: bearer(user.apiKey) });
      return { ...user, memories: listed.json().items };
    }

    /** What the browser does: register a password, re-encrypt every memory under a fresh K, and send it all. */
    async function convert(user: Awaited<ReturnType<typeof classicAccount>>, tamper?: (writes: Record<string, unknown>[]) => void) {
      const prepared = await prepare(user, tamper);
      return { ...prepared, finish: await prepared.send() };
    }

    /** The start, and the finish ready to send. */
    async function prepare(user: Awaited<ReturnType<typeof classicAccount>>, tamper?: (writes: Record<string, unknown>[]) => void) {
      const password = 'the end-to-end password of this account';
      const reg = opaque.client.startRegistration({ password });
      const start = await post(t.app, '/api/v1/e2e/conversions/start', { registration_request: reg.registrationRequest }, bearer(user.apiKey));
      assert.equal(start.statusCode, 200);
      const { registration_id, user_id, registration_response } = start.json() as Record<string, string>;
      assert.equal(user_id, user.userId);
      const record = finishRegistration(password, reg.clientRegistrationState, registration_response!);
      const key = randomBytes(32);
      const writes: Record<string, unknown>[] = user.memories.map((m) => ({ id: m.id, base_version: 0, version: 1, token: sealRecord(key, m.id, 1, { kind: 'memory', ...m }) }));
      writes.push({ id: '_manifest', base_version: 0, version: 1, token: sealRecord(key, '_manifest', 1, { kind: 'manifest', count: user.memories.length, digest: 'x' }) });
      tamper?.(writes);
      const body = { registration_id, ...credentialsFor(user.userId, record, key, randomBytes(20)), writes };
      return { send: () => post(t.app, '/api/v1/e2e/conversions/finish', body, bearer(user.apiKey)), key, password };
    }

    it('one transaction: the E2E account and its records appear; old records, index rows, API key, sessions, pending key and grants go', async () => {
      const user = await classicAccount();
      const { finish, key, password } = await convert(user);
      assert.equal(finish.statusCode, 200);
      const body = finish.json() as { user_id: string; token: string; cursor: number };
      assert.equal(body.user_id, user.userId);
      assert.equal(body.cursor, user.memories.length + 1);

      const [row] = await db.query('SELECT mode, password_hash, api_key_hash, pending_key_hash, pending_key_wrap FROM users WHERE id = ?', [user.userId]);
      assert.deepEqual({ ...row }, { mode: 'e2e', password_hash: null, api_key_hash: null, pending_key_hash: null, pending_key_wrap: null });
      for (const table of ['records', 'sessions', 'oauth_grants']) {
        assert.deepEqual(await db.query(`SELECT * FROM ${table} WHERE user_id = ?`, [user.userId]), [], `${table} emptied`);
      }
      // The API key and the browser session are dead; the E2E token works.
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/memories', headers: bearer(user.apiKey) })).statusCode, 401);
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/accounts/current', headers: { cookie: user.cookie } })).statusCode, 401);
      const feed = (await t.app.inject({ method: 'GET', url: '/api/v1/e2e/changes', headers: auth(body.token) })).json() as { changes: { id: string; token: string }[] };
      assert.equal(feed.changes.length, user.memories.length + 1);
      const contents = feed.changes.filter((c) => c.id !== '_manifest').map((c) => (openRecord(key, c.token).record as { content: string }).content).sort();
      assert.deepEqual(contents, user.memories.map((m) => m.content).sort());
      // The account now logs in by OPAQUE, and the password wrap opens the new key.
      const login = await logIn(t.app, user.email, password);
      assert.equal(login.finish!.statusCode, 200);
      assert.deepEqual(fernetDecrypt(passwordWrapKey(login.exportKey!, user.userId), (login.finish!.json() as { password_wrap: string }).password_wrap), key);
      const audits = await db.query("SELECT outcome FROM audit WHERE user_id = ? AND action = 'e2e.convert'", [user.userId]);
      assert.deepEqual(audits.map((a) => a.outcome), ['ok']);
    });

    it('a failure half-way, after every delete and the new records, changes nothing', async () => {
      const user = await classicAccount();
      const beforeRows = await snapshotE2E(db);
      const grantsBefore = await db.query('SELECT * FROM oauth_grants ORDER BY id');
      fault.armed = true;
      let answer;
      try {
        answer = (await convert(user)).finish;
      } finally {
        fault.armed = false;
      }
      assert.equal(answer.statusCode, 500);
      const afterRows = await snapshotE2E(db);
      // The flow step was used up before the transaction; every account row is as it was.
      assert.deepEqual({ ...afterRows, e2e_pending: [] }, { ...beforeRows, e2e_pending: [] });
      assert.deepEqual(await db.query('SELECT * FROM oauth_grants ORDER BY id'), grantsBefore);
      const listed = await t.app.inject({ method: 'GET', url: '/api/v1/memories?limit=100', headers: bearer(user.apiKey) });
      assert.deepEqual(listed.json().items, user.memories, 'the API key still opens every memory');
    });

    it('a batch with one token that is not ciphertext is refused with not_ciphertext, and nothing changes', async () => {
      const user = await classicAccount();
      const beforeRows = await snapshotE2E(db);
      const { finish } = await convert(user, (writes) => {
        writes[1]!.token = JSON.stringify({ content: 'plaintext where ciphertext belongs' });
      });
      assert.equal(finish.statusCode, 400);
      assert.equal(finish.json().error.code, 'not_ciphertext');
      assert.deepEqual(finish.json().error.fields, ['writes.1.token']);
      const afterRows = await snapshotE2E(db);
      assert.deepEqual({ ...afterRows, e2e_pending: [] }, { ...beforeRows, e2e_pending: [] });
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/memories', headers: bearer(user.apiKey) })).statusCode, 200);
    });

    it('two switches of one account at once: one wins whole, the other changes nothing', async () => {
      const user = await classicAccount();
      const first = await prepare(user);
      const second = await prepare(user);
      const send = async (p: typeof first) => ({ ...p, finish: await p.send() });
      const [a, b] = await Promise.all([send(first), send(second)]);
      const lost = a.finish.statusCode === 200 ? b.finish : a.finish;
      assert.equal([a.finish.statusCode, b.finish.statusCode].filter((s) => s === 200).length, 1);
      // Refused when it authenticated after the winner committed (the API key is gone), or inside its transaction if before.
      assert.ok((lost.statusCode === 401 && lost.json().error.code === 'unauthorized') || (lost.statusCode === 403 && lost.json().error.code === 'e2e_account'), lost.body);
      const won = a.finish.statusCode === 200 ? a : b;
      const feed = (await t.app.inject({ method: 'GET', url: '/api/v1/e2e/changes', headers: auth((won.finish.json() as { token: string }).token) })).json() as { changes: { token: string }[] };
      assert.equal(feed.changes.length, user.memories.length + 1);
      for (const change of feed.changes) openRecord(won.key, change.token); // all under the winner's key
    });

    it('needs a server-key credential, and a conversion id of this account', async () => {
      const a = await classicAccount();
      const b = await classicAccount();
      const reg = opaque.client.startRegistration({ password: 'pw of a' });
      assert.equal((await post(t.app, '/api/v1/e2e/conversions/start', { registration_request: reg.registrationRequest })).statusCode, 401);
      const started = (await post(t.app, '/api/v1/e2e/conversions/start', { registration_request: reg.registrationRequest }, bearer(a.apiKey))).json() as Record<string, string>;
      const record = finishRegistration('pw of a', reg.clientRegistrationState, started.registration_response!);
      // b cannot finish a's conversion.
      const stolen = await post(t.app, '/api/v1/e2e/conversions/finish', { registration_id: started.registration_id, ...credentialsFor(a.userId, record, randomBytes(32), randomBytes(20)), writes: [] }, bearer(b.apiKey));
      assert.equal(stolen.statusCode, 400);
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/memories', headers: bearer(b.apiKey) })).statusCode, 200);
    });
  });
}
