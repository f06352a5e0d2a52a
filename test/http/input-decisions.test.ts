// The ways text could change on the way in, each decided on purpose
// (docs/api.md "How text is taken in"), on both storage drivers: Unicode
// normalisation, NUL and other control characters, a byte order mark, CRLF,
// and the length and count limits on every path that stores text (REST, MCP
// tool arguments, import lines).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { LIMITS } from '../../src/vault/records.ts';
import { csrfTokenFor } from '../../src/web/csrf-token.ts';
import { bearer, browser, makeTestApp, signUp, type TestApp, type TestUser } from '../helpers/app.ts';
import { callTool, connectClient, listen, textOf } from '../mcp/helpers.ts';
import { type DirectDb, openDirectDb, snapshotTables, testDrivers } from './support.ts';

const NFC = 'Caf\u00e9 cr\u00e8me';
const NFD = 'Cafe\u0301 cre\u0300me';
/** NUL, bell, an ANSI escape, DEL, a C1 control, a line separator and a tab. */
const CONTROLS = 'a\u0000b\u0007c\u001b[31md\u007fe\u0085f\u2028g\th';

for (const driver of await testDrivers('input decisions')) {
  describe(`how text is taken in (${driver})`, () => {
    let t: TestApp;
    let db: DirectDb;
    let user: TestUser;
    let client: Client;

    before(async () => {
      t = await makeTestApp({ driver });
      db = await openDirectDb(t);
      user = await signUp(t.app);
      client = await connectClient(await listen(t.app), user.apiKey);
    });
    after(async () => {
      await client.close();
      await db.close();
      await t.close();
    });

    const remember = async (payload: unknown, contentType = 'application/json') =>
      t.app.inject({ method: 'POST', url: '/api/v1/memories', headers: { ...bearer(user.apiKey), 'content-type': contentType }, payload: typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload) });
    const recall = async (id: string) => (await t.app.inject({ url: `/api/v1/memories/${id}`, headers: bearer(user.apiKey) })).json() as { content: string; tags: string[] };
    const search = async (q: string) => ((await t.app.inject({ url: `/api/v1/memories/search?q=${encodeURIComponent(q)}`, headers: bearer(user.apiKey) })).json() as { results: Array<{ memory: { id: string } }> }).results.map((r) => r.memory.id);
    const importFile = (body: string | Buffer, type = 'application/x-ndjson') =>
      t.app.inject({ method: 'POST', url: '/api/v1/import?format=mcp-memory-jsonl', headers: { ...bearer(user.apiKey), 'content-type': type }, payload: body });
    const entityLine = (name: string, observations: string[]) => JSON.stringify({ type: 'entity', name, entityType: 'test', observations });
    const openNode = async (name: string) => ((await callTool(client, 'open_nodes', { names: [name] })).structuredContent as { entities: Array<{ name: string; observations: string[] }> }).entities;

    it('normalisation: content is kept as sent (NFD stays NFD); search matches composed and decomposed alike; tags are composed', async () => {
      const created = await remember({ content: NFD, tags: ['cre\u0300me'] });
      assert.equal(created.statusCode, 201);
      const stored = await recall(created.json().id);
      assert.equal(stored.content, NFD, 'not normalised');
      assert.deepEqual(stored.tags, ['cr\u00e8me'], 'tags compare and show composed');
      for (const query of [NFC, NFD, 'cafe creme']) assert.deepEqual(await search(query), [created.json().id], query);
      const byTag = (await t.app.inject({ url: `/api/v1/memories?tag=${encodeURIComponent('cre\u0300me')}`, headers: bearer(user.apiKey) })).json();
      assert.equal(byTag.items.length, 1, 'a decomposed tag filter finds the composed tag');
    });

    it('normalisation: entity names are exact, as in the reference server (composed and decomposed are two entities)', async () => {
      const created = await callTool(client, 'create_entities', { entities: [{ name: NFC, entityType: 'place', observations: [] }, { name: NFD, entityType: 'place', observations: [] }] });
      assert.equal((created.structuredContent as { entities: unknown[] }).entities.length, 2);
      assert.deepEqual((await openNode(NFD)).map((e) => e.name), [NFD]);
      const imported = await importFile(entityLine(NFD, ['from a file']));
      assert.deepEqual(imported.json().imported, { memories: 0, entities: 0, relations: 0, observations: 1 }, 'the import merges into the exact name only');
      assert.deepEqual((await openNode(NFC))[0]?.observations, []);
    });

    it('control characters and NUL are kept exactly in content, tags, entity names and observations', async () => {
      const created = await remember({ content: CONTROLS, tags: [`tag${CONTROLS}`] });
      assert.equal(created.statusCode, 201, created.body);
      const stored = await recall(created.json().id);
      assert.equal(stored.content, CONTROLS);
      assert.deepEqual(stored.tags, [`tag${CONTROLS}`]);
      const entity = await callTool(client, 'create_entities', { entities: [{ name: `name${CONTROLS}`, entityType: 'test', observations: [CONTROLS] }] });
      assert.equal(entity.isError, undefined, textOf(entity));
      assert.deepEqual(await openNode(`name${CONTROLS}`), [{ name: `name${CONTROLS}`, entityType: 'test', observations: [CONTROLS] }]);
      const exported = (await t.app.inject({ url: '/api/v1/export?format=json', headers: bearer(user.apiKey) })).json();
      assert.ok(exported.memories.some((m: { content: string }) => m.content === CONTROLS), 'the export carries them as JSON escapes');
    });

    it('emails: control characters refused (400, no account); composed and decomposed spellings are one account', async () => {
      const before = await snapshotTables(db);
      for (const email of ['nul\u0000x@example.com', 'esc\u001bx@example.com', 'c1\u0085x@example.com', 'del\u007fx@example.com', 'x@exa\u0000mple.com']) {
        const response = await t.app.inject({ method: 'POST', url: '/api/v1/accounts', payload: { email, password: 'a long and unusual passphrase 42' } });
        assert.equal(response.statusCode, 400, JSON.stringify(email));
        assert.equal(response.json().error.code, 'validation_failed');
      }
      assert.deepEqual(await snapshotTables(db), before);

      const decomposed = await signUp(t.app, { email: `jose\u0301-${driver}@example.com` });
      const again = await t.app.inject({ method: 'POST', url: '/api/v1/accounts', payload: { email: `jos\u00e9-${driver}@example.com`, password: 'another long passphrase 77' } });
      assert.equal(again.statusCode, 409, 'the composed spelling is the same address');
      const login = await t.app.inject({ method: 'POST', url: '/api/v1/sessions', payload: { email: `JOS\u00c9-${driver}@example.com`, password: decomposed.password } });
      assert.equal(login.statusCode, 200);
      assert.equal(login.json().user_id, decomposed.userId);
    });

    it('passwords are taken exactly as sent: NUL works, and a different normalisation is a different password', async () => {
      const withNul = await signUp(t.app, { password: 'pass\u0000phrase that is long enough' });
      const ok = await t.app.inject({ method: 'POST', url: '/api/v1/sessions', payload: { email: withNul.email, password: 'pass\u0000phrase that is long enough' } });
      assert.equal(ok.statusCode, 200);
      const truncated = await t.app.inject({ method: 'POST', url: '/api/v1/sessions', payload: { email: withNul.email, password: 'pass' } });
      assert.equal(truncated.statusCode, 401, 'nothing is cut at the NUL');

      const decomposed = await signUp(t.app, { password: `${NFD} and a long tail` });
      const composed = await t.app.inject({ method: 'POST', url: '/api/v1/sessions', payload: { email: decomposed.email, password: `${NFC} and a long tail` } });
      assert.equal(composed.statusCode, 401);
    });

    it('a byte order mark: one at the start of a body or file is dropped; one inside the text is content', async () => {
      const body = await remember(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify({ content: 'after a BOM' }))]));
      assert.equal(body.statusCode, 201, body.body);
      assert.equal((await recall(body.json().id)).content, 'after a BOM');
      const inside = await remember({ content: '\ufeffzero\ufeffwidth' });
      assert.equal((await recall(inside.json().id)).content, '\ufeffzero\ufeffwidth');
      for (const type of ['text/plain', 'application/x-ndjson', 'application/jsonl']) {
        const file = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`${entityLine(`BOM file ${type}`, [])}\r\n${entityLine(`Second ${type}`, [])}`)]);
        const imported = await importFile(file, type);
        assert.equal(imported.statusCode, 200);
        assert.deepEqual(imported.json().errors, [], `line 1 after the BOM imports (${type})`);
        assert.equal(imported.json().imported.entities, 2);
      }
    });

    it('CRLF: kept as sent over REST and MCP; the web form stores LF; lines of an import file may end in CRLF', async () => {
      const rest = await remember({ content: 'line one\r\nline two\rthree\n' });
      assert.equal((await recall(rest.json().id)).content, 'line one\r\nline two\rthree\n');
      const viaMcp = await callTool(client, 'remember', { content: 'mcp\r\nline' });
      assert.equal((viaMcp.structuredContent as { content: string }).content, 'mcp\r\nline');
      const viaForm = await t.app.inject({
        method: 'POST',
        url: '/app/memories',
        headers: { ...browser(user.cookie), 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ content: 'typed\r\nin a browser', tags: '', _csrf: csrfTokenFor(user.cookie.slice('anamnesis_session='.length)) }).toString(),
      });
      assert.equal(viaForm.statusCode, 303);
      const listed = (await t.app.inject({ url: '/api/v1/memories?limit=100', headers: bearer(user.apiKey) })).json() as { items: Array<{ content: string }> };
      assert.ok(listed.items.some((m) => m.content === 'typed\nin a browser'), 'the web form stores the line break the user typed, as LF');
      const imported = await importFile(`${entityLine('CRLF one', ['obs'])}\r\n${entityLine('CRLF two', [])}\r\n`);
      assert.deepEqual(imported.json().errors, []);
      assert.deepEqual((await openNode('CRLF one'))[0]?.observations, ['obs'], 'no stray \\r in the text');
    });

    it('limits: MCP tool arguments over a limit are refused (isError) and store nothing, at the limit they are stored', async () => {
      const before = await snapshotTables(db);
      const refused: Array<[string, Record<string, unknown>, RegExp]> = [
        ['remember', { content: 'x'.repeat(LIMITS.contentChars + 1) }, /Input validation error/],
        ['remember', { content: 'ok', tags: Array.from({ length: LIMITS.tags + 1 }, (_, i) => `t${i}`) }, /Input validation error/],
        ['remember', { content: 'ok', tags: ['t'.repeat(LIMITS.tagChars + 1)] }, /Input validation error/],
        ['create_entities', { entities: [{ name: 'n'.repeat(LIMITS.nameChars + 1), entityType: 't', observations: [] }] }, /entity name is longer than 512/],
        ['create_entities', { entities: [{ name: 'n', entityType: 't'.repeat(LIMITS.nameChars + 1), observations: [] }] }, /entity type is longer than 512/],
        ['create_entities', { entities: [{ name: 'n', entityType: 't', observations: ['o'.repeat(LIMITS.observationChars + 1)] }] }, /observation is longer than 8192/],
        ['create_entities', { entities: [{ name: 'n', entityType: 't', observations: Array.from({ length: LIMITS.observations + 1 }, (_, i) => `o${i}`) }] }, /at most 1000 observations/],
        ['create_relations', { relations: [{ from: 'a', to: 'b', relationType: 'r'.repeat(LIMITS.nameChars + 1) }] }, /relation type is longer than 512/],
      ];
      for (const [tool, args, message] of refused) {
        const result = await callTool(client, tool, args);
        assert.equal(result.isError, true, tool);
        assert.match(textOf(result), message);
      }
      assert.deepEqual(await snapshotTables(db), before);

      const full = Array.from({ length: LIMITS.observations }, (_, i) => `o${i}`);
      const atLimit = await callTool(client, 'create_entities', { entities: [{ name: 'Full', entityType: 't', observations: full }] });
      assert.equal((atLimit.structuredContent as { entities: unknown[] }).entities.length, 1);
      const beforeAdd = await snapshotTables(db);
      const overflow = await callTool(client, 'add_observations', { observations: [{ entityName: 'Full', contents: ['one too many'] }] });
      assert.equal(overflow.isError, true);
      assert.match(textOf(overflow), /at most 1000 observations/);
      const merged = await importFile(entityLine('Full', ['one too many from a file']));
      assert.equal(merged.statusCode, 400, 'a merge past the limit refuses the whole import');
      assert.match(merged.json().error.message, /at most 1000 observations/);
      assert.deepEqual(await snapshotTables(db), beforeAdd);
      assert.equal((await openNode('Full'))[0]?.observations.length, LIMITS.observations);
    });

    it('limits: an import line over a limit is reported by number and the other lines import', async () => {
      const file = [
        entityLine('Fine', []),
        entityLine('n'.repeat(LIMITS.nameChars + 1), []),
        entityLine('Many', Array.from({ length: LIMITS.observations + 1 }, (_, i) => `o${i}`)),
        entityLine('Long', ['o'.repeat(LIMITS.observationChars + 1)]),
      ].join('\n');
      const report = (await importFile(file)).json();
      assert.equal(report.imported.entities, 1);
      assert.deepEqual(report.errors.map((e: { line: number }) => e.line), [2, 3, 4]);
    });
  });
}
