// What counting an attempt costs a rate-limited request: log-in (wrong
// password, one argon2id verification) and unlock (the right API key, one
// wrapped-key write), each counted under two limits (per address, per
// account). Runs the real app in process on each driver with limits off
// (factor 0, nothing counted) and on (a factor so large that every attempt is
// counted but none refused), and, given `--baseline DIR` (another checkout,
// e.g. `git worktree add /tmp/base main`), that checkout's app with limits on
// too: before/after in one run. The variants alternate attempt by attempt, in
// a rotating order, so a busy machine slows each alike. Prints medians and
// p99s: `npx tsx bench/rate-limit-cost.ts [attempts] [--baseline DIR] [sqlite|postgres ...]`.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Driver, browser, cookieFrom, makeTestApp, signUp, type TestApp } from '../test/helpers/app.ts';
import { isPostgresReachable } from '../test/helpers/postgres.ts';
import { formatMs } from './lib/markdown.ts';
import { elapsedMs, summarize } from './lib/stats.ts';

const args = process.argv.slice(2);
const baselineAt = args.indexOf('--baseline');
const baselineDir = baselineAt >= 0 ? args.splice(baselineAt, 2)[1] : undefined;
const attempts = Number(args.find((a) => /^\d+$/.test(a)) ?? 200);
const wanted = args.filter((a): a is Driver => a === 'sqlite' || a === 'postgres');
const drivers: Driver[] = wanted.length > 0 ? wanted : ['postgres', 'sqlite'];
const COUNTING_NEVER_REFUSING = 1_000_000;

type MakeTestApp = typeof makeTestApp;
const baselineApp: MakeTestApp | null = baselineDir
  ? ((await import(pathToFileURL(path.resolve(baselineDir, 'test/helpers/app.ts')).href)) as { makeTestApp: MakeTestApp }).makeTestApp
  : null;

interface Variant {
  label: string;
  t: TestApp;
  email: string;
  apiKey: string;
  session: string;
}

async function variant(make: MakeTestApp, driver: Driver, label: string, rateLimitFactor: number): Promise<Variant> {
  const t = await make({ driver, rateLimitFactor, logLevel: 'warn' });
  const user = await signUp(t.app);
  const login = await t.app.inject({ method: 'POST', url: '/api/v1/sessions', payload: { email: user.email, password: user.password } });
  if (login.statusCode !== 200) throw new Error(`log-in failed: ${login.statusCode}`);
  return { label, t, email: user.email, apiKey: user.apiKey, session: cookieFrom(login) };
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
  const variants = [
    await variant(makeTestApp, driver, 'limits off', 0),
    await variant(makeTestApp, driver, 'limits on', COUNTING_NEVER_REFUSING),
    ...(baselineApp ? [await variant(baselineApp, driver, 'baseline limits on', COUNTING_NEVER_REFUSING)] : []),
  ];
  try {
    for (const [name, run] of Object.entries(operations)) {
      const samples = new Map<string, number[]>(variants.map((v) => [v.label, []]));
      for (const v of variants) await run(v); // warm-up
      for (let i = 0; i < attempts; i++) {
        for (let j = 0; j < variants.length; j++) {
          const v = variants[(i + j) % variants.length]!;
          const started = performance.now();
          await run(v);
          samples.get(v.label)!.push(elapsedMs(started));
        }
      }
      const off = summarize(samples.get('limits off')!).medianMs;
      const cells = variants.map((v) => {
        const s = summarize(samples.get(v.label)!);
        const extra = v.label === 'limits off' ? '' : `, ${s.medianMs >= off ? '+' : ''}${formatMs(s.medianMs - off)} on limits off`;
        return `${v.label} median ${formatMs(s.medianMs)} (p99 ${formatMs(s.p99Ms)}${extra})`;
      });
      console.log(`${driver} ${name}, ${attempts} attempts each: ${cells.join('; ')}`);
    }
    // The counter alone, beside the cheapest statement a request makes (a user read by primary key).
    const { store } = variants[1]!.t;
    const userId = (await store.findUserByEmail(variants[1]!.email))!.id;
    const statements = { 'one counter upsert': () => store.hitRateLimit('bench-key', 900_000, Date.now()), 'one user read by id': () => store.findUserById(userId) };
    const times = new Map<string, number[]>(Object.keys(statements).map((k) => [k, []]));
    for (let i = 0; i < attempts * 5; i++) {
      for (const [label, run] of i % 2 ? Object.entries(statements) : Object.entries(statements).reverse()) {
        const started = performance.now();
        await run();
        times.get(label)!.push(elapsedMs(started));
      }
    }
    console.log(`${driver} store, ${attempts * 5} each: ${[...times].map(([label, t]) => `${label} median ${formatMs(summarize(t).medianMs)} (p99 ${formatMs(summarize(t).p99Ms)})`).join('; ')}`);
  } finally {
    for (const v of variants) await v.t.close();
  }
}
