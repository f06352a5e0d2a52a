// The end-to-end endpoints (docs/e2e-protocol.md section 3). Each group is
// its own encapsulated context: the public flows, the bearer (`ane_`)
// routes, and the conversion that a server-key credential authorises.
import type { FastifyPluginAsync } from 'fastify';
import type { Services } from '../http/services.ts';
import { accountRoutes } from './account.ts';
import { changesRoutes } from './changes.ts';
import { conversionRoutes } from './conversion.ts';
import { loginRoutes, logoutRoute } from './login.ts';
import { OpaqueServer } from './opaque.ts';
import { recoveryRoutes } from './recovery.ts';
import { registrationRoutes } from './registration.ts';
import { E2E_SESSION_IDLE_MS } from './sessions.ts';

/** What the public flows share: the OPAQUE server and the sweep of lapsed steps and idle sessions. */
export interface E2EServices extends Services {
  opaque: OpaqueServer;
  /** Deletes lapsed flow steps and idle sessions, at most once a minute per process. */
  sweep: () => Promise<void>;
}

const SWEEP_EVERY_MS = 60_000;

export const e2eRoutes: FastifyPluginAsync<Services> = async (app, services) => {
  app.decorateRequest('e2e', null);
  const { store } = services;
  const opaque = await OpaqueServer.open(store, services.config.opaqueServerSetup);
  let nextSweepAt = 0;
  const sweep = async () => {
    const now = Date.now();
    if (now < nextSweepAt) return;
    nextSweepAt = now + SWEEP_EVERY_MS;
    await store.deleteExpiredE2EPending(now);
    await store.deleteIdleE2ESessions(now - E2E_SESSION_IDLE_MS);
  };
  const withOpaque: E2EServices = { ...services, opaque, sweep };
  await app.register(registrationRoutes, withOpaque);
  await app.register(loginRoutes, withOpaque);
  await app.register(recoveryRoutes, withOpaque);
  await app.register(conversionRoutes, withOpaque);
  await app.register(logoutRoute, services);
  await app.register(accountRoutes, services);
  await app.register(changesRoutes, services);
};
