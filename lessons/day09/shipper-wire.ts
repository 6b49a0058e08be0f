/**
 * Day 09 shipper: a batch's payload as it goes on the wire — compressed when the lesson configured a codec
 * (day 12), the payload is big enough, and compressing makes it smaller; else raw (codec 0). The
 * compressed form is kept with the batch, so a resend after a reconnect does not compress again, and is
 * made afresh when an ACK re-sliced the payload. CPU time is measured with process.cpuUsage() around each
 * compress call (the done line's compression.cpuMs).
 */
import type { Codec } from '../../shared/protocol/codecs.ts';
import type { OutBatch } from './outbox.ts';

export interface Compression {
  codec: Codec;
  /** undefined: the codec's default */
  level?: number | undefined;
  /** payloads smaller than this go uncompressed */
  minBytes: number;
}

/** An outbox batch plus the compressed form last sent (recomputed when an ACK re-slices the payload). */
export interface HeldBatch extends OutBatch {
  wireFor?: Buffer;
  wire?: Buffer;
  wireCodec?: number;
}

/** What compression did so far (the done line). */
export interface CompressionStats {
  compressed: number;
  raw: number;
  bytesIn: number;
  bytesOut: number;
  cpuUs: number;
}

/** [codec id, payload] of `b` as it goes on the wire. */
export function wireForm(b: HeldBatch, c: Compression | undefined, stats: CompressionStats): [number, Buffer] {
  stats.bytesIn += b.payload.length;
  if (!c || c.codec.id === 0 || b.payload.length < c.minBytes) {
    stats.raw++;
    stats.bytesOut += b.payload.length;
    return [0, b.payload];
  }
  if (b.wireFor !== b.payload) {
    const before = process.cpuUsage();
    const z = c.codec.compress(b.payload, c.level);
    const used = process.cpuUsage(before);
    stats.cpuUs += used.user + used.system;
    b.wireFor = b.payload;
    if (z.length < b.payload.length) {
      b.wire = z;
      b.wireCodec = c.codec.id;
    } else {
      b.wire = b.payload; // compression would not make it smaller: send it as it is
      b.wireCodec = 0;
    }
  }
  if (b.wireCodec === 0) stats.raw++;
  else stats.compressed++;
  stats.bytesOut += b.wire!.length;
  return [b.wireCodec!, b.wire!];
}
