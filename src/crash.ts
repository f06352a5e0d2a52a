// What the process does when an error escapes every handler: one fatal log
// line with the error's class and stack frames (never its message, which
// could carry a key, a token or plaintext), then exit. Shared by server.ts
// and the crash test's harness, so the test exercises exactly this code.
import type { Logger } from 'pino';
import { describeErrorForLog } from './logger.ts';

export function installCrashHandlers(logger: Logger): void {
  process.on('uncaughtException', (error) => {
    logger.fatal(describeErrorForLog(error), 'uncaught exception');
    process.exit(1);
  });
  process.on('unhandledRejection', (error) => {
    logger.fatal(describeErrorForLog(error), 'unhandled rejection');
    process.exit(1);
  });
}
