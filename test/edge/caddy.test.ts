// The edge of the security page ("TLS 1.3, enforced at the edge (Caddy).
// Session cookies are HttpOnly, Secure, SameSite=Lax"): deploy/Caddyfile run
// by Debian's caddy with its internal CA on loopback, in front of the real
// server started with TRUST_PROXY=127.0.0.1. Checked from a client's side:
// TLS 1.2 refused whatever the SNI, TLS 1.3 verified against the CA, HSTS,
// Secure cookies, and the client address taken from X-Forwarded-For only
// when Caddy (the trusted proxy) sent it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { killAllServers, PASSWORD, request, type ServerProcess, startServer } from '../fixtures/server-process.ts';
import { caddyAvailableForTests, type Edge, edgeRequest, handshake, SITE_NAME, startCaddy } from './caddy.ts';

const email = (label: string) => `${label}-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com`;

if (caddyAvailableForTests('edge: Caddy in front of the app')) {
  describe('Caddy terminates TLS 1.3 in front of the app', () => {
    let dataDir: string;
    let app: ServerProcess;
    let edge: Edge;

    before(async () => {
      dataDir = mkdtempSync(path.join(os.tmpdir(), 'anamnesis-edge-'));
      // Rate limits at their real values: the sign-up limit (5 per address per hour) shows which address the app believed.
      app = await startServer({ env: { ANAMNESIS_DATA_DIR: dataDir, TRUST_PROXY: '127.0.0.1' } });
      edge = await startCaddy([`127.0.0.1:${app.port}`]);
    });
    after(async () => {
      await edge?.stop();
      await killAllServers();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('refuses a TLS 1.2 handshake, with the site name, without SNI and with another name', async () => {
      for (const servername of [SITE_NAME, undefined, 'other.example']) {
        await assert.rejects(handshake({ port: edge.port, ca: edge.ca, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ...(servername ? { servername } : {}) }), `TLS 1.2 with SNI ${servername ?? '(none)'}`);
      }
    });

    it('completes a TLS 1.3 handshake whose certificate verifies against the internal CA', async () => {
      assert.equal(await handshake({ port: edge.port, ca: edge.ca, servername: SITE_NAME, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' }), 'TLSv1.3');
    });

    it('answers with HSTS, and sign-up sets an HttpOnly; Secure; SameSite=Lax cookie that works for a same-origin write', async () => {
      const signUp = await edgeRequest(edge, { method: 'POST', path: '/api/v1/accounts', body: { email: email('edge'), password: PASSWORD }, localAddress: '127.0.0.9' });
      assert.equal(signUp.status, 201, signUp.body);
      assert.match(String(signUp.headers['strict-transport-security']), /^max-age=\d{8,}; includeSubDomains$/);
      assert.equal(signUp.headers.server, undefined);
      const cookie = signUp.headers['set-cookie']!.find((c) => c.startsWith('anamnesis_session='))!;
      for (const attribute of ['HttpOnly', 'Secure', 'SameSite=Lax', 'Path=/']) assert.ok(cookie.split('; ').includes(attribute), `${attribute} in ${cookie}`);
      // The app saw https and the public host through the proxy's headers: the browser's Origin matches.
      const write = await edgeRequest(edge, { method: 'POST', path: '/api/v1/memories', headers: { cookie: cookie.split(';')[0]!, origin: edge.origin }, body: { content: 'written through the edge' } });
      assert.equal(write.status, 201, write.body);
      assert.match(String((await edgeRequest(edge, { path: '/healthz' })).headers['strict-transport-security']), /max-age/);
    });

    it('OAuth discovery through the edge names the public https origin, as /mcp\'s 401 does', async () => {
      const metadata = (await edgeRequest(edge, { path: '/.well-known/oauth-authorization-server' })).json();
      assert.equal(metadata.issuer, edge.origin);
      assert.equal(metadata.token_endpoint, `${edge.origin}/oauth/token`);
      const resource = (await edgeRequest(edge, { path: '/.well-known/oauth-protected-resource/mcp' })).json();
      assert.equal(resource.resource, `${edge.origin}/mcp`);
      const unauthorized = await edgeRequest(edge, { method: 'POST', path: '/mcp', headers: { accept: 'application/json, text/event-stream' }, body: { jsonrpc: '2.0', id: 1, method: 'ping' } });
      assert.equal(unauthorized.status, 401);
      assert.match(String(unauthorized.headers['www-authenticate']), new RegExp(`resource_metadata="${edge.origin}/\\.well-known/oauth-protected-resource/mcp"`));
    });

    it('believes X-Forwarded-For from Caddy only: per-client limits through the edge, a forged header ignored both ways', async () => {
      const signUpVia = (send: typeof edgeRequest | null, localAddress: string, forged?: string) => {
        const headers: Record<string, string> = forged ? { 'x-forwarded-for': forged } : {};
        const options = { method: 'POST', path: '/api/v1/accounts', body: { email: email('limit'), password: PASSWORD }, localAddress, headers };
        return send ? send(edge, options) : request(app.url, options);
      };
      // Through Caddy, from 127.0.0.2: five sign-ups, then 429, forged header or not.
      for (let i = 0; i < 5; i++) assert.equal((await signUpVia(edgeRequest, '127.0.0.2')).status, 201);
      assert.equal((await signUpVia(edgeRequest, '127.0.0.2')).status, 429);
      assert.equal((await signUpVia(edgeRequest, '127.0.0.2', '203.0.113.77')).status, 429, 'Caddy replaced the forged X-Forwarded-For');
      // Another client through the same Caddy connection source is counted apart: the app keyed on X-Forwarded-For.
      assert.equal((await signUpVia(edgeRequest, '127.0.0.3')).status, 201);
      // Directly from an address that is not the trusted proxy, a new forged X-Forwarded-For each time changes nothing.
      for (let i = 0; i < 5; i++) assert.equal((await signUpVia(null, '127.0.0.4', `198.51.100.${i}`)).status, 201);
      const refused = await signUpVia(null, '127.0.0.4', '198.51.100.200');
      assert.equal(refused.status, 429, 'a forged X-Forwarded-For from an untrusted peer is not believed');
      assert.equal(refused.json().error.code, 'rate_limited');
    });
  });
}
