/**
 * One process per directory: `<dir>/<name>.lock` names the owner. A shipper's state dir and spool dir
 * each belong to one shipper — two sharing a state dir would share a stream id and number their records
 * with the same seqs (the receiver would drop one's records as the other's duplicates), and two sharing a
 * spool would delete each other's files. A receiver's data dir belongs to one receiver (FileSink.open
 * takes `sink.lock`): two would interleave records files and each rebuild the other's marks wrongly.
 *
 * Taking the lock is atomic, so exactly one of any number of racers owns it (issue 18):
 *   1. the owner's line (JSON: pid, host, boot id, process start time, a random nonce) is written to a
 *      temp file first, then link()ed to `<name>.lock`: the lock never exists half-written, and link
 *      fails with EEXIST when another owner got there first. A lock file that is empty or unreadable
 *      (an older version's lock being written, or damage) is HELD, never stale.
 *   2. a lock is stale only when its owner is provably dead: same host, and no process with its pid
 *      (kill -0: ESRCH), or that pid is a zombie (killed, not yet reaped), or now belongs to a process
 *      started at another time (the pid was reused), or the machine has booted since (another boot id, same
 *      host). A lock naming this very process (an earlier incarnation with the same pid in a restarted
 *      container, or an earlier lockDir in this process) is taken again: one process is one owner.
 *   3. taking over a stale lock is itself race-free: only the process that link()s the guard
 *      `<name>.lock.takeover-<nonce of the stale lock>` may remove a lock with that nonce, and it removes
 *      the lock only after re-reading that it still holds that nonce. Every other racer sees the guard,
 *      waits a moment and tries again (it then finds the new owner, or wins the link race fairly). A
 *      guard whose own holder died mid-takeover is stale in the same sense and removed the same way.
 *
 * Across machines or containers (a volume shared by hosts with another hostname), pids cannot be
 * checked: a lock written under another hostname is treated as HELD, and the error says which host and
 * pid hold it. If that process is really gone (a container recreated under a new hostname after a
 * kill -9), remove the lock file by hand. `docker restart` keeps a container's hostname, so a restarted
 * receiver takes its own stale lock over (pid absent or started at another time).
 *
 * Released when the process exits (normally or by signal handlers that call process.exit), or by calling
 * the returned function; a lock left by kill -9 is taken over at the next start as above.
 */
import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CodedError } from './errors.ts';

/** The directory is in use by another live process (or one whose liveness cannot be checked). */
export class DirLockedError extends CodedError {
  readonly code = 'LS_ERR_DIR_LOCKED';
  constructor(
    readonly dir: string,
    /** the owner's pid; -1 when the lock names none */
    readonly pid: number,
    message?: string,
  ) {
    super(message ?? `${dir} is in use by the process with pid ${pid}: give each shipper its own directory`);
  }
}

/** What a lock (or takeover guard) file says about its owner. */
interface Owner {
  pid: number;
  host?: string;
  boot?: string;
  /** process start time in clock ticks since boot (/proc/<pid>/stat field 22) */
  start?: number;
  nonce: string;
}

const HOST = hostname();
const BOOT = readOr('/proc/sys/kernel/random/boot_id')?.trim();

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** State and start time of a process from /proc (Linux); undefined where /proc cannot tell. */
function procStat(pid: number): { state: string; start: number } | undefined {
  const text = readOr(`/proc/${pid}/stat`);
  if (text === undefined) return undefined;
  // "pid (comm) S ppid …": comm may hold spaces and parentheses, so split after the last ')'
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const start = Number(fields[19]);
  return fields[0] && Number.isFinite(start) ? { state: fields[0], start } : undefined;
}

const MY_START = procStat(process.pid)?.start;

/** Parses a lock file: JSON from this version, a bare pid from older ones; undefined when it names no owner. */
function parseOwner(text: string): Owner | undefined {
  const t = text.trim();
  if (/^\d+$/.test(t)) {
    const pid = Number(t);
    // an older version's lock: a bare pid, written on this host; its identity for a takeover is its content
    return pid > 0 ? { pid, nonce: `legacy-${pid}` } : undefined;
  }
  try {
    const o = JSON.parse(t) as Partial<Owner>;
    if (!Number.isInteger(o.pid) || o.pid! <= 0 || typeof o.nonce !== 'string' || !/^[0-9a-z-]+$/.test(o.nonce))
      return undefined;
    return {
      pid: o.pid!,
      nonce: o.nonce,
      ...(typeof o.host === 'string' ? { host: o.host } : {}),
      ...(typeof o.boot === 'string' ? { boot: o.boot } : {}),
      ...(typeof o.start === 'number' ? { start: o.start } : {}),
    };
  } catch {
    return undefined;
  }
}

/** The owner named by `path`: 'gone' when the file does not exist, 'unreadable' when it names nobody. */
function readOwner(path: string): Owner | 'gone' | 'unreadable' {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : 'unreadable';
  }
  return parseOwner(text) ?? 'unreadable';
}

type Verdict = 'alive' | 'dead' | 'foreign';

/** Is the owner provably dead? (see the file comment, rule 2) */
function judge(o: Owner): Verdict {
  if (o.host !== undefined && o.host !== HOST) return 'foreign';
  if (o.boot !== undefined && BOOT !== undefined && o.boot !== BOOT) return 'dead'; // this host has booted since
  // This process's own pid: an earlier incarnation (a restarted container reuses pids), or an earlier
  // lockDir of this same process (a test reopening a dir) — either way the lock is ours to take again.
  if (o.pid === process.pid) return 'dead';
  try {
    process.kill(o.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return 'dead';
    // EPERM: the process exists (another user's)
  }
  const st = procStat(o.pid);
  if (st?.state === 'Z' || st?.state === 'X') return 'dead'; // killed, not yet reaped by its parent
  if (st && o.start !== undefined && st.start !== o.start) return 'dead'; // the pid now names another process
  return 'alive';
}

function tryLink(from: string, to: string): boolean {
  try {
    linkSync(from, to);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

const SLEEPER = new Int32Array(new SharedArrayBuffer(4));
/** A short synchronous pause while another process finishes a takeover (lockDir is synchronous). */
function pause(ms: number): void {
  Atomics.wait(SLEEPER, 0, 0, ms);
}

/** Writes this process's owner line to a fresh temp file beside `target` and returns its path. */
function ownerFile(target: string, me: Owner): string {
  const tmp = `${target}.${me.nonce}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(me)}\n`, { flag: 'wx' });
  return tmp;
}

/**
 * Removes `file` if it still holds `stale` (whose owner was judged dead), race-free (rule 3). Returns
 * false when another live process is doing that takeover right now (the caller waits and retries).
 */
function removeStale(file: string, stale: Owner, me: Owner, depth: number): boolean {
  const guard = `${file}.takeover-${stale.nonce}`;
  const tmp = ownerFile(guard, me);
  try {
    for (let attempt = 0; attempt < 8; attempt++) {
      if (tryLink(tmp, guard)) {
        try {
          const now = readOwner(file);
          // Only the holder of this guard removes a lock with this nonce: if it is still there, it is
          // the stale one; if not, someone took it over before us and we leave the new lock alone.
          if (typeof now === 'object' && now.nonce === stale.nonce) unlinkQuiet(file);
        } finally {
          unlinkQuiet(guard);
        }
        return true;
      }
      const g = readOwner(guard);
      if (g === 'gone') continue;
      if (g === 'unreadable' || judge(g) !== 'dead' || depth >= 4) return false;
      // the guard's holder died mid-takeover: its guard is stale, removed by the same rule one level down
      if (!removeStale(guard, g, me, depth + 1)) return false;
    }
    return false;
  } finally {
    unlinkQuiet(tmp);
  }
}

/**
 * Takes `<dir>/<name>.lock` for this process (released at exit, or by calling the returned function).
 * Throws DirLockedError when another live process holds it; `hint` ends the error's message.
 */
export function lockDir(dir: string, name: string, hint = 'give each shipper its own directory'): () => void {
  const path = join(dir, `${name}.lock`);
  const me: Owner = {
    pid: process.pid,
    host: HOST,
    ...(BOOT ? { boot: BOOT } : {}),
    ...(MY_START !== undefined ? { start: MY_START } : {}),
    nonce: randomBytes(8).toString('hex'),
  };
  const tmp = ownerFile(path, me);
  try {
    for (let attempt = 0; ; attempt++) {
      if (tryLink(tmp, path)) break;
      const owner = readOwner(path);
      if (owner === 'gone') continue; // released between our link and our read: try again
      if (owner === 'unreadable') {
        throw new DirLockedError(
          dir,
          -1,
          `${dir} is locked: ${path} names no owner (being written by another process, or damaged; if no process uses ${dir}, remove it): ${hint}`,
        );
      }
      const verdict = judge(owner);
      if (verdict === 'foreign') {
        throw new DirLockedError(
          dir,
          owner.pid,
          `${dir} is in use by the process with pid ${owner.pid} on host ${owner.host} (a lock from another host cannot be checked; if that process is gone, remove ${path}): ${hint}`,
        );
      }
      if (verdict === 'alive')
        throw new DirLockedError(dir, owner.pid, `${dir} is in use by the process with pid ${owner.pid}: ${hint}`);
      if (attempt >= 200) {
        // ~2 s of another live process holding the takeover guard of this stale lock: not normal, say so
        throw new DirLockedError(
          dir,
          -1,
          `${dir}: the stale lock of pid ${owner.pid} is being taken over by another process (${path}.takeover-${owner.nonce}): ${hint}`,
        );
      }
      // stale: remove it race-free, then race for the link again; wait while another racer takes it over
      if (!removeStale(path, owner, me, 0)) pause(Math.min(1 + attempt, 10));
    }
  } finally {
    unlinkQuiet(tmp);
  }
  let holding = true;
  const release = () => {
    if (!holding) return;
    holding = false;
    process.off('exit', release);
    const now = readOwner(path);
    // Remove only our own lock: nobody takes a live owner's lock, so it cannot change under us.
    if (typeof now === 'object' && now.nonce === me.nonce) unlinkQuiet(path);
  };
  process.on('exit', release);
  return release;
}
