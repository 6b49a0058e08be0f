/**
 * Day 09 — Acknowledged delivery: the receiver.
 *
 * On day 08 a shipper could never know whether its records were stored: a successful send() only proves
 * the KERNEL took the bytes. They can still die in a socket buffer, in our memory, or in the page cache
 * when we crash. Today the receiver makes a promise it can keep, in LSP/1 frames (shared/protocol/README.md §3, §4):
 *
 *   1. HELLO → ACK(the stream's DURABLE high-water mark): "I hold 1..S of your stream; send what follows" [d09.2]
 *   2. dedup   a record with seq ≤ the stream's accepted mark was seen before: counted, not written again;
 *              the shipper resends after every reconnect, so this is what makes a resend harmless [d09.3, d09.4]
 *      gaps    a first seq above mark + 1 means the shipper dropped records on purpose: counted, accepted [d09.7]
 *   3. ACK only what is durable: after the sink's fsync, never after a mere write. One fsync covers many
 *      batches (group commit) and their ACKs go out together [d09.4]
 *   4. the marks survive kill -9: they are recovered from what is on disk (lessons/day09/hwm-store.ts) [d09.4]
 *   5. a broken frame is fatal for ITS connection only: NACK {code, message}, close (the connection
 *      machinery, shared/lsp-receiver.ts, does it for every receiver) [d09.9]
 *
 * Steps 1–3 are lessons/day09/ingest.ts (AckedIngest): what a HELLO answers, what a BATCH writes, when
 * its ACK leaves. This file wires it up: flags, the connection machinery, stats, the ready line, SIGTERM.
 *
 * The shipper resends until it gets an ACK (at-least-once); we drop what we already have (dedup). Together:
 * every record stored exactly once, whichever side crashes — "effectively exactly-once".
 *
 * Run: npx tsx lessons/day09/receiver.ts --port 5141 --data-dir data/day09
 */
import { parseCli, receiverOptions } from '../../shared/cli.ts';
import { createLog } from '../../shared/log.ts';
import { ReceiverStats } from '../../shared/stats.ts';
import { lspReceiverFor, lspReceiverOptions, serveAcked } from './acked-receiver.ts';
import { AckedIngest } from './ingest.ts';

const args = parseCli({
  name: 'lessons/day09/receiver.ts',
  summary:
    'Day 09 receiver: LSP/1 HELLO/BATCH/ACK over TCP; dedups by per-stream high-water mark, ACKs only durable records.',
  options: { ...receiverOptions('day09'), ...lspReceiverOptions() },
});

const log = createLog('day09/receiver');
const stats = new ReceiverStats(args.lane, 'lsp1-tcp');

// The records files, the marks recovered from them [d09.4], and the HELLO/BATCH/ACK rules [d09.2–d09.4, d09.7].
const ingest = await AckedIngest.open({ ...args, stats, log });

// The connection machinery (frames, NACK + close on a broken one [d09.9], PING, limits, ACK coalescing); the
// ingest pauses it when the disk is behind: TCP slows the shippers.
const rx = lspReceiverFor(args, ingest, { log, stats });

// stats.json, the TCP server, the ready line; SIGTERM: stop accepting, flush + fsync, the final ACKs, final stats.
await serveAcked({ lesson: 'day09', args, log, stats, ingest, rx });
