// Fixed-window rate limits, counted in the store (src/storage/rate-limit-counters.ts)
// so that every process on one database shares them: N processes allow what
// one allows, and each answers with the same Retry-After. Scaled by
// ANAMNESIS_RATE_LIMIT_FACTOR; a factor of 0 turns them off for load tests.
//
// SQLite counts in its table too, not in memory: one code path and one
// conformance suite for both drivers, counters that survive a restart, and a
// cost (one small upsert, no fsync under WAL synchronous=NORMAL) that is
// small beside what a limited request already does (argon2id, a session write).
import { createHash } from 'node:crypto';
import { AppError } from '../errors.ts';
import type { Store } from '../storage/store.ts';

export interface Limit {
  /** Names the counter: two limits never share one, whatever their numbers. */
  name: string;
  /** Requests allowed per window at factor 1. */
  max: number;
  windowMs: number;
}

export const LIMITS = {
  signupPerAddress: { name: 'signup-address', max: 5, windowMs: 3600_000 },
  loginPerAddress: { name: 'login-address', max: 20, windowMs: 15 * 60_000 },
  loginPerAccount: { name: 'login-account', max: 10, windowMs: 15 * 60_000 },
  unlockPerAddress: { name: 'unlock-address', max: 20, windowMs: 15 * 60_000 },
  unlockPerAccount: { name: 'unlock-account', max: 10, windowMs: 15 * 60_000 },
  passwordCheckPerAccount: { name: 'password-check-account', max: 10, windowMs: 15 * 60_000 },
  rotateConfirmPerAddress: { name: 'rotate-confirm-address', max: 30, windowMs: 15 * 60_000 },
  // One connector service (claude.ai, ChatGPT) registers and refreshes for many users from few addresses.
  oauthRegisterPerAddress: { name: 'oauth-register-address', max: 60, windowMs: 3600_000 },
  oauthTokenPerAddress: { name: 'oauth-token-address', max: 600, windowMs: 15 * 60_000 },
  /** Each authorization request naming a metadata document makes us fetch it. */
  oauthAuthorizePerAddress: { name: 'oauth-authorize-address', max: 60, windowMs: 15 * 60_000 },
} as const satisfies Record<string, Limit>;

/** Expired windows deleted per sweep: bounded work for the request that sweeps. */
export const SWEEP_BATCH = 500;
/** A process sweeps at most this often while the last sweep found fewer than a batch. */
export const SWEEP_EVERY_MS = 60_000;

/**
 * The row key of one limit's counter for one subject (an address, an e-mail
 * or an account id): SHA-256 under a label naming the limit, so the table
 * holds no subject in clear and two limits never share a row. A hash is not
 * a secret: an address or a known e-mail can be confirmed by hashing it.
 */
export function counterKey(limit: Limit, subject: string): string {
  return createHash('sha256').update(`anamnesis rate limit\0${limit.name}\0${subject}`, 'utf8').digest('hex');
}

export class RateLimiter {
  #nextSweepAt = 0;

  constructor(
    private readonly store: Pick<Store, 'hitRateLimit' | 'sweepRateLimits'>,
    private readonly factor: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * Counts one attempt; throws 429 with retry_after once the limit is spent.
   * A store that cannot be reached throws StoreUnavailable (503): an attempt
   * that cannot be counted is not let through.
   */
  async hit(limit: Limit, subject: string): Promise<void> {
    if (this.factor === 0) return;
    const max = Math.max(1, Math.round(limit.max * this.factor));
    const now = this.clock();
    const window = await this.store.hitRateLimit(counterKey(limit, subject), limit.windowMs, now);
    await this.#sweepWhenDue(now);
    if (window.count > max) {
      const retryAfter = Math.ceil((window.resetAt - now) / 1000);
      throw new AppError('rate_limited', 'too many attempts; wait before trying again', { retry_after: retryAfter });
    }
  }

  /** Keeps sweeping on every hit while sweeps find full batches, so the table never outgrows what attempts add. */
  async #sweepWhenDue(now: number): Promise<void> {
    if (now < this.#nextSweepAt) return;
    this.#nextSweepAt = now + SWEEP_EVERY_MS;
    if ((await this.store.sweepRateLimits(now, SWEEP_BATCH)) >= SWEEP_BATCH) this.#nextSweepAt = now;
  }
}
