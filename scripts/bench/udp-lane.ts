/**
 * Day 10's load runs, shared by the experiment (scripts/experiments/day10.ts) and the benchmark
 * (`npm run bench -- day10`): the same N generated records at a given rate, over
 *
 *   - day 10's UDP lane: the day 10 receiver and the day 10 shipper (`--rate`), and
 *   - day 08's TCP lane: the day 08 receiver, fed by a sender paced with the same token bucket
 *     (day 08's shipper has no --rate: it always sends as fast as TCP lets it);
 *   - the day 10 receiver alone: pre-encoded datagrams, paced, from a sender that does nothing else — so
 *     the rate where loss starts is the receiver's, not the shipper's (the benchmark's UDP rows).
 *
 * Each run starts fresh processes and a fresh data dir, and reports what was delivered (the receiver's
 * final stats.json, written at SIGTERM) and where the rest was lost: the kernel (the UDP socket's drop
 * counter) or the application (the receiver's own drops).
 */
import dgram from 'node:dgram';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { Batcher } from '../../lessons/day11/batcher.ts';
import { RecordGenerator } from '../../shared/generate.ts';
import { generateInput } from '../../lessons/day08/input.ts';
import { waitDrain } from '../../shared/net.ts';
import { encodeBatch } from '../../shared/protocol/batch.ts';
import { HEADER_SIZE } from '../../shared/protocol/frame.ts';
import { TokenBucket } from '../../shared/token-bucket.ts';
import type { Program } from '../lib/launch.ts';
import { shipperDone, startReceiver } from './receivers.ts';
import { peakRssExtra } from './rss.ts';
import type { BenchContext, Contender, RunResult, Scenario } from './types.ts';
import { readyToTime } from './warm-memory.ts';

export interface LaneRun {
  lane: 'udp' | 'tcp';
  /** records/s asked for; 0 = as fast as possible */
  rate: number;
  records: number;
  /** records/s the sender managed (sent / its own elapsed time) */
  sentPerSec: number;
  /** records persisted by the receiver */
  delivered: number;
  /** delivered / the time from the first record sent to the last one sent (UDP) or persisted (TCP) */
  deliveredPerSec: number;
  ms: number;
  /** (records - delivered) / records, in % */
  lossPct: number;
  /** the receiver's own count of records it knows it missed (sum of its streams' gaps) */
  gaps: number;
  /** datagrams the kernel dropped for the receiver's socket (UDP only) */
  kernelDrops: number | null;
  /** datagrams the receiver dropped itself (UDP only) */
  appDrops: number;
  datagrams: number;
  bytes: number;
  /** the receive buffer the kernel granted (UDP only) */
  rcvbuf?: number;
  /** the receiver's peak RSS as `extra` (rss.ts; runUdpReceiver only, empty where /proc is missing) */
  rss?: Record<string, number>;
}

export interface UdpLaneOptions {
  records: number;
  rate: number;
  /** receiver --rcvbuf (default: the receiver's default) */
  rcvbuf?: number;
  /** shipper --max-datagram (default 1472) */
  maxDatagram?: number;
  seed?: number;
}

interface FinalStats {
  records: { persisted: number; dropped: number };
  streams: Record<string, { gaps: number }>;
  udp?: { kernelDrops: number | null; appDrops: number; rcvbuf: number; datagrams: number };
}

async function tempDir(tag: string): Promise<string> {
  return mkdtemp(join(os.tmpdir(), `logstream-day10-${tag}-`));
}

/** The day 10 receiver in `dir`, not fsyncing (the disk is not what the loss curve measures), with --rcvbuf if given. */
function udpReceiver(dir: string, rcvbuf: number | undefined): Program {
  const args = ['--fsync', 'never', ...(rcvbuf !== undefined ? ['--rcvbuf', String(rcvbuf)] : [])];
  return startReceiver('day10 receiver', 'lessons/day10/receiver.ts', dir, args);
}

async function finalStats(dir: string): Promise<FinalStats> {
  return JSON.parse(await readFile(join(dir, 'stats.json'), 'utf8')) as FinalStats;
}

/** One run of the UDP lane: day 10 receiver + day 10 shipper at `rate` records/s. */
export async function runUdpLane(opts: UdpLaneOptions): Promise<LaneRun> {
  const dir = await tempDir('udp');
  const rx = udpReceiver(dir, opts.rcvbuf);
  try {
    const done = await shipperDone('the day 10 shipper', 'lessons/day10/shipper.ts', rx, opts.records, [
      '--seed',
      String(opts.seed ?? 1),
      '--rate',
      String(opts.rate),
      '--stream-id',
      '10',
      ...(opts.maxDatagram ? ['--max-datagram', String(opts.maxDatagram)] : []),
    ]);
    // SIGTERM: the receiver reads what is still in its socket buffer, then writes its final stats.
    await rx.stop();
    const st = await finalStats(dir);
    const ms = Number(done['elapsedMs']);
    const sent = Number(done['sent']);
    const delivered = st.records.persisted;
    return {
      lane: 'udp',
      rate: opts.rate,
      records: opts.records,
      sentPerSec: sent / (ms / 1000),
      delivered,
      deliveredPerSec: delivered / (ms / 1000),
      ms,
      lossPct: (100 * (opts.records - delivered)) / opts.records,
      gaps: Object.values(st.streams).reduce((n, s) => n + s.gaps, 0),
      kernelDrops: st.udp?.kernelDrops ?? null,
      appDrops: st.udp?.appDrops ?? 0,
      datagrams: Number(done['datagrams']),
      bytes: Number(done['bytes']),
      rcvbuf: st.udp?.rcvbuf,
    };
  } finally {
    await rx.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** One run of day 08's TCP lane: the same generated records, paced with the same token bucket. */
export async function runTcpLane(opts: { records: number; rate: number; seed?: number }): Promise<LaneRun> {
  const dir = await tempDir('tcp');
  const rx = startReceiver('day08 receiver', 'lessons/day08/receiver.ts', dir, ['--fsync', 'never']);
  try {
    const ready = await readyToTime(rx);
    // Generate first: the clock measures the network and the receiver, not the generator.
    const chunks: Buffer[] = [];
    const counts: number[] = [];
    for (const recs of generateInput(opts.records, opts.seed ?? 1, 256)) {
      chunks.push(Buffer.from(`${recs.join('\n')}\n`));
      counts.push(recs.length);
    }
    const bucket = new TokenBucket(opts.rate, Math.max(1, opts.rate / 20)); // as the day 10 shipper paces
    const socket = net.connect({ host: ready.host, port: ready.port });
    await new Promise<void>((res, rej) => socket.once('connect', res).once('error', rej));
    const closed = new Promise<void>((res) => socket.once('close', () => res()));
    socket.on('error', () => {});
    const t0 = performance.now();
    let bytes = 0;
    for (let i = 0; i < chunks.length; i++) {
      const wait = bucket.take(counts[i]!);
      if (wait >= 2) await new Promise((r) => setTimeout(r, wait));
      bytes += chunks[i]!.length;
      if (!socket.write(chunks[i]!)) await waitDrain(socket);
    }
    const sentMs = performance.now() - t0;
    // Day 08's receiver closes its side once it has written everything we sent.
    socket.end();
    await closed;
    const ms = performance.now() - t0;
    await rx.stop();
    const st = await finalStats(dir);
    const delivered = st.records.persisted;
    return {
      lane: 'tcp',
      rate: opts.rate,
      records: opts.records,
      sentPerSec: opts.records / (sentMs / 1000),
      delivered,
      deliveredPerSec: delivered / (ms / 1000),
      ms,
      lossPct: (100 * (opts.records - delivered)) / opts.records,
      gaps: 0,
      kernelDrops: null,
      appDrops: 0,
      datagrams: 0,
      bytes,
    };
  } finally {
    await rx.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

// ---- the receiver alone: pre-encoded datagrams, paced ---------------------------------------------

/** `lines` packed into datagrams of at most `maxDatagram` bytes by the one Batcher, seqs 1..N of `stream`. */
export function toDatagrams(
  lines: readonly string[],
  stream: number,
  maxDatagram = 1472,
): { datagrams: Buffer[]; counts: number[] } {
  const datagrams: Buffer[] = [];
  const counts: number[] = [];
  let seq = 1;
  const batcher = new Batcher<string>({
    maxRecords: 65_535,
    maxBytes: maxDatagram - HEADER_SIZE,
    maxDelayMs: 60_000,
    onFlush: (b) => {
      datagrams.push(encodeBatch({ stream, seq, records: b.items }));
      counts.push(b.items.length);
      seq += b.items.length;
    },
  });
  for (const line of lines) batcher.add(line, Buffer.byteLength(line) + 1);
  batcher.close();
  return { datagrams, counts };
}

/**
 * One run against the day 10 receiver alone: pre-encoded datagrams sent at `rate` records/s (the same
 * token bucket as the shipper), so the sender costs one send() per datagram and the receiver is what is
 * measured. The sender cannot outrun its own CPU: `sentPerSec` says what it managed.
 */
export async function runUdpReceiver(opts: {
  datagrams: readonly Buffer[];
  counts: readonly number[];
  rate: number;
  rcvbuf?: number;
}): Promise<LaneRun> {
  const records = opts.counts.reduce((a, b) => a + b, 0);
  const dir = await tempDir('udprx');
  const rx = udpReceiver(dir, opts.rcvbuf);
  const socket = dgram.createSocket('udp4');
  socket.on('error', () => {});
  try {
    const ready = await readyToTime(rx);
    await new Promise<void>((resolve) => socket.connect(ready.port, ready.host, () => resolve()));
    const bucket = new TokenBucket(opts.rate, Math.max(1, opts.rate / 20));
    let inFlight = 0;
    let wake: (() => void) | undefined;
    const onSent = () => {
      inFlight--;
      const w = wake;
      wake = undefined;
      w?.();
    };
    let bytes = 0;
    const t0 = performance.now();
    for (let i = 0; i < opts.datagrams.length; i++) {
      const wait = bucket.take(opts.counts[i]!);
      if (wait >= 2) await new Promise((r) => setTimeout(r, wait));
      while (inFlight >= 64) await new Promise<void>((r) => (wake = r));
      inFlight++;
      bytes += opts.datagrams[i]!.length;
      socket.send(opts.datagrams[i]!, onSent);
    }
    while (inFlight > 0) await new Promise<void>((r) => (wake = r));
    const ms = performance.now() - t0;
    const rss = peakRssExtra(rx.pid);
    await rx.stop();
    const st = await finalStats(dir);
    const delivered = st.records.persisted;
    return {
      lane: 'udp',
      rate: opts.rate,
      records,
      sentPerSec: records / (ms / 1000),
      delivered,
      deliveredPerSec: delivered / (ms / 1000),
      ms,
      lossPct: (100 * (records - delivered)) / records,
      gaps: Object.values(st.streams).reduce((n, x) => n + x.gaps, 0),
      kernelDrops: st.udp?.kernelDrops ?? null,
      appDrops: st.udp?.appDrops ?? 0,
      datagrams: opts.datagrams.length,
      bytes,
      rcvbuf: st.udp?.rcvbuf,
      rss,
    };
  } finally {
    socket.close();
    await rx.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The rate where loss starts: the highest rate (records/s) with less than `maxLossPct` loss. Doubles from
 * `start` until a run loses (or the sender cannot go faster), then bisects `steps` times.
 */
export async function findLossFreeRate(
  run: (rate: number) => Promise<LaneRun>,
  opts: { start: number; maxLossPct: number; steps?: number; onProbe?: (r: LaneRun) => void },
): Promise<{ rate: number; probes: LaneRun[]; senderLimited: boolean }> {
  const probes: LaneRun[] = [];
  const probe = async (rate: number) => {
    const r = await run(Math.round(rate));
    probes.push(r);
    opts.onProbe?.(r);
    return r;
  };
  let good = 0;
  let bad = 0;
  for (let rate = opts.start; ; rate *= 2) {
    const r = await probe(rate);
    if (r.lossPct >= opts.maxLossPct) {
      bad = rate;
      break;
    }
    good = Math.min(rate, r.sentPerSec);
    // The sender is at its own limit without loss: loss never started at rates it can reach.
    if (r.sentPerSec < rate * 0.8) return { rate: Math.round(good), probes, senderLimited: true };
  }
  for (let i = 0; i < (opts.steps ?? 4); i++) {
    const mid = (good + bad) / 2;
    const r = await probe(mid);
    if (r.lossPct < opts.maxLossPct) good = Math.min(mid, r.sentPerSec);
    else bad = mid;
  }
  return { rate: Math.round(good), probes, senderLimited: false };
}

// ---- `npm run bench -- day10` ----------------------------------------------------------------------

interface Day10Bench {
  rate: number;
  datagrams: Buffer[];
  counts: number[];
}
const day10Bench = new WeakMap<BenchContext, Day10Bench>();

const pct = (n: number) => (n === 0 ? '0' : n < 0.001 ? '<0.001' : n.toFixed(3));

function asResult(r: LaneRun, extraNote = ''): RunResult {
  return {
    records: r.delivered,
    bytes: r.bytes,
    ms: r.ms,
    note: `${r.rate ? `asked ${r.rate}/s, ` : ''}sent ${Math.round(r.sentPerSec)}/s, loss ${pct(r.lossPct)}%${r.lane === 'udp' ? ` (kernel dropped ${r.kernelDrops ?? '?'} datagrams, receiver ${r.appDrops})` : ''}${extraNote}`,
    extra: {
      rateAsked: r.rate,
      sentPerSec: Math.round(r.sentPerSec),
      deliveredPerSec: Math.round(r.deliveredPerSec),
      lossPct: r.lossPct,
      kernelDrops: r.kernelDrops,
      appDrops: r.appDrops,
      gaps: r.gaps,
      rcvbuf: r.rcvbuf,
    },
  };
}

function udpAt(fraction: number): Contender {
  return {
    name: `day10 UDP receiver at ${Math.round(fraction * 100)}% of its loss-free rate`,
    async run(ctx) {
      const b = day10Bench.get(ctx);
      if (!b?.rate) throw new Error('no loss-free rate was found in setup');
      return asResult(
        await runUdpReceiver({ datagrams: b.datagrams, counts: b.counts, rate: Math.round(b.rate * fraction) }),
      );
    },
  };
}

export const day10Scenario: Scenario = {
  title: "day 10 UDP receiver at 50/100/150% of its highest loss-free rate, beside day 08's TCP lane",
  baseline: 'day08 TCP lane (as fast as TCP allows)',
  defaultRecords: 300_000,
  async setup({ records }) {
    const lines = new RecordGenerator({ seed: 42, baseTimeMs: Date.UTC(2026, 10, 26) }).take(records);
    const recordBytes = Math.round(lines.reduce((n, r) => n + Buffer.byteLength(r) + 1, 0) / lines.length);
    const { datagrams, counts } = toDatagrams(lines, 10, 1472);
    // The rate where loss starts, found with shorter runs of the same datagrams.
    const calib = Math.min(datagrams.length, Math.ceil(datagrams.length * (200_000 / records)));
    const { rate, probes, senderLimited } = await findLossFreeRate(
      (r) => runUdpReceiver({ datagrams: datagrams.slice(0, calib), counts: counts.slice(0, calib), rate: r }),
      {
        start: 50_000,
        maxLossPct: 0.1,
        steps: 4,
        onProbe: (r) =>
          console.error(
            `  calibrating: asked ${r.rate}/s → sent ${Math.round(r.sentPerSec)}/s, delivered ${Math.round(r.deliveredPerSec)}/s, loss ${pct(r.lossPct)}% (kernel dropped ${r.kernelDrops} datagrams)`,
          ),
      },
    );
    const ctx: BenchContext = { records, recordBytes, chunks: [] };
    day10Bench.set(ctx, { rate, datagrams, counts });
    day10Scenario.notes =
      `Highest loss-free UDP rate found in setup: ${rate.toLocaleString('en-US')} records/s (< 0.1% loss; ${probes.length} probes of ${counts
        .slice(0, calib)
        .reduce((a, b) => a + b, 0)
        .toLocaleString(
          'en-US',
        )} records${senderLimited ? '; the sender could not go faster, so loss never started' : ''}). ` +
      `records/s = records DELIVERED (persisted) per second of sending; each run's loss % and the kernel's drop count are in its log line and in the JSON (extra). ` +
      `UDP receiver rows: ${datagrams.length.toLocaleString('en-US')} pre-encoded datagrams of ≤ 1472 bytes (~${(records / datagrams.length).toFixed(1)} records each), paced by a token bucket (50 ms burst) from one socket, at the day 10 receiver (default --rcvbuf 4 MiB, --fsync never). ` +
      'Shipper row: the day 10 shipper --generate --rate max (generating and encoding included). TCP row: day 08 receiver (--fsync never) fed by an unpaced sender; TCP never loses, it slows the sender.';
    return ctx;
  },
  contenders: [
    {
      name: 'day08 TCP lane (as fast as TCP allows)',
      run: async (ctx) => asResult(await runTcpLane({ records: ctx.records, rate: 0 })),
    },
    udpAt(0.5),
    udpAt(1),
    udpAt(1.5),
    {
      name: 'day10 shipper --rate max → receiver',
      run: async (ctx) => asResult(await runUdpLane({ records: ctx.records, rate: 0 })),
    },
  ],
};
