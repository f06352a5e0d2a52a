// One cache file per running process. Claude Desktop, Claude Code and Cursor
// may each start anamnesis-local at once on one machine; two replicas over
// one SQLite file would drop each other's queued writes. The first process
// takes cache.db, the next cache-2.db and so on, each a full replica synced
// through the server like a device of its own. A lock is a `.lock` file
// holding the owner's pid, made with O_EXCL; one left by a process that no
// longer runs is taken over.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { LocalPaths } from './paths.ts';

const MAX_INSTANCES = 8;

export class TooManyInstances extends Error {
  constructor() {
    super(`${MAX_INSTANCES} anamnesis-local processes already use this folder: stop one, or give each client its own ANAMNESIS_LOCAL_DIR`);
    this.name = 'TooManyInstances';
  }
}

export interface CacheLease {
  file: string;
  release(): void;
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function slotFile(paths: LocalPaths, slot: number): string {
  return slot === 1 ? paths.cache : paths.cache.replace(/\.db$/, `-${slot}.db`);
}

export function leaseCache(paths: LocalPaths): CacheLease {
  for (let slot = 1; slot <= MAX_INSTANCES; slot++) {
    const file = slotFile(paths, slot);
    const lock = `${file}.lock`;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(lock, String(process.pid), { flag: 'wx', mode: 0o600 });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        let owner = NaN;
        try {
          owner = Number(readFileSync(lock, 'utf8'));
        } catch {
          // removed meanwhile: try again
        }
        if (alive(owner) && owner !== process.pid) break;
        rmSync(lock, { force: true });
        continue;
      }
      const release = () => rmSync(lock, { force: true });
      process.once('exit', release);
      return {
        file,
        release() {
          process.removeListener('exit', release);
          release();
        },
      };
    }
  }
  throw new TooManyInstances();
}

/** Every cache file of the folder (all slots, with SQLite's -wal and -shm, and their locks). */
export function cacheFiles(paths: LocalPaths): string[] {
  const base = path.basename(paths.cache, '.db');
  return readdirSync(paths.dir).filter((name) => name.startsWith(base) && /\.db(-wal|-shm|\.lock)?$/.test(name)).map((name) => path.join(paths.dir, name));
}
