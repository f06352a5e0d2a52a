// npm run web-release: rebuilds the browser client's bundle and writes its
// hashes to src/web/e2e/release.json, to commit with the change that made them.
import { browserBundle } from '../web/e2e/bundle.ts';
import { releaseOf, writeRelease } from '../web/e2e/release.ts';

const manifest = releaseOf(await browserBundle());
writeRelease(manifest);
process.stdout.write(`${manifest.bundle.file} ${manifest.bundle.integrity}\n`);
