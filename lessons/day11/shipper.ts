/**
 * Day 11 — Batching: trading latency for throughput, measured. The shipper.
 *
 * Every frame costs the same whatever it carries: a 28-byte header, a CRC pass, a write() (a system call),
 * a wakeup on the receiver, an ACK, a sink append. Send one record per frame and those costs are paid per
 * record; send a thousand and they are paid once per thousand. The price is latency: a record waits in the
 * open batch until the batch leaves. So a batch leaves on whichever comes FIRST [d11.2, d11.3, d11.4]:
 *
 *   --batch-records N    it holds N records                        (throughput: amortize the per-frame cost)
 *   --batch-bytes B      the next record would take it past B bytes (memory, frame and datagram limits)
 *   --batch-delay-ms D   D ms have passed since its FIRST record    (latency: a record never waits longer)
 *
 * and always on close: end of input or SIGTERM sends the partial batch, nothing is left behind [d11.5].
 * Within a stream, seqs number the records in the order they were read; a batch's seq is its first
 * record's and record i carries seq + i, so order survives batching and nothing goes twice [d11.6].
 *
 *   --transport tcp   LSP/1 with ACKs: the day 09 engine (lessons/day09/shipper-engine.ts) with today's Batcher
 *                     plugged into its batching hook (day 09's own rule only sends what is already waiting).
 *   --transport udp   one BATCH per datagram, no ACK: the byte limit is also the datagram's — a batch
 *                     never exceeds --max-datagram, however its records are sized [d11.7].
 *
 * Settings that can never work are refused at start, naming the flag (exit 2) [d11.8].
 * The done line reports batches, records per batch, why each batch left (flushes), socket writes, and
 * each record's wait from entering the batcher to its ACK (TCP) or its send (UDP): waitMs p50/p99.
 *
 * Run: npx tsx lessons/day11/shipper.ts --target 127.0.0.1:5143 --generate 200000 --batch-records 100
 *      npx tsx lessons/day11/experiment.ts        (the sweep: batch size × delay → records/s, latency)
 */
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { Batcher, type Batch } from './batcher.ts';
import { formatHostPort, opt, parseCli } from '../../shared/cli.ts';
import { openSource } from '../day08/input.ts';
import { createLog } from '../../shared/log.ts';
import {
  generatePaced,
  LspShipper,
  lspShipperOptions,
  SMALLEST_RECORD_BYTES,
  validateLspShipper,
  WaitTimes,
  type BatchLimits,
  type LspShipperArgs,
} from '../day09/shipper-engine.ts';
import { announceDone, onShutdown } from '../../shared/process.ts';
import { encodeBatchPayload } from '../../shared/protocol/batch.ts';
import { encodeFrame, FrameType, HEADER_SIZE } from '../../shared/protocol/frame.ts';
import { RecordGenerator } from '../../shared/generate.ts';
import { shipperDirs } from '../day09/shipper-options.ts';
import { batchFields } from '../day09/shipper-report.ts';

const PROGRAM = 'lessons/day11/shipper.ts';
/** The most a UDP datagram can carry (65,535 - IPv4 header 20 - UDP header 8). */
const MAX_UDP_PAYLOAD = 65_507;

const args = parseCli({
  name: PROGRAM,
  summary:
    'Day 11 shipper: batches records by count, bytes and time (whichever first), over LSP/1 TCP (ACKed) or UDP (one BATCH per datagram).',
  options: {
    ...lspShipperOptions('day11'),
    transport: opt.choice(
      '--transport <t>',
      'tcp (LSP/1 with ACKs, resend, spool) | udp (one BATCH per datagram, no ACK)',
      ['tcp', 'udp'] as const,
      'tcp',
    ),
    maxDatagram: opt.bytes(
      '--max-datagram <size>',
      'udp: largest datagram, the 28-byte header included (1472 = Ethernet MTU - IP - UDP headers)',
      1472,
      { min: 1, max: MAX_UDP_PAYLOAD },
    ),
    maxInFlight: opt.int(
      '--max-in-flight <n>',
      'udp: datagrams handed to the socket and not yet confirmed sent, at most',
      64,
      { min: 1, max: 65_536 },
    ),
  },
  validate: (v) => validateLspShipper(v) ?? validateDatagram(v),
});

// ---- 1. when a batch leaves --------------------------------------------------------------------------
/**
 * The Batcher (lessons/day11/batcher.ts) flushes on whichever limit comes first and on close; these are the
 * limits. A record costs its UTF-8 bytes plus its LF, and over UDP the payload must fit in one datagram
 * AFTER the frame header: 1472 - 28 = 1444 bytes by default.
 */
function batchLimits(): BatchLimits {
  let maxBytes = args.batchBytes;
  // @solution [d11.7] over UDP a batch is one datagram: its byte limit is also --max-datagram minus the 28-byte header
  if (args.transport === 'udp') maxBytes = Math.min(maxBytes, args.maxDatagram - HEADER_SIZE);
  // @end-solution
  return { maxRecords: args.batchRecords, maxBytes, maxDelayMs: args.batchDelayMs };
}

// ---- 2. settings that can never work -------------------------------------------------------------------
// (zero, negative and out-of-range values are refused by the flags' ranges; --batch-bytes smaller than
// one record by validateLspShipper)
function validateDatagram(v: LspShipperArgs & { transport: 'tcp' | 'udp'; maxDatagram: number }): string | undefined {
  if (v.transport !== 'udp') return undefined;
  // @solution [d11.8] over UDP, --max-datagram minus the header must hold at least one record (the smallest valid one; with --generate, the largest generated one)
  // @stub void [SMALLEST_RECORD_BYTES, RecordGenerator]; // what you will need
  const room = v.maxDatagram - HEADER_SIZE;
  if (room < SMALLEST_RECORD_BYTES) {
    return `--max-datagram ${v.maxDatagram} leaves ${Math.max(0, room)} bytes after the ${HEADER_SIZE}-byte header: less than one record (the smallest valid record is ${SMALLEST_RECORD_BYTES} bytes)`;
  }
  if (v.generate !== undefined) {
    const gen = new RecordGenerator({ seed: v.seed });
    let largest = 0;
    for (let i = 0; i < 1000; i++) largest = Math.max(largest, Buffer.byteLength(gen.next()) + 1);
    if (room < largest)
      return `--max-datagram ${v.maxDatagram} leaves ${room} bytes after the header: --generate makes records of up to ${largest} bytes`;
  }
  // @end-solution
  return undefined;
}

const log = createLog('day11/shipper');

// ---- 3a. TCP: the day 09 engine, with today's Batcher in its batching hook ------------------------------
// The engine owns the connection, the seqs, the window, the ACKs, resends and the spool; how records are
// grouped is a policy it is handed (lessons/day09/batching.ts). Day 09's policy sends what is waiting; ours
// is the Batcher: full, bytes or --batch-delay-ms after its first record, whichever first.
async function shipTcp(): Promise<number> {
  const { state, spool, follow } = shipperDirs(PROGRAM, args); // --state-dir, --spool, --follow's position
  const shipper = new LspShipper({
    lesson: 'day11',
    args,
    log,
    state,
    spool,
    follow,
    batch: batchLimits(),
    batching: (o) => new Batcher<string>(o),
  });
  return shipper.run();
}

// ---- 3b. UDP: the batcher in plain sight, one datagram per batch ------------------------------------------
async function shipUdp(): Promise<number> {
  const limits = batchLimits();
  const stream = args.streamId ?? randomInt(1, 2 ** 32);
  const socket = dgram.createSocket(net.isIPv6(args.target.host) ? 'udp6' : 'udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.connect(args.target.port, args.target.host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', (err) => log.warn('socket error', { error: err.message }));

  const started = performance.now();
  const waits = new WaitTimes();
  const count = { read: 0, sent: 0, dropped: 0, rejected: 0, datagrams: 0, bytes: 0, largest: 0 };
  let nextSeq = 1; // seq of the next record admitted
  let flushed = 0; // records handed to datagrams so far: the next batch starts at flushed + 1
  let inFlight = 0;
  let stopping = false;
  /** whoever waits for a send to complete (the reading loop, the shutdown) */
  const waiting: Array<() => void> = [];
  const sendDone = (): Promise<void> => new Promise((r) => waiting.push(r));

  // Each batch is one frame is one datagram. Its seq is its first record's: batches leave in order and
  // hold consecutive records, so that is one past the records flushed before it.
  const batcher = new Batcher<string>({
    ...limits,
    onFlush: (b: Batch<string>) => {
      // @solution [d11.6] a batch's seq is its first record's; the next batch starts after its LAST record
      // @stub const first = flushed + 1;
      const first = flushed + 1;
      flushed += b.items.length;
      // @end-solution
      const frame = encodeFrame({
        type: FrameType.BATCH,
        count: b.items.length,
        stream,
        seq: first,
        payload: encodeBatchPayload(b.items),
      });
      const last = first + b.items.length - 1;
      inFlight++;
      socket.send(frame, (err) => {
        inFlight--;
        if (err) {
          count.dropped += b.items.length;
          log.warn('send failed', { error: err.message, seq: first, records: b.items.length });
        } else {
          count.sent += b.items.length;
          count.datagrams++;
          count.bytes += frame.length;
          if (frame.length > count.largest) count.largest = frame.length;
        }
        waits.acked(last, performance.now()); // for UDP "done" is the kernel taking the datagram
        for (const w of waiting.splice(0)) w();
      });
    },
  });

  /** A record that cannot fit in any datagram is refused with a clear error (lessons/day10/README.md, UDP), never sent oversized. */
  function admit(records: readonly string[]): void {
    waits.enter(nextSeq, records.length, performance.now()); // (a rejected record takes no seq: the run is cut short below)
    const runFirst = nextSeq;
    for (const r of records) {
      count.read++;
      const bytes = Buffer.byteLength(r) + 1; // exact: a datagram limit is a hard limit
      if (!batcher.fits(bytes)) {
        count.rejected++;
        if (count.rejected <= 10) {
          log.error(
            `record ${count.read} rejected: ${bytes} bytes (with its LF) cannot fit in one datagram of --max-datagram ${args.maxDatagram} (${limits.maxBytes} after the ${HEADER_SIZE}-byte header)`,
            { code: 'LS_ERR_TOO_LARGE', sample: r.slice(0, 80) },
          );
        }
        continue;
      }
      nextSeq++;
      batcher.add(r, bytes);
    }
    const skipped = records.length - (nextSeq - runFirst);
    if (skipped > 0) waits.discard(nextSeq, nextSeq + skipped);
  }

  const settle = async (): Promise<void> => {
    while (inFlight > 0) await sendDone();
  };
  const finish = async (reason: string): Promise<number> => {
    await settle();
    if (progress) clearInterval(progress);
    socket.close();
    if (count.rejected > 10)
      log.error(`${count.rejected} records rejected in all (too large for --max-datagram ${args.maxDatagram})`, {
        code: 'LS_ERR_TOO_LARGE',
      });
    const elapsedMs = performance.now() - started;
    announceDone({
      sent: count.sent,
      acked: 0, // UDP has no acknowledgements
      dropped: count.dropped,
      read: count.read,
      rejected: count.rejected,
      stream,
      firstSeq: 1,
      lastSeq: nextSeq - 1,
      // a batch is one datagram: one frame, one write
      ...batchFields({
        elapsedMs,
        delivered: count.sent,
        sent: count.sent,
        batches: count.datagrams,
        frames: count.datagrams,
        flushes: batcher.flushes,
        socketWrites: count.datagrams,
        bytesWire: count.bytes,
      }),
      maxDatagram: args.maxDatagram,
      largestDatagram: count.largest,
      waitMs: waits.summary(),
      reason,
    });
    return count.rejected > 0 || count.dropped > 0 ? 1 : 0;
  };

  onShutdown(
    async (reason) => {
      stopping = true;
      // @solution [d11.5] SIGTERM: the partial batch is sent before we exit, nothing left behind
      batcher.close();
      // @end-solution
      await settle();
      await finish(`${reason}: stopped`);
    },
    { log },
  );

  const progress =
    args.progressMs > 0
      ? setInterval(() => {
          process.stdout.write(
            `${JSON.stringify({ event: 'progress', read: count.read, sent: count.sent, dropped: count.dropped, rejected: count.rejected, queued: batcher.size, inFlight, state: stopping ? 'draining' : 'streaming' })}\n`,
          );
        }, args.progressMs)
      : undefined;
  log.info('shipping over UDP', {
    target: formatHostPort(args.target),
    stream,
    batch: `${limits.maxRecords} records / ${limits.maxBytes} bytes / ${limits.maxDelayMs} ms`,
    maxDatagram: args.maxDatagram,
  });
  const source =
    args.generate !== undefined && args.rate > 0
      ? generatePaced(args.generate, args.rate, args.seed, () => stopping)
      : openSource(args);
  for await (const records of source) {
    if (stopping) break;
    admit(records);
    // Bounded: at most --max-in-flight datagrams wait for the kernel; the source waits meanwhile.
    while (inFlight >= args.maxInFlight) await sendDone();
    if (args.generate !== undefined) await new Promise((r) => setImmediate(r));
  }
  if (stopping) return new Promise<number>(() => {}); // the shutdown handler finishes and exits
  batcher.close(); // end of input: the partial batch goes too
  return finish('source exhausted');
}

process.exit(await (args.transport === 'udp' ? shipUdp() : shipTcp()));
