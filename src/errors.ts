// Typed errors: each knows its wire code and HTTP status. Messages are fixed
// text written here, never built from keys, tokens, passwords or plaintext.

export type ErrorCode =
  | 'bad_request'
  | 'validation_failed'
  | 'invalid_encoding'
  | 'unauthorized'
  | 'locked'
  | 'forbidden'
  | 'csrf_rejected'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'email_taken'
  | 'invalid_credentials'
  | 'e2e_account'
  | 'not_ciphertext'
  | 'cursor_expired'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  validation_failed: 400,
  invalid_encoding: 400,
  unauthorized: 401,
  locked: 403,
  forbidden: 403,
  csrf_rejected: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  email_taken: 409,
  invalid_credentials: 401,
  e2e_account: 403,
  not_ciphertext: 400,
  cursor_expired: 410,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
};

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra fields for the answer, such as retry_after or per-field problems: metadata only. */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = STATUS[code];
  }
}

export const notFound = (what: string) => new AppError('not_found', `${what} not found`);
export const unauthorized = (message = 'a valid API key or session is required') => new AppError('unauthorized', message);
/** What a server-key route answers an end-to-end account: it has no API key, and the server cannot read its data. */
export const e2eAccount = () =>
  new AppError('e2e_account', 'this is an end-to-end account: use the local MCP server (anamnesis-local) or the browser client; the server cannot read its memories');
export const badRequest = (message: string, details?: Record<string, unknown>) => new AppError('bad_request', message, details);
