// The local MCP server's failures as the user reads them on stderr: fixed
// text, never a password, key, token or record plaintext.
import { E2eApiError, IntegrityError, InvalidCredentials, OfflineError } from '../e2e-client/index.ts';
import { KeystoreError } from './keystore.ts';
import { TooManyInstances } from './lease.ts';
import { NoTerminal } from './prompt.ts';

export class UsageError extends Error {}

export class NotLoggedIn extends Error {
  constructor() {
    super('not logged in on this device: run `anamnesis-local login --server URL --email you@example.com` first');
    this.name = 'NotLoggedIn';
  }
}

/** A failure as the user may read it: fixed text, never a secret or a record. */
export function describeError(error: unknown): string {
  if (error instanceof InvalidCredentials) return 'the email, password or recovery code is not right';
  if (error instanceof OfflineError) return 'the server could not be reached';
  if (error instanceof E2eApiError) return `the server answered ${error.status} ${error.code}: ${error.message}`;
  // Fixed text naming a record id (random or a keyed hash) and the failure, never plaintext.
  if (error instanceof IntegrityError) return `WARNING: ${error.message}; nothing of it was taken in`;
  if (error instanceof NotLoggedIn || error instanceof TooManyInstances || error instanceof KeystoreError || error instanceof NoTerminal || error instanceof UsageError) return error.message;
  if (error instanceof Error) return `unexpected ${error.name}`;
  return 'unexpected failure';
}

