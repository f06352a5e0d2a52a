// `anamnesis-local serve`: the MCP server on stdio, answering every tool from
// the replica on this device. It syncs at start, every
// ANAMNESIS_LOCAL_SYNC_SECONDS (30) and shortly after each write, in the
// background: a tool call waits for the network only for the first sync,
// and at most ANAMNESIS_LOCAL_FIRST_SYNC_WAIT_MS (1,500 ms); offline it
// answers from the cache and keeps writes queued.
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import pino from 'pino';
import type { SyncReport } from '../e2e-client/index.ts';
import type { ToolOperations } from '../mcp/operations.ts';
import { createMcpServer } from '../mcp/server.ts';
import { loggerOptions } from '../logger.ts';
import { localOperations } from './operations.ts';
import type { LocalPaths } from './paths.ts';
import { describeError } from './errors.ts';
import { replicaStore } from './replica-store.ts';
import { Device, type Io } from './session.ts';

export const LOCAL_SERVER_INFO = { name: 'anamnesis-local', version: '1.0.0' };

/** A whole or fractional number from the environment, at least 0; `fallback` when unset or not one. */
function nonNegative(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value !== undefined && Number.isFinite(n) && n >= 0 ? n : fallback;
}

/**
 * The tools' operations before they exist: each call waits until the replica
 * is open (every cached token opened), then for the first sync, but for that
 * no longer than `waitMs` after the replica opened.
 */
function whenReady(opening: Promise<ToolOperations>, firstSync: Promise<unknown>, waitMs: number): ToolOperations {
  const gate = opening.then(() => Promise.race([firstSync.then(() => undefined, () => undefined), new Promise<void>((resolve) => setTimeout(resolve, waitMs).unref())]));
  const store = (name: keyof ToolOperations) =>
    new Proxy({} as object, {
      get(_target, method) {
        return async (...args: unknown[]) => {
          const operations = await opening;
          await gate;
          const target = operations[name] as unknown as Record<PropertyKey, (...a: unknown[]) => unknown>;
          return target[method]!.apply(target, args);
        };
      },
    });
  return { memories: store('memories') as ToolOperations['memories'], graph: store('graph') as ToolOperations['graph'] };
}

export async function serve(paths: LocalPaths, io: Io): Promise<number> {
  // Not logged in, or a wrong passphrase: said at once, before the MCP client waits on us.
  const unlocked = await Device.unlock(paths, io);
  const log = pino({ ...loggerOptions(io.env.LOG_LEVEL ?? 'warn'), name: 'anamnesis-local' }, pino.destination(2));
  let lastLine = '';
  let stopped = false;
  let failed = false;

  // The MCP server answers initialize and lists its tools at once; the tools wait for the cache to be open.
  const opening = unlocked.open();
  const syncNow = async (): Promise<SyncReport | null> => {
    try {
      const report = await (await opening).sync();
      lastLine = '';
      return report;
    } catch (error) {
      // Said once, not every 30 seconds; the tools keep answering from the cache meanwhile.
      const line = `sync failed: ${describeError(error)}; answering from the local cache, writes wait`;
      if (line !== lastLine) io.warn(line);
      lastLine = line;
      return null;
    }
  };

  let soon: NodeJS.Timeout | null = null;
  const syncSoon = () => {
    if (soon || stopped) return;
    soon = setTimeout(() => {
      soon = null;
      void syncNow();
    }, 250);
  };

  const operations = opening.then((device) => localOperations(replicaStore(device.replica, device.records, syncSoon)));
  const first = syncNow();
  const waitMs = nonNegative(io.env.ANAMNESIS_LOCAL_FIRST_SYNC_WAIT_MS, 1500);
  const context = { operations: whenReady(operations, first, waitMs), log };
  const server = createMcpServer(() => context, LOCAL_SERVER_INFO);
  const every = setInterval(() => void syncNow(), Math.max(1, nonNegative(io.env.ANAMNESIS_LOCAL_SYNC_SECONDS, 30)) * 1000);
  every.unref();

  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    process.stdin.once('end', () => resolve());
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
    // A cache that cannot be opened (damaged, or tokens that do not open under this key): said, and the server ends.
    opening.catch((error: unknown) => {
      io.warn(`the local cache cannot be opened: ${describeError(error)}`);
      failed = true;
      resolve();
    });
  });
  await server.connect(transport);
  await closed;
  stopped = true;
  clearInterval(every);
  if (soon) clearTimeout(soon);
  // Writes still queued go now if the server answers quickly; otherwise they wait in the cache for the next start.
  // Bounded well under the 2 s an MCP client gives a server to exit once its stdin closes.
  await Promise.race([syncNow(), new Promise((resolve) => setTimeout(resolve, 1500).unref())]);
  await server.close().catch(() => undefined);
  if (failed) return 1;
  (await opening).close();
  return 0;
}
