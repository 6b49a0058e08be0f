/**
 * Day 11's benchmark: what batching buys on the acknowledged TCP lane, in one run.
 *
 *   - the day 11 shipper (`--generate`, the shared LSP/1 engine) → the day 11 receiver (--transport tcp,
 *     --fsync interval), at --batch-records 1, 100 and 1000, the clock stopping at the last ACK;
 *   - the receiver alone, fed pre-encoded BATCH frames of 1000 records by a client that does nothing else:
 *     the lane's ceiling on this machine, i.e. how much of the lane's time is the receiver's.
 *
 * The window is opened wide (--window-batches 100000; --window-bytes keeps its 32 MiB) so that batch 1 is
 * limited by what each frame costs, not by 64 frames per fsync round trip (that effect is the
 * experiment's first table). Batch 1 ships a twentieth of the records (at most 50,000): its rate is what
 * is compared, and a million single-record frames would take minutes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { RecordGenerator } from '../../shared/generate.ts';
import { lspReceiver, persisted, shipperDone, startReceiver } from './receivers.ts';
import { toBatchFrames } from './lsp-blast.ts';
import type { BenchContext, Contender, RunResult, Scenario } from './types.ts';

const STREAM = 11;
const frames1000 = new WeakMap<BenchContext, Buffer[]>();

function corpus(opts: { records: number }): BenchContext {
  const gen = new RecordGenerator({ seed: 42, baseTimeMs: Date.UTC(2026, 10, 26) });
  const lines = gen.take(opts.records);
  const frames = toBatchFrames(lines, STREAM, 1000);
  const bytes = frames.reduce((a, f) => a + f.length - 28, 0);
  const ctx: BenchContext = { records: opts.records, recordBytes: Math.round(bytes / opts.records), chunks: [] };
  frames1000.set(ctx, frames);
  return ctx;
}

function shipperAt(batch: number): Contender {
  return {
    name: `day11 shipper → receiver, batch ${batch}`,
    async run(ctx): Promise<RunResult> {
      const n = batch === 1 ? Math.min(50_000, Math.max(1000, Math.floor(ctx.records / 20))) : ctx.records;
      const dir = await mkdtemp(join(os.tmpdir(), 'logstream-bench-d11-'));
      const rx = startReceiver('receiver', 'lessons/day11/receiver.ts', join(dir, 'rx'), ['--fsync', 'interval']);
      try {
        const done = await shipperDone('shipper', 'lessons/day11/shipper.ts', rx, n, [
          '--state-dir',
          join(dir, 'state'),
          '--progress-ms',
          '0',
          '--batch-records',
          String(batch),
          '--batch-bytes',
          '4MiB',
          '--batch-delay-ms',
          '20',
          '--window-batches',
          '100000',
        ]);
        if (done['acked'] !== n) throw new Error(`shipper got ACKs for ${String(done['acked'])} of ${n}`);
        await rx.stop();
        const got = await persisted(join(dir, 'rx'));
        if (got !== n) throw new Error(`receiver persisted ${got} of ${n}`);
        const wait = done['waitMs'] as { p50: number; p99: number };
        return {
          records: n,
          bytes: Number(done['bytesWire']),
          ms: Number(done['elapsedMs']),
          ...(batch === 1 ? { note: `${n.toLocaleString('en-US')} records` } : {}),
          extra: { frames: done['frames'], socketWrites: done['socketWrites'], p50ms: wait.p50, p99ms: wait.p99 },
        };
      } finally {
        await rx.stop();
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

const receiverAlone: Contender = {
  name: 'day11 receiver alone (pre-encoded frames of 1000)',
  run: (ctx) =>
    lspReceiver('lessons/day11/receiver.ts', ['--fsync', 'interval'], STREAM, frames1000.get(ctx)!, ctx.records),
};

export const day11Scenario: Scenario = {
  title:
    'day 11 batching on the acknowledged TCP lane: batch 1 vs 100 vs 1000 (shipper → receiver), and the receiver alone',
  baseline: 'day11 shipper → receiver, batch 1',
  setup: corpus,
  contenders: [shipperAt(1), shipperAt(100), shipperAt(1000), receiverAlone],
  notes:
    "Shipper rows: the day 11 shipper generates ~200-byte records (--generate) and ships them to the day 11 receiver (--fsync interval, ACK once durable); time = the shipper's clock from start to the last ACK; --window-batches 100000 so the window does not limit batch 1. Batch 1 ships at most 50,000 records. The receiver-alone row sends pre-encoded BATCH frames of 1000 and stops the clock at the ACK of the last record: it is the ceiling the shipper rows approach.",
};
