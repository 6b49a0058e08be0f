/**
 * The connection side of an LSP/1 receiver (shared/protocol/README.md §3), for every lesson from day 09 on: day 11 (batching),
 * day 12 (compression) and day 13 (TLS) reuse it unchanged and differ only in what they hand it.
 *
 * It owns the sockets and the frames; the lesson owns the meaning of a HELLO and a BATCH:
 *
 *   socket bytes ─▶ FrameDecoder ─▶ HELLO  ─▶ handlers.onHello(conn, stream, hello) → seq ─▶ ACK (at once)
 *                                ├▶ BATCH  ─▶ handlers.onBatch(conn, frame)  … later conn.ack(stream, seq)
 *                                ├▶ PING   ─▶ PONG (same token)
 *                                └▶ LsError (magic, version, type, flags, CRC, length, count, codec, …)
 *                                           ─▶ NACK {code, message}, then close THIS connection only
 *
 * Also here, because every receiver needs them the same way (CONVENTIONS.md §2, shared/protocol/README.md §5):
 * - a connection limit (refused with a log line and a counter),
 * - an idle timeout measured in complete frames (a peer trickling half a frame is idle), checked by one
 *   sweep timer rather than a timer per connection,
 * - ACK coalescing: `conn.ack()` may be called once per batch, but one ACK per stream goes out per
 *   event-loop turn, so a group commit that makes 50 batches durable at once answers with one frame,
 * - backpressure (`pause()`/`resume()` every socket while the sink is behind) and a shutdown sequence
 *   (`stopReading()`, `flushAcks()`, `closeAll()`),
 * - a fair share (issue 17.3): a connection that has handed over `maxBytesPerTurn` in one turn of the event
 *   loop is paused until the next turn, so every other connection's bytes are read in between. (libuv
 *   otherwise reads up to 32 chunks of one ready socket before the next: a flooding client's 2 MiB of
 *   batches — tens of ms of validating — ahead of a polite client's one small BATCH.)
 * - a budget for partial frames (issue 18.5): the bytes of frames not yet complete, summed over every
 *   connection, are bounded by `maxPartialBytes` (256 MiB by default), not max-connections ×
 *   max-payload-bytes (1024 × 4 MiB = 4 GiB). Past the budget, a connection whose partial frame is over
 *   its fair share (`maxPartialBytes / maxConnections`, 256 KiB by default) stops being read until the
 *   budget frees (counted: lsp.budgetWaits); one that holds a partial frame that long still meets the
 *   idle timeout, which frees its bytes. A connection within its share — a shipper of ordinary batches —
 *   is never held back, so the frames of polite clients keep flowing while hostile ones wait. Bound:
 *   the held bytes stay under 2 × maxPartialBytes + 2 reads (64 KiB) per connection (the large holders
 *   pass the budget by at most one read each; the small ones hold at most their share and one read).
 *
 * It takes sockets from any server: `net.createServer(opts, rx.accept)`, or a TLS server's
 * 'secureConnection' event (day 13).
 */
import type net from 'node:net';
import { LsError } from './protocol/errors.ts';
import {
  encodeAck,
  encodeNack,
  encodePong,
  FrameDecoder,
  FrameType,
  parseHello,
  type Frame,
  type Hello,
} from './protocol/frame.ts';
import { DEFAULT_MAX_PAYLOAD_BYTES } from './protocol/limits.ts';
import type { Log } from './log.ts';
import type { ReceiverStats } from './stats.ts';
import { peerName } from './storage/rx.ts';

export interface LspConnection {
  readonly id: number;
  /** `host:port` of the peer */
  readonly peer: string;
  readonly socket: net.Socket;
  /** the last HELLO's payload on this connection (its `name`, …) */
  readonly hello: Hello | undefined;
  /** Sends ACK(stream, seq) soon: calls within one event-loop turn are merged (the highest seq wins). */
  ack(stream: number, seq: number): void;
  /** true once the connection is closing or closed: its ACKs go nowhere */
  readonly closed: boolean;
}

export interface LspHandlers {
  /**
   * A HELLO for `stream`: return the seq to answer with (the stream's durable HWM, 0 when none), or a
   * promise of it when the mark lives elsewhere (the JetStream sink asks the cluster); a rejected promise
   * closes the connection unanswered (the shipper backs off and tries again, maybe another receiver) —
   * unless it rejects with an LsError, which is a refusal: NACK with its code, then close. Throw an
   * LsError to refuse at once.
   */
  onHello(conn: LspConnection, stream: number, hello: Hello): number | Promise<number>;
  /**
   * A BATCH. Throw an LsError (e.g. from decodeBatch) for a fatal error: the connection gets a NACK with
   * its code and is closed. ACK later with `conn.ack()`, once what the batch carried is durable.
   */
  onBatch(conn: LspConnection, frame: Frame): void;
}

export interface LspReceiverOptions {
  handlers: LspHandlers;
  log: Log;
  stats: ReceiverStats;
  maxConnections: number;
  /** close a connection that completes no frame for this long */
  idleTimeoutMs: number;
  /** largest frame payload as sent; a header declaring more is a fatal LS_ERR_TOO_LARGE */
  maxPayloadBytes?: number;
  /** how long closeAll() waits for peers to close before destroying their sockets; default 500 ms */
  closeGraceMs?: number;
  /** bytes one connection may hand over per turn of the event loop before the others get theirs; default 128 KiB */
  maxBytesPerTurn?: number;
  /** bytes of partial frames held across all connections before the large holders wait (issue 18.5); default 256 MiB */
  maxPartialBytes?: number;
}

/** The default budget for partial frames across all connections (issue 18.5; --max-partial-bytes). */
export const DEFAULT_MAX_PARTIAL_BYTES = 256 << 20;

export interface LspCounters {
  hellos: number;
  batches: number;
  acks: number;
  pings: number;
  /** fatal errors answered with a NACK, by code */
  nacks: Record<string, number>;
  /** ACK/NACK/PONG frames a shipper should not send us (ignored) */
  unexpected: number;
  /** times a connection's reads were paused because the peer did not read our ACKs/PONGs */
  writeBlocked: number;
  /** times a connection used its share of a turn and waited for the next (maxBytesPerTurn) */
  yields: number;
  /** times a connection holding more than its share of partial-frame bytes was paused: the budget was spent (issue 18.5) */
  budgetWaits: number;
  /** bytes of partial frames held now, across all connections, and the most ever held (issue 18.5) */
  partialBytes: number;
  partialBytesPeak: number;
}

class Connection implements LspConnection {
  readonly decoder: FrameDecoder;
  hello: Hello | undefined;
  /** the stream of the last HELLO (0 before one): what a NACK names */
  stream = 0;
  lastFrameAt: number;
  closed = false;
  /**
   * Reading is paused because the peer does not read what we write (PONGs, ACKs): its socket's write
   * buffer passed the high-water mark. Resumed on 'drain'. Without this a client that sends PINGs and
   * never reads makes us queue PONGs without bound (a 28-byte frame in, ~300 bytes of heap out).
   */
  writeBlocked = false;
  /** bytes handed over in this turn of the event loop, and whether it waits for the next turn */
  turnBytes = 0;
  yielded = false;
  /** bytes of an incomplete frame this connection holds (counted in the receiver's partial-frame budget) */
  held = 0;
  /** paused until the partial-frame budget frees (issue 18.5) */
  budgetBlocked = false;
  /** HELLOs answered on this connection */
  hellos = 0;
  private readonly pendingAcks = new Map<number, number>();
  private ackScheduled = false;

  constructor(
    readonly id: number,
    readonly peer: string,
    readonly socket: net.Socket,
    maxPayloadBytes: number,
    now: number,
    private readonly counters: LspCounters,
  ) {
    this.decoder = new FrameDecoder({ maxPayloadBytes });
    this.lastFrameAt = now;
  }

  ack(stream: number, seq: number): void {
    if (this.closed) return;
    const prev = this.pendingAcks.get(stream);
    if (prev === undefined || seq > prev) this.pendingAcks.set(stream, seq);
    if (!this.ackScheduled) {
      this.ackScheduled = true;
      setImmediate(this.flushAcks);
    }
  }

  /** Writes the queued ACKs (one per stream). */
  readonly flushAcks = (): void => {
    this.ackScheduled = false;
    if (this.pendingAcks.size === 0) return;
    if (!this.closed && this.socket.writable) {
      for (const [stream, seq] of this.pendingAcks) {
        // ACK frames are 28 bytes and bounded by the batches the peer sent: no need to wait for 'drain'.
        this.socket.write(encodeAck(stream, seq));
        this.counters.acks++;
      }
    }
    this.pendingAcks.clear();
  };
}

export class LspReceiver {
  readonly counters: LspCounters = {
    hellos: 0,
    batches: 0,
    acks: 0,
    pings: 0,
    nacks: {},
    unexpected: 0,
    writeBlocked: 0,
    yields: 0,
    budgetWaits: 0,
    partialBytes: 0,
    partialBytesPeak: 0,
  };
  private readonly connections = new Set<Connection>();
  private readonly maxPayloadBytes: number;
  private readonly maxBytesPerTurn: number;
  private readonly maxPartialBytes: number;
  /** a connection holding at most this much of a partial frame is never paused for the budget */
  private readonly partialShare: number;
  /** connections paused for the partial-frame budget, resumed once it frees */
  private readonly budgetWaiters = new Set<Connection>();
  /** when the last "partial-frame budget spent" line was logged (at most one a second) */
  private budgetLoggedAt = 0;
  private nextId = 1;
  private now = Date.now();
  private reading = true;
  private paused = false;
  private readonly sweep: NodeJS.Timeout;
  /** reused for every push: the frames one chunk completes */
  private readonly frames: Frame[] = [];

  constructor(private readonly opts: LspReceiverOptions) {
    this.maxPayloadBytes = opts.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    this.maxBytesPerTurn = opts.maxBytesPerTurn ?? 128 << 10;
    this.maxPartialBytes = opts.maxPartialBytes ?? DEFAULT_MAX_PARTIAL_BYTES;
    this.partialShare = Math.floor(this.maxPartialBytes / Math.max(1, opts.maxConnections));
    const every = Math.max(5, Math.min(1000, Math.floor(opts.idleTimeoutMs / 10)));
    this.sweep = setInterval(() => this.cutIdle(), every);
    this.sweep.unref();
  }

  /** open connections */
  get size(): number {
    return this.connections.size;
  }

  /** The connection listener: `net.createServer({ noDelay: true }, receiver.accept)`. */
  readonly accept = (socket: net.Socket): void => {
    const { stats, log } = this.opts;
    const peer = peerName(socket.remoteAddress, socket.remotePort);
    if (!this.reading || this.connections.size >= this.opts.maxConnections) {
      stats.connections.refused++;
      log.warn('connection refused: limit reached', {
        peer,
        limit: this.opts.maxConnections,
        open: this.connections.size,
      });
      socket.destroy();
      return;
    }
    const conn = new Connection(
      this.nextId++,
      peer,
      socket,
      this.maxPayloadBytes,
      (this.now = Date.now()),
      this.counters,
    );
    this.connections.add(conn);
    stats.connections.open++;
    stats.connections.total++;
    log.debug('connection opened', { peer, id: conn.id });
    if (this.paused) socket.pause();

    socket.on('data', (chunk: Buffer) => this.onData(conn, chunk));
    socket.on('error', (err) => {
      stats.connections.errors++;
      log.debug('connection error', { peer, error: err.message });
    });
    socket.on('close', () => {
      conn.closed = true;
      this.connections.delete(conn);
      this.budgetWaiters.delete(conn);
      if (conn.held > 0) {
        // its partial frame is gone: the budget frees
        this.counters.partialBytes -= conn.held;
        conn.held = 0;
        this.releaseBudget();
      }
      stats.connections.open--;
      log.debug('connection closed', { peer, id: conn.id });
    });
  };

  private onData(conn: Connection, chunk: Buffer): void {
    if (conn.closed || !this.reading) return;
    this.opts.stats.bytes.wire += chunk.length;
    this.now = Date.now();
    const frames = this.frames;
    frames.length = 0;
    let failure: unknown;
    try {
      conn.decoder.push(chunk, frames);
    } catch (err) {
      failure = err; // the frames decoded before the bad one are still handled, in order
    }
    try {
      for (let i = 0; i < frames.length && !conn.closed; i++) this.onFrame(conn, frames[i]!);
    } catch (err) {
      failure = err;
    }
    frames.length = 0;
    this.holdPartial(conn);
    if (failure !== undefined && !conn.closed) this.fail(conn, failure);
    else if (!conn.closed && conn.socket.writableNeedDrain) this.blockReads(conn);
    else if (!conn.closed && (conn.turnBytes += chunk.length) >= this.maxBytesPerTurn) this.yieldTurn(conn);
  }

  /**
   * The partial-frame budget (issue 18.5): account what `conn` holds of an incomplete frame now; past the
   * budget, a connection over its share waits (paused) until the budget frees.
   */
  private holdPartial(conn: Connection): void {
    const held = conn.closed ? 0 : conn.decoder.bufferedBytes;
    const c = this.counters;
    const delta = held - conn.held;
    if (delta === 0) return;
    conn.held = held;
    c.partialBytes += delta;
    if (delta < 0) {
      this.releaseBudget();
      return;
    }
    if (c.partialBytes > c.partialBytesPeak) c.partialBytesPeak = c.partialBytes;
    if (c.partialBytes <= this.maxPartialBytes || held <= this.partialShare || conn.budgetBlocked) return;
    conn.budgetBlocked = true;
    this.budgetWaiters.add(conn);
    c.budgetWaits++;
    conn.socket.pause();
    if (this.now - this.budgetLoggedAt >= 1000) {
      this.budgetLoggedAt = this.now;
      this.opts.log.warn('partial-frame budget spent: connections holding large partial frames wait', {
        peer: conn.peer,
        held: c.partialBytes,
        budget: this.maxPartialBytes,
        waiting: this.budgetWaiters.size,
      });
    }
  }

  /** The budget freed (a frame completed, a connection closed): every waiter may read again. */
  private releaseBudget(): void {
    if (this.budgetWaiters.size === 0 || this.counters.partialBytes > this.maxPartialBytes) return;
    for (const conn of this.budgetWaiters) {
      conn.budgetBlocked = false;
      if (this.readable(conn)) conn.socket.resume();
    }
    this.budgetWaiters.clear();
  }

  /** Nothing holds `conn` back: not the sink, its own replies, its share of the turn, or the budget. */
  private readable(conn: Connection): boolean {
    return !this.paused && this.reading && !conn.closed && !conn.writeBlocked && !conn.yielded && !conn.budgetBlocked;
  }

  /** Its share of this turn is used: the next turn, after every other ready connection was read (issue 17.3). */
  private yieldTurn(conn: Connection): void {
    if (conn.yielded) return;
    conn.yielded = true;
    this.counters.yields++;
    conn.socket.pause();
    setImmediate(() => {
      conn.yielded = false;
      conn.turnBytes = 0;
      if (this.readable(conn)) conn.socket.resume();
    });
  }

  /** The peer is not reading our replies: stop reading its frames until they drain (shared/protocol/README.md §5, bounded queues). */
  private blockReads(conn: Connection): void {
    if (conn.writeBlocked) return;
    conn.writeBlocked = true;
    this.counters.writeBlocked++;
    conn.socket.pause();
    conn.socket.once('drain', () => {
      conn.writeBlocked = false;
      if (this.readable(conn)) conn.socket.resume();
    });
  }

  private onFrame(conn: Connection, frame: Frame): void {
    conn.lastFrameAt = this.now;
    switch (frame.type) {
      case FrameType.BATCH:
        this.counters.batches++;
        this.opts.handlers.onBatch(conn, frame);
        return;
      case FrameType.HELLO: {
        const hello = parseHello(frame);
        conn.hello = hello;
        conn.stream = frame.stream;
        this.counters.hellos++;
        const answer = (seq: number): void => {
          if (conn.closed) return;
          conn.socket.write(encodeAck(frame.stream, seq));
          this.counters.acks++;
          // A connection's first HELLO at info, any further ones at debug: a client naming a million
          // streams on one connection must not write a million log lines (issue 18.5).
          const fields = { peer: conn.peer, name: hello.name, stream: frame.stream, ack: seq };
          if (conn.hellos++ === 0) this.opts.log.info('HELLO', fields);
          else this.opts.log.debug('HELLO', fields);
        };
        const seq = this.opts.handlers.onHello(conn, frame.stream, hello);
        if (typeof seq === 'number') answer(seq);
        else
          seq.then(answer, (err: unknown) => {
            // refused after a look elsewhere (e.g. the stream's owner, asked of a cluster): NACK + close
            if (err instanceof LsError) {
              if (!conn.closed) this.fail(conn, err);
              return;
            }
            this.opts.log.warn('HELLO not answered: the durable mark is unknown; closing the connection', {
              peer: conn.peer,
              stream: frame.stream,
              error: String(err),
            });
            conn.closed = true;
            conn.socket.destroy();
          });
        return;
      }
      case FrameType.PING:
        this.counters.pings++;
        conn.socket.write(encodePong(frame.seq));
        return;
      default:
        // ACK, NACK and PONG travel receiver → shipper; one coming our way is odd but harmless.
        this.counters.unexpected++;
        this.opts.log.debug('unexpected frame ignored', { peer: conn.peer, type: FrameType[frame.type] });
    }
  }

  /** A fatal error on one connection: NACK {code, message}, then close it; the others carry on. */
  private fail(conn: Connection, err: unknown): void {
    const { log } = this.opts;
    conn.closed = true;
    if (!(err instanceof LsError)) {
      // Not the peer's fault (a bug, or the sink failed): close without blaming the peer.
      log.error('connection closed: internal error', { peer: conn.peer, error: String(err) });
      conn.socket.destroy();
      return;
    }
    this.counters.nacks[err.code] = (this.counters.nacks[err.code] ?? 0) + 1;
    log.warn('fatal frame error: NACK and close', {
      peer: conn.peer,
      code: err.code,
      offset: err.offset,
      error: err.message,
    });
    conn.socket.end(encodeNack(conn.stream, err.code, err.message));
    // A peer that never closes its side must not hold the socket open.
    setTimeout(() => conn.socket.destroy(), 1000).unref();
  }

  private cutIdle(): void {
    this.now = Date.now();
    for (const conn of this.connections) {
      if (conn.closed || this.now - conn.lastFrameAt < this.opts.idleTimeoutMs) continue;
      this.opts.stats.connections.idleTimeouts++;
      this.opts.log.info('idle connection cut', { peer: conn.peer, idleMs: this.now - conn.lastFrameAt });
      conn.closed = true;
      conn.socket.destroy();
    }
  }

  /** Backpressure: stop reading every socket (the sink is behind); TCP then slows the senders. */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    for (const c of this.connections) c.socket.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (!this.reading) return;
    for (const c of this.connections) if (this.readable(c)) c.socket.resume();
  }

  /**
   * Shutdown, step 1: frames that have not arrived yet are left alone (never ACKed, so the shipper sends
   * them again). Sockets keep being read (and the bytes dropped) so a peer's FIN is still seen.
   */
  stopReading(): void {
    this.reading = false;
    clearInterval(this.sweep);
    for (const c of this.connections) c.socket.resume();
  }

  /** Writes every queued ACK now (shutdown, after the sink's final fsync). */
  flushAcks(): void {
    for (const c of this.connections) c.flushAcks();
  }

  /** Shutdown, last step: end every connection; destroy the ones still open after the grace period. */
  async closeAll(): Promise<void> {
    this.flushAcks();
    if (this.connections.size === 0) return;
    const closed = [...this.connections].map(
      (c) =>
        new Promise<void>((resolve) => {
          c.socket.once('close', () => resolve());
          c.closed = true;
          c.socket.end();
        }),
    );
    const grace = new Promise<void>((resolve) => setTimeout(resolve, this.opts.closeGraceMs ?? 500).unref());
    await Promise.race([Promise.all(closed), grace]);
    for (const c of this.connections) c.socket.destroy();
  }
}
