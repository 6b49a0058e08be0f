/**
 * Day 09 shipper: what it reports — the counters, and the one `done` line they end in (also what the
 * experiments and the benchmarks read):
 *
 *   sent, acked, dropped, read, resent, spooled, unacked, reconnects, stream, firstSeq, lastSeq, elapsedMs,
 *   recordsPerSec, skippedInput, tooLarge, transitions, reason, and batches (BATCH frames sent the first
 *   time), frames (resends included), recordsPerBatch, flushes (why each batch left), socketWrites (write()
 *   calls), bytesWire, waitMs {p50, p99, max, n} (per record: from entering the open batch to its ACK, HDR
 *   histogram), compression {codec, level, compressed, raw, bytesIn, bytesOut, ratio, cpuMs}.
 */
import type { CompressionStats, Compression } from './shipper-wire.ts';
import type { WaitTimes } from './wait-times.ts';

/** The engine's counters (the progress and done lines). */
export function newShipperCounters() {
  return {
    sent: 0,
    resent: 0,
    acked: 0,
    dropped: 0,
    spooled: 0,
    reconnects: 0,
    tooLarge: 0,
    skippedInput: 0,
    batches: 0,
    frames: 0,
    socketWrites: 0,
    bytesWire: 0,
  };
}
export type ShipperCounters = ReturnType<typeof newShipperCounters>;

/** Everything the done line is made of. */
export interface ShipperTotals {
  count: ShipperCounters;
  /** records read from the source (local seqs 1..read) */
  read: number;
  elapsedMs: number;
  stream: number;
  /** wire seq = local seq + base */
  base: number;
  flushes: Readonly<Record<string, number>>;
  waits: WaitTimes;
  compression: CompressionStats;
  codec: Compression | undefined;
  transitions: Record<string, number>;
}

export type DoneLine = { sent: number; acked: number; dropped: number; [k: string]: unknown };

/** What a batching shipper counts of its batches and its writes (day 09 over TCP, day 11 a datagram a batch). */
export interface BatchTotals {
  elapsedMs: number;
  /** records delivered: ACKed (day 09) or sent (day 11's UDP has no ACKs); the records/s are of these */
  delivered: number;
  /** records sent the first time */
  sent: number;
  batches: number;
  frames: number;
  flushes: Readonly<Record<string, number>>;
  socketWrites: number;
  bytesWire: number;
}

/** The done line's batching figures (issue 22: one builder for every batching shipper's done line). */
export function batchFields(b: BatchTotals) {
  return {
    elapsedMs: Math.round(b.elapsedMs),
    recordsPerSec: Math.round(b.delivered / (b.elapsedMs / 1000)),
    batches: b.batches,
    frames: b.frames,
    recordsPerBatch: b.batches ? Math.round((b.sent / b.batches) * 100) / 100 : 0,
    flushes: { ...b.flushes },
    socketWrites: b.socketWrites,
    bytesWire: b.bytesWire,
  };
}

/** The done line's fields. */
export function doneFields(t: ShipperTotals, reason: string, extra: Record<string, unknown> = {}): DoneLine {
  const { count, read, elapsedMs } = t;
  const c = t.compression;
  const comp = t.codec;
  return {
    sent: count.sent,
    acked: count.acked,
    dropped: count.dropped,
    read,
    resent: count.resent,
    spooled: count.spooled,
    unacked: read - count.acked - count.dropped,
    reconnects: count.reconnects,
    stream: t.stream,
    firstSeq: t.base + 1,
    lastSeq: t.base + read,
    skippedInput: count.skippedInput,
    tooLarge: count.tooLarge,
    ...batchFields({ ...count, elapsedMs, delivered: count.acked, flushes: t.flushes }),
    waitMs: t.waits.summary(),
    compression: {
      codec: comp?.codec.name ?? 'none',
      level: comp?.level ?? comp?.codec.levels?.default ?? null,
      compressed: c.compressed,
      raw: c.raw,
      bytesIn: c.bytesIn,
      bytesOut: c.bytesOut,
      ratio: c.bytesOut ? Math.round((c.bytesIn / c.bytesOut) * 1000) / 1000 : 0,
      cpuMs: Math.round(c.cpuUs / 100) / 10,
    },
    transitions: t.transitions,
    ...extra,
    reason,
  };
}
