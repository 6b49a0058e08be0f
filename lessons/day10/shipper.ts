/**
 * Day 10 — UDP ingestion: the shipper.
 *
 * A datagram is a message, not a stream: it arrives whole or not at all, and it has a size limit. So the
 * shipper packs records into datagrams itself, and the limit is a hard rule, not a hint [d10.6]:
 *
 *   datagram = 28-byte LSP/1 header + payload (records as NDJSON, each with its LF)  ≤  --max-datagram
 *
 * 1472 (the default) is a 1500-byte Ethernet MTU minus the IPv4 (20) and UDP (8) headers: a datagram
 * that big still crosses a typical network unfragmented (a lost fragment loses the whole datagram).
 * 65507 is the most UDP can carry at all. A record that cannot fit alone is rejected with a clear error —
 * it never goes out as an oversized (or silently truncated) datagram.
 *
 * Nobody answers: no ACK, no backpressure from the receiver. The shipper cannot know what arrived; the
 * receiver counts what it missed from the seqs. What the shipper CAN do is not overrun the receiver:
 * `--rate` paces it with a token bucket [d10.7], and it never queues without bound — at most
 * --max-in-flight datagrams are handed to the kernel and not yet confirmed by their send callback.
 *
 * Run: npx tsx lessons/day10/shipper.ts --target 127.0.0.1:5142 --generate 100000 --rate 50000
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import {
  formatHostPort,
  opt,
  parseCli,
  parseInteger,
  requireOneSource,
  shipperOptions,
  type OptionSpec,
} from '../../shared/cli.ts';
import { openSource } from '../day08/input.ts';
import { createLog } from '../../shared/log.ts';
import { announceDone, onShutdown } from '../../shared/process.ts';
import { encodeBatch } from '../../shared/protocol/batch.ts';
import { HEADER_SIZE } from '../../shared/protocol/frame.ts';
import { TokenBucket } from '../../shared/token-bucket.ts';

/** `--rate`: records per second, or 0 / `max` for unlimited. */
const rateOption: OptionSpec<number, true> = {
  flags: '--rate <records/s>',
  description: 'records per second at most (token bucket); 0 or max = as fast as the socket takes them',
  defaultValue: 0,
  parse: (raw) => (raw.trim().toLowerCase() === 'max' ? 0 : parseInteger(raw, 0, 1_000_000_000)),
};

const args = parseCli({
  name: 'lessons/day10/shipper.ts',
  summary:
    'Day 10 shipper: packs records into LSP/1 BATCH datagrams of at most --max-datagram bytes and sends them over UDP.',
  options: {
    ...shipperOptions('day10'),
    maxDatagram: opt.bytes(
      '--max-datagram <size>',
      'largest datagram sent, the 28-byte LSP/1 header included (1472 = Ethernet MTU 1500 - IP 20 - UDP 8; at most 65507)',
      1472,
      { min: HEADER_SIZE + 2, max: 65_507 },
    ),
    rate: rateOption,
    streamId: opt.int(
      '--stream-id <n>',
      'stream id (u32) of this run; default: a random one, so each run is a new stream starting at seq 1',
      undefined,
      { min: 0, max: 0xffff_ffff },
    ),
    burst: opt.int(
      '--burst <records>',
      'with --rate: most records sent at once after a pause (default: 50 ms worth, rate / 20)',
      undefined,
      { min: 1 },
    ),
    maxInFlight: opt.int(
      '--max-in-flight <n>',
      'datagrams handed to the socket and not yet confirmed sent, at most',
      64,
      { min: 1, max: 65_536 },
    ),
  },
  validate: requireOneSource,
});

const log = createLog('day10/shipper');
const stream = args.streamId ?? randomInt(1, 0xffff_ffff);
/** What a payload may hold: the datagram limit minus the frame header. Each record costs its bytes + LF. */
const maxPayload = args.maxDatagram - HEADER_SIZE;

const started = performance.now();
let nextSeq = 1;
let records = 0; // records read from the source
let sent = 0; // records in datagrams the kernel took
let dropped = 0; // records in datagrams whose send failed
let rejected = 0; // records too large for any datagram
let datagrams = 0;
let bytes = 0;
let largest = 0;
let sendErrors = 0;
let stopping = false;

// ---- 1. packing: records into the open datagram while they fit ---------------------------------------
// The simplest rule that works, and all a datagram needs: add records to the open datagram until the next
// one would not fit, then that datagram is done. (Day 11's Batcher adds a count and a clock; on UDP nothing
// gets cheaper by waiting, so here a datagram also closes at the end of each source chunk.)
/** Datagrams ready to send (their records, in order): a handful at most, the source waits while we send them. */
const ready: string[][] = [];
/** the open datagram: its records, and the payload bytes they take (each record + its LF) */
const open = { records: [] as string[], bytes: 0 };

/** The open datagram is done: it joins the send queue as it is. */
function closeDatagram(): void {
  if (open.records.length === 0) return;
  ready.push(open.records);
  open.records = [];
  open.bytes = 0;
}

function reject(record: string, size: number): void {
  rejected++;
  // A clear error, but not one per line when a whole file is too wide: the first 10, then a summary at the end.
  if (rejected <= 10) {
    log.error(
      `record ${records} rejected: ${size} bytes (with its LF) cannot fit in one datagram of --max-datagram ${args.maxDatagram} bytes (${maxPayload} after the ${HEADER_SIZE}-byte header)`,
      { code: 'LS_ERR_TOO_LARGE', sample: record.slice(0, 80) },
    );
  }
}

function pack(record: string): void {
  records++;
  // @solution [d10.2, d10.6] pack: a record costs its UTF-8 bytes + LF; one that cannot fit alone is rejected (reject()); one that would take the open datagram past maxPayload closes it first (closeDatagram()); then it joins the open datagram
  // @stub ready.push([record]); // every record in a datagram of its own, whatever its size
  // @stub void reject;
  // Bytes, not characters: "é" is one character and two bytes on the wire.
  const size = Buffer.byteLength(record) + 1;
  if (size > maxPayload) return reject(record, size);
  // A payload may be exactly maxPayload bytes; one byte more and the record waits for the next datagram.
  // (The count field's 65,535 is never reached: a payload holds at most 65,479 bytes, and every record
  // takes at least its LF.)
  if (open.records.length > 0 && open.bytes + size > maxPayload) closeDatagram();
  open.records.push(record);
  open.bytes += size;
  // @end-solution
}

// ---- 2. sending: paced by --rate, at most --max-in-flight datagrams unconfirmed ---------------------
const socket = dgram.createSocket(net.isIPv6(args.target.host) ? 'udp6' : 'udp4');
socket.on('error', (err) => log.error('socket error', { error: err.message }));
// The burst lets the shipper catch up after a pause (GC, a busy CPU) without losing its pace; each burst
// must still fit in the receiver's buffer, so it stays small: --burst, default 50 ms worth of records.
const bucket = new TokenBucket(args.rate, Math.max(1, args.burst ?? args.rate / 20));
let inFlight = 0;
let wakeSender: (() => void) | undefined;
let wakeIdle: (() => void) | undefined;
let warnedRefused = false;

function onSent(n: number, size: number, err: Error | null): void {
  inFlight--;
  if (err) {
    sendErrors++;
    dropped += n;
    // With a connected UDP socket the kernel reports an ICMP "port unreachable" as ECONNREFUSED.
    if (!warnedRefused)
      log.warn('send failed (is a receiver listening?)', { error: err.message, target: formatHostPort(args.target) });
    warnedRefused = true;
  } else {
    sent += n;
    datagrams++;
    bytes += size;
  }
  if (wakeSender) {
    const w = wakeSender;
    wakeSender = undefined;
    w();
  }
  if (inFlight === 0 && wakeIdle) {
    const w = wakeIdle;
    wakeIdle = undefined;
    w();
  }
}

async function sendReady(): Promise<void> {
  for (let b = 0; b < ready.length && !stopping; b++) {
    const items = ready[b]!;
    const n = items.length;
    const frame = encodeBatch({ stream, seq: nextSeq, records: items });
    nextSeq += n;
    if (frame.length > largest) largest = frame.length;
    // @solution [d10.7] pace with the token bucket: sleep once the debt is worth a timer
    // @stub void bucket;
    const wait = bucket.take(n);
    if (wait >= 2) await new Promise((r) => setTimeout(r, wait)); // a timer per 2 ms of debt, not per datagram
    // @end-solution
    while (inFlight >= args.maxInFlight) await new Promise<void>((r) => (wakeSender = r));
    inFlight++;
    socket.send(frame, (err) => onSent(n, frame.length, err));
  }
  ready.length = 0;
}

function allConfirmed(): Promise<void> {
  return inFlight === 0 ? Promise.resolve() : new Promise<void>((r) => (wakeIdle = r));
}

function done(): void {
  donePrinted = true;
  const elapsedMs = performance.now() - started;
  announceDone({
    sent,
    acked: 0, // UDP has no acknowledgements: nothing is ever known to be delivered
    dropped,
    rejected,
    datagrams,
    bytes,
    stream,
    lastSeq: nextSeq - 1,
    maxDatagram: args.maxDatagram,
    largestDatagram: largest,
    rate: args.rate,
    records,
    sendErrors,
    elapsedMs: Math.round(elapsedMs),
    recordsPerSec: Math.round(sent / (elapsedMs / 1000)),
    delivery: 'none (UDP: the receiver counts what it missed)',
  });
}

let finish!: () => void;
const finished = new Promise<void>((r) => (finish = r));
let donePrinted = false;
const stop = onShutdown(
  async (reason) => {
    if (reason === 'finished') return;
    stopping = true; // the loop below stops at the next datagram and prints the done line…
    await Promise.race([finished, new Promise((r) => setTimeout(r, 1000))]);
    if (!donePrinted) done(); // …unless it is waiting for input that is not coming (stdin)
  },
  { log },
);

await new Promise<void>((resolve, reject) => {
  socket.once('error', reject);
  // A connected UDP socket: send() needs no address, and the kernel filters what comes back.
  socket.connect(args.target.port, args.target.host, () => {
    socket.off('error', reject);
    resolve();
  });
}).catch((err: Error) => {
  log.error('cannot use the target', { target: formatHostPort(args.target), error: err.message });
  done();
  process.exit(1);
});
log.info('shipping', {
  target: formatHostPort(args.target),
  stream,
  maxDatagram: args.maxDatagram,
  rate: args.rate || 'max',
});

const source = openSource(args, (reason, sample) =>
  log.warn('input line skipped', { reason, sample: sample.toString('utf8', 0, 80) }),
);
for await (const chunk of source) {
  if (stopping) break;
  for (let i = 0; i < chunk.length; i++) {
    pack(chunk[i]!);
    // Send as we pack: a long pause between sends would outlast the bucket's burst and lose its tokens.
    if (ready.length >= 8) await sendReady();
  }
  closeDatagram(); // a datagram need not wait for more records: nothing on UDP gets cheaper by waiting
  await sendReady();
}
closeDatagram();
await sendReady();
await allConfirmed();
socket.close();
if (rejected > 10)
  log.error(`${rejected} records rejected in all (too large for --max-datagram ${args.maxDatagram})`, {
    code: 'LS_ERR_TOO_LARGE',
  });
done();
finish();
// Exit 1 when something we read was not sent: an oversized record, or a failed send.
if (rejected > 0 || dropped > 0) process.exit(1);
await stop('finished');
