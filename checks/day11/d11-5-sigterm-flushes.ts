import { expectEqual } from '../harness/assert.ts';
import { randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import { spawnShipper } from '../harness/kit/programs.ts';
import {
  waitExit,
  doneOf,
  expectExit0,
  waitEvent,
  startFakeReceiver,
  startUdpListener,
  udpHolds,
  decodeDatagram,
  recordOfSize,
  idOf,
  linesOf,
  framesSummary,
} from './support.ts';

export const d11_5: Check = {
  id: 'd11.5',
  title: 'SIGTERM sends the partial batch before exiting (TCP: ACKed; UDP: a last datagram): nothing lost',
  points: 14,
  timeoutMs: 60_000,
  exclusive: true,
  async run(ctx) {
    const k = randInt(ctx.rng, 5, 9);
    const recs = Array.from({ length: k }, (_, i) => recordOfSize(`term-${i + 1}`, randInt(ctx.rng, 90, 200)));
    const flags = [
      '--input',
      '-',
      '--progress-ms',
      '50',
      '--batch-records',
      '1000',
      '--batch-bytes',
      '64KiB',
      '--batch-delay-ms',
      '60000',
    ];

    // TCP: the check's receiver ACKs whatever arrives
    const fake = await startFakeReceiver(ctx);
    const tcp = spawnShipper(ctx, ['--target', `127.0.0.1:${fake.port}`, '--state-dir', await ctx.tmp(), ...flags], {
      stdin: true,
    });
    await waitEvent(
      tcp,
      'a state line to "streaming"',
      (j) => j['event'] === 'state' && j['to'] === 'streaming',
      20_000,
    );
    await tcp.write(recs.join('\n') + '\n');
    await waitEvent(
      tcp,
      `a progress line with read = ${k}`,
      (j) => j['event'] === 'progress' && Number(j['read']) >= k,
      10_000,
      '--progress-ms N prints {"event":"progress","read",…}',
    );
    expectEqual(fake.batches.length, 0, {
      what: 'BATCH frames before SIGTERM (the batch is neither full nor old enough)',
      where: 'tcp, --batch-delay-ms 60000',
      hint: 'your TODO in lessons/day11/batcher.ts (add): a batch that is neither full nor old enough stays open (it leaves on SIGTERM)',
    });
    tcp.kill('SIGTERM');
    const exT = await waitExit(
      tcp,
      6000,
      'SIGTERM: send the open batch, wait for its ACK, done line, exit 0 within 5 s',
    );
    expectExit0(tcp, exT);
    const gotT = fake.batches.flatMap((b) => linesOf(b.frame));
    expectEqual(gotT.map(idOf), recs.map(idOf), {
      what: `records received over TCP after SIGTERM`,
      where: `frames: ${framesSummary(fake.batches.map((b) => b.frame))}`,
      hint: "on SIGTERM the day 09 engine flushes the partial batch (your Batcher's flush) and drains the ACKs: check your TODOs in lessons/day11/batcher.ts",
    });
    expectEqual(doneOf(tcp)['acked'], k, { what: 'done line "acked" (tcp)', where: 'shipper done line' });

    // UDP: the check's socket
    const udp = await startUdpListener(ctx);
    const u = spawnShipper(
      ctx,
      ['--transport', 'udp', '--target', `127.0.0.1:${udp.port}`, '--state-dir', await ctx.tmp(), ...flags],
      { stdin: true },
    );
    await u.write(recs.join('\n') + '\n');
    await waitEvent(
      u,
      `a progress line with read = ${k} (udp)`,
      (j) => j['event'] === 'progress' && Number(j['read']) >= k,
      20_000,
      '--progress-ms N prints {"event":"progress","read",…} over UDP too',
    );
    expectEqual(udp.datagrams.length, 0, {
      what: 'datagrams before SIGTERM',
      where: 'udp, --batch-delay-ms 60000',
      hint: 'your TODO in lessons/day11/batcher.ts (add): a batch that is neither full nor old enough stays open (it leaves on SIGTERM)',
    });
    u.kill('SIGTERM');
    const exU = await waitExit(u, 6000, 'SIGTERM: send the open batch as a last datagram, done line, exit 0');
    expectExit0(u, exU);
    await udpHolds(udp, recs.length);
    const gotU = udp.datagrams.flatMap((d, i) => linesOf(decodeDatagram(d.buf, `datagram ${i + 1}`)));
    expectEqual(gotU.map(idOf), recs.map(idOf), {
      what: 'records received over UDP after SIGTERM',
      where: `${udp.datagrams.length} datagram(s) on port ${udp.port}`,
      hint: 'your TODOs in lessons/day11/batcher.ts (close: the partial batch leaves) and shipper.ts (the UDP shutdown handler: close the batcher, then wait for the send)',
    });
  },
};
