// The OAuth consent page in Debian's Chromium: a connector's authorization
// link opened by a visitor who is not logged in goes through log-in and
// unlock and comes back; Approve sends the browser to the client with a code
// (the page's CSP lets the form lead there and nowhere else); Deny sends it
// back with access_denied. A client name full of markup renders as text.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { s256 } from '../../src/oauth/tokens.ts';
import { signUp, type TestUser } from '../helpers/app.ts';
import { rawRequest } from '../mcp/helpers.ts';
import { tokenRequest } from '../oauth/helpers.ts';
import { launchChromium, type LiveApp, openPage, screenshot, startLiveApp } from './browser.ts';

const HOSTILE_NAME = '<img src=x onerror=alert(1)> Connector';

describe('OAuth consent in Chromium', () => {
  let live: LiveApp;
  let browser: Browser;
  let user: TestUser;
  let clientId: string;
  const verifier = 'b'.repeat(43);
  /** The connector's own callback page: a loopback server that records where the browser arrived. */
  let callback: http.Server;
  let REDIRECT_URL: string;
  let callbackOrigin: string;
  const arrived: string[] = [];

  before(async () => {
    live = await startLiveApp();
    browser = await launchChromium();
    callback = http.createServer((request, response) => {
      if (request.url?.startsWith('/callback')) arrived.push(new URL(request.url, callbackOrigin).href);
      response.writeHead(200, { 'content-type': 'text/plain' }).end('back in the client');
    });
    await new Promise<void>((resolve) => callback.listen(0, '127.0.0.1', resolve));
    callbackOrigin = `http://127.0.0.1:${(callback.address() as AddressInfo).port}`;
    REDIRECT_URL = `${callbackOrigin}/callback`;
    user = await signUp(live.test.app);
    const registered = await rawRequest(live.baseUrl, { method: 'POST', path: '/oauth/register', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_name: HOSTILE_NAME, redirect_uris: [REDIRECT_URL] }) });
    clientId = JSON.parse(registered.body).client_id;
  });
  after(async () => {
    await browser?.close();
    await live?.close();
    await new Promise((resolve) => callback?.close(resolve));
  });

  const authorizeUrl = (state: string) => `/oauth/authorize?${new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT_URL, code_challenge: s256(verifier), code_challenge_method: 'S256', state, resource: `${live.baseUrl}/mcp` })}`;

  it('log in, unlock, approve: the browser lands on the client with a code that the token endpoint takes; deny answers access_denied', async () => {
    const watched = await openPage(browser, live.baseUrl);
    const { page, context } = watched;

    await page.goto(authorizeUrl('first'));
    assert.match(new URL(page.url()).pathname, /^\/login$/);
    await page.fill('#email', user.email);
    await page.fill('#password', user.password);
    await Promise.all([page.waitForURL(/\/unlock\?next=/), page.click('form button[type=submit]')]);
    await page.fill('#api_key', user.apiKey);
    const [consent] = await Promise.all([page.waitForResponse((r) => r.url().includes('/oauth/authorize') && r.request().method() === 'GET'), page.click('form[action^="/unlock"] button[type=submit]')]);
    assert.equal(consent.status(), 200);
    assert.equal(consent.headers()['content-security-policy'], `default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self' ${callbackOrigin}`);
    await page.waitForSelector('button[value=approve]');
    assert.match((await page.textContent('h1'))!, /<img src=x onerror=alert\(1\)> Connector/, 'the name is text, not markup');
    assert.equal(await page.locator('main img').count(), 0);
    assert.ok((await page.textContent('main'))!.includes(new URL(callbackOrigin).host), 'where it will send the user');
    await screenshot(page, 'oauth-consent');

    await Promise.all([page.waitForURL(`${REDIRECT_URL}**`), page.click('button[value=approve]')]);
    const approved = new URL(arrived.at(-1)!);
    assert.equal(approved.searchParams.get('state'), 'first');
    assert.equal(approved.searchParams.get('iss'), live.baseUrl);
    const tokens = await tokenRequest(live.baseUrl, { grant_type: 'authorization_code', code: approved.searchParams.get('code')!, code_verifier: verifier, client_id: clientId, redirect_uri: REDIRECT_URL });
    assert.equal(tokens.status, 200);

    // Logged in and unlocked now: straight to consent, and Deny.
    await page.goto(authorizeUrl('second'));
    await Promise.all([page.waitForURL(`${REDIRECT_URL}**`), page.click('button[value=deny]')]);
    const denied = new URL(arrived.at(-1)!);
    assert.equal(denied.searchParams.get('error'), 'access_denied');
    assert.equal(denied.searchParams.get('state'), 'second');
    assert.equal(denied.searchParams.get('code'), null);

    // The dashboard lists the one grant.
    await page.goto('/app/connections');
    assert.match((await page.textContent('main table'))!, /Connector/);
    await screenshot(page, 'oauth-connections');
    assert.deepEqual(watched.dialogs, [], 'no dialog opened');
    await context.close();
  });
});
