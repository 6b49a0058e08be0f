/**
 * Benchmark scenarios. A scenario prepares its input once (seeded), then each contender's `run`
 * starts what it needs (fresh data dir, fresh processes), moves the records, and returns how long it took.
 * A delivery claim is verified where the lane makes one: the receiver's stats must account for every record.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { RecordGenerator } from '../../shared/generate.ts';
import { startProgram } from '../lib/launch.ts';
import { blast, toChunks } from './blast.ts';
import { lspBlast, toBatchFrames } from './lsp-blast.ts';
import { day10Scenario } from './udp-lane.ts';
import { syslogScenario } from './syslog.ts';
import { day11Scenario } from './day11.ts';
import { day12Scenario } from './day12.ts';
import { day13Scenario } from './day13.ts';

export interface BenchContext {
  records: number;
  recordBytes: number;
  /** the seeded records as ~1 MiB NDJSON chunks */
  chunks: Buffer[];
  teardown?: () => Promise<void>;
}

export interface RunResult {
  records: number;
  bytes: number;
  ms: number;
  note?: string;
  extra?: Record<string, unknown>;
}

export interface Contender {
  name: string;
  run(ctx: BenchContext): Promise<RunResult>;
}

export interface Scenario {
  title: string;
  baseline: string;
  contenders: Contender[];
  notes?: string;
  setup(opts: { records: number }): Promise<BenchContext>;
}

async function ndjsonCorpus(opts: { records: number }): Promise<BenchContext> {
  const gen = new RecordGenerator({ seed: 42, baseTimeMs: Date.UTC(2026, 10, 26) });
  const chunks = toChunks((function* () {
    for (let i = 0; i < opts.records; i++) yield gen.next();
  })());
  const bytes = chunks.reduce((a, c) => a + c.length, 0);
  return { records: opts.records, recordBytes: Math.round(bytes / opts.records), chunks };
}

async function tempDir(tag: string): Promise<string> {
  return mkdtemp(join(os.tmpdir(), `logstream-bench-${tag}-`));
}

/** Starts a receiver, blasts the corpus at it, checks its stats account for every record, stops it. */
async function blastReceiver(file: string, args: string[], ctx: BenchContext, opts: { verify: boolean }): Promise<RunResult> {
  const dir = await tempDir('rx');
  const p = startProgram({ name: file, file, args: ['--port', '0', '--data-dir', dir, ...args] });
  try {
    const ready = await p.ready;
    const r = await blast(ready.host, ready.port, ctx.chunks);
    await p.stop();
    if (opts.verify) {
      const stats = JSON.parse(await readFile(join(dir, 'stats.json'), 'utf8')) as { records: { persisted: number } };
      if (stats.records.persisted !== ctx.records) throw new Error(`receiver persisted ${stats.records.persisted} of ${ctx.records}`);
    }
    return { records: ctx.records, bytes: r.bytes, ms: r.ms };
  } finally {
    await p.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const rawCeiling: Contender = {
  name: 'raw loopback TCP (discarding sink)',
  run: (ctx) => blastReceiver('scripts/bench/raw-sink.ts', [], ctx, { verify: false }),
};

/** Day 09's corpus: the same records as NDJSON chunks (for day 08) and as LSP/1 BATCH frames of 1000. */
const lspFrames = new WeakMap<BenchContext, Buffer[]>();
const LSP_STREAM = 9;
async function lspCorpus(opts: { records: number }): Promise<BenchContext> {
  const gen = new RecordGenerator({ seed: 42, baseTimeMs: Date.UTC(2026, 10, 26) });
  const lines = gen.take(opts.records);
  const chunks = toChunks(lines);
  const bytes = chunks.reduce((a, c) => a + c.length, 0);
  const ctx: BenchContext = { records: opts.records, recordBytes: Math.round(bytes / opts.records), chunks };
  lspFrames.set(ctx, toBatchFrames(lines, LSP_STREAM, 1000));
  return ctx;
}

/** Starts the day 09 receiver, sends the BATCH frames, stops the clock at the ACK of the last record. */
async function lspReceiver(args: string[], ctx: BenchContext): Promise<RunResult> {
  const dir = await tempDir('lsp');
  const p = startProgram({ name: 'day09 receiver', file: 'lessons/day09/receiver.ts', args: ['--port', '0', '--data-dir', dir, ...args] });
  try {
    const ready = await p.ready;
    const r = await lspBlast(ready.host, ready.port, LSP_STREAM, lspFrames.get(ctx)!, ctx.records);
    await p.stop();
    const stats = JSON.parse(await readFile(join(dir, 'stats.json'), 'utf8')) as { records: { persisted: number } };
    if (stats.records.persisted !== ctx.records) throw new Error(`receiver persisted ${stats.records.persisted} of ${ctx.records}`);
    return { records: ctx.records, bytes: r.bytes, ms: r.ms, extra: { acks: r.acks } };
  } finally {
    await p.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export const SCENARIOS: Record<string, Scenario> = {
  day08: {
    title: 'day 08 NDJSON/TCP ingest: receiver alone and end to end with the shipper',
    baseline: 'day08 receiver (fsync interval)',
    setup: ndjsonCorpus,
    contenders: [
      rawCeiling,
      { name: 'day08 receiver (fsync interval)', run: (ctx) => blastReceiver('lessons/day08/receiver.ts', ['--fsync', 'interval'], ctx, { verify: true }) },
      { name: 'day08 receiver (fsync never)', run: (ctx) => blastReceiver('lessons/day08/receiver.ts', ['--fsync', 'never'], ctx, { verify: true }) },
      {
        name: 'day08 shipper --generate → receiver',
        async run(ctx) {
          const dir = await tempDir('e2e');
          const rx = startProgram({ name: 'receiver', file: 'lessons/day08/receiver.ts', args: ['--port', '0', '--data-dir', dir] });
          try {
            const ready = await rx.ready;
            const tx = startProgram({ name: 'shipper', file: 'lessons/day08/shipper.ts', args: ['--target', `${ready.host}:${ready.port}`, '--generate', String(ctx.records)] });
            const done = await tx.done;
            if (!done) throw new Error('shipper printed no done line');
            return { records: Number(done.sent), bytes: Number(done.bytes), ms: Number(done.elapsedMs) };
          } finally {
            await rx.stop();
            await rm(dir, { recursive: true, force: true });
          }
        },
      },
    ],
    notes: 'The receiver rows time connect → last byte persisted (the receiver closes its side once it has written everything). The shipper row includes generating the records.',
  },
  day09: {
    title: 'day 09 acknowledged LSP/1 ingest (batch 1000) beside day 08 unacknowledged NDJSON',
    baseline: 'day08 receiver (fsync interval, no ACK)',
    setup: lspCorpus,
    contenders: [
      { name: 'day08 receiver (fsync interval, no ACK)', run: (ctx) => blastReceiver('lessons/day08/receiver.ts', ['--fsync', 'interval'], ctx, { verify: true }) },
      { name: 'day09 receiver (fsync interval, ACKed)', run: (ctx) => lspReceiver(['--fsync', 'interval'], ctx) },
      { name: 'day09 receiver (fsync always, ACKed)', run: (ctx) => lspReceiver(['--fsync', 'always'], ctx) },
      {
        name: 'day09 shipper --generate → receiver',
        async run(ctx) {
          const dir = await tempDir('e2e9');
          const rx = startProgram({ name: 'receiver', file: 'lessons/day09/receiver.ts', args: ['--port', '0', '--data-dir', join(dir, 'rx')] });
          try {
            const ready = await rx.ready;
            const tx = startProgram({ name: 'shipper', file: 'lessons/day09/shipper.ts', args: ['--target', `${ready.host}:${ready.port}`, '--generate', String(ctx.records), '--state-dir', join(dir, 'state'), '--progress-ms', '0'] });
            const done = await tx.done;
            if (!done) throw new Error('shipper printed no done line');
            if (done['acked'] !== ctx.records) throw new Error(`shipper got ACKs for ${String(done['acked'])} of ${ctx.records}`);
            return { records: Number(done['acked']), bytes: ctx.records * ctx.recordBytes, ms: Number(done['elapsedMs']) };
          } finally {
            await rx.stop();
            await rm(dir, { recursive: true, force: true });
          }
        },
      },
    ],
    notes: 'day 08 rows time connect → the receiver closing its side once everything is written (not fsynced). day 09 receiver rows send pre-encoded BATCH frames of 1000 records and time connect → the ACK of the last record, which comes only once it is durable (fsync). The shipper row includes generating and encoding the records, and its process start.',
  },
  day10: day10Scenario,
  day11: day11Scenario,
  day12: day12Scenario,
  day13: day13Scenario,
  syslog: syslogScenario,
};
