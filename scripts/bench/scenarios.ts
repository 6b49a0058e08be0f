/**
 * Benchmark scenarios. A scenario prepares its input once (seeded), then each contender's `run`
 * starts what it needs (fresh data dir, fresh processes), moves the records, and returns how long it took.
 * A delivery claim is verified where the lane makes one: the receiver's stats must account for every record.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { RecordGenerator } from '../../shared/generate.ts';
import { toChunks } from './blast.ts';
import { toBatchFrames } from './lsp-blast.ts';
import { blastReceiver, lspReceiver, shipperDone, startReceiver, tempDir } from './receivers.ts';
import type { BenchContext, Contender, Scenario } from './types.ts';
import { day10Scenario } from './udp-lane.ts';
import { syslogScenario } from './syslog.ts';
import { day11Scenario } from './day11.ts';
import { day12Scenario } from './day12.ts';
import { day13Scenario } from './day13.ts';
import { day14Scenario } from './day14.ts';
import { summaryScenario } from './summary.ts';
import { udpLossScenario } from './udp-loss.ts';
import { scaleScenario } from './scale.ts';
import { fairnessScenario } from './fairness.ts';
import { ackLatencyScenario } from './ack-latency.ts';

export type { BenchContext, Contender, RunResult, Scenario } from './types.ts';

function ndjsonCorpus(opts: { records: number }): BenchContext {
  const gen = new RecordGenerator({ seed: 42, baseTimeMs: Date.UTC(2026, 10, 26) });
  const chunks = toChunks(
    (function* () {
      for (let i = 0; i < opts.records; i++) yield gen.next();
    })(),
  );
  const bytes = chunks.reduce((a, c) => a + c.length, 0);
  return { records: opts.records, recordBytes: Math.round(bytes / opts.records), chunks };
}

const rawCeiling: Contender = {
  name: 'raw loopback TCP (discarding sink)',
  run: (ctx) => blastReceiver('scripts/bench/raw-sink.ts', [], ctx.chunks, ctx.records, { verify: false }),
};

/** Day 09's corpus: the same records as NDJSON chunks (for day 08) and as LSP/1 BATCH frames of 1000. */
const lspFrames = new WeakMap<BenchContext, Buffer[]>();
const LSP_STREAM = 9;
function lspCorpus(opts: { records: number }): BenchContext {
  const gen = new RecordGenerator({ seed: 42, baseTimeMs: Date.UTC(2026, 10, 26) });
  const lines = gen.take(opts.records);
  const chunks = toChunks(lines);
  const bytes = chunks.reduce((a, c) => a + c.length, 0);
  const ctx: BenchContext = { records: opts.records, recordBytes: Math.round(bytes / opts.records), chunks };
  lspFrames.set(ctx, toBatchFrames(lines, LSP_STREAM, 1000));
  return ctx;
}

/** Starts the day 09 receiver, sends the BATCH frames, stops the clock at the ACK of the last record. */
const lspDay09 = (args: string[], ctx: BenchContext) =>
  lspReceiver('lessons/day09/receiver.ts', args, LSP_STREAM, lspFrames.get(ctx)!, ctx.records);

/** `all` is the summary (the default run); the others run by name, or every one with `every`. */
export const SCENARIOS: Record<string, Scenario> = {
  all: summaryScenario,
  day08: {
    title: 'day 08 NDJSON/TCP ingest: receiver alone and end to end with the shipper',
    baseline: 'day08 receiver (fsync interval)',
    setup: ndjsonCorpus,
    contenders: [
      rawCeiling,
      {
        name: 'day08 receiver (fsync interval)',
        run: (ctx) =>
          blastReceiver('lessons/day08/receiver.ts', ['--fsync', 'interval'], ctx.chunks, ctx.records, {
            verify: true,
          }),
      },
      {
        name: 'day08 receiver (fsync never)',
        run: (ctx) =>
          blastReceiver('lessons/day08/receiver.ts', ['--fsync', 'never'], ctx.chunks, ctx.records, { verify: true }),
      },
      {
        name: 'day08 shipper --generate → receiver',
        async run(ctx) {
          const dir = await tempDir('e2e');
          const rx = startReceiver('receiver', 'lessons/day08/receiver.ts', dir);
          try {
            const done = await shipperDone('shipper', 'lessons/day08/shipper.ts', rx, ctx.records);
            return { records: Number(done.sent), bytes: Number(done.bytes), ms: Number(done.elapsedMs) };
          } finally {
            await rx.stop();
            await rm(dir, { recursive: true, force: true });
          }
        },
      },
    ],
    notes:
      'The receiver rows time connect → last byte persisted (the receiver closes its side once it has written everything). The shipper row includes generating the records.',
  },
  day09: {
    title: 'day 09 acknowledged LSP/1 ingest (batch 1000) beside day 08 unacknowledged NDJSON',
    baseline: 'day08 receiver (fsync interval, no ACK)',
    setup: lspCorpus,
    contenders: [
      {
        name: 'day08 receiver (fsync interval, no ACK)',
        run: (ctx) =>
          blastReceiver('lessons/day08/receiver.ts', ['--fsync', 'interval'], ctx.chunks, ctx.records, {
            verify: true,
          }),
      },
      { name: 'day09 receiver (fsync interval, ACKed)', run: (ctx) => lspDay09(['--fsync', 'interval'], ctx) },
      { name: 'day09 receiver (fsync always, ACKed)', run: (ctx) => lspDay09(['--fsync', 'always'], ctx) },
      // issue 21.2: the parse pool's scaling (the default, auto, is 1 on 2+ cores; 0 = validated inline)
      ...[0, 1, 2].map((n) => ({
        name: `day09 receiver (fsync interval, ACKed), --parse-threads ${n}`,
        run: (ctx: BenchContext) => lspDay09(['--fsync', 'interval', '--parse-threads', String(n)], ctx),
      })),
      {
        name: 'day09 shipper --generate → receiver',
        async run(ctx) {
          const dir = await tempDir('e2e9');
          const rx = startReceiver('receiver', 'lessons/day09/receiver.ts', join(dir, 'rx'));
          try {
            const done = await shipperDone('shipper', 'lessons/day09/shipper.ts', rx, ctx.records, [
              '--state-dir',
              join(dir, 'state'),
              '--progress-ms',
              '0',
            ]);
            if (done['acked'] !== ctx.records)
              throw new Error(`shipper got ACKs for ${String(done['acked'])} of ${ctx.records}`);
            return {
              records: Number(done['acked']),
              bytes: ctx.records * ctx.recordBytes,
              ms: Number(done['elapsedMs']),
            };
          } finally {
            await rx.stop();
            await rm(dir, { recursive: true, force: true });
          }
        },
      },
    ],
    notes:
      'day 08 rows time connect → the receiver closing its side once everything is written (not fsynced). day 09 receiver rows send pre-encoded BATCH frames of 1000 records and time connect → the ACK of the last record, which comes only once it is durable (fsync). The shipper row includes generating and encoding the records, and its process start. The --parse-threads rows: BATCH validation inline (0) or on 1 or 2 worker threads (shared/parse-pool.ts), the scaling of issue 21.2.',
  },
  day10: day10Scenario,
  day11: day11Scenario,
  day12: day12Scenario,
  day13: day13Scenario,
  day14: day14Scenario,
  'udp-loss': udpLossScenario,
  syslog: syslogScenario,
  scale: scaleScenario,
  fairness: fairnessScenario,
  'ack-latency': ackLatencyScenario,
};
