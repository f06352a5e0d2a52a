// Accounts: sign-up, log-in, unlock, deletion, and starting over after a lost
// API key. The password authenticates; only the API key derives K.
import { randomUUID } from 'node:crypto';
import { deriveDataKey, generateApiKey, isApiKey, secretLookupHash, secretsEqual } from '../crypto/keys.ts';
import { hashPassword, makeDecoyPasswordHash, passwordNeedsRehash, verifyPassword } from '../crypto/password.ts';
import { AppError, badRequest, e2eAccount, unauthorized } from '../errors.ts';
import { type ServerKeyUserRow, type Store, UniqueViolation } from '../storage/store.ts';
import { Vault } from '../vault/vault.ts';
import { countSealed } from './key-rotation.ts';
import { passwordProblem } from './password-policy.ts';

/** No spaces and no control characters (NUL, escapes, C1): none belongs in an address. */
const EMAIL = /^[^\s@\p{Cc}]{1,64}@[^\s@\p{Cc}]{1,189}\.[^\s@\p{Cc}]{2,63}$/u;
export const LOST_KEY_CONFIRMATION = 'DELETE MY MEMORIES';

/** One address, one account: case-folded, and composed (NFC) so "é" typed as e + U+0301 is the same address. */
export function normaliseEmail(email: string): string {
  return email.trim().normalize('NFC').toLowerCase();
}

/** The normalised address, or 400 validation_failed naming the field. */
export function validEmail(input: string): string {
  const email = normaliseEmail(input);
  if (!EMAIL.test(email)) throw new AppError('validation_failed', 'enter a valid email address', { field: 'email' });
  return email;
}

export class Accounts {
  #decoyHash: Promise<string> | undefined;

  constructor(private readonly store: Store) {}

  private audit(userId: string | null, action: string, outcome: string): Promise<void> {
    return this.store.appendAudit({ userId, action, outcome, at: Date.now() });
  }

  async signUp(input: { email: string; password: string }): Promise<{ user: ServerKeyUserRow; apiKey: string; vault: Vault }> {
    const email = validEmail(input.email);
    const problem = passwordProblem(input.password, email);
    if (problem) throw new AppError('validation_failed', problem, { field: 'password' });
    const apiKey = generateApiKey();
    const user: ServerKeyUserRow = {
      mode: 'server-key',
      id: randomUUID(),
      email,
      passwordHash: await hashPassword(input.password),
      apiKeyHash: secretLookupHash(apiKey),
      pendingKeyHash: null,
      pendingKeyWrap: null,
      pendingKeyExpiresAt: null,
      createdAt: Date.now(),
    };
    try {
      await this.store.createUser(user);
    } catch (error) {
      if (error instanceof UniqueViolation && error.what === 'email') throw new AppError('conflict', 'an account with this email already exists');
      throw error;
    }
    await this.audit(user.id, 'account.create', 'ok');
    return { user, apiKey, vault: Vault.forApiKey(this.store, user.id, apiKey) };
  }

  /**
   * The same answer, after the same argon2id work, for an unknown email and a
   * wrong password. Rehashes transparently when today's parameters are stronger.
   * An end-to-end account has no password hash here (its log-in is OPAQUE,
   * src/e2e/): after the same decoy work it is told where to log in.
   */
  async logIn(input: { email: string; password: string }): Promise<ServerKeyUserRow> {
    const found = await this.store.findUserByEmail(normaliseEmail(input.email));
    const user = found?.mode === 'server-key' ? found : null;
    this.#decoyHash ??= makeDecoyPasswordHash();
    const valid = await verifyPassword(user?.passwordHash ?? (await this.#decoyHash), input.password);
    if (found?.mode === 'e2e') {
      await this.audit(found.id, 'session.login', 'denied');
      throw e2eAccount();
    }
    if (!user || !valid) {
      await this.audit(user?.id ?? null, 'session.login', 'denied');
      throw unauthorized('the email or password is not right');
    }
    if (passwordNeedsRehash(user.passwordHash)) await this.store.updatePasswordHash(user.id, await hashPassword(input.password));
    await this.audit(user.id, 'session.login', 'ok');
    return user;
  }

  async checkPassword(user: ServerKeyUserRow, password: string, action: string): Promise<void> {
    if (!(await verifyPassword(user.passwordHash, password))) {
      await this.audit(user.id, action, 'denied');
      throw new AppError('forbidden', 'the password is not right');
    }
  }

  /** The vault an API key opens, after checking it is this user's current key. */
  async unlock(user: ServerKeyUserRow, apiKey: string): Promise<Vault> {
    if (!isApiKey(apiKey) || !secretsEqual(secretLookupHash(apiKey), user.apiKeyHash)) {
      await this.audit(user.id, 'session.unlock', 'denied');
      throw new AppError('forbidden', 'this is not the current API key of this account');
    }
    await this.audit(user.id, 'session.unlock', 'ok');
    return new Vault(this.store, user.id, deriveDataKey(apiKey, user.id));
  }

  /** Every row of the user (records, sessions, audit) removed in one transaction. */
  async deleteAccount(user: ServerKeyUserRow, password: string): Promise<void> {
    await this.checkPassword(user, password, 'account.delete');
    await this.store.transaction(async (tx) => {
      await tx.lockUser(user.id);
      await tx.deleteUser(user.id);
    });
  }

  /**
   * For a user who lost the API key: the password proves who they are, a new
   * key is issued, and the records it cannot decrypt are deleted, all in one
   * transaction. Every wrapped copy of the old K goes too.
   */
  async startOverWithNewKey(user: ServerKeyUserRow, input: { password: string; confirm: string }): Promise<{ apiKey: string; vault: Vault; deleted: number }> {
    if (input.confirm !== LOST_KEY_CONFIRMATION) throw badRequest(`type "${LOST_KEY_CONFIRMATION}" to confirm that every memory will be deleted`);
    await this.checkPassword(user, input.password, 'key.reset');
    const apiKey = generateApiKey();
    const deleted = await this.store.transaction(async (tx) => {
      await tx.lockUser(user.id);
      const count = await countSealed(tx, user.id);
      await tx.deleteAllRecords(user.id);
      await tx.setApiKeyHash(user.id, secretLookupHash(apiKey));
      await tx.clearWrappedKeys(user.id);
      return count;
    });
    await this.audit(user.id, 'key.reset', 'ok');
    return { apiKey, vault: Vault.forApiKey(this.store, user.id, apiKey), deleted };
  }
}
