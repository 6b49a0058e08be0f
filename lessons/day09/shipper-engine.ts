/**
 * The LSP/1 shipper engine: day 09's acknowledged shipper as a state machine, reused by days 11, 12, 13 and
 * the scale-out lesson. The decisions it asks for are day 09's policies (lessons/day09/policies.ts); how
 * records are grouped into batches is a pluggable batching policy (lessons/day09/batching.ts).
 *
 * ## API summary
 * ```ts
 * import { LspShipper, lspShipperOptions, lspCodecOptions, validateLspShipper, ownDir } from '../day09/shipper-engine.ts';
 *
 * const args = parseCli({ name, summary, options: { ...lspShipperOptions('day12'), ...lspCodecOptions() },
 *                         validate: validateLspShipper });
 * const log = createLog('day12/shipper');
 * const state = ownDir(name, '--state-dir', () => ShipperState.open(args.stateDir, args.streamId === undefined ? {} : { streamId: args.streamId }));
 * const spool = args.spool ? ownDir(name, '--spool', () => new Spool({ dir: args.spool!, maxBytes: args.spoolBytes })) : undefined;
 * const shipper = new LspShipper({
 *   lesson: 'day12', args, log, state, spool,
 *   follow: args.follow ? state.followOf(args.input!) : undefined,   // where a --follow run resumes
 *   compression: { codec: codecByName(args.codec), level: args.level, minBytes: args.minCompressBytes }, // optional
 *   connect: (t) => tls.connect({ host: t.host, port: t.port, ca, cert, key }),   // optional; default net.connect
 *   batching: (o) => new Batcher<string>(o),                                        // optional; default day 09's count rule
 *   batch: { maxRecords, maxBytes, maxDelayMs },                                    // optional; default the --batch-* flags
 *   policies: { ... },                                                              // optional; default DAY09_POLICIES
 *   doneExtra: () => ({ ... }),                                                     // optional extra done-line fields
 * });
 * process.exit(await shipper.run());     // connects, reads the source, handles SIGTERM; resolves to the exit code
 * ```
 * - The flags (`lspShipperOptions`, `lspCodecOptions`, `validateLspShipper`, `ownDir`, `parseTargets`,
 *   `SMALLEST_RECORD_BYTES`) are lessons/day09/shipper-options.ts, re-exported here.
 * - The batching hook: `batching?: (opts: BatchPolicyOptions) => BatchPolicy` (lessons/day09/batching.ts).
 *   The engine builds the open batch with `opts = {maxRecords, maxBytes, maxDelayMs, onFlush({items})}` and
 *   drives it with `size`, `openBytes`, `fits(bytes)`, `add(record, bytes)`, `flush('manual'|'bytes'|'close')`,
 *   `idle?()` (called when nothing more is waiting: after each chunk taken from the source or the spool)
 *   and reports its `flushes` (by reason) in the done line. Default: day 09's CountBatching — the records
 *   already waiting, up to --batch-records / --batch-bytes, sent at idle(). Day 11's Batcher fits as it is
 *   (`(o) => new Batcher<string>(o)`): full, bytes, or --batch-delay-ms after its first record.
 * - Policies: resumeAfterHello [d09.3–5], nextBackoff [d09.10], deadConnection [d09.8], admit [d09.6],
 *   overflow [d09.7], advanceFollow [d09.5] (lessons/day09/policies.ts: DAY09_POLICIES; a lesson may replace one).
 * - stdout: `{"event":"state","from","to","reason","t",…}` per transition, `{"event":"progress",…}` every
 *   --progress-ms, and one `done` line (its fields: lessons/day09/shipper-report.ts). Exit code 0 when
 *   acked + dropped == read (or after SIGTERM), else 1.
 * - `connect(target)` may return a net.Socket or a tls.TLSSocket (lessons/day09/shipper-connection.ts); a
 *   socket 'error' (ECONNREFUSED, CERT_HAS_EXPIRED, …) becomes the backoff transition's reason `CODE: message`.
 * - Compression: lessons/day09/shipper-wire.ts (compressed when at least `minBytes` and smaller, else raw).
 * - Also exported: `BatchLimits`, `LspShipperConfig` (lessons/day09/shipper-config.ts), `WaitTimes`
 *   (lessons/day09/wait-times.ts), `generatePaced(n, rate, seed, stopped)` (lessons/day09/generate-paced.ts).
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
 * Records are numbered 1, 2, 3… as they are read (local seqs; on the wire seq = local + base), grouped into
 * batches by the batching policy, kept in the Outbox until an ACK covers them, and sent within a window.
 * After each (re)connect the HELLO's ACK says what the receiver holds; the rest goes again. Memory is
 * bounded by --queue-records: past it the spool, then the overflow policy.
 *
 * The files: this one is the state machine, the send loop (pump), ACK handling and the queue; the
 * connection is shipper-connection.ts, the wire form shipper-wire.ts, the done line shipper-report.ts, the
 * --follow position follow-saver.ts, the configuration shipper-config.ts and the flags shipper-options.ts.
 */
import { Backoff } from './backoff.ts';
import { countBatching, type BatchPolicy } from './batching.ts';
import { formatHostPort, type HostPort } from '../../shared/cli.ts';
import { FileFollower, type FilePosition } from './follow.ts';
import { openSource, toRecordLine } from '../day08/input.ts';
import type { Log } from '../../shared/log.ts';
import { Outbox } from './outbox.ts';
import {
  DAY09_POLICIES,
  type FollowProgress,
  type Liveness,
  type OverflowPolicy,
  type Queue,
  type Resume,
  type ShipperPolicies,
} from './policies.ts';
import { announceDone, onShutdown } from '../../shared/process.ts';
import { encodeBatchPayload } from '../../shared/protocol/batch.ts';
import { LS_ERR } from '../../shared/protocol/errors.ts';
import {
  encodeFrame,
  encodeHello,
  encodePing,
  encodePong,
  FrameType,
  parseNack,
  type Frame,
} from '../../shared/protocol/frame.ts';
import type { FollowState } from './shipper-state.ts';
import type { Spool } from './spool.ts';
import type { LspShipperArgs, TargetList } from './shipper-options.ts';
import { WaitTimes } from './wait-times.ts';
import { defaultConnect, ShipperConnection, type ConnectFn } from './shipper-connection.ts';
import { wireForm, type CompressionStats } from './shipper-wire.ts';
import { doneFields, newShipperCounters, type DoneLine } from './shipper-report.ts';
import { generatePaced } from './generate-paced.ts';
import { FollowSaver } from './follow-saver.ts';
import type { BatchLimits, LspShipperConfig, ShipperStateName } from './shipper-config.ts';

export {
  lspCodecOptions,
  lspShipperOptions,
  ownDir,
  parseTargets,
  SMALLEST_RECORD_BYTES,
  validateLspShipper,
  type LspShipperArgs,
  type TargetList,
} from './shipper-options.ts';
export type { BackoffStep, FollowProgress, Liveness, Queue, Resume, ShipperPolicies } from './policies.ts';
export type { BatchPolicy, BatchPolicyOptions, Batching } from './batching.ts';
export { WaitTimes } from './wait-times.ts';
export { generatePaced } from './generate-paced.ts';
export type { ConnectFn } from './shipper-connection.ts';
export type { Compression } from './shipper-wire.ts';
export type { BatchLimits, LspShipperConfig, ShipperStateName } from './shipper-config.ts';

export class LspShipper implements Resume, Liveness, Queue, FollowProgress {
  readonly outbox: Outbox;
  readonly spool: Spool | undefined;
  readonly waits = new WaitTimes();
  readonly stream: number;
  /** counters (what the progress and done lines report) */
  readonly count = newShipperCounters();
  readonly compressionStats: CompressionStats = { compressed: 0, raw: 0, bytesIn: 0, bytesOut: 0, cpuUs: 0 };
  readonly transitions: Record<string, number> = {};

  private readonly args: LspShipperArgs;
  private readonly log: Log;
  private readonly policies: ShipperPolicies;
  private readonly started = performance.now();
  /** every --target; the connection uses targets[targetIndex] and moves on to the next when lost */
  private readonly targets: HostPort[];
  private targetIndex = 0;
  private readonly batcher: BatchPolicy;
  /** the limits the batching policy enforces */
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
  /** the connection to the receiver, while there is one (lessons/day09/shipper-connection.ts) */
  private conn: ShipperConnection | undefined;
  private everConnected = false;
  private failedAttempts = 0;
  private backoffTimer: NodeJS.Timeout | undefined;
  private connectAt = 0;
  private handshakeAt = 0;
  private nacksInRow = 0;
  /** the receiver said another identity owns our stream (LS_ERR_STREAM_OWNED): final, never retried */
  private streamOwned: string | undefined;
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
  private readonly followSaver: FollowSaver;

  private resolveFinished!: (code: number) => void;
  private readonly finished = new Promise<number>((r) => (this.resolveFinished = r));

  constructor(private readonly cfg: LspShipperConfig) {
    const args = (this.args = cfg.args);
    this.log = cfg.log;
    this.policies = { ...DAY09_POLICIES, ...cfg.policies };
    this.stream = cfg.state.stream;
    this.spool = cfg.spool;
    this.targets = (args.target as Partial<TargetList>).all ?? [args.target];
    if (args.spread) this.targetIndex = this.stream % this.targets.length;
    this.connectFn = cfg.connect ?? defaultConnect;
    this.outbox = new Outbox({ maxBatches: args.windowBatches, maxBytes: args.windowBytes });
    this.backoff = new Backoff({ baseMs: args.backoffBaseMs, capMs: args.backoffCapMs });
    this.batchLimits = cfg.batch ?? {
      maxRecords: args.batchRecords,
      maxBytes: args.batchBytes,
      maxDelayMs: args.batchDelayMs,
    };
    this.batcher = (cfg.batching ?? countBatching)({
      ...this.batchLimits,
      onFlush: (b: { items: string[] }) => {
        // A batch carries consecutive seqs, so the next one starts after its last record: a policy may
        // flush inside add(), before the record (bytes) or with it (full), and the seqs stay right.
        const first = this.openFirst;
        this.openFirst = first + b.items.length;
        if (this.discardOpenBatch) return;
        this.queueBatch(first, b.items);
        this.pump();
      },
    });
    if (cfg.follow) {
      this.base = cfg.follow.seq;
      this.based = true;
      this.log.info('resuming the followed file after its last ACKed line', {
        path: cfg.follow.path,
        pos: cfg.follow.pos,
        seq: cfg.follow.seq,
      });
    }
    this.followSaver = new FollowSaver(cfg.state, cfg.follow);
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

  /** batches that left so far, by reason */
  get flushes(): Readonly<Record<string, number>> {
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
  get overflowPolicy(): OverflowPolicy {
    return this.args.overflow;
  }

  /** Connects, reads the source, handles SIGTERM/SIGINT; resolves to the exit code once closed. */
  run(): Promise<number> {
    const { args } = this;
    this.watchdog = setInterval(
      () => this.tick(),
      Math.max(5, Math.min(100, Math.floor(args.ackTimeoutMs / 4), Math.floor(args.keepaliveMs / 2))),
    );
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

  private connect(reason: string): void {
    if (this.everConnected) this.count.reconnects++;
    this.everConnected = true;
    this.transition('connecting', reason, { target: this.targetText });
    this.connectAt = Date.now();
    this.pingOutstanding = false;
    const conn: ShipperConnection | undefined = ShipperConnection.open(
      this.connectFn,
      this.targets[this.targetIndex]!,
      {
        open: (secure) => {
          this.transition('handshaking', `connected to ${this.targetText}${secure ? ' (TLS)' : ''}, HELLO sent`);
          this.handshakeAt = Date.now();
          const { name } = this.args;
          conn!.write(encodeHello(this.stream, { name, lesson: this.cfg.lesson, pid: process.pid, ...this.cfg.hello }));
        },
        frame: (f) => this.onFrame(conn!, f),
        closed: (why) => {
          if (this.conn !== conn) return; // an earlier connection's last word
          this.conn = undefined;
          this.onConnectionLost(why);
        },
      },
      this.count,
    );
    this.conn = conn;
  }

  private onFrame(conn: ShipperConnection, f: Frame): void {
    switch (f.type) {
      case FrameType.ACK:
        if (f.stream === this.stream) this.onAck(f.seq);
        return;
      case FrameType.NACK: {
        let what = 'unreadable NACK';
        try {
          const nack = parseNack(f);
          what = `${nack.code}: ${nack.message}`;
          if (nack.code === LS_ERR.LS_ERR_STREAM_OWNED) this.streamOwned = nack.message;
        } catch {
          // keep the generic text
        }
        this.log.error('receiver refused our frames (NACK)', { nack: what });
        this.nacksInRow++;
        conn.close(`NACK ${what}`);
        return;
      }
      case FrameType.PONG:
        this.pingOutstanding = false;
        return;
      case FrameType.PING:
        conn.write(encodePong(f.seq));
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
        if (this.follower) this.followSaver.based(this.args.input!, this.base);
        if (this.base > 0)
          this.log.info('the receiver already holds this stream: this run continues after it', {
            stream: this.stream,
            from: this.base + 1,
          });
      } else if (wireSeq - this.base < this.ackedLocal) {
        this.log.warn(
          'the receiver holds less than it ACKed before (it lost data): those records cannot be sent again',
          { stream: this.stream, acked: this.base + this.ackedLocal, holds: wireSeq },
        );
      }
      this.policies.resumeAfterHello(wireSeq, this);
      this.backoff.reset();
      this.failedAttempts = 0;
      this.lastAckProgressAt = this.lastPingAt = Date.now();
      this.transition('streaming', `HELLO answered: the receiver holds seq ${wireSeq}`, {
        acked: wireSeq,
        held: this.outbox.records,
      });
      this.pump();
      if (this.sourceDone)
        this.transition(
          'draining',
          this.stopping ? 'stopping: no more reading' : 'source exhausted: waiting for the last ACKs',
          { unacked: this.outbox.records },
        );
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
    const conn = this.conn;
    if ((this.st !== 'streaming' && this.st !== 'draining') || !conn?.writable) return;
    const { count, outbox } = this;
    for (let b = outbox.takeToSend(); b !== undefined; b = outbox.takeToSend()) {
      if (b.sends === 1) {
        count.sent += b.count;
        count.batches++;
      } else count.resent += b.count;
      count.frames++;
      if (outbox.inflight === 1) this.lastAckProgressAt = Date.now(); // the ACK clock starts when the window fills from empty
      const [codec, payload] = wireForm(b, this.cfg.compression, this.compressionStats);
      const frame = encodeFrame({
        type: FrameType.BATCH,
        codec,
        count: b.count,
        stream: this.stream,
        seq: b.firstSeq + this.base,
        payload,
      });
      if (!conn.write(frame)) {
        conn.onWritable(() => this.pump()); // backpressure: the kernel's send buffer is full; go on at 'drain'
        return;
      }
    }
  }

  private onConnectionLost(reason: string): void {
    if (this.st === 'closed') return;
    if (this.streamOwned !== undefined) {
      // Another identity owns this stream there (issue 17): asking again changes nothing, so stop and say why.
      this.log.error(
        `stream ${this.stream} belongs to another identity on ${this.targetText}: not retrying. Ship under a stream id of your own (--stream-id N, or a new --state-dir); on a plaintext lane a changed --name is another identity, so it needs a new stream too`,
        { stream: this.stream, name: this.args.name, receiver: this.streamOwned },
      );
      this.finish(`refused: stream ${this.stream} belongs to another identity (LS_ERR_STREAM_OWNED)`, 1);
      return;
    }
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
    this.transition('backoff', `${reason}; reconnecting in ${delay} ms`, {
      attempt: step.attempt + 1,
      delayMs: delay,
      ceilingMs: step.ceilingMs,
    });
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      this.connect(`backoff of ${delay} ms over`);
    }, delay);
  }

  /** The connection is alive on paper only: close it, and the close handler backs off and reconnects. */
  private declareDead(reason: string): void {
    this.log.warn('connection considered dead', { reason });
    this.conn?.close(reason);
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
    if (!this.pingOutstanding && now - this.lastPingAt >= keepaliveMs && this.conn) {
      this.pingOutstanding = true;
      this.pingSentAt = this.lastPingAt = now;
      this.conn.write(encodePing(++this.pingToken));
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
    // A skipped seq closes the open batch (its seqs must be consecutive); the limits are the policy's.
    if (batcher.size > 0 && seq !== this.openNext) batcher.flush('manual');
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
    this.waits.enter(
      Math.max(first, this.ackedLocal + 1),
      first + (to - from) - Math.max(first, this.ackedLocal + 1),
      performance.now(),
    );
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
    this.batcher.idle?.();
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
      this.batcher.idle?.(); // no room: what is open goes into the outbox (where an ACK can free it, or drop-oldest take it)
      i = await this.policies.overflow(this, records, i, n);
    }
    this.batcher.idle?.(); // nothing more is waiting
    return true;
  }

  private skippedInput(reason: string, sample: Buffer): void {
    this.count.skippedInput++;
    this.log.warn('input line skipped', { reason, sample: sample.toString('utf8', 0, 80) });
  }

  // ---- --follow: the acknowledged read position --------------------------------------------------
  save(pos: FollowState): void {
    this.followSaver.save(pos);
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
    if (this.st === 'streaming')
      this.transition(
        'draining',
        this.stopping ? 'stopping: no more reading' : 'source exhausted: waiting for the last ACKs',
        { unacked: this.outbox.records },
      );
    this.maybeFinish();
  }

  // ---- the end ---------------------------------------------------------------------------------
  private maybeFinish(): void {
    // (during a handshake the answer to HELLO decides first; it calls us again)
    // (stopping: the source is no longer read, whether or not it ended)
    if ((!this.sourceDone && !this.stopping) || this.st === 'closed' || this.st === 'handshaking') return;
    if (this.batcher.size > 0 || this.outbox.length > 0 || (this.spool !== undefined && !this.spool.isEmpty)) return;
    const read = this.nextSeq - 1;
    this.finish(
      this.stopping ? 'stopped: everything read is acknowledged' : 'everything acknowledged',
      this.count.acked + this.count.dropped === read ? 0 : 1,
    );
  }

  private finish(reason: string, code: number): void {
    if (this.st === 'closed') return;
    this.transition('closed', reason);
    clearInterval(this.watchdog);
    if (this.progressTimer) clearInterval(this.progressTimer);
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    this.wakeReader();
    this.follower?.stop();
    if (this.follower) this.followSaver.flush();
    this.conn?.end();
    this.spool?.close();
    announceDone(this.doneLine(reason));
    this.resolveFinished(code);
  }

  /** The done line's fields (also what the experiment and the benchmarks read). */
  doneLine(reason: string): DoneLine {
    return doneFields(
      {
        count: this.count,
        read: this.nextSeq - 1,
        elapsedMs: performance.now() - this.started,
        stream: this.stream,
        base: this.base,
        flushes: this.batcher.flushes,
        waits: this.waits,
        compression: this.compressionStats,
        codec: this.cfg.compression,
        transitions: this.transitions,
      },
      reason,
      this.cfg.doneExtra?.(),
    );
  }

  private progress(): void {
    const { count } = this;
    process.stdout.write(
      `${JSON.stringify({ event: 'progress', read: this.nextSeq - 1, sent: count.sent, acked: count.acked, dropped: count.dropped, spooled: count.spooled, queued: this.inMemory(), state: this.st })}\n`,
    );
  }

  /** SIGTERM: stop reading, drain what we can before the deadline, done line, exit 0. */
  private async shutdown(reason: string): Promise<void> {
    this.stopping = true;
    this.wakeReader();
    this.follower?.stop();
    this.batcher.flush('close');
    if (this.st === 'streaming')
      this.transition('draining', `${reason}: stop reading, draining`, { unacked: this.outbox.records });
    this.maybeFinish(); // nothing held: done at once
    const deadline = new Promise<void>((r) => setTimeout(r, 3500).unref());
    await Promise.race([this.finished, deadline]);
    this.finish(
      `${reason}: ${this.outbox.records + this.batcher.size + (this.spool?.records ?? 0)} records not acknowledged at the deadline`,
      0,
    );
  }
}
