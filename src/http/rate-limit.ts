// Fixed-window counters in this process's memory, keyed by purpose and
// subject (an address or an account). Scaled by ANAMNESIS_RATE_LIMIT_FACTOR;
// a factor of 0 turns them off for load tests.
import { AppError } from '../errors.ts';

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

export class RateLimiter {
  readonly #windows = new Map<string, { count: number; resetAt: number }>();

  constructor(private readonly factor: number) {}

  /** Counts one attempt; throws 429 with retry_after once the limit is spent. */
  hit(limit: Limit, subject: string): void {
    if (this.factor === 0) return;
    const max = Math.max(1, Math.round(limit.max * this.factor));
    const now = Date.now();
    const key = `${limit.name}:${subject}`;
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
