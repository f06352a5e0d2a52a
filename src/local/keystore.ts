// Where the local MCP server keeps the two secrets of a log-in: the data key
// K and the session token. In the operating system's keychain where one
// answers (macOS Keychain, Windows Credential Manager, the Secret Service on
// Linux desktops) through @napi-rs/keyring; otherwise in an encrypted file,
// with a warning on stderr.
//
// The file fallback: AES-256-GCM (node:crypto) under a key stretched from a
// passphrase with Argon2id (m = 64 MiB, t = 3, p = 4, a fresh 16-byte salt
// per write). The passphrase comes from ANAMNESIS_LOCAL_PASSPHRASE or, at a
// terminal, a prompt. What it protects against: a copy of the file alone (a
// backup, a synced or shared config folder, a stolen disk image without the
// MCP client's configuration) opens nothing without the passphrase, and each
// guess costs one Argon2id. What it does not protect against: anything that
// runs as the user (it can read the passphrase from the MCP client's
// configuration or the process's environment, or the key from this
// process's memory), and a weak passphrase. A keychain does better: the OS
// guards the secret with the user's log-in and, on macOS and Windows, per
// application.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { Algorithm, hashRaw } from '@node-rs/argon2';
import { z } from 'zod';

export interface Secrets {
  /** base64url of the 32-byte data key K. */
  dataKey: string;
  /** The session token `ane_…`. */
  token: string;
}

const secretsSchema = z.object({ dataKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/), token: z.string().regex(/^ane_[A-Za-z0-9_-]{43}$/) });

/** A keystore failure with a fixed message (never a secret, never a path's contents). */
export class KeystoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeystoreError';
  }
}

export interface Keystore {
  /** Where the secrets are, for `status` and the warning: "the OS keychain" or the file's path. */
  readonly where: string;
  readonly isKeychain: boolean;
  save(secrets: Secrets): Promise<void>;
  /** null when nothing is stored. */
  load(): Promise<Secrets | null>;
  clear(): Promise<void>;
}

const SERVICE = 'anamnesis-local';

/** The OS keychain, or null when none answers on this machine (a probe entry is written, read and removed). */
async function keychain(account: string): Promise<Keystore | null> {
  let keyring: typeof import('@napi-rs/keyring');
  try {
    keyring = await import('@napi-rs/keyring');
  } catch {
    return null; // no prebuilt binary for this platform
  }
  try {
    const probe = new keyring.Entry(SERVICE, `probe-${randomBytes(6).toString('hex')}`);
    probe.setPassword('probe');
    const ok = probe.getPassword() === 'probe';
    probe.deletePassword();
    if (!ok) return null;
  } catch {
    return null;
  }
  const entry = new keyring.Entry(SERVICE, account);
  return {
    where: 'the OS keychain',
    isKeychain: true,
    async save(secrets) {
      entry.setPassword(JSON.stringify(secrets));
    },
    async load() {
      const stored = entry.getPassword();
      if (stored === null || stored === undefined) return null;
      return parseSecrets(stored);
    },
    async clear() {
      try {
        entry.deletePassword();
      } catch {
        // nothing stored
      }
    },
  };
}

function parseSecrets(text: string): Secrets {
  try {
    return secretsSchema.parse(JSON.parse(text));
  } catch {
    throw new KeystoreError('the stored credentials are damaged: log in again');
  }
}

export const FILE_KDF = { memoryCost: 65536, timeCost: 3, parallelism: 4, outputLen: 32 } as const;

const fileSchema = z.object({
  v: z.literal(1),
  kdf: z.literal('argon2id'),
  m: z.number().int(),
  t: z.number().int(),
  p: z.number().int(),
  salt: z.string(),
  nonce: z.string(),
  ciphertext: z.string(),
});

async function stretch(passphrase: string, salt: Buffer, params: { m: number; t: number; p: number }): Promise<Buffer> {
  return hashRaw(passphrase, { algorithm: Algorithm.Argon2id, memoryCost: params.m, timeCost: params.t, parallelism: params.p, outputLen: 32, salt });
}

/** The encrypted file; `passphrase` is asked for only when the file is read or written. */
export function fileKeystore(file: string, passphrase: () => Promise<string>): Keystore {
  return {
    where: file,
    isKeychain: false,
    async save(secrets) {
      const salt = randomBytes(16);
      const nonce = randomBytes(12);
      const params = { m: FILE_KDF.memoryCost, t: FILE_KDF.timeCost, p: FILE_KDF.parallelism };
      const key = await stretch(await passphrase(), salt, params);
      const cipher = createCipheriv('aes-256-gcm', key, nonce);
      cipher.setAAD(Buffer.from('anamnesis-local-credentials-v1'));
      const body = Buffer.concat([cipher.update(JSON.stringify(secrets), 'utf8'), cipher.final(), cipher.getAuthTag()]);
      const content = JSON.stringify({ v: 1, kdf: 'argon2id', ...params, salt: salt.toString('base64url'), nonce: nonce.toString('base64url'), ciphertext: body.toString('base64url') });
      // Written whole then renamed: a crash never leaves half a file.
      writeFileSync(`${file}.tmp`, content, { mode: 0o600 });
      renameSync(`${file}.tmp`, file);
    },
    async load() {
      if (!existsSync(file)) return null;
      let stored: z.infer<typeof fileSchema>;
      try {
        stored = fileSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
      } catch {
        throw new KeystoreError('the credentials file is damaged: log in again');
      }
      const key = await stretch(await passphrase(), Buffer.from(stored.salt, 'base64url'), stored);
      const body = Buffer.from(stored.ciphertext, 'base64url');
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(stored.nonce, 'base64url'));
        decipher.setAAD(Buffer.from('anamnesis-local-credentials-v1'));
        decipher.setAuthTag(body.subarray(body.length - 16));
        const text = Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString('utf8');
        return parseSecrets(text);
      } catch (error) {
        if (error instanceof KeystoreError) throw error;
        throw new KeystoreError('the passphrase does not open the credentials file');
      }
    },
    async clear() {
      rmSync(file, { force: true });
    },
  };
}

export const FILE_WARNING =
  'warning: no OS keychain answers on this machine, so the data key and session token are kept in an encrypted file ' +
  'instead, protected only by your passphrase (ANAMNESIS_LOCAL_PASSPHRASE). Anyone who can run programs as you, or read ' +
  'the passphrase where you configured it, can read your memories. See docs/mcp.md.';

/**
 * The OS keychain unless ANAMNESIS_LOCAL_KEYCHAIN=off or none answers; the
 * encrypted file otherwise, announced by a warning on stderr.
 */
export async function openKeystore(options: { account: string; file: string; env: NodeJS.ProcessEnv; passphrase: () => Promise<string>; warn: (line: string) => void }): Promise<Keystore> {
  const chain = options.env.ANAMNESIS_LOCAL_KEYCHAIN === 'off' ? null : await keychain(options.account);
  if (chain) return chain;
  options.warn(`${FILE_WARNING} File: ${options.file}`);
  return fileKeystore(options.file, options.passphrase);
}
