import { expectEqual, expectTrue, show, waitFor } from '../harness/assert.ts';
import { randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import {
  type Json,
  waitExit,
  doneOf,
  expectExit0,
  waitProgress,
  startFakeReceiver,
  startShipper,
  batchFlags,
  recordOfSize,
  framesSummary,
} from './support.ts';

export const d11_4: Check = {
  id: 'd11.4',
  title:
    'A partial batch leaves --batch-delay-ms after its first record (tolerance: no sooner than D − 20 ms, no later than D + 700 ms)',
  points: 16,
  timeoutMs: 60_000,
  exclusive: true,
  async run(ctx) {
    const D = randInt(ctx.rng, 250, 400);
    const EARLY = 20;
    const LATE = 700;
    const fake = await startFakeReceiver(ctx);
    const sh = await startShipper(
      ctx,
      fake.port,
      ['--input', '-', ...batchFlags({ records: 1000, bytes: '1MiB', delayMs: D })],
      { progressMs: 50, stdin: true },
    );
    await waitProgress(
      sh,
      'a progress line in state "streaming" (connected, HELLO answered)',
      (j) => j['state'] === 'streaming',
      20_000,
    );
    for (const [round, k] of [
      [1, randInt(ctx.rng, 2, 5)],
      [2, randInt(ctx.rng, 2, 5)],
    ] as const) {
      const before = fake.batches.length;
      const recs = Array.from({ length: k }, (_, i) => recordOfSize(`t${round}-${i + 1}`, 120));
      const t0 = Date.now();
      await sh.write(recs.join('\n') + '\n');
      const got = await waitFor(() => fake.batches[before], {
        timeoutMs: D + LATE,
        what: `a BATCH with the ${k} records written at once (--batch-delay-ms ${D}, --batch-records 1000)`,
        where: `round ${round}`,
        hint: "your TODO in lessons/day11/batcher.ts (add): the batch's FIRST item arms one timer; --batch-delay-ms later it flushes the partial batch ('time'), even though no more records come",
        received: () => `no frame within ${D + LATE} ms`,
      });
      const dt = got.at - t0;
      ctx.log(`round ${round}: ${k} records written, BATCH of ${got.frame.count} arrived after ${dt} ms (D = ${D})`);
      expectTrue(dt >= D - EARLY, {
        expected: `the batch to leave no sooner than ${D - EARLY} ms after its first record (--batch-delay-ms ${D})`,
        received: `it arrived after ${dt} ms`,
        where: `round ${round}`,
        hint: 'your TODO in lessons/day11/batcher.ts (add): a batch waits for more records up to --batch-delay-ms; sending at once is batch size 1',
      });
      expectTrue(dt <= D + LATE, {
        expected: `the batch within ${D + LATE} ms`,
        received: `${dt} ms`,
        where: `round ${round}`,
      });
      expectEqual(got.frame.count, k, {
        what: `records in that batch (all ${k} written together)`,
        where: `round ${round}: ${framesSummary([got.frame])}`,
        hint: 'your TODO in lessons/day11/batcher.ts (add): records that arrive within the delay travel together: only the first one arms the timer',
      });
    }
    sh.endInput();
    const ex = await waitExit(sh, 10_000, 'end of input: the shipper sends what it has and exits');
    expectExit0(sh, ex);
    const flushes = doneOf(sh)['flushes'] as Json | undefined;
    expectTrue(Number(flushes?.['time']) >= 2, {
      expected: 'done line flushes.time ≥ 2 (both batches left on the timer)',
      received: show(flushes),
      where: 'shipper done line',
    });
  },
};
