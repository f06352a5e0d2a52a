// Errors on page routes become HTML pages built from the same mapping as the
// JSON API (src/http/errors.ts toErrorAnswer): fixed messages, no internals.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { toErrorAnswer } from '../http/errors.ts';
import { describeErrorForLog } from '../logger.ts';
import type { Assets } from './assets.ts';
import type { Html } from './html.ts';
import { pageContext, sendHtml } from './render.ts';
import { errorView } from './views/error.ts';

interface PageError {
  status: number;
  /** A sentence for people: the API's fixed message, capitalised. */
  message: string;
  retryAfter?: number;
}

function toPageError(error: unknown): PageError {
  const answer = toErrorAnswer(error);
  const { code, message, problems } = answer.body.error;
  // Validation details name wire fields; a page says it plainly.
  const text = code === 'validation_failed' && problems ? 'some of the form fields are not valid' : message;
  return { status: answer.status, message: `${text.charAt(0).toUpperCase()}${text.slice(1)}.`, ...(answer.retryAfter ? { retryAfter: answer.retryAfter } : {}) };
}

function logIfServerError(request: FastifyRequest, error: unknown, status: number): void {
  if (status >= 500) request.log.error({ route: request.routeOptions.url, ...describeErrorForLog(error) }, 'page request failed');
}

export function htmlErrorHandler(assets: Assets) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    const failure = toPageError(error);
    logIfServerError(request, error, failure.status);
    if (failure.retryAfter) reply.header('retry-after', String(failure.retryAfter));
    sendHtml(reply, errorView(pageContext(request, assets), failure.status, failure.message), failure.status);
  };
}

/**
 * Runs a form's action; when it is refused (4xx), the form is shown again
 * with the reason instead of an error page. Server errors go to the handler.
 */
export async function withFormErrors<T>(reply: FastifyReply, action: () => Promise<T>, again: (message: string) => Html | Promise<Html>): Promise<T | FastifyReply> {
  try {
    return await action();
  } catch (error) {
    const failure = toPageError(error);
    if (failure.status >= 500) throw error;
    if (failure.retryAfter) reply.header('retry-after', String(failure.retryAfter));
    return sendHtml(reply, await again(failure.message), failure.status);
  }
}

/**
 * For the long all-or-nothing operations (import, rotation): any failure,
 * server-side ones included, is shown on the page with the reassurance that
 * the one transaction left the data as it was.
 */
export async function withAllOrNothing<T>(request: FastifyRequest, reply: FastifyReply, action: () => Promise<T>, again: (message: string) => Html | Promise<Html>): Promise<T | FastifyReply> {
  try {
    return await action();
  } catch (error) {
    const failure = toPageError(error);
    logIfServerError(request, error, failure.status);
    return sendHtml(reply, await again(failure.message), failure.status);
  }
}
