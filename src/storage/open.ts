// Picks the driver from the configuration (DESIGN.md section 4): PostgreSQL
// when DATABASE_URL is set, otherwise SQLite in the data folder.
import path from 'node:path';
import { openPostgresStore } from './postgres.ts';
import { openSqliteStore } from './sqlite.ts';
import type { Store } from './store.ts';

export interface StoreConfig {
  databaseUrl: string | null;
  dataDir: string;
}

export function sqliteFileIn(dataDir: string): string {
  return path.join(dataDir, 'anamnesis.db');
}

export function openStore(config: StoreConfig): Promise<Store> {
  if (config.databaseUrl) return openPostgresStore({ url: config.databaseUrl });
  return openSqliteStore({ file: sqliteFileIn(config.dataDir) });
}
