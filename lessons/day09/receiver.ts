/**
 * Day 09 — Acknowledged delivery: the receiver.
 *
 * On day 08 a shipper could never know whether its records were stored: a successful send() only proves
 * the KERNEL took the bytes. They can still die in a socket buffer, in our memory, or in the page cache
 * when we crash. Today the receiver makes a promise it can keep, in LSP/1 frames (LSP1 §3, §4):
 *
 *   1. HELLO → ACK(the stream's DURABLE high-water mark): "I hold 1..S of your stream; send what follows" [d09.2]
 *   2. dedup   a record with seq ≤ the stream's accepted mark was seen before: counted, not written again;
 *              the shipper resends after every reconnect, so this is what makes a resend harmless [d09.3, d09.4]
 *      gaps    a first seq above mark + 1 means the shipper dropped records on purpose: counted, accepted [d09.7]
 *   3. ACK only what is durable: after the sink's fsync, never after a mere write. One fsync covers many
 *      batches (group commit) and their ACKs go out together [d09.4]
 *   4. the marks survive kill -9: they are recovered from what is on disk (lessons/day09/hwm-store.ts) [d09.4]
 *   5. a broken frame is fatal for ITS connection only: NACK {code, message}, close (shared/lsp-receiver.ts) [d09.9]
 *
 * The shipper resends until it gets an ACK (at-least-once); we drop what we already have (dedup). Together:
 * every record stored exactly once, whichever side crashes — "effectively exactly-once".
 *
 * Run: npx tsx lessons/day09/receiver.ts --port 5141 --data-dir data/day09
 */
import net from 'node:net';
import { parseCli, receiverOptions, opt } from '../../shared/cli.ts';
import { HwmStore } from './hwm-store.ts';
import { createLog } from '../../shared/log.ts';
import { LspReceiver, type LspConnection } from '../../shared/lsp-receiver.ts';
import { announceReady, listenOrExit, onShutdown } from '../../shared/process.ts';
import { decodeBatch } from '../../shared/protocol/batch.ts';
import type { Frame, Hello } from '../../shared/protocol/frame.ts';
import { DEFAULT_MAX_DECODED_BYTES, DEFAULT_MAX_PAYLOAD_BYTES } from '../../shared/protocol/limits.ts';
import { validateRecord } from '../../shared/protocol/record.ts';
import { FileSink } from '../../shared/storage/file-sink.ts';
import { RxWriter } from '../../shared/storage/rx.ts';
import { ReceiverStats, StatsWriter } from '../../shared/stats.ts';

const args = parseCli({
  name: 'lessons/day09/receiver.ts',
  summary: 'Day 09 receiver: LSP/1 HELLO/BATCH/ACK over TCP; dedups by per-stream high-water mark, ACKs only durable records.',
  options: {
    ...receiverOptions('day09'),
    maxPayloadBytes: opt.bytes('--max-payload-bytes <size>', 'largest frame payload as sent; more is a fatal LS_ERR_TOO_LARGE', DEFAULT_MAX_PAYLOAD_BYTES, { min: 1024, max: 1 << 30 }),
    maxDecodedBytes: opt.bytes('--max-decoded-bytes <size>', 'largest decoded BATCH payload; more is a fatal LS_ERR_TOO_LARGE', DEFAULT_MAX_DECODED_BYTES, { min: 1024, max: 1 << 30 }),
    checkpointIntervalMs: opt.int('--checkpoint-interval-ms <n>', 'how often the high-water marks are checkpointed (restart scans only what follows)', 1000, { min: 10, max: 60_000 }),
  },
});

const log = createLog('day09/receiver');
const stats = new ReceiverStats(args.lane, 'lsp1-tcp');
const sink = await FileSink.open({ dir: args.dataDir, fsync: args.fsync, fsyncIntervalMs: args.fsyncIntervalMs, rotateBytes: args.rotateBytes });
// [d09.4] the high-water marks come back from disk: the checkpoint plus whatever was written after it
const hwm = await HwmStore.open({
  dir: args.dataDir,
  sink,
  stats,
  checkpointIntervalMs: args.checkpointIntervalMs,
  onError: (err) => log.warn('HWM checkpoint failed (the next one retries)', { error: err.message }),
});
log.info('high-water marks recovered', { ...hwm.recovery });

/** Stamps `_rx` on every new valid record of a batch, into one buffer: one sink append per batch. */
const out = new RxWriter();

// ---- 1. HELLO: tell the shipper where to resume --------------------------------------------------
function onHello(_conn: LspConnection, stream: number, _hello: Hello): number {
  // @solution [d09.2] answer a HELLO with the highest DURABLE seq of that stream (0 for a stream never seen)
  // @stub return 0;
  return hwm.get(stream).durable;
  // @end-solution
}

// ---- 2. BATCH: dedup, gaps, validate, append; 3. ACK once durable ----------------------------------
function onBatch(conn: LspConnection, frame: Frame): void {
  // A payload that does not decode, or whose record count is wrong, throws an LsError: NACK + close. [d09.9]
  const lines = decodeBatch(frame, { maxDecodedBytes: args.maxDecodedBytes });
  const count = lines.length;
  const stream = frame.stream;
  const marks = hwm.get(stream);
  stats.records.received += count;
  stats.bytes.decoded += frame.codec === 0 ? frame.payload.length : decodedBytes(lines);

  // @solution [d09.3, d09.4, d09.7] dedup against the accepted mark; a first seq past mark + 1 is a gap
  // @stub const first = 0;
  /** index of the first record we have not seen before */
  let first = 0;
  if (frame.seq <= marks.accepted) {
    // A resend after a reconnect (or a batch still in flight when the shipper gave up on a connection).
    first = Math.min(count, marks.accepted - frame.seq + 1);
    marks.stats.duplicates += first;
    stats.records.duplicates += first;
  } else if (frame.seq > marks.accepted + 1) {
    // The shipper's overflow policy dropped these seqs: there is nothing to wait for, so count and move on.
    const missing = frame.seq - marks.accepted - 1;
    marks.stats.gaps += missing;
    log.info('gap: seqs skipped by the shipper', { stream, from: marks.accepted + 1, to: frame.seq - 1, missing });
  }
  // @end-solution

  if (first < count) {
    out.context({ ts: new Date().toISOString(), peer: conn.peer, lane: args.lane });
    for (let i = first; i < count; i++) {
      const line = lines[i]!;
      const v = validateRecord(line, args.maxRecordBytes);
      if (v.ok) {
        out.addSeq(line, stream, frame.seq + i);
      } else {
        // An invalid record is not fatal: it goes to rejects.ndjson with its seq and counts as delivered.
        stats.reject(v.reason);
        sink.reject({ peer: conn.peer, reason: v.reason, stream, seq: frame.seq + i, sample: line });
      }
    }
    marks.stats.received += count - first;
    marks.accepted = frame.seq + count - 1;
    const persisted = out.count;
    const bytes = out.take();
    if (bytes) {
      sink.append(bytes);
      stats.records.persisted += persisted;
      if (sink.overHighWater) rx.pause(); // the disk is behind: stop reading, TCP slows the shippers
    }
  }

  // @solution [d09.4] ACK only once everything up to the accepted mark is durable (group commit: many batches, one fsync)
  // @stub conn.ack(stream, marks.accepted);
  // `upTo` is captured now: the ticket covers exactly what was appended so far, duplicates' originals included.
  const upTo = marks.accepted;
  sink.whenDurable(sink.position).then(
    () => {
      hwm.markDurable(marks, upTo);
      conn.ack(stream, marks.durable);
    },
    () => {}, // the sink failed: nothing more is ever ACKed (logged by the sink's 'error' handler)
  );
  // @end-solution
}

function decodedBytes(lines: Buffer[]): number {
  let n = lines.length;
  for (const l of lines) n += l.length;
  return n;
}

// ---- the connection machinery (frames, NACK, PING, limits) is shared with days 11–13 ---------------
const rx = new LspReceiver({
  handlers: { onHello, onBatch },
  log,
  stats,
  maxConnections: args.maxConnections,
  idleTimeoutMs: args.idleTimeoutMs,
  maxPayloadBytes: args.maxPayloadBytes,
});
sink.on('drain', () => rx.resume());
sink.on('error', (err: Error) => log.error('sink failed: nothing more is ACKed', { error: err.message }));

const statsWriter = new StatsWriter(args.dataDir, stats, args.statsIntervalMs, () => {
  stats.extra.lsp = rx.counters;
  stats.extra.sink = sink.counters;
  stats.extra.recovery = hwm.recovery;
}).start();

const server = net.createServer({ noDelay: true }, rx.accept);
const port = await listenOrExit(server, args.host, args.port, log);
announceReady({ role: 'receiver', lesson: 'day09', transport: 'lsp1-tcp', host: args.host, port: port, lane: args.lane, dataDir: args.dataDir });
log.info('listening', { host: args.host, port: port, dataDir: args.dataDir, fsync: args.fsync });

// ---- SIGTERM: stop accepting, fsync what we took, send the final ACKs, final stats -----------------
onShutdown(
  async () => {
    server.close();
    rx.stopReading(); // frames not yet in are never ACKed: the shipper sends them again
    await sink.close(); // flush + fsync: every batch we appended is durable now…
    await new Promise((r) => setImmediate(r)); // …its whenDurable callbacks have queued their ACKs…
    await rx.closeAll(); // …which go out before we close
    await hwm.close();
    stats.extra.sink = sink.counters;
    await statsWriter.stop();
    log.info('stopped', { persisted: stats.records.persisted, duplicates: stats.records.duplicates, rejected: stats.records.rejected });
  },
  { log },
);
