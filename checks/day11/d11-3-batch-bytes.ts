import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expectEqual, expectTrue, fail } from '../harness/assert.ts';
import { tail } from '../harness/process.ts';
import { randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import { waitExit, expectExit0, startLeg, batchFlags, recordOfSize, idOf, linesOf, framesSummary } from './support.ts';

export const d11_3: Check = {
  id: 'd11.3',
  title:
    'A batch leaves before it would pass --batch-bytes: never over, and never short of a record that would have fit',
  points: 14,
  timeoutMs: 60_000,
  async run(ctx) {
    const B = randInt(ctx.rng, 3000, 5000);
    const lines: string[] = [];
    // First batch exactly B bytes (records + their LFs): a batch may reach the limit, just not pass it.
    const first = [B - 4 * 400, 400, 400, 400, 400];
    first.forEach((sz, i) => lines.push(recordOfSize(`b-${i + 1}`, sz - 1)));
    const n = randInt(ctx.rng, 250, 350);
    for (let i = lines.length; i < n; i++) lines.push(recordOfSize(`b-${i + 1}`, randInt(ctx.rng, 80, 900)));
    const file = path.join(await ctx.tmp(), 'records.ndjson');
    await writeFile(file, lines.join('\n') + '\n');
    const flags = ['--input', file, ...batchFlags({ records: 65_535, bytes: B, delayMs: 60_000 })];
    // TCP through day 09's engine with your Batcher plugged in, and UDP (--max-datagram far above B) where
    // the shipper drives your Batcher directly: the same records must make the same batches.
    const tcp = await startLeg(ctx, 'tcp', flags);
    const udp = await startLeg(ctx, 'udp', ['--max-datagram', '65507', ...flags]);
    const [ex, exU] = await Promise.all(
      [tcp, udp].map((l) =>
        waitExit(
          l.shipper,
          30_000,
          `a batch leaves when the next record would take it past --batch-bytes${l === udp ? ' (udp)' : ''}`,
        ),
      ),
    );
    expectExit0(tcp.shipper, ex!);
    for (const l of [tcp, udp]) {
      const leg = l.name;
      const frames = await l.frames(lines.length);
      const got = frames.flatMap(linesOf);
      expectEqual(got.length, lines.length, {
        what: `records received in all (${leg})`,
        where: `frames: ${framesSummary(frames) || '(none)'}${leg === 'udp' ? `; shipper stderr: ${tail(udp.shipper.stderrText(), 3, 3) || '(empty)'}` : ''}`,
        hint: 'your TODO in lessons/day11/batcher.ts (add): flush BEFORE the record that would pass maxBytes (over UDP a batch that grew past the datagram limit cannot even be sent)',
      });
      for (let i = 0; i < lines.length; i++) {
        if (got[i] !== lines[i])
          fail({
            expected: `record ${i + 1} (id ${idOf(lines[i]!)}) at position ${i + 1}`,
            received: `id ${idOf(got[i] ?? '')}`,
            where: `the records of the BATCH frames, in order (${leg})`,
            hint: 'batching must not reorder records',
          });
      }
      let at = 0;
      for (let k = 0; k < frames.length; k++) {
        const f = frames[k]!;
        const where = `${leg} frame ${k + 1} of ${frames.length} (${framesSummary([f])}); --batch-bytes ${B}`;
        expectTrue(f.payload.length <= B, {
          expected: `every BATCH payload ≤ --batch-bytes (${B})`,
          received: `${f.payload.length} bytes`,
          where,
          hint: 'your TODO in lessons/day11/batcher.ts (add): flush BEFORE adding the record that would pass maxBytes (a record costs its bytes plus its LF)',
        });
        at += f.count;
        const next = lines[at];
        if (k < frames.length - 1 && next !== undefined) {
          const nextBytes = Buffer.byteLength(next) + 1;
          expectTrue(f.payload.length + nextBytes > B, {
            expected: `a batch to leave only when the next record would not fit (payload + next record > ${B})`,
            received: `payload ${f.payload.length} bytes left, yet the next record (${nextBytes} bytes with its LF) would have fit`,
            where,
            hint: 'your TODO in lessons/day11/batcher.ts (add): a batch that exactly reaches --batch-bytes is allowed: compare with >, not >=',
          });
        }
      }
      expectEqual(frames[0]?.count, 5, {
        what: `records in the first batch (5 records of exactly ${B} bytes with their LFs, ${leg})`,
        where: `frame 1: ${framesSummary(frames.slice(0, 1))}`,
        hint: 'your TODO in lessons/day11/batcher.ts (add): a batch may hold exactly --batch-bytes bytes; only passing it is not allowed',
      });
    }
    expectExit0(udp.shipper, exU!);
  },
};
