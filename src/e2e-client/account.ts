// The account flows of end-to-end mode (docs/e2e-protocol.md §1 and §3):
// sign-up, log-in, recovery and the switch of a server-key account, by OPAQUE
// (RFC 9807, @serenity-kit/opaque, key stretching memory-constrained:
// Argon2id m = 64 MiB, t = 3, p = 4). The password never leaves this device;
// K is made here and sent only wrapped, under a key from the OPAQUE export key
// and under one from the recovery code.
import * as opaque from '@serenity-kit/opaque';
import type { E2eApi, KeyWraps, Write } from './api.ts';
import { E2eApiError } from './api.ts';
import { sealRecord, type UserRecord } from './envelope.ts';
import { FernetKey } from './fernet.ts';
import {
  type DataKey,
  entityId,
  generateDataKey,
  isRecordId,
  manifestKey,
  recoveryAuth,
  recoveryVerifier,
  relationId,
  unwrapWithPassword,
  unwrapWithRecoveryCode,
  wrapWithPassword,
  wrapWithRecoveryCode,
} from './keys.ts';
import { MANIFEST_ID, ManifestDigest } from './manifest.ts';
import { makeRecoveryCode, parseRecoveryCode, type RecoveryCode } from './recovery-code.ts';

/** The key stretching both sides of every OPAQUE run use; fixed by the contract. */
export const KEY_STRETCHING = 'memory-constrained' as const;

/** A wrong email, password or recovery code: the same answer for each, as the server gives. */
export class InvalidCredentials extends Error {
  constructor() {
    super('the email, password or recovery code is not right');
    this.name = 'InvalidCredentials';
  }
}

export interface Session {
  userId: string;
  /** The account's data key K: keep it in the keychain (local) or in memory (browser), never on the server. */
  dataKey: DataKey;
  /** The E2E session token (`ane_…`): send it with `api.withToken(token)`. */
  token: string;
}

export interface NewAccount extends Session {
  /** Shown to the user once: the only way back in when every device and the password are lost. */
  recoveryCode: string;
}

/** The wraps of K for a password's export key and a fresh recovery code. */
async function wrapsFor(userId: string, dataKey: DataKey, exportKey: string): Promise<{ wraps: KeyWraps; code: RecoveryCode }> {
  const code = makeRecoveryCode();
  const wraps = {
    password_wrap: await wrapWithPassword(exportKey, userId, dataKey),
    recovery_wrap: await wrapWithRecoveryCode(code.bytes, userId, dataKey),
    recovery_verifier: await recoveryVerifier(await recoveryAuth(code.bytes)),
  };
  return { wraps, code };
}

/** Finishes an OPAQUE registration the server answered; returns the record to store and the export key. */
function finishRegistration(password: string, clientRegistrationState: string, registrationResponse: string): { registrationRecord: string; exportKey: string } {
  try {
    const { registrationRecord, exportKey } = opaque.client.finishRegistration({ password, clientRegistrationState, registrationResponse, keyStretching: KEY_STRETCHING });
    return { registrationRecord, exportKey };
  } catch {
    // A registration response that is not a valid group element: the server (or something between) is broken.
    throw new E2eApiError(502, 'bad_response', 'the server sent an OPAQUE registration response that does not parse');
  }
}

/** Creates an end-to-end account: K is made here, the password and K never leave the device. */
export async function signUp(api: E2eApi, input: { email: string; password: string; label?: string }): Promise<NewAccount> {
  await opaque.ready;
  const { clientRegistrationState, registrationRequest } = opaque.client.startRegistration({ password: input.password });
  const started = await api.startRegistration(input.email, registrationRequest);
  const { registrationRecord, exportKey } = finishRegistration(input.password, clientRegistrationState, started.registration_response);
  const dataKey = generateDataKey();
  const { wraps, code } = await wrapsFor(started.user_id, dataKey, exportKey);
  const created = await api.createAccount(started.registration_id, registrationRecord, wraps, input.label);
  return { userId: created.user_id, dataKey, token: created.token, recoveryCode: code.text };
}

/** Logs in on this device: OPAQUE proves the password, its export key opens the password wrap. */
export async function logIn(api: E2eApi, input: { email: string; password: string; label?: string }): Promise<Session> {
  await opaque.ready;
  const { clientLoginState, startLoginRequest } = opaque.client.startLogin({ password: input.password });
  const started = await api.startLogin(input.email, startLoginRequest);
  let finished: ReturnType<typeof opaque.client.finishLogin>;
  try {
    finished = opaque.client.finishLogin({ clientLoginState, loginResponse: started.login_response, password: input.password, keyStretching: KEY_STRETCHING });
  } catch {
    finished = undefined;
  }
  // undefined: the password is wrong, or the email unknown (the server answered with OPAQUE's fake record).
  if (!finished) throw new InvalidCredentials();
  let answer;
  try {
    answer = await api.finishLogin(started.login_id, finished.finishLoginRequest, input.label);
  } catch (error) {
    if (error instanceof E2eApiError && error.code === 'invalid_credentials') throw new InvalidCredentials();
    throw error;
  }
  // A wrap that does not open under this password's export key is the server's fault, not the user's: WrongKey says so.
  const dataKey = await unwrapWithPassword(finished.exportKey, answer.user_id, answer.password_wrap);
  return { userId: answer.user_id, dataKey, token: answer.token };
}

/**
 * Recovers an account when every device is lost: the code proves itself and
 * opens the recovery wrap, a new password is registered, and a new recovery
 * code replaces the old one (which then opens nothing). Every other session ends.
 */
export async function recover(api: E2eApi, input: { email: string; recoveryCode: string; newPassword: string; label?: string }): Promise<NewAccount> {
  await opaque.ready;
  const code = parseRecoveryCode(input.recoveryCode);
  const { clientRegistrationState, registrationRequest } = opaque.client.startRegistration({ password: input.newPassword });
  let started;
  try {
    started = await api.startRecovery(input.email, await recoveryAuth(code.bytes), registrationRequest);
  } catch (error) {
    if (error instanceof E2eApiError && error.code === 'invalid_credentials') throw new InvalidCredentials();
    throw error;
  }
  const dataKey = await unwrapWithRecoveryCode(code.bytes, started.user_id, started.recovery_wrap);
  const { registrationRecord, exportKey } = finishRegistration(input.newPassword, clientRegistrationState, started.registration_response);
  const { wraps, code: next } = await wrapsFor(started.user_id, dataKey, exportKey);
  const finished = await api.finishRecovery(started.reset_id, registrationRecord, wraps, input.label);
  return { userId: finished.user_id, dataKey, token: finished.token, recoveryCode: next.text };
}

/** Ends this device's session on the server. */
export function logOut(api: E2eApi): Promise<void> {
  return api.logOut();
}

/** A switch begun: the new K and wraps, held until the records are re-encrypted. */
export interface ConversionDraft {
  userId: string;
  registrationId: string;
  registrationRecord: string;
  dataKey: DataKey;
  wraps: KeyWraps;
  recoveryCode: string;
}

/**
 * Begins switching a server-key account to end-to-end: `api` carries the
 * account's API key (or, in the browser, its unlocked session cookie).
 */
export async function startConversion(api: E2eApi, input: { password: string }): Promise<ConversionDraft> {
  await opaque.ready;
  const { clientRegistrationState, registrationRequest } = opaque.client.startRegistration({ password: input.password });
  const started = await api.startConversion(registrationRequest);
  const { registrationRecord, exportKey } = finishRegistration(input.password, clientRegistrationState, started.registration_response);
  const dataKey = generateDataKey();
  const { wraps, code } = await wrapsFor(started.user_id, dataKey, exportKey);
  return { userId: started.user_id, registrationId: started.registration_id, registrationRecord, dataKey, wraps, recoveryCode: code.text };
}

/** What the old account's JSON export (`GET /api/v1/export?format=json`) holds. */
export interface ExportedRecords {
  memories: Array<{ id: string; content: string; tags: string[]; created_at: string; updated_at: string }>;
  entities: Array<{ name: string; entityType: string; observations: string[] }>;
  relations: Array<{ from: string; to: string; relationType: string }>;
}

/** Every exported record sealed under the new K at version 1, and the manifest over them. */
export async function sealExport(userId: string, dataKey: DataKey, exported: ExportedRecords): Promise<Write[]> {
  const key = await FernetKey.import(dataKey);
  const D = await manifestKey(dataKey, userId);
  const records = new Map<string, UserRecord>();
  for (const m of exported.memories) {
    // Server-key memory ids are UUIDs and are kept; anything else gets a fresh one.
    const id = isRecordId(m.id) && m.id !== MANIFEST_ID ? m.id : globalThis.crypto.randomUUID();
    records.set(id, { kind: 'memory', id, content: m.content, tags: m.tags, created_at: m.created_at, updated_at: m.updated_at });
  }
  // The export lists entities and relations oldest first, without times: a
  // creation time numbered from now keeps that order, which is the graph's
  // order on every device (docs/e2e-protocol.md §2).
  const start = Date.now();
  const createdAt = (position: number): string => new Date(start + position).toISOString();
  for (const [i, e] of exported.entities.entries()) {
    const entity = { kind: 'entity' as const, name: e.name, entityType: e.entityType, observations: e.observations, created_at: createdAt(i) };
    records.set(await entityId(D, e.name), entity);
  }
  for (const [i, r] of exported.relations.entries()) {
    const relation = { kind: 'relation' as const, from: r.from, to: r.to, relationType: r.relationType, created_at: createdAt(i) };
    records.set(await relationId(D, r.from, r.to, r.relationType), relation);
  }
  const entries = [...records];
  const writes: Write[] = await Promise.all(entries.map(async ([id, record]): Promise<Write> => ({ id, base_version: 0, version: 1, token: await sealRecord(key, id, 1, record) })));
  const digest = await ManifestDigest.of(D, entries.map(([id]): [string, number] => [id, 1]));
  writes.push({ id: MANIFEST_ID, base_version: 0, version: 1, token: await sealRecord(key, MANIFEST_ID, 1, digest.record()) });
  return writes;
}

/**
 * Finishes the switch in one transaction on the server: the E2E account and
 * its re-encrypted records appear, every server-key record, key and session
 * of the account is deleted.
 */
export async function finishConversion(api: E2eApi, draft: ConversionDraft, exported: ExportedRecords, label?: string): Promise<NewAccount & { cursor: number }> {
  const writes = await sealExport(draft.userId, draft.dataKey, exported);
  const finished = await api.finishConversion(draft.registrationId, draft.registrationRecord, draft.wraps, writes, label);
  return { userId: finished.user_id, dataKey: draft.dataKey, token: finished.token, recoveryCode: draft.recoveryCode, cursor: finished.cursor };
}
