// Fetching a client ID metadata document without becoming a proxy into our
// own network (SSRF). The name is resolved by us and every address checked
// at connect time, inside the socket's own lookup, so a DNS answer that
// changes between a check and the connection (rebinding) cannot slip
// through. https only, no redirects, JSON only, 5 KiB and 5 seconds at most.
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { InvalidClientError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { decodeUtf8, requireWellFormed } from '../unicode.ts';

export const METADATA_FETCH_TIMEOUT_MS = 5000;

/** Private, loopback, link-local, shared, documentation, multicast and reserved ranges (IANA special-purpose registries). */
const SPECIAL = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
  ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) SPECIAL.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128], ['::1', 128], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['100::', 64], ['2001::', 23],
  ['2001:db8::', 32], ['2002::', 16], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) SPECIAL.addSubnet(net, bits, 'ipv6');
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** True for an address a metadata fetch may connect to. */
export function isPublicAddress(address: string, allowLoopback = false): boolean {
  const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  // IPv4-mapped IPv6 (::ffff:a.b.c.d) is never what a resolver answers for a public name. (It cannot
  // be a BlockList range: BlockList checks every IPv4 address against IPv6 ranges in mapped form.)
  if (family === 'ipv6' && /^::ffff:/i.test(address)) return false;
  if (allowLoopback && LOOPBACK.check(address, family)) return true;
  return isIP(address) !== 0 && !SPECIAL.check(address, family);
}

const forbidden = () => new InvalidClientError('the client metadata document is on an address this server does not fetch from');

/** A socket lookup that resolves the name and refuses if any answer is not public. */
function checkedLookup(allowLoopback: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { all: true, family: options.family ?? 0 }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      if (addresses.length === 0 || addresses.some((a) => !isPublicAddress(a.address, allowLoopback))) return callback(forbidden(), '', 0);
      if (options.all) return callback(null, addresses as never, 0);
      return callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

const failed = (why: string) => new InvalidClientError(`the client metadata document could not be used: ${why}`);

/** GETs the document at `url` and parses its JSON; throws invalid_client for anything out of bounds. */
export async function fetchMetadataDocument(url: string, options: { allowLoopback: boolean; maxBytes: number }): Promise<unknown> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw failed('the client id is not a URL');
  }
  const plainAllowed = options.allowLoopback && target.protocol === 'http:';
  if (target.protocol !== 'https:' && !plainAllowed) throw failed('it must be served over https');
  if (target.username || target.password || target.hash) throw failed('its URL must not carry credentials or a fragment');
  // A literal address never reaches the lookup: check it here.
  const literal = target.hostname.replace(/^\[|\]$/g, '');
  if (isIP(literal) && !isPublicAddress(literal, options.allowLoopback)) throw forbidden();

  const get = target.protocol === 'https:' ? https.get : http.get;
  const body = await new Promise<Buffer>((resolve, reject) => {
    const request = get(target, { lookup: checkedLookup(options.allowLoopback), headers: { accept: 'application/json' }, signal: AbortSignal.timeout(METADATA_FETCH_TIMEOUT_MS) }, (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        return reject(failed(response.statusCode && response.statusCode >= 300 && response.statusCode < 400 ? 'redirects are not followed' : `it answered ${response.statusCode}`));
      }
      if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(response.headers['content-type'] ?? '')) {
        response.resume();
        return reject(failed('it is not served as JSON'));
      }
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxBytes) {
          request.destroy();
          reject(failed(`it is larger than ${options.maxBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      response.on('end', () => resolve(Buffer.concat(chunks)));
      response.on('error', () => reject(failed('the answer broke off')));
    });
    request.on('error', (error) => reject(error instanceof InvalidClientError ? error : failed(error.name === 'AbortError' || error.name === 'TimeoutError' ? 'it took too long' : 'it could not be reached')));
  });
  // Decoded as strictly as every other input (src/unicode.ts): a client name is shown to users.
  let document: unknown;
  try {
    document = JSON.parse(decodeUtf8(body, 'the document'));
    requireWellFormed(document, 'the document');
  } catch {
    throw failed('it is not valid JSON in well-formed UTF-8');
  }
  return document;
}
