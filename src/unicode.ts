// Text comes in as bytes and must be kept exactly as the client sent it: every
// input path decodes through these functions, which refuse (400
// invalid_encoding) what a lenient decoder would silently change: bytes that
// are not UTF-8 (a lenient decoder turns them into U+FFFD), percent-escapes of
// such bytes (a lenient form parser keeps them as literal "%FF"), and JSON
// escapes of lone surrogates ("\ud800", which JSON.parse accepts but no UTF-8
// encoder can write back). Messages say what was wrong, never the bytes.
import { AppError } from './errors.ts';

/**
 * Fatal: a byte sequence that is not UTF-8 (invalid, overlong, truncated, an
 * encoded surrogate) throws instead of becoming U+FFFD. One leading BOM is
 * dropped (RFC 8259 lets a parser ignore it; Windows editors write one).
 */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

function invalidEncoding(what: string, problem = 'is not well-formed UTF-8'): AppError {
  return new AppError('invalid_encoding', `${what} ${problem}; text must be UTF-8, and nothing was stored`);
}

/** The text of `bytes`, or 400 invalid_encoding naming `what` (e.g. "the JSON body"). */
export function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    throw invalidEncoding(what);
  }
}

/**
 * Refuses a parsed JSON value holding a string (or key) that is not
 * well-formed Unicode: only a `\uD800`-style escape of a lone surrogate can
 * produce one once the bytes were strict UTF-8.
 */
export function requireWellFormed(value: unknown, what: string): void {
  if (!isWellFormedValue(value)) throw invalidEncoding(what, 'holds a lone surrogate escape such as \\ud800 (not well-formed Unicode)');
}

/** With the u flag a paired surrogate is one code point, so only a lone one matches. */
const LONE_SURROGATE = /\p{Cs}/u;

/** Iterative: JSON.parse accepts nesting far deeper than a recursive walk's stack (a 1 MiB body nests 500,000 deep). */
function isWellFormedValue(root: unknown): boolean {
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === 'string') {
      if (LONE_SURROGATE.test(value)) return false;
    } else if (Array.isArray(value)) {
      for (const inner of value) pending.push(inner);
    } else if (value !== null && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) {
        if (LONE_SURROGATE.test(key)) return false;
        pending.push(inner);
      }
    }
  }
  return true;
}

/** A `%` not followed by two hex digits stays a literal `%`, as in the WHATWG URL-encoded parser. */
const STRAY_PERCENT = /%(?![0-9A-Fa-f]{2})/g;

/**
 * One application/x-www-form-urlencoded component (`+` is a space): escaped
 * bytes must form UTF-8 (decodeURIComponent refuses invalid, overlong and
 * surrogate sequences), or 400 invalid_encoding.
 */
function decodeFormComponent(text: string, what: string): string {
  const plus = text.replace(/\+/g, ' ');
  if (!plus.includes('%')) return plus;
  try {
    return decodeURIComponent(plus.replace(STRAY_PERCENT, '%25'));
  } catch {
    throw invalidEncoding(what, 'has percent-escaped bytes that are not UTF-8');
  }
}

/**
 * A form body or query string as name → value (a repeated name → its values
 * in order), every name and value strictly decoded.
 */
export function parseUrlEncoded(text: string, what: string): Record<string, string | string[]> {
  const fields: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const at = pair.indexOf('=');
    const name = decodeFormComponent(at === -1 ? pair : pair.slice(0, at), what);
    const value = at === -1 ? '' : decodeFormComponent(pair.slice(at + 1), what);
    const earlier = fields[name];
    if (earlier === undefined) fields[name] = value;
    else if (Array.isArray(earlier)) earlier.push(value);
    else fields[name] = [earlier, value];
  }
  return fields;
}
