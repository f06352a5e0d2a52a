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

function seconds(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value !== undefined && Number.isFinite(n) && n >= 0 ? n : fallback;
}

/** Every operation waits for `ready` first, but never longer than `waitMs`. */
function afterFirstSync<T extends object>(target: T, ready: Promise<unknown>, waitMs: number): T {
  let settled = false;
  const gate = Promise.race([ready.then(() => undefined, () => undefined), new Promise<void>((resolve) => setTimeout(resolve, waitMs).unref())]).then(() => {
    settled = true;
  });
  return new Proxy(target, {
    get(object, property, receiver) {
      const value = Reflect.get(object, property, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        if (!settled) await gate;
        return value.apply(object, args);
      };
    },
  });
}

export async function serve(paths: LocalPaths, io: Io): Promise<number> {
  const device = await Device.open(paths, io);
  const log = pino({ ...loggerOptions(io.env.LOG_LEVEL ?? 'warn'), name: 'anamnesis-local' }, pino.destination(2));
  let lastLine = '';
  let stopped = false;

  const syncNow = async (): Promise<SyncReport | null> => {
    try {
      const report = await device.sync();
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

  const operations: ToolOperations = localOperations(replicaStore(device.replica, device.records, syncSoon));
  const first = syncNow();
  const waitMs = seconds(io.env.ANAMNESIS_LOCAL_FIRST_SYNC_WAIT_MS, 1500);
  const server = createMcpServer(
    { memories: afterFirstSync(operations.memories, first, waitMs), graph: afterFirstSync(operations.graph, first, waitMs) },
    log,
    LOCAL_SERVER_INFO,
  );
  const every = setInterval(() => void syncNow(), seconds(io.env.ANAMNESIS_LOCAL_SYNC_SECONDS, 30) * 1000);
  every.unref();

  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    process.stdin.once('end', () => resolve());
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
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
  device.close();
  return 0;
}
