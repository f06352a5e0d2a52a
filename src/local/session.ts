// A logged-in device: the profile, the secrets from the keystore, the
// ciphertext cache and the replica over it. Every command but login, signup
// and recover starts from here.
import { rmSync } from 'node:fs';
import { decodeBase64url, E2eApi, encodeBase64url, Replica, type Session, type SyncReport } from '../e2e-client/index.ts';
import { SqliteCache } from './cache.ts';
import { NotLoggedIn } from './errors.ts';
import { type CacheLease, cacheFiles, leaseCache } from './lease.ts';
import { type Keystore, KeystoreError, openKeystore } from './keystore.ts';
import type { LocalPaths } from './paths.ts';
import { keychainAccount, type Profile, readProfile, removeProfile, writeProfile } from './profile.ts';
import { ask } from './prompt.ts';
import type { LocalRecords } from './records.ts';
import { recordsOf, refresh } from './replica-store.ts';

export interface Io {
  env: NodeJS.ProcessEnv;
  /** One line for the user on stderr (stdout is the MCP stream when serving). */
  warn(line: string): void;
}

export const MIN_PASSPHRASE = 12;

/** The file keystore's passphrase: ANAMNESIS_LOCAL_PASSPHRASE, or asked at the terminal (twice when it is being set). */
function passphraseSource(io: Io, setting: boolean): () => Promise<string> {
  let cached: string | undefined;
  return async () => {
    if (cached !== undefined) return cached;
    let value = io.env.ANAMNESIS_LOCAL_PASSPHRASE;
    if (value === undefined) {
      value = await ask('Passphrase for the local credentials file: ', { secret: true, variable: 'ANAMNESIS_LOCAL_PASSPHRASE' });
      if (setting && (await ask('The same passphrase again: ', { secret: true, variable: 'ANAMNESIS_LOCAL_PASSPHRASE' })) !== value) {
        throw new KeystoreError('the two passphrases differ');
      }
    }
    if (setting && [...value].length < MIN_PASSPHRASE) throw new KeystoreError(`the passphrase for the credentials file needs at least ${MIN_PASSPHRASE} characters`);
    return (cached = value);
  };
}

export function keystoreFor(paths: LocalPaths, profile: Profile, io: Io, setting: boolean): Promise<Keystore> {
  return openKeystore({ account: keychainAccount(profile), file: paths.credentials, env: io.env, passphrase: passphraseSource(io, setting), warn: io.warn });
}

/**
 * Every request to the server gives up after REQUEST_TIMEOUT_MS: a network
 * that swallows packets must not hold a sync (and the writes queued behind
 * it) for the minutes an unanswered request would otherwise take. Given up,
 * it counts as offline.
 */
export const REQUEST_TIMEOUT_MS = 20_000;
export const boundedFetch: typeof fetch = (input, init) => globalThis.fetch(input, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });

export class Device {
  private constructor(
    readonly profile: Profile,
    readonly keystore: Keystore,
    readonly api: E2eApi,
    readonly replica: Replica,
    /** The replica's live records, indexed for the tools. */
    readonly records: LocalRecords,
    private readonly cache: SqliteCache,
    readonly lease: CacheLease,
  ) {}

  /** Syncs with the server and brings the tools' records in step with what changed. */
  async sync(): Promise<SyncReport> {
    const report = await this.replica.sync();
    refresh(this.records, this.replica, report.changed);
    return report;
  }

  /** Keeps a fresh log-in (secrets, profile) and opens its replica over this device's cache. */
  static async remember(paths: LocalPaths, server: string, email: string, session: Session, io: Io): Promise<Device> {
    const profile: Profile = { server: new URL(server).origin, email, userId: session.userId };
    const previous = readProfile(paths.profile);
    if (previous && keychainAccount(previous) !== keychainAccount(profile)) {
      // Another account was logged in here: its secrets and caches go, not to be left behind unused.
      await (await keystoreFor(paths, previous, { ...io, warn: () => {} }, false)).clear();
      removeCache(paths);
    }
    const keystore = await keystoreFor(paths, profile, io, true);
    await keystore.save({ dataKey: encodeBase64url(session.dataKey), token: session.token });
    writeProfile(paths.profile, profile);
    return Device.openWith(paths, profile, keystore, session.dataKey, session.token);
  }

  static async open(paths: LocalPaths, io: Io): Promise<Device> {
    return (await Device.unlock(paths, io)).open();
  }

  /**
   * The first, quick half of opening: the profile and the secrets (a wrong
   * passphrase fails here). `open()` then opens every cached token, which
   * takes a while on a large account.
   */
  static async unlock(paths: LocalPaths, io: Io): Promise<{ profile: Profile; open(): Promise<Device> }> {
    const profile = readProfile(paths.profile);
    if (!profile) throw new NotLoggedIn();
    const keystore = await keystoreFor(paths, profile, io, false);
    const secrets = await keystore.load();
    if (!secrets) throw new NotLoggedIn();
    const dataKey = decodeBase64url(secrets.dataKey, false);
    if (!dataKey || dataKey.length !== 32) throw new KeystoreError('the stored credentials are damaged: log in again');
    return { profile, open: () => Device.openWith(paths, profile, keystore, dataKey, secrets.token) };
  }

  private static async openWith(paths: LocalPaths, profile: Profile, keystore: Keystore, dataKey: Uint8Array<ArrayBuffer>, token: string): Promise<Device> {
    const api = new E2eApi({ baseUrl: profile.server, token, fetch: boundedFetch });
    const lease = leaseCache(paths);
    let cache: SqliteCache | null = null;
    try {
      cache = new SqliteCache(lease.file);
      cache.bindTo(profile.userId);
      const replica = await Replica.open({ api, dataKey, userId: profile.userId, cache });
      return new Device(profile, keystore, api, replica, recordsOf(replica), cache, lease);
    } catch (error) {
      cache?.close();
      lease.release();
      throw error;
    }
  }

  close(): void {
    this.cache.close();
    this.lease.release();
  }

  /** Forgets the log-in on this device: secrets, cache and profile. */
  async forget(paths: LocalPaths): Promise<void> {
    this.close();
    await this.keystore.clear();
    removeCache(paths);
    removeProfile(paths.profile);
  }
}

/** Deletes every cache file of the folder (a running process's too: its session ends anyway). */
export function removeCache(paths: LocalPaths): void {
  for (const file of cacheFiles(paths)) rmSync(file, { force: true });
}
