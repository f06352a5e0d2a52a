// One store for a whole suite of vault tests, on either driver: SQLite in
// memory, or PostgreSQL in a fresh schema dropped after the suite.
import { after, before } from 'node:test';
import { openSqliteStore } from '../../src/storage/sqlite.ts';
import type { Store } from '../../src/storage/store.ts';
import { makePostgresTestStore } from './postgres.ts';

/** Opens the store before the suite's tests (handing it to `use`) and closes it after them. */
export function storeForSuite(driver: 'sqlite' | 'postgres', use: (store: Store) => void): void {
  let cleanup: (() => Promise<void>) | undefined;
  before(async () => {
    if (driver === 'sqlite') {
      const store = await openSqliteStore({ file: ':memory:' });
      cleanup = () => store.close();
      use(store);
    } else {
      const opened = await makePostgresTestStore();
      cleanup = opened.cleanup;
      use(opened.store);
    }
  });
  after(async () => cleanup?.());
}
