// What counting an attempt costs a rate-limited request: log-in (wrong
// password, one argon2id verification) and unlock (the right API key, one
// wrapped-key write), each counted under two limits (per address, per
// account). Runs the real app in process on each driver twice, limits off
// (factor 0, nothing counted) and on (a factor so large that every attempt is
// counted but none refused), alternating the two attempt by attempt so a busy
// machine slows both alike. Prints medians and p99s:
// `npx tsx bench/rate-limit-cost.ts [attempts] [sqlite|postgres ...]`.
import { type Driver, browser, cookieFrom, makeTestApp, signUp, type TestApp } from '../test/helpers/app.ts';
import { isPostgresReachable } from '../test/helpers/postgres.ts';
import { formatMs } from './lib/markdown.ts';
import { elapsedMs, summarize } from './lib/stats.ts';

const attempts = Number(process.argv[2] ?? 200);
const wanted = process.argv.slice(3) as Driver[];
const drivers: Driver[] = wanted.length > 0 ? wanted : ['postgres', 'sqlite'];
const COUNTING_NEVER_REFUSING = 1_000_000;

interface Variant {
  label: string;
  t: TestApp;
  email: string;
  password: string;
  apiKey: string;
  session: string;
}

async function variant(driver: Driver, label: string, rateLimitFactor: number): Promise<Variant> {
  const t = await makeTestApp({ driver, rateLimitFactor, logLevel: 'warn' });
  const user = await signUp(t.app);
  const login = await t.app.inject({ method: 'POST', url: '/api/v1/sessions', payload: { email: user.email, password: user.password } });
  if (login.statusCode !== 200) throw new Error(`log-in failed: ${login.statusCode}`);
  return { label, t, email: user.email, password: user.password, apiKey: user.apiKey, session: cookieFrom(login) };
}

const operations = {
  'log-in (wrong password)': async (v: Variant) => {
    const answer = await v.t.app.inject({ method: 'POST', url: '/api/v1/sessions', payload: { email: v.email, password: 'certainly not the password' } });
    if (answer.statusCode !== 401) throw new Error(`log-in: expected 401, got ${answer.statusCode}`);
  },
  'unlock (right key)': async (v: Variant) => {
    const answer = await v.t.app.inject({ method: 'POST', url: '/api/v1/sessions/unlock', headers: browser(v.session), payload: { api_key: v.apiKey } });
    if (answer.statusCode !== 200) throw new Error(`unlock: expected 200, got ${answer.statusCode}`);
  },
};

for (const driver of drivers) {
  if (driver === 'postgres' && !(await isPostgresReachable())) {
    console.log('postgres: not reachable, skipped');
    continue;
  }
  const variants = [await variant(driver, 'limits off', 0), await variant(driver, 'limits on', COUNTING_NEVER_REFUSING)];
  try {
    for (const [name, run] of Object.entries(operations)) {
      const samples = new Map<string, number[]>(variants.map((v) => [v.label, []]));
      for (const v of variants) await run(v); // warm-up
      for (let i = 0; i < attempts; i++) {
        for (const v of i % 2 ? variants : [...variants].reverse()) {
          const started = performance.now();
          await run(v);
          samples.get(v.label)!.push(elapsedMs(started));
        }
      }
      const [off, on] = variants.map((v) => summarize(samples.get(v.label)!));
      console.log(
        `${driver} ${name}: limits off median ${formatMs(off!.medianMs)} (p99 ${formatMs(off!.p99Ms)}), ` +
          `limits on median ${formatMs(on!.medianMs)} (p99 ${formatMs(on!.p99Ms)}), ` +
          `difference of medians ${formatMs(on!.medianMs - off!.medianMs)}, over ${attempts} attempts each`,
      );
    }
  } finally {
    for (const v of variants) await v.t.close();
  }
}
