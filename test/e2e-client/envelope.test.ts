// Records sealed as {"v":1,id,version,record}: opening refuses a token the
// server swapped to another id, served at another version, or that is not
// ciphertext under this account's K at all.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import * as node from '../../src/crypto/fernet.ts';
import { type EnvelopeFailure, MAX_TOKEN_CHARS, RecordTooLarge, TamperedRecord, type UserRecord, openRecord, sealRecord } from '../../src/e2e-client/envelope.ts';
import { FernetKey } from '../../src/e2e-client/fernet.ts';
import { generateDataKey } from '../../src/e2e-client/keys.ts';
import type { MemoryRecord } from '../../src/vault/records.ts';

const memory = (id: string, content: string): MemoryRecord => ({ kind: 'memory', id, content, tags: ['t'], created_at: '2026-01-01T00:00:00.000Z', updated_at: '2026-01-01T00:00:00.000Z' });

async function refusal(promise: Promise<unknown>): Promise<EnvelopeFailure> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof TamperedRecord, `expected TamperedRecord, got ${String(error)}`);
    assert.ok(!error.message.includes('secret'), 'the message carries no plaintext');
    return error.reason;
  }
  assert.fail('the token was accepted');
}

describe('envelope', () => {
  it('seals a record as {"v":1,id,version,record} under K and opens it again', async () => {
    const K = generateDataKey();
    const key = await FernetKey.import(K);
    const token = await sealRecord(key, 'm1', 3, memory('m1', 'secret plan'));
    // The plaintext is exactly the contract's JSON, as node:crypto's Fernet reads it.
    assert.deepEqual(JSON.parse(node.fernetDecrypt(K, token).toString('utf8')), { v: 1, id: 'm1', version: 3, record: memory('m1', 'secret plan') });
    assert.deepEqual(await openRecord(key, { id: 'm1', version: 3, token }), { v: 1, id: 'm1', version: 3, record: memory('m1', 'secret plan') });
    const records: UserRecord[] = [{ kind: 'entity', name: 'Ada', entityType: 'person', observations: ['wrote notes'] }, { kind: 'relation', from: 'Ada', to: 'Engine', relationType: 'wrote about' }];
    for (const record of records) {
      const t = await sealRecord(key, 'e_abc', 1, record);
      assert.deepEqual((await openRecord(key, { id: 'e_abc', version: 1, token: t })).record, record);
    }
  });

  it('a deletion is a sealed tombstone: record null', async () => {
    const key = await FernetKey.import(generateDataKey());
    const token = await sealRecord(key, 'm1', 4, null);
    assert.deepEqual(await openRecord(key, { id: 'm1', version: 4, token }), { v: 1, id: 'm1', version: 4, record: null });
  });

  it('the manifest lives only at _manifest, and only a manifest lives there', async () => {
    const key = await FernetKey.import(generateDataKey());
    const manifest = { kind: 'manifest', count: 2, digest: 'AAAA' } as const;
    const token = await sealRecord(key, '_manifest', 7, manifest);
    assert.deepEqual((await openRecord(key, { id: '_manifest', version: 7, token })).record, manifest);
    await assert.rejects(sealRecord(key, 'm1', 1, manifest), RangeError);
    await assert.rejects(sealRecord(key, '_manifest', 1, memory('_manifest', 'x')), RangeError);
  });

  it('a token swapped onto another row is refused (swapped-id)', async () => {
    const key = await FernetKey.import(generateDataKey());
    const a = await sealRecord(key, 'a', 1, memory('a', 'secret a'));
    assert.equal(await refusal(openRecord(key, { id: 'b', version: 1, token: a })), 'swapped-id');
  });

  it('an older version served as the current one is refused (wrong-version)', async () => {
    const key = await FernetKey.import(generateDataKey());
    const v1 = await sealRecord(key, 'a', 1, memory('a', 'secret old'));
    assert.equal(await refusal(openRecord(key, { id: 'a', version: 2, token: v1 })), 'wrong-version');
    // And a tombstone of version 2 cannot be relabelled version 3 either.
    const gone = await sealRecord(key, 'a', 2, null);
    assert.equal(await refusal(openRecord(key, { id: 'a', version: 3, token: gone })), 'wrong-version');
  });

  it('plaintext, another account\'s ciphertext and a flipped bit are refused (undecryptable)', async () => {
    const K = generateDataKey();
    const key = await FernetKey.import(K);
    const plaintext = JSON.stringify({ v: 1, id: 'a', version: 1, record: memory('a', 'secret') });
    assert.equal(await refusal(openRecord(key, { id: 'a', version: 1, token: plaintext })), 'undecryptable');
    assert.equal(await refusal(openRecord(key, { id: 'a', version: 1, token: Buffer.from(plaintext).toString('base64url') })), 'undecryptable');
    const other = await sealRecord(await FernetKey.import(generateDataKey()), 'a', 1, memory('a', 'secret'));
    assert.equal(await refusal(openRecord(key, { id: 'a', version: 1, token: other })), 'undecryptable');
    const token = Buffer.from(await sealRecord(key, 'a', 1, memory('a', 'secret')), 'base64url');
    token[40]! ^= 0x01;
    assert.equal(await refusal(openRecord(key, { id: 'a', version: 1, token: token.toString('base64url') + '='.repeat((3 - (token.length % 3)) % 3) })), 'undecryptable');
  });

  it('a token under K that is not an envelope, or holds a record of the wrong shape, is refused', async () => {
    const K = generateDataKey();
    const key = await FernetKey.import(K);
    const row = (plain: string | Buffer) => ({ id: 'a', version: 1, token: node.fernetEncrypt(K, plain) });
    assert.equal(await refusal(openRecord(key, row('not json'))), 'not-json');
    assert.equal(await refusal(openRecord(key, row(Buffer.from([0x7b, 0xff, 0x7d])))), 'not-json');
    // A server-key-mode record (no envelope) under the same key is not an E2E record.
    assert.equal(await refusal(openRecord(key, row(JSON.stringify(memory('a', 'secret'))))), 'bad-envelope');
    assert.equal(await refusal(openRecord(key, row(JSON.stringify({ v: 2, id: 'a', version: 1, record: null })))), 'bad-envelope');
    assert.equal(await refusal(openRecord(key, row(JSON.stringify({ v: 1, id: 'a', version: 1, record: { kind: 'memory', id: 'a' } })))), 'bad-record');
    // A memory whose own id is another's poses as that one: refused.
    assert.equal(await refusal(openRecord(key, row(JSON.stringify({ v: 1, id: 'a', version: 1, record: memory('b', 'secret') })))), 'bad-record');
  });

  it('refuses to seal a record the server would not store (over 256 KiB sealed), so it never blocks the queue', async () => {
    const key = await FernetKey.import(generateDataKey());
    const big = { kind: 'entity' as const, name: 'Big', entityType: 'thing', observations: Array.from({ length: 40 }, () => 'x'.repeat(8000)) };
    await assert.rejects(sealRecord(key, 'e_big', 1, big), (error: unknown) => error instanceof RecordTooLarge && error.recordId === 'e_big' && !error.message.includes('xxxx'));
    // Just under the limit is fine.
    const fits = { ...big, observations: big.observations.slice(0, 20) };
    assert.ok((await sealRecord(key, 'e_big', 1, fits)).length <= MAX_TOKEN_CHARS);
  });

  it('refuses to seal a bad id or version', async () => {
    const key = await FernetKey.import(randomBytes(32));
    await assert.rejects(sealRecord(key, 'has space', 1, null), RangeError);
    await assert.rejects(sealRecord(key, 'x'.repeat(65), 1, null), RangeError);
    await assert.rejects(sealRecord(key, 'a', 0, null), RangeError);
    await assert.rejects(sealRecord(key, 'a', 1.5, null), RangeError);
  });
});
