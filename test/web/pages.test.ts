// Fast page tests without a browser (app.inject on the real app and store):
// the template escapes, CSRF on every form POST, headers, assets, error pages
// without internals, and the security page telling the truth about the code.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { DATA_KEY_INFO, FORMAT_VERSION, KEY_WRAP_INFO, LOOKUP_KEY_INFO } from '../../src/crypto/keys.ts';
import { PASSWORD_HASH_PARAMS } from '../../src/crypto/password.ts';
import { csrfTokenFor } from '../../src/web/csrf-token.ts';
import { escapeHtml, html, raw } from '../../src/web/html.ts';
import { CONTENT_SECURITY_POLICY } from '../../src/web/content-security-policy.ts';
import { KEY_STRETCHING } from '../../src/e2e-client/account.ts';
import { MANIFEST_KEY_INFO, PASSWORD_WRAP_INFO, RECOVERY_AUTH_INFO, RECOVERY_WRAP_INFO } from '../../src/e2e-client/keys.ts';
import { RECOVERY_CODE_BITS } from '../../src/e2e-client/recovery-code.ts';
import { E2E_SESSION_IDLE_MS } from '../../src/e2e/sessions.ts';
import { bearer, signUp, TEST_ORIGIN, type TestApp, type TestUser, makeTestApp } from '../helpers/app.ts';
import { openDirectDb, testDrivers } from '../http/support.ts';

const IMG = '<img src=x onerror=alert(1)>';
const SCRIPT = '</script><script>alert(1)</script>';

function tokenOf(cookie: string): string {
  return cookie.slice('anamnesis_session='.length);
}

function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

function assertHardened(response: LightMyRequestResponse): void {
  assert.match(String(response.headers['content-type']), /^text\/html; charset=utf-8/);
  assert.equal(response.headers['content-security-policy'], CONTENT_SECURITY_POLICY);
  assert.equal(response.headers['x-frame-options'], 'DENY');
  assert.equal(response.headers['referrer-policy'], 'no-referrer');
  // Text escapes `<` and `"`, so every raw `<` opens a real tag and every raw `"` delimits an
  // attribute value: blank the values, then look at the markup alone.
  const markup = response.body.replace(/"[^"]*"/g, '""');
  assert.doesNotMatch(markup, /<script(?![^>]*\ssrc=)[^>]*>/i, 'no inline script');
  assert.doesNotMatch(markup, /<[a-z][^>]*\son[a-z]+\s*=/i, 'no event-handler attributes');
  assert.doesNotMatch(markup, /<[a-z][^>]*\sstyle\s*=/i, 'no style attributes');
}

function assertNoInternals(body: string): void {
  assert.doesNotMatch(body, /\bat [\w.<>]+ \(|node_modules|\/work\/|SqliteError|relation "|no such table|Error:/);
}

describe('html template', () => {
  it('escapes every interpolated value, keeps Html fragments and raw() as they are', () => {
    assert.equal(html`<p title="${'"\'`'}">${IMG}</p>`.value, '<p title="&quot;&#39;&#96;">&lt;img src=x onerror=alert(1)&gt;</p>');
    assert.equal(html`${[SCRIPT, html`<b>${'&'}</b>`]}`.value, '&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;<b>&amp;</b>');
    assert.equal(html`${null}${undefined}${false}${0}`.value, '0');
    assert.equal(html`${raw('<hr>')}`.value, '<hr>');
    assert.equal(escapeHtml('a&b'), 'a&amp;b');
  });
});

for (const driver of await testDrivers('web pages')) {
  describe(`web pages on ${driver}`, () => {
    let t: TestApp;
    let user: TestUser;

    before(async () => {
      t = await makeTestApp({ driver });
      user = await signUp(t.app);
    });
    after(async () => t.close());

    const page = (url: string, cookie = user.cookie) => t.app.inject({ method: 'GET', url, headers: { cookie } });
    const post = (url: string, fields: Record<string, string>, headers: Record<string, string>) =>
      t.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, payload: form(fields) });
    const memoryCount = async (apiKey = user.apiKey) => (await t.app.inject({ url: '/api/v1/memories?limit=100', headers: bearer(apiKey) })).json().items.length as number;

    it('serves every page as hardened HTML: strict CSP, no framing, no referrer, no inline script', async () => {
      for (const url of ['/', '/security', '/signup', '/login']) assertHardened(await page(url, ''));
      for (const url of ['/app', '/app/graph', '/app/data', '/app/key', '/app/sessions', '/app/account']) {
        const response = await page(url);
        assert.equal(response.statusCode, 200, url);
        assertHardened(response);
      }
    });

    it('sends visitors without a session to /login and locked sessions to /unlock', async () => {
      const anonymous = await page('/app', '');
      assert.equal(anonymous.statusCode, 303);
      assert.equal(anonymous.headers.location, '/login');
      const login = await post('/login', { email: user.email, password: user.password }, { origin: TEST_ORIGIN });
      assert.equal(login.statusCode, 303);
      assert.equal(login.headers.location, '/unlock');
      const locked = login.cookies.find((c) => c.name === 'anamnesis_session')!;
      const redirected = await page('/app/graph', `anamnesis_session=${locked.value}`);
      assert.equal(redirected.headers.location, '/unlock');
    });

    it('serves assets with their content types and a long cache, and nothing else from /assets', async () => {
      const home = (await page('/', '')).body;
      const css = /href="(\/assets\/app\.[0-9a-f]{12}\.css)"/.exec(home)![1]!;
      const js = /src="(\/assets\/app\.[0-9a-f]{12}\.js)"/.exec(home)![1]!;
      const cssResponse = await page(css, '');
      assert.equal(cssResponse.headers['content-type'], 'text/css; charset=utf-8');
      assert.equal(cssResponse.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.equal((await page(js, '')).headers['content-type'], 'text/javascript; charset=utf-8');
      for (const bad of ['/assets/app.css', '/assets/..%2Fplugin.ts', '/assets/app.000000000000.css']) assert.equal((await page(bad, '')).statusCode, 404, bad);
    });

    it('refuses a form POST with a missing or wrong CSRF token, or from another origin, with a 403 page, and changes nothing', async () => {
      const other = await signUp(t.app);
      const good = csrfTokenFor(tokenOf(user.cookie));
      const before = await memoryCount();
      const attempts: Array<{ fields: Record<string, string>; headers: Record<string, string> }> = [
        { fields: { content: 'forged' }, headers: { cookie: user.cookie, origin: TEST_ORIGIN } },
        { fields: { content: 'forged', _csrf: '' }, headers: { cookie: user.cookie, origin: TEST_ORIGIN } },
        { fields: { content: 'forged', _csrf: csrfTokenFor(tokenOf(other.cookie)) }, headers: { cookie: user.cookie, origin: TEST_ORIGIN } },
        { fields: { content: 'forged', _csrf: tokenOf(user.cookie) }, headers: { cookie: user.cookie, origin: TEST_ORIGIN } },
        { fields: { content: 'forged', _csrf: good }, headers: { cookie: user.cookie, origin: 'https://evil.example' } },
        { fields: { content: 'forged', _csrf: good }, headers: { cookie: user.cookie, origin: 'null', 'sec-fetch-site': 'cross-site' } },
        { fields: { content: 'forged', _csrf: good }, headers: { cookie: user.cookie } },
      ];
      for (const { fields, headers } of attempts) {
        const response = await post('/app/memories', fields, headers);
        assert.equal(response.statusCode, 403, JSON.stringify({ fields, headers }));
        assertHardened(response);
        assert.match(response.body, /did not come from this site/);
      }
      assert.equal(await memoryCount(), before);
      // Session-changing forms are guarded the same way.
      assert.equal((await post('/app/account/delete', { password: user.password }, { cookie: user.cookie, origin: TEST_ORIGIN })).statusCode, 403);
      assert.equal((await post('/logout', {}, { cookie: user.cookie, origin: 'https://evil.example' })).statusCode, 403);
      const crossSiteSignup = await post('/signup', { email: 'forged@example.com', password: 'a long and unusual passphrase 42' }, { origin: 'https://evil.example' });
      assert.equal(crossSiteSignup.statusCode, 403);
      assert.equal(crossSiteSignup.headers['set-cookie'], undefined);
      // The same form, same origin, right token: accepted (a browser with no-referrer pages sends Origin: null and Sec-Fetch-Site).
      const accepted = await post('/app/memories', { content: 'genuine', tags: '', _csrf: good }, { cookie: user.cookie, origin: 'null', 'sec-fetch-site': 'same-origin' });
      assert.equal(accepted.statusCode, 303);
      assert.equal(await memoryCount(), before + 1);
    });

    it('shows memories, tags, entities and observations as text, never markup', async () => {
      const memory = (await t.app.inject({ method: 'POST', url: '/api/v1/memories', headers: bearer(user.apiKey), payload: { content: `${IMG} and ${SCRIPT}`, tags: [IMG, SCRIPT] } })).json();
      const jsonl = [
        { type: 'entity', name: IMG, entityType: SCRIPT, observations: [SCRIPT, `"quoted" & 'single'`] },
        { type: 'entity', name: 'Plain', entityType: 'person', observations: [] },
        { type: 'relation', from: IMG, to: 'Plain', relationType: SCRIPT },
      ].map((line) => JSON.stringify(line)).join('\n');
      const imported = await t.app.inject({ method: 'POST', url: '/api/v1/import?format=mcp-memory-jsonl', headers: { ...bearer(user.apiKey), 'content-type': 'application/x-ndjson' }, payload: jsonl });
      assert.equal(imported.statusCode, 200);
      const pages = [
        '/app',
        `/app?${new URLSearchParams({ q: 'img onerror' })}`,
        `/app?${new URLSearchParams({ tag: IMG })}`,
        `/app?${new URLSearchParams({ q: SCRIPT, tag: SCRIPT })}`,
        `/app/memories/${memory.id}/edit`,
        `/app/memories/${memory.id}/delete`,
        '/app/graph',
        `/app/graph?${new URLSearchParams({ q: IMG })}`,
      ];
      for (const url of pages) {
        const response = await page(url);
        assert.equal(response.statusCode, 200, url);
        assertHardened(response);
        assert.ok(!response.body.includes(IMG) && !response.body.includes(SCRIPT), `${url} carries markup from data`);
        assert.ok(response.body.includes(escapeHtml(IMG)), `${url} shows the text escaped`);
      }
    });

    it('shows search results on the graph page a page at a time, with a link to more matches', async () => {
      const reader = await signUp(t.app);
      const jsonl = Array.from({ length: 53 }, (_, i) => JSON.stringify({ type: 'entity', name: `Estuary ${String(i + 1).padStart(2, '0')}`, entityType: 'estuary', observations: [] })).join('\n');
      const imported = await t.app.inject({ method: 'POST', url: '/api/v1/import?format=mcp-memory-jsonl', headers: { ...bearer(reader.apiKey), 'content-type': 'application/x-ndjson' }, payload: jsonl });
      assert.equal(imported.statusCode, 200);
      const shown = (body: string) => [...body.matchAll(/<h3>(Estuary \d+)<\/h3>/g)].map((m) => m[1]);
      const first = await page(`/app/graph?${new URLSearchParams({ q: 'estuary' })}`, reader.cookie);
      assert.equal(first.statusCode, 200);
      assert.deepEqual(shown(first.body), Array.from({ length: 50 }, (_, i) => `Estuary ${String(i + 1).padStart(2, '0')}`));
      const more = /<a href="(\/app\/graph\?q=estuary&amp;cursor=[^"]+)" rel="next">More matches →<\/a>/.exec(first.body);
      assert.ok(more, 'a link to more matches, keeping the query');
      const second = await page(more[1]!.replaceAll('&amp;', '&'), reader.cookie);
      assert.equal(second.statusCode, 200);
      assert.deepEqual(shown(second.body), ['Estuary 51', 'Estuary 52', 'Estuary 53']);
      assert.doesNotMatch(second.body, /rel="next"/);
      assert.match(second.body, /<a href="\/app\/graph\?q=estuary">← First page<\/a>/);
      const elsewhere = await page(more[1]!.replaceAll('&amp;', '&').replace('q=estuary', 'q=river'), reader.cookie);
      assert.equal(elsewhere.statusCode, 400);
      assertHardened(elsewhere);
      assert.match(elsewhere.body, /The cursor belongs to another search/);
    });

    it('shows error pages with the fixed message and no internals', async () => {
      const badCursor = await page('/app?cursor=not-a-cursor');
      assert.equal(badCursor.statusCode, 400);
      assertHardened(badCursor);
      assert.match(badCursor.body, /The cursor is not one this server issued\./);
      const missing = await page('/app/memories/00000000-0000-4000-8000-000000000000/edit');
      assert.equal(missing.statusCode, 404);
      assert.match(missing.body, /Memory not found\./);
      const notUuid = await page('/app/memories/..%2F..%2Fetc/edit');
      assert.equal(notUuid.statusCode, 400);
      for (const response of [badCursor, missing, notUuid]) assertNoInternals(response.body);
    });

    it('answers a browser at an unknown address with a hardened HTML 404 page, and anything else with the JSON error', async () => {
      const html = { accept: 'text/html,application/xhtml+xml' };
      const lost = await t.app.inject({ method: 'GET', url: '/no/such/page?q=secret', headers: html });
      assert.equal(lost.statusCode, 404);
      assertHardened(lost);
      assert.match(lost.body, /There is no page at this address\./);
      assert.doesNotMatch(lost.body, /secret/);
      for (const [url, headers] of [['/no/such/page', {}], ['/api/v1/nope', html], ['/mcp/nope', html], ['/.well-known/nope', html]] as const) {
        const answer = await t.app.inject({ method: 'GET', url, headers });
        assert.equal(answer.statusCode, 404, url);
        assert.deepEqual(answer.json(), { error: { code: 'not_found', message: answer.json().error.message } }, url);
      }
    });

    it('re-shows a refused form with the reason and keeps what was typed (except the password)', async () => {
      const weak = await post('/signup', { email: 'weak@example.com', password: 'short' }, { origin: TEST_ORIGIN });
      assert.equal(weak.statusCode, 400);
      assert.match(weak.body, /The password must be at least 12 characters long\./);
      assert.match(weak.body, /value="weak@example.com"/);
      assert.doesNotMatch(weak.body, /value="short"/);
      const wrong = await post('/login', { email: user.email, password: 'not the password at all' }, { origin: TEST_ORIGIN });
      assert.equal(wrong.statusCode, 401);
      assert.match(wrong.body, /The email or password is not right\./);
    });

    it('tells the truth on the security page: the constants in the code and the versions running', async () => {
      const body = (await page('/security', '')).body;
      const argon2 = (createRequire(import.meta.url)('@node-rs/argon2/package.json') as { version: string }).version;
      for (const fact of [DATA_KEY_INFO, KEY_WRAP_INFO, LOOKUP_KEY_INFO, `<code>${FORMAT_VERSION}</code>`, `m = ${PASSWORD_HASH_PARAMS.memoryCost} KiB, t = ${PASSWORD_HASH_PARAMS.timeCost}, p = ${PASSWORD_HASH_PARAMS.parallelism}`,
        `Node.js ${process.versions.node}`, `OpenSSL ${process.versions.openssl}`, `@node-rs/argon2</code> ${argon2}`, 'not end-to-end encrypted', 'stored only as SHA-256 hashes', 'Rotating your key keeps your data', 'Your password never decrypts anything']) {
        assert.ok(body.includes(fact), `the security page states ${fact}`);
      }
    });

    it('describes end-to-end accounts with the parameters the device code uses and the package that runs', async () => {
      const body = (await page('/security', '')).body;
      const opaque = (createRequire(import.meta.url)('@serenity-kit/opaque/package.json') as { version: string }).version;
      for (const fact of [`<code>@serenity-kit/opaque</code> ${opaque}`, `(${KEY_STRETCHING}: 64 MiB, 3 passes, parallelism 4)`, PASSWORD_WRAP_INFO, RECOVERY_WRAP_INFO, RECOVERY_AUTH_INFO, MANIFEST_KEY_INFO,
        `recovery code is ${RECOVERY_CODE_BITS} random bits`, 'If you lose both your password and your recovery code, your memories are gone', 'ANAMNESIS_OPAQUE_SERVER_SETUP', 'The local MCP server is the stronger client',
        'Backups or exports made before the switch stay readable by the old API key', `${E2E_SESSION_IDLE_MS / 86_400_000} days unused`]) {
        assert.ok(body.includes(fact), `the security page states ${fact}`);
      }
    });

    it('publishes a Python reproduction that decrypts a real encrypted export with PyCA cryptography', async () => {
      await t.app.inject({ method: 'POST', url: '/api/v1/memories', headers: bearer(user.apiKey), payload: { content: 'reproducible in Python', tags: ['py'] } });
      const exported = (await t.app.inject({ url: '/api/v1/export?format=encrypted', headers: bearer(user.apiKey) })).body;
      const body = (await page('/security', '')).body;
      const script = /<code id="python-reproduction">([\s\S]*?)<\/code>/.exec(body)![1]!
        .replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
      // Our inputs replace the placeholders; the file comes in on stdin, the key in the environment (never argv).
      const runnable = script
        .replace('API_KEY = "anm_your_key"', 'import os, sys\nAPI_KEY = os.environ["ANAMNESIS_KEY"]')
        .replace('with open(EXPORT, encoding="utf-8") as export:', 'with sys.stdin as export:');
      const run = spawnSync('python3', ['-c', runnable], { input: exported, env: { ...process.env, ANAMNESIS_KEY: user.apiKey }, encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /'content': 'reproducible in Python'/);
    });

    it('never shows internals when storage itself fails', async () => {
      const victim = await signUp(t.app);
      const db = await openDirectDb(t);
      try {
        await db.query('ALTER TABLE records RENAME TO records_moved');
        const response = await page('/app', victim.cookie);
        assert.ok(response.statusCode >= 500, String(response.statusCode));
        assertHardened(response);
        assert.match(response.body, /Something went wrong on our side|Storage is unavailable/);
        assertNoInternals(response.body);
      } finally {
        await db.query('ALTER TABLE records_moved RENAME TO records');
        await db.close();
      }
    });
  });
}

describe('web rate limits', () => {
  it('limits log-in attempts per account like the API, answering a 429 page with Retry-After', async () => {
    const t = await makeTestApp({ rateLimitFactor: 1 });
    try {
      const user = await signUp(t.app);
      const attempt = () => t.app.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: TEST_ORIGIN }, payload: form({ email: user.email, password: 'wrong but long enough' }) });
      for (let i = 0; i < 10; i++) assert.equal((await attempt()).statusCode, 401);
      const limited = await attempt();
      assert.equal(limited.statusCode, 429);
      assert.ok(Number(limited.headers['retry-after']) > 0);
      assert.match(limited.body, /Too many attempts; wait before trying again\./);
    } finally {
      await t.close();
    }
  });
});
