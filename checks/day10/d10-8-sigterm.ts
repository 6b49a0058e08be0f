import { encodeBatch } from '../../shared/protocol/batch.ts';
import { expectEqual, expectTrue, fail, show, waitFor } from '../harness/assert.ts';
import { readRecords, readStats, statNumber } from '../harness/persisted.ts';
import { randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import { type Rec, startReceiver, udpPeer, recText, statsNow } from './support.ts';

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
    const datagrams = Array.from({ length: D }, (_, d) =>
      encodeBatch({
        stream,
        seq: d * K + 1,
        records: Array.from({ length: K }, (_, k) => recText(`t-${d * K + 1 + k}`)),
      }),
    );
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
    const sigtermAt = Date.now();
    const res = await rx.stop(8000);
    ctx.log(`SIGTERM → exit code ${res.exitCode}, signal ${res.signal}, after ${res.ms} ms`);
    if (res.timedOut)
      fail({
        expected: 'exit within 5 s of SIGTERM',
        received: 'still running after 8 s (killed)',
        where: `pid ${rx.pid}`,
        hint: 'your TODO in lessons/day10/receiver.ts (the shutdown handler): close the socket and the sink, an open socket keeps the process alive',
      });
    expectTrue(res.exitCode === 0 && res.signal === null, {
      expected: 'exit code 0 after SIGTERM',
      received: `exit code ${res.exitCode}, signal ${res.signal}; stderr tail: ${show(rx.stderrText().trim().slice(-300))}`,
      where: `pid ${rx.pid}`,
      hint: 'your TODO in lessons/day10/receiver.ts (the shutdown handler): drain, flush, write the final stats; onShutdown exits 0 when it returns',
    });
    expectTrue(res.ms <= 5000, {
      expected: 'exit within 5000 ms of SIGTERM',
      received: `${res.ms} ms`,
      where: `pid ${rx.pid}`,
    });
    const read = await readRecords(dataDir);
    const partial = read.files.find((f) => f.endsInPartialLine);
    expectTrue(!partial, {
      expected: 'no *.ndjson ending in a partial line after SIGTERM',
      received: `ends in ${show(partial?.partialTail)}`,
      where: partial?.file ?? dataDir,
    });
    expectEqual(read.records.length, D * K, {
      what: 'records persisted after SIGTERM',
      where: dataDir,
      hint: 'your TODO in lessons/day10/receiver.ts (the shutdown handler): flushOut() what is buffered and close the sink before exiting',
    });
    const stats = await readStats(dataDir).catch((err: Error) =>
      fail({ expected: 'stats.json to be JSON', received: err.message, where: `${dataDir}/stats.json` }),
    );
    if (!stats) fail({ expected: 'stats.json written at shutdown', received: 'no stats.json', where: dataDir });
    const updatedAt = stats['updatedAt'];
    const updatedMs = typeof updatedAt === 'string' ? Date.parse(updatedAt) : NaN;
    expectTrue(updatedMs >= sigtermAt - 5, {
      expected: `stats.json updatedAt ≥ the SIGTERM time ${new Date(sigtermAt).toISOString()}`,
      received: show(updatedAt),
      where: `${dataDir}/stats.json`,
      hint: 'your TODO in lessons/day10/receiver.ts (the shutdown handler): write the final stats (statsWriter.stop())',
    });
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
