import { expectEqual, expectTrue, fail } from '../harness/assert.ts';
import { formatRanges, readRecords, verifySeqs } from '../harness/persisted.ts';
import { randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import { startReceiver } from '../harness/kit/programs.ts';
import {
  type Json,
  waitExit,
  doneOf,
  expectExit0,
  startUdpListener,
  startShipper,
  batchFlags,
  udpFrames,
  idOf,
  linesOf,
} from './support.ts';

export const d11_6: Check = {
  id: 'd11.6',
  title: 'Order within a stream survives batching and no record goes twice (TCP through the receiver; UDP seqs)',
  points: 14,
  timeoutMs: 90_000,
  exclusive: true,
  async run(ctx) {
    const seed = ctx.seed % 100_000;
    // UDP: the seqs in the datagrams, decoded by the check
    const M = 6000;
    const udp = await startUdpListener(ctx);
    const u = await startShipper(
      ctx,
      udp.port,
      [
        '--generate',
        String(M),
        '--seed',
        String(seed),
        '--rate',
        '10000',
        ...batchFlags({ records: randInt(ctx.rng, 3, 9), delayMs: 5 }),
      ],
      { udp: true },
    );
    const exU = await waitExit(u, 30_000, 'the UDP shipper sends everything and exits');
    expectExit0(u, exU);
    const frames = await udpFrames(udp, M);
    const seen = new Map<number, string>();
    let prev = 0;
    for (let d = 0; d < frames.length; d++) {
      const f = frames[d]!;
      const lines = linesOf(f);
      for (let i = 0; i < lines.length; i++) {
        const seq = f.seq + i;
        const id = idOf(lines[i]!);
        const dup = seen.get(seq);
        if (dup !== undefined)
          fail({
            expected: 'each seq in exactly one datagram',
            received: `seq ${seq} twice (records ${dup} and ${id})`,
            where: `datagram ${d + 1} (seq ${f.seq}, count ${f.count})`,
            hint: "your TODO in lessons/day11/shipper.ts (the UDP onFlush): a batch's seq is its first record's; the next batch starts after its LAST record, not one after its first",
          });
        seen.set(seq, id);
        if (id !== `s${seed}-${seq}`)
          fail({
            expected: `the record with seq ${seq} to be the ${seq}th record (attrs.id s${seed}-${seq})`,
            received: `attrs.id ${id}`,
            where: `datagram ${d + 1} (seq ${f.seq}, count ${f.count})`,
            hint: 'record i of a batch has seq + i',
          });
        if (seq < prev)
          fail({
            expected: 'seqs to grow from datagram to datagram',
            received: `seq ${seq} after ${prev}`,
            where: `datagram ${d + 1}`,
            hint: 'batches leave in the order they were filled',
          });
        prev = seq;
      }
    }
    const missing = M - seen.size;
    expectTrue(missing <= M / 100, {
      expected: `(nearly) all ${M} records over loopback UDP`,
      received: `${seen.size} records in ${udp.datagrams.length} datagrams`,
      where: `udp port ${udp.port}`,
      hint: 'UDP may drop, but on loopback at 10,000 records/s nothing should be missing',
    });

    // TCP: through the lesson's receiver, with small, uneven batches
    const N = 30_000;
    const { rx, dataDir } = await startReceiver(ctx);
    const size = randInt(ctx.rng, 40, 300);
    const sh = await startShipper(ctx, rx.port, [
      '--generate',
      String(N),
      '--seed',
      String(seed),
      ...batchFlags({ records: size, bytes: '16KiB', delayMs: 2 }),
      '--window-batches',
      '4096',
    ]);
    const ex = await waitExit(sh, 60_000, 'the shipper delivers everything and exits');
    expectExit0(sh, ex);
    const stream = Number(doneOf(sh)['stream']);
    const stop = await rx.stop();
    expectEqual(stop.exitCode, 0, { what: 'receiver exit code after SIGTERM', where: 'receiver' });
    const { records } = await readRecords(dataDir);
    const rep = verifySeqs(records, { stream });
    const where = `${dataDir} (stream ${stream}, --batch-records ${size}, --batch-bytes 16KiB)`;
    expectTrue(rep.duplicated.length === 0 && rep.reordered === 0 && rep.lost.length === 0 && rep.count === N, {
      expected: `seqs 1..${N}, each once, in order`,
      received: `${rep.count} records; lost ${formatRanges(rep.lost)}; duplicated ${formatRanges(rep.duplicated)}; ${rep.reordered} out of order`,
      where,
      hint: "a batch's seq is its first record's, record i has seq + i, batches leave in the order they were filled",
    });
    for (let i = 0; i < records.length; i++) {
      const id = ((records[i]!.record['attrs'] as Json | undefined)?.['id'] as string | undefined) ?? '?';
      if (id !== `s${seed}-${i + 1}`)
        fail({
          expected: `record ${i + 1} to be the ${i + 1}th record generated (attrs.id s${seed}-${i + 1})`,
          received: `attrs.id ${id}`,
          where: `${where}, line ${records[i]!.lineNo} of ${records[i]!.file}`,
          hint: 'batching must keep the order records were read in',
        });
    }
  },
};
