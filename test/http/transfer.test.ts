// Export and import: the encrypted export decrypts offline with the API key
// alone (the two scripts of docs/export.md, run as they are, in Python with
// PyCA and in Node with node:crypto); the JSON export; imports of our own
// exports and of the reference server's memory.jsonl.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bearer, makeTestApp, signUp, type TestApp, type TestUser } from '../helpers/app.ts';
import { repoRoot } from '../helpers/shared-vectors.ts';
import { testDrivers } from './support.ts';

const PYTHON_SCRIPT = path.join(repoRoot, 'docs', 'examples', 'decrypt_export.py');
const NODE_SCRIPT = path.join(repoRoot, 'docs', 'examples', 'decrypt-export.mjs');
const EXPORT_DOC = path.join(repoRoot, 'docs', 'export.md');

/** A python3 with PyCA cryptography: $PYTHON, python3 on PATH, or Debian's /usr/bin/python3. */
function findPyca(): { python: string | null; why: string } {
  const candidates = process.env.PYTHON ? [process.env.PYTHON] : ['python3', '/usr/bin/python3'];
  const problems: string[] = [];
  for (const python of candidates) {
    const probe = spawnSync(python, ['-c', 'import cryptography.fernet, cryptography.hazmat.primitives.kdf.hkdf'], { encoding: 'utf8' });
    if (probe.status === 0) return { python, why: '' };
    problems.push(`${python}: ${probe.error?.message ?? probe.stderr.trim().split('\n').at(-1)}`);
  }
  return { python: null, why: problems.join('; ') };
}
const pyca = findPyca();
if (!pyca.python && !process.env.CI) {
  console.warn(`\n${'!'.repeat(78)}\n!! PYTHON EXPORT SCRIPT NOT TESTED: ${pyca.why}\n!! Install python3 + cryptography to run it.\n${'!'.repeat(78)}\n`);
}

/** Runs a docs/examples script on an export file, the API key in the environment as the docs say. */
function runScript(command: string, script: string, exportFile: string, apiKey: string): unknown[] {
  const run = spawnSync(command, [script, exportFile], { encoding: 'utf8', env: { ...process.env, ANAMNESIS_API_KEY: apiKey }, timeout: 60_000 });
  if (run.error) throw run.error;
  assert.equal(run.status, 0, `${path.basename(script)} failed: ${run.stderr}`);
  return run.stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

const GRAPH_JSONL = [
  '{"type":"entity","name":"Ada Lovelace","entityType":"person","observations":["wrote the first program","born 1815"]}',
  '{"type":"entity","name":"Charles Babbage","entityType":"person","observations":["designed the Analytical Engine"]}',
  '{"type":"relation","from":"Ada Lovelace","to":"Charles Babbage","relationType":"corresponded with"}',
].join('\n');

for (const driver of await testDrivers('HTTP export and import')) {
  describe(`export and import (${driver})`, () => {
    let t: TestApp;
    let tmp: string;
    before(async () => {
      t = await makeTestApp({ driver });
      tmp = mkdtempSync(path.join(os.tmpdir(), 'anamnesis-export-'));
    });
    after(async () => {
      rmSync(tmp, { recursive: true, force: true });
      await t.close();
    });

    const exportAs = (user: TestUser, format: 'encrypted' | 'json') => t.app.inject({ method: 'GET', url: `/api/v1/export?format=${format}`, headers: bearer(user.apiKey) });
    const importAs = (user: TestUser, format: string, payload: string, contentType = 'application/x-ndjson') =>
      t.app.inject({ method: 'POST', url: `/api/v1/import?format=${format}`, headers: { ...bearer(user.apiKey), 'content-type': contentType }, payload });

    async function userWithRecords(): Promise<TestUser> {
      const user = await signUp(t.app);
      for (const [content, tags] of [['Café with Ada on Friday', ['social']], ['東京の住所を覚える', ['旅行']], ['the spare key is with the neighbour', []]] as const) {
        await t.app.inject({ method: 'POST', url: '/api/v1/memories', headers: bearer(user.apiKey), payload: { content, tags } });
      }
      const imported = await importAs(user, 'mcp-memory-jsonl', GRAPH_JSONL);
      assert.equal(imported.statusCode, 200);
      return user;
    }

    const plainRecords = async (user: TestUser) => {
      const json = (await exportAs(user, 'json')).json();
      return [
        ...json.memories.map((m: object) => ({ kind: 'memory', ...m })),
        ...json.entities.map((e: object) => ({ kind: 'entity', ...e })),
        ...json.relations.map((r: object) => ({ kind: 'relation', ...r })),
      ];
    };
    const sortRecords = (records: unknown[]) => records.map((r) => JSON.stringify(r)).sort();

    it('encrypted export: a header line with user id and format version, then one token per line', async () => {
      const user = await userWithRecords();
      const response = await exportAs(user, 'encrypted');
      assert.equal(response.statusCode, 200);
      assert.match(String(response.headers['content-type']), /^application\/x-ndjson/);
      assert.match(String(response.headers['content-disposition']), /^attachment; filename="anamnesis-\d{4}-\d{2}-\d{2}\.encrypted\.jsonl"$/);
      const [headerLine, ...lines] = response.body.trimEnd().split('\n');
      const header = JSON.parse(headerLine!);
      assert.equal(header.format, 'anamnesis-encrypted-export');
      assert.equal(header.version, 'v1');
      assert.equal(header.user_id, user.userId);
      assert.equal(header.records, 6);
      assert.equal(lines.length, 6);
      for (const line of lines) {
        const record = JSON.parse(line);
        assert.deepEqual(Object.keys(record).sort(), ['created_at', 'id', 'kind', 'token', 'updated_at']);
        assert.match(record.token, /^gAAAAA/);
      }
      for (const secret of ['Café', 'Ada Lovelace', '東京', 'neighbour', 'social']) assert.ok(!response.body.includes(secret), `"${secret}" in the encrypted export`);
    });

    it('docs/export.md shows exactly the two scripts in docs/examples', () => {
      const doc = readFileSync(EXPORT_DOC, 'utf8');
      assert.ok(doc.includes('```python\n' + readFileSync(PYTHON_SCRIPT, 'utf8').trimEnd() + '\n```'), 'the Python script in the doc differs from docs/examples/decrypt_export.py');
      assert.ok(doc.includes('```js\n' + readFileSync(NODE_SCRIPT, 'utf8').trimEnd() + '\n```'), 'the Node script in the doc differs from docs/examples/decrypt-export.mjs');
      assert.doesNotMatch(readFileSync(NODE_SCRIPT, 'utf8'), /from '(?!node:)/, 'the Node script uses node: modules only');
    });

    it('the Node script from the docs decrypts the export offline with the API key alone', async () => {
      const user = await userWithRecords();
      const file = path.join(tmp, `${user.userId}.jsonl`);
      writeFileSync(file, (await exportAs(user, 'encrypted')).body);
      const decrypted = runScript(process.execPath, NODE_SCRIPT, file, user.apiKey);
      const expected = await plainRecords(user);
      // The memory records carry their id; entities and relations are compared by content.
      assert.deepEqual(sortRecords(decrypted), sortRecords(expected));
      const wrongKey = spawnSync(process.execPath, [NODE_SCRIPT, file], { encoding: 'utf8', env: { ...process.env, ANAMNESIS_API_KEY: (await signUp(t.app)).apiKey } });
      assert.notEqual(wrongKey.status, 0, 'another key decrypts nothing');
      assert.equal(wrongKey.stdout, '');
    });

    it('the Python script from the docs decrypts the export with PyCA cryptography', { skip: !pyca.python && !process.env.CI ? `PyCA unavailable: ${pyca.why}` : false }, async () => {
      assert.ok(pyca.python, `python3 with cryptography is required in CI: ${pyca.why}`);
      const user = await userWithRecords();
      const file = path.join(tmp, `${user.userId}.py.jsonl`);
      writeFileSync(file, (await exportAs(user, 'encrypted')).body);
      const decrypted = runScript(pyca.python, PYTHON_SCRIPT, file, user.apiKey);
      assert.deepEqual(sortRecords(decrypted), sortRecords(await plainRecords(user)));
      const wrongKey = spawnSync(pyca.python, [PYTHON_SCRIPT, file], { encoding: 'utf8', env: { ...process.env, ANAMNESIS_API_KEY: (await signUp(t.app)).apiKey } });
      assert.notEqual(wrongKey.status, 0);
      assert.match(wrongKey.stderr, /InvalidToken/);
    });

    it('JSON export: every memory, entity and relation in plaintext', async () => {
      const user = await userWithRecords();
      const response = await exportAs(user, 'json');
      assert.equal(response.statusCode, 200);
      assert.match(String(response.headers['content-disposition']), /filename="anamnesis-\d{4}-\d{2}-\d{2}\.json"/);
      const json = response.json();
      assert.equal(json.format, 'anamnesis-json-export');
      assert.equal(json.version, 'v1');
      assert.equal(json.user_id, user.userId);
      assert.deepEqual(json.unreadable, []);
      const listed = (await t.app.inject({ method: 'GET', url: '/api/v1/memories?limit=100', headers: bearer(user.apiKey) })).json().items;
      assert.deepEqual([...json.memories].sort((a, b) => a.id.localeCompare(b.id)), [...listed].sort((a, b) => a.id.localeCompare(b.id)));
      assert.deepEqual(json.entities.map((e: { name: string }) => e.name).sort(), ['Ada Lovelace', 'Charles Babbage']);
      assert.deepEqual(json.entities.find((e: { name: string }) => e.name === 'Ada Lovelace').observations, ['wrote the first program', 'born 1815']);
      assert.deepEqual(json.relations, [{ from: 'Ada Lovelace', to: 'Charles Babbage', relationType: 'corresponded with' }]);
    });

    it('imports a JSON export into a fresh account, then skips what exists on a second import', async () => {
      const source = await userWithRecords();
      const body = (await exportAs(source, 'json')).body;
      const target = await signUp(t.app);
      const first = await importAs(target, 'json', body, 'application/json');
      assert.equal(first.statusCode, 200);
      assert.deepEqual(first.json(), { imported: { memories: 3, entities: 2, relations: 1, observations: 0 }, skipped: { memories: 0, entities: 0, relations: 0 }, errors: [] });
      assert.deepEqual(sortRecords(await plainRecords(target)), sortRecords(await plainRecords(source)));
      const listed = (await t.app.inject({ method: 'GET', url: '/api/v1/memories', headers: bearer(target.apiKey) })).json().items;
      assert.deepEqual(listed.map((m: { content: string }) => m.content), ['the spare key is with the neighbour', '東京の住所を覚える', 'Café with Ada on Friday'], 'original order kept');
      const search = (await t.app.inject({ method: 'GET', url: '/api/v1/memories/search?q=cafe', headers: bearer(target.apiKey) })).json();
      assert.deepEqual(search.results.map((r: { memory: { content: string } }) => r.memory.content), ['Café with Ada on Friday'], 'imported memories are searchable');

      const again = await importAs(target, 'json', body, 'application/json');
      assert.deepEqual(again.json(), { imported: { memories: 0, entities: 0, relations: 0, observations: 0 }, skipped: { memories: 3, entities: 2, relations: 1 }, errors: [] });
      assert.deepEqual(sortRecords(await plainRecords(target)), sortRecords(await plainRecords(source)));
    });

    it('re-imports its own encrypted export: deleted records come back, existing ones are skipped', async () => {
      const user = await userWithRecords();
      const body = (await exportAs(user, 'encrypted')).body;
      const before = await plainRecords(user);
      const memories = (await t.app.inject({ method: 'GET', url: '/api/v1/memories', headers: bearer(user.apiKey) })).json().items;
      await t.app.inject({ method: 'DELETE', url: `/api/v1/memories/${memories[0].id}`, headers: bearer(user.apiKey) });
      const report = await importAs(user, 'encrypted', body);
      assert.equal(report.statusCode, 200);
      assert.deepEqual(report.json(), { imported: { memories: 1, entities: 0, relations: 0, observations: 0 }, skipped: { memories: 2, entities: 2, relations: 1 }, errors: [] });
      assert.deepEqual(sortRecords(await plainRecords(user)), sortRecords(before));
      // Another account's key opens none of it: every line is reported, nothing is imported.
      const stranger = await signUp(t.app);
      const refused = await importAs(stranger, 'encrypted', body);
      assert.equal(refused.statusCode, 200);
      assert.deepEqual(refused.json().imported, { memories: 0, entities: 0, relations: 0, observations: 0 });
      assert.deepEqual(refused.json().errors.map((e: { line: number }) => e.line), [2, 3, 4, 5, 6, 7]);
      assert.deepEqual(await plainRecords(stranger), []);
    });

    it('imports the reference server’s memory.jsonl one-to-one, merging observations and reporting bad lines', async () => {
      const user = await signUp(t.app);
      const first = await importAs(user, 'mcp-memory-jsonl', GRAPH_JSONL);
      assert.deepEqual(first.json(), { imported: { memories: 0, entities: 2, relations: 1, observations: 0 }, skipped: { memories: 0, entities: 0, relations: 0 }, errors: [] });
      const second = await importAs(
        user,
        'mcp-memory-jsonl',
        [
          '{"type":"entity","name":"Ada Lovelace","entityType":"person","observations":["born 1815","died 1852"]}',
          'not json',
          '{"type":"unknown"}',
          '{"type":"relation","from":"Ada Lovelace","to":"Charles Babbage","relationType":"corresponded with"}',
          '',
        ].join('\r\n'),
        'text/plain',
      );
      assert.equal(second.statusCode, 200);
      assert.deepEqual(second.json().imported, { memories: 0, entities: 0, relations: 0, observations: 1 });
      assert.deepEqual(second.json().skipped, { memories: 0, entities: 1, relations: 1 });
      assert.deepEqual(second.json().errors.map((e: { line: number }) => e.line), [2, 3]);
      const ada = (await exportAs(user, 'json')).json().entities.find((e: { name: string }) => e.name === 'Ada Lovelace');
      assert.deepEqual(ada.observations, ['wrote the first program', 'born 1815', 'died 1852']);
    });

    it('refuses an import that is not one of our formats, storing nothing', async () => {
      const user = await signUp(t.app);
      const cases = [
        { format: 'encrypted', payload: 'not a header\n' },
        { format: 'encrypted', payload: '{"format":"anamnesis-encrypted-export","version":"v2","user_id":"x"}\n' },
        { format: 'json', payload: '{"format":"something-else"}', contentType: 'application/json' },
        { format: 'json', payload: '[1,2,3]', contentType: 'application/json' },
        { format: 'csv', payload: 'a,b' },
      ];
      for (const { format, payload, contentType } of cases) {
        const response = await importAs(user, format, payload, contentType);
        assert.equal(response.statusCode, 400, `${format}: ${payload}`);
        assert.ok(['bad_request', 'validation_failed'].includes(response.json().error.code));
      }
      assert.deepEqual(await plainRecords(user), []);
    });
  });
}
