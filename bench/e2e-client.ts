// The client core of end-to-end mode over real HTTP, on a real server
// (SQLite, in process, 127.0.0.1): what a device pays, in the code the local
// MCP server and the browser share. For N records: writing them locally
// (sealing, queueing), the first push (batches of 500 with the manifest), a
// new device's first sync (every token opened and checked, the manifest
// verified), reopening that device from its ciphertext cache, and a sync with
// nothing to do.
//
//   npx tsx bench/e2e-client.ts [N ...]        (default 1000 10000)
import { logIn, signUp } from '../src/e2e-client/account.ts';
import { MemoryReplicaCache } from '../src/e2e-client/cache.ts';
import { Replica } from '../src/e2e-client/replica.ts';
import { PASSWORD, device, newEmail, serve } from '../test/e2e-client/with-server.ts';
import { machineLine } from './lib/machine.ts';
import { formatMs } from './lib/markdown.ts';
import { elapsedMs } from './lib/stats.ts';

const sizes = process.argv.slice(2).map(Number);
console.log(machineLine());
console.log('| records | local writes | first push | new device, first sync | reopen from cache | sync, nothing new |');
console.log('| ---: | ---: | ---: | ---: | ---: | ---: |');
for (const n of sizes.length ? sizes : [1000, 10000]) {
  const s = await serve('sqlite');
  try {
    const email = newEmail();
    const laptop = await device(s.api, await signUp(s.api, { email, password: PASSWORD }));
    const now = new Date().toISOString();
    let started = performance.now();
    for (let i = 0; i < n; i += 500) {
      const batch = Array.from({ length: Math.min(500, n - i) }, (_, j) => ({ kind: 'memory' as const, id: crypto.randomUUID(), content: `memory ${i + j}: something worth remembering later, in a sentence or two`, tags: ['bench'], created_at: now, updated_at: now }));
      await laptop.put(...batch);
    }
    const writes = elapsedMs(started);
    started = performance.now();
    await laptop.sync();
    const push = elapsedMs(started);
    const session = await logIn(s.api, { email, password: PASSWORD });
    const cache = new MemoryReplicaCache();
    const phone = await device(s.api, session, cache);
    started = performance.now();
    await phone.sync();
    const firstSync = elapsedMs(started);
    started = performance.now();
    const reopened = await Replica.open({ api: s.api.withToken(session.token), userId: session.userId, dataKey: session.dataKey, cache });
    const reopen = elapsedMs(started);
    started = performance.now();
    await reopened.sync();
    const idle = elapsedMs(started);
    if (reopened.size !== n) throw new Error(`the new device holds ${reopened.size} records, not ${n}`);
    console.log(`| ${n.toLocaleString('en')} | ${formatMs(writes)} | ${formatMs(push)} | ${formatMs(firstSync)} | ${formatMs(reopen)} | ${formatMs(idle)} |`);
  } finally {
    await s.close();
  }
}
