// The commands of anamnesis-local as a user runs them, against a real server:
// a wrong password stores nothing, a too-short passphrase is refused before
// the server is asked, serve refuses to start logged out, recovery with the
// code sets a new password and ends the other devices' sessions, and logout
// ends the session and leaves nothing of the account on the device. No
// password, code, key or token on stderr.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTestApp, type TestApp } from '../helpers/app.ts';
import { callTool, listen } from '../mcp/helpers.ts';
import { fileKeystore } from '../../src/local/keystore.ts';
import { type LocalDevice, newDevice, PASSPHRASE, runCli, serveClient } from './support.ts';

const PASSWORD = 'amber-walrus-cathedral-42';
const NEW_PASSWORD = 'quiet-orchard-lantern-77';
const CODE = /[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){7}/;

describe('anamnesis-local commands', () => {
  let t: TestApp;
  let baseUrl: string;
  const devices: LocalDevice[] = [];
  const device = (password = PASSWORD, extra: Record<string, string> = {}) => {
    const d = newDevice(password, extra);
    devices.push(d);
    return d;
  };
  const email = `cli-${Date.now()}@example.com`;
  let code = '';

  before(async () => {
    t = await makeTestApp();
    baseUrl = await listen(t.app);
  });
  after(async () => {
    await t.close();
    for (const d of devices) rmSync(d.dir, { recursive: true, force: true });
  });

  it('signs up; a weak password is refused first, and a wrong one then stores nothing on another device', async () => {
    const weak = await runCli(device('short'), ['signup', '--server', baseUrl, '--email', email]);
    assert.equal(weak.code, 1);
    assert.match(weak.stderr, /the password must be at least 12 characters long/);
    const first = device();
    const signup = await runCli(first, ['signup', '--server', baseUrl, '--email', email]);
    assert.equal(signup.code, 0, signup.stderr);
    code = signup.stdout.match(CODE)![0];
    const wrong = device('not-the-password-at-all');
    const run = await runCli(wrong, ['login', '--server', baseUrl, '--email', email]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /the email, password or recovery code is not right/);
    assert.ok(!run.stderr.includes('not-the-password-at-all'));
    assert.deepEqual(readdirSync(wrong.dir), [], 'no profile, credentials or cache');
  });

  it('refuses a short passphrase before asking the server, and refuses to serve logged out', async () => {
    const short = device(PASSWORD, { ANAMNESIS_LOCAL_PASSPHRASE: 'too short' });
    const run = await runCli(short, ['login', '--server', baseUrl, '--email', email]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /ANAMNESIS_LOCAL_PASSPHRASE needs at least 12 characters/);
    const serve = await runCli(device(), ['serve']);
    assert.equal(serve.code, 1);
    assert.match(serve.stderr, /not logged in on this device: run `anamnesis-local login/);
    const bad = await runCli(device(), ['login', '--server', 'ftp://example.com', '--email', email]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--server must be https/);
  });

  it('recovers with the code: a new password and code, and every other device logged out', async () => {
    const laptop = device();
    assert.equal((await runCli(laptop, ['login', '--server', baseUrl, '--email', email])).code, 0);
    const phone = device(NEW_PASSWORD);
    const run = await runCli(phone, ['recover', '--server', baseUrl, '--email', email], { ANAMNESIS_RECOVERY_CODE: code.toLowerCase() });
    assert.equal(run.code, 0, run.stderr);
    const next = run.stdout.match(CODE)![0];
    assert.notEqual(next, code);
    assert.ok(!run.stderr.includes(next) && !run.stderr.includes(code) && !run.stderr.includes(NEW_PASSWORD));
    const sync = await runCli(laptop, ['sync']);
    assert.equal(sync.code, 1);
    assert.match(sync.stderr, /the server answered 401/);
    assert.equal((await runCli(device(PASSWORD), ['login', '--server', baseUrl, '--email', email])).code, 1, 'the old password no longer logs in');
    assert.equal((await runCli(device(NEW_PASSWORD), ['login', '--server', baseUrl, '--email', email])).code, 0);
    const reused = await runCli(device(NEW_PASSWORD), ['recover', '--server', baseUrl, '--email', email], { ANAMNESIS_RECOVERY_CODE: code });
    assert.equal(reused.code, 1, 'the old code no longer works');
  });

  it('serves two MCP clients at once from one folder, each on its own cache, losing no write', async () => {
    const shared = device(NEW_PASSWORD);
    assert.equal((await runCli(shared, ['login', '--server', baseUrl, '--email', email])).code, 0);
    const [desktopApp, editor] = [await serveClient(shared), await serveClient(shared)];
    try {
      await callTool(desktopApp, 'remember', { content: 'Written from the desktop app' });
      await callTool(editor, 'remember', { content: 'Written from the editor' });
    } finally {
      await desktopApp.close();
      await editor.close();
    }
    assert.ok(existsSync(path.join(shared.dir, 'cache.db')) && existsSync(path.join(shared.dir, 'cache-2.db')), 'the second process took a second cache');
    assert.ok(!readdirSync(shared.dir).some((name) => name.endsWith('.lock')), 'both released their lock');
    assert.equal((await runCli(shared, ['sync'])).code, 0);
    const other = device(NEW_PASSWORD);
    assert.equal((await runCli(other, ['login', '--server', baseUrl, '--email', email])).code, 0);
    const client = await serveClient(other);
    try {
      const listed = (await callTool(client, 'list_memories')).structuredContent as { items: Array<{ content: string }> };
      assert.deepEqual(listed.items.map((m) => m.content).sort(), ['Written from the desktop app', 'Written from the editor']);
    } finally {
      await client.close();
    }
  });

  it('logs out: the session ends on the server and nothing of the account stays on the device', async () => {
    const desk = device(NEW_PASSWORD);
    assert.equal((await runCli(desk, ['login', '--server', baseUrl, '--email', email])).code, 0);
    const status = await runCli(desk, ['status']);
    assert.match(status.stdout, /online: +the server holds \d+ records/);
    const { token } = (await fileKeystore(path.join(desk.dir, 'credentials.enc'), async () => PASSPHRASE).load())!;
    const account = () => fetch(`${baseUrl}/api/v1/e2e/account`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal((await account()).status, 200);
    const out = await runCli(desk, ['logout']);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /logged out/);
    for (const file of ['profile.json', 'credentials.enc', 'cache.db']) assert.ok(!existsSync(path.join(desk.dir, file)), `${file} is gone`);
    assert.equal((await account()).status, 401, 'the session token no longer works');
    const after = await runCli(desk, ['status']);
    assert.equal(after.code, 1);
    assert.match(after.stderr, /not logged in/);
  });
});
