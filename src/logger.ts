// pino with metadata only: time, route, status, error code, user id. Request
// lines are written by the HTTP layer itself (Fastify's own request logging is
// off) so that no URL query, header, body or error message reaches a log.
import pino, { type Logger, type LoggerOptions } from 'pino';

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    // Defence in depth: should a request or error object ever be logged whole,
    // these fields are censored.
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie', 'body', 'req.body', 'query', 'req.query', 'err.message', 'msg.message'],
      censor: '[redacted]',
    },
  };
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return destination ? pino(loggerOptions(level), destination) : pino(loggerOptions(level));
}

/**
 * The stack's frames without its header. V8 writes `name: message` first, and
 * a message may span lines, so the header is cut off whole and only the
 * `    at …` frame lines that follow are kept.
 */
function stackFrames(error: Error): string | undefined {
  if (!error.stack) return undefined;
  const header = error.message ? `${error.name}: ${error.message}` : error.name;
  const body = error.stack.startsWith(header) ? error.stack.slice(header.length) : error.stack;
  const frames = body.split('\n').filter((line) => /^ {4}at /.test(line));
  return frames.length > 0 ? frames.join('\n') : undefined;
}

/** An error as a log may show it: its class, code and stack frames, never its message. */
export function describeErrorForLog(error: unknown): { error_name: string; error_code?: string; stack?: string } {
  if (!(error instanceof Error)) return { error_name: typeof error };
  const code = (error as { code?: unknown }).code;
  const stack = stackFrames(error);
  return {
    error_name: error.name,
    ...(typeof code === 'string' ? { error_code: code } : {}),
    ...(stack ? { stack } : {}),
  };
}
