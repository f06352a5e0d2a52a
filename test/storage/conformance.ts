// One behavioural contract for every Store driver. Each test gets a fresh,
// empty store from `makeStore` and disposes of it afterwards.
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { StorageError } from '../../src/storage/common.ts';
import {
  UniqueViolation,
  type AuditEvent,
  type OAuthClientRow,
  type OAuthGrantRow,
  type OAuthTokenRow,
  type RecordKind,
  type RecordRow,
  type SessionRow,
  type Store,
  type ServerKeyUserRow,
  type E2ECredentials,
  type E2EPendingRow,
  type E2ESessionRow,
  type E2EUserRow,
  type E2EWrite,
} from '../../src/storage/store.ts';

export type StoreFactory = () => Promise<{ store: Store; cleanup: () => Promise<void> }>;

// Epoch milliseconds well past 2^31 and 2^32: a 32-bit column or a BIGINT
// returned as a string would show here.
const T0 = 1_767_225_600_123;
const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const fakeToken = () => `gAAAAA${randomBytes(72).toString('base64url')}`;

export function newUser(over: Partial<ServerKeyUserRow> = {}): ServerKeyUserRow {
  const id = randomUUID();
  return {
    mode: 'server-key',
    id,
    email: `${id.slice(0, 8)}@example.test`,
    passwordHash: `$argon2id$v=19$m=19456,t=2,p=1$${randomBytes(16).toString('base64')}$${randomBytes(32).toString('base64')}`,
    apiKeyHash: hex(32),
    pendingKeyHash: null,
    pendingKeyWrap: null,
    pendingKeyExpiresAt: null,
    createdAt: T0,
    ...over,
  };
}

export function newSession(userId: string, over: Partial<SessionRow> = {}): SessionRow {
  return {
    id: randomUUID(),
    tokenHash: hex(32),
    userId,
    wrappedKey: fakeToken(),
    createdAt: T0,
    lastSeenAt: T0,
    expiresAt: T0 + 30 * 86_400_000,
    label: 'Firefox',
    ...over,
  };
}

export function newOAuthClient(over: Partial<OAuthClientRow> = {}): OAuthClientRow {
  return { id: randomUUID(), kind: 'registered', name: 'Test client', redirectUris: ['https://client.example/callback'], createdAt: T0, lastUsedAt: null, ...over };
}

export function newOAuthGrant(userId: string, clientId: string, over: Partial<OAuthGrantRow> = {}): OAuthGrantRow {
  return { id: randomUUID(), userId, clientId, scope: 'memory', resource: 'https://anamnesis.example/mcp', createdAt: T0, lastUsedAt: T0, ...over };
}

export function newOAuthToken(grantId: string, over: Partial<OAuthTokenRow> = {}): OAuthTokenRow {
  return { tokenHash: hex(32), grantId, kind: 'access', wrappedKey: fakeToken(), expiresAt: T0 + 3600_000, usedAt: null, redirectUri: null, codeChallenge: null, ...over };
}

export function newRecord(userId: string, over: Partial<RecordRow> = {}): RecordRow {
  return {
    userId,
    id: randomUUID(),
    kind: 'memory',
    token: fakeToken(),
    lookup: null,
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}

const byNewest = (a: RecordRow, b: RecordRow) =>
  b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
const byOldest = (a: RecordRow, b: RecordRow) => -byNewest(a, b);
const ids = (rows: { id: string }[]) => rows.map((r) => r.id);

function assertNumbers(row: object, keys: string[]): void {
  for (const key of keys) {
    const value = (row as Record<string, unknown>)[key];
    if (value !== null) assert.equal(typeof value, 'number', `${key} must be a JS number, got ${typeof value}`);
  }
}

async function rejectsWithUnique(p: Promise<unknown>, what: UniqueViolation['what']): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof UniqueViolation, `expected UniqueViolation, got ${String(err)}`);
    assert.equal(err.what, what);
    return true;
  });
}

/** Every string reachable from an error: message, stack, cause chain, own properties. */
function errorText(err: unknown, depth = 0): string {
  if (depth > 5 || err === null || err === undefined) return '';
  if (typeof err !== 'object') return String(err);
  const e = err as Record<string, unknown> & { cause?: unknown };
  const own = Object.getOwnPropertyNames(e)
    .filter((k) => k !== 'cause')
    .map((k) => {
      try {
        return String(e[k]);
      } catch {
        return '';
      }
    });
  return [String(err), ...own, errorText(e.cause, depth + 1)].join('\n');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function describeStoreConformance(name: string, makeStore: StoreFactory): void {
  describe(`Store conformance: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
    });
    afterEach(async () => {
      await cleanup();
    });

    it('names its driver', () => {
      assert.ok(store.driver === 'sqlite' || store.driver === 'postgres');
    });

    describe('users', () => {
      it('creates a user and finds it by id, email and API key hash, every field intact', async () => {
        const u = newUser({
          pendingKeyHash: hex(32),
          pendingKeyWrap: fakeToken(),
          pendingKeyExpiresAt: T0 + 3_600_000,
        });
        await store.createUser(u);
        for (const found of [
          await store.findUserById(u.id),
          await store.findUserByEmail(u.email),
          await store.findUserByApiKeyHash(u.apiKeyHash),
          await store.findUserByPendingKeyHash(u.pendingKeyHash!),
        ]) {
          assert.deepEqual(found, u);
          assertNumbers(found!, ['createdAt', 'pendingKeyExpiresAt']);
        }
        assert.equal(await store.findUserById(randomUUID()), null);
        assert.equal(await store.findUserByEmail('nobody@example.test'), null);
        assert.equal(await store.findUserByApiKeyHash(hex(32)), null);
        assert.equal(await store.findUserByPendingKeyHash(hex(32)), null);
      });

      it('rejects a second account with the same email as UniqueViolation(email), changing nothing', async () => {
        const a = newUser();
        await store.createUser(a);
        const b = newUser({ email: a.email });
        await rejectsWithUnique(store.createUser(b), 'email');
        assert.equal(await store.findUserById(b.id), null);
        assert.deepEqual(await store.findUserByEmail(a.email), a);
      });

      it('rejects a second account with the same API key hash as UniqueViolation(api-key)', async () => {
        const a = newUser();
        await store.createUser(a);
        const b = newUser({ apiKeyHash: a.apiKeyHash });
        await rejectsWithUnique(store.createUser(b), 'api-key');
        assert.equal(await store.findUserById(b.id), null);
        // Switching to a hash another user holds is refused too.
        const c = newUser();
        await store.createUser(c);
        await rejectsWithUnique(store.setApiKeyHash(c.id, a.apiKeyHash), 'api-key');
        assert.deepEqual(await store.findUserById(c.id), c);
      });

      it('updates the password hash of one user only', async () => {
        const a = newUser();
        const b = newUser();
        await store.createUser(a);
        await store.createUser(b);
        const phc = '$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3aGFzaA';
        await store.updatePasswordHash(a.id, phc);
        assert.deepEqual(await store.findUserById(a.id), { ...a, passwordHash: phc });
        assert.deepEqual(await store.findUserById(b.id), b);
      });

      it('sets, finds and clears a pending key', async () => {
        const a = newUser();
        const b = newUser();
        await store.createUser(a);
        await store.createUser(b);
        const pending = { hash: hex(32), wrap: fakeToken(), expiresAt: T0 + 3_600_000 };
        await store.setPendingKey(a.id, pending);
        const found = await store.findUserByPendingKeyHash(pending.hash);
        assert.deepEqual(found, {
          ...a,
          pendingKeyHash: pending.hash,
          pendingKeyWrap: pending.wrap,
          pendingKeyExpiresAt: pending.expiresAt,
        });
        assertNumbers(found!, ['pendingKeyExpiresAt']);
        // The current key still finds the user while a rotation is pending.
        assert.equal((await store.findUserByApiKeyHash(a.apiKeyHash))?.id, a.id);
        assert.deepEqual(await store.findUserById(b.id), b);

        await store.setPendingKey(a.id, null);
        assert.equal(await store.findUserByPendingKeyHash(pending.hash), null);
        assert.deepEqual(await store.findUserById(a.id), a);
      });

      it('setApiKeyHash switches the key and clears any pending key', async () => {
        const a = newUser();
        await store.createUser(a);
        const pending = { hash: hex(32), wrap: fakeToken(), expiresAt: T0 + 3_600_000 };
        await store.setPendingKey(a.id, pending);
        await store.setApiKeyHash(a.id, pending.hash);
        assert.deepEqual(await store.findUserById(a.id), { ...a, apiKeyHash: pending.hash });
        assert.equal(await store.findUserByApiKeyHash(a.apiKeyHash), null);
        assert.equal((await store.findUserByApiKeyHash(pending.hash))?.id, a.id);
        assert.equal(await store.findUserByPendingKeyHash(pending.hash), null);
      });

      it("deleteUser removes the user's sessions, records and audit rows and nobody else's", async () => {
        const a = newUser();
        const b = newUser();
        await store.createUser(a);
        await store.createUser(b);
        const sa = newSession(a.id);
        const sb = newSession(b.id);
        await store.createSession(sa);
        await store.createSession(sb);
        const ra = [newRecord(a.id), newRecord(a.id, { kind: 'entity', lookup: hex(32) })];
        const rb = [newRecord(b.id), newRecord(b.id, { kind: 'entity', lookup: ra[1]!.lookup })];
        await store.putRecords([...ra, ...rb]);
        await store.appendAudit({ userId: a.id, action: 'account.create', outcome: 'ok', at: T0 });
        await store.appendAudit({ userId: b.id, action: 'account.create', outcome: 'ok', at: T0 });

        await store.deleteUser(a.id);

        assert.equal(await store.findUserById(a.id), null);
        assert.equal(await store.findUserByEmail(a.email), null);
        assert.equal(await store.findSessionByTokenHash(sa.tokenHash), null);
        assert.deepEqual(await store.listSessions(a.id), []);
        assert.deepEqual(await store.allRecords(a.id), []);
        assert.deepEqual(await store.listAudit(a.id, 10), []);

        assert.deepEqual(await store.findUserById(b.id), b);
        assert.deepEqual(await store.findSessionByTokenHash(sb.tokenHash), sb);
        assert.deepEqual(await store.allRecords(b.id), [...rb].sort(byOldest));
        assert.equal((await store.listAudit(b.id, 10)).length, 1);

        // Deleting an unknown user is harmless.
        await store.deleteUser(randomUUID());
        assert.deepEqual(await store.findUserById(b.id), b);
      });
    });

    describe('sessions', () => {
      it('creates a session, finds it by token hash and lists the user\'s sessions newest first', async () => {
        const a = newUser();
        const b = newUser();
        await store.createUser(a);
        await store.createUser(b);
        const s1 = newSession(a.id, { createdAt: T0, wrappedKey: null, label: 'Safari' });
        const s2 = newSession(a.id, { createdAt: T0 + 1000, lastSeenAt: T0 + 1000 });
        const s3 = newSession(b.id);
        for (const s of [s1, s2, s3]) await store.createSession(s);

        const found = await store.findSessionByTokenHash(s1.tokenHash);
        assert.deepEqual(found, s1);
        assertNumbers(found!, ['createdAt', 'lastSeenAt', 'expiresAt']);
        assert.equal(await store.findSessionByTokenHash(hex(32)), null);
        assert.deepEqual(await store.listSessions(a.id), [s2, s1]);
        assert.deepEqual(await store.listSessions(b.id), [s3]);
        assert.deepEqual(await store.listSessions(randomUUID()), []);
      });

      it('touches a session and sets or clears its wrapped key', async () => {
        const a = newUser();
        await store.createUser(a);
        const s = newSession(a.id, { wrappedKey: null });
        const other = newSession(a.id, { wrappedKey: null });
        await store.createSession(s);
        await store.createSession(other);

        await store.touchSession(s.id, T0 + 60_000);
        assert.deepEqual(await store.findSessionByTokenHash(s.tokenHash), { ...s, lastSeenAt: T0 + 60_000 });

        const wrap = fakeToken();
        await store.setSessionWrappedKey(s.id, wrap);
        assert.equal((await store.findSessionByTokenHash(s.tokenHash))?.wrappedKey, wrap);
        assert.equal((await store.findSessionByTokenHash(other.tokenHash))?.wrappedKey, null);

        await store.setSessionWrappedKey(s.id, null);
        assert.deepEqual(await store.findSessionByTokenHash(s.tokenHash), { ...s, lastSeenAt: T0 + 60_000 });
      });

      it('clearWrappedKeys locks every session of one user and keeps them', async () => {
        const a = newUser();
        const b = newUser();
        await store.createUser(a);
        await store.createUser(b);
        const a1 = newSession(a.id);
        const a2 = newSession(a.id);
        const b1 = newSession(b.id);
        for (const s of [a1, a2, b1]) await store.createSession(s);

        await store.clearWrappedKeys(a.id);

        assert.deepEqual(await store.findSessionByTokenHash(a1.tokenHash), { ...a1, wrappedKey: null });
        assert.deepEqual(await store.findSessionByTokenHash(a2.tokenHash), { ...a2, wrappedKey: null });
        assert.deepEqual(await store.findSessionByTokenHash(b1.tokenHash), b1);
      });

      it("deleteSession removes only the user's own session", async () => {
        const a = newUser();
        const b = newUser();
        await store.createUser(a);
        await store.createUser(b);
        const sa = newSession(a.id);
        const sb = newSession(b.id);
        await store.createSession(sa);
        await store.createSession(sb);

        assert.equal(await store.deleteSession(a.id, sb.id), false, "another user's session id");
        assert.deepEqual(await store.findSessionByTokenHash(sb.tokenHash), sb);
        assert.equal(await store.deleteSession(a.id, randomUUID()), false, 'unknown session id');

        assert.equal(await store.deleteSession(a.id, sa.id), true);
        assert.equal(await store.findSessionByTokenHash(sa.tokenHash), null);
        assert.equal(await store.deleteSession(a.id, sa.id), false, 'already deleted');
        assert.deepEqual(await store.listSessions(b.id), [sb]);
      });

      it('deleteExpiredSessions removes sessions past their absolute expiry or idle limit', async () => {
        const a = newUser();
        await store.createUser(a);
        const now = T0 + 10 * 86_400_000;
        const idleMs = 86_400_000;
        const fresh = newSession(a.id, { lastSeenAt: now - 1000, expiresAt: now + 1000 });
        const expired = newSession(a.id, { lastSeenAt: now - 1000, expiresAt: now - 1 });
        const expiresNow = newSession(a.id, { lastSeenAt: now - 1000, expiresAt: now });
        const idle = newSession(a.id, { lastSeenAt: now - idleMs - 1, expiresAt: now + 86_400_000 });
        const idleExactly = newSession(a.id, { lastSeenAt: now - idleMs, expiresAt: now + 86_400_000 });
        const nearlyIdle = newSession(a.id, { lastSeenAt: now - idleMs + 1, expiresAt: now + 86_400_000 });
        for (const s of [fresh, expired, expiresNow, idle, idleExactly, nearlyIdle]) await store.createSession(s);

        assert.equal(await store.deleteExpiredSessions(now, idleMs), 4);
        const left = (await store.listSessions(a.id)).map((s) => s.id).sort();
        assert.deepEqual(left, [fresh.id, nearlyIdle.id].sort());
        assert.equal(await store.deleteExpiredSessions(now, idleMs), 0);

        // Touching a session keeps it from going idle.
        await store.touchSession(nearlyIdle.id, now + 1000);
        assert.equal(await store.deleteExpiredSessions(now + 2, idleMs), 0);
        assert.equal(await store.deleteExpiredSessions(now + 1000 + idleMs, idleMs), 2);
      });
    });

    describe('records', () => {
      it('puts records and gets them back exactly, per user', async () => {
        const a = newUser();
        const b = newUser();
        await store.createUser(a);
        await store.createUser(b);
        const r = newRecord(a.id, { kind: 'entity', lookup: hex(32), createdAt: T0 + 5, updatedAt: T0 + 9 });
        await store.putRecords([r]);
        const got = await store.getRecord(a.id, r.id);
        assert.deepEqual(got, r);
        assertNumbers(got!, ['createdAt', 'updatedAt']);
        assert.equal(Buffer.compare(Buffer.from(got!.token), Buffer.from(r.token)), 0);
        assert.equal(await store.getRecord(b.id, r.id), null, "another user's id space");
        assert.equal(await store.getRecord(a.id, randomUUID()), null);
        await store.putRecords([]);
        assert.equal(await store.countRecords(a.id, 'entity'), 1);
      });

      it('putRecords inserts or replaces by (user, id)', async () => {
        const a = newUser();
        const b = newUser();
        await store.createUser(a);
        await store.createUser(b);
        const r1 = newRecord(a.id, { lookup: hex(32) });
        const r2 = newRecord(a.id);
        await store.putRecords([r1, r2]);

        const r1b: RecordRow = { ...r1, token: fakeToken(), lookup: null, kind: 'entity', updatedAt: T0 + 100 };
        const r3 = newRecord(a.id);
        await store.putRecords([r1b, r3]);
        assert.deepEqual(await store.getRecord(a.id, r1.id), r1b);
        assert.deepEqual(await store.getRecord(a.id, r2.id), r2);
        assert.equal(await store.countRecords(a.id, 'memory'), 2);
        assert.equal(await store.countRecords(a.id, 'entity'), 1);
        // r1's old lookup is free again.
        await store.putRecords([newRecord(a.id, { lookup: r1.lookup })]);

        // The same id under another user is another record.
        const rb: RecordRow = { ...r2, userId: b.id, token: fakeToken() };
        await store.putRecords([rb]);
        assert.deepEqual(await store.getRecord(b.id, r2.id), rb);
        assert.deepEqual(await store.getRecord(a.id, r2.id), r2);

        // The same id twice in one call: the later one wins.
        const first = { ...r2, token: fakeToken() };
        const last = { ...r2, token: fakeToken(), updatedAt: T0 + 200 };
        await store.putRecords([first, last]);
        assert.deepEqual(await store.getRecord(a.id, r2.id), last);
      });

      it('a lookup is unique per (user, kind): UniqueViolation(record-lookup), and the failed call writes nothing', async () => {
        const a = newUser();
        const b = newUser();
        await store.createUser(a);
        await store.createUser(b);
        const lookup = hex(32);
        const e1 = newRecord(a.id, { kind: 'entity', lookup });
        await store.putRecords([e1]);

        const innocent = newRecord(a.id);
        await rejectsWithUnique(
          store.putRecords([innocent, newRecord(a.id, { kind: 'entity', lookup })]),
          'record-lookup',
        );
        assert.equal(await store.getRecord(a.id, innocent.id), null, 'the whole call fails');
        // Replacing another record so that it takes the lookup is refused too.
        const e2 = newRecord(a.id, { kind: 'entity', lookup: hex(32) });
        await store.putRecords([e2]);
        await rejectsWithUnique(store.putRecords([{ ...e2, lookup }]), 'record-lookup');
        assert.deepEqual(await store.getRecord(a.id, e2.id), e2);

        // Same value: another kind, another user, and any number of nulls are fine.
        await store.putRecords([newRecord(a.id, { kind: 'relation', lookup })]);
        await store.putRecords([newRecord(b.id, { kind: 'entity', lookup })]);
        await store.putRecords([newRecord(a.id, { kind: 'entity' }), newRecord(a.id, { kind: 'entity' })]);
        assert.equal(await store.countRecords(a.id, 'entity'), 4);
        // Re-putting the owner of the lookup keeps it.
        await store.putRecords([{ ...e1, token: fakeToken() }]);
      });

      it('a failing batch larger than one statement writes nothing', async () => {
        const a = newUser();
        await store.createUser(a);
        const lookup = hex(32);
        await store.putRecords([newRecord(a.id, { kind: 'entity', lookup })]);
        const batch = Array.from({ length: 1203 }, (_, i) => newRecord(a.id, { createdAt: T0 + i }));
        batch.push(newRecord(a.id, { kind: 'entity', lookup }));
        await rejectsWithUnique(store.putRecords(batch), 'record-lookup');
        assert.equal(await store.countRecords(a.id, 'memory'), 0);
        assert.equal(await store.countRecords(a.id, 'entity'), 1);
      });

      it('handles batches of many records (put, get, find by lookup, delete)', async () => {
        const a = newUser();
        await store.createUser(a);
        const rows = Array.from({ length: 1207 }, (_, i) =>
          newRecord(a.id, { kind: 'entity', lookup: hex(16), createdAt: T0 + (i % 50) }),
        );
        await store.putRecords(rows);
        assert.equal(await store.countRecords(a.id, 'entity'), rows.length);
        const wanted = rows.filter((_, i) => i % 2 === 0);
        assert.deepEqual(await store.getRecords(a.id, ids(wanted)), wanted);
        const byLookup = await store.findRecordsByLookup(a.id, 'entity', wanted.map((r) => r.lookup!));
        assert.deepEqual(ids(byLookup).sort(), ids(wanted).sort());
        assert.deepEqual(await store.allRecords(a.id), [...rows].sort(byOldest));
        assert.equal(await store.deleteRecords(a.id, ids(wanted)), wanted.length);
        assert.equal(await store.countRecords(a.id, 'entity'), rows.length - wanted.length);
      });

      it('getRecords returns the known ids in the order asked, skipping unknown ones', async () => {
        const a = newUser();
        const b = newUser();
        await store.createUser(a);
        await store.createUser(b);
        const [r1, r2, r3] = [newRecord(a.id), newRecord(a.id, { kind: 'entity' }), newRecord(a.id)];
        const rb = newRecord(b.id);
        await store.putRecords([r1!, r2!, r3!, rb]);
        assert.deepEqual(await store.getRecords(a.id, [r3!.id, randomUUID(), r1!.id, rb.id, r2!.id, r3!.id]), [
          r3,
          r1,
          r2,
        ]);
        assert.deepEqual(await store.getRecords(a.id, []), []);
        assert.deepEqual(await store.getRecords(a.id, [randomUUID()]), []);
      });

      it('findRecordsByLookup matches one user and one kind', async () => {
        const a = newUser();
        const b = newUser();
        await store.createUser(a);
        await store.createUser(b);
        const [l1, l2, l3] = [hex(32), hex(32), hex(32)];
        const e1 = newRecord(a.id, { kind: 'entity', lookup: l1 });
        const e2 = newRecord(a.id, { kind: 'entity', lookup: l2 });
        const rel = newRecord(a.id, { kind: 'relation', lookup: l1 });
        const eb = newRecord(b.id, { kind: 'entity', lookup: l3 });
        await store.putRecords([e1, e2, rel, eb, newRecord(a.id, { kind: 'entity' })]);

        const found = await store.findRecordsByLookup(a.id, 'entity', [l1, l2, l3, hex(32)]);
        assert.deepEqual(
          [...found].sort((x, y) => (x.id < y.id ? -1 : 1)),
          [e1, e2].sort((x, y) => (x.id < y.id ? -1 : 1)),
        );
        assert.deepEqual(await store.findRecordsByLookup(a.id, 'relation', [l1]), [rel]);
        assert.deepEqual(await store.findRecordsByLookup(b.id, 'entity', [l1, l2]), []);
        assert.deepEqual(await store.findRecordsByLookup(a.id, 'entity', []), []);
      });

      it('listRecords pages newest first by (createdAt desc, id desc) with no duplicate or gap, ties included', async () => {
        const a = newUser();
        const b = newUser();
        await store.createUser(a);
        await store.createUser(b);
        // Three timestamps for 29 records: every page boundary falls inside a tie.
        // Ids of mixed case and shape check that id order is bytewise on every driver.
        const odd = ['A-1', 'a-1', 'B', '_z', 'Z9', 'z0', '0', '9a'];
        const mine = Array.from({ length: 29 }, (_, i) =>
          newRecord(a.id, { id: odd[i] ?? randomUUID(), createdAt: T0 + (i % 3) * 1000 }),
        );
        const noise = [
          ...Array.from({ length: 5 }, () => newRecord(a.id, { kind: 'entity', createdAt: T0 + 1000 })),
          ...Array.from({ length: 5 }, () => newRecord(b.id, { createdAt: T0 + 1000 })),
        ];
        await store.putRecords([...noise, ...mine]);
        const expected = [...mine].sort(byNewest);

        assert.deepEqual(await store.listRecords(a.id, { kind: 'memory', limit: 100 }), expected);

        for (const limit of [1, 4, 7, 29]) {
          const seen: RecordRow[] = [];
          let after: { createdAt: number; id: string } | undefined;
          for (let guard = 0; guard < 100; guard++) {
            const page = await store.listRecords(a.id, { kind: 'memory', limit, ...(after ? { after } : {}) });
            assert.ok(page.length <= limit);
            seen.push(...page);
            if (page.length < limit) break;
            const last = page[page.length - 1]!;
            after = { createdAt: last.createdAt, id: last.id };
          }
          assert.deepEqual(ids(seen), ids(expected), `pages of ${limit}`);
          assert.equal(new Set(ids(seen)).size, expected.length);
        }

        for (const limit of [1, 7, 29]) {
          const seen: RecordRow[] = [];
          let after: { createdAt: number; id: string } | undefined;
          for (let guard = 0; guard < 100; guard++) {
            const page = await store.listRecords(a.id, { kind: 'memory', limit, order: 'oldest', ...(after ? { after } : {}) });
            seen.push(...page);
            if (page.length < limit) break;
            after = { createdAt: page[page.length - 1]!.createdAt, id: page[page.length - 1]!.id };
          }
          assert.deepEqual(ids(seen), ids([...expected].reverse()), `oldest first, pages of ${limit}`);
        }

        // A cursor is a position, not a row: it need not exist.
        const cursor = { createdAt: T0 + 1000, id: 'm' };
        assert.deepEqual(
          await store.listRecords(a.id, { kind: 'memory', limit: 100, after: cursor }),
          expected.filter((r) => r.createdAt < cursor.createdAt || (r.createdAt === cursor.createdAt && r.id < cursor.id)),
        );
        assert.deepEqual(ids(await store.listRecords(a.id, { kind: 'entity', limit: 100 })).sort(), ids(noise.slice(0, 5)).sort());
        assert.deepEqual(await store.listRecords(a.id, { kind: 'relation', limit: 10 }), []);
      });

      it('allRecords lists oldest first, all kinds or only the kinds asked', async () => {
        const a = newUser();
        const b = newUser();
        await store.createUser(a);
        await store.createUser(b);
        const kinds: RecordKind[] = ['memory', 'entity', 'relation', 'memory-index'];
        const rows = Array.from({ length: 20 }, (_, i) =>
          newRecord(a.id, { kind: kinds[i % 4]!, createdAt: T0 + ((i * 7) % 5) }),
        );
        await store.putRecords([...rows, newRecord(b.id)]);
        assert.deepEqual(await store.allRecords(a.id), [...rows].sort(byOldest));
        assert.deepEqual(
          await store.allRecords(a.id, ['entity', 'relation']),
          rows.filter((r) => r.kind === 'entity' || r.kind === 'relation').sort(byOldest),
        );
        assert.deepEqual(await store.allRecords(a.id, ['memory-index']), rows.filter((r) => r.kind === 'memory-index').sort(byOldest));
        assert.deepEqual(await store.allRecords(a.id, []), []);
        assert.deepEqual(await store.allRecords(randomUUID()), []);
      });

      it('concurrent putRecords calls each land or fail on their own rows only', async () => {
        const a = newUser();
        await store.createUser(a);
        const taken = newRecord(a.id, { kind: 'entity', lookup: 'taken-tag' });
        await store.putRecords([taken]);
        const good = Array.from({ length: 20 }, () => [newRecord(a.id), newRecord(a.id, { kind: 'memory-delta' })]);
        const clash = newRecord(a.id, { kind: 'entity', lookup: 'taken-tag' });
        const results = await Promise.allSettled([...good.slice(0, 10).map((rows) => store.putRecords(rows)), store.putRecords([clash]), ...good.slice(10).map((rows) => store.putRecords(rows))]);
        assert.deepEqual(results.map((r) => r.status), [...Array(10).fill('fulfilled'), 'rejected', ...Array(10).fill('fulfilled')]);
        assert.ok((results[10] as PromiseRejectedResult).reason instanceof UniqueViolation);
        const stored = await store.getRecords(a.id, [...good.flat().map((r) => r.id), clash.id]);
        assert.deepEqual(stored.map((r) => r.id), good.flat().map((r) => r.id));
      });

      it('snapshotRecords reads the rows of some ids and of some kinds together, oldest first, of one user only', async () => {
        const a = newUser();
        const b = newUser();
        await store.createUser(a);
        await store.createUser(b);
        const kinds: RecordKind[] = ['memory', 'memory-delta', 'memory-index'];
        const rows = Array.from({ length: 12 }, (_, i) => newRecord(a.id, { kind: kinds[i % 3]!, createdAt: T0 + ((i * 5) % 7) }));
        const byId = rows.filter((r) => r.kind === 'memory-index').slice(0, 2);
        await store.putRecords([...rows, newRecord(b.id, { kind: 'memory-delta' })]);
        const expected = rows.filter((r) => r.kind === 'memory-delta' || byId.includes(r)).sort(byOldest);
        assert.deepEqual(await store.snapshotRecords(a.id, [...byId.map((r) => r.id), 'no-such-id'], ['memory-delta']), expected);
        assert.deepEqual(await store.snapshotRecords(a.id, byId.map((r) => r.id), []), [...byId].sort(byOldest));
        assert.deepEqual(await store.snapshotRecords(a.id, [], ['memory-delta']), rows.filter((r) => r.kind === 'memory-delta').sort(byOldest));
        assert.deepEqual(await store.snapshotRecords(a.id, [], []), []);
      });

      it('counts records per user and kind', async () => {
        const a = newUser();
        const b = newUser();
        await store.createUser(a);
        await store.createUser(b);
        await store.putRecords([
          newRecord(a.id),
          newRecord(a.id),
          newRecord(a.id, { kind: 'entity' }),
          newRecord(b.id),
        ]);
        const n = await store.countRecords(a.id, 'memory');
        assert.equal(typeof n, 'number');
        assert.equal(n, 2);
        assert.equal(await store.countRecords(a.id, 'entity'), 1);
        assert.equal(await store.countRecords(a.id, 'relation'), 0);
        assert.equal(await store.countRecords(b.id, 'memory'), 1);
      });

      it('newestAndCount reads the newest creation time of one kind and the count of another, of one user only', async () => {
        const a = newUser();
        const b = newUser();
        await store.createUser(a);
        await store.createUser(b);
        assert.deepEqual(await store.newestAndCount(a.id, 'memory', 'memory-delta'), { newestCreatedAt: null, count: 0 });
        await store.putRecords([
          newRecord(a.id, { createdAt: T0 + 7 }),
          newRecord(a.id, { createdAt: T0 + 3 }),
          newRecord(a.id, { kind: 'entity', createdAt: T0 + 50 }),
          newRecord(a.id, { kind: 'memory-delta', createdAt: T0 + 90 }),
          newRecord(a.id, { kind: 'memory-delta' }),
          newRecord(b.id, { createdAt: T0 + 99 }),
          newRecord(b.id, { kind: 'memory-delta' }),
        ]);
        assert.deepEqual(await store.newestAndCount(a.id, 'memory', 'memory-delta'), { newestCreatedAt: T0 + 7, count: 2 });
        assert.deepEqual(await store.newestAndCount(a.id, 'entity', 'relation'), { newestCreatedAt: T0 + 50, count: 0 });
        assert.deepEqual(await store.newestAndCount(b.id, 'memory', 'memory-delta'), { newestCreatedAt: T0 + 99, count: 1 });
      });

      it('newestAndCount sees every record committed before it was called, while many such calls run at once', async () => {
        const a = newUser();
        await store.createUser(a);
        let stamp = 0;
        let deltas = 0;
        await Promise.all(
          Array.from({ length: 10 }, async () => {
            for (let round = 0; round < 5; round++) {
              const createdAt = T0 + ++stamp;
              await store.putRecords([newRecord(a.id, { createdAt }), newRecord(a.id, { kind: 'memory-delta' })]);
              const committed = ++deltas;
              const seen = await store.newestAndCount(a.id, 'memory', 'memory-delta');
              assert.ok(seen.newestCreatedAt !== null && seen.newestCreatedAt >= createdAt, 'its own memory, or a newer one');
              assert.ok(seen.count >= committed, 'every delta committed before the call');
            }
          }),
        );
        assert.deepEqual(await store.newestAndCount(a.id, 'memory', 'memory-delta'), { newestCreatedAt: T0 + 50, count: 50 });
      });

      describe('putRecordsIfNewest', () => {
        const guard = { newestOf: 'memory', countOf: 'memory-delta' } as const;
        /** A memory and its index delta, as a create writes them: both stamped `createdAt`. */
        const create = (userId: string, createdAt: number) => [newRecord(userId, { createdAt }), newRecord(userId, { kind: 'memory-delta', createdAt })];
        const storedIds = async (userId: string, rows: RecordRow[]) => (await store.getRecords(userId, rows.map((r) => r.id))).map((r) => r.id);

        it('writes a create stamped after every stored record of the kind, with the count of the other kind before it', async () => {
          const a = newUser();
          const b = newUser();
          await store.createUser(a);
          await store.createUser(b);
          // Another user's newer memories and deltas, and a newer record of another kind, are no obstacle.
          await store.putRecords([...create(b.id, T0 + 1000), newRecord(a.id, { kind: 'entity', createdAt: T0 + 1000 })]);
          const first = create(a.id, T0 + 10);
          assert.deepEqual(await store.putRecordsIfNewest(first, guard), { written: true, count: 0 });
          assert.deepEqual(await store.getRecords(a.id, first.map((r) => r.id)), first);
          assert.deepEqual(await store.putRecordsIfNewest(create(a.id, T0 + 11), guard), { written: true, count: 1 });
          // Two memories of one stamp: the statement does not see its own rows, so neither refuses the other.
          const twins = [newRecord(a.id, { createdAt: T0 + 12 }), newRecord(a.id, { createdAt: T0 + 12 })];
          assert.deepEqual(await store.putRecordsIfNewest(twins, guard), { written: true, count: 2 });
          assert.deepEqual(await storedIds(a.id, twins), twins.map((r) => r.id));
          assert.deepEqual(await store.newestAndCount(a.id, 'memory', 'memory-delta'), { newestCreatedAt: T0 + 12, count: 2 });
        });

        it('refuses, writing none of its rows, when a record of the kind is stamped at or after its earliest one', async () => {
          const a = newUser();
          await store.createUser(a);
          await store.putRecords(create(a.id, T0 + 20));
          for (const refused of [create(a.id, T0 + 20), create(a.id, T0 + 19), [newRecord(a.id, { createdAt: T0 + 30 }), ...create(a.id, T0 + 20)]]) {
            assert.deepEqual(await store.putRecordsIfNewest(refused, guard), { written: false });
            assert.deepEqual(await storedIds(a.id, refused), []);
          }
          assert.deepEqual(await store.newestAndCount(a.id, 'memory', 'memory-delta'), { newestCreatedAt: T0 + 20, count: 1 });
          const later = create(a.id, T0 + 21);
          assert.deepEqual(await store.putRecordsIfNewest(later, guard), { written: true, count: 1 });
          assert.deepEqual(await storedIds(a.id, later), later.map((r) => r.id));
        });

        it('counts the records of the other kind stored before it, never its own, whatever the order of its rows', async () => {
          const a = newUser();
          await store.createUser(a);
          await store.putRecords(Array.from({ length: 5 }, () => newRecord(a.id, { kind: 'memory-delta' })));
          assert.deepEqual(await store.putRecordsIfNewest(create(a.id, T0 + 1), guard), { written: true, count: 5 });
          assert.deepEqual(await store.putRecordsIfNewest(create(a.id, T0 + 2).reverse(), guard), { written: true, count: 6 });
        });

        it('refuses an id already stored, writing none of its rows', async () => {
          const a = newUser();
          await store.createUser(a);
          const [memory, delta] = create(a.id, T0 + 1);
          await store.putRecords([delta!]);
          await rejectsWithUnique(store.putRecordsIfNewest([memory!, delta!], guard), 'record-id');
          assert.equal(await store.getRecord(a.id, memory!.id), null);
        });

        it('concurrent calls each write all their rows or none, the first of a user always, and count the deltas before them', async () => {
          const a = newUser();
          const b = newUser();
          await store.createUser(a);
          await store.createUser(b);
          await store.putRecords([newRecord(a.id, { kind: 'memory-delta' }), newRecord(a.id, { kind: 'memory-delta' })]);
          // Many callers of one stamp (writes within a millisecond) and some of distinct stamps, of two users.
          const calls = [...Array.from({ length: 12 }, () => create(a.id, T0 + 50)), ...Array.from({ length: 8 }, (_, i) => create(a.id, T0 + 60 + i)), ...Array.from({ length: 6 }, () => create(b.id, T0 + 50))];
          const results = await Promise.all(calls.map((rows) => store.putRecordsIfNewest(rows, guard)));
          let writtenOfA = 0;
          for (const [i, rows] of calls.entries()) {
            const result = results[i]!;
            assert.deepEqual(await storedIds(rows[0]!.userId, rows), result.written ? rows.map((r) => r.id) : [], `call ${i}: all its rows or none`);
            if (result.written && rows[0]!.userId === a.id) writtenOfA++;
          }
          assert.ok(results.slice(0, 12).some((r) => r.written) && results.slice(20).some((r) => r.written), 'the first caller of a stamp writes');
          for (const [i, result] of results.entries()) {
            if (!result.written) continue;
            const before = i < 20 ? 2 : 0;
            const others = i < 20 ? writtenOfA - 1 : 5;
            assert.ok(result.count >= before && result.count <= before + others, `call ${i} counted the deltas before it: ${result.count}`);
          }
          assert.equal(await store.countRecords(a.id, 'memory'), writtenOfA);
        });
      });

      it('deleteRecords and deleteAllRecords report how many rows went, touching one user only', async () => {
        const a = newUser();
        const b = newUser();
        await store.createUser(a);
        await store.createUser(b);
        const mine = Array.from({ length: 6 }, (_, i) => newRecord(a.id, { kind: i % 2 ? 'entity' : 'memory' }));
        const theirs = newRecord(b.id);
        await store.putRecords([...mine, theirs]);

        const n = await store.deleteRecords(a.id, [mine[0]!.id, mine[1]!.id, mine[0]!.id, randomUUID(), theirs.id]);
        assert.equal(typeof n, 'number');
        assert.equal(n, 2);
        assert.equal(await store.getRecord(a.id, mine[0]!.id), null);
        assert.deepEqual(await store.getRecord(b.id, theirs.id), theirs);
        assert.equal(await store.deleteRecords(a.id, []), 0);
        assert.equal(await store.deleteRecords(a.id, [mine[0]!.id]), 0);

        assert.equal(await store.deleteAllRecords(a.id), 4);
        assert.deepEqual(await store.allRecords(a.id), []);
        assert.equal(await store.deleteAllRecords(a.id), 0);
        assert.deepEqual(await store.allRecords(b.id), [theirs]);
      });
    });

    describe('audit', () => {
      it('appends events and lists one user\'s newest first, limited', async () => {
        const a = newUser();
        const b = newUser();
        await store.createUser(a);
        await store.createUser(b);
        const events: AuditEvent[] = [
          { userId: a.id, action: 'account.create', outcome: 'ok', at: T0 },
          { userId: a.id, action: 'session.login', outcome: 'denied', at: T0 + 10 },
          { userId: a.id, action: 'session.login', outcome: 'ok', at: T0 + 10 },
          { userId: a.id, action: 'key.rotate', outcome: 'ok', at: T0 + 20 },
          { userId: b.id, action: 'account.create', outcome: 'ok', at: T0 + 30 },
          { userId: null, action: 'session.login', outcome: 'rate-limited', at: T0 + 40 },
        ];
        for (const e of events) await store.appendAudit(e);

        const listed = await store.listAudit(a.id, 10);
        // Equal times: the later appended comes first.
        assert.deepEqual(listed, [events[3], events[2], events[1], events[0]]);
        assertNumbers(listed[0]!, ['at']);
        assert.deepEqual(await store.listAudit(a.id, 2), [events[3], events[2]]);
        assert.deepEqual(await store.listAudit(b.id, 10), [events[4]]);
        assert.deepEqual(await store.listAudit(randomUUID(), 10), []);
      });
    });

    describe('rate-limit counters', () => {
      const WINDOW = 15 * 60_000;

      it('50 concurrent hits on one key get exactly the counts 1..50, all in one window', async () => {
        const key = hex(32);
        const hits = await Promise.all(Array.from({ length: 50 }, () => store.hitRateLimit(key, WINDOW, T0)));
        assert.deepEqual(
          hits.map((h) => h.count).sort((a, b) => a - b),
          Array.from({ length: 50 }, (_, i) => i + 1),
        );
        for (const hit of hits) {
          assertNumbers(hit, ['count', 'resetAt']);
          assert.equal(hit.resetAt, T0 + WINDOW);
        }
      });

      it('counts each key on its own, and a window keeps its end until it is over, then starts again at 1', async () => {
        const [a, b] = [hex(32), hex(32)];
        assert.deepEqual(await store.hitRateLimit(a, WINDOW, T0), { count: 1, resetAt: T0 + WINDOW });
        assert.deepEqual(await store.hitRateLimit(a, WINDOW, T0 + 1000), { count: 2, resetAt: T0 + WINDOW });
        assert.deepEqual(await store.hitRateLimit(b, 60_000, T0 + 1000), { count: 1, resetAt: T0 + 61_000 });
        assert.deepEqual(await store.hitRateLimit(a, WINDOW, T0 + WINDOW - 1), { count: 3, resetAt: T0 + WINDOW });
        // The window ends at resetAt: the attempt at that instant opens the next one.
        assert.deepEqual(await store.hitRateLimit(a, WINDOW, T0 + WINDOW), { count: 1, resetAt: T0 + 2 * WINDOW });
        assert.deepEqual(await store.hitRateLimit(a, WINDOW, T0 + WINDOW + 5), { count: 2, resetAt: T0 + 2 * WINDOW });
        assert.deepEqual(await store.hitRateLimit(b, 60_000, T0 + 2000), { count: 2, resetAt: T0 + 61_000 });
      });

      it('a sweep deletes at most the number asked of the windows that ended, oldest first, and no open one', async () => {
        const ended = [hex(32), hex(32), hex(32)];
        const open = hex(32);
        for (const [i, key] of ended.entries()) await store.hitRateLimit(key, 1000 * (i + 1), T0);
        for (let i = 0; i < 3; i++) await store.hitRateLimit(open, WINDOW, T0);
        const now = T0 + 5000;
        assert.equal(await store.sweepRateLimits(now, 2), 2);
        // The two oldest went: they start again; the third ended window is still there, as is the open one.
        assert.deepEqual(await store.hitRateLimit(ended[0]!, 1000, now), { count: 1, resetAt: now + 1000 });
        assert.deepEqual(await store.hitRateLimit(ended[1]!, 1000, now), { count: 1, resetAt: now + 1000 });
        assert.equal(await store.sweepRateLimits(now, 10), 1);
        assert.equal(await store.sweepRateLimits(now, 10), 0);
        assert.deepEqual(await store.hitRateLimit(open, WINDOW, now), { count: 4, resetAt: T0 + WINDOW });
        assert.equal(await store.sweepRateLimits(now + 1000, 10), 2, 'the two restarted at now, ended at now + 1000');
      });

      it('sweeps running at once with hits: none fails, every ended window goes once, open windows keep counting', async () => {
        const ended = Array.from({ length: 300 }, () => hex(32));
        const open = Array.from({ length: 10 }, () => hex(32));
        for (const key of ended) await store.hitRateLimit(key, 1000, T0);
        for (const key of open) await store.hitRateLimit(key, WINDOW, T0);
        const now = T0 + 2000;
        const [swept, hits] = await Promise.all([
          Promise.all(Array.from({ length: 10 }, () => store.sweepRateLimits(now, 40))),
          Promise.all(open.flatMap((key) => [store.hitRateLimit(key, WINDOW, now), store.hitRateLimit(key, WINDOW, now)])),
        ]);
        const first = swept.reduce((a, b) => a + b, 0);
        assert.ok(first <= 300 && swept.every((n) => n <= 40), `swept ${swept.join(', ')}`);
        assert.equal(first + (await store.sweepRateLimits(now, 1000)), 300, 'each ended window deleted exactly once');
        assert.deepEqual(hits.map((h) => h.count).sort(), Array.from({ length: 10 }, () => [2, 3]).flat().sort());
        for (const key of open) assert.deepEqual(await store.hitRateLimit(key, WINDOW, now), { count: 4, resetAt: T0 + WINDOW });
      });
    });

    describe('transactions', () => {
      it('commits every change made through tx together and returns the result', async () => {
        const existing = newUser();
        await store.createUser(existing);
        const u = newUser();
        const s = newSession(u.id);
        const r = newRecord(u.id);
        const result = await store.transaction(async (tx) => {
          await tx.createUser(u);
          await tx.createSession(s);
          await tx.putRecords([r]);
          await tx.appendAudit({ userId: u.id, action: 'account.create', outcome: 'ok', at: T0 });
          await tx.updatePasswordHash(existing.id, 'changed');
          // A transaction reads its own writes.
          assert.deepEqual(await tx.getRecord(u.id, r.id), r);
          assert.deepEqual(await tx.findUserById(u.id), u);
          return 42;
        });
        assert.equal(result, 42);
        assert.deepEqual(await store.findUserById(u.id), u);
        assert.deepEqual(await store.findSessionByTokenHash(s.tokenHash), s);
        assert.deepEqual(await store.getRecord(u.id, r.id), r);
        assert.equal((await store.listAudit(u.id, 5)).length, 1);
        assert.deepEqual(await store.findUserById(existing.id), { ...existing, passwordHash: 'changed' });
      });

      it('an error thrown inside rolls back every change and is rethrown as is', async () => {
        const a = newUser();
        await store.createUser(a);
        const sa = newSession(a.id);
        await store.createSession(sa);
        const ra = [newRecord(a.id), newRecord(a.id, { kind: 'entity', lookup: hex(32) })];
        await store.putRecords(ra);
        await store.appendAudit({ userId: a.id, action: 'account.create', outcome: 'ok', at: T0 });

        const fresh = newUser();
        const boom = new Error('boom');
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.createUser(fresh);
            await tx.createSession(newSession(fresh.id));
            await tx.putRecords([newRecord(fresh.id), { ...ra[0]!, token: fakeToken() }]);
            await tx.appendAudit({ userId: a.id, action: 'key.rotate', outcome: 'ok', at: T0 + 1 });
            await tx.setApiKeyHash(a.id, hex(32));
            await tx.clearWrappedKeys(a.id);
            await tx.deleteRecords(a.id, [ra[1]!.id]);
            await tx.deleteUser(a.id);
            assert.equal(await tx.findUserById(a.id), null);
            throw boom;
          }),
          (err: unknown) => {
            assert.equal(err, boom);
            return true;
          },
        );

        assert.equal(await store.findUserById(fresh.id), null);
        assert.deepEqual(await store.listSessions(fresh.id), []);
        assert.deepEqual(await store.allRecords(fresh.id), []);
        assert.deepEqual(await store.findUserById(a.id), a);
        assert.deepEqual(await store.listSessions(a.id), [sa]);
        assert.deepEqual(await store.allRecords(a.id), [...ra].sort(byOldest));
        assert.equal((await store.listAudit(a.id, 10)).length, 1);
      });

      it('a store error caught inside a transaction still fails it: nothing commits', async () => {
        const a = newUser();
        const b = newUser();
        await store.createUser(a);
        const r1 = newRecord(a.id);
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.putRecords([r1]);
            await rejectsWithUnique(tx.createUser(newUser({ email: a.email })), 'email');
            await tx.createUser(b);
          }),
          (err: unknown) => err instanceof StorageError && err.code === 'TX_ABORTED',
        );
        assert.equal(await store.findUserById(b.id), null);
        assert.deepEqual(await store.allRecords(a.id), []);
        // The store is usable afterwards.
        await store.putRecords([r1]);
        assert.deepEqual(await store.allRecords(a.id), [r1]);
      });

      it('a tx object refuses work once its transaction has ended', async () => {
        const a = newUser();
        await store.createUser(a);
        let leaked: Parameters<Parameters<Store['transaction']>[0]>[0] | undefined;
        await store.transaction(async (tx) => {
          leaked = tx;
        });
        await assert.rejects(leaked!.putRecords([newRecord(a.id)]));
        await assert.rejects(leaked!.findUserById(a.id));
        assert.equal(await store.countRecords(a.id, 'memory'), 0);
      });

      it('lockUser serialises read-modify-write: 20 concurrent increments lose nothing', async () => {
        const a = newUser();
        await store.createUser(a);
        const counter = newRecord(a.id, { id: 'counter', kind: 'memory-index', token: '0' });
        await store.putRecords([counter]);
        await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            store.transaction(async (tx) => {
              await tx.lockUser(a.id);
              const row = await tx.getRecord(a.id, 'counter');
              assert.ok(row);
              await sleep(i % 3); // let the others run in between
              await tx.putRecords([{ ...row, token: String(Number(row.token) + 1), updatedAt: row.updatedAt + 1 }]);
            }),
          ),
        );
        const final = await store.getRecord(a.id, 'counter');
        assert.equal(final?.token, '20');
        assert.equal(final?.updatedAt, counter.updatedAt + 20);
      });

      it('tryLockUser takes the lock only when no other transaction holds it, and never waits', async () => {
        const a = newUser();
        await store.createUser(a);
        const counter = newRecord(a.id, { id: 'merges', kind: 'memory-index', token: '0' });
        await store.putRecords([counter]);
        // Every transaction that gets the lock increments; one that does not skips. Nothing is lost either way.
        const took = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            store.transaction(async (tx) => {
              if (!(await tx.tryLockUser(a.id))) return false;
              const row = (await tx.getRecord(a.id, 'merges'))!;
              await sleep(i % 3);
              await tx.putRecords([{ ...row, token: String(Number(row.token) + 1) }]);
              return true;
            }),
          ),
        );
        assert.ok(took.some(Boolean));
        assert.equal((await store.getRecord(a.id, 'merges'))?.token, String(took.filter(Boolean).length));
        await store.transaction(async (tx) => {
          await tx.lockUser(a.id);
          assert.equal(await tx.tryLockUser(a.id), true, 'a transaction holding the lock may ask again');
        });
      });

      it('a statement issued on the store while a transaction is open does not join it', async () => {
        const inside = newUser();
        const outside = newUser();
        const boom = new Error('roll back');
        let outsideWrite: Promise<void> | undefined;
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx.createUser(inside);
            outsideWrite = store.createUser(outside);
            await sleep(30);
            throw boom;
          }),
          (err: unknown) => err === boom,
        );
        await outsideWrite;
        assert.equal(await store.findUserById(inside.id), null);
        assert.deepEqual(await store.findUserById(outside.id), outside);
      });
    });

    describe('oauth', () => {
      async function userWithGrant(resource = 'https://anamnesis.example/mcp') {
        const user = newUser();
        await store.createUser(user);
        const client = newOAuthClient();
        await store.putOAuthClient(client);
        const grant = await store.ensureOAuthGrant(newOAuthGrant(user.id, client.id, { resource }));
        return { user, client, grant };
      }

      it('stores clients exactly; putting a known id replaces its name and redirect URIs only', async () => {
        const c = newOAuthClient({ kind: 'metadata-document', id: 'https://client.example/meta.json', redirectUris: ['https://a.example/cb', 'http://127.0.0.1/cb'] });
        await store.putOAuthClient(c);
        const found = await store.findOAuthClient(c.id);
        assert.deepEqual(found, c);
        assertNumbers(found!, ['createdAt']);
        await store.putOAuthClient({ ...c, name: 'Renamed', redirectUris: ['https://b.example/cb'], createdAt: T0 + 5 });
        assert.deepEqual(await store.findOAuthClient(c.id), { ...c, name: 'Renamed', redirectUris: ['https://b.example/cb'] });
        assert.equal(await store.findOAuthClient('unknown'), null);
      });

      it('ensureOAuthGrant creates one grant per (user, client, scope, resource) and marks the client used', async () => {
        const { user, client, grant } = await userWithGrant();
        assert.equal((await store.findOAuthClient(client.id))?.lastUsedAt, T0);
        const again = await store.ensureOAuthGrant(newOAuthGrant(user.id, client.id, { createdAt: T0 + 10 }));
        assert.deepEqual(again, grant, 'the existing grant');
        const other = await store.ensureOAuthGrant(newOAuthGrant(user.id, client.id, { resource: 'https://other.example/mcp', createdAt: T0 + 20 }));
        assert.notEqual(other.id, grant.id);
        assert.deepEqual(await store.findOAuthGrant(grant.id), grant);
        const listed = await store.listOAuthGrants(user.id);
        assert.deepEqual(listed.map((g) => g.id), [other.id, grant.id], 'newest first');
        assert.equal(listed[1]!.clientName, client.name);
        assert.deepEqual(listed[1]!.redirectUris, client.redirectUris);
        await store.touchOAuthGrant(grant.id, T0 + 99);
        assert.equal((await store.findOAuthGrant(grant.id))?.lastUsedAt, T0 + 99);
      });

      it('tokens: stored exactly, single use through markOAuthTokenUsed, expired ones swept', async () => {
        const { grant } = await userWithGrant();
        const code = newOAuthToken(grant.id, { kind: 'code', redirectUri: 'https://client.example/callback', codeChallenge: 'x'.repeat(43), expiresAt: T0 + 60_000 });
        const access = newOAuthToken(grant.id, { expiresAt: T0 + 3600_000 });
        for (const t of [code, access]) await store.createOAuthToken(t);
        assert.deepEqual(await store.findOAuthToken(code.tokenHash), code);
        assertNumbers((await store.findOAuthToken(access.tokenHash))!, ['expiresAt']);
        assert.equal(await store.findOAuthToken(hex(32)), null);

        const uses = await Promise.all([store.markOAuthTokenUsed(code.tokenHash, T0 + 1), store.markOAuthTokenUsed(code.tokenHash, T0 + 2)]);
        assert.deepEqual(uses.sort(), [false, true], 'exactly one use wins');
        assert.ok((await store.findOAuthToken(code.tokenHash))?.usedAt);

        assert.equal(await store.deleteExpiredOAuthTokens(T0 + 60_000), 1);
        assert.equal(await store.findOAuthToken(code.tokenHash), null);
        assert.deepEqual(await store.findOAuthToken(access.tokenHash), access);
        await store.deleteOAuthToken(access.tokenHash);
        assert.equal(await store.findOAuthToken(access.tokenHash), null);
      });

      it("deleteOAuthGrant removes the user's own grant and every token of it, nothing else", async () => {
        const a = await userWithGrant();
        const b = await userWithGrant();
        const ta = newOAuthToken(a.grant.id);
        const tb = newOAuthToken(b.grant.id);
        await store.createOAuthToken(ta);
        await store.createOAuthToken(tb);
        assert.equal(await store.deleteOAuthGrant(a.user.id, b.grant.id), false, "another user's grant");
        assert.deepEqual(await store.findOAuthToken(tb.tokenHash), tb);
        assert.equal(await store.deleteOAuthGrant(a.user.id, a.grant.id), true);
        assert.equal(await store.findOAuthToken(ta.tokenHash), null);
        assert.equal(await store.findOAuthGrant(a.grant.id), null);
        assert.equal(await store.deleteOAuthGrant(a.user.id, a.grant.id), false, 'already deleted');
        assert.deepEqual(await store.listOAuthGrants(b.user.id).then((l) => l.map((g) => g.id)), [b.grant.id]);
      });

      it('clearWrappedKeys and deleteUser end every grant of that user only', async () => {
        const a = await userWithGrant();
        const b = await userWithGrant();
        const ta = newOAuthToken(a.grant.id, { kind: 'refresh' });
        const tb = newOAuthToken(b.grant.id, { kind: 'refresh' });
        await store.createOAuthToken(ta);
        await store.createOAuthToken(tb);
        await store.clearWrappedKeys(a.user.id);
        assert.deepEqual(await store.listOAuthGrants(a.user.id), []);
        assert.equal(await store.findOAuthToken(ta.tokenHash), null);
        assert.deepEqual(await store.findOAuthToken(tb.tokenHash), tb);
        await store.deleteUser(b.user.id);
        assert.equal(await store.findOAuthToken(tb.tokenHash), null);
        assert.equal(await store.findOAuthGrant(b.grant.id), null);
        assert.ok(await store.findOAuthClient(b.client.id), 'the client itself stays until it goes stale');
      });

      it('deleteStaleOAuthClients removes never-used and idle clients without a grant, keeps the others', async () => {
        const neverUsedOld = newOAuthClient({ createdAt: T0 });
        const neverUsedNew = newOAuthClient({ createdAt: T0 + 10_000 });
        const idle = newOAuthClient({ createdAt: T0, lastUsedAt: T0 + 1000 });
        const recent = newOAuthClient({ createdAt: T0, lastUsedAt: T0 + 50_000 });
        for (const c of [neverUsedOld, neverUsedNew, idle, recent]) await store.putOAuthClient(c);
        const { client: granted } = await userWithGrant(); // used at T0, but holds a live grant
        assert.equal(await store.deleteStaleOAuthClients(T0 + 5000, T0 + 20_000), 2);
        assert.equal(await store.findOAuthClient(neverUsedOld.id), null);
        assert.equal(await store.findOAuthClient(idle.id), null);
        for (const kept of [neverUsedNew, recent, granted]) assert.ok(await store.findOAuthClient(kept.id));
      });
    });

    describe('end-to-end accounts', () => {
      const credentials = (): E2ECredentials => ({
        registrationRecord: randomBytes(192).toString('base64url'),
        passwordWrap: fakeToken(),
        recoveryWrap: fakeToken(),
        recoveryVerifier: hex(32),
      });
      const newE2EUser = (over: Partial<E2EUserRow> = {}): E2EUserRow => {
        const id = randomUUID();
        return { mode: 'e2e', id, email: `${id.slice(0, 8)}@e2e.test`, createdAt: T0, ...over };
      };
      const put = (id: string, baseVersion: number, over: Partial<E2EWrite> = {}): E2EWrite => ({ id, baseVersion, version: baseVersion + 1, token: fakeToken(), deleted: false, ...over });
      async function account(): Promise<string> {
        const u = newE2EUser();
        await store.createE2EAccount(u, credentials());
        return u.id;
      }

      it('creates an E2E user with its account row: no password hash, no API key, seq at 0', async () => {
        const u = newE2EUser();
        const c = credentials();
        await store.createE2EAccount(u, c);
        assert.deepEqual(await store.findUserById(u.id), u);
        assert.deepEqual(await store.findUserByEmail(u.email), u);
        assert.deepEqual(await store.findE2EAccount(u.id), { userId: u.id, ...c, lastSeq: 0, purgedThroughSeq: 0 });
        assert.equal(await store.findE2EAccount(randomUUID()), null);
      });

      it('one email, one account across both modes; a refused E2E account leaves no users row behind', async () => {
        const classic = newUser();
        await store.createUser(classic);
        const clash = newE2EUser({ email: classic.email });
        await rejectsWithUnique(store.createE2EAccount(clash, credentials()), 'email');
        assert.equal(await store.findUserById(clash.id), null);
        const e2e = newE2EUser();
        await store.createE2EAccount(e2e, credentials());
        await rejectsWithUnique(store.createUser(newUser({ email: e2e.email })), 'email');
      });

      it('converts a server-key user: hashes and pending key cleared, found by API key no more; only once', async () => {
        const u = newUser({ pendingKeyHash: hex(32), pendingKeyWrap: fakeToken(), pendingKeyExpiresAt: T0 + 1000 });
        await store.createUser(u);
        const c = credentials();
        await store.transaction((tx) => tx.convertUserToE2E(u.id, c));
        assert.deepEqual(await store.findUserById(u.id), { mode: 'e2e', id: u.id, email: u.email, createdAt: u.createdAt });
        assert.equal(await store.findUserByApiKeyHash(u.apiKeyHash), null);
        assert.equal(await store.findUserByPendingKeyHash(u.pendingKeyHash!), null);
        assert.deepEqual(await store.findE2EAccount(u.id), { userId: u.id, ...c, lastSeq: 0, purgedThroughSeq: 0 });
        await assert.rejects(store.convertUserToE2E(u.id, credentials()), (e: unknown) => e instanceof StorageError && e.code === 'NOT_SERVER_KEY_USER');
        assert.deepEqual(await store.findE2EAccount(u.id), { userId: u.id, ...c, lastSeq: 0, purgedThroughSeq: 0 });
      });

      it('replaces the credentials of an account (recovery), false for an unknown one', async () => {
        const id = await account();
        const c = credentials();
        assert.equal(await store.replaceE2ECredentials(id, c), true);
        assert.deepEqual(await store.findE2EAccount(id), { userId: id, ...c, lastSeq: 0, purgedThroughSeq: 0 });
        assert.equal(await store.replaceE2ECredentials(randomUUID(), c), false);
      });

      it('a flow step is taken once, only as its own kind, only before it lapses', async () => {
        const id = await account();
        const step = (over: Partial<E2EPendingRow> = {}): E2EPendingRow => ({ idHash: hex(32), kind: 'login', userId: id, newUserId: null, email: null, state: 'opaque-state', expiresAt: T0 + 1000, ...over });
        const a = step();
        await store.createE2EPending(a);
        assert.equal(await store.takeE2EPending(a.idHash, 'recovery', T0), null);
        const takers = await Promise.all(Array.from({ length: 5 }, () => store.takeE2EPending(a.idHash, 'login', T0)));
        assert.deepEqual(takers.filter(Boolean), [a], 'exactly one caller gets it');
        const lapsed = step({ expiresAt: T0 });
        await store.createE2EPending(lapsed);
        assert.equal(await store.takeE2EPending(lapsed.idHash, 'login', T0), null);
        const registration = step({ kind: 'registration', userId: null, newUserId: randomUUID(), email: 'new@e2e.test', state: null, expiresAt: T0 - 1 });
        await store.createE2EPending(registration);
        assert.equal(await store.deleteExpiredE2EPending(T0), 2);
        assert.equal(await store.takeE2EPending(registration.idHash, 'registration', T0 - 10), null);
      });

      it('sessions: found by token hash, touched, ended one, all but one, or when idle', async () => {
        const id = await account();
        const session = (over: Partial<E2ESessionRow> = {}): E2ESessionRow => ({ id: randomUUID(), tokenHash: hex(32), userId: id, label: 'laptop', createdAt: T0, lastSeenAt: T0, ...over });
        const [a, b, c] = [session(), session(), session({ lastSeenAt: T0 - 10 })];
        for (const s of [a, b, c]) await store.createE2ESession(s);
        assert.deepEqual(await store.findE2ESessionByTokenHash(a.tokenHash), a);
        await store.touchE2ESession(a.id, T0 + 5);
        assert.equal((await store.findE2ESessionByTokenHash(a.tokenHash))?.lastSeenAt, T0 + 5);
        assert.equal(await store.deleteIdleE2ESessions(T0 - 1), 1);
        assert.equal(await store.findE2ESessionByTokenHash(c.tokenHash), null);
        assert.equal(await store.deleteE2ESession(randomUUID(), a.id), false, 'not another user\'s session');
        assert.equal(await store.deleteE2ESessions(id, a.id), 1);
        assert.equal(await store.findE2ESessionByTokenHash(b.tokenHash), null);
        assert.equal(await store.deleteE2ESession(id, a.id), true);
        assert.equal(await store.findE2ESessionByTokenHash(a.tokenHash), null);
      });

      it('writes get consecutive seqs, replace by id, and the feed returns each id once at its latest seq', async () => {
        const id = await account();
        const first = await store.writeE2ERecords(id, [put('a', 0), put('b', 0), put('c', 0)], T0);
        assert.deepEqual(first, { ok: true, cursor: 3, applied: [{ id: 'a', version: 1, seq: 1 }, { id: 'b', version: 1, seq: 2 }, { id: 'c', version: 1, seq: 3 }] });
        const tomb = put('a', 1, { deleted: true });
        const second = await store.writeE2ERecords(id, [tomb], T0 + 1);
        assert.deepEqual(second, { ok: true, cursor: 4, applied: [{ id: 'a', version: 2, seq: 4 }] });
        const page = await store.listE2EChanges(id, 0, 10);
        assert.deepEqual(page.changes.map((r) => [r.id, r.seq, r.version, r.deleted]), [['b', 2, 1, false], ['c', 3, 1, false], ['a', 4, 2, true]]);
        assert.deepEqual(page.changes[2], { userId: id, id: 'a', seq: 4, version: 2, token: tomb.token, deleted: true, updatedAt: T0 + 1 });
        assert.equal(page.more, false);
        assert.equal(page.cursor, 4);
        assert.deepEqual(await store.listE2EChanges(id, 2, 1), { changes: [page.changes[1]], cursor: 3, more: true });
        assert.deepEqual(await store.listE2EChanges(id, 4, 10), { changes: [], cursor: 4, more: false });
        assert.equal(await store.countLiveE2ERecords(id), 2);
        assert.equal((await store.findE2EAccount(id))?.lastSeq, 4);
        assert.deepEqual((await store.getE2ERecords(id, ['c', 'zz', 'b'])).map((r) => r.id).sort(), ['b', 'c']);
      });

      it('a conflict writes nothing and answers the current rows; the whole batch or none of it', async () => {
        const id = await account();
        await store.writeE2ERecords(id, [put('a', 0), put('b', 0)], T0);
        await store.writeE2ERecords(id, [put('b', 1)], T0);
        const before = await store.listE2EChanges(id, 0, 100);
        const result = await store.writeE2ERecords(id, [put('new', 0), put('a', 1), put('b', 1), put('ghost', 3)], T0 + 9);
        assert.equal(result.ok, false);
        const current = before.changes.find((r) => r.id === 'b')!;
        assert.deepEqual(!result.ok && result.conflicts, [{ id: 'b', current }, { id: 'ghost', current: null }]);
        assert.deepEqual(await store.listE2EChanges(id, 0, 100), before, 'rows unchanged');
        assert.equal((await store.findE2EAccount(id))?.lastSeq, 3);
        await assert.rejects(store.writeE2ERecords(id, [put('x', 0), put('x', 0)], T0), (e: unknown) => e instanceof StorageError && e.code === 'DUPLICATE_IDS');
        // In a transaction that fails later, the applied batch rolls back with it.
        await assert.rejects(store.transaction(async (tx) => {
          assert.equal((await tx.writeE2ERecords(id, [put('y', 0), put('a', 1)], T0)).ok, true);
          throw new Error('fails after the write');
        }), /fails after the write/);
        assert.deepEqual(await store.listE2EChanges(id, 0, 100), before);
        assert.equal((await store.findE2EAccount(id))?.lastSeq, 3);
      });

      it('seq grows strictly in commit order under concurrent writers: a reader following the cursor misses nothing', async () => {
        const id = await account();
        const writers = 24;
        let done = false;
        const seen = new Map<string, number>();
        const reader = (async () => {
          let cursor = 0;
          for (;;) {
            const finished = done;
            const page = await store.listE2EChanges(id, cursor, 1000);
            for (const r of page.changes) {
              assert.ok(r.seq > cursor);
              seen.set(r.id, r.seq);
            }
            cursor = page.cursor;
            if (finished && !page.more) return cursor;
            await sleep(1);
          }
        })();
        const results = await Promise.all(Array.from({ length: writers }, (_, i) =>
          store.writeE2ERecords(id, Array.from({ length: 1 + (i % 3) }, (_, j) => put(`w${i}-${j}`, 0)), T0 + i)));
        done = true;
        const last = await reader;
        const total = results.reduce((n, r) => n + (r.ok ? r.applied.length : 0), 0);
        assert.equal(total, Array.from({ length: writers }, (_, i) => 1 + (i % 3)).reduce((a, b) => a + b));
        const seqs = results.flatMap((r) => (r.ok ? r.applied.map((a) => a.seq) : []));
        assert.deepEqual([...seqs].sort((a, b) => a - b), Array.from({ length: total }, (_, i) => i + 1), 'every seq once, no gaps');
        for (const r of results) if (r.ok) r.applied.forEach((a, j) => assert.equal(a.seq, r.applied[0]!.seq + j, 'a batch is consecutive'));
        assert.equal(seen.size, total, 'the reader saw every record');
        assert.equal(last, total);
        assert.equal((await store.findE2EAccount(id))?.lastSeq, total);
      });

      it('purges tombstones older than the cut-off, remembers the highest purged seq, and touches nothing else', async () => {
        const id = await account();
        const other = await account();
        await store.writeE2ERecords(id, [put('a', 0), put('b', 0), put('c', 0)], T0);
        await store.writeE2ERecords(id, [put('a', 1, { deleted: true }), put('b', 1, { deleted: true })], T0 + 10);
        await store.writeE2ERecords(id, [put('c', 1, { deleted: true })], T0 + 20);
        await store.writeE2ERecords(other, [put('a', 0, { deleted: true })], T0);
        assert.equal(await store.purgeE2ETombstones(id, T0 + 9), 0);
        assert.equal(await store.purgeE2ETombstones(id, T0 + 10), 2);
        const account1 = await store.findE2EAccount(id);
        assert.deepEqual([account1?.lastSeq, account1?.purgedThroughSeq], [6, 5]);
        assert.deepEqual((await store.listE2EChanges(id, 0, 10)).changes.map((r) => r.id), ['c']);
        assert.equal((await store.listE2EChanges(other, 0, 10)).changes.length, 1);
        assert.equal((await store.findE2EAccount(other))?.purgedThroughSeq, 0);
        assert.equal(await store.purgeE2ETombstones(id, T0 + 20), 1);
        assert.equal((await store.findE2EAccount(id))?.purgedThroughSeq, 6);
      });

      it('deleting the user deletes every E2E row of it', async () => {
        const id = await account();
        const keep = await account();
        for (const userId of [id, keep]) {
          await store.writeE2ERecords(userId, [put('a', 0)], T0);
          await store.createE2ESession({ id: randomUUID(), tokenHash: hex(32), userId, label: 'x', createdAt: T0, lastSeenAt: T0 });
          await store.createE2EPending({ idHash: hex(32), kind: 'recovery', userId, newUserId: null, email: null, state: null, expiresAt: T0 + 1000 });
          await store.appendAudit({ userId, action: 'e2e.account.create', outcome: 'ok', at: T0 });
        }
        await store.deleteUser(id);
        assert.equal(await store.findE2EAccount(id), null);
        assert.deepEqual((await store.listE2EChanges(id, 0, 10)).changes, []);
        assert.equal(await store.deleteE2ESessions(id), 0);
        assert.equal(await store.deleteExpiredE2EPending(T0 + 1000), 1, 'only the other user\'s step is left');
        assert.equal((await store.listE2EChanges(keep, 0, 10)).changes.length, 1);
        assert.notEqual(await store.findE2EAccount(keep), null);
      });

      it('keeps one OPAQUE server setup: the first stored wins, whoever asks', async () => {
        const answers = await Promise.all(['one', 'two', 'three'].map((candidate) => store.ensureOpaqueServerSetup(candidate, T0)));
        assert.equal(new Set(answers).size, 1);
        assert.equal(await store.ensureOpaqueServerSetup('four', T0), answers[0]);
      });
    });

    it('errors never quote the row values involved', async () => {
      const a = newUser();
      await store.createUser(a);
      const dup = newUser({ email: a.email });
      const err1 = await store.createUser(dup).then(
        () => assert.fail('duplicate email accepted'),
        (e: unknown) => e,
      );
      const orphan = newSession(randomUUID());
      const err2 = await store.createSession(orphan).then(
        () => assert.fail('session of an unknown user accepted'),
        (e: unknown) => e,
      );
      const orphanRecord = newRecord(randomUUID(), { lookup: hex(32) });
      const err3 = await store.putRecords([orphanRecord]).then(
        () => assert.fail('record of an unknown user accepted'),
        (e: unknown) => e,
      );
      for (const [err, secrets] of [
        [err1, [dup.email, dup.apiKeyHash, dup.passwordHash]],
        [err2, [orphan.tokenHash, orphan.wrappedKey!, orphan.userId]],
        [err3, [orphanRecord.token, orphanRecord.lookup!, orphanRecord.userId]],
      ] as const) {
        const text = errorText(err);
        for (const secret of secrets) assert.ok(!text.includes(secret), `error text quotes a value: ${text}`);
      }
    });
  });
}
