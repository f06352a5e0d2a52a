// Importing the reference server's memory.jsonl: through REST (its quirks,
// merging, all-or-nothing) and through the CLI against a listening server.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildApp } from '../../src/http/app.ts';
import { createLogger } from '../../src/logger.ts';
import type { Store, Transaction } from '../../src/storage/store.ts';
import { type Driver, makeTestApp, signUp, type TestApp } from '../helpers/app.ts';
import { postgresAvailableForTests } from '../helpers/postgres.ts';
import { callTool, connectClient, listen } from './helpers.ts';

const entity = (name: string, entityType: string, observations: string[]) => JSON.stringify({ type: 'entity', name, entityType, observations });
const relation = (from: string, to: string, relationType: string) => JSON.stringify({ type: 'relation', from, to, relationType });

/** A memory.jsonl as the reference writes it (no final newline), saved on Windows (CRLF), with two damaged lines. */
const QUIRKY_FILE = [
  entity('Marie Curie', 'person', ['Won two Nobel prizes']),
  entity('Pierre Curie', 'person', []),
  '{"type":"entity","name":"Half a li',
  relation('Marie Curie', 'Pierre Curie', 'married'),
  '{"type":"observation","text":"not a kind the reference writes"}',
  '',
  entity('Radium', 'element', ['Discovered in 1898']),
  relation('Marie Curie', 'Radium', 'discovered'),
].join('\r\n');

async function importFile(baseUrl: string, apiKey: string, body: string): Promise<Response> {
  return fetch(`${baseUrl}/api/v1/import?format=mcp-memory-jsonl`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/x-ndjson' },
    body,
  });
}

async function readGraph(baseUrl: string, apiKey: string): Promise<unknown> {
  const client = await connectClient(baseUrl, apiKey);
  try {
    return (await callTool(client, 'read_graph')).structuredContent;
  } finally {
    await client.close();
  }
}

/** The real store, except that a transaction's putRecords writes half its rows and then fails, like a disk filling up mid-import. */
function failingHalfway(store: Store): Store {
  const failingTx = (tx: Transaction): Transaction => new Proxy(tx, {
    get(target, property, receiver) {
      if (property !== 'putRecords') return Reflect.get(target, property, receiver) as unknown;
      return async (rows: Parameters<Transaction['putRecords']>[0]) => {
        await target.putRecords(rows.slice(0, Math.ceil(rows.length / 2)));
        throw new Error('disk full');
      };
    },
  });
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property !== 'transaction') return Reflect.get(target, property, receiver) as unknown;
      return <T>(work: (tx: Transaction) => Promise<T>) => target.transaction((tx) => work(failingTx(tx)));
    },
  });
}

function describeImport(driver: Driver): void {
  describe(`memory.jsonl import over REST (${driver})`, () => {
    let t: TestApp;
    let baseUrl: string;

    before(async () => {
      t = await makeTestApp({ driver });
      baseUrl = await listen(t.app);
    });
    after(() => t.close());

    it('imports despite no final newline and CRLF, reporting damaged lines by number while the rest import', async () => {
      const user = await signUp(t.app);
      const response = await importFile(baseUrl, user.apiKey, QUIRKY_FILE);
      assert.equal(response.status, 200);
      const report = (await response.json()) as { imported: Record<string, number>; errors: Array<{ line: number; message: string }> };
      assert.deepEqual(report.imported, { memories: 0, entities: 3, relations: 2, observations: 0 });
      assert.deepEqual(report.errors.map((e) => e.line), [3, 5]);
      assert.equal(report.errors[0]!.message, 'not JSON');
      assert.deepEqual(await readGraph(baseUrl, user.apiKey), {
        entities: [
          { name: 'Marie Curie', entityType: 'person', observations: ['Won two Nobel prizes'] },
          { name: 'Pierre Curie', entityType: 'person', observations: [] },
          { name: 'Radium', entityType: 'element', observations: ['Discovered in 1898'] },
        ],
        relations: [
          { from: 'Marie Curie', to: 'Pierre Curie', relationType: 'married' },
          { from: 'Marie Curie', to: 'Radium', relationType: 'discovered' },
        ],
      });
    });

    it('merges a second import: known entities gain new observations, known relations are skipped', async () => {
      const user = await signUp(t.app);
      await importFile(baseUrl, user.apiKey, [entity('Radium', 'element', ['Discovered in 1898']), relation('Radium', 'Polonium', 'found with')].join('\n'));
      const response = await importFile(baseUrl, user.apiKey, [entity('Radium', 'element', ['Discovered in 1898', 'Glows faintly blue']), relation('Radium', 'Polonium', 'found with')].join('\n') + '\n');
      const report = (await response.json()) as { imported: Record<string, number>; skipped: Record<string, number> };
      assert.deepEqual(report.imported, { memories: 0, entities: 0, relations: 0, observations: 1 });
      assert.deepEqual(report.skipped, { memories: 0, entities: 1, relations: 1 });
      assert.deepEqual(await readGraph(baseUrl, user.apiKey), {
        entities: [{ name: 'Radium', entityType: 'element', observations: ['Discovered in 1898', 'Glows faintly blue'] }],
        relations: [{ from: 'Radium', to: 'Polonium', relationType: 'found with' }],
      });
    });

    it('is one transaction: a failure after half the rows were written leaves nothing imported', async () => {
      const user = await signUp(t.app);
      const app = await buildApp({ config: t.config, store: failingHalfway(t.store), logger: createLogger('silent') });
      try {
        const failingUrl = await listen(app);
        const response = await importFile(failingUrl, user.apiKey, QUIRKY_FILE);
        assert.equal(response.status, 500);
        assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'internal');
      } finally {
        await app.close();
      }
      assert.equal(await t.store.countRecords(user.userId, 'entity'), 0);
      assert.equal(await t.store.countRecords(user.userId, 'relation'), 0);
      assert.deepEqual(await readGraph(baseUrl, user.apiKey), { entities: [], relations: [] });
    });
  });
}

describeImport('sqlite');
if (await postgresAvailableForTests('memory.jsonl import over REST')) describeImport('postgres');

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/import-mcp-memory.ts', ...args],
      { env: { PATH: process.env.PATH ?? '', ...env }, cwd: path.resolve('.') },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('the import-mcp-memory CLI against a listening server', () => {
  let t: TestApp;
  let baseUrl: string;
  let dir: string;

  before(async () => {
    t = await makeTestApp();
    baseUrl = await listen(t.app);
    dir = mkdtempSync(path.join(os.tmpdir(), 'anamnesis-cli-'));
  });
  after(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('imports a file, prints the report with bad lines by number, and never prints the key', async () => {
    const user = await signUp(t.app);
    const file = path.join(dir, 'memory.jsonl');
    writeFileSync(file, QUIRKY_FILE);
    const run = await runCli(['--file', file, '--url', baseUrl], { ANAMNESIS_API_KEY: user.apiKey });
    assert.equal(run.code, 1, 'some lines were rejected');
    assert.match(run.stdout, /^Imported 3 entities and 2 relations\./);
    assert.match(run.stdout, /2 lines could not be imported \(the others were\):\n {2}line 3: not JSON\n {2}line 5: /);
    assert.ok(!(run.stdout + run.stderr).includes(user.apiKey));
    assert.equal(((await readGraph(baseUrl, user.apiKey)) as { entities: unknown[] }).entities.length, 3);

    const clean = path.join(dir, 'clean.jsonl');
    writeFileSync(clean, [entity('Radium', 'element', ['Discovered in 1898', 'Used in luminous paint']), entity('Polonium', 'element', [])].join('\n'));
    const again = await runCli(['--file', clean, '--url', baseUrl], { ANAMNESIS_API_KEY: user.apiKey });
    assert.equal(again.code, 0);
    assert.equal(again.stdout, 'Imported 1 entity and 0 relations.\nAdded 1 observation to entities that already existed.\nAlready there, skipped: 1 entity and 0 relations.\n');
  });

  it('refuses a file that is not UTF-8 before sending anything, and a lone surrogate escape through the server; a BOM is fine', async () => {
    const user = await signUp(t.app);
    const good = entity('Radium', 'element', ['Discovered in 1898']);
    for (const bad of [[0xc3, 0x28], [0xff], [0xc0, 0xaf], [0xf0, 0x9f, 0x98], [0xed, 0xa0, 0x80]]) {
      const file = path.join(dir, 'latin1.jsonl');
      writeFileSync(file, Buffer.concat([Buffer.from(`${good}\n{"type":"entity","name":"Bad `), Buffer.from(bad), Buffer.from('","entityType":"x","observations":[]}')]));
      const run = await runCli(['--file', file, '--url', baseUrl], { ANAMNESIS_API_KEY: user.apiKey });
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /latin1\.jsonl is not well-formed UTF-8; text must be UTF-8, and nothing was stored/);
    }
    const surrogate = path.join(dir, 'surrogate.jsonl');
    writeFileSync(surrogate, `${good}\n${entity('Half \ud800', 'x', [])}`);
    assert.ok(readFileSync(surrogate, 'utf8').includes('\\ud800'), 'JSON.stringify writes a lone surrogate as an escape');
    const refused = await runCli(['--file', surrogate, '--url', baseUrl], { ANAMNESIS_API_KEY: user.apiKey });
    assert.equal(refused.code, 3);
    assert.match(refused.stderr, /the import failed \(400\): line 2 holds a lone surrogate escape.*nothing was imported/);
    assert.deepEqual(((await readGraph(baseUrl, user.apiKey)) as { entities: unknown[] }).entities, [], 'nothing was imported');

    const withBom = path.join(dir, 'bom.jsonl');
    writeFileSync(withBom, `\ufeff${good}\r\n`);
    const imported = await runCli(['--file', withBom, '--url', baseUrl], { ANAMNESIS_API_KEY: user.apiKey });
    assert.equal(imported.code, 0, imported.stderr);
    assert.equal(imported.stdout, 'Imported 1 entity and 0 relations.\n');
  });

  it('takes the key from the environment only, and refuses to send it over plain http to another machine', async () => {
    const file = path.join(dir, 'memory.jsonl');
    writeFileSync(file, entity('X', 'y', []));
    const noKey = await runCli(['--file', file, '--url', baseUrl], {});
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /set ANAMNESIS_API_KEY/);
    const remote = await runCli(['--file', file, '--url', 'http://memory.example.com'], { ANAMNESIS_API_KEY: `anm_${'A'.repeat(43)}` });
    assert.equal(remote.code, 2);
    assert.match(remote.stderr, /use an https:\/\/ URL/);
    const wrongKey = await runCli(['--file', file, '--url', baseUrl], { ANAMNESIS_API_KEY: `anm_${'A'.repeat(43)}` });
    assert.equal(wrongKey.code, 3);
    assert.match(wrongKey.stderr, /the import failed \(401\).*nothing was imported/);
  });
});
