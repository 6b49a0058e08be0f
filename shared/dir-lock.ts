/**
 * One process per directory: `<dir>/<name>.lock` holds the owner's pid. A shipper's state dir and spool
 * dir each belong to one shipper — two sharing a state dir would share a stream id and number their
 * records with the same seqs (the receiver would drop one's records as the other's duplicates), and two
 * sharing a spool would delete each other's files. A lock left by a process killed with -9 is stale (no
 * such process any more) and is taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** The directory is in use by another live process. */
export class DirLockedError extends Error {
  readonly code = 'LS_ERR_DIR_LOCKED';
  constructor(
    readonly dir: string,
    readonly pid: number,
  ) {
    super(`${dir} is in use by the process with pid ${pid}: give each shipper its own directory`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes `<dir>/<name>.lock` for this process (released at exit, or by calling the returned function). */
export function lockDir(dir: string, name: string): () => void {
  const path = join(dir, `${name}.lock`);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      let held = true;
      const release = () => {
        if (!held) return;
        held = false;
        process.off('exit', release);
        try {
          if (Number(readFileSync(path, 'utf8')) === process.pid) unlinkSync(path);
        } catch {
          // already gone
        }
      };
      process.on('exit', release);
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let pid = Number.NaN;
    try {
      pid = Number(readFileSync(path, 'utf8').trim());
    } catch {
      continue; // released between our open and our read: try again
    }
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) throw new DirLockedError(dir, pid);
    try {
      unlinkSync(path); // stale: its process is gone
    } catch {
      // someone else removed it first
    }
  }
  throw new DirLockedError(dir, -1);
}
