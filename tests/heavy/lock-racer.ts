/**
 * One racer of the lock race (issue 18, item 1): a long-lived child process that, on each `go` from its
 * parent, waits for the trial's start instant (a shared wall-clock deadline, so every racer calls
 * lockDir within the same millisecond or so), tries to take the lock, reports, and holds the lock until
 * told to release it. `take` takes the lock and keeps it (the parent then kill -9s this process to leave
 * a stale lock behind). The module under test is shared/dir-lock.ts (DIR_LOCK_MODULE overrides it, to
 * show the race catches a broken lock).
 */
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

type LockDir = (dir: string, name: string) => () => void;
const modulePath = process.env.DIR_LOCK_MODULE ?? new URL('../../shared/dir-lock.ts', import.meta.url).pathname;
const { lockDir } = (await import(pathToFileURL(resolve(modulePath)).href)) as { lockDir: LockDir };

type Msg =
  | { op: 'go'; trial: number; dir: string; name: string; at: number }
  | { op: 'release'; trial: number }
  | { op: 'take'; dir: string; name: string };

let release: (() => void) | undefined;
const send = (m: unknown) => process.send!(m);
const SLEEPER = new Int32Array(new SharedArrayBuffer(4));

process.on('message', (m: Msg) => {
  if (m.op === 'go') {
    // sleep (not spin: 6 spinners would fight over 2 cores) until the shared start instant, so the
    // kernel wakes every racer at once and as many as there are cores call lockDir together
    const nap = m.at - (performance.timeOrigin + performance.now());
    if (nap > 0) Atomics.wait(SLEEPER, 0, 0, nap);
    try {
      release = lockDir(m.dir, m.name);
      send({ op: 'result', trial: m.trial, pid: process.pid, owner: true });
    } catch (err) {
      send({
        op: 'result',
        trial: m.trial,
        pid: process.pid,
        owner: false,
        code: (err as { code?: string }).code ?? String(err),
      });
    }
  } else if (m.op === 'release') {
    release?.();
    release = undefined;
    send({ op: 'released', trial: m.trial, pid: process.pid });
  } else if (m.op === 'take') {
    release = lockDir(m.dir, m.name);
    send({ op: 'taken', pid: process.pid });
  }
});
process.on('disconnect', () => process.exit(0));
send({ op: 'up', pid: process.pid });
