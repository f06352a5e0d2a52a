// Debian's caddy running deploy/Caddyfile on loopback with its internal CA:
// high ports, the admin endpoint on a loopback port of its own (for `caddy
// reload`, as an operator changes the upstreams), and HOME / XDG dirs in a
// temporary folder so the CA and certificates never touch the machine's own.
// Tests reach it with node:tls / node:https, trusting only that temporary
// CA's root.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { it } from 'node:test';
import { collectAnswer, freePort, REPO_ROOT, withBody, type Answer, type RequestOptions } from '../fixtures/server-process.ts';

export const CADDY = process.env.CADDY_BINARY ?? '/usr/bin/caddy';
/** The name the site answers to; Caddy's internal CA issues its certificate. */
export const SITE_NAME = 'localhost';

/**
 * Await at the top of an edge test file. Without caddy: a failing test in CI,
 * a loud skip elsewhere.
 */
export function caddyAvailableForTests(what: string): boolean {
  const probe = spawnSync(CADDY, ['version'], { encoding: 'utf8' });
  if (probe.status === 0) return true;
  const why = `${CADDY} did not run (${probe.error?.message ?? probe.stderr}); install caddy or set CADDY_BINARY`;
  if (process.env.CI) {
    it(`${what}: caddy is installed (mandatory in CI)`, () => assert.fail(why));
  } else {
    process.stderr.write(`\n${'!'.repeat(78)}\n!!! EDGE NOT TESTED: ${what} skipped: ${why}\n${'!'.repeat(78)}\n\n`);
    it.skip(`${what}: caddy NOT TESTED (not installed)`);
  }
  return false;
}

export interface Edge {
  /** https://localhost:<port> */
  origin: string;
  port: number;
  /** The internal CA's root certificate (PEM): the only thing the test trusts. */
  ca: Buffer;
  output(): string;
  /** `caddy reload` with ANAMNESIS_UPSTREAM set to these: what docs/deploy.md tells an operator to run. */
  setUpstreams(upstreams: string[]): Promise<void>;
  stop(): Promise<void>;
}

export async function startCaddy(upstreams: string[]): Promise<Edge> {
  const home = mkdtempSync(path.join(os.tmpdir(), 'anamnesis-caddy-'));
  const port = await freePort();
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: home,
    XDG_DATA_HOME: path.join(home, 'data'),
    XDG_CONFIG_HOME: path.join(home, 'config'),
    ANAMNESIS_SITE: `${SITE_NAME}:${port}`,
    ANAMNESIS_UPSTREAM: upstreams.join(' '),
    ANAMNESIS_TLS: 'internal',
    ANAMNESIS_ADMIN: `127.0.0.1:${await freePort()}`,
    ANAMNESIS_HTTP_PORT: String(await freePort()),
    ANAMNESIS_HTTPS_PORT: String(port),
  };
  const config = ['--config', path.join(REPO_ROOT, 'deploy/Caddyfile'), '--adapter', 'caddyfile'];
  const child: ChildProcess = spawn(CADDY, ['run', ...config], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(home, { recursive: true, force: true });
  };
  const rootFile = path.join(env.XDG_DATA_HOME, 'caddy/pki/authorities/local/root.crt');
  // Ready once the root exists and a TLS 1.3 handshake verifies against it.
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) throw new Error(`caddy exited:\n${output}`);
    if (existsSync(rootFile)) {
      const ok = await handshake({ port, ca: readFileSync(rootFile), servername: SITE_NAME, maxVersion: 'TLSv1.3', minVersion: 'TLSv1.3' }).then(() => true, () => false);
      if (ok) break;
    }
    if (attempt > 300) {
      await stop();
      throw new Error(`caddy did not serve TLS in time:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const setUpstreams = async (upstreams: string[]) => {
    // Asynchronous: the test's own load keeps running while Caddy reloads.
    const reload = spawn(CADDY, ['reload', ...config, '--address', env.ANAMNESIS_ADMIN], { env: { ...env, ANAMNESIS_UPSTREAM: upstreams.join(' ') }, stdio: ['ignore', 'pipe', 'pipe'] });
    let said = '';
    reload.stdout!.on('data', (c: Buffer) => (said += c.toString()));
    reload.stderr!.on('data', (c: Buffer) => (said += c.toString()));
    const code = await new Promise<number | null>((resolve) => reload.once('exit', resolve));
    if (code !== 0) throw new Error(`caddy reload exited ${code}:\n${said}`);
    // The reload returns while the old configuration still finishes the requests it had
    // accepted, and may still send them to an upstream just removed. Done once Caddy's
    // upstream list (which keeps an address while any configuration uses it) is the new one.
    const wanted = [...upstreams].sort().join(' ');
    for (let attempt = 0; ; attempt++) {
      // The admin endpoint itself restarts with each configuration: a refused or cut answer is asked again.
      const listed = await new Promise<string>((resolve, reject) => {
        http.get(`http://${env.ANAMNESIS_ADMIN}/reverse_proxy/upstreams`, (res) => collectAnswer(res, (answer) => resolve(answer.body), reject)).on('error', reject);
      }).catch(() => '[]');
      if ((JSON.parse(listed) as Array<{ address: string }>).map((u) => u.address).sort().join(' ') === wanted) return;
      if (attempt > 1200) throw new Error(`caddy still lists ${listed} after the reload, expected ${wanted}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { origin: `https://${SITE_NAME}:${port}`, port, ca: readFileSync(rootFile), output: () => output, setUpstreams, stop };
}

/** One TLS handshake; resolves with the negotiated protocol, rejects when the server refuses. */
export function handshake(options: { port: number; ca: Buffer; servername?: string; minVersion: tls.SecureVersion; maxVersion: tls.SecureVersion }): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: options.port, ca: options.ca, minVersion: options.minVersion, maxVersion: options.maxVersion, ...(options.servername ? { servername: options.servername } : {}) }, () => {
      const protocol = socket.getProtocol() ?? 'unknown';
      socket.end();
      resolve(protocol);
    });
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('handshake timed out')));
  });
}

/**
 * The connection failed before its TLS handshake completed, so not one byte
 * of the request was sent: a client may send it again, whatever its method.
 */
export class ConnectionNotEstablished extends Error {
  constructor(cause: Error) {
    super(`connection not established: ${cause.message}`, { cause });
    this.name = 'ConnectionNotEstablished';
  }
}

/** One HTTPS request to the edge, verified against the internal CA, over TLS 1.3. */
export function edgeRequest(edge: Edge, options: RequestOptions): Promise<Answer> {
  const { headers, payload } = withBody(options);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        servername: SITE_NAME,
        port: edge.port,
        path: options.path,
        method: options.method ?? 'GET',
        headers: { host: `${SITE_NAME}:${edge.port}`, ...headers },
        ca: edge.ca,
        minVersion: 'TLSv1.3',
        agent: false,
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      },
      (res) => collectAnswer(res, resolve, reject),
    );
    req.setTimeout(options.timeoutMs ?? 60_000, () => req.destroy(new Error('no answer from the edge')));
    // The request is written only once the handshake is done (agent: false, a fresh socket each time).
    let established = false;
    req.on('socket', (socket) => socket.once('secureConnect', () => (established = true)));
    req.on('error', (error) => reject(established ? error : new ConnectionNotEstablished(error)));
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}
