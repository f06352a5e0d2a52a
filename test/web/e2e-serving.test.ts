// How the end-to-end browser client is served: the published release hash
// matches a fresh, reproducible build; the pages name the bundle with the
// right Subresource Integrity and send the policy that allows nothing but
// this site's scripts and the OPAQUE WebAssembly.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { FORMAT_VERSION } from '../../src/crypto/keys.ts';
import { JSON_EXPORT_VERSION } from '../../src/vault/transfer-format.ts';
import { browserBundle } from '../../src/web/e2e/bundle.ts';
import { publishedRelease, releaseOf } from '../../src/web/e2e/release.ts';
import { E2E_CONTENT_SECURITY_POLICY } from '../../src/web/content-security-policy.ts';
import { makeTestApp, signUp, type TestApp } from '../helpers/app.ts';

const E2E_PAGES = ['/e2e/signup', '/e2e/login', '/e2e/recover', '/e2e/app', '/e2e/graph'];

let t: TestApp;
before(async () => {
  t = await makeTestApp();
});
after(() => t.close());

function scriptTag(page: string): { src: string; integrity: string } {
  const tags = [...page.matchAll(/<script\b([^>]*)>/g)].map((m) => m[1]!);
  assert.equal(tags.length, 1, 'one script tag');
  const attr = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(tags[0]!)?.[1];
  return { src: attr('src')!, integrity: attr('integrity')! };
}

describe('the browser client release', () => {
  it('the committed release.json is the hash of a fresh build of this source (npm run web-release rewrites it)', async () => {
    assert.deepEqual(releaseOf(await browserBundle()), publishedRelease(), 'src/web/e2e/release.json is out of date: run npm run web-release and commit it');
  });

  it('the browser reads and writes the JSON export of the record format version the server uses', () => {
    assert.equal(JSON_EXPORT_VERSION, FORMAT_VERSION);
  });

  it('a second build in a fresh process gives the same bytes', async () => {
    const { execFileSync } = await import('node:child_process');
    const hash = execFileSync(process.execPath, ['--import', 'tsx', '-e', "const { browserBundle } = await import('./src/web/e2e/bundle.ts'); process.stdout.write((await browserBundle()).sha256);"], { encoding: 'utf8' });
    assert.equal(hash, publishedRelease().bundle.sha256);
  });

  it('the served bundle is the published one, at /security/web-release.json and on the security page', async () => {
    const published = publishedRelease();
    const json = (await t.app.inject('/security/web-release.json')).json() as { served: typeof published; published: typeof published };
    assert.deepEqual(json.published, published);
    assert.deepEqual(json.served, published);
    const bundle = await t.app.inject(`/assets/${published.bundle.file}`);
    assert.equal(bundle.statusCode, 200);
    assert.equal(createHash('sha256').update(bundle.rawPayload).digest('hex'), published.bundle.sha256);
    const security = (await t.app.inject('/security')).body;
    assert.ok(security.includes(`data-testid="published-sha256">${published.bundle.sha256}<`));
    assert.ok(security.includes(`data-testid="served-sha256">${published.bundle.sha256}<`));
    assert.ok(security.includes('They match.'));
    assert.ok(security.includes('a malicious server can still ship bad code to your browser'));
    assert.ok(security.includes('The local MCP server is the stronger client'));
  });
});

describe('the browser client pages', () => {
  for (const url of E2E_PAGES) {
    it(`${url}: the strict policy with only WebAssembly added, and the bundle under its SHA-384`, async () => {
      const response = await t.app.inject(url);
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers['content-security-policy'], E2E_CONTENT_SECURITY_POLICY);
      assert.equal(E2E_CONTENT_SECURITY_POLICY, "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'");
      const { src, integrity } = scriptTag(response.body);
      assert.equal(src, `/assets/${publishedRelease().bundle.file}`);
      const served = await t.app.inject(src);
      assert.equal(served.headers['content-type'], 'text/javascript; charset=utf-8');
      assert.equal(integrity, `sha384-${createHash('sha384').update(served.rawPayload).digest('base64')}`);
    });
  }

  it('the sign-up page warns, before any account exists, that losing the password and the recovery code loses the data', async () => {
    const body = (await t.app.inject('/e2e/signup')).body;
    const warning = body.indexOf('nobody can rescue this account');
    assert.ok(warning > 0 && warning < body.indexOf('id="signup-form"'), 'the warning comes before the form');
    assert.ok(body.includes('lose both and your memories are gone for good'));
  });

  it('the switch page is in the unlocked dashboard and says old backups stay readable by the old key', async () => {
    assert.equal((await t.app.inject('/app/e2e-switch')).headers.location, '/login');
    const user = await signUp(t.app);
    const response = await t.app.inject({ url: '/app/e2e-switch', headers: { cookie: user.cookie } });
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['content-security-policy'], E2E_CONTENT_SECURITY_POLICY);
    assert.ok(response.body.includes('Old backups stay readable by the old key.'));
  });

  it('every other page keeps app.js, also under Subresource Integrity', async () => {
    const response = await t.app.inject('/login');
    const { src, integrity } = scriptTag(response.body);
    assert.match(src, /^\/assets\/app\.[0-9a-f]{12}\.js$/);
    assert.equal(integrity, `sha384-${createHash('sha384').update((await t.app.inject(src)).rawPayload).digest('base64')}`);
  });
});
