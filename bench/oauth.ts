// The OAuth flow's cost: how many HTTP round trips a connector makes from its
// first 401 to a working token (counted from the server's own request log
// lines), how long a token refresh takes, and an authenticated tools/call
// with an OAuth access token against the same call with an API key. In
// process, on SQLite, over a listening socket:
// `npx tsx bench/oauth.ts [calls]` (default 300).
import { pathToFileURL } from 'node:url';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { makeTestApp, signUp } from '../test/helpers/app.ts';
import { callTool, connectClient, listen } from '../test/mcp/helpers.ts';
import { authorizeWithSdk, connectWithOAuth, TestOAuthProvider } from '../test/oauth/helpers.ts';
import { formatMs } from './lib/markdown.ts';
import { machineLine } from './lib/machine.ts';
import { elapsedMs, summarize, type Summary } from './lib/stats.ts';

export interface OAuthBench {
  /** The connector's HTTP requests from its first 401 to its first tool call, as "METHOD route status". */
  flow: string[];
  rows: Array<{ what: string } & Summary>;
}

export async function runOAuthBench(calls: number): Promise<OAuthBench> {
  const t = await makeTestApp({ logLevel: 'info' });
  try {
    const baseUrl = await listen(t.app);
    const user = await signUp(t.app);
    const provider = new TestOAuthProvider();

    const before = t.logs.length;
    const oauthClient = await authorizeWithSdk(baseUrl, user.cookie, provider);
    const flow = t.logs.slice(before).map((line) => JSON.parse(line) as { msg: string; method?: string; route?: string; status?: number }).filter((l) => l.msg === 'request').map((l) => `${l.method} ${l.route} ${l.status}`);

    const refresh: number[] = [];
    for (let i = 0; i < calls; i++) {
      const started = performance.now();
      if ((await auth(provider, { serverUrl: `${baseUrl}/mcp` })) !== 'AUTHORIZED') throw new Error('refresh failed');
      refresh.push(elapsedMs(started));
    }

    const keyClient = await connectClient(baseUrl, user.apiKey);
    await callTool(keyClient, 'remember', { content: 'a benchmark memory about lighthouses' });
    const byKey: number[] = [];
    const byToken: number[] = [];
    await oauthClient.close();
    const tokenClient = await connectWithOAuth(baseUrl, provider);
    for (let i = 0; i < calls; i++) {
      for (const [client, samples] of i % 2 ? ([[keyClient, byKey], [tokenClient, byToken]] as const) : ([[tokenClient, byToken], [keyClient, byKey]] as const)) {
        const started = performance.now();
        await callTool(client, 'recall', { query: 'lighthouses', limit: 5 });
        samples.push(elapsedMs(started));
      }
    }
    await keyClient.close();
    await tokenClient.close();
    return {
      flow,
      rows: ([['token refresh (SDK `auth()` → `/oauth/token`)', refresh], ['`tools/call` recall, API key', byKey], ['`tools/call` recall, OAuth access token', byToken]] as const).map(([what, samples]) => ({ what, ...summarize(samples) })),
    };
  } finally {
    await t.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await runOAuthBench(Number(process.argv[2] ?? 300));
  console.log(machineLine());
  console.log(`flow from the first 401 to the first tool call: ${result.flow.length} HTTP round trips (the consent page and its form included)`);
  for (const route of result.flow) console.log(`  ${route}`);
  for (const row of result.rows) console.log(`${row.what}: median ${formatMs(row.medianMs)}, p99 ${formatMs(row.p99Ms)} over ${row.samples}`);
}
