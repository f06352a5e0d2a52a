// The one place errors become HTTP answers: `{"error":{"code","message"}}`,
// fixed messages, no stack traces, 5xx details hidden (and logged without
// their message, which could carry a driver's view of a row).
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { describeErrorForLog } from '../logger.ts';
import { AppError, type ErrorCode } from '../errors.ts';
import { StoreUnavailable } from '../storage/store.ts';
import { UnreadableRecord } from '../vault/codec.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The code of the error this request was answered with, for its log line. */
    errorCode: ErrorCode | null;
  }
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; [detail: string]: unknown };
}

const FASTIFY_CODES: Record<string, { code: ErrorCode; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'payload_too_large', message: 'the request body is too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'unsupported_media_type', message: 'this content type is not accepted here' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'bad_request', message: 'the body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'bad_request', message: 'the JSON body is empty' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'bad_request', message: 'the content length does not match the body' },
  FST_ERR_CTP_EMPTY_TYPE: { code: 'bad_request', message: 'the content type is empty' },
  FST_ERR_CTP_INVALID_TYPE: { code: 'bad_request', message: 'the content type is not valid' },
  FST_ERR_BAD_URL: { code: 'bad_request', message: 'the URL is not valid' },
  FST_ERR_ASYNC_CONSTRAINT: { code: 'bad_request', message: 'the request could not be routed' },
};

export function errorBody(code: ErrorCode, message: string, details?: Record<string, unknown>): ErrorBody {
  return { error: { code, message, ...details } };
}

export function toErrorAnswer(error: unknown): { status: number; body: ErrorBody; retryAfter?: number } {
  if (error instanceof AppError) {
    const retryAfter = typeof error.details?.retry_after === 'number' ? error.details.retry_after : undefined;
    return { status: error.status, body: errorBody(error.code, error.message, error.details), ...(retryAfter ? { retryAfter } : {}) };
  }
  if (hasZodFastifySchemaValidationErrors(error)) {
    const problems = error.validation.map((v) => ({ where: `${error.validationContext ?? 'body'}${v.instancePath.replace(/\//g, '.')}`, problem: v.message ?? 'invalid' }));
    return { status: 400, body: errorBody('validation_failed', 'the request does not match what this route accepts', { problems }) };
  }
  if (error instanceof SyntaxError && (error as FastifyError).statusCode === 400) {
    return { status: 400, body: errorBody('bad_request', 'the body is not valid JSON') };
  }
  if (error instanceof StoreUnavailable) return { status: 503, body: errorBody('unavailable', 'storage is unavailable; try again shortly') };
  if (error instanceof UnreadableRecord) return { status: 409, body: errorBody('conflict', 'a stored record cannot be decrypted with the current key', { unreadable: [error.recordId] }) };
  const fastifyError = error as Partial<FastifyError>;
  const known = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (known) return { status: fastifyError.statusCode ?? 400, body: errorBody(known.code, known.message) };
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return { status: fastifyError.statusCode, body: errorBody('bad_request', 'the request is not valid') };
  }
  return { status: 500, body: errorBody('internal', 'something went wrong on our side; nothing was changed by the failed step') };
}

/**
 * Answers any error in the one shape. Also Fastify's `frameworkErrors`
 * handler: a URL that does not decode never reaches the error handler, and
 * Fastify's own answer would echo the URL (and the search text in its query).
 */
export function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const answer = toErrorAnswer(error);
  request.errorCode = answer.body.error.code;
  if (answer.status >= 500) request.log.error({ route: request.routeOptions.url, ...describeErrorForLog(error) }, 'request failed');
  if (answer.retryAfter) reply.header('retry-after', String(answer.retryAfter));
  reply.code(answer.status).type('application/json').send(answer.body);
}

/** A browser navigating to an address that is not an API, MCP or .well-known path. */
function isPageNavigation(request: FastifyRequest): boolean {
  const path = request.url.split('?')[0] ?? '';
  return (request.method === 'GET' || request.method === 'HEAD') &&
    !/^\/(api|mcp|\.well-known)(\/|$)/.test(path) &&
    (request.headers.accept ?? '').includes('text/html');
}

/**
 * The one error handler and the not-found answer: JSON in the error shape,
 * except that a browser navigating to an unknown page address gets
 * `notFoundPage` (the web layer's HTML page) when one is given.
 */
export function registerErrorHandling(app: FastifyInstance, notFoundPage?: (request: FastifyRequest, reply: FastifyReply) => void): void {
  app.decorateRequest('errorCode', null);
  app.setErrorHandler(sendError);
  app.setNotFoundHandler((request, reply) => {
    request.errorCode = 'not_found';
    if (notFoundPage && isPageNavigation(request)) return notFoundPage(request, reply);
    reply.code(404).type('application/json').send(errorBody('not_found', 'no such route'));
  });
}
