// All or nothing, shown on both drivers: a multi-row change (re-writing every
// record of a user; deleting a user step by step) that is interrupted half-way
// leaves every row exactly as it was, byte for byte, and the store usable.
//   (a) an error thrown inside the transaction after half the rows were written;
//   (b) the process doing the change killed with SIGKILL half-way, the
//       database reopened afterwards (SQLite: the WAL holding uncommitted
//       frames is recovered; PostgreSQL: the dead backend's locks are released).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { openPostgresStore } from '../../src/storage/postgres.ts';
import { openSqliteStore } from '../../src/storage/sqlite.ts';
import type { AuditEvent, RecordRow, SessionRow, Store, UserRow } from '../../src/storage/store.ts';
import { runChange, type ChangeName } from '../fixtures/storage-changes.ts';
import { newRecord, newSession, newUser } from './conformance.ts';
import { dropSchema, postgresAvailableForTests, postgresTestUrl, randomSchemaName } from '../helpers/postgres.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const childScript = path.join('test', 'fixtures', 'interrupt-storage-change.ts');

/** Enough rows, and large enough, that re-writing half of them overflows the child's 256 KiB SQLite page cache into the WAL. */
const RECORDS = 600;
const TOKEN_CHARS = 4000;

interface Target {
  /** A fresh, empty database. */
  create(): Promise<TestDatabase>;
}
interface TestDatabase {
  open(): Promise<Store>;
  /** Arguments after `<change> <userId>` for the child script. */
  childArgs: string[];
  /** SQLite only: the WAL file and a raw integrity check. */
  sqliteFile?: string;
  dispose(): Promise<void>;
}

const tmpDirs: string[] = [];
after(() => {
  for (const dir of tmpDirs) fs.rmSync(dir, { recursive: true, force: true });
});

const sqliteTarget: Target = {
  async create() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'anamnesis-interrupt-'));
    tmpDirs.push(dir);
    const file = path.join(dir, 'anamnesis.db');
    return {
      open: () => openSqliteStore({ file }),
      // A small page cache in the child: the half-written change spills into the WAL before the kill.
      childArgs: ['sqlite', file, '256'],
      sqliteFile: file,
      dispose: async () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  },
};

const postgresTarget: Target = {
  async create() {
    const url = postgresTestUrl();
    const schema = randomSchemaName();
    return {
      open: () => openPostgresStore({ url, schema }),
      childArgs: ['postgres', url, schema],
      dispose: () => dropSchema(schema, url),
    };
  },
};

interface Seeded {
  victim: UserRow;
  bystander: UserRow;
}

async function seed(store: Store): Promise<Seeded> {
  const victim = newUser();
  const bystander = newUser();
  await store.createUser(victim);
  await store.createUser(bystander);
  const token = () => `gAAAAA${randomBytes(TOKEN_CHARS).toString('base64url')}`.slice(0, TOKEN_CHARS);
  const kinds = ['memory', 'entity', 'relation'] as const;
  const rows: RecordRow[] = Array.from({ length: RECORDS }, (_, i) =>
    newRecord(victim.id, {
      kind: kinds[i % 3]!,
      token: token(),
      lookup: i % 3 === 0 ? null : randomBytes(32).toString('hex'),
      createdAt: 1_767_225_600_000 + i,
      updatedAt: 1_767_225_600_000 + i,
    }),
  );
  await store.putRecords(rows);
  await store.putRecords(Array.from({ length: 20 }, () => newRecord(bystander.id, { token: token() })));
  for (const user of [victim, bystander]) {
    await store.createSession(newSession(user.id));
    await store.createSession(newSession(user.id, { wrappedKey: null }));
    await store.appendAudit({ userId: user.id, action: 'account.create', outcome: 'ok', at: 1_767_225_600_000 });
  }
  return { victim, bystander };
}

interface Snapshot {
  users: (UserRow | null)[];
  sessions: SessionRow[][];
  records: RecordRow[][];
  audit: AuditEvent[][];
}

async function snapshot(store: Store, { victim, bystander }: Seeded): Promise<Snapshot> {
  const users = [victim, bystander];
  return {
    users: await Promise.all(users.map((u) => store.findUserById(u.id))),
    sessions: await Promise.all(users.map((u) => store.listSessions(u.id))),
    records: await Promise.all(users.map((u) => store.allRecords(u.id))),
    audit: await Promise.all(users.map((u) => store.listAudit(u.id, 1000))),
  };
}

function assertUnchanged(now: Snapshot, before: Snapshot): void {
  assert.equal(now.records[0]!.length, RECORDS);
  // Tokens byte for byte first (a clearer failure than a deep diff of 1600 rows).
  for (let u = 0; u < before.records.length; u++) {
    const was = before.records[u]!;
    const is = now.records[u]!;
    assert.equal(is.length, was.length);
    for (let i = 0; i < was.length; i++) {
      assert.equal(is[i]!.id, was[i]!.id);
      assert.ok(Buffer.from(is[i]!.token, 'utf8').equals(Buffer.from(was[i]!.token, 'utf8')), `token of record ${i} changed`);
    }
  }
  assert.deepEqual(now, before);
}

/** The store still takes writes; on PostgreSQL the user's row lock is free again within a few seconds. */
async function assertUsable(store: Store, { victim }: Seeded): Promise<void> {
  const t0 = Date.now();
  const extra = newRecord(victim.id);
  await store.transaction(async (tx) => {
    await tx.lockUser(victim.id);
    await tx.putRecords([extra]);
  });
  assert.ok(Date.now() - t0 < 5000, `lockUser took ${Date.now() - t0} ms`);
  assert.deepEqual(await store.getRecord(victim.id, extra.id), extra);
}

function sqliteIntegrity(file: string): string {
  const raw = new Database(file, { readonly: true });
  try {
    return String(raw.pragma('integrity_check', { simple: true }));
  } finally {
    raw.close();
  }
}

/** Runs the change in a child process, SIGKILLs it once it reports HALFWAY. */
async function killHalfway(db: TestDatabase, change: ChangeName, userId: string): Promise<{ walBytesAtHalfway: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', childScript, change, userId, ...db.childArgs], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  let walBytesAtHalfway = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no HALFWAY within 60 s; stderr: ${stderr}`)), 60_000);
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        if (stdout.includes('HALFWAY\n')) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`child exited before HALFWAY (code ${code}, signal ${signal}); stderr: ${stderr}`));
      });
    });
    if (db.sqliteFile) {
      try {
        walBytesAtHalfway = fs.statSync(`${db.sqliteFile}-wal`).size;
      } catch {
        walBytesAtHalfway = 0;
      }
    }
    assert.ok(child.kill('SIGKILL'));
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  const { signal } = await exited;
  assert.equal(signal, 'SIGKILL');
  return { walBytesAtHalfway };
}

function describeInterruptions(driver: string, target: Target): void {
  describe(`interrupted transaction: ${driver}`, () => {
    for (const change of ['rewrite-records', 'delete-user'] as const) {
      it(`${change}: run to completion, it does change the rows (the control)`, async () => {
        const db = await target.create();
        try {
          const store = await db.open();
          try {
            const seeded = await seed(store);
            const before = await snapshot(store, seeded);
            let reachedHalfway = false;
            await runChange(change, store, seeded.victim.id, async () => {
              reachedHalfway = true;
            });
            assert.ok(reachedHalfway);
            const now = await snapshot(store, seeded);
            if (change === 'rewrite-records') {
              assert.equal(now.records[0]!.length, RECORDS);
              now.records[0]!.forEach((r, i) => assert.notEqual(r.token, before.records[0]![i]!.token));
              assert.notDeepEqual(now.users[0], before.users[0]); // a new API key hash
            } else {
              assert.equal(now.users[0], null);
              assert.deepEqual(now.records[0], []);
              assert.deepEqual(now.sessions[0], []);
            }
            // The bystander is untouched either way.
            assert.deepEqual(
              [now.users[1], now.sessions[1], now.records[1], now.audit[1]],
              [before.users[1], before.sessions[1], before.records[1], before.audit[1]],
            );
          } finally {
            await store.close();
          }
        } finally {
          await db.dispose();
        }
      });

      it(`${change}: an error thrown half-way leaves every row as before`, async () => {
        const db = await target.create();
        try {
          const store = await db.open();
          try {
            const seeded = await seed(store);
            const before = await snapshot(store, seeded);
            let reachedHalfway = false;
            const boom = new Error('interrupted half-way');
            await assert.rejects(
              runChange(change, store, seeded.victim.id, async () => {
                reachedHalfway = true;
                // Half the rows really were written inside the transaction.
                throw boom;
              }),
              (err: unknown) => err === boom,
            );
            assert.ok(reachedHalfway);
            assertUnchanged(await snapshot(store, seeded), before);
            await assertUsable(store, seeded);
          } finally {
            await store.close();
          }
        } finally {
          await db.dispose();
        }
      });

      it(`${change}: the process killed half-way (SIGKILL) leaves every row as before after reopening`, async () => {
        const db = await target.create();
        try {
          let seeded: Seeded;
          let before: Snapshot;
          {
            const store = await db.open();
            try {
              seeded = await seed(store);
              before = await snapshot(store, seeded);
            } finally {
              await store.close();
            }
          }
          if (db.sqliteFile) assert.ok(!fs.existsSync(`${db.sqliteFile}-wal`), 'closing checkpointed and removed the WAL');

          const { walBytesAtHalfway } = await killHalfway(db, change, seeded.victim.id);
          if (db.sqliteFile && change === 'rewrite-records') {
            // The uncommitted half spilled into the WAL before the kill: reopening must ignore those frames.
            assert.ok(walBytesAtHalfway > 1_000_000, `WAL held ${walBytesAtHalfway} bytes at HALFWAY`);
          }

          const store = await db.open();
          try {
            assertUnchanged(await snapshot(store, seeded), before);
            if (db.sqliteFile) assert.equal(sqliteIntegrity(db.sqliteFile), 'ok');
            await assertUsable(store, seeded);
          } finally {
            await store.close();
          }
        } finally {
          await db.dispose();
        }
      });
    }
  });
}

describeInterruptions('sqlite', sqliteTarget);
if (await postgresAvailableForTests('interrupted transaction on PostgreSQL')) {
  describeInterruptions('postgres', postgresTarget);
}
