// The server as it was at an earlier revision (issue 12's "before"), so
// `npm run bench` can measure it side by side with this one: that revision's
// tree checked out in a git worktree under .tmp/bench-baseline/ (gitignored),
// with the dependencies of its own lock file (npm ci). Both are kept, so a
// second run starts at once; a changed lock file installs again.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../test/fixtures/server-process.ts';

/**
 * The last commit on main before issue 12's work (the Node 26 runtime landed;
 * the whole-index design: every search decrypts and parses the user's whole
 * index). BENCH_BASELINE_REV picks another.
 */
export const DEFAULT_BASELINE_REV = 'd424837';

export interface Baseline {
  /** The revision as asked for, e.g. "d424837". */
  rev: string;
  /** The full commit it names. */
  commit: string;
  /** The checkout, ready to run (`node --import tsx src/server.ts` there). */
  root: string;
}

function git(...args: string[]): string {
  return execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Checks out `rev` and installs its dependencies, unless an earlier run already did. */
export function prepareBaseline(rev: string, log: (message: string) => void): Baseline {
  let commit: string;
  try {
    commit = git('rev-parse', '--verify', '--quiet', `${rev}^{commit}`);
  } catch {
    throw new Error(`BENCH_BASELINE_REV=${rev} names no commit here (a shallow clone lacks it: git fetch --unshallow); BENCH_BASELINE_SIZES=none skips the baseline`);
  }
  const root = path.join(REPO_ROOT, '.tmp', 'bench-baseline', commit.slice(0, 12));
  if (!existsSync(path.join(root, 'package.json'))) {
    log(`checking out ${rev} (${commit.slice(0, 12)}) into ${path.relative(REPO_ROOT, root)}`);
    // --force: a folder deleted by hand stays registered as a worktree until pruned.
    git('worktree', 'add', '--force', '--detach', root, commit);
  }
  // The lock file's hash marks what node_modules was installed from. npm ci installs
  // all of it, so nothing the old server imports resolves from this checkout's
  // node_modules further up.
  const lockHash = sha256(readFileSync(path.join(root, 'package-lock.json')));
  const stamp = path.join(root, 'node_modules', '.bench-installed-from');
  if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== lockHash) {
    log(`installing ${rev}'s dependencies from its lock file (npm ci)`);
    // Output to stderr: stdout carries the report.
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: ['ignore', 2, 2] });
    writeFileSync(stamp, lockHash);
  }
  return { rev, commit, root };
}
