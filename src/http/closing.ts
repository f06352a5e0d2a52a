// What the app does once it is closing (SIGTERM, src/shutdown.ts): a request
// that reaches a route from then on is refused with 503 in the one error
// shape, and every answer, including those to requests already in flight,
// closes its connection, so no keep-alive connection outlives the shutdown and
// a client or proxy goes to another process. Replaces Fastify's own
// return503OnClosing answer, whose body is not in our shape.
import type { FastifyInstance } from 'fastify';
import { errorBody } from './errors.ts';

/** Seconds a client is asked to wait: another process answers at once, a restarted one within a few seconds. */
export const RESTART_RETRY_AFTER_SECONDS = 2;

/** Call on the root instance before any route is registered, so the refusal runs first on every route. */
export function refuseRequestsWhileClosing(app: FastifyInstance): void {
  let closing = false;
  // preClose runs as app.close() begins, before the listener is closed.
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (request, reply) => {
    if (!closing) return;
    request.errorCode = 'unavailable';
    return reply
      .code(503)
      .header('retry-after', String(RESTART_RETRY_AFTER_SECONDS))
      .type('application/json')
      .send(errorBody('unavailable', 'the server is restarting; try again shortly', { retry_after: RESTART_RETRY_AFTER_SECONDS }));
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
}
