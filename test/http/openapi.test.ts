// GET /api/v1/openapi.json: a valid OpenAPI 3 document, generated from the
// route schemas, listing every /api/v1 route of the HTTP contract with its
// request and response schemas.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { makeTestApp, type TestApp } from '../helpers/app.ts';
import { testDrivers } from './support.ts';

/** DESIGN.md section 3, plus the account and session routes the issue adds, plus end-to-end mode (docs/e2e-protocol.md section 3). */
const CONTRACT = [
  'POST /api/v1/accounts',
  'GET /api/v1/accounts/current',
  'DELETE /api/v1/accounts/current',
  'POST /api/v1/sessions',
  'GET /api/v1/sessions',
  'POST /api/v1/sessions/unlock',
  'DELETE /api/v1/sessions/current',
  'DELETE /api/v1/sessions/{id}',
  'POST /api/v1/memories',
  'GET /api/v1/memories',
  'GET /api/v1/memories/search',
  'GET /api/v1/memories/{id}',
  'PATCH /api/v1/memories/{id}',
  'DELETE /api/v1/memories/{id}',
  'POST /api/v1/keys/rotate',
  'POST /api/v1/keys/rotate/confirm',
  'POST /api/v1/keys/reset',
  'GET /api/v1/export',
  'POST /api/v1/import',
  'POST /api/v1/e2e/registrations',
  'POST /api/v1/e2e/accounts',
  'POST /api/v1/e2e/sessions/start',
  'POST /api/v1/e2e/sessions/finish',
  'DELETE /api/v1/e2e/sessions/current',
  'POST /api/v1/e2e/recovery/start',
  'POST /api/v1/e2e/recovery/finish',
  'POST /api/v1/e2e/conversions/start',
  'POST /api/v1/e2e/conversions/finish',
  'GET /api/v1/e2e/account',
  'DELETE /api/v1/e2e/account',
  'GET /api/v1/e2e/changes',
  'POST /api/v1/e2e/changes',
];

interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: unknown;
  enum?: unknown[];
  $ref?: string;
}
interface Operation {
  requestBody?: { content: Record<string, { schema: Schema }> };
  parameters?: Array<{ in: string; name: string; required?: boolean; schema: Schema }>;
  responses: Record<string, { description: string; content?: Record<string, { schema: Schema }> }>;
}
interface OpenApi {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components?: { securitySchemes?: Record<string, unknown> };
}

/** Every $ref points inside the document. */
function danglingRefs(node: unknown, doc: OpenApi, found: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((child) => danglingRefs(child, doc, found));
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') {
        const target = value.replace(/^#\//, '').split('/').reduce<unknown>((at, part) => (at as Record<string, unknown> | undefined)?.[part], doc);
        if (target === undefined) found.push(value);
      } else danglingRefs(value, doc, found);
    }
  }
  return found;
}

for (const driver of await testDrivers('HTTP OpenAPI document')) {
  describe(`OpenAPI document (${driver})`, () => {
    let t: TestApp;
    let doc: OpenApi;
    before(async () => {
      t = await makeTestApp({ driver });
      const response = await t.app.inject({ method: 'GET', url: '/api/v1/openapi.json' });
      assert.equal(response.statusCode, 200);
      assert.match(String(response.headers['content-type']), /^application\/json/);
      doc = response.json();
    });
    after(() => t.close());

    it('is an OpenAPI 3 document with every way to authenticate', () => {
      assert.match(doc.openapi, /^3\.\d+\.\d+$/);
      assert.equal(doc.info.title, 'Anamnesis API');
      assert.equal(typeof doc.info.version, 'string');
      assert.deepEqual(Object.keys(doc.components?.securitySchemes ?? {}).sort(), ['apiKey', 'e2eSession', 'session']);
      assert.deepEqual(danglingRefs(doc, doc), []);
    });

    it('lists exactly the /api/v1 routes of the contract', () => {
      const listed = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`));
      assert.deepEqual(listed.sort(), [...CONTRACT].sort());
    });

    it('gives every route its schemas: strict request bodies, typed parameters, success and error answers', () => {
      for (const entry of CONTRACT) {
        const [method, path] = entry.split(' ') as [string, string];
        const op = doc.paths[path]![method.toLowerCase()]!;
        const statuses = Object.keys(op.responses);
        assert.ok(statuses.some((s) => /^2\d\d$/.test(s)), `${entry}: no success answer`);
        for (const status of statuses) assert.match(status, /^[1-5]\d\d$/, entry);
        for (const status of statuses.filter((s) => s >= '400')) {
          const schema = op.responses[status]!.content!['application/json']!.schema;
          assert.deepEqual(schema.required, ['error'], `${entry} ${status}: not the error shape`);
          assert.deepEqual(schema.properties!.error!.required, ['code', 'message']);
        }
        if (path.includes('{id}')) {
          const id = op.parameters?.find((p) => p.in === 'path' && p.name === 'id');
          assert.ok(id?.required, `${entry}: no required id parameter`);
        }
        if (op.requestBody) {
          const schema = op.requestBody.content['application/json']!.schema;
          assert.equal(schema.type, 'object', entry);
          assert.equal(schema.additionalProperties, false, `${entry}: unknown fields must be refused`);
        }
      }
      const create = doc.paths['/api/v1/memories']!.post!;
      assert.deepEqual(create.requestBody!.content['application/json']!.schema.required, ['content']);
      assert.deepEqual(Object.keys(create.responses['201']!.content!['application/json']!.schema.properties!).sort(), ['content', 'created_at', 'id', 'tags', 'updated_at']);
      const search = doc.paths['/api/v1/memories/search']!.get!;
      assert.deepEqual(search.parameters!.filter((p) => p.in === 'query').map((p) => p.name).sort(), ['limit', 'q', 'tag']);
      assert.ok(search.parameters!.find((p) => p.name === 'q')!.required);
      const exportFormats = doc.paths['/api/v1/export']!.get!.parameters!.find((p) => p.name === 'format')!.schema.enum;
      assert.deepEqual(exportFormats, ['encrypted', 'json']);
      for (const entry of ['POST /api/v1/accounts', 'POST /api/v1/sessions', 'POST /api/v1/sessions/unlock']) {
        const [method, path] = entry.split(' ') as [string, string];
        assert.ok('429' in doc.paths[path]![method.toLowerCase()]!.responses, `${entry}: the rate-limit answer is documented`);
      }
    });

    it('passes openapi-spec-validator where that Python package is installed', () => {
      const run = spawnSync('python3', ['-c', 'import json, sys; from openapi_spec_validator import validate; validate(json.load(sys.stdin)); print("valid")'], { input: JSON.stringify(doc), encoding: 'utf8' });
      if (run.status !== 0 && /No module named/.test(run.stderr)) {
        console.warn('# openapi-spec-validator is not installed: the document was checked by the structural assertions above only');
        return;
      }
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stdout.trim(), 'valid');
    });
  });
}
