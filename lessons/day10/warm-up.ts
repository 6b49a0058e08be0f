/**
 * The day 10 receiver's start-up warm-up (issue 21.3): generated records sent through the receive path
 * — FrameDecoder, decodeBatch, day 08's validateBatch, the `_rx` writer — once, into nothing, before the
 * receiver binds its socket. UDP has no backpressure: while V8 still runs that path in its interpreter
 * (its first ~0.5 s of traffic), datagrams pile up in the kernel's receive buffer, and at 300,000
 * records/s the buffer (8 MiB where net.core.rmem_max is 4 MiB) holds only ~50 ms of them. In the loss
 * curve most of what the kernel dropped at 300,000/s was dropped then: the same point sent for 4 s
 * instead of 1.5 s lost about as many datagrams in all. Nothing here is persisted or counted.
 */
import { RecordGenerator } from '../../shared/generate.ts';
import { decodeBatch, encodeBatch } from '../../shared/protocol/batch.ts';
import { FrameDecoder, type Frame } from '../../shared/protocol/frame.ts';
import { RxWriter } from '../../shared/storage/rx.ts';
import { validateBatch } from '../day08/validate.ts';

/** Records run through the path at start-up by default (~0.2 s on one core here). */
export const WARM_UP_RECORDS = 50_000;
/** records per datagram in the warm-up: what fits 1472 bytes (~7 records of ~200 bytes) */
const PER_DATAGRAM = 7;

/** Runs `n` generated records through the receive path and throws the results away; returns the ms. */
export function warmUpReceivePath(n: number, maxRecordBytes: number, maxDecodedBytes: number): number {
  if (n <= 0) return 0;
  const t0 = performance.now();
  const gen = new RecordGenerator({ seed: 10, baseTimeMs: Date.UTC(2026, 0, 1) });
  const decoder = new FrameDecoder({ maxPayloadBytes: 1 << 20 });
  const out = new RxWriter(256 << 10);
  out.context({ ts: new Date().toISOString(), peer: 'warm-up', lane: 'udp' });
  const frames: Frame[] = [];
  for (let seq = 1; seq <= n; seq += PER_DATAGRAM) {
    const records = gen.take(PER_DATAGRAM);
    frames.length = 0;
    decoder.push(encodeBatch({ stream: 1, seq, records }), frames);
    for (const frame of frames) {
      const lines = decodeBatch(frame, { maxDecodedBytes });
      const verdicts = validateBatch(lines, 0, maxRecordBytes);
      for (let i = 0; i < lines.length; i++) {
        const v = verdicts[i];
        // a generated record is valid: a reject means the path warmed is not the one real records take
        if (v !== undefined) throw new Error(`day 10 warm-up: a generated record was rejected (${v.reason})`);
        out.addSeq(lines[i]!, 1, seq + i);
      }
    }
    if (out.length >= 1 << 20) out.take();
  }
  out.take();
  return performance.now() - t0;
}
