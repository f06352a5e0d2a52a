// The SQL of the rate-limit counters: one row per (limit, subject) fixed
// window, keyed by a hash the caller made (the table holds no address or
// e-mail), counted by a single upsert so that concurrent attempts from any
// number of processes never read-modify-write. Each driver adds these to its
// store, outside transactions.
import type { Executor } from './common.ts';
import type { RateLimitCounters } from './store.ts';

// The row lock taken by ON CONFLICT DO UPDATE orders concurrent hits of one
// key (PostgreSQL re-reads the newest row before updating; SQLite has one
// writer at a time), so each gets its own count. A window that ended by `now`
// starts again at 1 in the same statement.
const HIT = `
  INSERT INTO rate_limits (key_hash, hits, reset_at) VALUES (?, 1, ?)
  ON CONFLICT (key_hash) DO UPDATE SET
    hits = CASE WHEN rate_limits.reset_at <= ? THEN 1 ELSE rate_limits.hits + 1 END,
    reset_at = CASE WHEN rate_limits.reset_at <= ? THEN excluded.reset_at ELSE rate_limits.reset_at END
  RETURNING hits, reset_at`;

// Bounded work through the reset_at index. On PostgreSQL, processes sweeping
// at once skip each other's rows (SKIP LOCKED) instead of waiting for them
// in different orders, which could deadlock; SQLite has one writer at a time.
const sweep = (lockClause: string) => `
  DELETE FROM rate_limits WHERE key_hash IN (
    SELECT key_hash FROM rate_limits WHERE reset_at <= ? ORDER BY reset_at LIMIT ?${lockClause})`;
const SWEEP = { sqlite: sweep(''), postgres: sweep(' FOR UPDATE SKIP LOCKED') };

export function rateLimitCounters(ex: Executor, driver: 'sqlite' | 'postgres'): RateLimitCounters {
  return {
    async hitRateLimit(key, windowMs, now) {
      const [row] = await ex.all(HIT, [key, now + windowMs, now, now]);
      return { count: Number(row!.hits), resetAt: Number(row!.reset_at) };
    },
    sweepRateLimits: (now, max) => ex.run(SWEEP[driver], [now, Math.max(0, Math.floor(max))]),
  };
}
