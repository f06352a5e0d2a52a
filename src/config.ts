// Configuration from the environment (DESIGN.md section 4). A bad value stops
// start-up with one line naming the variable.
import { isIP } from 'node:net';
import path from 'node:path';

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** `postgres://…` selects PostgreSQL; null means SQLite in dataDir. */
  databaseUrl: string | null;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Proxy addresses (or CIDR ranges) whose X-Forwarded-* headers are believed. */
  trustProxy: string[];
  /** Multiplies every rate limit; 0 turns them off (load tests only). */
  rateLimitFactor: number;
  /**
   * Host names (optionally `name:port`) /mcp answers besides localhost,
   * 127.0.0.1 and [::1]: the public site's host behind the edge. Guards
   * against DNS rebinding.
   */
  allowedHosts: string[];
  /** How long SIGTERM waits for requests in flight before cutting them (docs/deploy.md). */
  shutdownGraceMs: number;
  /** End-to-end accounts: days a tombstone is kept before it is purged (docs/e2e-protocol.md). */
  e2eTombstoneDays: number;
  /**
   * The OPAQUE server setup (its OPRF seed and key pair), or null to make one
   * and keep it in the database. Kept outside the database, a copy of the
   * database allows no offline guessing of passwords.
   */
  opaqueServerSetup: string | null;
}

export class ConfigError extends Error {
  constructor(variable: string, problem: string) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function parsePort(raw: string): number {
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port < 0 || port > 65535) throw new ConfigError('PORT', `"${raw}" is not a port number (0-65535)`);
  return port;
}

function parseDatabaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('DATABASE_URL', 'is not a URL (expected postgres://user@host:port/database)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError('DATABASE_URL', `scheme "${url.protocol}" is not supported (expected postgres://)`);
  }
  return raw;
}

function parseTrustProxy(raw: string): string[] {
  const entries = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const entry of entries) {
    const [address, bits] = entry.split('/');
    const family = isIP(address ?? '');
    const maxBits = family === 4 ? 32 : 128;
    if (family === 0 || (bits !== undefined && (!/^\d+$/.test(bits) || Number(bits) > maxBits))) {
      throw new ConfigError('TRUST_PROXY', `"${entry}" is not an IP address or CIDR range`);
    }
  }
  return entries;
}

function parseRateLimitFactor(raw: string): number {
  const factor = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(factor) || factor < 0) {
    throw new ConfigError('ANAMNESIS_RATE_LIMIT_FACTOR', `"${raw}" is not a number >= 0`);
  }
  return factor;
}

/** An hour: a grace period longer than that is a typo, and would hold a restart for good. */
const MAX_SHUTDOWN_GRACE_MS = 3_600_000;

function parseShutdownGrace(raw: string): number {
  const ms = Number(raw);
  if (!/^\d+$/.test(raw) || ms > MAX_SHUTDOWN_GRACE_MS) {
    throw new ConfigError('ANAMNESIS_SHUTDOWN_GRACE_MS', `"${raw}" is not a whole number of milliseconds (0-${MAX_SHUTDOWN_GRACE_MS})`);
  }
  return ms;
}

function parseTombstoneDays(raw: string): number {
  const days = Number(raw);
  if (!/^\d+$/.test(raw) || days < 1 || days > 3650) {
    throw new ConfigError('ANAMNESIS_E2E_TOMBSTONE_DAYS', `"${raw}" is not a whole number of days (1-3650)`);
  }
  return days;
}

/** The package's serialised setup: base64url, a few hundred characters. Checked fully when the app starts. */
function parseOpaqueSetup(raw: string): string {
  if (!/^[A-Za-z0-9_-]{64,1024}$/.test(raw.trim())) {
    throw new ConfigError('ANAMNESIS_OPAQUE_SERVER_SETUP', 'is not an OPAQUE server setup (base64url, as made by `npx @serenity-kit/opaque@1.1.0 create-server-setup`)');
  }
  return raw.trim();
}

const HOST_ENTRY = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/;

function parseAllowedHosts(raw: string): string[] {
  const entries = raw.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const entry of entries) {
    if (!HOST_ENTRY.test(entry)) throw new ConfigError('ANAMNESIS_ALLOWED_HOSTS', `"${entry}" is not a host name or host:port`);
  }
  return entries;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const logLevel = env.LOG_LEVEL ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `"${logLevel}" is not one of ${LOG_LEVELS.join(', ')}`);
  }
  const host = env.HOST ?? '127.0.0.1';
  if (host.trim() === '') throw new ConfigError('HOST', 'is empty');
  return {
    port: parsePort(env.PORT ?? '8080'),
    host,
    dataDir: path.resolve(env.ANAMNESIS_DATA_DIR ?? './data'),
    databaseUrl: env.DATABASE_URL ? parseDatabaseUrl(env.DATABASE_URL) : null,
    logLevel: logLevel as Config['logLevel'],
    trustProxy: parseTrustProxy(env.TRUST_PROXY ?? ''),
    rateLimitFactor: parseRateLimitFactor(env.ANAMNESIS_RATE_LIMIT_FACTOR ?? '1'),
    allowedHosts: parseAllowedHosts(env.ANAMNESIS_ALLOWED_HOSTS ?? ''),
    shutdownGraceMs: parseShutdownGrace(env.ANAMNESIS_SHUTDOWN_GRACE_MS ?? '10000'),
    e2eTombstoneDays: parseTombstoneDays(env.ANAMNESIS_E2E_TOMBSTONE_DAYS ?? '90'),
    opaqueServerSetup: env.ANAMNESIS_OPAQUE_SERVER_SETUP ? parseOpaqueSetup(env.ANAMNESIS_OPAQUE_SERVER_SETUP) : null,
  };
}
