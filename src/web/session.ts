// Who a page request comes from, and what each page route needs. Pages use
// only the browser session cookie (never a bearer key): an unknown or expired
// cookie simply means "not logged in", answered with a redirect to /login
// rather than an error, and a locked session is sent to /unlock.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { resolveSession } from '../accounts/sessions.ts';
import { AppError } from '../errors.ts';
import type { Auth } from '../http/auth.ts';
import { sessionToken } from '../http/cookies.ts';
import { isSameOriginWrite } from '../http/csrf.ts';
import type { Store } from '../storage/store.ts';
import type { Vault } from '../vault/vault.ts';
import { CSRF_FIELD, csrfTokenMatches } from './csrf-token.ts';

/** What a page route needs: nothing, a session (locked or not), or an unlocked one. */
export type Need = 'none' | 'session' | 'unlocked';

declare module 'fastify' {
  interface FastifyContextConfig {
    need?: Need;
  }
}

const csrfRejected = () => new AppError('csrf_rejected', 'this form did not come from this site, or it has expired');

/** onRequest: attach the session, if any; refuse any cross-site POST before its body is read. */
export function resolveWebSession(store: Store) {
  return async (request: FastifyRequest): Promise<void> => {
    if (!isSameOriginWrite(request)) throw csrfRejected();
    const token = sessionToken(request);
    const resolved = token ? await resolveSession(store, token) : null;
    if (resolved && token) request.auth = { user: resolved.user, vault: resolved.vault, via: 'session', session: resolved.session, sessionToken: token };
  };
}

/** preValidation (the form body is parsed by now): the route's need, and the CSRF token on every session POST. */
export async function guardPage(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const need = request.routeOptions.config.need ?? 'none';
  if (need === 'none') return undefined;
  const auth = request.auth;
  // An async hook that answers early must return the reply, so the handler does not run.
  if (!auth?.sessionToken) return reply.redirect('/login', 303);
  if (request.method === 'POST' && !csrfTokenMatches(auth.sessionToken, (request.body as Record<string, unknown> | undefined)?.[CSRF_FIELD])) {
    throw csrfRejected();
  }
  if (need === 'unlocked' && !auth.vault) return reply.redirect('/unlock', 303);
  return undefined;
}

/** The session of a route whose need is 'session' or 'unlocked' (the guard has checked). */
export function sessionOf(request: FastifyRequest): Required<Pick<Auth, 'user' | 'session' | 'sessionToken'>> & Auth {
  const auth = request.auth;
  if (!auth?.session || !auth.sessionToken) throw new AppError('unauthorized', 'log in first');
  return auth as Required<Pick<Auth, 'user' | 'session' | 'sessionToken'>> & Auth;
}

export function unlockedVault(request: FastifyRequest): Vault {
  const vault = request.auth?.vault;
  if (!vault) throw new AppError('locked', 'this session is locked: unlock it with your API key first');
  return vault;
}
