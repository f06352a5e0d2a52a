// Does a failed log-in take as long for an unknown email as for a wrong
// password? (Both must do one argon2id verification, or response time tells
// an attacker which emails have accounts.) Alternates the two, in process,
// and prints medians and p99s: `npx tsx bench/login-timing.ts [attempts]`.
import { makeTestApp, signUp } from '../test/helpers/app.ts';
import { formatMs } from './lib/markdown.ts';
import { elapsedMs, summarize } from './lib/stats.ts';

const attempts = Number(process.argv[2] ?? 100);
const t = await makeTestApp({ logLevel: 'warn' });
try {
  const user = await signUp(t.app);
  const samples = { 'unknown email': [] as number[], 'wrong password': [] as number[] };
  for (let i = 0; i < attempts; i++) {
    const order = i % 2 ? (['unknown email', 'wrong password'] as const) : (['wrong password', 'unknown email'] as const);
    for (const kind of order) {
      const email = kind === 'unknown email' ? `nobody-${i}@example.com` : user.email;
      const started = performance.now();
      const answer = await t.app.inject({ method: 'POST', url: '/api/v1/sessions', payload: { email, password: 'certainly not the password' } });
      samples[kind].push(elapsedMs(started));
      if (answer.statusCode !== 401) throw new Error(`expected 401, got ${answer.statusCode}`);
    }
  }
  for (const [kind, values] of Object.entries(samples)) {
    const s = summarize(values);
    console.log(`${kind}: median ${formatMs(s.medianMs)}, p99 ${formatMs(s.p99Ms)} over ${s.samples} attempts`);
  }
} finally {
  await t.close();
}
