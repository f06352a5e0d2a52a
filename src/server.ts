// Starts the service: configuration, storage, app, listen. Nothing else.
import { ConfigError, loadConfig } from './config.ts';
import { buildApp } from './http/app.ts';
import { installCrashHandlers } from './crash.ts';
import { createLogger } from './logger.ts';
import { installShutdownHandlers } from './shutdown.ts';
import { openStore } from './storage/open.ts';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`anamnesis: configuration error: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  installCrashHandlers(logger);

  const store = await openStore(config);
  const app = await buildApp({ config, store, logger });
  installShutdownHandlers({ app, store, logger, graceMs: config.shutdownGraceMs });
  await app.listen({ port: config.port, host: config.host });
  logger.info({ driver: store.driver, port: config.port, host: config.host }, 'anamnesis listening');
}

void main();
