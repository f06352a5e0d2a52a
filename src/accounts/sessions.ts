// Browser sessions: a random 32-byte token in an HttpOnly cookie; the server
// keeps only its SHA-256 and, once unlocked, K wrapped under the token. A
// session expires after a week idle or a month in all; deleting its row
// revokes it and its wrapped key at once.
import { randomUUID } from 'node:crypto';
import { generateSessionToken, secretLookupHash, unwrapDataKey } from '../crypto/keys.ts';
import type { ServerKeyUserRow, SessionRow, Store } from '../storage/store.ts';
import { Vault } from '../vault/vault.ts';

export const SESSION_IDLE_MS = 7 * 24 * 3600_000;
export const SESSION_ABSOLUTE_MS = 30 * 24 * 3600_000;
/** lastSeenAt is written at most this often, so reads do not all become writes. */
const TOUCH_INTERVAL_MS = 60_000;

export interface ResolvedSession {
  session: SessionRow;
  user: ServerKeyUserRow;
  /** The unlocked session's vault; null while locked. */
  vault: Vault | null;
}

/** Opens a session; with a vault it starts unlocked (K wrapped under the new token). */
export async function startSession(store: Store, userId: string, label: string, vault: Vault | null): Promise<{ token: string; session: SessionRow }> {
  const token = generateSessionToken();
  const now = Date.now();
  const session: SessionRow = {
    id: randomUUID(),
    tokenHash: secretLookupHash(token),
    userId,
    wrappedKey: vault ? vault.wrapFor(token) : null,
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + SESSION_ABSOLUTE_MS,
    label: label.slice(0, 80),
  };
  await store.createSession(session);
  return { token, session };
}

export function isExpired(session: SessionRow, now: number): boolean {
  return session.expiresAt <= now || session.lastSeenAt + SESSION_IDLE_MS <= now;
}

/** The session a cookie token names, or null when unknown or expired (an expired row is deleted). */
export async function resolveSession(store: Store, token: string): Promise<ResolvedSession | null> {
  const session = await store.findSessionByTokenHash(secretLookupHash(token));
  if (!session) return null;
  const now = Date.now();
  if (isExpired(session, now)) {
    await store.deleteSession(session.userId, session.id);
    return null;
  }
  const user = await store.findUserById(session.userId);
  // A switch to end-to-end mode deletes every browser session in its transaction; none should remain.
  if (!user || user.mode !== 'server-key') return null;
  if (now - session.lastSeenAt > TOUCH_INTERVAL_MS) await store.touchSession(session.id, now);
  let vault: Vault | null = null;
  if (session.wrappedKey) {
    try {
      vault = new Vault(store, user.id, unwrapDataKey(token, user.id, session.wrappedKey));
    } catch {
      vault = null; // a wrap that no longer opens leaves the session locked
    }
  }
  return { session, user, vault };
}

/** Browser family and platform, for the sessions list: no version, no fingerprint. */
export function sessionLabel(userAgent: string | undefined): string {
  const ua = userAgent ?? '';
  const browser = /Firefox\//.test(ua) ? 'Firefox' : /Edg\//.test(ua) ? 'Edge' : /Chrome\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : ua ? 'Other client' : 'Unknown client';
  const platform = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac OS X/.test(ua) ? 'macOS' : /Windows/.test(ua) ? 'Windows' : /Linux/.test(ua) ? 'Linux' : '';
  return platform ? `${browser} on ${platform}` : browser;
}
