// Claims 01 and "we defend against a database-only breach, a backup or disk
// snapshot leak, log-file inspection": a full copy of what the server stores
// (every file of the SQLite data folder — database, WAL and shared memory —
// copied hot, as a snapshot would; or a pg_dump of the PostgreSQL schema),
// plus every log line the server wrote, holds no plaintext and no secret, and
// decrypts nothing: every Fernet token in it is tried with every key the key
// hierarchy could derive from every string in it (hashes, ids, emails,
// lookups, log fields), and none opens. A control shows the same machinery
// opens the tokens at once when given the API key the copy lacks. OAuth is in
// the copy too: a registered client (the client table), a consent whose code
// was never exchanged, a used code, an access token and a refresh token used
// once: each holds K only wrapped under a token the copy does not hold.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { FORMAT_VERSION } from '../../src/crypto/keys.ts';
import { JSON_EXPORT_FORMAT } from '../../src/vault/transfer.ts';
import { bearer, browser, cookieFrom, makeTestApp, signUp, type TestApp } from '../helpers/app.ts';
import { testDrivers } from '../http/support.ts';
import { listen } from '../mcp/helpers.ts';
import { codeForNewClient, tokenRequest } from '../oauth/helpers.ts';
import { candidatesIn, foundIn, keysFrom, mcpInject, tokensIn, tokensOpenedBy } from './support.ts';

/** Distinctive plaintext of every kind the service stores; none may appear in storage or logs. */
export const MARKERS = {
  memory: 'Marker memory: the okapi guards the quasar vault 7731',
  bulkMemory: 'Marker bulk memory about heliotrope lanterns',
  tag: 'marker-tag-zirconium',
  entityName: 'Marker Entity Vorpal Quince',
  entityType: 'marker-type-basalt',
  observation: 'Marker observation: the saffron lighthouse hums',
  addedObservation: 'Marker added observation: a cobalt kestrel',
  relationType: 'marker-rel-mentors-obliquely',
  importedEntity: 'Marker Imported Wombat',
  searchText: 'quasar',
  otherUserMemory: 'Marker memory of the other user: tangerine obelisk',
} as const;

function usersInDump(dump: string, schema: string): string[] {
  const start = dump.indexOf(`COPY ${schema}.users (`);
  const block = dump.slice(dump.indexOf('\n', start) + 1, dump.indexOf('\n\\.', start));
  return block.split('\n').filter(Boolean).map((line) => line.split('\t')[0]!);
}

for (const driver of await testDrivers('claims: a copy of storage decrypts nothing')) {
  describe(`a full copy of storage plus every log line decrypts nothing (${driver})`, () => {
    let t: TestApp;
    let copyDir: string;
    const secrets: string[] = [];
    let a: Awaited<ReturnType<typeof signUp>>;
    let b: Awaited<ReturnType<typeof signUp>>;
    let sessionToken: string;
    let accessToken: string;
    /** What an attacker walks away with: the stored bytes as text, and the user ids among them. */
    let stolen: { blobs: Array<{ where: string; bytes: Buffer }>; text: string; userIds: string[] };

    before(async () => {
      t = await makeTestApp({ driver });
      const { app } = t;
      a = await signUp(app, { password: 'Secret-Passphrase-Alpha-Narwhal-19' });
      b = await signUp(app, { password: 'Secret-Passphrase-Bravo-Ibex-23' });
      secrets.push(a.apiKey, b.apiKey, a.password, b.password, a.cookie.split('=')[1]!, b.cookie.split('=')[1]!);

      // A locked session, then unlocked: a wrapped K under a token stored only as a hash.
      const login = await app.inject({ method: 'POST', url: '/api/v1/sessions', payload: { email: a.email, password: a.password } });
      const locked = cookieFrom(login);
      sessionToken = locked.split('=')[1]!;
      secrets.push(sessionToken);
      assert.equal((await app.inject({ method: 'POST', url: '/api/v1/sessions/unlock', headers: browser(locked), payload: { api_key: a.apiKey } })).statusCode, 200);
      await app.inject({ method: 'POST', url: '/api/v1/sessions', payload: { email: a.email, password: 'Wrong-Guess-Marker-Flamingo-11' } });
      secrets.push('Wrong-Guess-Marker-Flamingo-11');

      // Memories: one by one (index deltas) and in bulk (index segments).
      assert.equal((await app.inject({ method: 'POST', url: '/api/v1/memories', headers: bearer(a.apiKey), payload: { content: MARKERS.memory, tags: [MARKERS.tag] } })).statusCode, 201);
      for (let i = 0; i < 3; i++) await app.inject({ method: 'POST', url: '/api/v1/memories', headers: browser(locked), payload: { content: `${MARKERS.bulkMemory} single ${i}`, tags: [MARKERS.tag] } });
      const now = Date.now();
      const bulk = {
        format: JSON_EXPORT_FORMAT,
        version: FORMAT_VERSION,
        memories: Array.from({ length: 80 }, (_, i) => ({ id: crypto.randomUUID(), content: `${MARKERS.bulkMemory} ${i}`, tags: [MARKERS.tag], created_at: new Date(now - i).toISOString(), updated_at: new Date(now - i).toISOString() })),
        entities: [],
        relations: [],
      };
      assert.equal((await app.inject({ method: 'POST', url: '/api/v1/import?format=json', headers: bearer(a.apiKey), payload: bulk })).statusCode, 200);

      // The knowledge graph through MCP, plus a bulk import (graph segments).
      assert.equal((await mcpInject(app, a.apiKey, 'create_entities', { entities: [{ name: MARKERS.entityName, entityType: MARKERS.entityType, observations: [MARKERS.observation] }, { name: `${MARKERS.entityName} Two`, entityType: MARKERS.entityType, observations: [] }] })).isError, false);
      assert.equal((await mcpInject(app, a.apiKey, 'create_relations', { relations: [{ from: MARKERS.entityName, to: `${MARKERS.entityName} Two`, relationType: MARKERS.relationType }] })).isError, false);
      assert.equal((await mcpInject(app, a.apiKey, 'add_observations', { observations: [{ entityName: MARKERS.entityName, contents: [MARKERS.addedObservation] }] })).isError, false);
      const jsonl = Array.from({ length: 70 }, (_, i) => JSON.stringify({ type: 'entity', name: `${MARKERS.importedEntity} ${i}`, entityType: MARKERS.entityType, observations: [`${MARKERS.observation} ${i}`] })).join('\n');
      assert.equal((await app.inject({ method: 'POST', url: '/api/v1/import?format=mcp-memory-jsonl', headers: { ...bearer(a.apiKey), 'content-type': 'application/x-ndjson' }, payload: jsonl })).statusCode, 200);

      // Reads whose query text is plaintext too.
      assert.equal((await app.inject({ method: 'GET', url: `/api/v1/memories/search?q=${MARKERS.searchText}`, headers: bearer(a.apiKey) })).json().results.length, 1);
      assert.equal((await mcpInject(app, a.apiKey, 'search_nodes', { query: 'Vorpal' })).structured.entities.length, 2);

      // A rotation left pending (K wrapped under the pending key), and one confirmed for B.
      const pendingA = (await app.inject({ method: 'POST', url: '/api/v1/keys/rotate', headers: bearer(a.apiKey) })).json().api_key as string;
      secrets.push(pendingA);
      await app.inject({ method: 'POST', url: '/api/v1/memories', headers: bearer(b.apiKey), payload: { content: MARKERS.otherUserMemory } });
      const pendingB = (await app.inject({ method: 'POST', url: '/api/v1/keys/rotate', headers: bearer(b.apiKey) })).json().api_key as string;
      secrets.push(pendingB);
      assert.equal((await app.inject({ method: 'POST', url: '/api/v1/keys/rotate/confirm', headers: bearer(pendingB) })).json().status, 'rotated');

      // The plaintext really was stored: the owner reads every marker back.
      const exported = (await app.inject({ method: 'GET', url: '/api/v1/export?format=json', headers: bearer(a.apiKey) })).body;
      for (const marker of [MARKERS.memory, MARKERS.tag, MARKERS.entityName, MARKERS.entityType, MARKERS.observation, MARKERS.addedObservation, MARKERS.relationType, `${MARKERS.importedEntity} 69`]) {
        assert.ok(exported.includes(marker), `the owner's export holds ${marker}`);
      }

      // OAuth: a client, a code left unexchanged, a used code, and a refresh token used once.
      const baseUrl = await listen(app);
      const unexchanged = await codeForNewClient(baseUrl, a.cookie, 'c'.repeat(43));
      const { clientId, code, exchange } = await codeForNewClient(baseUrl, a.cookie, 'c'.repeat(43));
      const first = await exchange();
      const second = await tokenRequest(baseUrl, { grant_type: 'refresh_token', refresh_token: String(first.body.refresh_token), client_id: clientId });
      assert.equal(second.status, 200);
      accessToken = String(second.body.access_token);
      secrets.push(unexchanged.code, code, String(first.body.access_token), String(first.body.refresh_token), accessToken, String(second.body.refresh_token));

      // The theft: a hot copy of every file, or a pg_dump, and the logs.
      copyDir = mkdtempSync(path.join(os.tmpdir(), 'anamnesis-stolen-'));
      const blobs: Array<{ where: string; bytes: Buffer }> = [];
      let userIds: string[];
      if (t.dataDir) {
        cpSync(t.dataDir, copyDir, { recursive: true });
        for (const file of readdirSync(copyDir)) blobs.push({ where: file, bytes: readFileSync(path.join(copyDir, file)) });
        assert.ok(blobs.some((f) => f.where.endsWith('-wal')), 'the copy includes the WAL');
        // The copy opened as a database, so tokens that span pages come out whole.
        const db = new Database(path.join(copyDir, 'anamnesis.db'), { readonly: true });
        const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>;
        blobs.push({ where: 'rows of the copy', bytes: Buffer.from(JSON.stringify(tables.map(({ name }) => db.prepare(`SELECT * FROM "${name}"`).all())), 'utf8') });
        userIds = (db.prepare('SELECT id FROM users').all() as Array<{ id: string }>).map((r) => r.id);
        db.close();
      } else {
        const dumpFile = path.join(copyDir, 'dump.sql');
        execFileSync(process.env.PG_DUMP ?? 'pg_dump', ['--dbname', t.postgres!.url, '--schema', t.postgres!.schema, '--file', dumpFile], { stdio: 'pipe' });
        const dump = readFileSync(dumpFile);
        blobs.push({ where: 'pg_dump', bytes: dump });
        userIds = usersInDump(dump.toString('utf8'), t.postgres!.schema);
      }
      blobs.push({ where: 'logs', bytes: Buffer.from(t.logs.join(''), 'utf8') });
      stolen = { blobs, text: blobs.map((blob) => blob.bytes.toString('latin1')).join('\n'), userIds };
    });

    after(async () => {
      await t.close();
      rmSync(copyDir, { recursive: true, force: true });
    });

    it('holds no plaintext of any memory, tag, entity name or type, observation, relation or search text', () => {
      assert.deepEqual(stolen.userIds.sort(), [a.userId, b.userId].sort());
      for (const { where, bytes } of stolen.blobs) assert.deepEqual(foundIn(bytes, Object.values(MARKERS)), [], `plaintext in ${where}`);
    });

    it('holds no API key (current, pending or old), password, session token or OAuth code or token', () => {
      for (const { where, bytes } of stolen.blobs) assert.deepEqual(foundIn(bytes, secrets), [], `a secret in ${where}`);
    });

    it('every token in the copy fails under every key derivable from anything in it; the API key the copy lacks opens them', () => {
      const tokens = tokensIn(stolen.text);
      // 84 memories, 72 entities, a relation, index segments and deltas, session and pending wraps.
      assert.ok(tokens.length >= 160, `tokens found: ${tokens.length}`);
      const candidates = candidatesIn(stolen.text);
      for (const known of [a.userId, a.email, b.email]) assert.ok(candidates.includes(known), `${known} is among the candidates`);
      const keys = keysFrom(candidates, stolen.userIds);
      assert.ok(keys.length > 1000, `keys tried: ${keys.length}`);
      assert.deepEqual(tokensOpenedBy(tokens, keys), [], 'a token opened under a key derived from the copy');

      // Control: with what the copy does not hold, the same attack succeeds.
      assert.ok(tokensOpenedBy(tokens, keysFrom([a.apiKey], [a.userId])).length >= 150, "A's API key opens A's records and index");
      assert.equal(tokensOpenedBy(tokens, keysFrom([sessionToken], [a.userId])).length >= 1, true, "the session token opens that session's wrapped key");
      assert.equal(tokensOpenedBy(tokens, keysFrom([accessToken], [a.userId])).length, 1, 'the OAuth access token opens its own wrapped key');
    });
  });
}
