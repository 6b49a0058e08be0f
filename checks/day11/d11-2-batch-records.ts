import { expectEqual, show } from '../harness/assert.ts';
import { randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import {
  type Json,
  waitExit,
  doneOf,
  expectExit0,
  startFakeReceiver,
  startShipper,
  batchFlags,
  framesSummary,
} from './support.ts';

export const d11_2: Check = {
  id: 'd11.2',
  title: 'A batch leaves when it holds --batch-records records (and the last partial one at the end of input)',
  points: 14,
  timeoutMs: 60_000,
  async run(ctx) {
    const fake = await startFakeReceiver(ctx);
    const size = randInt(ctx.rng, 30, 70);
    const full = randInt(ctx.rng, 8, 15);
    const extra = randInt(ctx.rng, 1, size - 1);
    const n = size * full + extra;
    const sh = await startShipper(ctx, fake.port, [
      '--generate',
      String(n),
      '--seed',
      String(ctx.seed % 100_000),
      ...batchFlags({ records: size, bytes: '1MiB', delayMs: 60_000 }),
    ]);
    const ex = await waitExit(
      sh,
      30_000,
      'a batch leaves as soon as it holds --batch-records records; the last, partial one at the end of the input',
    );
    expectExit0(sh, ex);
    const frames = fake.batches.map((b) => b.frame);
    const counts = frames.map((f) => f.count);
    const want = [...Array<number>(full).fill(size), extra];
    expectEqual(counts, want, {
      what: `records per BATCH frame (--batch-records ${size}, ${n} records, --batch-delay-ms 60000)`,
      where: `frames received: ${framesSummary(frames)}`,
      hint: `your TODO in lessons/day11/batcher.ts (add): with a long delay and a large byte limit, every batch holds exactly --batch-records (${size}) records — not one more, not one less — and the rest leaves when the input ends`,
    });
    let next = frames[0]?.seq ?? 1;
    for (const f of frames) {
      expectEqual(f.seq, next, {
        what: 'BATCH seq (the first record of each batch follows the last of the previous one)',
        where: `frame ${framesSummary([f])}`,
      });
      next = f.seq + f.count;
    }
    const done = doneOf(sh);
    const flushes = done['flushes'] as Json | undefined;
    expectEqual(flushes?.['records'], full, {
      what: 'done line flushes.records (batches that left because they were full)',
      where: `shipper done line ${show(done, 400)}`,
      hint: "your TODO in lessons/day11/batcher.ts (add): a batch that leaves because it holds maxRecords items leaves with reason 'records' (flushes counts each reason)",
    });
    expectEqual(done['batches'], full + 1, {
      what: 'done line "batches"',
      where: `shipper done line ${show(done, 400)}`,
    });
  },
};
