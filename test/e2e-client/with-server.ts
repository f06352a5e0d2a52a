// The real server for client-core tests: the app built on a real store (SQLite
// or PostgreSQL), listening on 127.0.0.1 on a free port, reached through
// fetch exactly as the local MCP server and the browser reach it.
import { E2eApi } from '../../src/e2e-client/api.ts';
import { MemoryReplicaCache } from '../../src/e2e-client/cache.ts';
import { Replica } from '../../src/e2e-client/replica.ts';
import type { Session } from '../../src/e2e-client/account.ts';
import { makeTestApp, type Driver, type TestApp } from '../helpers/app.ts';
import { openDirectDb, type DirectDb } from '../http/support.ts';

export interface Served {
  t: TestApp;
  db: DirectDb;
  api: E2eApi;
  close(): Promise<void>;
}

export async function serve(driver: Driver): Promise<Served> {
  const t = await makeTestApp({ driver });
  const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
  const db = await openDirectDb(t);
  return {
    t,
    db,
    api: new E2eApi({ baseUrl: address }),
    async close() {
      await db.close();
      await t.close();
    },
  };
}

let counter = 0;
export const newEmail = () => `core${++counter}-${Math.random().toString(36).slice(2, 8)}@example.com`;
export const PASSWORD = 'a long and unusual passphrase 42';

/** A device: a replica with its own (in-memory) ciphertext cache, for a session. */
export function device(api: E2eApi, session: Session, cache = new MemoryReplicaCache()): Promise<Replica> {
  return Replica.open({ api: api.withToken(session.token), userId: session.userId, dataKey: session.dataKey, cache });
}
