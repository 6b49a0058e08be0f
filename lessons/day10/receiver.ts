/**
 * Day 10 — UDP ingestion: the receiver.
 *
 * UDP gives up what TCP gave us for free: delivery (a datagram may vanish), order (it may arrive late),
 * no duplicates (it may arrive twice), and unbounded size (one datagram carries at most 65,507 bytes).
 * What it buys: no connection, no handshake, no head-of-line blocking, a sender that never waits for a
 * slow receiver — which is exactly why a slow receiver LOSES data instead of slowing the sender down.
 *
 * Today loss must be visible, never silent. Every datagram is one LSP/1 BATCH frame with a stream and a
 * seq (lessons/day10/README.md, UDP), so the receiver knows exactly which records it missed, and it asks the kernel which of
 * them the kernel itself threw away:
 *
 *   1. the socket     its receive buffer (--rcvbuf) is all that absorbs a burst; we report what the
 *                     kernel actually GRANTED, which is rarely what was asked [d10.1]
 *   2. one frame      each datagram must be exactly one BATCH frame with a good CRC; anything else is
 *                     malformed: counted by reason, sampled (rate-limited), never fatal [d10.5]
 *   3. accounting     per stream: received, gaps (lost), duplicates, reordered (seq-accounting.ts) [d10.3]
 *   4. which layer    the kernel's own drop counter for our socket (/proc/net/udp) beside our gaps, so
 *                     "lost" splits into "the kernel dropped it" and "we dropped it" [d10.4]
 *   5. persist        records with _rx {stream, seq}; SIGTERM drains the socket, flushes, final stats [d10.8]
 *
 * Run: npx tsx lessons/day10/receiver.ts --port 5142 --data-dir data/day10
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { parseCli, receiverOptions, receiverSinkOptions, opt } from '../../shared/cli.ts';
import { createLog } from '../../shared/log.ts';
import { bindOrExit, serveReceiver } from '../../shared/process.ts';
import { decodeBatch } from '../../shared/protocol/batch.ts';
import { LsError } from '../../shared/protocol/errors.ts';
import { FrameDecoder, FrameType, HEADER_SIZE, type Frame } from '../../shared/protocol/frame.ts';
import { validateBatch } from '../day08/validate.ts';
import { WARM_UP_RECORDS, warmUpReceivePath } from './warm-up.ts';
import { recoverHwm } from '../day09/hwm-store.ts';
import { FileSink } from '../../shared/storage/file-sink.ts';
import { RxWriter, peerName } from '../../shared/storage/rx.ts';
import { ReceiverStats, StatsWriter } from '../../shared/stats.ts';
import { TokenBucket } from '../../shared/token-bucket.ts';
import { readKernelUdpCounters } from './kernel-drops.ts';
import { reasonOf, type MalformedReason } from './malformed.ts';
import { SeqAccounting } from './seq-accounting.ts';

/** 65,535 minus the IPv4 header (20) and the UDP header (8): the largest UDP payload there is. */
const MAX_UDP_PAYLOAD = 65_507;
/** A compressed datagram may inflate this far (a 64 KiB "zip bomb" must not cost us 32 MiB per datagram). */
const MAX_DECODED_BYTES = 4 << 20;

// There are no connections on UDP: the connection limit and the idle timeout make no sense here.
// No ACKs: nobody waits for an fsync, so the fewer fsyncs of --fsync interval by default.
const {
  maxConnections: _noConnections,
  idleTimeoutMs: _noIdleTimeout,
  ...common
} = receiverOptions('day10', { fsync: 'interval' });
const args = parseCli({
  name: 'lessons/day10/receiver.ts',
  summary: 'Day 10 receiver: LSP/1 BATCH frames over UDP (one per datagram); counts loss per stream and per layer.',
  options: {
    ...common,
    rcvbuf: opt.bytes(
      '--rcvbuf <size>',
      'socket receive buffer to ask for (SO_RCVBUF); the kernel caps it (net.core.rmem_max) and Linux doubles it; 0 = the kernel default',
      16 << 20, // issue 21.3: 0.2-0.3 s of 300k records/s once doubled, where rmem_max allows (README "Why it is fast")
      { min: 0, max: 1 << 30 },
    ),
    maxDatagram: opt.bytes(
      '--max-datagram <size>',
      'largest datagram accepted; larger ones are malformed (too_large)',
      MAX_UDP_PAYLOAD,
      { min: HEADER_SIZE + 2, max: MAX_UDP_PAYLOAD },
    ),
    reorderWindow: opt.int(
      '--reorder-window <n>',
      'per stream, how far below the highest seq a missing seq is still remembered (a late arrival fills its gap)',
      16_384,
      { min: 1, max: 1 << 24 },
    ),
    maxStreams: opt.int(
      '--max-streams <n>',
      'streams tracked at once; datagrams of further streams are malformed (too_many_streams)',
      1024,
      { min: 1, max: 1 << 20 },
    ),
    rejectSamplesPerSec: opt.int(
      '--reject-samples-per-sec <n>',
      'malformed datagrams sampled into rejects.ndjson per second at most (all are counted)',
      10,
      { min: 1, max: 100_000 },
    ),
    maxBacklog: opt.bytes(
      '--max-backlog <size>',
      'when this many bytes wait for the disk, datagrams are dropped here (counted as udp.appDrops)',
      64 << 20,
      { min: 1 << 20 },
    ),
    drainQuietMs: opt.int(
      '--drain-quiet-ms <n>',
      'on SIGTERM, keep reading until no datagram arrives for this long',
      100,
      { min: 0, max: 3000 },
    ),
    warmUp: opt.int(
      '--warm-up <n>',
      'generated records run through the receive path (and thrown away) before the socket is bound, so the first datagrams meet compiled code (warm-up.ts); 0 = none',
      WARM_UP_RECORDS,
      { min: 0, max: 10_000_000 },
    ),
  },
});

const log = createLog('day10/receiver');
const stats = new ReceiverStats(args.lane, 'lsp1-udp');
const sink = await FileSink.open(receiverSinkOptions(args));
const accounting = new SeqAccounting(stats, args.reorderWindow, args.maxStreams);
// Marks across a restart (issue 18.5): each stream's last persisted seq, read back from the files (day 09's
// recovery: `_rx` names the stream and seq of every line). A shipper that kept sending while we were down
// then shows only its real loss, not one false gap from seq 1. No checkpoint on this lane: a start reads
// every records file (see README, "Across a restart").
const marks = await recoverHwm(args.dataDir);
for (const [stream, seq] of marks.hwm) accounting.restore(stream, seq);
stats.extra.recovery = marks.report;
if (marks.hwm.size > 0) log.info('marks restored from the data dir', { ...marks.report });

/** The UDP section of stats.json: our counts beside the kernel's. */
const udp = {
  rcvbufRequested: args.rcvbuf,
  /** what the kernel granted (getsockopt SO_RCVBUF) */
  rcvbuf: 0,
  maxDatagram: args.maxDatagram,
  /** datagrams this process read */
  datagrams: 0,
  /** malformed datagrams by reason, and their total */
  malformed: { total: 0 } as Record<string, number>,
  /** malformed datagrams written to rejects.ndjson, and those only counted (over the sampling rate) */
  samples: { written: 0, suppressed: 0 },
  /** records lost (sum of the streams' gaps): what the application knows is missing */
  gaps: 0,
  /** datagrams WE dropped: the disk was --max-backlog behind */
  appDrops: 0,
  /** datagrams the KERNEL dropped for our socket (receive buffer full); null where it cannot be read */
  kernelDrops: null as number | null,
  /** bytes waiting in the socket's receive buffer at the last look */
  kernelRxQueue: null as number | null,
  /** records older than the reorder window, or at or below a mark restored at start (late or duplicate: no longer knowable), dropped */
  tooOld: 0,
  streams: 0,
  /** streams whose mark was restored at start and that have not sent since */
  restoredPending: 0,
};

// ---- 1. the socket, and the buffer the kernel really gives us -------------------------------------
const socket = dgram.createSocket({
  type: net.isIPv6(args.host) ? 'udp6' : 'udp4',
  // Set after bind by Node. 0 = leave the kernel default (net.core.rmem_default).
  recvBufferSize: args.rcvbuf > 0 ? args.rcvbuf : undefined,
});

// ---- 2. exactly one BATCH frame per datagram ------------------------------------------------------
/** Reused while datagrams are well-formed; replaced after one that was not (its state is then dirty). */
let decoder = new FrameDecoder({ maxPayloadBytes: args.maxDatagram - HEADER_SIZE });
const frames: Frame[] = [];
const samples = new TokenBucket(args.rejectSamplesPerSec, args.rejectSamplesPerSec);

/**
 * Counted always — in `udp.malformed` and, like every reject on every lane, in the rejects-by-reason table
 * (`rejects`, `records.rejected`: the dashboard and /metrics read it; issue 18.4) — and written to
 * rejects.ndjson only within --reject-samples-per-sec, so a flood cannot fill the disk.
 */
function malformed(reason: MalformedReason, datagram: Buffer, peer: string): void {
  udp.malformed.total!++;
  udp.malformed[reason] = (udp.malformed[reason] ?? 0) + 1;
  stats.reject(reason);
  // @solution [d10.5] sample malformed datagrams at a bounded rate
  // @stub void samples; // (every one written: a flood fills the disk)
  // @stub sink.reject({ peer, reason, sample: datagram });
  // @stub udp.samples.written++;
  if (samples.tryTake()) {
    sink.reject({ peer, reason, sample: datagram });
    udp.samples.written++;
  } else {
    udp.samples.suppressed++;
  }
  // @end-solution
}

/** The datagram's one BATCH frame, or undefined after counting it as malformed. */
function oneFrame(datagram: Buffer, peer: string): Frame | undefined {
  if (datagram.length > args.maxDatagram) {
    malformed('too_large', datagram, peer);
    return undefined;
  }
  frames.length = 0;
  // @solution [d10.5] a datagram is exactly one frame: no less (truncated), no more (trailing bytes), CRC checked
  // @stub try {
  // @stub   decoder.push(datagram, frames); // whatever came first passes, unchecked
  // @stub } catch {
  // @stub   decoder = new FrameDecoder({ maxPayloadBytes: args.maxDatagram - HEADER_SIZE });
  // @stub }
  // @stub const first = frames[0];
  // @stub frames.length = 0;
  // @stub void FrameType;
  // @stub return first;
  try {
    decoder.push(datagram, frames);
  } catch (err) {
    decoder = new FrameDecoder({ maxPayloadBytes: args.maxDatagram - HEADER_SIZE });
    // A good frame followed by a broken one is still "more than one frame".
    const reason = frames.length > 0 ? 'trailing_bytes' : reasonOf(err instanceof LsError ? err.code : undefined);
    malformed(reason, datagram, peer);
    return undefined;
  }
  if (frames.length !== 1 || decoder.bufferedBytes !== 0) {
    // The decoder holds the start of a frame that will never be completed: a datagram has no "next chunk".
    decoder = new FrameDecoder({ maxPayloadBytes: args.maxDatagram - HEADER_SIZE });
    malformed(frames.length === 0 ? 'truncated' : 'trailing_bytes', datagram, peer);
    return undefined;
  }
  const frame = frames[0]!;
  if (frame.type !== FrameType.BATCH) {
    // No HELLO, ACK or PING on UDP (lessons/day10/README.md, UDP).
    malformed('not_batch', datagram, peer);
    return undefined;
  }
  return frame;
  // @end-solution
}

// ---- 3. per-stream accounting, then validate and persist -------------------------------------------
/**
 * Records stamped with `_rx` collect here and reach the sink every few ms (or every MiB), not per
 * datagram: a file write per datagram would cost more than the datagram itself. Nobody waits for an ACK
 * on UDP, so a few ms on the way to the disk cost nothing.
 */
const FLUSH_MS = 5;
const out = new RxWriter(256 << 10);
let flushTimer: NodeJS.Timeout | undefined;
let lastAddress = '';
let lastPort = -1;
let peer = '';
let lastMs = 0;

function flushOut(): void {
  if (flushTimer) clearTimeout(flushTimer);
  flushTimer = undefined;
  const n = out.count;
  const bytes = out.take();
  if (!bytes) return;
  sink.append(bytes);
  stats.records.persisted += n;
}

function onDatagram(datagram: Buffer, rinfo: dgram.RemoteInfo): void {
  udp.datagrams++;
  stats.bytes.wire += datagram.length;
  if (rinfo.port !== lastPort || rinfo.address !== lastAddress) {
    lastAddress = rinfo.address;
    lastPort = rinfo.port;
    peer = peerName(rinfo.address, rinfo.port);
    lastMs = 0; // forces a new _rx context below
  }
  const frame = oneFrame(datagram, peer);
  if (!frame) return;

  let lines: Buffer[];
  try {
    // count must match the payload; a compressed payload is inflated, but never past MAX_DECODED_BYTES
    lines = decodeBatch(frame, { maxDecodedBytes: MAX_DECODED_BYTES });
  } catch (err) {
    malformed(reasonOf(err instanceof LsError ? err.code : undefined), datagram, peer);
    return;
  }

  // Bounded memory: UDP has no backpressure, so when the disk falls this far behind we drop here — and
  // say so. The dropped seqs become gaps as soon as later ones arrive.
  if (sink.backlogBytes > args.maxBacklog) {
    udp.appDrops++;
    stats.records.dropped += frame.count;
    return;
  }

  const { stream, seq, count } = frame;
  stats.records.received += count;
  stats.bytes.decoded += frame.codec === 0 ? frame.payload.length : decodedBytes(lines);
  const keep = accounting.account(stream, seq, count);
  if (keep === false) {
    malformed('too_many_streams', datagram, peer);
    return;
  }

  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    out.context({ ts: new Date(now).toISOString(), peer, lane: args.lane });
  }
  // Every record is validated, the datagram's lines at once (day 08's validateBatch: one UTF-8 check and
  // one string per datagram, no JSON.parse for a record of the common shape; the same answers as
  // validateRecord, a line at a time).
  const verdicts = validateBatch(lines, 0, args.maxRecordBytes);
  for (let i = 0; i < count; i++) {
    if (keep !== null && keep[i] === 0) continue; // a duplicate (or too old to tell)
    const line = lines[i]!;
    const v = verdicts[i];
    if (v === undefined) {
      out.addSeq(line, stream, seq + i);
    } else {
      // An invalid record inside a good frame: rejected with its seq, and it counts as delivered (shared/protocol/README.md §3).
      stats.reject(v.reason);
      sink.reject({ peer, reason: v.reason, stream, seq: seq + i, sample: line });
    }
  }
  if (out.length >= 1 << 20) flushOut();
  else if (!flushTimer && out.count > 0) flushTimer = setTimeout(flushOut, FLUSH_MS);
}

function decodedBytes(lines: Buffer[]): number {
  let n = lines.length;
  for (const l of lines) n += l.length;
  return n;
}

// ---- 4. which layer lost what: the kernel's drop counter for OUR socket ----------------------------
// The reading itself is kernel-drops.ts (your TODOs there); here it is polled with the stats and read one
// last time at shutdown.
async function pollKernel(): Promise<void> {
  const k = await readKernelUdpCounters(socket.address());
  if (!k) return; // not Linux, or the socket is gone: stays null ("unknown"), never a made-up 0
  udp.kernelDrops = k.drops;
  udp.kernelRxQueue = k.rxQueue;
}

const statsWriter = new StatsWriter(args.dataDir, stats, args.statsIntervalMs, () => {
  udp.gaps = accounting.totalGaps();
  udp.tooOld = accounting.tooOld;
  udp.streams = accounting.streamCount;
  udp.restoredPending = accounting.restoredPending;
  stats.extra.udp = udp;
  stats.extra.sink = sink.counters;
});

// Compiled before the first datagram: UDP cannot wait for a cold receiver (warm-up.ts).
const warmUpMs = Math.round(warmUpReceivePath(args.warmUp, args.maxRecordBytes, MAX_DECODED_BYTES));
socket.on('message', onDatagram);
sink.on('error', (err: Error) => log.error('sink failed: records are no longer persisted', { error: err.message }));

const port = await bindOrExit(socket, args, log);
udp.rcvbuf = socket.getRecvBufferSize();
if (args.rcvbuf > 0 && udp.rcvbuf < args.rcvbuf) {
  log.warn('the kernel granted a smaller receive buffer than asked: raise net.core.rmem_max to get more', {
    asked: args.rcvbuf,
    granted: udp.rcvbuf,
  });
}
await pollKernel();
statsWriter.start();
const kernelTimer = setInterval(() => void pollKernel(), args.statsIntervalMs);
kernelTimer.unref();

const served = {
  lesson: 'day10',
  transport: 'lsp1-udp',
  args,
  port,
  log,
  stats,
  statsWriter,
  ready: { rcvbuf: udp.rcvbuf, rcvbufRequested: args.rcvbuf, maxDatagram: args.maxDatagram },
  listening: { rcvbuf: udp.rcvbuf, rcvbufRequested: args.rcvbuf, warmUp: { records: args.warmUp, ms: warmUpMs } },
  stopped: () => ({
    datagrams: udp.datagrams,
    gaps: udp.gaps,
    kernelDrops: udp.kernelDrops,
    appDrops: udp.appDrops,
    malformed: udp.malformed.total,
  }),
};
// ---- 5. SIGTERM: read what is already in the socket buffer, flush, fsync; then the final stats [d10.8] ----
serveReceiver(served, async () => {
  // @solution [d10.8] drain the socket buffer, read the kernel's counters one last time (before close), flush, close the sink
  clearInterval(kernelTimer);
  // Datagrams sent before the signal may still sit in the receive buffer: read until it is quiet.
  const until = Date.now() + 1500;
  for (;;) {
    const before = udp.datagrams;
    await new Promise((r) => setTimeout(r, args.drainQuietMs));
    if (udp.datagrams === before || Date.now() >= until) break;
  }
  await pollKernel(); // before close(): the socket's /proc row goes with it
  socket.close();
  flushOut();
  await sink.close();
  // @end-solution
});
