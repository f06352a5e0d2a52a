// The versions of the cryptographic code actually running, read at run time
// (not written into the page by hand) so the security page cannot drift.
import { createRequire } from 'node:module';

export interface RuntimeVersions {
  node: string;
  openssl: string;
  argon2: string;
  /** The OPAQUE package end-to-end accounts log in with (the same one the browser bundle carries). */
  opaque: string;
}

export function runtimeVersions(): RuntimeVersions {
  const require = createRequire(import.meta.url);
  const argon2 = require('@node-rs/argon2/package.json') as { version: string };
  const opaque = require('@serenity-kit/opaque/package.json') as { version: string };
  return { node: process.versions.node, openssl: process.versions.openssl, argon2: argon2.version, opaque: opaque.version };
}
