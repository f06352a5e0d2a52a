// anamnesis-local: the local MCP server of an end-to-end account, and the
// commands that log this device in and out. `serve` (the default) speaks MCP
// on stdin/stdout; everything meant for the user goes to stderr, and no
// line anywhere holds a password, key, token or record plaintext.
import os from 'node:os';
import { parseArgs } from 'node:util';
import { E2eApi, logIn, logOut, recover, signUp, type SyncReport } from '../e2e-client/index.ts';
import { passwordProblem } from '../accounts/password-policy.ts';
import { describeError, UsageError } from './errors.ts';
import { localPaths } from './paths.ts';
import { readProfile } from './profile.ts';
import { ask } from './prompt.ts';
import { serve } from './serve.ts';
import { boundedFetch, Device, type Io, MIN_PASSPHRASE } from './session.ts';
import { NotLoggedIn } from './errors.ts';

const USAGE = `anamnesis-local: your end-to-end encrypted Anamnesis memory as a local MCP server

Usage:
  anamnesis-local [serve]                           run the MCP server on stdio (what an MCP client starts)
  anamnesis-local signup --server URL --email E     create an end-to-end account and log this device in
  anamnesis-local login --server URL --email E      log this device in to an existing account
  anamnesis-local recover --server URL --email E    set a new password with the recovery code
  anamnesis-local status                            what this device holds and whether the server answers
  anamnesis-local sync                              sync now
  anamnesis-local logout                            end this device's session and forget its key and cache

Environment: ANAMNESIS_PASSWORD (instead of the password prompt), ANAMNESIS_RECOVERY_CODE,
ANAMNESIS_LOCAL_PASSPHRASE (the credentials file where no OS keychain answers), ANAMNESIS_LOCAL_DIR,
ANAMNESIS_LOCAL_KEYCHAIN=off, ANAMNESIS_LOCAL_SYNC_SECONDS. See docs/mcp.md.`;

async function secret(io: Io, variable: string, question: string): Promise<string> {
  return io.env[variable] ?? ask(question, { secret: true, variable });
}

/**
 * A new password, checked by the server-key accounts' own policy before
 * anything is sent: in end-to-end mode it is all that stands between a copy
 * of the server's database and an offline guess, and the server never sees
 * it to check.
 */
async function newPassword(io: Io, email: string): Promise<string> {
  const password = io.env.ANAMNESIS_PASSWORD ?? (await ask('New password: ', { secret: true, variable: 'ANAMNESIS_PASSWORD' }));
  const problem = passwordProblem(password, email);
  if (problem) throw new UsageError(problem);
  if (io.env.ANAMNESIS_PASSWORD === undefined && (await ask('The same password again: ', { secret: true, variable: 'ANAMNESIS_PASSWORD' })) !== password) {
    throw new UsageError('the two passwords differ');
  }
  return password;
}

function serverAndEmail(values: { server?: string; email?: string }): { server: string; email: string } {
  if (!values.server || !values.email) throw new UsageError('give --server URL and --email E');
  let url: URL;
  try {
    url = new URL(values.server);
  } catch {
    throw new UsageError('--server is not a URL');
  }
  if (url.protocol !== 'https:' && !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) throw new UsageError('--server must be https:// (plain http only on this machine)');
  return { server: url.origin, email: values.email };
}

export function describeSync(report: SyncReport): string {
  const parts = [`pushed ${report.pushed}`, `pulled ${report.pulled}`];
  if (report.merged.length) parts.push(`merged ${report.merged.length} change(s) made on another device meanwhile`);
  if (report.conflictCopies.length) parts.push(`kept ${report.conflictCopies.length} conflicting edit(s) as new memories tagged "conflict"`);
  if (report.resynced) parts.push('read everything again (the cursor was too old)');
  return `synced: ${parts.join(', ')}`;
}

async function loggedIn(io: Io, device: Device): Promise<void> {
  io.warn(`logged in as ${device.profile.email} on ${device.profile.server}; the key is in ${device.keystore.where}`);
  try {
    io.warn(describeSync(await device.sync()));
  } finally {
    device.close();
  }
}

async function run(command: string, args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args, options: { server: { type: 'string' }, email: { type: 'string' }, label: { type: 'string' } }, allowPositionals: false });
  const paths = localPaths(io.env);
  // Refused before the server is asked: a log-in whose key could then not be kept would be wasted.
  const passphrase = io.env.ANAMNESIS_LOCAL_PASSPHRASE;
  if (['signup', 'login', 'recover'].includes(command) && passphrase !== undefined && [...passphrase].length < MIN_PASSPHRASE) {
    throw new UsageError(`ANAMNESIS_LOCAL_PASSPHRASE needs at least ${MIN_PASSPHRASE} characters`);
  }
  switch (command) {
    case 'serve':
      return serve(paths, io);
    case 'signup': {
      const { server, email } = serverAndEmail(values);
      io.warn('End-to-end account: the server never sees your password or your data key. If you lose both your password and the recovery code shown next, your data is gone for good: no one, not even the operator, can bring it back.');
      const password = await newPassword(io, email);
      const account = await signUp(new E2eApi({ baseUrl: server, fetch: boundedFetch }), { email, password });
      // The recovery code goes to stdout, once, for the user to keep: it is never logged.
      process.stdout.write(`Recovery code (write it down and keep it safe; it is shown only once):\n${account.recoveryCode}\n`);
      await loggedIn(io, await Device.remember(paths, server, email, account, io));
      return 0;
    }
    case 'login': {
      const { server, email } = serverAndEmail(values);
      const password = await secret(io, 'ANAMNESIS_PASSWORD', 'Password: ');
      const session = await logIn(new E2eApi({ baseUrl: server, fetch: boundedFetch }), { email, password, label: values.label ?? `anamnesis-local on ${os.hostname()}` });
      await loggedIn(io, await Device.remember(paths, server, email, session, io));
      return 0;
    }
    case 'recover': {
      const { server, email } = serverAndEmail(values);
      const recoveryCode = await secret(io, 'ANAMNESIS_RECOVERY_CODE', 'Recovery code: ');
      const account = await recover(new E2eApi({ baseUrl: server, fetch: boundedFetch }), { email, recoveryCode, newPassword: await newPassword(io, email) });
      process.stdout.write(`New recovery code (the old one no longer works; shown only once):\n${account.recoveryCode}\n`);
      // Every other session of the account has ended. K is the same, so a cache of this account here
      // (writes not sent yet included) stays good and syncs with the new session.
      await loggedIn(io, await Device.remember(paths, server, email, account, io));
      return 0;
    }
    case 'status': {
      const profile = readProfile(paths.profile);
      if (!profile) throw new NotLoggedIn();
      const device = await Device.open(paths, io);
      try {
        const { replica, records } = device;
        process.stdout.write(
          [
            `account:  ${profile.email} (${profile.userId})`,
            `server:   ${profile.server}`,
            `key:      in ${device.keystore.where}`,
            `cache:    ${device.lease.file}: ${records.size} records, ${replica.pendingCount} write(s) waiting for the server`,
          ].join('\n') + '\n',
        );
        try {
          const account = await device.api.account();
          process.stdout.write(`online:   the server holds ${account.records} records (cursor ${account.cursor})\n`);
        } catch (error) {
          process.stdout.write(`online:   no (${describeError(error)})\n`);
        }
      } finally {
        device.close();
      }
      return 0;
    }
    case 'sync': {
      const device = await Device.open(paths, io);
      try {
        io.warn(describeSync(await device.sync()));
        return 0;
      } finally {
        device.close();
      }
    }
    case 'logout': {
      const device = await Device.open(paths, io);
      try {
        await logOut(device.api);
      } catch (error) {
        io.warn(`the server was not told (${describeError(error)}); this device forgets the log-in anyway`);
      }
      await device.forget(paths);
      io.warn('logged out: the key, the session and the local cache are gone from this device');
      return 0;
    }
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE + '\n');
      return 0;
    default:
      throw new UsageError(`unknown command: ${command}`);
  }
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const io: Io = { env, warn: (line) => process.stderr.write(`anamnesis-local: ${line}\n`) };
  const [first, ...rest] = argv;
  const command = first === undefined || first.startsWith('--') ? 'serve' : first;
  const args = first === undefined || first.startsWith('--') ? argv : rest;
  try {
    return await run(command, args, io);
  } catch (error) {
    io.warn(describeError(error));
    if (error instanceof UsageError) process.stderr.write(USAGE + '\n');
    return 1;
  }
}
