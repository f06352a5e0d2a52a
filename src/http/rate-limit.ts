// Fixed-window counters in this process's memory, keyed by purpose and
// subject (an address or an account). Scaled by ANAMNESIS_RATE_LIMIT_FACTOR;
// a factor of 0 turns them off for load tests.
import { AppError } from '../errors.ts';

export interface Limit {
  /** Requests allowed per window at factor 1. */
  max: number;
  windowMs: number;
}

export const LIMITS = {
  signupPerAddress: { max: 5, windowMs: 3600_000 },
  loginPerAddress: { max: 20, windowMs: 15 * 60_000 },
  loginPerAccount: { max: 10, windowMs: 15 * 60_000 },
  unlockPerAddress: { max: 20, windowMs: 15 * 60_000 },
  unlockPerAccount: { max: 10, windowMs: 15 * 60_000 },
  passwordCheckPerAccount: { max: 10, windowMs: 15 * 60_000 },
  rotateConfirmPerAddress: { max: 30, windowMs: 15 * 60_000 },
} as const satisfies Record<string, Limit>;

export class RateLimiter {
  readonly #windows = new Map<string, { count: number; resetAt: number }>();

  constructor(private readonly factor: number) {}

  /** Counts one attempt; throws 429 with retry_after once the limit is spent. */
  hit(limit: Limit, subject: string): void {
    if (this.factor === 0) return;
    const max = Math.max(1, Math.round(limit.max * this.factor));
    const now = Date.now();
    const key = `${limit.max}/${limit.windowMs}:${subject}`;
    let window = this.#windows.get(key);
    if (!window || window.resetAt <= now) {
      if (this.#windows.size > 100_000) this.sweep(now);
      window = { count: 0, resetAt: now + limit.windowMs };
      this.#windows.set(key, window);
    }
    window.count++;
    if (window.count > max) {
      const retryAfter = Math.ceil((window.resetAt - now) / 1000);
      throw new AppError('rate_limited', 'too many attempts; wait before trying again', { retry_after: retryAfter });
    }
  }

  private sweep(now: number): void {
    for (const [key, window] of this.#windows) if (window.resetAt <= now) this.#windows.delete(key);
  }
}
