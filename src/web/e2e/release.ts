// The published hash of each release's browser bundle. release.json is
// committed with the code it describes (npm run web-release writes it); a test
// rebuilds the bundle and fails if they differ, and the security page and
// GET /security/web-release.json show it beside what this server serves, so a
// user can compare the code their browser runs with the code that was released.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { hashedName } from '../assets.ts';
import { BUNDLE_NAME, type BrowserBundle, browserBundle, REPOSITORY_ROOT } from './bundle.ts';

export const RELEASE_FILE = path.join(REPOSITORY_ROOT, 'src/web/e2e/release.json');

const releaseSchema = z.strictObject({
  release: z.string(),
  bundle: z.strictObject({ file: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/), integrity: z.string().startsWith('sha384-') }),
});

export type ReleaseManifest = z.infer<typeof releaseSchema>;

function packageVersion(): string {
  return z.object({ version: z.string() }).parse(JSON.parse(readFileSync(path.join(REPOSITORY_ROOT, 'package.json'), 'utf8'))).version;
}

/** The manifest that describes `bundle`: what release.json must hold for this code. */
export function releaseOf(bundle: BrowserBundle): ReleaseManifest {
  return { release: packageVersion(), bundle: { file: hashedName(BUNDLE_NAME, bundle.body), sha256: bundle.sha256, integrity: bundle.integrity } };
}

/** The committed manifest. */
export function publishedRelease(): ReleaseManifest {
  return releaseSchema.parse(JSON.parse(readFileSync(RELEASE_FILE, 'utf8')));
}

export function writeRelease(manifest: ReleaseManifest): void {
  writeFileSync(RELEASE_FILE, `${JSON.stringify(manifest, null, 2)}\n`);
}

export interface WebRelease {
  /** What this server serves. */
  served: ReleaseManifest;
  /** What was published with this code. */
  published: ReleaseManifest;
}

export async function webRelease(): Promise<WebRelease> {
  return { served: releaseOf(await browserBundle()), published: publishedRelease() };
}
