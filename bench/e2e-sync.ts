// The server side of end-to-end sync, in process on a real store: an OPAQUE
// log-in as a client runs it (Argon2id memory-constrained on the "device"
// included), uploading N records in batches of 500, and reading the whole
// changes feed from cursor 0 in pages of 1,000, at 1,000 and 10,000 records.
// Also: a failed log-in's server time for a known and an unknown email.
//
//   npx tsx bench/e2e-sync.ts [sqlite|postgres ...]
import { randomUUID } from 'node:crypto';
import { isPostgresReachable } from '../test/helpers/postgres.ts';
import { makeTestApp, type Driver } from '../test/helpers/app.ts';
import { auth, logIn, post, sealRecord, signUpE2E } from '../test/e2e/support.ts';
import { machineLine } from './lib/machine.ts';
import { formatMs } from './lib/markdown.ts';
import { elapsedMs, summarize } from './lib/stats.ts';

const requested = process.argv.slice(2) as Driver[];
const drivers: Driver[] = requested.length ? requested : (await isPostgresReachable()) ? ['sqlite', 'postgres'] : ['sqlite'];
console.log(machineLine());

for (const driver of drivers) {
  const t = await makeTestApp({ driver, logLevel: 'warn' });
  try {
    const user = await signUpE2E(t.app);
    const logins: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const { finish } = await logIn(t.app, user.email, user.password);
      logins.push(elapsedMs(started));
      if (finish?.statusCode !== 200) throw new Error('log-in failed');
    }
    console.log(`${driver}: OPAQUE log-in (client Argon2id included) median ${formatMs(summarize(logins).medianMs)} over ${logins.length}`);

    const failed = { known: [] as number[], unknown: [] as number[] };
    for (let i = 0; i < 20; i++) {
      for (const kind of ['known', 'unknown'] as const) {
        const email = kind === 'known' ? user.email : `nobody-${i}@example.com`;
        // Server time only: the start and a wrong finish, without the client's Argon2id.
        const { startLoginRequest } = (await import('@serenity-kit/opaque')).client.startLogin({ password: 'wrong' });
        const started = performance.now();
        const start = (await post(t.app, '/api/v1/e2e/sessions/start', { email, start_login_request: startLoginRequest })).json() as { login_id: string };
        await post(t.app, '/api/v1/e2e/sessions/finish', { login_id: start.login_id, finish_login_request: 'A'.repeat(86) });
        failed[kind].push(elapsedMs(started));
      }
    }
    console.log(`${driver}: failed log-in, server time: known email median ${formatMs(summarize(failed.known).medianMs)}, unknown email ${formatMs(summarize(failed.unknown).medianMs)}`);

    for (const size of [1000, 10_000]) {
      const account = await signUpE2E(t.app);
      const content = 'x'.repeat(300);
      const tokens = Array.from({ length: size }, () => {
        const id = randomUUID();
        return { id, base_version: 0, version: 1, token: sealRecord(account.key, id, 1, { kind: 'memory', content }) };
      });
      let started = performance.now();
      for (let i = 0; i < size; i += 500) {
        const answer = await post(t.app, '/api/v1/e2e/changes', { writes: tokens.slice(i, i + 500) }, auth(account.token));
        if (answer.statusCode !== 200) throw new Error(`write failed: ${answer.statusCode}`);
      }
      const uploadMs = elapsedMs(started);
      started = performance.now();
      let cursor = 0;
      let received = 0;
      for (;;) {
        const page = (await t.app.inject({ method: 'GET', url: `/api/v1/e2e/changes?cursor=${cursor}&limit=1000`, headers: auth(account.token) })).json() as { changes: unknown[]; cursor: number; more: boolean };
        received += page.changes.length;
        cursor = page.cursor;
        if (!page.more) break;
      }
      const feedMs = elapsedMs(started);
      if (received !== size) throw new Error(`feed returned ${received} of ${size}`);
      console.log(`${driver}: ${size} records: upload in batches of 500 ${formatMs(uploadMs)}, whole feed from 0 ${formatMs(feedMs)}`);
    }
  } finally {
    await t.close();
  }
}
