// What SIGTERM and SIGINT do (docs/deploy.md, "Stopping and restarting"):
// stop listening and refuse new requests (src/http/closing.ts), let the
// requests in flight finish within the grace period, cut whatever is still
// open once it has passed, close the store whatever happened, and exit.
// A second signal cuts the wait short but never skips closing the store.
// One metadata-only log line when shutdown starts and one when it ends.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { describeErrorForLog } from './logger.ts';
import type { Store } from './storage/store.ts';

/** Every request in flight finished and the store closed. */
export const EXIT_CLEAN = 0;
/** Requests were still open when the grace period ran out (or a second signal came) and were cut, or the store did not close. */
export const EXIT_UNCLEAN = 3;

export interface ShutdownOptions {
  app: FastifyInstance;
  store: Store;
  logger: Logger;
  graceMs: number;
}

export function installShutdownHandlers({ app, store, logger, graceMs }: ShutdownOptions): void {
  let cutOpenConnections: (() => void) | null = null;

  const shutdown = async (signal: NodeJS.Signals): Promise<void> => {
    const started = performance.now();
    logger.info({ signal, grace_ms: graceMs }, 'shutdown started');
    let cut = false;
    cutOpenConnections = () => {
      if (cut) return;
      cut = true;
      app.server.closeAllConnections();
    };
    const deadline = setTimeout(cutOpenConnections, graceMs);
    try {
      // Resolves once the listener is closed and every connection has ended.
      await app.close();
    } catch (error) {
      logger.error(describeErrorForLog(error), 'closing the app failed');
    } finally {
      clearTimeout(deadline);
    }
    let storeClosed = true;
    try {
      await store.close();
    } catch (error) {
      storeClosed = false;
      logger.error(describeErrorForLog(error), 'closing the store failed');
    }
    const exitCode = cut || !storeClosed ? EXIT_UNCLEAN : EXIT_CLEAN;
    logger.info({ signal, ms: Math.round(performance.now() - started), connections_cut: cut, store_closed: storeClosed, exit_code: exitCode }, 'shutdown finished');
    process.exit(exitCode);
  };

  let shuttingDown = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (!shuttingDown) {
      shuttingDown = true;
      void shutdown(signal);
      return;
    }
    logger.warn({ signal }, 'second signal during shutdown: cutting open connections, then closing the store');
    cutOpenConnections?.();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
