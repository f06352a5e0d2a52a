// The one place each input path decodes text, strictly (src/unicode.ts):
// JSON bodies (the REST API and /mcp), import files, form posts, the query
// string and the headers read as data. Anything not well-formed UTF-8 is
// refused with 400 invalid_encoding before a route sees it, so nothing
// half-decoded can be stored.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { decodeUtf8, parseUrlEncoded, requireWellFormed } from '../unicode.ts';

/**
 * Headers the server reads as text: credentials (API key, session cookie),
 * the session label (User-Agent), and the Host and Origin checks; behind a
 * trusted proxy also the forwarded client address, host and scheme.
 */
const HEADERS_READ_AS_TEXT = ['authorization', 'cookie', 'host', 'origin', 'user-agent'];
const FORWARDED_HEADERS = ['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto'];

/** Content types of import files, taken as raw text; the import route parses them line by line. */
const IMPORT_FILE_TYPES = ['text/plain', 'application/x-ndjson', 'application/jsonl'];

/**
 * Node gives header values and the request target as latin1 (one character
 * per byte): turned back into their bytes, they must decode as UTF-8.
 */
function requireUtf8Wire(value: string, what: string): void {
  if (/[^\x00-\x7f]/.test(value)) decodeUtf8(Buffer.from(value, 'latin1'), what);
}

function requireUtf8HeadersAndQuery(headerNames: readonly string[]) {
  return async (request: FastifyRequest): Promise<void> => {
    for (const name of headerNames) {
      const value = request.headers[name];
      for (const one of Array.isArray(value) ? value : value === undefined ? [] : [value]) requireUtf8Wire(one, `the ${name} header`);
    }
    const at = request.url.indexOf('?');
    if (at === -1) return;
    const query = request.url.slice(at + 1);
    requireUtf8Wire(query, 'the query string');
    parseUrlEncoded(query, 'the query string');
  };
}

type ContentParser = Parameters<FastifyInstance['addContentTypeParser']>[2];

/** A content-type parser from a decoding that throws: its error (400 invalid_encoding) goes to the error handler. */
function strictParser(decode: (request: FastifyRequest, body: Buffer) => unknown): ContentParser {
  return ((request: FastifyRequest, body: Buffer, done: (error: Error | null, value?: unknown) => void) => {
    let value: unknown;
    try {
      value = decode(request, body);
    } catch (error) {
      return done(error as Error, undefined);
    }
    done(null, value);
  }) as ContentParser;
}

/** Strict JSON and import-file parsers for the whole app, and the header and query check on every request. */
export function registerStrictDecoding(app: FastifyInstance, options: { importBodyLimit: number; trustsProxy: boolean }): void {
  app.addHook('onRequest', requireUtf8HeadersAndQuery(options.trustsProxy ? [...HEADERS_READ_AS_TEXT, ...FORWARDED_HEADERS] : HEADERS_READ_AS_TEXT));

  // Fastify's own JSON parser (prototype-poisoning checks included; it answers synchronously), fed strictly decoded text.
  const fastifyJson = app.getDefaultJsonParser('error', 'error');
  const parseJson = (request: FastifyRequest, text: string): unknown => {
    let outcome: { error: Error | null; value?: unknown } = { error: null };
    fastifyJson(request, text, (error, value) => {
      outcome = { error, value };
    });
    if (outcome.error) throw outcome.error;
    return outcome.value;
  };
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, strictParser((request, body) => {
    const value = parseJson(request, decodeUtf8(body, 'the JSON body'));
    requireWellFormed(value, 'the JSON body');
    return value;
  }));
  app.addContentTypeParser(IMPORT_FILE_TYPES, { parseAs: 'buffer', bodyLimit: options.importBodyLimit }, strictParser((_request, body) => decodeUtf8(body, 'the import file')));
}

/** Form posts (the web pages' context only): strictly decoded bytes, then strictly decoded percent-escapes. */
export function registerStrictFormParser(pages: FastifyInstance, bodyLimit: number): void {
  pages.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer', bodyLimit }, strictParser((_request, body) => parseUrlEncoded(decodeUtf8(body, 'the form'), 'the form')));
}
