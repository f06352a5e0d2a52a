// The bearer hook of the end-to-end routes: `Authorization: Bearer ane_…` of
// a live session, attached to the request as `request.e2e`.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { unauthorized } from '../errors.ts';
import { BEARER_CHALLENGE, bearerCredential } from '../http/auth.ts';
import type { E2ESessionRow, E2EUserRow, Store } from '../storage/store.ts';
import { resolveE2ESession } from './sessions.ts';

export interface E2EAuth {
  user: E2EUserRow;
  session: E2ESessionRow;
}

declare module 'fastify' {
  interface FastifyRequest {
    e2e: E2EAuth | null;
  }
}

/** onRequest hook: `Authorization: Bearer ane_…` of a live session. */
export function requireE2ESession(store: Store) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const credential = bearerCredential(request);
    const auth = credential ? await resolveE2ESession(store, credential) : null;
    if (!auth) {
      reply.header('www-authenticate', BEARER_CHALLENGE);
      throw unauthorized('an end-to-end session token is required (Authorization: Bearer ane_…)');
    }
    request.e2e = auth;
  };
}

export function e2eAuthOf(request: FastifyRequest): E2EAuth {
  if (!request.e2e) throw unauthorized();
  return request.e2e;
}
