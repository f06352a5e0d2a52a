// End-to-end mode, "the server never receives the data key": every byte the
// server process received or sent, recorded on the wire by a relay in front
// of it, while the real anamnesis-local (over stdio, under the MCP SDK
// client) signs up, writes memories and a graph, syncs, and a second device
// logs in and reads them. Neither direction carries the password, the data
// key in any encoding, the session token outside its Authorization header,
// the recovery code or any record plaintext; the records did cross, as
// Fernet tokens.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileKeystore } from '../../src/local/keystore.ts';
import { makeTestApp, type TestApp } from '../helpers/app.ts';
import { type RecordingProxy, startRecordingProxy } from '../helpers/recording-proxy.ts';
import { testDrivers } from '../http/support.ts';
import { callTool, listen } from '../mcp/helpers.ts';
import { newDevice, PASSPHRASE, runCli, serveClient } from '../local/support.ts';
import { foundIn, tokensIn } from './support.ts';

const PASSWORD = 'saffron-lighthouse-crossing-44';
const PLAINTEXT = ['Ottoline keeps the spare key under the blue flowerpot', 'flowerpot', 'Ottoline Brandauer', 'allergic to hazelnuts', 'Brandauer Bakery'];
const RECOVERY_CODE = /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){7}$/m;

for (const driver of await testDrivers('end-to-end traffic claims')) {
  describe(`what crosses the wire to and from the server in end-to-end mode (${driver})`, () => {
    let t: TestApp;
    let proxy: RecordingProxy;
    const laptop = newDevice(PASSWORD);
    const phone = newDevice(PASSWORD);

    before(async () => {
      t = await makeTestApp({ driver });
      const { hostname, port } = new URL(await listen(t.app));
      proxy = await startRecordingProxy({ host: hostname, port: Number(port) });
    });
    after(async () => {
      await proxy?.close();
      await t?.close();
      for (const device of [laptop, phone]) rmSync(device.dir, { recursive: true, force: true });
    });

    it('carries no password, key, recovery code or plaintext either way, only Fernet tokens', async () => {
      const email = `traffic-${driver}-${Date.now()}@example.com`;
      const signup = await runCli(laptop, ['signup', '--server', proxy.url, '--email', email]);
      assert.equal(signup.code, 0, signup.stderr);
      const recoveryCode = signup.stdout.match(RECOVERY_CODE)![0];

      const local = await serveClient(laptop);
      try {
        await callTool(local, 'remember', { content: PLAINTEXT[0]!, tags: ['home'] });
        await callTool(local, 'create_entities', { entities: [{ name: PLAINTEXT[2]!, entityType: 'person', observations: [PLAINTEXT[3]!] }] });
        await callTool(local, 'create_relations', { relations: [{ from: PLAINTEXT[2]!, to: PLAINTEXT[4]!, relationType: 'owns' }] });
      } finally {
        await local.close();
      }
      assert.equal((await runCli(laptop, ['sync'])).code, 0);
      const login = await runCli(phone, ['login', '--server', proxy.url, '--email', email]);
      assert.equal(login.code, 0, login.stderr);
      const second = await serveClient(phone);
      try {
        const found = await callTool(second, 'recall', { query: 'flowerpot' });
        assert.match(JSON.stringify(found.structuredContent), /blue flowerpot/, 'the second device read the memory, so it crossed the wire');
      } finally {
        await second.close();
      }

      const stored = await fileKeystore(path.join(laptop.dir, 'credentials.enc'), async () => PASSPHRASE).load();
      assert.ok(stored);
      const key = Buffer.from(stored.dataKey, 'base64url');
      const secrets = [PASSWORD, recoveryCode, recoveryCode.replaceAll('-', ''), stored.dataKey, key.toString('base64'), key.toString('hex'), key.toString('latin1')];

      const wire = proxy.traffic();
      assert.ok(wire.length > 10_000, 'the relay saw the traffic');
      assert.deepEqual(foundIn(wire, [email]), [email], 'control: the email, which the server must see, is found');
      assert.deepEqual(foundIn(wire, PLAINTEXT), [], 'no record plaintext on the wire');
      assert.deepEqual(foundIn(wire, secrets), [], 'no password, data key or recovery code on the wire');
      // The session token is a bearer credential: it crosses only in Authorization headers (and once in the log-in answer).
      const text = wire.toString('latin1');
      const outsideHeaders = text.split(stored.token).length - 1 - (text.match(new RegExp(`authorization: Bearer ${stored.token}`, 'gi')) ?? []).length;
      assert.ok(outsideHeaders <= 1, `the token crossed outside an Authorization header ${outsideHeaders} times`);
      assert.ok(tokensIn(text).length >= 4, 'the records crossed, as Fernet tokens');
    });
  });
}
