/**
 * The lock race (issue 18, item 1), shared by the quick test (shared/dir-lock.test.ts, 1 trial of each
 * kind) and the heavy suite (tests/heavy/dir-lock.test.ts, 100 trials): RACERS long-lived processes each
 * call lockDir on the same directory at the same instant; exactly one may own it. Odd trials start with
 * a stale lock in place — left by a racer killed with SIGKILL while holding it — so the takeover of a
 * stale lock races too.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { copyFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RACER = fileURLToPath(new URL('./lock-racer.ts', import.meta.url));

interface Reply {
  op: string;
  trial?: number;
  pid: number;
  owner?: boolean;
  code?: string;
}

export interface TrialResult {
  trial: number;
  stale: boolean;
  owners: number;
  /** the lock file names the one owner */
  namesOwner: boolean;
  /** error codes of the racers that did not get the lock */
  refused: string[];
  /** files left in the directory while the owner holds the lock (only `<name>.lock` should be there) */
  files: string[];
}

class Racer {
  private waiters: Array<{ match: (r: Reply) => boolean; resolve: (r: Reply) => void }> = [];
  readonly exited: Promise<void>;
  constructor(readonly child: ChildProcess) {
    child.on('message', (r: Reply) => {
      const i = this.waiters.findIndex((w) => w.match(r));
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(r);
    });
    this.exited = new Promise((res) => child.once('exit', () => res()));
  }
  next(match: (r: Reply) => boolean, what: string): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`racer ${this.child.pid}: no ${what} within 30 s`)), 30_000);
      this.waiters.push({ match, resolve: (r) => (clearTimeout(timer), resolve(r)) });
    });
  }
}

function spawnRacer(env: NodeJS.ProcessEnv): Racer {
  return new Racer(
    fork(RACER, [], { execArgv: ['--import', 'tsx'], env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
}

export interface Race {
  dir: string;
  trial(stale: boolean): Promise<TrialResult>;
  close(): Promise<void>;
}

/** Starts `racers` racer processes on a fresh directory. `env` (e.g. DIR_LOCK_MODULE) goes to them. */
export async function startRace(racers: number, env: NodeJS.ProcessEnv = process.env): Promise<Race> {
  const dir = await mkdtemp(join(os.tmpdir(), 'lock-race-'));
  const name = 'race';
  const lock = join(dir, `${name}.lock`);
  const all = Array.from({ length: racers }, () => spawnRacer(env));
  await Promise.all(all.map((r) => r.next((m) => m.op === 'up', 'start')));

  // A stale lock, left the way a crash leaves it: a racer takes the lock and is killed with SIGKILL.
  const victim = spawnRacer(env);
  await victim.next((m) => m.op === 'up', 'start');
  victim.child.send({ op: 'take', dir, name });
  await victim.next((m) => m.op === 'taken', 'lock');
  victim.child.kill('SIGKILL');
  await victim.exited;
  const staleCopy = join(dir, 'stale-lock.copy');
  await copyFile(lock, staleCopy);

  let n = 0;
  return {
    dir,
    async trial(stale) {
      const trial = ++n;
      await rm(lock, { force: true });
      if (stale) await copyFile(staleCopy, lock); // the dead racer's own lock file, as it left it
      const at = Date.now() + 40;
      const results = all.map((r) => r.next((m) => m.op === 'result' && m.trial === trial, `result of trial ${trial}`));
      for (const r of all) r.child.send({ op: 'go', trial, dir, name, at });
      const got = await Promise.all(results);
      const files = (await readdir(dir)).filter((f) => f !== 'stale-lock.copy').sort();
      const owners = got.filter((g) => g.owner);
      // the lock file names the owner (JSON from this version; a bare pid from older ones)
      const text = (await readFile(lock, 'utf8').catch(() => '')).trim();
      const named = /^\d+$/.test(text) ? Number(text) : ((JSON.parse(text || '{}') as { pid?: number }).pid ?? -1);
      const released = all.map((r) =>
        r.next((m) => m.op === 'released' && m.trial === trial, `release of trial ${trial}`),
      );
      for (const r of all) r.child.send({ op: 'release', trial });
      await Promise.all(released);
      return {
        trial,
        stale,
        owners: owners.length,
        namesOwner: owners.length === 1 && named === owners[0]!.pid,
        refused: got.filter((g) => !g.owner).map((g) => g.code ?? '?'),
        files,
      };
    },
    async close() {
      for (const r of all) r.child.disconnect();
      await Promise.all(all.map((r) => r.exited));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
