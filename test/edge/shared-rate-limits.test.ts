// Rate limits hold across processes: two real server processes on one
// PostgreSQL schema count every attempt in the same table, so attempts that
// alternate between them are refused at the count one process allows, and
// both answer with the same Retry-After. Requests go to each process directly
// (no edge needed), each from its own loopback address where the test wants
// only one limit to count.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { LIMITS } from '../../src/http/rate-limit.ts';
import { type Answer, killAllServers, PASSWORD, request, type ServerProcess, signUpRemote, startServer } from '../fixtures/server-process.ts';
import { postgresAvailableForTests, postgresTestUrl, randomSchemaName } from '../helpers/postgres.ts';

let addressCounter = 0;
/** A loopback address no other attempt of this file came from (all of 127/8 is loopback). */
const freshAddress = () => `127.0.${Math.floor(++addressCounter / 250) + 10}.${(addressCounter % 250) + 1}`;

function retryAfterOf(answer: Answer, windowSeconds: number): number {
  assert.equal(answer.status, 429, answer.body);
  assert.equal(answer.json().error.code, 'rate_limited');
  const retryAfter = Number(answer.headers['retry-after']);
  assert.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= windowSeconds, `Retry-After ${String(answer.headers['retry-after'])}`);
  assert.equal(answer.json().error.retry_after, retryAfter);
  return retryAfter;
}

/** What one process would answer: the seconds left of a window opened when the first attempt was sent. */
function assertSameRetryAfter(answers: number[], windowSeconds: number, firstAttemptAt: number): void {
  const elapsed = (Date.now() - firstAttemptAt) / 1000;
  for (const retryAfter of answers) assert.ok(retryAfter >= Math.floor(windowSeconds - elapsed) && retryAfter <= windowSeconds, `Retry-After ${retryAfter} after ${elapsed} s`);
  assert.ok(Math.max(...answers) - Math.min(...answers) <= 1, `Retry-After differs between the processes: ${answers.join(', ')}`);
}

if (await postgresAvailableForTests('edge: rate limits shared by two app processes on one PostgreSQL')) {
  describe('two app processes on one PostgreSQL share every rate limit', () => {
    const schema = randomSchemaName();
    const admin = new pg.Client({ connectionString: postgresTestUrl() });
    let servers: ServerProcess[];

    before(async () => {
      await admin.connect();
      await admin.query(`CREATE SCHEMA "${schema}"`);
      const env = { DATABASE_URL: `${postgresTestUrl()}?options=${encodeURIComponent(`-c search_path=${schema}`)}`, ANAMNESIS_RATE_LIMIT_FACTOR: '1' };
      servers = [await startServer({ env }), await startServer({ env })];
    });
    after(async () => {
      await killAllServers();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    });

    const logIn = (server: ServerProcess, email: string, password: string, localAddress: string) =>
      request(server.url, { method: 'POST', path: '/api/v1/sessions', body: { email, password }, localAddress });

    it('log-in per account: attempts alternating between the processes are refused after the 10th, on both, with the same Retry-After', async () => {
      const user = await signUpRemote(servers[0]!.url, 'shared-limit');
      const firstAttemptAt = Date.now();
      for (let i = 0; i < LIMITS.loginPerAccount.max; i++) {
        const answer = await logIn(servers[i % 2]!, user.email, 'an attacker guessing 123', freshAddress());
        assert.equal(answer.status, 401, `attempt ${i + 1} on process ${(i % 2) + 1}: ${answer.body}`);
      }
      // The right password no longer helps, whichever process it reaches.
      const refused = [await logIn(servers[0]!, user.email, user.password, freshAddress()), await logIn(servers[1]!, user.email, user.password, freshAddress())];
      assertSameRetryAfter(refused.map((answer) => retryAfterOf(answer, 15 * 60)), 15 * 60, firstAttemptAt);
      assert.ok(refused.every((answer) => answer.headers['set-cookie'] === undefined));
    });

    it('log-in per address: 20 attempts on different accounts, alternating, then 429 from that address on both', async () => {
      const address = freshAddress();
      const firstAttemptAt = Date.now();
      for (let i = 0; i < LIMITS.loginPerAddress.max; i++) {
        assert.equal((await logIn(servers[i % 2]!, `nobody-${i}-${Date.now()}@example.com`, 'an attacker guessing 123', address)).status, 401, `attempt ${i + 1}`);
      }
      const victim = await signUpRemote(servers[1]!.url, 'victim');
      const refused = [await logIn(servers[0]!, victim.email, PASSWORD, address), await logIn(servers[1]!, victim.email, PASSWORD, address)];
      assertSameRetryAfter(refused.map((answer) => retryAfterOf(answer, 15 * 60)), 15 * 60, firstAttemptAt);
      // Another address logs the victim in at once.
      assert.equal((await logIn(servers[0]!, victim.email, PASSWORD, freshAddress())).status, 200);
    });

    it('sign-up per address: 5 an hour across both processes, then 429 on both', async () => {
      const address = freshAddress();
      const signUp = (server: ServerProcess) =>
        request(server.url, { method: 'POST', path: '/api/v1/accounts', body: { email: `shared-signup-${++addressCounter}-${Date.now()}@example.com`, password: PASSWORD }, localAddress: address });
      const firstAttemptAt = Date.now();
      for (let i = 0; i < LIMITS.signupPerAddress.max; i++) assert.equal((await signUp(servers[i % 2]!)).status, 201, `sign-up ${i + 1}`);
      const refused = [await signUp(servers[1]!), await signUp(servers[0]!)];
      assertSameRetryAfter(refused.map((answer) => retryAfterOf(answer, 3600)), 3600, firstAttemptAt);
    });
  });
}
