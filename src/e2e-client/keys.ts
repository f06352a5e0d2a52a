// The E2E key hierarchy of docs/e2e-protocol.md §1, on WebCrypto. Pure
// functions: nothing here logs, stores or caches a key. K is random per
// account and leaves these functions only wrapped (under the OPAQUE export
// key, or under the recovery code) or in the caller's hands.
import { decodeBase64url, encodeBase64url, encodeHex, encodeUtf8, randomBytes } from './encoding.ts';
import { FernetKey, InvalidFernetToken } from './fernet.ts';

export const PASSWORD_WRAP_INFO = 'anamnesis-e2e-password-wrap-v1';
export const RECOVERY_WRAP_INFO = 'anamnesis-e2e-recovery-wrap-v1';
export const RECOVERY_AUTH_INFO = 'anamnesis-e2e-recovery-auth-v1';
export const MANIFEST_KEY_INFO = 'anamnesis-e2e-manifest-v1';

/** The account's data key K: 32 raw bytes, a Fernet key (DESIGN.md §1). */
export type DataKey = Uint8Array<ArrayBuffer>;

const RECORD_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** A wrap that does not open under the key offered: wrong password, wrong code, or a wrap the server swapped. */
export class WrongKey extends Error {
  constructor(what: string) {
    super(`the ${what} does not open this account's data key`);
    this.name = 'WrongKey';
  }
}

/** 32 fresh bytes from the device's CSPRNG: a new account's K. */
export function generateDataKey(): DataKey {
  return randomBytes(32);
}

/** HKDF-SHA256 (RFC 5869) on WebCrypto, `length` bytes. */
export async function hkdfBytes(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Promise<Uint8Array<ArrayBuffer>> {
  const subtle = globalThis.crypto.subtle;
  const base = await subtle.importKey('raw', Uint8Array.from(ikm), 'HKDF', false, ['deriveBits']);
  const bits = await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: Uint8Array.from(salt), info: Uint8Array.from(info) }, base, length * 8);
  return new Uint8Array(bits);
}

/** HKDF-SHA256 with UTF-8 salt and info and L = 32, as every derivation of the protocol. */
export function hkdf(ikm: Uint8Array, salt: string, info: string): Promise<Uint8Array<ArrayBuffer>> {
  return hkdfBytes(ikm, encodeUtf8(salt), encodeUtf8(info), 32);
}

/** The bytes of an OPAQUE export key as @serenity-kit/opaque returns it (unpadded base64url). */
export function exportKeyBytes(exportKey: string): Uint8Array<ArrayBuffer> {
  const bytes = decodeBase64url(exportKey, false);
  if (!bytes || bytes.length < 32) throw new RangeError('an OPAQUE export key is unpadded base64url of at least 32 bytes');
  return bytes;
}

async function wrap(wrappingKey: Uint8Array, dataKey: DataKey): Promise<string> {
  if (dataKey.length !== 32) throw new RangeError('a data key is 32 bytes');
  return (await FernetKey.import(wrappingKey)).encrypt(dataKey);
}

async function unwrap(wrappingKey: Uint8Array, wrapped: string, what: string): Promise<DataKey> {
  let key: DataKey;
  try {
    key = await (await FernetKey.import(wrappingKey)).decrypt(wrapped);
  } catch (error) {
    if (error instanceof InvalidFernetToken) throw new WrongKey(what);
    throw error;
  }
  if (key.length !== 32) throw new WrongKey(what);
  return key;
}

/** W_p = HKDF(export key, user id, "anamnesis-e2e-password-wrap-v1"). */
function passwordWrapKey(exportKey: string, userId: string): Promise<Uint8Array<ArrayBuffer>> {
  return hkdf(exportKeyBytes(exportKey), userId, PASSWORD_WRAP_INFO);
}

/** password_wrap = Fernet(W_p).encrypt(K). */
export async function wrapWithPassword(exportKey: string, userId: string, dataKey: DataKey): Promise<string> {
  return wrap(await passwordWrapKey(exportKey, userId), dataKey);
}

export async function unwrapWithPassword(exportKey: string, userId: string, passwordWrap: string): Promise<DataKey> {
  return unwrap(await passwordWrapKey(exportKey, userId), passwordWrap, 'password');
}

/** recovery_wrap = Fernet(HKDF(code bytes, user id, "anamnesis-e2e-recovery-wrap-v1")).encrypt(K). */
export async function wrapWithRecoveryCode(codeBytes: Uint8Array, userId: string, dataKey: DataKey): Promise<string> {
  return wrap(await hkdf(codeBytes, userId, RECOVERY_WRAP_INFO), dataKey);
}

export async function unwrapWithRecoveryCode(codeBytes: Uint8Array, userId: string, recoveryWrap: string): Promise<DataKey> {
  return unwrap(await hkdf(codeBytes, userId, RECOVERY_WRAP_INFO), recoveryWrap, 'recovery code');
}

/**
 * recovery_auth = base64url(HKDF(code bytes, salt = "", "anamnesis-e2e-recovery-auth-v1")).
 * The salt is empty, not the user id: a device that lost everything knows
 * only the email and the code when it asks to recover, and the server tells
 * the user id only to a caller that proved the code. 160 random bits need no salt.
 */
export async function recoveryAuth(codeBytes: Uint8Array): Promise<string> {
  return encodeBase64url(await hkdf(codeBytes, '', RECOVERY_AUTH_INFO));
}

/** recovery_verifier = hex SHA-256(UTF-8(recovery_auth)): all the server keeps. */
export async function recoveryVerifier(auth: string): Promise<string> {
  return encodeHex(new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', encodeUtf8(auth))));
}

/** D = HKDF(K, user id, "anamnesis-e2e-manifest-v1"), imported as a non-extractable HMAC-SHA256 key. */
export async function manifestKey(dataKey: DataKey, userId: string): Promise<CryptoKey> {
  const raw = await hkdf(dataKey, userId, MANIFEST_KEY_INFO);
  return globalThis.crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
}

/**
 * Everything a device needs from K, as non-extractable WebCrypto keys: the
 * Fernet sub-keys (K[0:16] signs, K[16:32] encrypts) and the manifest key D
 * (which also makes entity and relation ids). Code holding these can seal,
 * open and name records but can never read K or D back out; a browser keeps
 * them in IndexedDB (structured clone keeps CryptoKeys non-extractable)
 * instead of K's bytes.
 */
export interface AccountKeys {
  signing: CryptoKey;
  encryption: CryptoKey;
  manifest: CryptoKey;
}

/** K's working keys for `userId`, imported non-extractable; K itself can then be dropped. */
export async function accountKeys(dataKey: DataKey, userId: string): Promise<AccountKeys> {
  const fernet = await FernetKey.import(dataKey);
  return { signing: fernet.signing, encryption: fernet.encryption, manifest: await manifestKey(dataKey, userId) };
}

/** A data key as raw bytes or as its working keys: either way, the Fernet key and D. */
export async function openAccountKeys(key: DataKey | AccountKeys, userId: string): Promise<{ fernet: FernetKey; manifest: CryptoKey }> {
  const keys = key instanceof Uint8Array ? await accountKeys(key, userId) : key;
  const manifest = keys.manifest.algorithm as HmacKeyAlgorithm;
  if (manifest.name !== 'HMAC' || manifest.hash?.name !== 'SHA-256' || !keys.manifest.usages.includes('sign')) throw new TypeError('a manifest key is an HMAC-SHA256 key that signs');
  return { fernet: FernetKey.from(keys.signing, keys.encryption), manifest: keys.manifest };
}

export async function hmac(key: CryptoKey, message: string): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await globalThis.crypto.subtle.sign('HMAC', key, encodeUtf8(message)));
}

async function derivedId(manifest: CryptoKey, message: string): Promise<string> {
  return 'e_' + encodeBase64url((await hmac(manifest, message)).subarray(0, 18));
}

/** An entity's id: `e_` + base64url(HMAC(D, "entity\n" + name)[0:18]); equal names meet on one id. */
export function entityId(manifest: CryptoKey, name: string): Promise<string> {
  return derivedId(manifest, `entity\n${name}`);
}

/** A relation's id, the same construction over "relation\n" + from + "\n" + to + "\n" + relationType. */
export function relationId(manifest: CryptoKey, from: string, to: string, relationType: string): Promise<string> {
  return derivedId(manifest, `relation\n${from}\n${to}\n${relationType}`);
}

/** A new memory's id: a random UUID. */
export function newMemoryId(): string {
  return globalThis.crypto.randomUUID();
}

export function isRecordId(id: string): boolean {
  return RECORD_ID.test(id);
}
