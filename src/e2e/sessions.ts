// End-to-end sessions: `ane_` + 32 random bytes, made by the server after a
// log-in, stored as hex SHA-256, wrapping nothing (the server has no key to
// wrap). They end after 30 days idle, or when the user ends them. Also the
// short-lived flow steps and audit. (The bearer hook is ./auth.ts.)
import { randomBytes, randomUUID } from 'node:crypto';
import { secretLookupHash } from '../crypto/keys.ts';
import type { E2EAccountRow, E2ESessionRow, E2EUserRow, Store, Transaction } from '../storage/store.ts';

export const E2E_SESSION_IDLE_MS = 30 * 24 * 3600_000;
/** lastSeenAt is written at most this often. */
const TOUCH_INTERVAL_MS = 60_000;
const TOKEN = /^ane_[A-Za-z0-9_-]{43}$/;
/** How long a registration, log-in, recovery or conversion may take between its two messages. */
export const STEP_TTL_MS = 10 * 60_000;

export function isE2EToken(candidate: string): boolean {
  return TOKEN.test(candidate);
}

/** Opens a session and returns its token (the only time it exists outside the client). */
export async function startE2ESession(store: Store | Transaction, userId: string, label: string | undefined, now = Date.now()): Promise<string> {
  const token = `ane_${randomBytes(32).toString('base64url')}`;
  await store.createE2ESession({
    id: randomUUID(),
    tokenHash: secretLookupHash(token),
    userId,
    label: (label ?? '').trim().slice(0, 80) || 'Unnamed device',
    createdAt: now,
    lastSeenAt: now,
  });
  return token;
}

/** The live session and account a token names, or null (an idle one is deleted). */
export async function resolveE2ESession(store: Store, token: string): Promise<{ user: E2EUserRow; session: E2ESessionRow } | null> {
  if (!isE2EToken(token)) return null;
  const session = await store.findE2ESessionByTokenHash(secretLookupHash(token));
  if (!session) return null;
  const now = Date.now();
  if (session.lastSeenAt + E2E_SESSION_IDLE_MS <= now) {
    await store.deleteE2ESession(session.userId, session.id);
    return null;
  }
  const user = await store.findUserById(session.userId);
  if (!user || user.mode !== 'e2e') return null;
  if (now - session.lastSeenAt > TOUCH_INTERVAL_MS) await store.touchE2ESession(session.id, now);
  return { user, session };
}

/** A user id no account has (ids are UUIDs): looked up in place of an unknown email's. */
export const NO_ACCOUNT = 'no-account';

/**
 * The end-to-end account of an email, or null, after the same queries
 * whether or not there is one: the time of the answer does not tell.
 */
export async function e2eAccountByEmail(store: Store, address: string): Promise<E2EAccountRow | null> {
  const user = await store.findUserByEmail(address);
  return store.findE2EAccount(user?.mode === 'e2e' ? user.id : NO_ACCOUNT);
}

/** A step id the client sends back (a bearer secret: only its hash is stored). */
export function newStepId(): { id: string; idHash: string } {
  const id = randomBytes(32).toString('base64url');
  return { id, idHash: secretLookupHash(id) };
}

export const stepHash = (id: string): string => secretLookupHash(id);

/** Metadata only: who, what, how it ended. */
export function audit(store: Store | Transaction, userId: string | null, action: string, outcome: string): Promise<void> {
  return store.appendAudit({ userId, action, outcome, at: Date.now() });
}
