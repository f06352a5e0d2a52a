// The browser client's code, bundled with esbuild from src/web/e2e/browser/
// into one file whose name carries its content hash, once per process at
// start-up. The build is reproducible (fixed options, paths relative to the
// repository root, no timestamps), so anyone can rebuild a release and compare
// its SHA-384 with the published one (release.json, checked by a test).
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { integrityOf } from '../assets.ts';

export const REPOSITORY_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** The bundle's entry point, relative to the repository root. */
export const BUNDLE_ENTRY = 'src/web/e2e/browser/main.ts';
/** The name the asset machinery knows the bundle by (its URL adds the content hash). */
export const BUNDLE_NAME = 'e2e.js';

export interface BrowserBundle {
  body: Buffer;
  /** Hex SHA-256 of the body, as published in release.json. */
  sha256: string;
  /** The Subresource Integrity value of the body: `sha384-` + base64 SHA-384. */
  integrity: string;
}

async function buildOnce(): Promise<BrowserBundle> {
  const result = await build({
    absWorkingDir: REPOSITORY_ROOT,
    entryPoints: [BUNDLE_ENTRY],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    charset: 'utf8',
    legalComments: 'eof',
    // Readable on purpose: a reviewer can read what runs beside the key.
    minify: false,
    sourcemap: false,
    logLevel: 'silent',
  });
  const file = result.outputFiles[0];
  if (!file || result.outputFiles.length !== 1) throw new Error('the browser bundle did not build into exactly one file');
  const body = Buffer.from(file.contents);
  return { body, sha256: createHash('sha256').update(body).digest('hex'), integrity: integrityOf(body) };
}

let built: Promise<BrowserBundle> | null = null;

/** The bundle, built on first use and kept for the life of the process (the build is a pure function of the source). */
export function browserBundle(): Promise<BrowserBundle> {
  built ??= buildOnce();
  return built;
}
