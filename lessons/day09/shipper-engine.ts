/**
 * The LSP/1 shipper engine (day 09's acknowledged shipper, reused unchanged by days 11, 12 and 13).
 *
 * ## API summary
 * ```ts
 * import { LspShipper, lspShipperOptions, lspCodecOptions, validateLspShipper, ownDir, type ShipperPolicies } from '../../../lessons/day09/shipper-engine.ts';
 *
 * const args = parseCli({ name, summary, options: { ...lspShipperOptions('day12', 5144), ...lspCodecOptions() },
 *                         validate: validateLspShipper });
 * const log = createLog('day12/shipper');
 * const state = ownDir(name, '--state-dir', () => ShipperState.open(args.stateDir, args.streamId === undefined ? {} : { streamId: args.streamId }));
 * const spool = args.spool ? ownDir(name, '--spool', () => new Spool({ dir: args.spool!, maxBytes: args.spoolBytes })) : undefined;
 * const shipper = new LspShipper({
 *   lesson: 'day12', args, log, state, spool,
 *   follow: args.follow ? state.followOf(args.input!) : undefined,   // where a --follow run resumes
 *   compression: { codec: codecByName(args.codec), level: args.level, minBytes: args.minCompressBytes }, // optional
 *   connect: (t) => tls.connect({ host: t.host, port: t.port, ca, cert, key }),   // optional; default net.connect
 *   policies: { ... },                                                              // optional; default DAY09_POLICIES
 *   doneExtra: () => ({ ... }),                                                     // optional extra done-line fields
 *   batch: { maxRecords, maxBytes, maxDelayMs },                                    // optional; default the --batch-* flags
 * });
 * process.exit(await shipper.run());     // connects, reads the source, handles SIGTERM; resolves to the exit code
 * ```
 * - `lspShipperOptions(lesson, defaultPort)`: every flag of the acked shipper (GUIDE §2 + day 09's): --target,
 *   --input/--generate/--format/--seed/--service, --follow, --state-dir, --stream-id, --name, --batch-records,
 *   --batch-bytes, --batch-delay-ms, --window-batches, --window-bytes, --queue-records, --overflow, --spool,
 *   --spool-bytes, --backoff-base-ms, --backoff-cap-ms, --max-attempts, --ack-timeout-ms, --keepalive-ms,
 *   --progress-ms, --rate. `lspCodecOptions()`: --codec, --level, --min-compress-bytes (day 12).
 *   `validateLspShipper(values)`: the cross-flag rules (one source, --follow needs a file, cap ≥ base,
 *   --batch-bytes holds at least one record), one line naming the flag.
 * - stdout: `{"event":"state","from","to","reason","t",…}` per transition, `{"event":"progress",…}` every
 *   --progress-ms, and one `done` line: sent, acked, dropped, read, resent, spooled, unacked, reconnects,
 *   stream, firstSeq, lastSeq, elapsedMs, recordsPerSec, skippedInput, tooLarge, transitions, reason, and
 *   batches (BATCH frames sent the first time), frames (resends included), recordsPerBatch, flushes (Batcher
 *   flush reasons), socketWrites (write() calls), bytesWire, waitMs {p50, p99, max, n} (per record: from
 *   entering the batcher to its ACK, HDR histogram), compression {codec, level, compressed, raw, bytesIn,
 *   bytesOut, ratio, cpuMs}. Exit code 0 when acked + dropped == read (or after SIGTERM), else 1.
 * - `connect(target)` may return a net.Socket or a tls.TLSSocket (the handshake then starts at
 *   'secureConnect'); a socket 'error' (ECONNREFUSED, CERT_HAS_EXPIRED, …) becomes the backoff transition's
 *   reason `CODE: message` and a warn line on stderr.
 * - Compression: each BATCH payload is compressed when sent with `compression.codec` (shared/protocol/codecs.ts)
 *   when it is at least `minBytes`; when the result is not smaller, the raw payload goes with codec 0.
 *   CPU time is measured with process.cpuUsage() around each compress call.
 * - Policies (the day 09 lesson passes its own, so its @solution regions stay in the lesson; other days get
 *   `day09Policies(args.overflow)`, the same code): resumeAfterHello [d09.3–5], nextBackoff [d09.10],
 *   deadConnection [d09.8], admit [d09.6], overflow [d09.7], advanceFollow [d09.5].
 * - Also exported: `BatchLimits` (config `batch`), `WaitTimes` (per-record latency runs → HDR histogram;
 *   the day 11 UDP lane uses it too), `generatePaced(n, rate, seed, stopped)` (`--generate` at `--rate`),
 *   `SMALLEST_RECORD_BYTES`, `ownDir(program, flag, open)` (a locked state/spool dir → exit 2 naming the flag).
 * - SIGTERM/SIGINT: stop reading, flush the open batch, wait (≤ 3.5 s) for the ACKs, done line, exit 0.
 *
 * ## How it works (day 09's story; lessons/day09/README.md)
 * The connection is an explicit state machine:
 *
 *     idle ─▶ connecting ─▶ handshaking ─▶ streaming ─▶ draining ─▶ closed
 *                 ▲   │           │            │            │
 *                 │   ▼           ▼            ▼            ▼
 *                 └── backoff ◀───┴────────────┴────────────┘   (connection lost, NACK, ACK timeout)
 *
 * Records are numbered 1, 2, 3… as they are read (local seqs; on the wire seq = local + base), batched by
 * the one Batcher (size, bytes or time, whichever first; always on close), kept in the Outbox until an
 * ACK covers them, and sent within a window. After each (re)connect the HELLO's ACK says what the
 * receiver holds; the rest goes again. Memory is bounded by --queue-records: past it the spool, then the
 * overflow policy.
 */
import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import hdr from 'hdr-histogram-js';
import { Backoff } from './backoff.ts';
import { Batcher, type Batch, type FlushReason } from '../day11/batcher.ts';
import { formatHostPort, opt, parseHostPort, requireOneSource, shipperOptions, type CliValues, type HostPort, type OptionSpec } from '../../shared/cli.ts';
import { DirLockedError } from '../../shared/dir-lock.ts';
import { FileFollower, type FilePosition } from './follow.ts';
import { openSource, toRecordLine } from '../day08/input.ts';
import type { Log } from '../../shared/log.ts';
import { Outbox, type OutBatch } from './outbox.ts';
import { announceDone, onShutdown } from '../../shared/process.ts';
import { encodeBatchPayload } from '../../shared/protocol/batch.ts';
import { CODEC_NAMES, type Codec } from '../../shared/protocol/codecs.ts';
import type { LsError } from '../../shared/protocol/errors.ts';
import { encodeFrame, encodeHello, encodePing, encodePong, FrameDecoder, FrameType, parseNack, type Frame } from '../../shared/protocol/frame.ts';
import { DEFAULT_MAX_PAYLOAD_BYTES } from '../../shared/protocol/limits.ts';
import { RecordGenerator } from '../../shared/generate.ts';
import type { ShipperState, FollowState } from './shipper-state.ts';
import type { Spool } from './spool.ts';
import { TokenBucket } from '../../shared/token-bucket.ts';

// ---------------------------------------------------------------------------------------------------
// CLI: the flags every acked LSP/1 shipper takes (days 09, 11, 12, 13)

/** The smallest valid record (LSP1 §1) plus its LF: no --batch-bytes below this can hold any record. */
export const SMALLEST_RECORD_BYTES = '{"ts":"2026-01-01T00:00:00Z","level":"info","msg":""}'.length + 1;

/** `--target a:1,b:2,…`: the first is the target (`host`, `port`); `all` lists every one, in order (issue 11). */
export interface TargetList extends HostPort {
  all: HostPort[];
}

export function parseTargets(raw: string): TargetList {
  const all = raw.split(',').map((t) => t.trim()).filter(Boolean).map(parseHostPort);
  if (all.length === 0) return parseTargets(`${raw}:`); // parseHostPort names what is wrong
  return { ...all[0]!, all };
}

export function lspShipperOptions(lesson: string, defaultPort: number) {
  const target: OptionSpec<TargetList, true> = {
    flags: '--target <host:port[,host:port…]>',
    description: 'receiver to ship to; several, comma-separated: fail over to the next when one is lost (see --spread)',
    defaultValue: parseTargets(`127.0.0.1:${defaultPort}`),
    parse: parseTargets,
  };
  return {
    ...shipperOptions(defaultPort),
    target,
    spread: opt.flag('--spread', 'with several --target: start at target (stream id mod count) instead of the first, so shippers spread over the receivers'),
    follow: opt.flag('--follow', 'with --input FILE: keep reading appended lines (and across rotation); resume after the last ACKed line'),
    stateDir: opt.string('--state-dir <dir>', 'keeps the stream id and, with --follow, the acknowledged read position', `data/${lesson}-shipper`),
    streamId: opt.int('--stream-id <n>', 'stream id (u32) to use instead of the one kept in --state-dir', undefined, { min: 0, max: 0xffff_ffff }),
    name: opt.string('--name <name>', 'shipper name sent in HELLO', `${os.hostname()}/${lesson}-shipper`),
    batchRecords: opt.int('--batch-records <n>', 'records per BATCH at most', 1000, { min: 1, max: 65535 }),
    batchBytes: opt.bytes('--batch-bytes <size>', 'payload bytes per BATCH at most (before compression)', 1 << 20, { min: 1, max: DEFAULT_MAX_PAYLOAD_BYTES }),
    batchDelayMs: opt.int('--batch-delay-ms <n>', 'send a batch that is not full after this long (0 = at once)', 20, { min: 0, max: 60_000 }),
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
    rate: opt.int('--rate <n>', 'with --generate: create records at this many per second (0 = as fast as possible)', 0, { min: 0 }),
  };
}

/** `--codec`, `--level`, `--min-compress-bytes` (day 12 on). */
export function lspCodecOptions() {
  return {
    codec: opt.choice('--codec <name>', `BATCH payload codec: ${CODEC_NAMES.join(' | ')}`, CODEC_NAMES, 'none'),
    level: opt.int('--level <n>', "compression level (default: the codec's own)", undefined, { min: -131072, max: 22 }),
    minCompressBytes: opt.bytes('--min-compress-bytes <size>', 'payloads smaller than this go uncompressed (codec 0)', 256, { min: 0 }),
  };
}

/** The parsed values of lspShipperOptions() (a day may add its own flags beside them). */
export type LspShipperArgs = CliValues<ReturnType<typeof lspShipperOptions>>;

/** Largest record `--generate` makes with this seed (its records vary by a few bytes), LF included. */
function generatedRecordBytes(seed: number): number {
  const gen = new RecordGenerator({ seed });
  let max = 0;
  for (let i = 0; i < 1000; i++) max = Math.max(max, Buffer.byteLength(gen.next()) + 1);
  return max;
}

/** Cross-flag rules; returns one line naming the flag, or undefined. */
export function validateLspShipper(v: LspShipperArgs): string | undefined {
  return (
    requireOneSource(v) ??
    (v.follow && (v.input === undefined || v.input === '-') ? '--follow needs --input FILE' : undefined) ??
    (v.backoffCapMs < v.backoffBaseMs ? `--backoff-cap-ms (${v.backoffCapMs}) must be at least --backoff-base-ms (${v.backoffBaseMs})` : undefined) ??
    (v.batchBytes < SMALLEST_RECORD_BYTES
      ? `--batch-bytes ${v.batchBytes} is smaller than one record (the smallest valid record is ${SMALLEST_RECORD_BYTES} bytes)`
      : undefined) ??
    (v.generate !== undefined && v.batchBytes < generatedRecordBytes(v.seed)
      ? `--batch-bytes ${v.batchBytes} is smaller than one record (--generate makes records of up to ${generatedRecordBytes(v.seed)} bytes)`
      : undefined) ??
    (v.rate > 0 && v.generate === undefined ? '--rate paces --generate only' : undefined)
  );
}

/** A state or spool dir another live shipper uses is a usage error: one line naming the flag, exit 2. */
export function ownDir<T>(program: string, flag: string, open: () => T): T {
  try {
    return open();
  } catch (err) {
    if (!(err instanceof DirLockedError)) throw err;
    process.stderr.write(`${program}: ${flag}: ${err.message}\n`);
    process.exit(2);
  }
}

// ---------------------------------------------------------------------------------------------------
// Policies: the decisions day 09 teaches, passed in so the lesson shows (and grades) them

/** What nextBackoff returns: the exponent used, the window, and the drawn delay. */
export interface BackoffStep {
  /** failed attempts before this one (the exponent) */
  attempt: number;
  ceilingMs: number;
  delayMs: number;
}

/** What resumeAfterHello may touch. */
export interface Resume {
  readonly outbox: Outbox;
  /** a cumulative ACK of wire seq `seq`: forget (re-slicing) what it covers, count it, make room */
  ack(seq: number): void;
}

/** What deadConnection sees, once per watchdog tick while streaming or draining. */
export interface Liveness {
  readonly now: number;
  /** batches in flight (sent, not ACKed) */
  readonly inflight: number;
  /** when the ACK clock last moved (an ACK made progress, or the window filled from empty) */
  readonly lastAckProgressAt: number;
  readonly pingOutstanding: boolean;
  readonly pingSentAt: number;
  readonly ackTimeoutMs: number;
}

/** What admit and overflow work with: memory, the spool, and the counters of what is dropped. */
export interface Queue {
  readonly spool: Spool | undefined;
  /** records memory can take now: --queue-records minus what is held (open batch + unacknowledged) */
  room(): number;
  /** records[from, to) into memory, numbered with the next seqs; returns how many (to - from) */
  toMemory(records: readonly string[], from: number, to: number): number;
  /** records[from, to) to the spool behind what it holds, with the next seqs; returns how many it took (0: full or none) */
  toSpool(records: readonly string[], from: number, to: number): number;
  /** resolves when an ACK (or a drop) makes room, or the shipper stops */
  roomFreed(): Promise<void>;
  /** uses up the next k seqs without sending them (the receiver will count a gap) */
  skip(k: number): void;
  /** removes the oldest records never sent (a queued batch, else the open batch); returns how many (0: all held are in flight) */
  discardOldestUnsent(): number;
  /** counts k dropped records (logged at most once a second) */
  dropped(k: number, how: string): void;
}

/** A followed file's read positions waiting for their ACK (oldest first), and where to store the acked one. */
export interface FollowProgress {
  /** positions read, in order, each with the last local seq before it */
  readonly positions: Array<{ lastSeq: number; at: FilePosition }>;
  /** highest local seq ACKed */
  readonly ackedLocal: number;
  /** wire seq = local seq + base */
  readonly base: number;
  /** stores the acknowledged position (written at most every 200 ms) */
  save(pos: FollowState): void;
}

export interface ShipperPolicies {
  /** [d09.3, d09.4, d09.5] the HELLO's ACK (`held`, a wire seq) says what the receiver holds: what goes again */
  resumeAfterHello(held: number, r: Resume): void;
  /** [d09.10] the delay before the next connect */
  nextBackoff(backoff: Backoff): BackoffStep;
  /** [d09.8] why the connection counts as dead (half-open), or undefined while it is alive */
  deadConnection(c: Liveness): string | undefined;
  /** [d09.6] takes records[from, to) into memory or the spool; returns how many it took (0: nowhere) */
  admit(q: Queue, records: readonly string[], from: number, to: number): number;
  /** [d09.7] memory and spool are full: block or drop; returns the index to go on from */
  overflow(q: Queue, records: readonly string[], from: number, to: number): Promise<number>;
  /** [d09.5] moves the stored read position of a followed file over what is ACKed */
  advanceFollow(f: FollowProgress): void;
}

/** The reference policies (the same as lessons/day09/shipper.ts shows): what days 11–13 use. */
export function day09Policies(overflowPolicy: LspShipperArgs['overflow']): ShipperPolicies {
  return {
    resumeAfterHello(held, r) {
      r.outbox.rewind(); // everything unacknowledged — in flight on the lost connection included — goes again…
      r.ack(held); // …except what the receiver says it already holds (re-slicing a partly held batch)
    },
    nextBackoff(backoff) {
      const attempt = backoff.attempt;
      const ceilingMs = backoff.ceiling();
      return { attempt, ceilingMs, delayMs: backoff.next() };
    },
    deadConnection(c) {
      if (c.inflight > 0 && c.now - c.lastAckProgressAt > c.ackTimeoutMs) return `no ACK progress for ${c.now - c.lastAckProgressAt} ms with ${c.inflight} batches in flight`;
      if (c.pingOutstanding && c.now - c.pingSentAt > c.ackTimeoutMs) return `no PONG within ${c.ackTimeoutMs} ms`;
      return undefined;
    },
    admit(q, records, from, to) {
      if (q.spool && !q.spool.isEmpty) return q.toSpool(records, from, to);
      const room = q.room();
      if (room > 0) return q.toMemory(records, from, Math.min(to, from + room));
      return q.toSpool(records, from, to);
    },
    async overflow(q, _records, from, to) {
      if (overflowPolicy === 'block') {
        await q.roomFreed();
        return from;
      }
      if (overflowPolicy === 'drop-newest') {
        q.skip(to - from);
        q.dropped(to - from, 'dropping the newest records');
        return to;
      }
      const k = q.discardOldestUnsent();
      if (k > 0) {
        q.dropped(k, 'dropping the oldest unsent records');
        return from;
      }
      q.skip(1);
      q.dropped(1, 'everything held is in flight: dropping the newest record');
      return from + 1;
    },
    advanceFollow(f) {
      while (f.positions.length > 0 && f.positions[0]!.lastSeq <= f.ackedLocal) {
        const p = f.positions.shift()!;
        f.save({ ...p.at, seq: p.lastSeq + f.base });
      }
    },
  };
}

/**
 * `--generate N --rate R`: N seeded records created at R per second, in chunks (a token bucket topped up
 * every millisecond or so: no timer per record). Stops early when `stopped()` says so.
 */
export async function* generatePaced(n: number, rate: number, seed: number, stopped: () => boolean = () => false): AsyncGenerator<string[]> {
  const gen = new RecordGenerator({ seed, baseTimeMs: Date.now() });
  const bucket = new TokenBucket(rate, Math.max(1, Math.ceil(rate / 100))); // at most 10 ms worth at once
  let left = n;
  while (left > 0 && !stopped()) {
    const k = Math.min(left, Math.floor(bucket.available()));
    if (k > 0) {
      bucket.take(k);
      left -= k;
      yield gen.take(k);
    }
    if (left > 0) await new Promise((r) => setTimeout(r, 1));
  }
}

// ---------------------------------------------------------------------------------------------------
// Per-record wait times: from entering the batcher to the ACK that covers it

/**
 * Records enter in runs (a chunk of the source arrives at one instant), so the tracker keeps one
 * (first seq, count, time) entry per run, not per record, and an ACK records each run's wait with its
 * count in an HDR histogram (microseconds, 3 significant digits).
 */
export class WaitTimes {
  readonly histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
  /** flat runs [firstSeq, count, t, firstSeq, count, t, …] from `head` on, in seq order */
  private runs: number[] = [];
  private head = 0;

  /** `count` records from `firstSeq` entered at time `t` (ms, performance.now) */
  enter(firstSeq: number, count: number, t: number): void {
    if (count <= 0) return;
    const r = this.runs;
    const n = r.length;
    if (n > this.head && r[n - 1] === t && r[n - 3]! + r[n - 2]! === firstSeq) {
      r[n - 2]! += count;
      return;
    }
    r.push(firstSeq, count, t);
  }

  /** Everything up to `seq` is ACKed at time `now`. */
  acked(seq: number, now: number): void {
    const r = this.runs;
    while (this.head < r.length) {
      const first = r[this.head]!;
      const count = r[this.head + 1]!;
      if (first > seq) break;
      const waitUs = Math.max(1, Math.round((now - r[this.head + 2]!) * 1000));
      const covered = Math.min(count, seq - first + 1);
      this.histogram.recordValueWithCount(waitUs, covered);
      if (covered < count) {
        r[this.head] = first + covered;
        r[this.head + 1] = count - covered;
        break;
      }
      this.head += 3;
    }
    if (this.head === r.length) {
      this.runs = [];
      this.head = 0;
    } else if (this.head > 3000 && this.head * 2 > r.length) {
      this.runs = r.slice(this.head);
      this.head = 0;
    }
  }

  /** Records [from, to) will never be ACKed (dropped): forget them. */
  discard(from: number, to: number): void {
    const out: number[] = [];
    const r = this.runs;
    for (let i = this.head; i < r.length; i += 3) {
      const first = r[i]!;
      const end = first + r[i + 1]!;
      const t = r[i + 2]!;
      if (end <= from || first >= to) out.push(first, end - first, t);
      else {
        if (first < from) out.push(first, from - first, t);
        if (end > to) out.push(to, end - to, t);
      }
    }
    this.runs = out;
    this.head = 0;
  }

  /** {p50, p99, max} in ms (3 decimals) and the number of records measured */
  summary(): { p50: number; p99: number; max: number; n: number } {
    const h = this.histogram;
    const ms = (us: number) => Math.round(us) / 1000;
    if (h.totalCount === 0) return { p50: 0, p99: 0, max: 0, n: 0 };
    const max = h.maxValue; // (percentiles are reported as the top of their bucket: never above the max)
    return { p50: ms(Math.min(max, h.getValueAtPercentile(50))), p99: ms(Math.min(max, h.getValueAtPercentile(99))), max: ms(max), n: h.totalCount };
  }
}

// ---------------------------------------------------------------------------------------------------
// The engine

export type ShipperStateName = 'idle' | 'connecting' | 'handshaking' | 'streaming' | 'backoff' | 'draining' | 'closed';
export type ConnectFn = (target: HostPort) => net.Socket;

export interface Compression {
  codec: Codec;
  /** undefined: the codec's default */
  level?: number | undefined;
  /** payloads smaller than this go uncompressed */
  minBytes: number;
}

export interface LspShipperConfig {
  /** 'day09', 'day11', …: the HELLO names it */
  lesson: string;
  args: LspShipperArgs;
  log: Log;
  state: ShipperState;
  spool?: Spool | undefined;
  /** the acknowledged position a --follow run resumes from (state.followOf(input)) */
  follow?: FollowState | undefined;
  /** default: net.connect({host, port, noDelay: true}) */
  connect?: ConnectFn;
  compression?: Compression | undefined;
  policies?: Partial<ShipperPolicies>;
  /** extra fields for the HELLO payload */
  hello?: Record<string, unknown>;
  /** extra fields for the done line */
  doneExtra?: () => Record<string, unknown>;
  /** the Batcher's limits; default --batch-records, --batch-bytes, --batch-delay-ms (day 11 passes its own) */
  batch?: BatchLimits;
}

/** When a batch leaves (lessons/day11/batcher.ts): at maxRecords, before it would pass maxBytes, maxDelayMs after its first record. */
export interface BatchLimits {
  maxRecords: number;
  /** payload bytes (NDJSON, LFs included, before compression) */
  maxBytes: number;
  maxDelayMs: number;
}

/** An outbox batch plus the compressed form last sent (recomputed when an ACK re-slices the payload). */
interface HeldBatch extends OutBatch {
  wireFor?: Buffer;
  wire?: Buffer;
  wireCodec?: number;
}

const defaultConnect: ConnectFn = (t) => net.connect({ host: t.host, port: t.port, noDelay: true });

export class LspShipper implements Resume, Liveness, Queue, FollowProgress {
  readonly outbox: Outbox;
  readonly spool: Spool | undefined;
  readonly waits = new WaitTimes();
  readonly stream: number;
  /** counters (what the progress and done lines report) */
  readonly count = { sent: 0, resent: 0, acked: 0, dropped: 0, spooled: 0, reconnects: 0, tooLarge: 0, skippedInput: 0, batches: 0, frames: 0, socketWrites: 0, bytesWire: 0 };
  readonly compressionStats = { compressed: 0, raw: 0, bytesIn: 0, bytesOut: 0, cpuUs: 0 };
  readonly transitions: Record<string, number> = {};

  private readonly args: LspShipperArgs;
  private readonly log: Log;
  private readonly policies: ShipperPolicies;
  private readonly started = performance.now();
  /** every --target; the connection uses targets[targetIndex] and moves on to the next when lost */
  private readonly targets: HostPort[];
  private targetIndex = 0;
  private readonly batcher: Batcher<string>;
  /** the limits the batcher enforces */
  readonly batchLimits: BatchLimits;
  private readonly backoff: Backoff;
  private readonly connectFn: ConnectFn;

  // seqs: local 1, 2, 3… as read; wire seq = local + base (see the lesson's README)
  private nextSeq = 1;
  base = 0;
  private based = false;
  /** highest local seq the receiver has ACKed */
  ackedLocal = 0;
  private openFirst = 0;
  private openNext = 0;
  /** set while drop-oldest throws the open batch away instead of queueing it */
  private discardOpenBatch = false;

  // the connection
  private st: ShipperStateName = 'idle';
  private socket: net.Socket | undefined;
  private decoder = new FrameDecoder();
  private closeReason: string | undefined;
  private writeBlocked = false;
  private everConnected = false;
  private failedAttempts = 0;
  private backoffTimer: NodeJS.Timeout | undefined;
  private connectAt = 0;
  private handshakeAt = 0;
  private nacksInRow = 0;
  lastAckProgressAt = 0;
  private pingToken = 0;
  pingSentAt = 0;
  pingOutstanding = false;
  private lastPingAt = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private progressTimer: NodeJS.Timeout | undefined;

  // the source
  private sourceDone = false;
  private stopping = false;
  private readerWaiting: (() => void) | undefined;
  private lastDropLog = 0;

  // --follow
  private readonly follower: FileFollower | undefined;
  readonly positions: Array<{ lastSeq: number; at: FilePosition }> = [];
  private followAcked: FollowState | undefined;
  private followSavedAt = 0;
  private followSaveTimer: NodeJS.Timeout | undefined;

  private resolveFinished!: (code: number) => void;
  private readonly finished = new Promise<number>((r) => (this.resolveFinished = r));

  constructor(private readonly cfg: LspShipperConfig) {
    const args = (this.args = cfg.args);
    this.log = cfg.log;
    this.policies = { ...day09Policies(args.overflow), ...cfg.policies };
    this.stream = cfg.state.stream;
    this.spool = cfg.spool;
    this.targets = (args.target as Partial<TargetList>).all ?? [args.target];
    if (args.spread) this.targetIndex = this.stream % this.targets.length;
    this.connectFn = cfg.connect ?? defaultConnect;
    this.outbox = new Outbox({ maxBatches: args.windowBatches, maxBytes: args.windowBytes });
    this.backoff = new Backoff({ baseMs: args.backoffBaseMs, capMs: args.backoffCapMs });
    this.batchLimits = cfg.batch ?? { maxRecords: args.batchRecords, maxBytes: args.batchBytes, maxDelayMs: args.batchDelayMs };
    this.batcher = new Batcher<string>({
      ...this.batchLimits,
      onFlush: (b: Batch<string>) => {
        if (this.discardOpenBatch) return;
        this.queueBatch(this.openFirst, b.items);
        this.pump();
      },
    });
    if (cfg.follow) {
      this.base = cfg.follow.seq;
      this.based = true;
      this.followAcked = cfg.follow;
      this.log.info('resuming the followed file after its last ACKed line', { path: cfg.follow.path, pos: cfg.follow.pos, seq: cfg.follow.seq });
    }
    this.follower = args.follow
      ? new FileFollower({
          path: args.input!,
          ...(cfg.follow ? { start: cfg.follow } : {}),
          mapLine: (line) => {
            const text = line.toString('utf8').trim();
            return text ? toRecordLine(text, args.format, args.service, new Date().toISOString()) : undefined;
          },
          onSkip: (reason, sample) => this.skippedInput(reason, sample),
          onEvent: (what, fields) => this.log.info(what, fields),
        })
      : undefined;
  }

  /** the receiver the connection uses (or will use next) */
  get targetText(): string {
    return formatHostPort(this.targets[this.targetIndex]!);
  }

  /** the current state */
  get state(): ShipperStateName {
    return this.st;
  }

  /** Batcher flushes so far, by reason */
  get flushes(): Record<FlushReason, number> {
    return this.batcher.flushes;
  }

  // ---- Liveness ---------------------------------------------------------------------------------
  get now(): number {
    return Date.now();
  }
  get inflight(): number {
    return this.outbox.inflight;
  }
  get ackTimeoutMs(): number {
    return this.args.ackTimeoutMs;
  }

  /** Connects, reads the source, handles SIGTERM/SIGINT; resolves to the exit code once closed. */
  run(): Promise<number> {
    const { args } = this;
    this.watchdog = setInterval(() => this.tick(), Math.max(5, Math.min(100, Math.floor(args.ackTimeoutMs / 4), Math.floor(args.keepaliveMs / 2))));
    if (args.progressMs > 0) this.progressTimer = setInterval(() => this.progress(), args.progressMs);
    onShutdown(async (reason) => this.shutdown(reason), { log: this.log });
    this.log.info('shipping', {
      target: this.targetText,
      stream: this.stream,
      name: args.name,
      source: args.generate !== undefined ? `generate ${args.generate}` : args.input,
      follow: args.follow,
      overflow: args.overflow,
      spool: args.spool,
      batch: `${this.batchLimits.maxRecords} records / ${this.batchLimits.maxBytes} bytes / ${this.batchLimits.maxDelayMs} ms`,
      codec: this.cfg.compression?.codec.name,
    });
    this.connect('start');
    void this.readSource();
    return this.finished;
  }

  // ---- the state machine ------------------------------------------------------------------------
  private transition(to: ShipperStateName, reason: string, extra: Record<string, unknown> = {}): void {
    const from = this.st;
    this.st = to;
    const key = `${from}->${to}`;
    this.transitions[key] = (this.transitions[key] ?? 0) + 1;
    const t = Math.round(performance.now() - this.started);
    process.stdout.write(`${JSON.stringify({ event: 'state', from, to, reason, t, ...extra })}\n`);
    const level = to === 'backoff' ? 'warn' : 'info';
    this.log[level](`${from} → ${to}: ${reason}`, extra);
  }

  private write(s: net.Socket, buf: Buffer): boolean {
    this.count.socketWrites++;
    this.count.bytesWire += buf.length;
    return s.write(buf);
  }

  private connect(reason: string): void {
    if (this.everConnected) this.count.reconnects++;
    this.everConnected = true;
    this.transition('connecting', reason, { target: this.targetText });
    this.connectAt = Date.now();
    let s: net.Socket;
    try {
      s = this.connectFn(this.targets[this.targetIndex]!);
    } catch (err) {
      // e.g. a TLS option the runtime refuses: as good as a failed connect
      this.socket = undefined;
      setImmediate(() => this.onConnectionLost(`connect failed: ${(err as Error).message}`));
      return;
    }
    this.socket = s;
    this.decoder = new FrameDecoder();
    this.closeReason = undefined;
    this.writeBlocked = false;
    this.pingOutstanding = false;
    const connectedEvent = s instanceof tls.TLSSocket ? 'secureConnect' : 'connect';
    s.on(connectedEvent, () => {
      if (this.socket !== s) return;
      this.transition('handshaking', `connected to ${this.targetText}${connectedEvent === 'secureConnect' ? ' (TLS)' : ''}, HELLO sent`);
      this.handshakeAt = Date.now();
      this.write(s, encodeHello(this.stream, { name: this.args.name, lesson: this.cfg.lesson, pid: process.pid, ...this.cfg.hello }));
    });
    s.on('data', (chunk: Buffer) => {
      if (this.socket !== s) return;
      let frames: Frame[];
      try {
        frames = this.decoder.push(chunk);
      } catch (err) {
        this.closeReason = `receiver sent a bad frame: ${(err as LsError).code}`;
        s.destroy();
        return;
      }
      for (const f of frames) {
        if (this.socket !== s) return;
        this.onFrame(s, f);
      }
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      this.closeReason ??= err.code ? `${err.code}: ${err.message}` : err.message;
    });
    s.on('close', () => {
      if (this.socket !== s) return;
      this.socket = undefined;
      this.onConnectionLost(this.closeReason ?? 'the receiver closed the connection');
    });
  }

  private onFrame(s: net.Socket, f: Frame): void {
    switch (f.type) {
      case FrameType.ACK:
        if (f.stream === this.stream) this.onAck(f.seq);
        return;
      case FrameType.NACK: {
        let what = 'unreadable NACK';
        try {
          const nack = parseNack(f);
          what = `${nack.code}: ${nack.message}`;
        } catch {
          // keep the generic text
        }
        this.log.error('receiver refused our frames (NACK)', { nack: what });
        this.nacksInRow++;
        this.closeReason = `NACK ${what}`;
        s.destroy();
        return;
      }
      case FrameType.PONG:
        this.pingOutstanding = false;
        return;
      case FrameType.PING:
        this.write(s, encodePong(f.seq));
        return;
      default:
        this.log.debug('unexpected frame ignored', { type: FrameType[f.type] });
    }
  }

  private onAck(wireSeq: number): void {
    if (this.st === 'handshaking') {
      if (!this.based) {
        // A run that is not resuming continues the stream after what the receiver already holds.
        this.base = wireSeq;
        this.based = true;
        if (this.follower) this.saveFollow(true);
        if (this.base > 0) this.log.info('the receiver already holds this stream: this run continues after it', { stream: this.stream, from: this.base + 1 });
      } else if (wireSeq - this.base < this.ackedLocal) {
        this.log.warn('the receiver holds less than it ACKed before (it lost data): those records cannot be sent again', { stream: this.stream, acked: this.base + this.ackedLocal, holds: wireSeq });
      }
      this.policies.resumeAfterHello(wireSeq, this);
      this.backoff.reset();
      this.failedAttempts = 0;
      this.lastAckProgressAt = this.lastPingAt = Date.now();
      this.transition('streaming', `HELLO answered: the receiver holds seq ${wireSeq}`, { acked: wireSeq, held: this.outbox.records });
      this.pump();
      if (this.sourceDone) this.transition('draining', this.stopping ? 'stopping: no more reading' : 'source exhausted: waiting for the last ACKs', { unacked: this.outbox.records });
      this.maybeFinish();
      return;
    }
    this.ack(wireSeq);
  }

  /** A cumulative ACK (wire seq): forget what it covers, make room, send more. */
  ack(wireSeq: number): void {
    const local = wireSeq - this.base;
    if (local <= this.ackedLocal) return;
    this.ackedLocal = local;
    this.nacksInRow = 0;
    this.count.acked += this.outbox.ack(local);
    this.waits.acked(local, performance.now());
    this.lastAckProgressAt = Date.now();
    if (this.follower) this.policies.advanceFollow(this);
    this.refill();
    this.wakeReader();
    this.pump();
    this.maybeFinish();
  }

  /** Puts batches on the connection while the window allows and the socket takes them. */
  private pump(): void {
    if ((this.st !== 'streaming' && this.st !== 'draining') || !this.socket || this.writeBlocked) return;
    const s = this.socket;
    const { count, outbox } = this;
    for (let b = outbox.takeToSend() as HeldBatch | undefined; b !== undefined; b = outbox.takeToSend() as HeldBatch | undefined) {
      if (b.sends === 1) {
        count.sent += b.count;
        count.batches++;
      } else count.resent += b.count;
      count.frames++;
      if (outbox.inflight === 1) this.lastAckProgressAt = Date.now(); // the ACK clock starts when the window fills from empty
      const [codec, payload] = this.wireForm(b);
      const frame = encodeFrame({ type: FrameType.BATCH, codec, count: b.count, stream: this.stream, seq: b.firstSeq + this.base, payload });
      if (!this.write(s, frame)) {
        // Backpressure: the kernel's send buffer is full; go on at 'drain'.
        this.writeBlocked = true;
        s.once('drain', () => {
          this.writeBlocked = false;
          this.pump();
        });
        return;
      }
    }
  }

  /** The payload as it goes on the wire: compressed when configured, big enough, and it shrinks. */
  private wireForm(b: HeldBatch): [number, Buffer] {
    const c = this.cfg.compression;
    const stats = this.compressionStats;
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

  private onConnectionLost(reason: string): void {
    if (this.st === 'closed') return;
    // What was in flight may be lost with the connection: the next HELLO's ACK decides what goes again.
    if (this.st === 'connecting' || this.st === 'handshaking') this.failedAttempts++;
    if (this.args.maxAttempts > 0 && this.failedAttempts >= this.args.maxAttempts) {
      this.finish(`gave up after ${this.failedAttempts} failed connects in a row (${reason})`, 1);
      return;
    }
    if (this.nacksInRow >= 3) {
      this.finish(`gave up: the receiver refused our frames ${this.nacksInRow} times in a row (${reason})`, 1);
      return;
    }
    if (this.targets.length > 1) {
      // fail over: the next receiver gets the next attempt (the HELLO there says what the cluster holds)
      this.targetIndex = (this.targetIndex + 1) % this.targets.length;
    }
    const step = this.policies.nextBackoff(this.backoff);
    const delay = step.delayMs;
    this.transition('backoff', `${reason}; reconnecting in ${delay} ms`, { attempt: step.attempt + 1, delayMs: delay, ceilingMs: step.ceilingMs });
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      this.connect(`backoff of ${delay} ms over`);
    }, delay);
  }

  /** The connection is alive on paper only: close it, and the close handler backs off and reconnects. */
  private declareDead(reason: string): void {
    this.log.warn('connection considered dead', { reason });
    this.closeReason = reason;
    this.socket?.destroy();
  }

  /** [d09.8] one watchdog for the connect, the handshake, the ACK clock and the keepalive (no timer per batch) */
  private tick(): void {
    const now = Date.now();
    const { ackTimeoutMs, keepaliveMs } = this.args;
    if (this.st === 'connecting') {
      if (now - this.connectAt > ackTimeoutMs) this.declareDead(`no connection within ${ackTimeoutMs} ms`);
      return;
    }
    if (this.st === 'handshaking') {
      if (now - this.handshakeAt > ackTimeoutMs) this.declareDead(`no ACK to HELLO within ${ackTimeoutMs} ms`);
      return;
    }
    if (this.st !== 'streaming' && this.st !== 'draining') return;
    const dead = this.policies.deadConnection(this);
    if (dead !== undefined) {
      this.declareDead(dead);
      return;
    }
    if (!this.pingOutstanding && now - this.lastPingAt >= keepaliveMs && this.socket) {
      this.pingOutstanding = true;
      this.pingSentAt = this.lastPingAt = now;
      this.write(this.socket, encodePing(++this.pingToken));
    }
  }

  // ---- memory: the open batch, then the outbox -------------------------------------------------

  /**
   * Encodes a batch once, into the outbox. The batcher counted UTF-16 length (cheap: no per-record UTF-8
   * pass); non-ASCII text encodes longer, so the exact size is checked here and an oversized batch split.
   */
  private queueBatch(firstSeq: number, records: string[]): void {
    const payload = encodeBatchPayload(records);
    if (payload.length <= this.batchLimits.maxBytes) {
      this.outbox.push({ firstSeq, count: records.length, payload, sends: 0 });
    } else if (records.length > 1) {
      const half = records.length >> 1;
      this.queueBatch(firstSeq, records.slice(0, half));
      this.queueBatch(firstSeq + half, records.slice(half));
    } else {
      this.count.tooLarge++;
      this.count.dropped++;
      this.waits.discard(firstSeq, firstSeq + 1);
      this.log.warn('record larger than --batch-bytes: dropped', { seq: firstSeq + this.base, bytes: payload.length });
    }
  }

  private inMemory(): number {
    return this.batcher.size + this.outbox.records;
  }

  /** One record into the open batch. A batch carries consecutive seqs, so a skipped seq closes it first. */
  private addToBatch(record: string, seq: number): void {
    if (seq <= this.ackedLocal) {
      this.count.acked++; // the receiver already holds it (a resumed --follow re-reads a little)
      return;
    }
    // UTF-16 length: exact for ASCII and never more than the UTF-8 size (queueBatch checks the real size).
    const bytes = record.length + 1;
    const batcher = this.batcher;
    if (!batcher.fits(bytes)) {
      this.count.tooLarge++;
      this.count.dropped++;
      this.waits.discard(seq, seq + 1);
      this.log.warn('record larger than --batch-bytes: dropped', { seq: seq + this.base, bytes });
      return;
    }
    if (batcher.size > 0 && (seq !== this.openNext || batcher.openBytes + bytes > this.batchLimits.maxBytes)) batcher.flush(seq !== this.openNext ? 'manual' : 'bytes');
    if (batcher.size === 0) this.openFirst = seq;
    this.openNext = seq + 1;
    batcher.add(record, bytes);
  }

  // ---- Queue (what the admit and overflow policies work with) ----------------------------------
  room(): number {
    return this.args.queueRecords - this.inMemory();
  }

  toMemory(records: readonly string[], from: number, to: number): number {
    if (to <= from) return 0;
    const first = this.nextSeq;
    this.waits.enter(Math.max(first, this.ackedLocal + 1), first + (to - from) - Math.max(first, this.ackedLocal + 1), performance.now());
    for (let i = from; i < to; i++) this.addToBatch(records[i]!, this.nextSeq++);
    return to - from;
  }

  toSpool(records: readonly string[], from: number, to: number): number {
    const spool = this.spool;
    if (!spool) return 0;
    // entries no bigger than a batch (or the memory bound), so reading one back never overshoots much
    const piece = Math.min(this.batchLimits.maxRecords, this.args.queueRecords);
    let i = from;
    while (i < to) {
      const end = Math.min(to, i + piece);
      const took = spool.append(this.nextSeq, records, i, end);
      this.nextSeq += took;
      this.count.spooled += took;
      i += took;
      if (i < end) break; // the spool is full
    }
    return i - from;
  }

  roomFreed(): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => (this.readerWaiting = resolve));
  }

  skip(k: number): void {
    this.nextSeq += k;
  }

  discardOldestUnsent(): number {
    const victim = this.outbox.dropOldestUnsent();
    if (victim) {
      this.waits.discard(victim.firstSeq, victim.firstSeq + victim.count);
      this.refill();
      return victim.count;
    }
    const k = this.batcher.size;
    if (k > 0) {
      // the open batch is the oldest never-sent data left
      this.waits.discard(this.openFirst, this.openNext);
      this.discardOpenBatch = true;
      this.batcher.flush('manual');
      this.discardOpenBatch = false;
    }
    return k;
  }

  dropped(k: number, how: string): void {
    this.count.dropped += k;
    const now = Date.now();
    if (now - this.lastDropLog >= 1000) {
      this.lastDropLog = now;
      this.log.warn(`memory full: ${how}`, { dropped: this.count.dropped, policy: this.args.overflow });
    }
  }

  /** Spooled records come back (in seq order) as soon as memory has room for them. */
  private refill(): void {
    const spool = this.spool;
    if (!spool) return;
    while (!spool.isEmpty) {
      const room = this.args.queueRecords - this.inMemory();
      if (spool.nextCount > room && this.inMemory() > 0) return;
      const e = spool.shift()!;
      this.waits.enter(e.firstSeq, e.records.length, performance.now());
      for (let i = 0; i < e.records.length; i++) this.addToBatch(e.records[i]!, e.firstSeq + i);
    }
    if (this.sourceDone) this.batcher.flush('close');
  }

  private wakeReader(): void {
    const w = this.readerWaiting;
    this.readerWaiting = undefined;
    w?.();
  }

  /** Takes one chunk from the source: the admit policy, else the overflow policy. Returns false if stopped midway. */
  private async admitChunk(records: readonly string[]): Promise<boolean> {
    const n = records.length;
    let i = 0;
    while (i < n) {
      if (this.stopping) return false;
      const took = this.policies.admit(this, records, i, n);
      if (took > 0) {
        i += took;
        continue;
      }
      i = await this.policies.overflow(this, records, i, n);
    }
    return true;
  }

  private skippedInput(reason: string, sample: Buffer): void {
    this.count.skippedInput++;
    this.log.warn('input line skipped', { reason, sample: sample.toString('utf8', 0, 80) });
  }

  // ---- --follow: the acknowledged read position --------------------------------------------------
  save(pos: FollowState): void {
    this.followAcked = pos;
    this.saveFollow(false);
  }

  /** Writes the acknowledged position, at most every 200 ms (and at once when `now`). */
  private saveFollow(now: boolean): void {
    this.followAcked ??= { path: this.args.input!, dev: 0, ino: 0, pos: 0, seq: this.base }; // fresh: "from the start, after seq base"
    const since = Date.now() - this.followSavedAt;
    if (now || since >= 200) {
      if (this.followSaveTimer) clearTimeout(this.followSaveTimer);
      this.followSaveTimer = undefined;
      this.followSavedAt = Date.now();
      this.cfg.state.saveFollow(this.followAcked);
    } else {
      this.followSaveTimer ??= setTimeout(() => this.saveFollow(true), 200 - since);
    }
  }

  // ---- reading the source ----------------------------------------------------------------------
  private async readSource(): Promise<void> {
    const { args } = this;
    try {
      if (this.follower) {
        for await (const chunk of this.follower.chunks()) {
          if (!(await this.admitChunk(chunk.lines))) break;
          this.positions.push({ lastSeq: this.nextSeq - 1, at: chunk.at });
          if (this.ackedLocal >= this.nextSeq - 1) this.policies.advanceFollow(this); // already ACKed (a resumed run re-reading)
        }
      } else if (args.generate !== undefined && args.rate > 0) {
        for await (const records of generatePaced(args.generate, args.rate, args.seed, () => this.stopping)) {
          if (!(await this.admitChunk(records))) break;
        }
      } else {
        const source = openSource(args, (reason, sample) => this.skippedInput(reason, sample));
        for await (const records of source) {
          if (!(await this.admitChunk(records))) break;
          // A generated source never waits: let the socket's ACKs and writes in between chunks.
          await new Promise((r) => setImmediate(r));
        }
      }
    } catch (err) {
      this.log.error('reading the source failed: shipping what was read', { error: (err as Error).message });
    }
    this.sourceDone = true;
    this.batcher.flush('close');
    if (this.st === 'streaming') this.transition('draining', this.stopping ? 'stopping: no more reading' : 'source exhausted: waiting for the last ACKs', { unacked: this.outbox.records });
    this.maybeFinish();
  }

  // ---- the end ---------------------------------------------------------------------------------
  private maybeFinish(): void {
    // (during a handshake the answer to HELLO decides first; it calls us again)
    // (stopping: the source is no longer read, whether or not it ended)
    if ((!this.sourceDone && !this.stopping) || this.st === 'closed' || this.st === 'handshaking') return;
    if (this.batcher.size > 0 || this.outbox.length > 0 || (this.spool !== undefined && !this.spool.isEmpty)) return;
    const read = this.nextSeq - 1;
    this.finish(this.stopping ? 'stopped: everything read is acknowledged' : 'everything acknowledged', this.count.acked + this.count.dropped === read ? 0 : 1);
  }

  private finish(reason: string, code: number): void {
    if (this.st === 'closed') return;
    this.transition('closed', reason);
    clearInterval(this.watchdog);
    if (this.progressTimer) clearInterval(this.progressTimer);
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    this.wakeReader();
    this.follower?.stop();
    if (this.follower && this.followAcked) this.saveFollow(true);
    this.socket?.end();
    this.spool?.close();
    announceDone(this.doneLine(reason));
    this.resolveFinished(code);
  }

  /** The done line's fields (also what the experiment and the benchmarks read). */
  doneLine(reason: string): { sent: number; acked: number; dropped: number; [k: string]: unknown } {
    const { count } = this;
    const read = this.nextSeq - 1;
    const elapsedMs = performance.now() - this.started;
    const c = this.compressionStats;
    const comp = this.cfg.compression;
    return {
      sent: count.sent,
      acked: count.acked,
      dropped: count.dropped,
      read,
      resent: count.resent,
      spooled: count.spooled,
      unacked: read - count.acked - count.dropped,
      reconnects: count.reconnects,
      stream: this.stream,
      firstSeq: this.base + 1,
      lastSeq: this.base + read,
      elapsedMs: Math.round(elapsedMs),
      recordsPerSec: Math.round(count.acked / (elapsedMs / 1000)),
      skippedInput: count.skippedInput,
      tooLarge: count.tooLarge,
      batches: count.batches,
      frames: count.frames,
      recordsPerBatch: count.batches ? Math.round((count.sent / count.batches) * 100) / 100 : 0,
      flushes: { ...this.batcher.flushes },
      socketWrites: count.socketWrites,
      bytesWire: count.bytesWire,
      waitMs: this.waits.summary(),
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
      transitions: this.transitions,
      ...this.cfg.doneExtra?.(),
      reason,
    };
  }

  private progress(): void {
    const { count } = this;
    process.stdout.write(`${JSON.stringify({ event: 'progress', read: this.nextSeq - 1, sent: count.sent, acked: count.acked, dropped: count.dropped, spooled: count.spooled, queued: this.inMemory(), state: this.st })}\n`);
  }

  /** SIGTERM: stop reading, drain what we can before the deadline, done line, exit 0. */
  private async shutdown(reason: string): Promise<void> {
    this.stopping = true;
    this.wakeReader();
    this.follower?.stop();
    this.batcher.flush('close');
    if (this.st === 'streaming') this.transition('draining', `${reason}: stop reading, draining`, { unacked: this.outbox.records });
    this.maybeFinish(); // nothing held: done at once
    const deadline = new Promise<void>((r) => setTimeout(r, 3500).unref());
    await Promise.race([this.finished, deadline]);
    this.finish(`${reason}: ${this.outbox.records + this.batcher.size + (this.spool?.records ?? 0)} records not acknowledged at the deadline`, 0);
  }
}
