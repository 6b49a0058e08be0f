import { encodeBatch } from '../../shared/protocol/batch.ts';
import { expectEqual, expectTrue, show, waitFor } from '../harness/assert.ts';
import { formatRanges, readRecords, statNumber, type Stats } from '../harness/persisted.ts';
import { randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import { idOf, rxOf } from '../harness/kit/records.ts';
import { batchDatagram, startReceiver, udpPeer, recText, statsNow, streamStats } from './support.ts';

export const d10_4: Check = {
  id: 'd10.4',
  title:
    'Under overload the reported loss is the true loss, the kernel drops are reported, and the receiver stays healthy',
  points: 25,
  timeoutMs: 40_000,
  exclusive: true,
  async run(ctx) {
    const K = 5; // records per datagram
    const DATAGRAMS = 6000;
    const N = K * DATAGRAMS;
    const { rx, dataDir } = await startReceiver(ctx, ['--rcvbuf', '4096']);
    const stream = randInt(ctx.rng, 1, 0xffff_fff0);
    const datagrams: Buffer[] = [];
    const pad = 'x'.repeat(150);
    for (let d = 0; d < DATAGRAMS; d++) datagrams.push(batchDatagram(stream, d * K + 1, K, 'o', { msg: pad }));
    const peer = await udpPeer(rx.host, rx.port);
    let sendErrors: number;
    let probeSends = 0;
    try {
      const t0 = Date.now();
      sendErrors = await peer.sendAll(datagrams, 256);
      ctx.log(
        `blasted ${DATAGRAMS} datagrams (${N} records, ${datagrams[0]!.length} bytes each) in ${Date.now() - t0} ms at a receiver with --rcvbuf 4096; ${sendErrors} sends failed`,
      );

      // Let the receiver work through what it got: received stops moving for a few stats updates.
      let last = -1;
      let stable = 0;
      let lastUpdate: unknown;
      await waitFor(
        async () => {
          const st = await statsNow(dataDir);
          if (!st || st['updatedAt'] === lastUpdate) return false;
          lastUpdate = st['updatedAt'];
          const now = statNumber(st, 'records.received') ?? -1;
          stable = now === last ? stable + 1 : 0;
          last = now;
          return stable >= 3;
        },
        {
          timeoutMs: 10_000,
          what: 'the receiver to finish what it received (stats.json records.received stops moving)',
          where: `${dataDir}/stats.json`,
        },
      );
      expectTrue(!rx.exited, {
        expected: 'the receiver to survive the overload',
        received: `it exited; stderr: ${show(rx.stderrText().slice(-400))}`,
        where: `pid ${rx.pid}`,
      });

      // Healthy: a record sent afterwards (seq N + 1) is persisted. Sent again if it does not show up.
      const probe = encodeBatch({ stream, seq: N + 1, records: [recText('probe')] });
      let lastProbeAt = 0;
      await waitFor(
        async () => {
          if (Date.now() - lastProbeAt > 700) {
            probeSends++;
            lastProbeAt = Date.now();
            await peer.sendAll([probe]);
          }
          return (await readRecords(dataDir)).records.some((p) => idOf(p.record) === 'probe');
        },
        {
          timeoutMs: 6000,
          what: 'a record sent after the overload (the "probe", seq N + 1) to be persisted',
          where: dataDir,
          hint: 'the receiver must stay healthy under overload: keep reading, drop nothing it has read',
        },
      );
    } finally {
      peer.close();
    }
    ctx.log(`probe sent ${probeSends} time(s)`);

    // The true loss, from the files: seqs 1..N+1 that were not persisted.
    const read = await readRecords(dataDir);
    const seen = new Map<number, number>();
    for (const p of read.records) {
      const meta = rxOf(p);
      if (meta['stream'] === stream && typeof meta['seq'] === 'number')
        seen.set(meta['seq'], (seen.get(meta['seq']) ?? 0) + 1);
    }
    // (The probe may have been sent twice: its copies are the check's doing, d10.3 grades dedup.)
    const dups = [...seen].filter(([s, n]) => n > 1 && s <= N).map(([s]) => s);
    expectTrue(dups.length === 0, {
      expected: 'no seq persisted twice',
      received: `seqs ${formatRanges(dups)} twice`,
      where: dataDir,
    });
    const lost: number[] = [];
    for (let s = 1; s <= N + 1; s++) if (!seen.has(s)) lost.push(s);
    const lostBlast = lost.filter((s) => s <= N).length;
    ctx.log(
      `true loss from the files: ${lost.length} of ${N + 1} records (${((100 * lost.length) / (N + 1)).toFixed(1)}%): ${formatRanges(lost, 5)}`,
    );
    expectTrue(lostBlast > 0, {
      expected: `some loss when ${DATAGRAMS} datagrams are sent as fast as possible at a receiver with --rcvbuf 4096`,
      received: 'every record arrived: the check could not overload the receiver',
      where: dataDir,
      hint: 'is --rcvbuf applied to the socket (recvBufferSize / setRecvBufferSize)?',
    });

    let st: Stats | null = null;
    await waitFor(
      async () => {
        st = await statsNow(dataDir);
        const s = streamStats(st, stream);
        expectEqual(s?.['hwm'], N + 1, {
          what: `stats.json streams["${stream}"].hwm (the probe's seq)`,
          where: `${dataDir}/stats.json`,
          hint: 'your TODO in lessons/day10/seq-accounting.ts (account): hwm is the highest seq seen on the stream',
        });
        expectEqual(s?.['gaps'], lost.length, {
          what: `stats.json streams["${stream}"].gaps = the records missing from the files (seqs sent minus seqs persisted)`,
          where: `${dataDir}/stats.json`,
          hint: 'your TODOs in lessons/day10/seq-accounting.ts (account, openGap): every seq below the highest seen that never arrived is a gap; count it when a later seq shows it is missing',
        });
        return true;
      },
      { timeoutMs: 5000, what: 'stats.json to account for the loss', where: `${dataDir}/stats.json` },
    );
    const stats = st as Stats | null;
    const kernelDrops = statNumber(stats, 'udp.kernelDrops');
    const appDrops = statNumber(stats, 'udp.appDrops') ?? 0;
    const dupProbes = Number(streamStats(stats, stream)?.['duplicates'] ?? 0);
    ctx.log(
      `stats: gaps ${lost.length}, udp.kernelDrops ${kernelDrops}, udp.appDrops ${appDrops}, probe duplicates ${dupProbes}`,
    );
    expectTrue(typeof kernelDrops === 'number' && kernelDrops > 0, {
      expected:
        "stats.json udp.kernelDrops: the kernel's drop counter for the receiver's socket (> 0 after this overload)",
      received: show(kernelDrops),
      where: `${dataDir}/stats.json`,
      hint: 'your TODOs in lessons/day10/kernel-drops.ts: parse the rows of /proc/net/udp (and udp6) and take the "drops" column of the row whose local address and port are your socket\'s',
    });
    // Every lost datagram was dropped by some layer: the kernel (buffer full) or the receiver itself.
    const lostDatagrams = lostBlast / K + (probeSends - 1 - dupProbes);
    if (sendErrors === 0) {
      expectEqual(kernelDrops + appDrops, lostDatagrams, {
        what: `udp.kernelDrops + udp.appDrops = the datagrams that never made it (${lostBlast / K} of the blast${probeSends > 1 ? `, ${probeSends - 1 - dupProbes} probe resends` : ''})`,
        where: `${dataDir}/stats.json`,
        hint: "your TODO in lessons/day10/kernel-drops.ts (readKernelUdpCounters): the kernel's counter is per socket, take the row of YOUR socket's local address and port",
      });
    }
    expectTrue(!rx.exited, {
      expected: 'the receiver still running after the overload',
      received: 'it exited',
      where: `pid ${rx.pid}`,
    });
  },
};
