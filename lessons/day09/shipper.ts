/**
 * Day 09 — Acknowledged delivery: the shipper.
 *
 * A successful send() only proves the kernel took the bytes. So today the shipper keeps every record
 * until the receiver ACKs it (an ACK means "durable on my side"), and sends again whatever a lost
 * connection may have swallowed: at-least-once delivery. The receiver drops the copies (dedup by seq).
 *
 * The connection is an explicit state machine; every transition is logged with its reason and printed
 * on stdout as {"event":"state","from","to","reason","t"}:
 *
 *     idle ─▶ connecting ─▶ handshaking ─▶ streaming ─▶ draining ─▶ closed
 *                 ▲   │           │            │            │
 *                 │   ▼           ▼            ▼            ▼
 *                 └── backoff ◀───┴────────────┴────────────┘   (connection lost, NACK, ACK timeout)
 *
 *   handshaking  HELLO {name} → the receiver's ACK says which seq it holds; forget up to there and send the
 *                rest again, re-slicing a batch it holds only the start of [d09.2, d09.3, d09.4]
 *   streaming    batches within a window; an ACK that makes no progress for --ack-timeout-ms, or a PING
 *                without PONG, means the connection is dead even if TCP has not noticed (half-open) [d09.8]
 *   backoff      exponential with FULL jitter: random(0, min(cap, base·2^attempt)) [d09.10]
 *
 * Records are held in memory up to --queue-records (queued + unacknowledged). Past that: the --spool on
 * disk first [d09.6], then the --overflow policy: block the source, or drop (counted; the receiver sees
 * the gap) [d09.7]. With --follow the read position in --state-dir only moves on an ACK, so a shipper
 * killed with -9 resumes where the receiver's ACK left it, with the same seqs [d09.5].
 *
 * Run: npx tsx lessons/day09/shipper.ts --target 127.0.0.1:5141 --generate 200000
 */
import net from 'node:net';
import os from 'node:os';
import { Backoff } from '../../shared/backoff.ts';
import { Batcher, type Batch } from '../../shared/batcher.ts';
import { DirLockedError } from '../../shared/dir-lock.ts';
import { formatHostPort, opt, parseCli, requireOneSource, shipperOptions } from '../../shared/cli.ts';
import { FileFollower, type FilePosition } from '../../shared/follow.ts';
import { openSource, toRecordLine } from '../../shared/input.ts';
import { createLog } from '../../shared/log.ts';
import { Outbox } from '../../shared/outbox.ts';
import { announceDone, onShutdown } from '../../shared/process.ts';
import { encodeBatchPayload } from '../../shared/protocol/batch.ts';
import { LsError } from '../../shared/protocol/errors.ts';
import { encodeFrame, encodeHello, encodePing, encodePong, FrameDecoder, FrameType, parseNack, type Frame } from '../../shared/protocol/frame.ts';
import { DEFAULT_MAX_PAYLOAD_BYTES } from '../../shared/protocol/limits.ts';
import { ShipperState, type FollowState } from '../../shared/shipper-state.ts';
import { Spool } from '../../shared/spool.ts';

const args = parseCli({
  name: 'lessons/day09/shipper.ts',
  summary: 'Day 09 shipper: LSP/1 with ACKs, resend after reconnect, backoff with jitter, bounded memory, spool, --follow.',
  options: {
    ...shipperOptions(5141),
    follow: opt.flag('--follow', 'with --input FILE: keep reading appended lines (and across rotation); resume after the last ACKed line'),
    stateDir: opt.string('--state-dir <dir>', 'keeps the stream id and, with --follow, the acknowledged read position', 'data/day09-shipper'),
    streamId: opt.int('--stream-id <n>', 'stream id (u32) to use instead of the one kept in --state-dir', undefined, { min: 0, max: 0xffff_ffff }),
    name: opt.string('--name <name>', 'shipper name sent in HELLO', `${os.hostname()}/day09-shipper`),
    batchRecords: opt.int('--batch-records <n>', 'records per BATCH at most', 1000, { min: 1, max: 65535 }),
    batchBytes: opt.bytes('--batch-bytes <size>', 'payload bytes per BATCH at most', 1 << 20, { min: 256, max: DEFAULT_MAX_PAYLOAD_BYTES }),
    batchDelayMs: opt.int('--batch-delay-ms <n>', 'send a batch that is not full after this long', 20, { min: 0, max: 60_000 }),
    windowBatches: opt.int('--window-batches <n>', 'batches in flight (sent, not yet ACKed) at most', 64, { min: 1, max: 1_000_000 }),
    windowBytes: opt.bytes('--window-bytes <size>', 'payload bytes in flight at most', 32 << 20, { min: 1024 }),
    queueRecords: opt.int('--queue-records <n>', 'records held in memory (queued + unacknowledged) at most', 200_000, { min: 1 }),
    overflow: opt.choice('--overflow <policy>', 'when memory (and the spool) is full: block | drop-oldest | drop-newest', ['block', 'drop-oldest', 'drop-newest'] as const, 'block'),
    spool: opt.string('--spool <dir>', 'overflow to disk here first; --overflow applies when the spool is full'),
    spoolBytes: opt.bytes('--spool-bytes <size>', 'most bytes the spool holds', 1 << 30, { min: 4096 }),
    backoffBaseMs: opt.int('--backoff-base-ms <n>', 'first reconnect window (full jitter: random(0, min(cap, base·2^attempt)))', 100, { min: 1, max: 3_600_000 }),
    backoffCapMs: opt.int('--backoff-cap-ms <n>', 'largest reconnect window', 5000, { min: 1, max: 3_600_000 }),
    maxAttempts: opt.int('--max-attempts <n>', 'give up after this many failed connects in a row (0 = never)', 0, { min: 0 }),
    ackTimeoutMs: opt.int('--ack-timeout-ms <n>', 'no ACK progress (or no PONG) for this long: the connection is dead, reconnect', 5000, { min: 10 }),
    keepaliveMs: opt.int('--keepalive-ms <n>', 'PING the receiver this often', 1000, { min: 10 }),
    progressMs: opt.int('--progress-ms <n>', 'print a progress line this often (0 = never)', 1000, { min: 0 }),
  },
  validate: (v) =>
    requireOneSource(v) ??
    (v.follow && (v.input === undefined || v.input === '-') ? '--follow needs --input FILE' : undefined) ??
    (v.backoffCapMs < v.backoffBaseMs ? `--backoff-cap-ms (${v.backoffCapMs}) must be at least --backoff-base-ms (${v.backoffBaseMs})` : undefined),
});

const log = createLog('day09/shipper');
const started = performance.now();
const target = formatHostPort(args.target);
/** A state or spool dir another live shipper uses is a usage error: one line naming the flag, exit 2. */
function ownDir<T>(flag: string, open: () => T): T {
  try {
    return open();
  } catch (err) {
    if (!(err instanceof DirLockedError)) throw err;
    process.stderr.write(`lessons/day09/shipper.ts: ${flag}: ${err.message}\n`);
    process.exit(2);
  }
}
const state = ownDir('--state-dir', () => ShipperState.open(args.stateDir, args.streamId === undefined ? {} : { streamId: args.streamId }));
const stream = state.stream;

// ---- counters (what the progress and done lines report) --------------------------------------------
const count = { sent: 0, resent: 0, acked: 0, dropped: 0, spooled: 0, reconnects: 0, tooLarge: 0, skippedInput: 0 };
const transitions: Record<string, number> = {};

// ---- seqs ---------------------------------------------------------------------------------------------
// Inside the shipper, records are numbered 1, 2, 3… as they are read (a dropped record keeps its number,
// so the receiver sees the gap). On the wire, seq = local + base. A resumed --follow run takes `base`
// from the state dir; any other run takes it from the first HELLO's ACK, so a second run of the same
// shipper continues the stream after what the receiver already holds instead of being dropped as duplicates.
let nextSeq = 1;
let base = 0;
let based = false;
/** highest local seq the receiver has ACKed */
let ackedLocal = 0;

// ---- memory: the open batch, then the outbox (queued + in flight, all unacknowledged) -----------------
const outbox = new Outbox({ maxBatches: args.windowBatches, maxBytes: args.windowBytes });
let openFirst = 0;
let openNext = 0;
/** set while drop-oldest throws the open batch away instead of queueing it */
let discardOpenBatch = false;
const batcher = new Batcher<string>({
  maxRecords: args.batchRecords,
  maxBytes: args.batchBytes,
  maxDelayMs: args.batchDelayMs,
  onFlush: (b: Batch<string>) => {
    if (discardOpenBatch) return;
    queueBatch(openFirst, b.items);
    pump();
  },
});

/**
 * Encodes a batch once, into the outbox. The batcher counted UTF-16 length (cheap: no per-record UTF-8
 * pass); non-ASCII text encodes longer, so the exact size is checked here and an oversized batch split.
 */
function queueBatch(firstSeq: number, records: string[]): void {
  const payload = encodeBatchPayload(records);
  if (payload.length <= args.batchBytes) {
    outbox.push({ firstSeq, count: records.length, payload, sends: 0 });
  } else if (records.length > 1) {
    const half = records.length >> 1;
    queueBatch(firstSeq, records.slice(0, half));
    queueBatch(firstSeq + half, records.slice(half));
  } else {
    count.tooLarge++;
    count.dropped++;
    log.warn('record larger than --batch-bytes: dropped', { seq: firstSeq + base, bytes: payload.length });
  }
}
const spool = args.spool ? ownDir('--spool', () => new Spool({ dir: args.spool!, maxBytes: args.spoolBytes })) : undefined;
const inMemory = (): number => batcher.size + outbox.records;

// ---- the connection state machine -------------------------------------------------------------------
type State = 'idle' | 'connecting' | 'handshaking' | 'streaming' | 'backoff' | 'draining' | 'closed';
let st: State = 'idle';

function transition(to: State, reason: string, extra: Record<string, unknown> = {}): void {
  const from = st;
  st = to;
  const key = `${from}->${to}`;
  transitions[key] = (transitions[key] ?? 0) + 1;
  const t = Math.round(performance.now() - started);
  process.stdout.write(`${JSON.stringify({ event: 'state', from, to, reason, t, ...extra })}\n`);
  const level = to === 'backoff' ? 'warn' : 'info';
  log[level](`${from} → ${to}: ${reason}`, extra);
}

let socket: net.Socket | undefined;
let decoder = new FrameDecoder();
let closeReason: string | undefined;
let writeBlocked = false;
let everConnected = false;
/** failed connects in a row (a successful handshake resets it) */
let failedAttempts = 0;
let backoffTimer: NodeJS.Timeout | undefined;
let connectAt = 0;
let handshakeAt = 0;
/** NACKs since the last ACK progress: a receiver refusing what we send every time is not worth retrying forever */
let nacksInRow = 0;
let lastAckProgressAt = 0;
let pingToken = 0;
let pingSentAt = 0;
let pingOutstanding = false;
let lastPingAt = 0;
const backoff = new Backoff({ baseMs: args.backoffBaseMs, capMs: args.backoffCapMs });

function connect(reason: string): void {
  if (everConnected) count.reconnects++;
  everConnected = true;
  transition('connecting', reason, { target });
  connectAt = Date.now();
  const s = net.connect({ host: args.target.host, port: args.target.port, noDelay: true });
  socket = s;
  decoder = new FrameDecoder();
  closeReason = undefined;
  writeBlocked = false;
  pingOutstanding = false;
  s.on('connect', () => {
    if (socket !== s) return;
    transition('handshaking', `connected to ${target}, HELLO sent`);
    handshakeAt = Date.now();
    s.write(encodeHello(stream, { name: args.name, lesson: 'day09', pid: process.pid }));
  });
  s.on('data', (chunk: Buffer) => {
    if (socket !== s) return;
    let frames: Frame[];
    try {
      frames = decoder.push(chunk);
    } catch (err) {
      closeReason = `receiver sent a bad frame: ${(err as LsError).code}`;
      s.destroy();
      return;
    }
    for (const f of frames) {
      if (socket !== s) return;
      onFrame(s, f);
    }
  });
  s.on('error', (err: NodeJS.ErrnoException) => {
    closeReason ??= err.code ? `${err.code}: ${err.message}` : err.message;
  });
  s.on('close', () => {
    if (socket !== s) return;
    socket = undefined;
    onConnectionLost(closeReason ?? 'the receiver closed the connection');
  });
}

function onFrame(s: net.Socket, f: Frame): void {
  switch (f.type) {
    case FrameType.ACK:
      if (f.stream === stream) onAck(f.seq);
      return;
    case FrameType.NACK: {
      let what = 'unreadable NACK';
      try {
        const nack = parseNack(f);
        what = `${nack.code}: ${nack.message}`;
      } catch {
        // keep the generic text
      }
      log.error('receiver refused our frames (NACK)', { nack: what });
      nacksInRow++;
      closeReason = `NACK ${what}`;
      s.destroy();
      return;
    }
    case FrameType.PONG:
      pingOutstanding = false;
      return;
    case FrameType.PING:
      s.write(encodePong(f.seq));
      return;
    default:
      log.debug('unexpected frame ignored', { type: FrameType[f.type] });
  }
}

function onAck(wireSeq: number): void {
  if (st === 'handshaking') {
    // @solution [d09.3, d09.4, d09.5] the HELLO's ACK says what the receiver holds: forget that, send the rest again
    // @stub transition('streaming', 'HELLO answered'); pump(); return;
    if (!based) {
      base = wireSeq;
      based = true;
      if (follower) saveFollow(true);
      if (base > 0) log.info('the receiver already holds this stream: this run continues after it', { stream, from: base + 1 });
    } else if (wireSeq - base < ackedLocal) {
      log.warn('the receiver holds less than it ACKed before (it lost data): those records cannot be sent again', { stream, acked: base + ackedLocal, holds: wireSeq });
    }
    outbox.rewind(); // everything unacknowledged — in flight on the lost connection included — goes again…
    applyAck(wireSeq); // …except what the receiver says it already holds (re-slicing a partly held batch)
    // @end-solution
    backoff.reset();
    failedAttempts = 0;
    lastAckProgressAt = lastPingAt = Date.now();
    transition('streaming', `HELLO answered: the receiver holds seq ${wireSeq}`, { acked: wireSeq, held: outbox.records });
    pump();
    if (sourceDone) transition('draining', stopping ? 'stopping: no more reading' : 'source exhausted: waiting for the last ACKs', { unacked: outbox.records });
    maybeFinish();
    return;
  }
  applyAck(wireSeq);
}

/** A cumulative ACK: forget what it covers, make room, send more. */
function applyAck(wireSeq: number): void {
  const local = wireSeq - base;
  if (local <= ackedLocal) return;
  ackedLocal = local;
  nacksInRow = 0;
  count.acked += outbox.ack(local);
  lastAckProgressAt = Date.now();
  if (follower) advanceFollow();
  refill();
  wakeReader();
  pump();
  maybeFinish();
}

/** Puts batches on the connection while the window allows and the socket takes them. */
function pump(): void {
  if ((st !== 'streaming' && st !== 'draining') || !socket || writeBlocked) return;
  const s = socket;
  for (let b = outbox.takeToSend(); b !== undefined; b = outbox.takeToSend()) {
    if (b.sends === 1) count.sent += b.count;
    else count.resent += b.count;
    if (outbox.inflight === 1) lastAckProgressAt = Date.now(); // the ACK clock starts when the window fills from empty
    const frame = encodeFrame({ type: FrameType.BATCH, count: b.count, stream, seq: b.firstSeq + base, payload: b.payload });
    if (!s.write(frame)) {
      // Backpressure: the kernel's send buffer is full; go on at 'drain'.
      writeBlocked = true;
      s.once('drain', () => {
        writeBlocked = false;
        pump();
      });
      return;
    }
  }
}

function onConnectionLost(reason: string): void {
  if (st === 'closed') return;
  // What was in flight may be lost with the connection: the next HELLO's ACK decides what goes again.
  if (st === 'connecting' || st === 'handshaking') failedAttempts++;
  if (args.maxAttempts > 0 && failedAttempts >= args.maxAttempts) {
    finish(`gave up after ${failedAttempts} failed connects in a row (${reason})`, 1);
    return;
  }
  if (nacksInRow >= 3) {
    finish(`gave up: the receiver refused our frames ${nacksInRow} times in a row (${reason})`, 1);
    return;
  }
  // @solution [d09.10] back off before reconnecting: exponential with full jitter, bounded by the cap
  // @stub const attempt = 0, ceilingMs = args.backoffBaseMs, delay = args.backoffBaseMs;
  const attempt = backoff.attempt;
  const ceilingMs = backoff.ceiling();
  const delay = backoff.next(); // random(0, min(cap, base·2^attempt))
  // @end-solution
  transition('backoff', `${reason}; reconnecting in ${delay} ms`, { attempt: attempt + 1, delayMs: delay, ceilingMs });
  backoffTimer = setTimeout(() => {
    backoffTimer = undefined;
    connect(`backoff of ${delay} ms over`);
  }, delay);
}

/** The connection is alive on paper only: close it, and the close handler backs off and reconnects. */
function declareDead(reason: string): void {
  log.warn('connection considered dead', { reason });
  closeReason = reason;
  socket?.destroy();
}

// [d09.8] one watchdog for the handshake, the ACK clock and the keepalive (no timer per batch)
const watchdog = setInterval(() => {
  const now = Date.now();
  if (st === 'connecting') {
    if (now - connectAt > args.ackTimeoutMs) declareDead(`no connection within ${args.ackTimeoutMs} ms`);
    return;
  }
  if (st === 'handshaking') {
    if (now - handshakeAt > args.ackTimeoutMs) declareDead(`no ACK to HELLO within ${args.ackTimeoutMs} ms`);
    return;
  }
  if (st !== 'streaming' && st !== 'draining') return;
  // @solution [d09.8] a receiver that stops answering is dead even while TCP still looks fine (half-open)
  // @stub return;
  if (outbox.inflight > 0 && now - lastAckProgressAt > args.ackTimeoutMs) {
    declareDead(`no ACK progress for ${now - lastAckProgressAt} ms with ${outbox.inflight} batches in flight`);
    return;
  }
  if (pingOutstanding && now - pingSentAt > args.ackTimeoutMs) {
    declareDead(`no PONG within ${args.ackTimeoutMs} ms`);
    return;
  }
  // @end-solution
  if (!pingOutstanding && now - lastPingAt >= args.keepaliveMs && socket) {
    pingOutstanding = true;
    pingSentAt = lastPingAt = now;
    socket.write(encodePing(++pingToken));
  }
}, Math.max(5, Math.min(100, Math.floor(args.ackTimeoutMs / 4), Math.floor(args.keepaliveMs / 2))));

// ---- reading the source, within the memory bound ----------------------------------------------------
let sourceDone = false;
let stopping = false;
let readerWaiting: (() => void) | undefined;
const roomFreed = (): Promise<void> => new Promise((resolve) => (readerWaiting = resolve));
function wakeReader(): void {
  const w = readerWaiting;
  readerWaiting = undefined;
  w?.();
}

/** One record into the open batch. A batch carries consecutive seqs, so a skipped seq closes it first. */
function addToBatch(record: string, seq: number): void {
  if (seq <= ackedLocal) {
    count.acked++; // the receiver already holds it (a resumed --follow re-reads a little)
    return;
  }
  // UTF-16 length: exact for ASCII and never more than the UTF-8 size (queueBatch checks the real size).
  const bytes = record.length + 1;
  if (!batcher.fits(bytes)) {
    count.tooLarge++;
    count.dropped++;
    log.warn('record larger than --batch-bytes: dropped', { seq: seq + base, bytes });
    return;
  }
  if (batcher.size > 0 && (seq !== openNext || batcher.openBytes + bytes > args.batchBytes)) batcher.flush(seq !== openNext ? 'manual' : 'bytes');
  if (batcher.size === 0) openFirst = seq;
  openNext = seq + 1;
  batcher.add(record, bytes);
}

let lastDropLog = 0;
function dropped(n: number, how: string): void {
  count.dropped += n;
  const now = Date.now();
  if (now - lastDropLog >= 1000) {
    lastDropLog = now;
    log.warn(`memory full: ${how}`, { dropped: count.dropped, policy: args.overflow });
  }
}

/** Spools records[from, to) behind what is already spooled; returns how many it took (0 = spool full). */
function toSpool(records: string[], from: number, to: number): number {
  if (!spool) return 0;
  // entries no bigger than a batch (or the memory bound), so reading one back never overshoots much
  const piece = Math.min(args.batchRecords, args.queueRecords);
  let i = from;
  while (i < to) {
    const end = Math.min(to, i + piece);
    const took = spool.append(nextSeq, records, i, end);
    nextSeq += took;
    count.spooled += took;
    i += took;
    if (i < end) break; // the spool is full
  }
  return i - from;
}

/** Spooled records come back (in seq order) as soon as memory has room for them. */
function refill(): void {
  if (!spool) return;
  while (!spool.isEmpty) {
    const room = args.queueRecords - inMemory();
    if (spool.nextCount > room && inMemory() > 0) return;
    const e = spool.shift()!;
    for (let i = 0; i < e.records.length; i++) addToBatch(e.records[i]!, e.firstSeq + i);
  }
  if (sourceDone) batcher.flush('close');
}

/** Takes one chunk from the source: into memory, else the spool, else the overflow policy. Returns false if stopped midway. */
async function admit(records: string[]): Promise<boolean> {
  const n = records.length;
  let i = 0;
  while (i < n) {
    if (stopping) return false;
    // @solution [d09.6] past the memory bound, the spool on disk; behind a non-empty spool, to keep seq order
    // @stub const room = args.queueRecords - inMemory();
    // @stub if (room > 0) { const end = Math.min(n, i + room); for (; i < end; i++) addToBatch(records[i]!, nextSeq++); continue; }
    if (spool && !spool.isEmpty) {
      // Spooled records are older: they go out first, so new ones queue behind them.
      const took = toSpool(records, i, n);
      i += took;
      if (took > 0) continue;
    } else {
      const room = args.queueRecords - inMemory();
      if (room > 0) {
        const end = Math.min(n, i + room);
        for (; i < end; i++) addToBatch(records[i]!, nextSeq++);
        continue;
      }
      const took = toSpool(records, i, n);
      i += took;
      if (took > 0) continue;
    }
    // @end-solution
    // Memory full and no spool room: the overflow policy decides.
    // @solution [d09.7] the overflow policy: block the source, or drop (counted; the seqs are used up, so the receiver sees a gap)
    // @stub await roomFreed(); continue;
    if (args.overflow === 'block') {
      await roomFreed(); // stop reading until an ACK (or a drop) makes room
    } else if (args.overflow === 'drop-newest') {
      const k = n - i; // everything still arriving in this chunk: nothing frees memory before we return
      nextSeq += k;
      i = n;
      dropped(k, 'dropping the newest records');
    } else {
      const victim = outbox.dropOldestUnsent(); // the oldest records never sent
      if (victim) {
        dropped(victim.count, 'dropping the oldest unsent records');
        refill();
      } else if (batcher.size > 0) {
        const k = batcher.size; // the open batch is the oldest never-sent data left
        discardOpenBatch = true;
        batcher.flush('manual');
        discardOpenBatch = false;
        dropped(k, 'dropping the oldest unsent records');
      } else {
        nextSeq++; // everything held is in flight: the only record we can drop is the new one
        i++;
        dropped(1, 'everything held is in flight: dropping the newest record');
      }
    }
    // @end-solution
  }
  return true;
}

// --follow: where reading resumes, and the positions waiting for their ACK
const follow = args.follow ? state.followOf(args.input!) : undefined;
if (follow) {
  base = follow.seq;
  based = true;
  log.info('resuming the followed file after its last ACKed line', { path: follow.path, pos: follow.pos, seq: follow.seq });
}
const follower = args.follow
  ? new FileFollower({
      path: args.input!,
      ...(follow ? { start: follow } : {}),
      mapLine: (line) => {
        const text = line.toString('utf8').trim();
        return text ? toRecordLine(text, args.format, args.service, new Date().toISOString()) : undefined;
      },
      onSkip: (reason, sample) => {
        count.skippedInput++;
        log.warn('input line skipped', { reason, sample: sample.toString('utf8', 0, 80) });
      },
      onEvent: (what, fields) => log.info(what, fields),
    })
  : undefined;
/** positions read, in order, each with the last local seq before it */
const positions: Array<{ lastSeq: number; at: FilePosition }> = [];
let followAcked: FollowState | undefined = follow;
let followSavedAt = 0;
let followSaveTimer: NodeJS.Timeout | undefined;

// @solution [d09.5] the stored read position moves only when the records before it are ACKed
// @stub function advanceFollow(): void {}
function advanceFollow(): void {
  let moved = false;
  while (positions.length > 0 && positions[0]!.lastSeq <= ackedLocal) {
    const p = positions.shift()!;
    followAcked = { ...p.at, seq: p.lastSeq + base };
    moved = true;
  }
  if (moved) saveFollow(false);
}
// @end-solution

/** Writes the acknowledged position, at most every 200 ms (and at once when `now`). */
function saveFollow(now: boolean): void {
  if (!followAcked) followAcked = { path: args.input!, dev: 0, ino: 0, pos: 0, seq: base }; // fresh: "from the start, after seq base"
  const since = Date.now() - followSavedAt;
  if (now || since >= 200) {
    if (followSaveTimer) clearTimeout(followSaveTimer);
    followSaveTimer = undefined;
    followSavedAt = Date.now();
    state.saveFollow(followAcked);
  } else {
    followSaveTimer ??= setTimeout(() => saveFollow(true), 200 - since);
  }
}

async function readSource(): Promise<void> {
  try {
    if (follower) {
      for await (const chunk of follower.chunks()) {
        if (!(await admit(chunk.lines))) break;
        positions.push({ lastSeq: nextSeq - 1, at: chunk.at });
        if (ackedLocal >= nextSeq - 1) advanceFollow(); // already ACKed (a resumed run re-reading)
      }
    } else {
      const source = openSource(args, (reason, sample) => {
        count.skippedInput++;
        log.warn('input line skipped', { reason, sample: sample.toString('utf8', 0, 80) });
      });
      for await (const records of source) {
        if (!(await admit(records))) break;
        // A generated source never waits: let the socket's ACKs and writes in between chunks.
        await new Promise((r) => setImmediate(r));
      }
    }
  } catch (err) {
    log.error('reading the source failed: shipping what was read', { error: (err as Error).message });
  }
  sourceDone = true;
  batcher.flush('close');
  if (st === 'streaming') transition('draining', stopping ? 'stopping: no more reading' : 'source exhausted: waiting for the last ACKs', { unacked: outbox.records });
  maybeFinish();
}

// ---- the end -------------------------------------------------------------------------------------
let resolveFinished!: (code: number) => void;
const finished = new Promise<number>((r) => (resolveFinished = r));

function maybeFinish(): void {
  // (during a handshake the answer to HELLO decides first; it calls us again)
  if (!sourceDone || st === 'closed' || st === 'handshaking') return;
  if (batcher.size > 0 || outbox.length > 0 || (spool !== undefined && !spool.isEmpty)) return;
  const read = nextSeq - 1;
  finish(stopping ? 'stopped: everything read is acknowledged' : 'everything acknowledged', count.acked + count.dropped === read ? 0 : 1);
}

function finish(reason: string, code: number): void {
  if (st === 'closed') return;
  transition('closed', reason);
  clearInterval(watchdog);
  if (progressTimer) clearInterval(progressTimer);
  if (backoffTimer) clearTimeout(backoffTimer);
  wakeReader();
  follower?.stop();
  if (follower && followAcked) saveFollow(true);
  socket?.end();
  spool?.close();
  const read = nextSeq - 1;
  const elapsedMs = performance.now() - started;
  announceDone({
    sent: count.sent,
    acked: count.acked,
    dropped: count.dropped,
    read,
    resent: count.resent,
    spooled: count.spooled,
    unacked: read - count.acked - count.dropped,
    reconnects: count.reconnects,
    stream,
    firstSeq: base + 1,
    lastSeq: base + read,
    elapsedMs: Math.round(elapsedMs),
    recordsPerSec: Math.round(count.acked / (elapsedMs / 1000)),
    skippedInput: count.skippedInput,
    tooLarge: count.tooLarge,
    transitions,
    reason,
  });
  resolveFinished(code);
}

const progressTimer =
  args.progressMs > 0
    ? setInterval(() => {
        process.stdout.write(`${JSON.stringify({ event: 'progress', read: nextSeq - 1, sent: count.sent, acked: count.acked, dropped: count.dropped, spooled: count.spooled, queued: inMemory(), state: st })}\n`);
      }, args.progressMs)
    : undefined;

// SIGTERM: stop reading, drain what we can before the deadline, done line, exit 0.
onShutdown(
  async (reason) => {
    stopping = true;
    wakeReader();
    follower?.stop();
    batcher.flush('close');
    if (st === 'streaming') transition('draining', `${reason}: stop reading, draining`, { unacked: outbox.records });
    const deadline = new Promise<void>((r) => setTimeout(r, 3500).unref());
    await Promise.race([finished, deadline]);
    finish(`${reason}: ${outbox.records + batcher.size + (spool?.records ?? 0)} records not acknowledged at the deadline`, 0);
  },
  { log },
);

log.info('shipping', { target, stream, name: args.name, source: args.generate !== undefined ? `generate ${args.generate}` : args.input, follow: args.follow, overflow: args.overflow, spool: args.spool });
connect('start');
void readSource();
process.exit(await finished);
