// Sign-up, a second device, recovery and the switch of a server-key account,
// through the client core's OPAQUE flows against the real server (both
// drivers): the password and K never reach it, and each device reads the same records.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { E2eApiError } from '../../src/e2e-client/api.ts';
import { InvalidCredentials, finishConversion, logIn, recover, signUp, startConversion } from '../../src/e2e-client/account.ts';
import { E2eApi } from '../../src/e2e-client/api.ts';
import { WrongKey } from '../../src/e2e-client/keys.ts';
import { InvalidRecoveryCode } from '../../src/e2e-client/recovery-code.ts';
import { bearer, signUp as signUpServerKey } from '../helpers/app.ts';
import { testDrivers } from '../http/support.ts';
import { PASSWORD, device, newEmail, serve, type Served } from './with-server.ts';

const memory = (id: string, content: string, tags: string[] = []) => ({ kind: 'memory' as const, id, content, tags, created_at: '2026-03-01T09:00:00.000Z', updated_at: '2026-03-01T09:00:00.000Z' });

for (const driver of await testDrivers('end-to-end client core accounts')) {
  describe(`client core accounts against the real server (${driver})`, () => {
    let s: Served;
    before(async () => {
      s = await serve(driver);
    });
    after(() => s.close());

    it('signs up, writes, and a second device logs in with the password and reads the same records', async () => {
      const email = newEmail();
      const account = await signUp(s.api, { email, password: PASSWORD, label: 'laptop' });
      assert.match(account.token, /^ane_[A-Za-z0-9_-]{43}$/);
      assert.match(account.recoveryCode, /^([0-9A-HJKMNP-TV-Z]{4}-){7}[0-9A-HJKMNP-TV-Z]{4}$/);
      assert.equal(account.dataKey.length, 32);

      const laptop = await device(s.api, account);
      await laptop.put(memory(laptop.newMemoryId(), 'the spare key is under the blue pot', ['home']));
      await laptop.put({ kind: 'entity', name: 'Ada Lovelace', entityType: 'person', observations: ['wrote the first program'] });
      await laptop.put({ kind: 'relation', from: 'Ada Lovelace', to: 'Analytical Engine', relationType: 'wrote about' });
      const pushed = await laptop.sync();
      assert.equal(pushed.pushed, 3);
      assert.equal(laptop.pendingCount, 0);

      const phoneSession = await logIn(s.api, { email, password: PASSWORD, label: 'phone' });
      assert.equal(phoneSession.userId, account.userId);
      assert.deepEqual(phoneSession.dataKey, account.dataKey);
      assert.notEqual(phoneSession.token, account.token);
      const phone = await device(s.api, phoneSession);
      const pulled = await phone.sync();
      assert.equal(pulled.pulled, 4); // three records and the manifest
      assert.deepEqual(new Map(phone.records()), new Map(laptop.records()));

      // What the server holds is ciphertext only: no content, name, password, K or recovery code.
      const stored = JSON.stringify(await s.db.query('SELECT * FROM e2e_records WHERE user_id = ?', [account.userId])) +
        JSON.stringify(await s.db.query('SELECT * FROM e2e_accounts WHERE user_id = ?', [account.userId]));
      for (const secret of ['blue pot', 'Ada', 'Lovelace', 'Analytical', PASSWORD, Buffer.from(account.dataKey).toString('base64url'), Buffer.from(account.dataKey).toString('hex'), account.recoveryCode]) {
        assert.ok(!stored.includes(secret), `the database holds "${secret.slice(0, 12)}…"`);
      }
      for (const line of s.t.logs) assert.ok(!line.includes(PASSWORD) && !line.includes(account.token), 'a log line holds the password or the token');
    });

    it('a wrong password and an unknown email get the same InvalidCredentials', async () => {
      const email = newEmail();
      await signUp(s.api, { email, password: PASSWORD });
      await assert.rejects(logIn(s.api, { email, password: 'not the passphrase at all' }), InvalidCredentials);
      await assert.rejects(logIn(s.api, { email: newEmail(), password: PASSWORD }), InvalidCredentials);
    });

    it('an email already taken is a typed 409 email_taken', async () => {
      const email = newEmail();
      await signUp(s.api, { email, password: PASSWORD });
      await assert.rejects(signUp(s.api, { email, password: PASSWORD }), (error: unknown) => error instanceof E2eApiError && error.status === 409 && error.code === 'email_taken');
    });

    it('recovers with the code when every device is lost: new password, new code, the same data; the old code and password open nothing', async () => {
      const email = newEmail();
      const account = await signUp(s.api, { email, password: PASSWORD });
      const first = await device(s.api, account);
      await first.put(memory(first.newMemoryId(), 'bank pin hint: grandmother birthday'));
      await first.sync();

      const typed = account.recoveryCode.toLowerCase().replace(/-/g, ' ');
      const recovered = await recover(s.api, { email, recoveryCode: typed, newPassword: 'a brand new passphrase 99' });
      assert.equal(recovered.userId, account.userId);
      assert.deepEqual(recovered.dataKey, account.dataKey);
      assert.notEqual(recovered.recoveryCode, account.recoveryCode);
      const fresh = await device(s.api, recovered);
      await fresh.sync();
      assert.deepEqual([...fresh.records()].map(([, r]) => r.record.kind === 'memory' && r.record.content), ['bank pin hint: grandmother birthday']);

      // Every other session ended; the old password and the old code are refused.
      await assert.rejects(first.sync(), (error: unknown) => error instanceof E2eApiError && error.status === 401);
      await assert.rejects(logIn(s.api, { email, password: PASSWORD }), InvalidCredentials);
      await assert.rejects(recover(s.api, { email, recoveryCode: account.recoveryCode, newPassword: 'x'.repeat(20) }), InvalidCredentials);
      const again = await logIn(s.api, { email, password: 'a brand new passphrase 99' });
      assert.deepEqual(again.dataKey, account.dataKey);
      // A code that cannot be one is refused before anything is sent.
      await assert.rejects(recover(s.api, { email, recoveryCode: 'ABCD-EFGH', newPassword: 'x'.repeat(20) }), InvalidRecoveryCode);
      await assert.rejects(recover(s.api, { email: newEmail(), recoveryCode: recovered.recoveryCode, newPassword: 'x'.repeat(20) }), InvalidCredentials);
    });

    it('a password wrap the server swapped is noticed at log-in (WrongKey), not used', async () => {
      const email = newEmail();
      const a = await signUp(s.api, { email, password: PASSWORD });
      const b = await signUp(s.api, { email: newEmail(), password: PASSWORD });
      const [wrapOfB] = await s.db.query('SELECT password_wrap FROM e2e_accounts WHERE user_id = ?', [b.userId]);
      await s.db.query('UPDATE e2e_accounts SET password_wrap = ? WHERE user_id = ?', [wrapOfB!.password_wrap, a.userId]);
      await assert.rejects(logIn(s.api, { email, password: PASSWORD }), WrongKey);
    });

    it('switches a server-key account: every record re-encrypted under a fresh K on the device, the API key then opens nothing', async () => {
      const classic = await signUpServerKey(s.t.app, { email: newEmail() });
      const keyed = new E2eApi({ baseUrl: s.api.baseUrl, apiKey: classic.apiKey });
      for (const content of ['first classic memory', 'second classic memory']) {
        const r = await fetch(`${s.api.baseUrl}/api/v1/memories`, { method: 'POST', headers: { ...bearer(classic.apiKey), 'content-type': 'application/json' }, body: JSON.stringify({ content, tags: ['old'] }) });
        assert.equal(r.status, 201);
      }
      const exported = await (await fetch(`${s.api.baseUrl}/api/v1/export?format=json`, { headers: bearer(classic.apiKey) })).json();
      exported.entities = [
        { name: 'Grace Hopper', entityType: 'person', observations: ['found a moth'] },
        { name: 'COBOL', entityType: 'language', observations: [] },
      ];
      exported.relations = [{ from: 'Grace Hopper', to: 'COBOL', relationType: 'shaped' }];

      const draft = await startConversion(keyed, { password: PASSWORD });
      assert.equal(draft.userId, classic.userId);
      const converted = await finishConversion(keyed, draft, exported);
      assert.equal(converted.userId, classic.userId);

      const replica = await device(s.api, converted);
      await replica.sync();
      const contents = [...replica.records()].map(([, r]) => r.record).filter((r) => r.kind === 'memory').map((r) => r.content).sort();
      assert.deepEqual(contents, ['first classic memory', 'second classic memory']);
      assert.equal(replica.get(await replica.entityId('Grace Hopper'))?.record.kind, 'entity');
      assert.equal(replica.get(await replica.relationId('Grace Hopper', 'COBOL', 'shaped'))?.record.kind, 'relation');
      // The graph keeps the export's order (oldest first) through numbered creation times.
      const created = async (name: string) => (replica.get(await replica.entityId(name))?.record as { created_at?: string }).created_at ?? '';
      assert.ok((await created('Grace Hopper')) < (await created('COBOL')), 'entities keep their order');
      // The memories kept their ids.
      for (const m of exported.memories as Array<{ id: string }>) assert.ok(replica.get(m.id));

      const old = await fetch(`${s.api.baseUrl}/api/v1/memories`, { headers: bearer(classic.apiKey) });
      assert.equal(old.status, 401);
      const withPassword = await logIn(s.api, { email: classic.email, password: PASSWORD });
      assert.deepEqual(withPassword.dataKey, converted.dataKey);
    });
  });
}
