// Configuration from the environment (DESIGN.md section 4): defaults, and a
// bad value stops start-up with one line naming the variable.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.ts';
import { REPO_ROOT } from './fixtures/server-process.ts';

describe('configuration', () => {
  it('defaults to 127.0.0.1:8080, SQLite under ./data, info logs, no trusted proxy, rate limits as written', () => {
    assert.deepEqual(loadConfig({}), {
      port: 8080,
      host: '127.0.0.1',
      dataDir: path.resolve('./data'),
      databaseUrl: null,
      logLevel: 'info',
      trustProxy: [],
      rateLimitFactor: 1,
      allowedHosts: [],
      shutdownGraceMs: 10_000,
      e2eTombstoneDays: 90,
      opaqueServerSetup: null,
    });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      PORT: '9000',
      HOST: '0.0.0.0',
      ANAMNESIS_DATA_DIR: '/var/lib/anamnesis',
      DATABASE_URL: 'postgres://app@db.internal:5432/anamnesis',
      LOG_LEVEL: 'debug',
      TRUST_PROXY: '127.0.0.1, 10.0.0.0/8, ::1',
      ANAMNESIS_RATE_LIMIT_FACTOR: '0',
      ANAMNESIS_ALLOWED_HOSTS: 'memory.example.org',
      ANAMNESIS_SHUTDOWN_GRACE_MS: '30000',
      ANAMNESIS_E2E_TOMBSTONE_DAYS: '30',
      ANAMNESIS_OPAQUE_SERVER_SETUP: 'A'.repeat(171),
    });
    assert.equal(config.e2eTombstoneDays, 30);
    assert.equal(config.opaqueServerSetup, 'A'.repeat(171));
    assert.equal(config.port, 9000);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.dataDir, '/var/lib/anamnesis');
    assert.equal(config.databaseUrl, 'postgres://app@db.internal:5432/anamnesis');
    assert.equal(config.logLevel, 'debug');
    assert.deepEqual(config.trustProxy, ['127.0.0.1', '10.0.0.0/8', '::1']);
    assert.equal(config.rateLimitFactor, 0);
    assert.deepEqual(config.allowedHosts, ['memory.example.org']);
    assert.equal(config.shutdownGraceMs, 30_000);
  });

  for (const [variable, value] of [
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'mysql://root@localhost/db'],
    ['DATABASE_URL', 'not a url'],
    ['LOG_LEVEL', 'loud'],
    ['TRUST_PROXY', '127.0.0.1, example.org'],
    ['TRUST_PROXY', '10.0.0.0/33'],
    ['ANAMNESIS_RATE_LIMIT_FACTOR', '-1'],
    ['ANAMNESIS_RATE_LIMIT_FACTOR', 'fast'],
    ['ANAMNESIS_SHUTDOWN_GRACE_MS', '-1'],
    ['ANAMNESIS_SHUTDOWN_GRACE_MS', '2.5'],
    ['ANAMNESIS_SHUTDOWN_GRACE_MS', '10s'],
    ['ANAMNESIS_E2E_TOMBSTONE_DAYS', '0'],
    ['ANAMNESIS_E2E_TOMBSTONE_DAYS', '1.5'],
    ['ANAMNESIS_OPAQUE_SERVER_SETUP', 'not a setup'],
    ['ANAMNESIS_SHUTDOWN_GRACE_MS', '3600001'],
  ] as const) {
    it(`refuses ${variable}=${value}, naming the variable`, () => {
      assert.throws(() => loadConfig({ [variable]: value }), (error: unknown) => error instanceof ConfigError && error.message.startsWith(`${variable}: `));
    });
  }

  it('a bad value stops the server before it listens, with one line naming the variable', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: REPO_ROOT,
      env: { ...process.env, PORT: 'eighty', DATABASE_URL: '' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(result.status, 2);
    assert.equal(result.stdout, '');
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0]!, /^anamnesis: configuration error: PORT: "eighty" is not a port number/);
  });
});
