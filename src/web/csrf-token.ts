// The per-session CSRF token every web form carries in a hidden `_csrf`
// field (on top of the Origin check in src/http/csrf.ts). It is an HMAC of a
// fixed label under the session token: tied to one session, the same in every
// process (no per-process key to share when scaling out), and it reveals
// nothing about the session token itself, which never leaves the cookie.
import { createHmac } from 'node:crypto';
import { secretsEqual } from '../crypto/keys.ts';

const LABEL = 'anamnesis-web-csrf-v1';
export const CSRF_FIELD = '_csrf';

export function csrfTokenFor(sessionToken: string): string {
  return createHmac('sha256', sessionToken).update(LABEL).digest('base64url');
}

export function csrfTokenMatches(sessionToken: string, candidate: unknown): boolean {
  return typeof candidate === 'string' && secretsEqual(csrfTokenFor(sessionToken), candidate);
}
