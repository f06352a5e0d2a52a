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

export const e2eRoutes: FastifyPluginAsync<Services> = async (app, services) => {
  app.decorateRequest('e2e', null);
  const opaque = await OpaqueServer.open(services.store, services.config.opaqueServerSetup);
  const withOpaque = { ...services, opaque };
  await app.register(registrationRoutes, withOpaque);
  await app.register(loginRoutes, withOpaque);
  await app.register(recoveryRoutes, withOpaque);
  await app.register(conversionRoutes, withOpaque);
  await app.register(logoutRoute, services);
  await app.register(accountRoutes, services);
  await app.register(changesRoutes, services);
};
