// Heavy suite (`npm run test:heavy`), issue 18 item 1: 6 processes race for one lock 100 times —
// even trials on a free directory, odd ones over a stale lock left by a racer killed with SIGKILL —
// and every trial has exactly one owner. LOCK_TRIALS overrides the count.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRace, type Race, type TrialResult } from './lock-race.ts';

const TRIALS = Number(process.env.LOCK_TRIALS ?? 100);
const RACERS = 6;

describe(`dir-lock: ${RACERS} processes race ${TRIALS} times`, () => {
  let race: Race;
  beforeAll(async () => {
    race = await startRace(RACERS);
  });
  afterAll(async () => {
    await race?.close();
  });

  it('exactly one owner in every trial, fresh or over a lock left by kill -9', async () => {
    const results: TrialResult[] = [];
    for (let t = 0; t < TRIALS; t++) results.push(await race.trial(t % 2 === 1));
    for (const stale of [false, true]) {
      const histogram = new Map<number, number>();
      for (const r of results.filter((x) => x.stale === stale))
        histogram.set(r.owners, (histogram.get(r.owners) ?? 0) + 1);
      const summary = [...histogram]
        .sort((a, b) => a[0] - b[0])
        .map(([owners, n]) => `${owners} owner(s): ${n} trials`)
        .join(', ');
      process.stdout.write(
        `[dir-lock race] ${RACERS} racers, ${stale ? 'over a stale lock (kill -9)' : 'free directory'}: ${summary}\n`,
      );
    }
    const bad = results.filter(
      (r) =>
        r.owners !== 1 ||
        !r.namesOwner ||
        r.files.join() !== 'race.lock' ||
        r.refused.some((c) => c !== 'LS_ERR_DIR_LOCKED'),
    );
    expect(
      bad,
      'trials without exactly one owner named by the lock file, with files other than race.lock, or refused by anything but LS_ERR_DIR_LOCKED',
    ).toEqual([]);
  });
});
