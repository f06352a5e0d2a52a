// A real end-to-end client for the server tests: the OPAQUE client of
// @serenity-kit/opaque (the same package and key stretching the clients
// use), keys derived as docs/e2e-protocol.md section 1 says, and real Fernet
// tokens from src/crypto/fernet.ts. Nothing here is a stand-in for the server.
import { createHash, hkdfSync, randomBytes } from 'node:crypto';
import * as opaque from '@serenity-kit/opaque';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { fernetDecrypt, fernetEncrypt } from '../../src/crypto/fernet.ts';
import type { DirectDb, Row } from '../http/support.ts';

export const E2E_TABLES = ['users', 'sessions', 'records', 'audit', 'e2e_accounts', 'e2e_pending', 'e2e_sessions', 'e2e_records'] as const;
export const PASSWORD = 'correct horse battery staple, twice';

const hkdf = (ikm: Uint8Array, userId: string, info: string) => Buffer.from(hkdfSync('sha256', ikm, Buffer.from(userId, 'utf8'), info, 32));

export function passwordWrapKey(exportKey: string, userId: string): Buffer {
  return hkdf(Buffer.from(exportKey, 'base64url'), userId, 'anamnesis-e2e-password-wrap-v1');
}

export function recoverySecrets(code: Buffer, userId: string, key: Buffer) {
  // The proof's salt is empty (docs/e2e-protocol.md §1): a device recovering knows no user id yet.
  const recoveryAuth = hkdf(code, '', 'anamnesis-e2e-recovery-auth-v1').toString('base64url');
  return {
    recovery_wrap: fernetEncrypt(hkdf(code, userId, 'anamnesis-e2e-recovery-wrap-v1'), key),
    recovery_auth: recoveryAuth,
    recovery_verifier: createHash('sha256').update(recoveryAuth, 'utf8').digest('hex'),
  };
}

export function openRecoveryWrap(code: Buffer, userId: string, wrap: string): Buffer {
  return fernetDecrypt(hkdf(code, userId, 'anamnesis-e2e-recovery-wrap-v1'), wrap);
}

export interface E2EUser {
  email: string;
  userId: string;
  token: string;
  /** The data key K, made here, never sent. */
  key: Buffer;
  code: Buffer;
  password: string;
}

let counter = 0;
export const newEmail = () => `e2e${++counter}-${randomBytes(4).toString('hex')}@example.com`;

export function post(app: FastifyInstance, url: string, payload: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url, payload: payload as object, headers });
}

export const auth = (token: string) => ({ authorization: `Bearer ${token}` });

/** Both messages of an OPAQUE registration for `userId`, as a client runs them. */
export function finishRegistration(password: string, state: string, registrationResponse: string) {
  return opaque.client.finishRegistration({ clientRegistrationState: state, registrationResponse, password, keyStretching: 'memory-constrained' });
}

/** The body of a registration's second message: record, K under the password and under a fresh recovery code. */
export function credentialsFor(userId: string, record: { registrationRecord: string; exportKey: string }, key: Buffer, code: Buffer) {
  const { recovery_wrap, recovery_verifier } = recoverySecrets(code, userId, key);
  return {
    registration_record: record.registrationRecord,
    password_wrap: fernetEncrypt(passwordWrapKey(record.exportKey, userId), key),
    recovery_wrap,
    recovery_verifier,
  };
}

export async function signUpE2E(app: FastifyInstance, options: { email?: string; password?: string } = {}): Promise<E2EUser> {
  await opaque.ready;
  const email = options.email ?? newEmail();
  const password = options.password ?? PASSWORD;
  const started = opaque.client.startRegistration({ password });
  const first = await post(app, '/api/v1/e2e/registrations', { email, registration_request: started.registrationRequest });
  if (first.statusCode !== 200) throw new Error(`registration failed: ${first.statusCode} ${first.body}`);
  const { registration_id, user_id, registration_response } = first.json() as Record<string, string>;
  const record = finishRegistration(password, started.clientRegistrationState, registration_response!);
  const key = randomBytes(32);
  const code = randomBytes(20);
  const second = await post(app, '/api/v1/e2e/accounts', { registration_id, ...credentialsFor(user_id!, record, key, code), label: 'test laptop' });
  if (second.statusCode !== 201) throw new Error(`account creation failed: ${second.statusCode} ${second.body}`);
  const body = second.json() as { user_id: string; token: string };
  return { email, userId: body.user_id, token: body.token, key, code, password };
}

/** An OPAQUE log-in as a client runs it: the answers of both messages, and what the client made of them. */
export async function logIn(app: FastifyInstance, email: string, password: string) {
  await opaque.ready;
  const started = opaque.client.startLogin({ password });
  const start = await post(app, '/api/v1/e2e/sessions/start', { email, start_login_request: started.startLoginRequest });
  if (start.statusCode !== 200) return { start, finish: null, exportKey: null };
  const { login_id, login_response } = start.json() as Record<string, string>;
  const finished = opaque.client.finishLogin({ clientLoginState: started.clientLoginState, loginResponse: login_response!, password, keyStretching: 'memory-constrained' });
  // A wrong password: the client cannot finish; it sends what an attacker could, a well-formed but wrong message.
  const finishLoginRequest = finished?.finishLoginRequest ?? randomBytes(64).toString('base64url');
  const finish = await post(app, '/api/v1/e2e/sessions/finish', { login_id, finish_login_request: finishLoginRequest, label: 'second device' });
  return { start, finish, exportKey: finished?.exportKey ?? null };
}

/** A record token as a client makes it: {v, id, version, record} under K. */
export function sealRecord(key: Buffer, id: string, version: number, record: unknown): string {
  return fernetEncrypt(key, JSON.stringify({ v: 1, id, version, record }));
}

export function openRecord(key: Buffer, token: string): { v: number; id: string; version: number; record: unknown } {
  return JSON.parse(fernetDecrypt(key, token).toString('utf8'));
}

/** Every row of the user and E2E tables, for before/after comparisons. */
export async function snapshotE2E(db: DirectDb): Promise<Record<string, Row[]>> {
  const snapshot: Record<string, Row[]> = {};
  for (const table of E2E_TABLES) snapshot[table] = await db.query(`SELECT * FROM ${table} ORDER BY 1, 2`);
  return snapshot;
}
