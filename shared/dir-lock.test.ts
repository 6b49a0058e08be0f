// shared/dir-lock.ts (issue 18, item 1): one owner however the racers interleave; an empty or foreign
// lock is held; a lock is stale only when its owner is provably dead, and a stale one is taken over.
// The 100-trial race is in the heavy suite (tests/heavy/dir-lock.test.ts, `npm run test:heavy`).
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startRace } from '../tests/heavy/lock-race.ts';
import { DirLockedError, lockDir } from './dir-lock.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(os.tmpdir(), 'dir-lock-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const owner = (o: Record<string, unknown>) =>
  `${JSON.stringify({ host: hostname(), nonce: 'aaaaaaaaaaaaaaaa', ...o })}\n`;
const DEAD_PID = 999_999_999; // above any pid_max: kill -0 says ESRCH

describe('lockDir', () => {
  it('takes and releases; a second lockDir in the same process takes it over (one process, one owner)', async () => {
    const first = lockDir(dir, 'x');
    const text = await readFile(join(dir, 'x.lock'), 'utf8');
    expect(JSON.parse(text)).toMatchObject({ pid: process.pid, host: hostname() });
    const second = lockDir(dir, 'x');
    const secondText = await readFile(join(dir, 'x.lock'), 'utf8');
    expect(secondText).not.toBe(text);
    first(); // releases only its own lock: the second one stays
    expect(await readFile(join(dir, 'x.lock'), 'utf8')).toBe(secondText);
    second();
    expect(await readdir(dir)).toEqual([]);
  });

  it('an empty or unreadable lock is held, not stale', async () => {
    await writeFile(join(dir, 'x.lock'), '');
    expect(() => lockDir(dir, 'x')).toThrow(DirLockedError);
    await writeFile(join(dir, 'x.lock'), '{"pid":');
    expect(() => lockDir(dir, 'x')).toThrow(/names no owner/);
    expect(await readdir(dir)).toEqual(['x.lock']); // no temp file left behind
  });

  it('a live owner holds it; another host holds it (pids there cannot be checked)', async () => {
    await writeFile(join(dir, 'x.lock'), owner({ pid: process.ppid }));
    expect(() => lockDir(dir, 'x')).toThrow(new RegExp(`pid ${process.ppid}`));
    await writeFile(join(dir, 'x.lock'), owner({ pid: DEAD_PID, host: 'some-other-host' }));
    expect(() => lockDir(dir, 'x', 'give each receiver its own --data-dir')).toThrow(
      /on host some-other-host .*remove .*x\.lock.*--data-dir/,
    );
  });

  it('stale when provably dead: no such pid, or an older boot of this host; this very pid (an earlier incarnation) too', async () => {
    for (const o of [{ pid: DEAD_PID }, { pid: process.ppid, boot: 'an-earlier-boot' }, { pid: process.pid }]) {
      await writeFile(join(dir, 'x.lock'), owner(o));
      const release = lockDir(dir, 'x');
      expect(JSON.parse(await readFile(join(dir, 'x.lock'), 'utf8'))).toMatchObject({ pid: process.pid });
      release();
    }
    // an older version's lock: a bare pid
    await writeFile(join(dir, 'x.lock'), `${DEAD_PID}\n`);
    lockDir(dir, 'x')();
    expect(await readdir(dir)).toEqual([]);
  });

  it('a takeover guard left by a racer killed mid-takeover does not block the next one', async () => {
    await writeFile(join(dir, 'x.lock'), owner({ pid: DEAD_PID, nonce: 'stale0' }));
    await writeFile(join(dir, 'x.lock.takeover-stale0'), owner({ pid: DEAD_PID - 1, nonce: 'guard0' }));
    const release = lockDir(dir, 'x');
    expect((await readdir(dir)).sort()).toEqual(['x.lock']);
    release();
  });

  it('6 processes race (fresh, then over a lock left by kill -9): exactly one owner each time', async () => {
    const race = await startRace(6);
    try {
      for (const stale of [false, true]) {
        const r = await race.trial(stale);
        expect(r, `trial ${r.trial} (${stale ? 'stale lock' : 'fresh'})`).toMatchObject({
          owners: 1,
          namesOwner: true,
          files: ['race.lock'],
        });
        expect(r.refused).toEqual(Array(5).fill('LS_ERR_DIR_LOCKED'));
      }
    } finally {
      await race.close();
    }
  });
});
