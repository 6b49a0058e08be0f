/**
 * ACK latency at half the lane's maximum rate (issue 21.4, `npm run bench -- ack-latency`): day 09's
 * receiver under each fsync policy, driven by the day 14 load generator.
 *
 *   max rows   `loadgen --rate max --count N --batch-records 1000` (closed loop, like every LSP/1 row of
 *              the bench): the lane's throughput with that policy — group commit must not lower it;
 *   50 % rows  `loadgen --rate R --duration 10 --warmup 2` (open loop, its default batches of 100 / 5 ms;
 *              the first 2 s not measured, WARMUP_SECONDS): R is half
 *              the lane's maximum with its default settings (--fsync group), found in setup by one
 *              closed-loop run; the figures are the ACK latency p50 / p99 (from each record's due time to the
 *              ACK covering it: no coordinated omission).
 *
 *   never      the same open loop with --fsync never: the lane's own latency with no disk wait (what the
 *              receiver and the loadgen add, on a loaded machine mostly CPU);
 *   disk alone the disk's floor (ack-latency-disk.ts): the same bytes/s appended and fdatasync'ed back to back
 *              by nothing else. A lane's p99 can get no lower than this row's; the gap is what the lane adds.
 *
 * Each row also gives one fsync's mean, p99 and max from the receiver's fsync histogram (FileSink counters), so a
 * tail that is the disk's shows as such. Every ACK still comes only after the fsync that covers the record
 * (shared/storage/file-sink.ts).
 */
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FSYNC_BUCKETS_MS } from '../../shared/storage/file-sink.ts';
import { startProgram } from '../lib/launch.ts';
import { diskFloor } from './ack-latency-disk.ts';
import { day14Unavailable } from './day14.ts';
import { tempDir } from './receivers.ts';
import { peakRssExtra, RSS_FIGURE, SERVER_PEAK_RSS } from './rss.ts';
import type { BenchContext, Contender, RunResult, Scenario } from './types.ts';
import { readyToTime } from './warm-memory.ts';

const LOADGEN = 'lessons/day14/loadgen.ts';
const RECEIVER = 'lessons/day09/receiver.ts';
const LATENCY_SECONDS = 8;
/**
 * The 50 % rows first drive their receiver this long at the same rate, unmeasured (loadgen --warmup): a
 * receiver that has just started spends its first second compiling its hot path, and the records due
 * meanwhile wait behind it (a time series of the ACK latency with --fsync never on the loaded machine:
 * 130-500 ms in the first 0.25-2 s, then steady) — a start-up cost, not the steady-state latency the issue
 * asks for (issue 21.4). The same holds for the loadgen, so the warm-up and the measured seconds are one
 * loadgen run (a fresh loadgen after a separate warm-up run measured its own start-up: stalls of 50-200 ms in
 * its first half second on the loaded machine, its event loop's max).
 */
const WARMUP_SECONDS = 2;

interface AckLatencyContext extends BenchContext {
  /** half the lane's maximum (records/s) with --fsync group */
  halfRate: number;
  maxRate: number;
  /** bytes the receiver writes per record (the record with its _rx), for the disk-alone row's byte rate */
  diskBytesPerRecord: number;
}

type Report = Record<string, unknown>;

/** One day 09 receiver with `fsync`, one loadgen run with `loadgenArgs`; the loadgen's --json report. */
async function drive(fsync: string, loadgenArgs: string[]): Promise<Report> {
  const dir = await tempDir('acklat');
  const rx = startProgram({
    name: 'day09 receiver',
    file: RECEIVER,
    args: ['--port', '0', '--data-dir', join(dir, 'rx'), '--fsync', fsync],
  });
  try {
    const ready = await readyToTime(rx);
    const target = ['--target', `${ready.host}:${ready.port}`, '--seed', '42'];
    const json = join(dir, 'report.json');
    const lg = startProgram({
      name: 'day14 loadgen',
      file: LOADGEN,
      args: [...target, '--json', json, ...loadgenArgs],
    });
    const exit = await lg.exit;
    if (!existsSync(json)) throw new Error(`loadgen exited ${exit.exitCode ?? exit.signal} without its report`);
    const rep = JSON.parse(await readFile(json, 'utf8')) as Report;
    // the receiver's peak RSS over the run (issue 21.6), read while it still runs
    Object.assign(rep, peakRssExtra(rx.pid));
    // what one fsync cost on this disk during the run (the receiver's final stats.json, after SIGTERM)
    await rx.stop();
    const st = JSON.parse(await readFile(join(dir, 'rx', 'stats.json'), 'utf8')) as {
      sink?: SinkStats;
      eventLoopDelayMs?: Record<string, number>;
    };
    Object.assign(rep, fsyncFigures(st.sink ?? {}), loopFigures(rep, st.eventLoopDelayMs ?? {}));
    if (exit.exitCode !== 0)
      throw new Error(
        `loadgen exited ${exit.exitCode ?? exit.signal}: lost ${String(rep['lost'])}, errors ${String(rep['errors'])}`,
      );
    return rep;
  } finally {
    await rx.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

interface SinkStats {
  fsyncs?: number;
  fsyncMs?: number;
  fsyncMaxMs?: number;
  fsyncHistogram?: number[];
  bytesWritten?: number;
}

/**
 * One fsync's mean, p99 and max (ms) from the receiver's sink counters; the p99 is the upper bound of the
 * histogram bucket it falls in (FSYNC_BUCKETS_MS: 1, 2, 4, … ms), the max exact. -1: no fsync ran.
 */
function fsyncFigures(sink: SinkStats): Report {
  const fsyncs = sink.fsyncs ?? 0;
  if (!fsyncs) return { fsyncAvgMs: -1, fsyncP99Ms: -1, fsyncMaxMs: -1, sinkBytes: sink.bytesWritten ?? 0 };
  const hist = sink.fsyncHistogram ?? [];
  let seen = 0;
  let b = 0;
  while (b < hist.length - 1 && (seen += hist[b]!) < 0.99 * fsyncs) b++;
  const round1 = (ms: number) => Math.round(ms * 10) / 10;
  return {
    fsyncAvgMs: round1((sink.fsyncMs ?? 0) / fsyncs),
    // (a bucket's bound can lie above the slowest fsync: never report a p99 above the max)
    fsyncP99Ms: Math.min(FSYNC_BUCKETS_MS[b] ?? Infinity, round1(sink.fsyncMaxMs ?? -1)),
    fsyncMaxMs: round1(sink.fsyncMaxMs ?? -1),
    sinkBytes: sink.bytesWritten ?? 0,
  };
}

/**
 * Whose tail is it (issue 21.4)? The loadgen's lateness in handing records over (p99 of now − due time) and both
 * event loops' delay (p99, and the receiver's max): a stall in either shows as ACK latency the disk did not add.
 */
function loopFigures(rep: Report, rxLoop: Record<string, number>): Report {
  const r2 = (ms: number | undefined | null) => (typeof ms === 'number' ? Math.round(ms * 100) / 100 : -1);
  const lg = (k: string) => (rep[k] ?? {}) as Record<string, number | null>;
  return {
    genLateP99Ms: r2(lg('sendLagMs')['p99']),
    genLoopP99Ms: r2(lg('eventLoopDelayMs')['p99']),
    rxLoopP99Ms: r2(rxLoop['p99']),
    rxLoopMaxMs: r2(rxLoop['max']),
  };
}

const num = (rep: Report, k: string) => (typeof rep[k] === 'number' ? rep[k] : 0);
const latency = (rep: Report) => (rep['latencyMs'] ?? {}) as Record<string, number | null>;

async function maxRun(fsync: string, records: number): Promise<RunResult> {
  const rep = await drive(fsync, ['--rate', 'max', '--count', String(records), '--batch-records', '1000']);
  const l = latency(rep);
  return {
    records: num(rep, 'acked'),
    bytes: num(rep, 'bytes'),
    ms: num(rep, 'elapsedMs'),
    note: `closed loop, window 64 × 1000; ACK p50 ${l['p50']} ms, p99 ${l['p99']} ms; one fsync ${String(rep['fsyncAvgMs'])} ms on average`,
    extra: {
      fsyncAvgMs: rep['fsyncAvgMs'],
      fsyncP99Ms: rep['fsyncP99Ms'],
      fsyncMaxMs: rep['fsyncMaxMs'],
      sinkBytes: rep['sinkBytes'],
      [SERVER_PEAK_RSS]: rep[SERVER_PEAK_RSS],
    },
  };
}

async function halfRun(fsync: string, ctx: AckLatencyContext): Promise<RunResult> {
  const rate = ['--rate', String(ctx.halfRate)];
  const rep = await drive(fsync, [
    ...rate,
    '--duration',
    String(WARMUP_SECONDS + LATENCY_SECONDS),
    '--warmup',
    String(WARMUP_SECONDS),
  ]);
  const l = latency(rep);
  const p50 = l['p50'] ?? -1;
  const p99 = l['p99'] ?? -1;
  return {
    records: num(rep, 'acked'),
    bytes: num(rep, 'bytes'),
    ms: num(rep, 'elapsedMs'),
    note: `open loop at ${ctx.halfRate.toLocaleString('en-US')} records/s (half of ${ctx.maxRate.toLocaleString('en-US')}): ACK p50 ${p50} ms, p99 ${p99} ms, max ${l['max']} ms; one fsync ${String(rep['fsyncAvgMs'])} ms on average, p99 ≤ ${String(rep['fsyncP99Ms'])} ms, max ${String(rep['fsyncMaxMs'])} ms`,
    extra: {
      ackP50Ms: p50,
      ackP99Ms: p99,
      ackMaxMs: l['max'] ?? -1,
      rateAsked: ctx.halfRate,
      genLateP99Ms: rep['genLateP99Ms'],
      genLoopP99Ms: rep['genLoopP99Ms'],
      rxLoopP99Ms: rep['rxLoopP99Ms'],
      rxLoopMaxMs: rep['rxLoopMaxMs'],
      fsyncAvgMs: rep['fsyncAvgMs'],
      fsyncP99Ms: rep['fsyncP99Ms'],
      fsyncMaxMs: rep['fsyncMaxMs'],
      [SERVER_PEAK_RSS]: rep[SERVER_PEAK_RSS],
    },
  };
}

/** The disk-alone row: the 50 % rows' bytes/s appended and fsynced back to back by nothing else. */
async function diskRun(ctx: AckLatencyContext): Promise<RunResult> {
  const dir = await tempDir('ackdisk');
  try {
    const bytesPerSec = ctx.halfRate * ctx.diskBytesPerRecord;
    const d = await diskFloor(dir, bytesPerSec, LATENCY_SECONDS);
    return {
      records: Math.round(d.bytes / ctx.diskBytesPerRecord),
      bytes: d.bytes,
      ms: d.ms,
      note: `${(bytesPerSec / 1e6).toFixed(1)} MB/s appended, ${d.fsyncs} fsyncs back to back: one fsync p50 ${d.fsyncP50Ms} ms, p99 ${d.fsyncP99Ms} ms, max ${d.fsyncMaxMs} ms; a record arriving at a random instant would wait p50 ${d.floorP50Ms} ms, p99 ${d.floorP99Ms} ms`,
      extra: {
        ackP50Ms: d.floorP50Ms,
        ackP99Ms: d.floorP99Ms,
        ackMaxMs: d.floorMaxMs,
        rateAsked: ctx.halfRate,
        fsyncAvgMs: d.fsyncs ? Math.round((d.ms / d.fsyncs) * 10) / 10 : -1,
        fsyncP99Ms: d.fsyncP99Ms,
        fsyncMaxMs: d.fsyncMaxMs,
      },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const policies = [
  ['interval', 'interval (100 ms; the old default)'],
  ['group', 'group (group commit; the default)'],
] as const;

const contenders: Contender[] = [
  ...policies.map(([fsync, label]): Contender => ({
    name: `day09 --fsync ${label}: --rate max`,
    role: 'lane',
    unavailable: () => day14Unavailable(false),
    run: (ctx) => maxRun(fsync, ctx.records),
  })),
  ...[
    ...policies,
    ['always', 'always (fsync after each write)'] as const,
    ['never', 'never (no disk wait: what the lane itself adds)'] as const,
  ].map(([fsync, label]): Contender => ({
    name: `day09 --fsync ${label}: 50 % of max, open loop`,
    ownInput: true,
    unavailable: () => day14Unavailable(false),
    run: (ctx) => halfRun(fsync, ctx as AckLatencyContext),
  })),
  {
    name: "disk alone: the 50 % rows' bytes/s, fdatasync back to back (the floor)",
    ownInput: true,
    unavailable: () => day14Unavailable(false),
    run: (ctx) => diskRun(ctx as AckLatencyContext),
  },
];

export const ackLatencyScenario: Scenario = {
  title: 'ACK latency at half the maximum rate, by fsync policy (day 09 receiver, day 14 loadgen)',
  baseline: contenders[0]!.name,
  defaultRecords: 500_000,
  contenders,
  figures: {
    ackP50Ms: 'ACK p50 (ms)',
    ackP99Ms: 'ACK p99 (ms)',
    ackMaxMs: 'ACK max (ms)',
    rateAsked: 'records/s asked',
    genLateP99Ms: 'loadgen late, p99 (ms)',
    genLoopP99Ms: 'loadgen event loop delay, p99 (ms)',
    rxLoopP99Ms: 'receiver event loop delay, p99 (ms)',
    rxLoopMaxMs: 'receiver event loop delay, max (ms)',
    fsyncAvgMs: 'one fsync, mean (ms)',
    fsyncP99Ms: 'one fsync, p99 (ms)',
    fsyncMaxMs: 'one fsync, max (ms)',
    ...RSS_FIGURE,
  },
  async setup(opts) {
    const why = day14Unavailable(false);
    if (why)
      return {
        records: opts.records,
        recordBytes: 200,
        chunks: [],
        halfRate: 0,
        maxRate: 0,
        diskBytesPerRecord: 0,
      } as AckLatencyContext;
    // the lane's maximum with its default settings, once: the 50 % rows all ask for half of it
    const r = await maxRun('group', opts.records);
    const maxRate = Math.round((r.records / r.ms) * 1000);
    const ctx: AckLatencyContext = {
      records: opts.records,
      recordBytes: r.records ? Math.round(r.bytes / r.records) : 200,
      chunks: [],
      maxRate,
      halfRate: Math.round(maxRate / 2 / 1000) * 1000,
      diskBytesPerRecord: r.records ? Number(r.extra?.['sinkBytes'] ?? 0) / r.records || 300 : 300,
    };
    return ctx;
  },
  notes: `Rows "--rate max": the day 14 loadgen closed loop (--batch-records 1000, window 64) into a fresh day 09 receiver — the lane's throughput under each fsync policy. Rows "50 % of max": after ${WARMUP_SECONDS} s at the same rate to warm the receiver and the loadgen up (loadgen --warmup: sent and ACKed, not measured; its fsyncs do count in the fsync columns), the loadgen open loop for ${LATENCY_SECONDS} s at half the maximum measured in setup with the default --fsync group (one closed-loop run), its default batches (100 records, 5 ms); ACK latency runs from each record's due time to the ACK that covers it; "loadgen late" is how late the loadgen handed records to its connection (p99 of now − due time: the generator's own share), and the event loop delays (p99, max) of the loadgen (after its warm-up) and of the receiver (its stats.json, over its whole run) show a stall of either process, which an ACK waits out whatever the disk does. Every ACK comes only after an fsync covering the record. Row "--fsync never": the same open loop with no fsync (the lane's own part of the latency: receiver, loadgen, CPU). Row "disk alone": the 50 % rows' bytes/s (the receiver's bytes per record, _rx included) appended and fdatasync'ed back to back by nothing else for ${LATENCY_SECONDS} s; its ACK p50/p99 is the wait of a record arriving at a random instant until the end of the first fsync started after it: the disk's floor. "one fsync, p99" of a receiver row is the upper bound of its histogram bucket (1, 2, 4, … ms). "server peak RSS": the receiver's VmHWM from /proc at the end of the run, before it is stopped (issue 21.6: ≤ 150 MB at saturation — the "--rate max" rows).`,
};
