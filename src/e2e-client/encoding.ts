// Byte encodings shared by the client core: strict base64url (one string per
// byte sequence, so no two spellings name one token or key), UTF-8 and hex.
// Plain TypeScript over TextEncoder/TextDecoder: it runs unchanged in Node and
// in the browser.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const VALUES = new Map([...ALPHABET].map((c, i) => [c, i]));

/** base64url of `bytes`; `padded` adds the `=` padding Fernet tokens and key strings carry. */
export function encodeBase64url(bytes: Uint8Array, padded = false): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + ALPHABET[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + (padded ? '==' : '');
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + (padded ? '=' : '');
  }
  return out;
}

/**
 * The bytes of a canonical base64url string, or null: foreign characters,
 * `+` and `/`, wrong or missing padding (when `padded`), padding where none
 * belongs, and set bits the last character cannot carry are all refused.
 */
export function decodeBase64url(text: string, padded: boolean): Uint8Array<ArrayBuffer> | null {
  let body = text;
  if (padded) {
    if (text.length % 4 !== 0) return null;
    body = text.endsWith('==') ? text.slice(0, -2) : text.endsWith('=') ? text.slice(0, -1) : text;
  }
  if (body.length % 4 === 1) return null;
  const out = new Uint8Array(Math.floor((body.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (const c of body) {
    const v = VALUES.get(c);
    if (v === undefined) return null;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
      acc &= (1 << bits) - 1;
    }
  }
  // Leftover bits past the last whole byte must be zero, or two strings would decode alike.
  if (acc !== 0) return null;
  return out;
}

const UTF8_ENCODER = new TextEncoder();
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function encodeUtf8(text: string): Uint8Array<ArrayBuffer> {
  return UTF8_ENCODER.encode(text);
}

/** The text of `bytes`, or null when they are not UTF-8 (never U+FFFD in their place). */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    return null;
  }
}

export function encodeHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** `count` bytes from the platform CSPRNG (WebCrypto). */
export function randomBytes(count: number): Uint8Array<ArrayBuffer> {
  return globalThis.crypto.getRandomValues(new Uint8Array(count));
}
