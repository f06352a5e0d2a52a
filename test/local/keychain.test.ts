// The OS keychain path of anamnesis-local, on a real Secret Service: a
// private D-Bus session (dbus-run-session) with GNOME Keyring unlocked in it,
// as on a Linux desktop. The real bin signs up, reports where its key is,
// logs out; `secret-tool` (libsecret, independent of our code) shows what the
// keychain holds at each step, and the device folder shows that no key file
// was written and no passphrase was asked for.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTestApp, type TestApp } from '../helpers/app.ts';
import { listen } from '../mcp/helpers.ts';
import { BIN, newDevice } from './support.ts';

const PASSWORD = 'juniper-observatory-lantern-73';

/** Runs `script` (bash) inside a fresh D-Bus session whose GNOME Keyring is unlocked; resolves with everything it printed. */
function inKeyringSession(script: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const unlock = 'printf %s "$KEYRING_UNLOCK" | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1\n';
  return new Promise((resolve, reject) => {
    const child = spawn('dbus-run-session', ['--', 'bash', '-euc', unlock + script], { env: { ...env, KEYRING_UNLOCK: 'keyring-of-this-test' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** The text between `::name` and the next marker. */
function section(output: string, name: string): string {
  const start = output.indexOf(`::${name}\n`);
  assert.notEqual(start, -1, `the script reached ${name}:\n${output}`);
  const rest = output.slice(start + name.length + 3);
  const end = rest.indexOf('\n::');
  return end === -1 ? rest : rest.slice(0, end);
}

describe('anamnesis-local keeps its key in the OS keychain when one answers', () => {
  let t: TestApp;
  let url: string;
  const device = newDevice(PASSWORD);
  const home = mkdtempSync(path.join(os.tmpdir(), 'anamnesis-keyring-home-'));

  before(async () => {
    t = await makeTestApp();
    url = await listen(t.app);
  });
  after(async () => {
    await t?.close();
    rmSync(device.dir, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  });

  it('stores the key and token there, needs no passphrase and writes no key file; logout removes them', async () => {
    // No passphrase in the environment: the keychain path must not need one.
    const { ANAMNESIS_LOCAL_PASSPHRASE: _unused, ...env } = device.env;
    const email = `keychain-${Date.now()}@example.com`;
    const node = JSON.stringify(process.execPath);
    const bin = JSON.stringify(BIN);
    const run = await inKeyringSession(
      [
        'echo ::signup',
        `${node} ${bin} signup --server ${url} --email ${email}`,
        'echo ::status',
        `${node} ${bin} status`,
        'echo ::keychain',
        'secret-tool search --all service anamnesis-local 2>&1 || true',
        'echo ::logout',
        `${node} ${bin} logout`,
        'echo ::after',
        'secret-tool search --all service anamnesis-local 2>&1 || true',
        'echo ::end',
      ].join('\n'),
      { ...env, HOME: home },
    );
    assert.equal(run.code, 0, run.output);

    const signup = section(run.output, 'signup');
    assert.doesNotMatch(signup, /no OS keychain answers/, 'no file fallback warning');
    assert.match(section(run.output, 'status'), /key: +in the OS keychain/);
    const held = section(run.output, 'keychain');
    assert.match(held, /attribute\.service = anamnesis-local/);
    assert.match(held, /secret = \{.*dataKey/, 'the keychain item holds the key');
    assert.equal(existsSync(path.join(device.dir, 'credentials.enc')), false, 'no key file on disk');
    assert.doesNotMatch(section(run.output, 'after'), /anamnesis-local/, 'logout removed the keychain item');
  });
});
