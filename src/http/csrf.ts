// CSRF defence for cookie-authenticated writes: besides SameSite=Lax, a
// state-changing request must come from our own origin, as the browser
// reports it in Origin (or, failing that, Sec-Fetch-Site). Bearer-key
// requests carry no ambient credential and need no check.
import type { FastifyRequest } from 'fastify';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function isSameOriginWrite(request: FastifyRequest): boolean {
  if (SAFE_METHODS.has(request.method)) return true;
  const origin = request.headers.origin;
  // A page served with Referrer-Policy: no-referrer makes browsers send `Origin: null` even on
  // same-origin form posts; then Sec-Fetch-Site (which no page can set) says where it came from.
  if (origin !== undefined && origin !== 'null') return origin === `${request.protocol}://${request.host}`;
  const site = request.headers['sec-fetch-site'];
  return site === 'same-origin';
}
