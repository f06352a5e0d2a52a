// Everything the client core sends to the server, and everything it gets
// back, recorded at fetch and scanned: across sign-up, log-in, writes, sync,
// recovery and log-out, no password, K (in any encoding), recovery code or
// record plaintext crosses the wire.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { logIn, logOut, recover, signUp } from '../../src/e2e-client/account.ts';
import { E2eApi, E2eApiError } from '../../src/e2e-client/api.ts';
import { parseRecoveryCode } from '../../src/e2e-client/recovery-code.ts';
import { testDrivers } from '../http/support.ts';
import { PASSWORD, device, newEmail, serve, type Served } from './with-server.ts';

for (const driver of await testDrivers('end-to-end client core traffic')) {
  describe(`what the client core puts on the wire (${driver})`, () => {
    let s: Served;
    before(async () => {
      s = await serve(driver);
    });
    after(() => s.close());

    it('carries no password, key, recovery code or plaintext, either way', async () => {
      const wire: string[] = [];
      const recording: typeof fetch = async (input, init) => {
        wire.push(`${init?.method ?? 'GET'} ${String(input)} ${JSON.stringify(init?.headers ?? {})} ${typeof init?.body === 'string' ? init.body : ''}`);
        const response = await fetch(input, init);
        wire.push(await response.clone().text());
        return response;
      };
      const api = new E2eApi({ baseUrl: s.api.baseUrl, fetch: recording });
      const email = newEmail();
      const newPassword = 'the second passphrase, also long';

      const account = await signUp(api, { email, password: PASSWORD });
      const laptop = await device(api, account);
      const secrets = ['the safe combination is 31-7-22', 'Marie Curie', 'radium notebook', 'discovered polonium'];
      await laptop.put({ kind: 'memory', id: laptop.newMemoryId(), content: secrets[0]!, tags: ['private'], created_at: '2026-03-01T09:00:00.000Z', updated_at: '2026-03-01T09:00:00.000Z' });
      await laptop.put({ kind: 'entity', name: secrets[1]!, entityType: 'person', observations: [secrets[3]!] });
      await laptop.put({ kind: 'relation', from: secrets[1]!, to: secrets[2]!, relationType: 'kept' });
      await laptop.sync();
      const phone = await device(api, await logIn(api, { email, password: PASSWORD }));
      await phone.sync();
      assert.equal(phone.size, 3);
      const recovered = await recover(api, { email, recoveryCode: account.recoveryCode, newPassword });
      await logOut(api.withToken(recovered.token));
      await assert.rejects(device(api, recovered).then((r) => r.sync()), (error: unknown) => error instanceof E2eApiError && error.status === 401);

      const K = Buffer.from(account.dataKey);
      const forbidden = [
        PASSWORD,
        newPassword,
        K.toString('base64url'),
        K.toString('base64'),
        K.toString('hex'),
        account.recoveryCode,
        account.recoveryCode.replace(/-/g, ''),
        recovered.recoveryCode,
        Buffer.from(parseRecoveryCode(account.recoveryCode).bytes).toString('base64url'),
        Buffer.from(parseRecoveryCode(account.recoveryCode).bytes).toString('hex'),
        ...secrets,
        'private',
      ];
      const traffic = wire.join('\n');
      assert.ok(wire.length > 20, `recorded ${wire.length} messages`);
      assert.ok(traffic.includes('gAAAAA'), 'the records went over as Fernet tokens');
      for (const secret of forbidden) assert.ok(!traffic.includes(secret), `the wire carried "${secret.slice(0, 10)}…"`);
    });
  });
}
