// The end-to-end flows count against the same shared rate limits as the
// classic ones, and every process of one database (or one configured setup)
// answers OPAQUE with the same server setup.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as opaque from '@serenity-kit/opaque';
import { buildApp } from '../../src/http/app.ts';
import { createLogger } from '../../src/logger.ts';
import { makeTestApp, type TestApp } from '../helpers/app.ts';
import { testDrivers } from '../http/support.ts';
import { credentialsFor, finishRegistration, logIn, newEmail, post, recoverySecrets, signUpE2E } from './support.ts';

for (const driver of await testDrivers('end-to-end limits and setup')) {
  describe(`end-to-end rate limits and OPAQUE setup (${driver})`, () => {
    let t: TestApp;
    before(async () => {
      t = await makeTestApp({ driver, rateLimitFactor: 1 });
    });
    after(async () => {
      await t.close();
    });

    it('registration shares the sign-up limit per address; log-in shares the per-account limit with the classic log-in', async () => {
      await opaque.ready;
      const { registrationRequest } = opaque.client.startRegistration({ password: 'pw' });
      // Sign-up allows 5 an hour from one address, whichever the mode.
      for (let i = 0; i < 3; i++) assert.equal((await post(t.app, '/api/v1/accounts', { email: newEmail(), password: 'a long and unusual passphrase 42' })).statusCode, 201);
      for (let i = 0; i < 2; i++) assert.equal((await post(t.app, '/api/v1/e2e/registrations', { email: newEmail(), registration_request: registrationRequest })).statusCode, 200);
      const limited = await post(t.app, '/api/v1/e2e/registrations', { email: newEmail(), registration_request: registrationRequest });
      assert.equal(limited.statusCode, 429);
      assert.equal(limited.json().error.code, 'rate_limited');
      assert.ok(Number(limited.headers['retry-after']) > 0);

      // Log-in allows 10 per account in 15 minutes: classic attempts count against the E2E start.
      const email = newEmail();
      const { startLoginRequest } = opaque.client.startLogin({ password: 'pw' });
      for (let i = 0; i < 6; i++) assert.equal((await post(t.app, '/api/v1/sessions', { email, password: 'wrong but long enough' })).statusCode, 401);
      for (let i = 0; i < 4; i++) assert.equal((await post(t.app, '/api/v1/e2e/sessions/start', { email, start_login_request: startLoginRequest })).statusCode, 200);
      assert.equal((await post(t.app, '/api/v1/e2e/sessions/start', { email, start_login_request: startLoginRequest })).statusCode, 429);
    });
  });

  describe(`OPAQUE server setup (${driver})`, () => {
    it('is kept in the database: an account registered through one process logs in through another', async () => {
      const t = await makeTestApp({ driver });
      const other = await buildApp({ config: t.config, store: t.store, logger: createLogger('silent') });
      try {
        const user = await signUpE2E(t.app);
        const login = await logIn(other, user.email, user.password);
        assert.equal(login.finish!.statusCode, 200);
      } finally {
        await other.close();
        await t.close();
      }
    });

    it('is taken from ANAMNESIS_OPAQUE_SERVER_SETUP when set (a changed one is survived with the recovery code), and a bad one stops start-up', async () => {
      await opaque.ready;
      const t = await makeTestApp({ driver });
      try {
        const setup = opaque.server.createSetup();
        const configured = await buildApp({ config: { ...t.config, opaqueServerSetup: setup }, store: t.store, logger: createLogger('silent') });
        const fromDatabase = t.app;
        try {
          const user = await signUpE2E(configured);
          assert.equal((await logIn(configured, user.email, user.password)).finish!.statusCode, 200);
          // The database's own setup is another: the record made under the configured one does not verify there.
          assert.equal((await logIn(fromDatabase, user.email, user.password)).finish!.statusCode, 401);
          // A changed setup is survived with the recovery code, which registers the password afresh.
          const reg = opaque.client.startRegistration({ password: user.password });
          const { recovery_auth } = recoverySecrets(user.code, user.userId, user.key);
          const started = (await post(fromDatabase, '/api/v1/e2e/recovery/start', { email: user.email, recovery_auth, registration_request: reg.registrationRequest })).json() as { reset_id: string; registration_response: string };
          const record = finishRegistration(user.password, reg.clientRegistrationState, started.registration_response);
          assert.equal((await post(fromDatabase, '/api/v1/e2e/recovery/finish', { reset_id: started.reset_id, ...credentialsFor(user.userId, record, user.key, user.code) })).statusCode, 200);
          assert.equal((await logIn(fromDatabase, user.email, user.password)).finish!.statusCode, 200);
        } finally {
          await configured.close();
        }
        await assert.rejects(
          buildApp({ config: { ...t.config, opaqueServerSetup: 'A'.repeat(171) }, store: t.store, logger: createLogger('silent') }),
          /ANAMNESIS_OPAQUE_SERVER_SETUP is not a valid OPAQUE server setup/,
        );
      } finally {
        await t.close();
      }
    });
  });
}
