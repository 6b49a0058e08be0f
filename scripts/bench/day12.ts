/**
 * Day 12's end-to-end runs, shared by the benchmark (`npm run bench -- day12`) and the experiment
 * (scripts/experiments/day12.ts): the day 12 shipper ships N generated records with one codec and level to
 * a fresh day 12 receiver, and the run reports
 *
 *   - records/s: records ACKed / the shipper's own elapsed time (generating, batching, compressing,
 *     sending, and waiting for the last ACK, which comes once the receiver has fsynced);
 *   - bytes on the wire: what the receiver read from its socket (stats.json bytes.wire, frames and all),
 *     per record and as a fraction of the uncompressed run;
 *   - the ratio and the CPU ms per MB each side reports (shipper: compressing, receiver: decompressing).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { CODECS } from '../../shared/protocol/codecs.ts';
import { startProgram } from '../lib/launch.ts';
import type { Contender, Scenario } from './types.ts';

export interface CodecRunOptions {
  records: number;
  codec: string;
  /** undefined: the codec's default (or none for codecs without levels) */
  level?: number | undefined;
  seed?: number;
  /** receiver --fsync (default interval) */
  fsync?: 'always' | 'interval' | 'never';
}

export interface CodecRun {
  codec: string;
  level: number | null;
  records: number;
  ms: number;
  recordsPerSec: number;
  /** BATCH payload bytes before compression (shipper) */
  rawBytes: number;
  /** BATCH payload bytes as sent (shipper) */
  payloadBytes: number;
  /** every byte the receiver read from the shipper's connection: headers, HELLO, PINGs included */
  wireBytes: number;
  wireBytesPerRecord: number;
  ratio: number;
  shipperCpuMsPerMB: number;
  receiverCpuMsPerMB: number;
}

interface FinalStats {
  records: { persisted: number };
  bytes: { wire: number };
  compression?: Record<string, { cpuMsPerMB: number }>;
}

/** One run: fresh receiver and data dir, the shipper with `codec`/`level`, final stats after SIGTERM. */
export async function runCodec(opts: CodecRunOptions): Promise<CodecRun> {
  const dir = await mkdtemp(join(os.tmpdir(), 'logstream-day12-'));
  const rxDir = join(dir, 'rx');
  const rx = startProgram({
    name: 'day12 receiver',
    file: 'lessons/day12/receiver.ts',
    args: ['--port', '0', '--data-dir', rxDir, '--fsync', opts.fsync ?? 'interval'],
  });
  try {
    const ready = await rx.ready;
    const level = opts.level === undefined ? [] : ['--level', String(opts.level)];
    const tx = startProgram({
      name: 'day12 shipper',
      file: 'lessons/day12/shipper.ts',
      args: [
        '--target',
        `${ready.host}:${ready.port}`,
        '--generate',
        String(opts.records),
        '--seed',
        String(opts.seed ?? 42),
        '--codec',
        opts.codec,
        ...level,
        '--state-dir',
        join(dir, 'state'),
        '--progress-ms',
        '0',
      ],
    });
    const done = await tx.done;
    if (!done) throw new Error(`shipper --codec ${opts.codec} printed no done line`);
    if (done['acked'] !== opts.records)
      throw new Error(`shipper --codec ${opts.codec}: ${String(done['acked'])} of ${opts.records} ACKed`);
    await rx.stop();
    const stats = JSON.parse(await readFile(join(rxDir, 'stats.json'), 'utf8')) as FinalStats;
    if (stats.records.persisted !== opts.records)
      throw new Error(`receiver persisted ${stats.records.persisted} of ${opts.records}`);
    const ms = Number(done['elapsedMs']);
    return {
      codec: opts.codec,
      level: (done['level'] as number | null) ?? null,
      records: opts.records,
      ms,
      recordsPerSec: opts.records / (ms / 1000),
      rawBytes: Number(done['rawBytes']),
      payloadBytes: Number(done['wireBytes']),
      wireBytes: stats.bytes.wire,
      wireBytesPerRecord: stats.bytes.wire / opts.records,
      ratio: Number(done['ratio']),
      shipperCpuMsPerMB: Number(done['cpuMsPerMB']),
      receiverCpuMsPerMB: stats.compression?.[opts.codec]?.cpuMsPerMB ?? 0,
    };
  } finally {
    await rx.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const available = (name: string) => [...CODECS.values()].some((c) => c.name === name && c.availability().ok);

/** The codecs × levels the benchmark runs (the experiment tries more). */
const CONTENDERS: Array<{ codec: string; level?: number }> = [
  { codec: 'none' },
  { codec: 'lz4' },
  { codec: 'zstd', level: 1 },
  { codec: 'zstd', level: 3 },
  { codec: 'gzip', level: 1 },
  { codec: 'gzip', level: 6 },
  { codec: 'brotli', level: 4 },
];

const label = (c: { codec: string; level?: number }) => (c.level === undefined ? c.codec : `${c.codec} -${c.level}`);

/** The uncompressed run's wire bytes, for each contender's "x of uncompressed" note. */
let noneWire = 0;

export const day12Scenario: Scenario = {
  title: 'day 12 compression: shipper --codec → receiver, records/s and bytes on the wire per codec',
  baseline: 'none',
  defaultRecords: 300_000,
  setup(opts) {
    // The records are generated by the shipper itself (--generate, seed 42): ~200 B each.
    return { records: opts.records, recordBytes: 202, chunks: [] };
  },
  contenders: CONTENDERS.filter((c) => available(c.codec)).map((c): Contender => ({
    name: label(c),
    async run(ctx) {
      const r = await runCodec({ records: ctx.records, codec: c.codec, level: c.level });
      if (c.codec === 'none') noneWire = r.wireBytes;
      const frac = noneWire ? ` = 1/${(noneWire / r.wireBytes).toFixed(1)} of uncompressed` : '';
      return {
        records: r.records,
        bytes: r.wireBytes,
        ms: r.ms,
        note: `wire ${r.wireBytesPerRecord.toFixed(1)} B/record${frac}, ratio ${r.ratio}, cpu ms/MB shipper ${r.shipperCpuMsPerMB} receiver ${r.receiverCpuMsPerMB}`,
        extra: {
          wireBytes: r.wireBytes,
          wireBytesPerRecord: Math.round(r.wireBytesPerRecord * 10) / 10,
          ratio: r.ratio,
          shipperCpuMsPerMB: r.shipperCpuMsPerMB,
          receiverCpuMsPerMB: r.receiverCpuMsPerMB,
        },
      };
    },
  })),
  notes:
    "Each run: a fresh day 12 receiver (--fsync interval) and the day 12 shipper with --generate N (seed 42) and the codec. records/s = records ACKed / the shipper's elapsed time (generate, batch, compress, send, last ACK). MB/s here is MB ON THE WIRE (the receiver's stats.json bytes.wire) per second: the lower it is at the same records/s, the more compression saved. The JSON result has wireBytesPerRecord, ratio and CPU ms per MB per side.",
};
