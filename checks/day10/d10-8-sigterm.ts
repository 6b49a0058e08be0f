import { expectEqual, expectTrue, show, waitFor } from '../harness/assert.ts';
import { readRecords, statNumber } from '../harness/persisted.ts';
import { randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import { expectFinalStats, expectSigtermExit } from '../harness/kit/shutdown.ts';
import { type Rec, batchDatagram, startReceiver, udpPeer, statsNow } from './support.ts';

export const d10_8: Check = {
  id: 'd10.8',
  title:
    'SIGTERM: exit 0 within 5 s, everything read is persisted, no partial line, final stats.json with the UDP counters',
  points: 5,
  timeoutMs: 30_000,
  async run(ctx) {
    const { rx, dataDir } = await startReceiver(ctx);
    const stream = randInt(ctx.rng, 1, 0xffff_fff0);
    const D = 100;
    const K = 4;
    const datagrams = Array.from({ length: D }, (_, d) => batchDatagram(stream, d * K + 1, K, 't'));
    const peer = await udpPeer(rx.host, rx.port);
    try {
      await peer.sendAll(datagrams, 8);
    } finally {
      peer.close();
    }
    await waitFor(
      async () =>
        statNumber(await statsNow(dataDir), 'records.received') === D * K ||
        (await readRecords(dataDir)).records.length === D * K,
      {
        timeoutMs: 5000,
        what: `the receiver to take in ${D * K} records (stats.json records.received)`,
        where: dataDir,
      },
    );
    const { sigtermAt, read } = await expectSigtermExit(ctx, rx, dataDir, {
      hang: 'your TODO in lessons/day10/receiver.ts (the shutdown handler): close the socket and the sink, an open socket keeps the process alive',
      exit: 'your TODO in lessons/day10/receiver.ts (the shutdown handler): drain, flush, write the final stats; onShutdown exits 0 when it returns',
    });
    expectEqual(read.records.length, D * K, {
      what: 'records persisted after SIGTERM',
      where: dataDir,
      hint: 'your TODO in lessons/day10/receiver.ts (the shutdown handler): flushOut() what is buffered and close the sink before exiting',
    });
    const stats = await expectFinalStats(
      dataDir,
      sigtermAt,
      'your TODO in lessons/day10/receiver.ts (the shutdown handler): write the final stats (statsWriter.stop())',
    );
    expectEqual(statNumber(stats, 'records.persisted'), D * K, {
      what: 'final stats.json records.persisted',
      where: `${dataDir}/stats.json`,
    });
    expectEqual(statNumber(stats, 'udp.datagrams'), D, {
      what: 'final stats.json udp.datagrams (datagrams read)',
      where: `${dataDir}/stats.json`,
    });
    expectTrue(typeof statNumber(stats, 'udp.kernelDrops') === 'number', {
      expected: 'final stats.json udp.kernelDrops: a number (read before the socket closes)',
      received: show((stats['udp'] as Rec | undefined)?.['kernelDrops']),
      where: `${dataDir}/stats.json`,
      hint: "your TODOs in lessons/day10/kernel-drops.ts (the reading) and receiver.ts (the shutdown handler: pollKernel() before socket.close(), the socket's row leaves /proc/net/udp with it)",
    });
  },
};
