// Shared by the claims tests: an MCP tool call through app.inject, and the
// attacker's toolkit for "a copy of everything stored decrypts nothing":
// find every Fernet token in a blob, collect every string that could serve
// as key material, derive every key the key hierarchy could make from them,
// and try each key on each token.
import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { fernetDecrypt } from '../../src/crypto/fernet.ts';
import { DATA_KEY_INFO, KEY_WRAP_INFO, LOOKUP_KEY_INFO } from '../../src/crypto/keys.ts';

export interface ToolAnswer {
  status: number;
  isError: boolean;
  structured: any;
  text: string;
}

/** One MCP tool call, as a client's JSON-RPC POST to the stateless /mcp endpoint. */
export async function mcpInject(app: FastifyInstance, apiKey: string, name: string, args: Record<string, unknown> = {}): Promise<ToolAnswer> {
  const response = await app.inject({
    method: 'POST',
    url: '/mcp',
    headers: { host: 'localhost', authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    payload: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } },
  });
  if (response.statusCode !== 200) return { status: response.statusCode, isError: true, structured: null, text: response.body };
  const { result } = response.json() as { result: { isError?: boolean; structuredContent?: unknown; content: Array<{ text: string }> } };
  return { status: 200, isError: result.isError === true, structured: result.structuredContent ?? null, text: result.content[0]?.text ?? '' };
}

/** The tool names /mcp lists. */
export async function mcpToolNames(app: FastifyInstance, apiKey: string): Promise<string[]> {
  const response = await app.inject({
    method: 'POST',
    url: '/mcp',
    headers: { host: 'localhost', authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    payload: { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} },
  });
  return (response.json() as { result: { tools: Array<{ name: string }> } }).result.tools.map((t) => t.name);
}

/** Every way a plaintext or secret could be written down: as is, URL-encoded, JSON-escaped, base64, UTF-16. */
export function encodings(secret: string): Buffer[] {
  const forms = new Set([secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1), Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('base64url'), secret.toLowerCase()]);
  return [...[...forms].map((form) => Buffer.from(form, 'utf8')), Buffer.from(secret, 'utf16le')];
}

/** The secrets and plaintexts (from `needles`) found in `haystack`, in any of their encodings. */
export function foundIn(haystack: Buffer, needles: readonly string[]): string[] {
  return needles.filter((needle) => encodings(needle).some((form) => haystack.indexOf(form) !== -1));
}

const TOKEN = /gAAAAA[A-Za-z0-9_-]{60,}={0,2}/g;

/** Every Fernet token in a blob (raw database pages, WAL frames, dump text, log lines). */
export function tokensIn(blob: string): string[] {
  return [...new Set(blob.match(TOKEN) ?? [])];
}

/**
 * Every string in a blob that could be key material or a salt: whole values
 * and their parts (PHC strings split at `$`, `,` and `=`, and so on). Fernet
 * tokens themselves are left out: they are what is being attacked.
 */
export function candidatesIn(blob: string): string[] {
  const out = new Set<string>();
  for (const word of blob.match(/[A-Za-z0-9_@.$=+/:,-]{6,}/g) ?? []) {
    if (word.startsWith('gAAAAA')) continue;
    out.add(word);
    for (const part of word.split(/[$,:=/+]/)) if (part.length >= 6) out.add(part);
  }
  return [...out];
}

export const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/g;

/**
 * Every 32-byte key the hierarchy could derive from a candidate: HKDF under
 * each info string of DESIGN.md with each user id (and none) as salt, the
 * candidate's SHA-256, and the candidate itself when it decodes (hex or
 * base64url) to 32 bytes.
 */
export function keysFrom(candidates: readonly string[], salts: readonly string[]): Buffer[] {
  const keys = new Map<string, Buffer>();
  const add = (key: Buffer) => keys.set(key.toString('hex'), key);
  for (const candidate of candidates) {
    for (const salt of ['', ...salts]) {
      for (const info of [DATA_KEY_INFO, KEY_WRAP_INFO, LOOKUP_KEY_INFO]) add(Buffer.from(hkdfSync('sha256', Buffer.from(candidate, 'utf8'), salt, info, 32)));
    }
    add(createHash('sha256').update(candidate, 'utf8').digest());
    if (/^[0-9a-f]{64}$/i.test(candidate)) add(Buffer.from(candidate, 'hex'));
    const decoded = Buffer.from(candidate.replace(/^anm_/, ''), 'base64url');
    if (decoded.length === 32) add(decoded);
  }
  return [...keys.values()];
}

/**
 * The tokens that open under any of the keys. Fernet checks the HMAC before
 * anything else, so each token is decoded once and each key's signing half
 * is tried on it; a match is then opened in full by the real decoder.
 */
export function tokensOpenedBy(tokens: readonly string[], keys: readonly Buffer[]): Array<{ token: string; key: Buffer }> {
  const opened: Array<{ token: string; key: Buffer }> = [];
  for (const token of tokens) {
    const raw = Buffer.from(token, 'base64url');
    if (raw.length < 1 + 8 + 16 + 16 + 32) continue;
    const body = raw.subarray(0, raw.length - 32);
    const mac = raw.subarray(raw.length - 32);
    for (const key of keys) {
      if (!timingSafeEqual(createHmac('sha256', key.subarray(0, 16)).update(body).digest(), mac)) continue;
      fernetDecrypt(key, token); // throws if the rest of the token does not hold
      opened.push({ token, key });
      break;
    }
  }
  return opened;
}
