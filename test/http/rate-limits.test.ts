// Rate limits on sign-up, log-in and unlock, per address and per account:
// 429 with Retry-After in the error shape, scaled by
// ANAMNESIS_RATE_LIMIT_FACTOR, and never in the way of the owner's API key.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { loadConfig } from '../../src/config.ts';
import { AppError } from '../../src/errors.ts';
import { counterKey, LIMITS, RateLimiter, SWEEP_BATCH, SWEEP_EVERY_MS } from '../../src/http/rate-limit.ts';
import { StoreUnavailable } from '../../src/storage/store.ts';
import { bearer, browser, cookieFrom, makeTestApp, type TestApp, type TestUser } from '../helpers/app.ts';
import { openDirectDb, testDrivers } from './support.ts';

const PASSWORD = 'a long and unusual passphrase 42';
let addressCounter = 0;
/** A fresh client address per scenario, so scenarios do not share counters. */
const freshAddress = () => `203.0.113.${++addressCounter}`;

function assertRateLimited(response: LightMyRequestResponse, windowSeconds: number): void {
  assert.equal(response.statusCode, 429, response.body);
  const retryAfter = Number(response.headers['retry-after']);
  assert.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= windowSeconds, `Retry-After ${String(response.headers['retry-after'])}`);
  const body = response.json();
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'retry_after']);
  assert.equal(body.error.code, 'rate_limited');
  assert.equal(typeof body.error.message, 'string');
  assert.equal(body.error.retry_after, retryAfter);
}

async function withApp(driver: TestApp['store']['driver'], rateLimitFactor: number, work: (t: TestApp) => Promise<void>): Promise<void> {
  const t = await makeTestApp({ driver, rateLimitFactor });
  try {
    await work(t);
  } finally {
    await t.close();
  }
}

function signUpFrom(t: TestApp, address: string, email = `rl-${++addressCounter}-${Date.now()}@example.com`) {
  return t.app.inject({ method: 'POST', url: '/api/v1/accounts', remoteAddress: address, payload: { email, password: PASSWORD } });
}

async function userFrom(t: TestApp): Promise<TestUser> {
  const email = `owner-${++addressCounter}@example.com`;
  const response = await signUpFrom(t, freshAddress(), email);
  assert.equal(response.statusCode, 201);
  return { userId: response.json().user_id, apiKey: response.json().api_key, email, password: PASSWORD, cookie: cookieFrom(response) };
}

function logInFrom(t: TestApp, address: string, email: string, password: string) {
  return t.app.inject({ method: 'POST', url: '/api/v1/sessions', remoteAddress: address, payload: { email, password } });
}

const minutes15 = 15 * 60;
/** A fixed clock reading for limiters on a test clock (epoch ms). */
const T = 1_767_225_600_000;

/** Rejects with 429 rate_limited whose retry_after is exactly `seconds`. */
async function refusedFor(attempt: Promise<void>, seconds: number): Promise<void> {
  await assert.rejects(attempt, (err: unknown) => {
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.code, 'rate_limited');
    assert.equal(err.details?.retry_after, seconds);
    return true;
  });
}

for (const driver of await testDrivers('HTTP rate limits')) {
  describe(`rate limits at factor 1 (${driver})`, () => {
    let t: TestApp;
    before(async () => {
      t = await makeTestApp({ driver, rateLimitFactor: 1 });
    });
    after(() => t.close());

    it('sign-up: 5 per address per hour, then 429 with Retry-After; another address is not affected', async () => {
      const address = freshAddress();
      for (let i = 0; i < LIMITS.signupPerAddress.max; i++) assert.equal((await signUpFrom(t, address)).statusCode, 201);
      const refused = await signUpFrom(t, address);
      assertRateLimited(refused, 3600);
      assert.equal(refused.headers['set-cookie'], undefined);
      assert.equal((await signUpFrom(t, freshAddress())).statusCode, 201);
    });

    it('log-in per account: 10 attempts, then 429 even with the right password from a new address; the API key keeps working', async () => {
      const owner = await userFrom(t);
      for (let i = 0; i < LIMITS.loginPerAccount.max; i++) {
        assert.equal((await logInFrom(t, freshAddress(), owner.email, 'an attacker guessing 123')).statusCode, 401);
      }
      assertRateLimited(await logInFrom(t, freshAddress(), owner.email, owner.password), minutes15);
      assertRateLimited(await logInFrom(t, freshAddress(), owner.email.toUpperCase(), owner.password), minutes15);
      // The throttle is on password log-in only: the owner's key and unlocked session are untouched.
      const write = await t.app.inject({ method: 'POST', url: '/api/v1/memories', headers: bearer(owner.apiKey), payload: { content: 'still here' } });
      assert.equal(write.statusCode, 201);
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/memories', headers: bearer(owner.apiKey) })).statusCode, 200);
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/memories', headers: { cookie: owner.cookie } })).statusCode, 200);
      // Another account logs in fine.
      const other = await userFrom(t);
      assert.equal((await logInFrom(t, freshAddress(), other.email, other.password)).statusCode, 200);
    });

    it('log-in per address: 20 attempts across accounts, then 429 for any account from that address', async () => {
      const address = freshAddress();
      const victim = await userFrom(t);
      for (let i = 0; i < LIMITS.loginPerAddress.max; i++) {
        assert.equal((await logInFrom(t, address, `nobody-${i}@example.com`, 'an attacker guessing 123')).statusCode, 401);
      }
      const refused = await logInFrom(t, address, victim.email, victim.password);
      assertRateLimited(refused, minutes15);
      assert.equal(refused.headers['set-cookie'], undefined);
      assert.equal((await logInFrom(t, freshAddress(), victim.email, victim.password)).statusCode, 200);
      // Log-in and unlock count separately: the same address can still unlock a session.
      const session = cookieFrom(await logInFrom(t, freshAddress(), victim.email, victim.password));
      const unlock = await t.app.inject({ method: 'POST', url: '/api/v1/sessions/unlock', remoteAddress: address, headers: browser(session), payload: { api_key: victim.apiKey } });
      assert.equal(unlock.statusCode, 200);
    });

    it('unlock per account: 10 attempts, then 429 even with the right key; password checks count separately', async () => {
      const owner = await userFrom(t);
      const session = cookieFrom(await logInFrom(t, freshAddress(), owner.email, owner.password));
      const unlock = (apiKey: string) => t.app.inject({ method: 'POST', url: '/api/v1/sessions/unlock', remoteAddress: freshAddress(), headers: browser(session), payload: { api_key: apiKey } });
      for (let i = 0; i < LIMITS.unlockPerAccount.max; i++) assert.equal((await unlock('anm_guess')).statusCode, 403);
      assertRateLimited(await unlock(owner.apiKey), minutes15);
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/memories', headers: { cookie: session } })).statusCode, 403, 'still locked');
      assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/memories', headers: bearer(owner.apiKey) })).statusCode, 200);
      // A spent unlock allowance does not block the password check of account deletion.
      const deletion = await t.app.inject({ method: 'DELETE', url: '/api/v1/accounts/current', headers: browser(session), payload: { password: 'not the right passphrase 1' } });
      assert.equal(deletion.statusCode, 403);
      assert.equal(deletion.json().error.code, 'forbidden');
    });

    it('unlock per address: 20 attempts across accounts, then 429 from that address for a third account', async () => {
      const address = freshAddress();
      const lockedSession = async () => {
        const user = await userFrom(t);
        return { user, cookie: cookieFrom(await logInFrom(t, freshAddress(), user.email, user.password)) };
      };
      const unlock = (cookie: string, apiKey: string) =>
        t.app.inject({ method: 'POST', url: '/api/v1/sessions/unlock', remoteAddress: address, headers: browser(cookie), payload: { api_key: apiKey } });
      const first = await lockedSession();
      const second = await lockedSession();
      // 10 on each account: within each account's allowance, the whole of the address's.
      for (let i = 0; i < LIMITS.unlockPerAddress.max; i++) assert.equal((await unlock((i % 2 ? first : second).cookie, 'anm_guess')).statusCode, 403);
      const third = await lockedSession();
      assertRateLimited(await unlock(third.cookie, third.user.apiKey), minutes15);
    });
  });

  describe(`counters in the store (${driver})`, () => {
    const limit = { name: 'test-limit', max: 3, windowMs: 60_000 };

    it('hold no address, e-mail or account id in clear: one hashed row per limit and subject', async () => {
      await withApp(driver, 1, async (t) => {
        const [signupAddress, address] = [freshAddress(), freshAddress()];
        const email = `counted-${++addressCounter}@example.com`;
        const signup = await signUpFrom(t, signupAddress, email);
        assert.equal(signup.statusCode, 201);
        const owner = { email, userId: signup.json().user_id as string, apiKey: signup.json().api_key as string };
        const session = cookieFrom(await logInFrom(t, address, owner.email, PASSWORD));
        const unlock = await t.app.inject({ method: 'POST', url: '/api/v1/sessions/unlock', remoteAddress: address, headers: browser(session), payload: { api_key: owner.apiKey } });
        assert.equal(unlock.statusCode, 200);
        const db = await openDirectDb(t);
        try {
          const rows = await db.query('SELECT key_hash, hits, reset_at FROM rate_limits');
          const expected = [
            [LIMITS.signupPerAddress, signupAddress],
            [LIMITS.loginPerAddress, address],
            [LIMITS.loginPerAccount, owner.email],
            [LIMITS.unlockPerAddress, address],
            [LIMITS.unlockPerAccount, owner.userId],
          ] as const;
          assert.deepEqual(rows.map((r) => r.key_hash).sort(), expected.map(([l, subject]) => counterKey(l, subject)).sort());
          assert.ok(rows.every((r) => Number(r.hits) === 1));
          const stored = JSON.stringify(rows);
          for (const clear of [signupAddress, address, owner.email, owner.userId]) assert.ok(!stored.includes(clear), `the counters hold ${clear}`);
        } finally {
          await db.close();
        }
      });
    });

    it('Retry-After is the time left in the window, to the second; the next window lets attempts through again', async () => {
      await withApp(driver, 1, async (t) => {
        let now = T;
        const limiter = new RateLimiter(t.store, 1, () => now);
        for (let i = 0; i < limit.max; i++) await limiter.hit(limit, 'subject');
        now = T + 1;
        await refusedFor(limiter.hit(limit, 'subject'), 60);
        now = T + 59_000;
        await refusedFor(limiter.hit(limit, 'subject'), 1);
        now = T + 59_999;
        await refusedFor(limiter.hit(limit, 'subject'), 1);
        await limiter.hit(limit, 'another subject');
        now = T + 60_000;
        for (let i = 0; i < limit.max; i++) await limiter.hit(limit, 'subject');
        await refusedFor(limiter.hit(limit, 'subject'), 60);
      });
    });

    it('two limiters on one store (as two processes) share each count and answer the same Retry-After', async () => {
      await withApp(driver, 1, async (t) => {
        let now = T;
        const [one, two] = [new RateLimiter(t.store, 1, () => now), new RateLimiter(t.store, 1, () => now)];
        await one.hit(limit, 'subject');
        await two.hit(limit, 'subject');
        now = T + 10_500;
        await one.hit(limit, 'subject');
        await refusedFor(two.hit(limit, 'subject'), 50);
        await refusedFor(one.hit(limit, 'subject'), 50);
      });
    });

    it('sweep ended windows in bounded batches, on every hit while a batch comes back full, then once a minute', async () => {
      await withApp(driver, 1, async (t) => {
        const db = await openDirectDb(t);
        const rowCount = async () => Number((await db.query('SELECT COUNT(*) AS n FROM rate_limits'))[0]!.n);
        try {
          const ended = 2 * SWEEP_BATCH + 100;
          for (let i = 0; i < ended; i += 50) {
            await Promise.all(Array.from({ length: Math.min(50, ended - i) }, (_, j) => t.store.hitRateLimit(`ended-${i + j}`, 1000, T)));
          }
          let now = T + 2000;
          const limiter = new RateLimiter(t.store, 1, () => now);
          await limiter.hit(limit, 'subject');
          assert.equal(await rowCount(), ended + 1 - SWEEP_BATCH);
          await limiter.hit(limit, 'subject');
          assert.equal(await rowCount(), 101);
          await limiter.hit(limit, 'subject');
          assert.equal(await rowCount(), 1, 'only the open window is left');
          for (let i = 0; i < 3; i++) await t.store.hitRateLimit(`later-${i}`, 1000, now);
          now += 1500;
          await refusedFor(limiter.hit(limit, 'subject'), 59);
          assert.equal(await rowCount(), 4, 'no sweep within a minute of one that found less than a batch');
          now = T + 2000 + SWEEP_EVERY_MS;
          await limiter.hit(limit, 'subject');
          assert.equal(await rowCount(), 1);
        } finally {
          await db.close();
        }
      });
    });

    it('a store that cannot be reached refuses the attempt (503 unavailable), never lets it through uncounted', async () => {
      await withApp(driver, 1, async (t) => {
        const owner = await userFrom(t);
        await t.store.close();
        await assert.rejects(new RateLimiter(t.store, 1).hit(LIMITS.loginPerAccount, owner.email), StoreUnavailable);
        const answer = await logInFrom(t, freshAddress(), owner.email, owner.password);
        assert.equal(answer.statusCode, 503);
        assert.equal(answer.json().error.code, 'unavailable');
        assert.equal(answer.headers['set-cookie'], undefined);
      });
    });
  });

  describe(`ANAMNESIS_RATE_LIMIT_FACTOR scales every limit (${driver})`, () => {
    it('reads the factor from the environment', () => {
      assert.equal(loadConfig({ ANAMNESIS_RATE_LIMIT_FACTOR: '2' }).rateLimitFactor, 2);
      assert.equal(loadConfig({ ANAMNESIS_RATE_LIMIT_FACTOR: '0' }).rateLimitFactor, 0);
      assert.equal(loadConfig({}).rateLimitFactor, 1);
    });

    it('factor 2 doubles the allowance', async () => {
      await withApp(driver, loadConfig({ ANAMNESIS_RATE_LIMIT_FACTOR: '2' }).rateLimitFactor, async (t) => {
        const owner = await userFrom(t);
        for (let i = 0; i < 2 * LIMITS.loginPerAccount.max; i++) {
          assert.equal((await logInFrom(t, freshAddress(), owner.email, 'an attacker guessing 123')).statusCode, 401, `attempt ${i + 1}`);
        }
        assertRateLimited(await logInFrom(t, freshAddress(), owner.email, owner.password), minutes15);
      });
    });

    it('factor 0 turns the limits off', async () => {
      await withApp(driver, loadConfig({ ANAMNESIS_RATE_LIMIT_FACTOR: '0' }).rateLimitFactor, async (t) => {
        const address = freshAddress();
        const owner = await userFrom(t);
        for (let i = 0; i < LIMITS.loginPerAccount.max + 5; i++) {
          assert.equal((await logInFrom(t, address, owner.email, 'an attacker guessing 123')).statusCode, 401);
        }
        assert.equal((await logInFrom(t, address, owner.email, owner.password)).statusCode, 200);
        for (let i = 0; i < LIMITS.signupPerAddress.max + 1; i++) assert.equal((await signUpFrom(t, address)).statusCode, 201);
      });
    });
  });
}
