// Where the local MCP server keeps K and the session token. This machine has
// no Secret Service, so the keychain does not answer and the encrypted file
// is used, announced by a warning; the file holds neither secret in any
// encoding, opens only with the passphrase, and a damaged file is refused
// with a fixed message.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileKeystore, FILE_WARNING, KeystoreError, openKeystore } from '../../src/local/keystore.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'anamnesis-keystore-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function secrets() {
  const key = randomBytes(32);
  return { key, secrets: { dataKey: key.toString('base64url'), token: `ane_${randomBytes(32).toString('base64url')}` } };
}

/** Every encoding a secret could leak in. */
function encodings(bytes: Buffer, text: string): string[] {
  return [bytes.toString('base64url'), bytes.toString('base64'), bytes.toString('hex'), text];
}

describe('the keystore of the local MCP server', () => {
  it('falls back to the encrypted file with a warning when no keychain answers', async () => {
    const warnings: string[] = [];
    const file = path.join(dir, 'fallback.enc');
    const store = await openKeystore({ account: 'someone@http://127.0.0.1', file, env: {}, passphrase: async () => 'correct horse battery staple', warn: (line) => warnings.push(line) });
    assert.equal(store.isKeychain, false, 'no Secret Service runs on this machine');
    assert.equal(store.where, file);
    assert.equal(warnings.length, 1);
    assert.ok(warnings[0]!.startsWith(FILE_WARNING));
    assert.match(warnings[0]!, /passphrase/);
  });

  it('keeps the key and token only encrypted, readable with the passphrase alone', async () => {
    const file = path.join(dir, 'credentials.enc');
    const { key, secrets: stored } = secrets();
    await fileKeystore(file, async () => 'correct horse battery staple').save(stored);
    const content = readFileSync(file, 'utf8');
    for (const leak of [...encodings(key, stored.dataKey), stored.token, stored.token.slice(4)]) assert.ok(!content.includes(leak), 'no secret in the file');
    assert.equal(statSync(file).mode & 0o077, 0, 'only the user can read the file');
    assert.deepEqual(await fileKeystore(file, async () => 'correct horse battery staple').load(), stored);
    await assert.rejects(fileKeystore(file, async () => 'wrong horse battery staple').load(), (error: Error) => error instanceof KeystoreError && error.message === 'the passphrase does not open the credentials file');
  });

  it('refuses a damaged or altered file with a fixed message', async () => {
    const file = path.join(dir, 'altered.enc');
    await fileKeystore(file, async () => 'a passphrase long enough').save(secrets().secrets);
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { ciphertext: string };
    const bytes = Buffer.from(stored.ciphertext, 'base64url');
    bytes[0]! ^= 1;
    writeFileSync(file, JSON.stringify({ ...stored, ciphertext: bytes.toString('base64url') }));
    await assert.rejects(fileKeystore(file, async () => 'a passphrase long enough').load(), /does not open the credentials file/);
    writeFileSync(file, 'not json');
    await assert.rejects(fileKeystore(file, async () => 'a passphrase long enough').load(), /the credentials file is damaged/);
    assert.equal(await fileKeystore(path.join(dir, 'missing.enc'), async () => 'x').load(), null);
  });
});
