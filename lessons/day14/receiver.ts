/**
 * Day 14 — Load testing: the lane under test.
 *
 * This is day 11's acknowledged LSP/1 receiver (lessons/day09/ingest.ts + shared/lsp-receiver.ts: HELLO →
 * durable high-water mark, dedup by seq, ACK once durable) with one thing added so that a load test
 * has something to find: a bounded queue between the sockets and the sink, drained at a rate you
 * choose. A real receiver has such a queue whether it says so or not (socket buffers, the event loop,
 * the page cache); here it is explicit, measured, and its overflow policy is named and counted
 * (CONVENTIONS.md §4 "every queue has a bound"):
 *
 *   sockets ──▶ [ queue: --queue N records ] ──▶ sink (at most --drain-rate records/s: a slow disk on purpose)
 *                  full? --overflow block        stop reading: TCP pushes back, the sender's latency climbs
 *                        --overflow drop-newest  the batch is dropped and counted (stats records.dropped);
 *                                                the next batch is a gap, its ACK covers the dropped seqs —
 *                                                only the data dir tells the truth. The load generator's
 *                                                --verify-dir is how you catch a lane that does this.
 *
 * With --queue 0 (the default) batches go straight to the sink, exactly as on day 11.
 *
 * Run: npx tsx lessons/day14/receiver.ts --port 5146 --data-dir data/day14 [--queue 5000 --drain-rate 50000 --overflow drop-newest]
 */
import { lspReceiverFor, lspReceiverOptions, serveAcked } from '../day09/acked-receiver.ts';
import { AckedIngest } from '../day09/ingest.ts';
import { opt, parseCli, receiverOptions } from '../../shared/cli.ts';
import { createLog } from '../../shared/log.ts';
import type { LspConnection } from '../../shared/lsp-receiver.ts';
import type { Frame } from '../../shared/protocol/frame.ts';
import { ReceiverStats } from '../../shared/stats.ts';

const args = parseCli({
  name: 'lessons/day14/receiver.ts',
  summary:
    'Day 14 receiver: the lane under load — LSP/1 over TCP with ACKs (as day 11), plus a bounded, rate-limited queue with a named overflow policy.',
  options: {
    ...receiverOptions('day14'),
    ...lspReceiverOptions(),
    queue: opt.int(
      '--queue <n>',
      'records held between the sockets and the sink (0 = no queue: straight to the sink)',
      0,
      { min: 0, max: 100_000_000 },
    ),
    overflow: opt.choice(
      '--overflow <policy>',
      'when the queue is full: block (stop reading) | drop-newest (drop the arriving batch, counted)',
      ['block', 'drop-newest'] as const,
      'block',
    ),
    drainRate: opt.int(
      '--drain-rate <n>',
      'records/s the sink takes from the queue (0 = as fast as it can); simulates a slow disk',
      0,
      { min: 0 },
    ),
  },
});

const log = createLog('day14/receiver');
const stats = new ReceiverStats(args.lane, 'lsp1-tcp');
const ingest = await AckedIngest.open({ ...args, stats, log });
// day 09's connection machinery, with the queue below in front of the ingest's onBatch
const rx = lspReceiverFor(args, ingest, { log, stats, handlers: { onHello: ingest.onHello, onBatch } });

// ---- the queue: bounded, drained at --drain-rate, overflow named and counted --------------------------
interface Queued {
  conn: LspConnection;
  frame: Frame;
}
const queue: Queued[] = [];
let head = 0;
const q = {
  capacity: args.queue,
  overflow: args.overflow,
  drainRate: args.drainRate,
  queued: 0,
  peak: 0,
  dropped: 0,
  droppedBatches: 0,
  blocked: 0,
};
/** records dropped per stream (what a load test's verification should find missing) */
const droppedByStream: Record<string, number> = {};
let blocked = false;
let drainTimer: NodeJS.Timeout | undefined;
let tokens = 0;
let lastDrain = performance.now();

function onBatch(conn: LspConnection, frame: Frame): void {
  if (args.queue === 0) return ingest.onBatch(conn, frame);
  if (q.queued + frame.count > args.queue) {
    if (args.overflow === 'drop-newest') {
      // Read, counted, never stored. The HWM does not move, so the next batch shows up as a gap.
      q.dropped += frame.count;
      q.droppedBatches++;
      stats.records.received += frame.count;
      stats.records.dropped += frame.count;
      droppedByStream[frame.stream] = (droppedByStream[frame.stream] ?? 0) + frame.count;
      return;
    }
    // block: keep this batch (it is already read), stop reading until the queue is half empty
    if (!blocked) {
      blocked = true;
      q.blocked++;
      rx.pause();
    }
  }
  queue.push({ conn, frame });
  q.queued += frame.count;
  if (q.queued > q.peak) q.peak = q.queued;
  scheduleDrain();
}

function scheduleDrain(): void {
  if (drainTimer === undefined) drainTimer = setTimeout(drain, args.drainRate > 0 ? 5 : 0);
}

/** Hands queued batches to the sink: all of them, or what --drain-rate allows since the last call. */
function drain(limit = true): void {
  drainTimer = undefined;
  const now = performance.now();
  if (args.drainRate > 0 && limit) {
    // a bucket of at most 50 ms worth: a slow disk does not save up for a burst
    tokens = Math.min(tokens + ((now - lastDrain) * args.drainRate) / 1000, Math.max(1, args.drainRate / 20));
  } else tokens = Number.POSITIVE_INFINITY;
  lastDrain = now;
  while (head < queue.length) {
    const item = queue[head]!;
    if (item.frame.count > tokens && tokens < Math.max(1, args.drainRate / 20)) break;
    tokens -= item.frame.count;
    queue[head++] = undefined as unknown as Queued;
    q.queued -= item.frame.count;
    try {
      ingest.onBatch(item.conn, item.frame);
    } catch (err) {
      // a payload that does not decode: that connection is done (as LspReceiver would do inline)
      log.warn('bad batch from the queue: closing its connection', { peer: item.conn.peer, error: String(err) });
      item.conn.socket.destroy();
    }
  }
  if (head === queue.length) {
    queue.length = 0;
    head = 0;
  } else if (head > 1024) {
    queue.splice(0, head);
    head = 0;
  }
  if (blocked && q.queued <= args.queue / 2) {
    blocked = false;
    rx.resume();
  }
  if (head < queue.length) scheduleDrain();
}

// day 09's serving; on SIGTERM, once the server is closed, the queue is emptied before day 09's shutdown
await serveAcked(
  {
    lesson: 'day14',
    args,
    log,
    stats,
    ingest,
    rx,
    collect: () => {
      stats.extra.batching = { frames: ingest.batches.frames, records: ingest.batches.records };
      stats.extra.queue = { ...q, droppedByStream };
    },
    listening: { queue: args.queue, overflow: args.overflow, drainRate: args.drainRate },
    stopped: () => ({ dropped: stats.records.dropped }),
  },
  () => {
    rx.stopReading();
    // what is queued was read: it goes to the sink now, at full speed, before the final fsync
    if (drainTimer) clearTimeout(drainTimer);
    drain(false);
  },
);
