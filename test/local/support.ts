// Drives the real `anamnesis-local` (bin/anamnesis-local.mjs) as a user and
// an MCP client would: its commands as child processes, and `serve` through
// the MCP SDK's own StdioClientTransport. Each "device" is its own config
// folder; no keychain answers on this machine, so the encrypted file is used.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { REPO_ROOT } from '../fixtures/server-process.ts';

export const BIN = path.join(REPO_ROOT, 'bin', 'anamnesis-local.mjs');
export const PASSPHRASE = 'a passphrase only this test knows';

export interface LocalDevice {
  dir: string;
  env: Record<string, string>;
  /** Every line any of its processes wrote to stderr. */
  stderr: string[];
}

export function newDevice(password: string, extra: Record<string, string> = {}): LocalDevice {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'anamnesis-local-device-'));
  return {
    dir,
    stderr: [],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? os.tmpdir(),
      ANAMNESIS_LOCAL_DIR: dir,
      ANAMNESIS_LOCAL_PASSPHRASE: PASSPHRASE,
      ANAMNESIS_PASSWORD: password,
      // A tool call waits for the first sync (deterministic tests); no background sync in between.
      ANAMNESIS_LOCAL_FIRST_SYNC_WAIT_MS: '120000',
      ANAMNESIS_LOCAL_SYNC_SECONDS: '3600',
      ...extra,
    },
  };
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** One command of the CLI, to its end. */
export function runCli(device: LocalDevice, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env: { ...device.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      device.stderr.push(stderr);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `anamnesis-local serve` under the MCP SDK's stdio client. */
export async function serveClient(device: LocalDevice): Promise<Client> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [BIN], cwd: REPO_ROOT, env: device.env, stderr: 'pipe' });
  const sink = new PassThrough();
  let text = '';
  sink.on('data', (chunk: Buffer) => (text += chunk.toString()));
  transport.stderr?.pipe(sink);
  const client = new Client({ name: 'anamnesis-local-test', version: '1.0.0' });
  await client.connect(transport);
  const close = client.close.bind(client);
  client.close = async () => {
    await close();
    device.stderr.push(text);
  };
  return client;
}
