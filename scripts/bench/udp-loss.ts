/**
 * `npm run bench -- udp-loss`: the UDP loss curve. The same pre-encoded datagrams (≤ 1472 bytes, seeded
 * records) sent by a paced sender that does nothing else (udp-lane.ts runUdpReceiver) at the day 10
 * receiver, at fixed rates from gentle to unpaced; each point reports delivered records/s and loss %, both
 * counted from the receiver's final stats (the kernel's drop counter says where the rest went). Fixed rates
 * in records/s, so curves from two machines can be laid side by side; each point sends about 1.5 s of
 * traffic (at most --records records), so a slow point does not take minutes.
 *
 * Issue 21.3: the socket's receive buffer is all that absorbs the receiver's stalls (a GC pause, a turn of
 * the scheduler on a loaded machine), and the kernel caps what a receiver may ask for at
 * net.core.rmem_max (Linux then doubles it). Each point reports the buffer the kernel granted; the
 * 300k and 500k points run a second time with the receiver asking for the old default of 4 MiB, side by
 * side, so a machine whose cap allows the default's 16 MiB (raised by its operator: the bench never
 * changes a sysctl) shows what the larger buffer buys.
 */
import { readFileSync } from 'node:fs';
import { RecordGenerator } from '../../shared/generate.ts';
import type { BenchContext, Contender, Scenario } from './types.ts';
import { runUdpReceiver, toDatagrams } from './udp-lane.ts';

/** records/s asked per point; 0 = unpaced (as fast as the sender goes) */
export const LOSS_CURVE_RATES = [25_000, 50_000, 100_000, 150_000, 200_000, 300_000, 500_000, 0] as const;
const SECONDS_PER_POINT = 1.5;
/** the receive buffer the comparison points ask for: the receiver's default before issue 21.3 (now 16 MiB) */
const OLD_RCVBUF = 4 << 20;
/** rates (records/s) measured again with OLD_RCVBUF */
const OLD_RCVBUF_RATES = [300_000, 500_000] as const;

/** net.core.rmem_max (bytes): the most SO_RCVBUF a process may ask for; undefined off Linux. */
function rmemMax(): number | undefined {
  try {
    return Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8').trim());
  } catch {
    return undefined;
  }
}
const MiB = (n: number) => `${(n / (1 << 20)).toFixed(n % (1 << 20) ? 1 : 0)} MiB`;

const corpora = new WeakMap<BenchContext, { datagrams: Buffer[]; counts: number[] }>();

/** The first datagrams holding about `records` records. */
function slice(
  c: { datagrams: Buffer[]; counts: number[] },
  records: number,
): { datagrams: Buffer[]; counts: number[] } {
  let n = 0;
  let k = 0;
  while (k < c.counts.length && n < records) n += c.counts[k++]!;
  return { datagrams: c.datagrams.slice(0, k), counts: c.counts.slice(0, k) };
}

function point(rate: number, rcvbuf?: number): Contender {
  const asked = rate ? `${rate.toLocaleString('en-US')} records/s asked` : 'unpaced';
  return {
    name: rcvbuf ? `${asked}, --rcvbuf ${MiB(rcvbuf)} (the old default)` : asked,
    lossy: true,
    async run(ctx) {
      const c = corpora.get(ctx)!;
      const part = rate ? slice(c, Math.min(ctx.records, Math.round(rate * SECONDS_PER_POINT))) : c;
      const r = await runUdpReceiver({ ...part, rate, ...(rcvbuf ? { rcvbuf } : {}) });
      return {
        records: r.delivered,
        bytes: r.bytes,
        ms: r.ms,
        note: `sent ${Math.round(r.sentPerSec).toLocaleString('en-US')}/s, loss ${r.lossPct.toFixed(2)}% (kernel dropped ${r.kernelDrops ?? '?'} datagrams, receiver ${r.appDrops}); receive buffer granted ${r.rcvbuf === undefined ? '?' : MiB(r.rcvbuf)}`,
        extra: {
          // the chart's loss curve is the default buffer's (chart.ts plots the rows with a rateAsked)
          ...(rcvbuf ? { rcvbufAsked: rcvbuf } : { rateAsked: rate }),
          sentPerSec: Math.round(r.sentPerSec),
          lossPct: r.lossPct,
          kernelDrops: r.kernelDrops ?? -1,
          appDrops: r.appDrops,
          rcvbufGranted: r.rcvbuf ?? -1,
          records: r.records,
        },
      };
    },
  };
}

export const udpLossScenario: Scenario = {
  title: 'UDP loss curve: day 10 receiver, delivered records/s and loss % at rates from 25k records/s to unpaced',
  baseline: '25,000 records/s asked',
  defaultRecords: 500_000,
  chart: 'loss-curve',
  setup({ records }) {
    const lines = new RecordGenerator({ seed: 42, baseTimeMs: Date.UTC(2026, 10, 26) }).take(records);
    const recordBytes = Math.round(lines.reduce((n, r) => n + Buffer.byteLength(r) + 1, 0) / lines.length);
    const ctx: BenchContext = { records, recordBytes, chunks: [] };
    corpora.set(ctx, toDatagrams(lines, 10, 1472));
    return ctx;
  },
  contenders: [
    ...LOSS_CURVE_RATES.map((rate) => point(rate)),
    ...OLD_RCVBUF_RATES.map((rate) => point(rate, OLD_RCVBUF)),
  ],
  notes: `Each point: a fresh day 10 receiver (default --rcvbuf 16 MiB asked, --fsync never), ~${SECONDS_PER_POINT} s of pre-encoded datagrams (≤ 1472 bytes) from a token-bucket-paced sender (the unpaced point sends every record). records/s = records DELIVERED per second of sending; loss % (median over the runs) is in the JSON (extraMedian.lossPct) and in the chart. A sender that cannot reach the rate asked says so in its note (sent …/s). Rows "--rcvbuf ${MiB(OLD_RCVBUF)} (the old default)": the same point with the receiver asking for ${MiB(OLD_RCVBUF)} instead of the default 16 MiB; the kernel grants at most twice net.core.rmem_max, here ${rmemMax() === undefined ? 'unknown' : `${MiB(rmemMax()!)} (so at most ${MiB(2 * rmemMax()!)})`}: where that cap is at or below ${MiB(OLD_RCVBUF)}, these rows equal the default ones. Every note gives the buffer granted; loss the kernel caused is "kernel dropped", the receiver's own drops are "receiver".`,
};
