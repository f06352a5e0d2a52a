// Recovery with the recovery code when every device is lost, on both drivers:
// the right code gets K's recovery wrap and sets a new password, ending every
// other session; a wrong code or an unknown email gets the same 401 and
// changes nothing.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import * as opaque from '@serenity-kit/opaque';
import { fernetDecrypt } from '../../src/crypto/fernet.ts';
import type { TestApp } from '../helpers/app.ts';
import { appWithDirectDb, testDrivers, type DirectDb } from '../http/support.ts';
import { auth, credentialsFor, finishRegistration, logIn, newEmail, openRecoveryWrap, passwordWrapKey, post, recoverySecrets, signUpE2E, snapshotE2E } from './support.ts';

for (const driver of await testDrivers('end-to-end recovery')) {
  describe(`end-to-end recovery (${driver})`, () => {
    let t: TestApp;
    let db: DirectDb;
    appWithDirectDb(driver, (app, direct) => ([t, db] = [app, direct]));

    it('the right code unwraps K, sets a new password, and ends every other session', async () => {
      const user = await signUpE2E(t.app);
      const second = (await logIn(t.app, user.email, user.password)).finish!.json() as { token: string };
      const { recovery_auth } = recoverySecrets(user.code, user.userId, user.key);
      const newPassword = 'a brand new passphrase after losing everything';
      const reg = opaque.client.startRegistration({ password: newPassword });
      const start = await post(t.app, '/api/v1/e2e/recovery/start', { email: user.email, recovery_auth, registration_request: reg.registrationRequest });
      assert.equal(start.statusCode, 200);
      const body = start.json() as { reset_id: string; user_id: string; recovery_wrap: string; registration_response: string };
      assert.equal(body.user_id, user.userId);
      const key = openRecoveryWrap(user.code, user.userId, body.recovery_wrap);
      assert.deepEqual(key, user.key);
      const record = finishRegistration(newPassword, reg.clientRegistrationState, body.registration_response);
      const newCode = randomBytes(20);
      const finish = await post(t.app, '/api/v1/e2e/recovery/finish', { reset_id: body.reset_id, ...credentialsFor(user.userId, record, key, newCode), label: 'new phone' });
      assert.equal(finish.statusCode, 200);
      const { token } = finish.json() as { user_id: string; token: string };
      for (const old of [user.token, second.token]) {
        assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/e2e/account', headers: auth(old) })).statusCode, 401);
      }
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/e2e/account', headers: auth(token) })).statusCode, 200);
      // The old password no longer logs in; the new one does, and its wrap opens the same K.
      assert.equal((await logIn(t.app, user.email, user.password)).finish!.statusCode, 401);
      const again = await logIn(t.app, user.email, newPassword);
      assert.equal(again.finish!.statusCode, 200);
      assert.deepEqual(fernetDecrypt(passwordWrapKey(again.exportKey!, user.userId), (again.finish!.json() as { password_wrap: string }).password_wrap), user.key);
      // The old code is spent: the verifier is the new code's.
      const reused = await post(t.app, '/api/v1/e2e/recovery/start', { email: user.email, recovery_auth, registration_request: reg.registrationRequest });
      assert.equal(reused.statusCode, 401);
      // A reset id is single use.
      assert.equal((await post(t.app, '/api/v1/e2e/recovery/finish', { reset_id: body.reset_id, ...credentialsFor(user.userId, record, key, newCode) })).statusCode, 400);
      const audits = await db.query("SELECT outcome FROM audit WHERE user_id = ? AND action = 'e2e.recovery' ORDER BY id", [user.userId]);
      assert.deepEqual(audits.map((a) => a.outcome), ['ok', 'denied']);
    });

    it('a wrong code and an unknown email get the same 401, and nothing changes but an audit line', async () => {
      const user = await signUpE2E(t.app);
      const reg = opaque.client.startRegistration({ password: 'whatever it is' });
      const beforeRows = await snapshotE2E(db);
      const wrongCode = recoverySecrets(randomBytes(20), user.userId, user.key).recovery_auth;
      const wrong = await post(t.app, '/api/v1/e2e/recovery/start', { email: user.email, recovery_auth: wrongCode, registration_request: reg.registrationRequest });
      const unknown = await post(t.app, '/api/v1/e2e/recovery/start', { email: newEmail(), recovery_auth: wrongCode, registration_request: reg.registrationRequest });
      assert.equal(wrong.statusCode, 401);
      assert.deepEqual(wrong.json(), unknown.json());
      assert.equal(wrong.json().error.code, 'invalid_credentials');
      const afterRows = await snapshotE2E(db);
      assert.deepEqual({ ...afterRows, audit: [] }, { ...beforeRows, audit: [] });
      assert.equal(afterRows.audit!.length, beforeRows.audit!.length + 2, 'one denied line each, the unknown email\'s without a user');
    });
  });
}
