/**
 * Day 09 — the storing half of an acknowledging LSP/1 receiver (shared/protocol/README.md §4, §7): the day's receiver rules,
 * in one place. lessons/day09/receiver.ts wires it to the connection machinery (shared/lsp-receiver.ts);
 * days 11–14 and the scale-out receiver use it as it is.
 *
 *   HELLO(stream)  → the stream's DURABLE high-water mark (0 when never seen)                     [d09.2]
 *   BATCH(seq, n)  → decode (bounded), then DEDUP against the ACCEPTED mark: seq ≤ mark was seen before,
 *                    counted and not written; a first seq past mark + 1 is a GAP (the shipper dropped
 *                    records on purpose): counted, accepted                            [d09.3, d09.4, d09.7]
 *                  → invalid records to rejects.ndjson (delivered), the rest stamped with _rx and appended
 *                    in one write (the plumbing below: validate, stamp, append)
 *                  → the ACK goes out once the sink says those bytes are durable: one fsync covers every
 *                    batch appended since the last one (group commit)                                [d09.4]
 *   marks          recovered from disk at start (lessons/day09/hwm-store.ts), so kill -9 loses nothing
 *                  that was ACKed                                                                    [d09.4]
 *   owners         the first identity to write a stream owns it (lessons/day09/stream-owners.ts): a HELLO
 *                  binds a stream nobody owns (durably, before any ACK of it); a HELLO or BATCH for a
 *                  stream another identity owns is refused (LS_ERR_STREAM_OWNED), and so is a BATCH before
 *                  its stream's HELLO on the connection (LS_ERR_HELLO_REQUIRED): NACK + close, counted in
 *                  stats.json → ownership.refused. Identity: the `identityOf` hook (day 13: the verified
 *                  client certificate subject), else the HELLO's name (a claim: guards against accidents).
 *
 * Two marks per stream (StreamMarks): `accepted` — what dedup compares against, raised as soon as a batch
 * is appended — and `durable` — what ACK and HELLO report, raised once the sink made it durable.
 *
 * A DurableStore (optional) replaces the records files as the place where records become durable: the
 * scale-out lesson's JetStream sink (lessons/scale/jetstream/sink.ts) is one. Then "durable" means "the
 * store acknowledged it", a HELLO asks the store for its mark (so every receiver in front of it answers
 * the same), the ACK waits for the store, and a failed store closes the connection unACKed. rejects.ndjson
 * and stats.json stay local.
 *
 * Hooks for the lessons that build on day 09 (all optional, AckedIngestOptions):
 *   decode(frame)        the BATCH's records (day 12: its codec table, inflated within a bound, measured);
 *                        throw an LsError for a fatal payload (NACK + close). Default: decodeBatch.
 *   rxExtra(conn)        extra `_rx` fields for every record of a connection (day 13: the mTLS identity).
 *   checkHello(conn, stream, hello)  throw an LsError to refuse a HELLO (NACK + close); return to accept.
 *   identityOf(conn)     who writes on `conn`, verified (day 13 --mtls: the client certificate subject); the
 *                        identity that owns streams. Default (or undefined): the HELLO's name, a mere claim.
 *   fileSink             extra FileSink options (day 12: compression of rotated files at rest).
 *
 * Usage (with shared/lsp-receiver.ts):
 *   const ingest = await AckedIngest.open({ dataDir, fsync, …, stats, log, lane });
 *   const rx = new LspReceiver({ handlers: ingest.handlers, … });
 *   ingest.attach(rx);                       // sink backpressure pauses/resumes the sockets
 *   …on SIGTERM: await ingest.shutdown(rx);  // stop reading, fsync, final ACKs, checkpoint
 */
import type { Log } from '../../shared/log.ts';
import { HwmStore, type RecoveryReport, type StreamMarks } from './hwm-store.ts';
import { OwnersFile, StoreOwners, type OwnerBinding, type StreamOwners } from './stream-owners.ts';
import { LS_ERR, LsError } from '../../shared/protocol/errors.ts';
import type { LspConnection, LspHandlers, LspReceiver } from '../../shared/lsp-receiver.ts';
import { decodeBatch } from '../../shared/protocol/batch.ts';
import type { Frame, Hello } from '../../shared/protocol/frame.ts';
import { DEFAULT_MAX_DECODED_BYTES, DEFAULT_MAX_RECORD_BYTES } from '../../shared/protocol/limits.ts';
import { validateBatch, type BatchVerdicts, type Rejection } from '../day08/validate.ts';
import { ParsePool } from '../../shared/parse-pool.ts';
import { FileSink, type FileSinkOptions, type FsyncPolicy } from '../../shared/storage/file-sink.ts';
import { storageLimits, type StorageLimits } from '../../shared/storage/limits.ts';
import { RxWriter } from '../../shared/storage/rx.ts';
import type { ReceiverStats } from '../../shared/stats.ts';

/**
 * Somewhere other than the records files where records become durable (the scale-out lesson's JetStream
 * sink satisfies it). Per LSP/1 stream, what it holds is always a prefix of the seqs: that is what lets a
 * HELLO ask it for the mark.
 */
export interface DurableStore {
  /** the largest message `publish` takes: a bigger batch goes as several, in order */
  readonly maxMessageBytes: number;
  /** the highest seq of `stream` it holds, with everything before it (0 when none): a HELLO's answer */
  durableMark(stream: number): Promise<number>;
  /**
   * Stores `data` (stamped records of `stream`, or nothing) as settling seqs first..last, after everything
   * published before for that stream. Resolves once that and everything before it is durable; rejects when
   * it is not stored (and every later publish of the stream rejects until the next durableMark).
   */
  publish(stream: number, data: Buffer | undefined, first: number, last: number): Promise<void>;
  /**
   * Who may write a stream, kept where every receiver in front of the store sees it (issue 17): binds
   * `stream` to `identity` unless it has an owner, resolving to the owner once that is durable. Without
   * it the owners live in the data dir's stream-owners.json (this receiver only).
   */
  bindOwner?: OwnerBinding['bindOwner'];
  close(): Promise<void>;
}

/** FileSink options a later lesson may add (day 12: compression at rest); the rest come from AckedIngestOptions. */
export type ExtraSinkOptions = Omit<FileSinkOptions, 'dir' | 'fsync' | 'fsyncIntervalMs' | 'rotateBytes'>;

export interface AckedIngestOptions extends StorageLimits {
  dataDir: string;
  fsync: FsyncPolicy;
  fsyncIntervalMs: number;
  rotateBytes: number;
  /** written in _rx.lane */
  lane: string;
  stats: ReceiverStats;
  log: Log;
  maxDecodedBytes?: number;
  maxRecordBytes?: number;
  checkpointIntervalMs?: number;
  /** store records there instead of the records files (ACK = its acknowledgment); the marks then live there */
  store?: DurableStore | undefined;
  /** the BATCH's records; throw an LsError for a fatal payload (NACK + close). Default: decodeBatch within maxDecodedBytes */
  decode?: (frame: Frame) => Buffer[];
  /** extra `_rx` fields (after lane) for every record that arrives on `conn`, or undefined for none */
  rxExtra?: (conn: LspConnection) => Record<string, unknown> | undefined;
  /** called before a HELLO is answered: throw an LsError to refuse it (NACK + close) */
  checkHello?: (conn: LspConnection, stream: number, hello: Hello) => void;
  /**
   * The verified identity of whoever writes on `conn` (day 13 --mtls: the client certificate's subject):
   * the first identity to write a stream owns it. undefined (or no hook): the HELLO's name, a claim anyone
   * can repeat — a guard against accidents, not attackers.
   */
  identityOf?: (conn: LspConnection) => string | undefined;
  /** more FileSink options (e.g. compressRotated) */
  fileSink?: ExtraSinkOptions;
  /** streams whose marks and owners are held in memory at most; idle ones past it are evicted to disk (issue 18.5). Default: DEFAULT_MAX_STREAMS */
  maxStreams?: number;
  /**
   * worker threads that validate BATCH payloads (issue 21.2; --parse-threads): 0 or absent = on this thread.
   * With workers, batches are still deduplicated, stored and ACKed one at a time in the order they arrived.
   */
  parseThreads?: number;
}

/** Streams held in memory when the receiver names no bound (--max-streams; issue 18.5). */
export const DEFAULT_MAX_STREAMS = 100_000;

/** Streams one connection may hold at once (issue 18.5): a HELLO past it lets go of the connection's oldest. */
export const MAX_STREAMS_PER_CONNECTION = 64;

/** The marks AckedIngest works with: HwmStore (the records files) or MemoryMarks (a DurableStore holds the truth). */
export interface MarkStore {
  get(stream: number): StreamMarks;
  markDurable(m: StreamMarks, seq: number): void;
  close(): Promise<void>;
  /** a connection will write `stream`: keep it in memory (a promise when it must be read back from disk first; issue 18.5) */
  acquire?(stream: number): Promise<void> | undefined;
  /** that connection is done with `stream` */
  release?(stream: number): void;
}

/** Marks kept in memory only: with a DurableStore a HELLO reads them back from the store. */
export class MemoryMarks implements MarkStore {
  private readonly marks = new Map<number, StreamMarks>();
  constructor(private readonly stats: ReceiverStats) {}
  get(stream: number): StreamMarks {
    let m = this.marks.get(stream);
    if (m === undefined) {
      m = { id: stream, accepted: 0, durable: 0, stats: this.stats.stream(stream) };
      this.marks.set(stream, m);
    }
    return m;
  }
  markDurable(m: StreamMarks, seq: number): void {
    if (seq > m.durable) {
      m.durable = seq;
      m.stats.hwm = seq;
    }
  }
  async close(): Promise<void> {}
}

/** What the BATCH frames looked like (how well the shippers batch). */
export interface BatchCounters {
  frames: number;
  records: number;
  /** frames by codec id */
  codecs: Record<string, number>;
}

/** stats.json → ownership: streams with an owner, and writes refused by reason (issue 17). */
export interface OwnershipCounters {
  readonly streams: number;
  refused: { stream_owned: number; hello_required: number };
}

/** A BATCH with the parse workers: stored once it and every batch before it have their verdicts. */
interface InFlight {
  conn: LspConnection;
  frame: Frame;
  lines: Buffer[];
  done: boolean;
  verdicts?: BatchVerdicts | undefined;
  error?: unknown;
}

/** Bytes with the parse workers past which reads pause (about 40 batches of 1000 records). */
const PARSE_HIGH_WATER = 8 << 20;

export class AckedIngest {
  readonly batches: BatchCounters = { frames: 0, records: 0, codecs: {} };
  readonly ownership: OwnershipCounters;
  /** the streams each connection may write: those whose HELLO it sent and that were granted */
  private readonly grants = new WeakMap<LspConnection, Set<number>>();
  /** at most one log line per refusal reason per second (a refusing flood must not flood the log) */
  private readonly refusalLog = new Map<string, { at: number; suppressed: number }>();
  /** (small to start: take() hands the buffer to the sink and allocates max(this, last batch) afresh; 256 KiB per small batch is mostly GC) */
  private readonly out = new RxWriter(2048);
  private rx: LspReceiver | undefined;
  private readonly maxDecodedBytes: number;
  private readonly maxRecordBytes: number;
  /** with a DurableStore: the promise of the last append (what whenStored() hands out next) */
  private storing: Promise<void> | undefined;
  /** parse workers (--parse-threads > 0), the batches they hold in arrival order, and stats.json → parse */
  private pool: ParsePool<Rejection> | undefined;
  private readonly inFlight: InFlight[] = [];
  private readonly parsedWaiters: Array<() => void> = [];
  /** reads are paused because the workers hold more than PARSE_HIGH_WATER bytes */
  private parseHeld = false;
  readonly parse = { threads: 0, batches: 0, dropped: 0 };

  private constructor(
    private readonly opts: AckedIngestOptions,
    readonly sink: FileSink,
    readonly hwm: MarkStore,
    readonly owners: StreamOwners,
  ) {
    this.maxDecodedBytes = opts.maxDecodedBytes ?? DEFAULT_MAX_DECODED_BYTES;
    this.maxRecordBytes = opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    this.ownership = {
      get streams() {
        return owners.size;
      },
      refused: { stream_owned: 0, hello_required: 0 },
    };
    opts.stats.extra.ownership = this.ownership;
  }

  static async open(opts: AckedIngestOptions): Promise<AckedIngest> {
    const ingest = await AckedIngest.openStorage(opts);
    const threads = opts.parseThreads ?? 0;
    opts.stats.extra.parse = ingest.parse;
    if (threads > 0) {
      // day 08's validateBatch, run by the workers (shared/ names no lesson: we tell it the module)
      ingest.pool = await ParsePool.start<Rejection>({
        threads,
        module: new URL('../day08/validate.ts', import.meta.url).href,
        fn: 'validateBatch',
        args: [ingest.maxRecordBytes],
        onFailure: (err) =>
          opts.log.error('parse worker died: the batches it held are not stored and their connections are closed', {
            error: err.message,
          }),
      });
      ingest.parse.threads = threads;
    }
    return ingest;
  }

  private static async openStorage(opts: AckedIngestOptions): Promise<AckedIngest> {
    const sink = await FileSink.open({
      ...opts.fileSink,
      dir: opts.dataDir,
      fsync: opts.fsync,
      fsyncIntervalMs: opts.fsyncIntervalMs,
      rotateBytes: opts.rotateBytes,
      ...storageLimits(opts), // issue 18.4: rejects sampled, retention
    });
    sink.on('error', (err: Error) => opts.log.error('sink failed: nothing more is ACKed', { error: err.message }));
    const store = opts.store;
    if (store) {
      // the owners live in the store when it keeps them (every receiver in front of it agrees), else here
      const owners = store.bindOwner
        ? new StoreOwners({ bindOwner: store.bindOwner.bind(store) })
        : await OwnersFile.open(opts.dataDir, { maxCached: opts.maxStreams ?? DEFAULT_MAX_STREAMS });
      return new AckedIngest(opts, sink, new MemoryMarks(opts.stats), owners);
    }
    // [d09.4] the marks come back from disk: the checkpoint plus whatever was written after it
    const hwm = await HwmStore.open({
      dir: opts.dataDir,
      sink,
      stats: opts.stats,
      checkpointIntervalMs: opts.checkpointIntervalMs ?? 1000,
      maxStreams: opts.maxStreams ?? DEFAULT_MAX_STREAMS,
      onError: (err) => opts.log.warn('HWM checkpoint failed (the next one retries)', { error: err.message }),
    });
    const owners = await OwnersFile.open(opts.dataDir, { maxCached: opts.maxStreams ?? DEFAULT_MAX_STREAMS }); // who may write each stream
    opts.stats.extra.tracking = hwm.tracking; // streams in memory, evicted, read back (issue 18.5)
    opts.log.info('high-water marks recovered', { ...hwm.recovery, owners: owners.size });
    return new AckedIngest(opts, sink, hwm, owners);
  }

  /** The handlers for LspReceiver. */
  get handlers(): LspHandlers {
    return { onHello: this.onHello, onBatch: this.onBatch };
  }

  /** How the marks were recovered at start (undefined with a DurableStore). */
  get recovery(): RecoveryReport | undefined {
    return this.hwm instanceof HwmStore ? this.hwm.recovery : undefined;
  }

  /** Sink backpressure pauses every socket of `rx` and resumes them once the sink drained. */
  attach(rx: LspReceiver): void {
    this.rx = rx;
    this.sink.on('drain', () => {
      if (!this.parseHeld) rx.resume();
    });
  }

  // ---- 1. HELLO: tell the shipper where to resume ------------------------------------------------
  readonly onHello = (conn: LspConnection, stream: number, hello: Hello): number | Promise<number> => {
    this.opts.checkHello?.(conn, stream, hello);
    // Only the stream's owner may write it (the plumbing below: refused, or bound before this answer).
    return this.admit(conn, stream, hello, () => {
      const store = this.opts.store;
      if (store) return this.markFromStore(store, stream);
      // @solution [d09.2] answer a HELLO with the stream's highest DURABLE seq (0 for a stream never seen)
      // @stub return 0;
      return this.hwm.get(stream).durable;
      // @end-solution
    });
  };

  // ---- 2. BATCH: dedup and gaps, store, 3. ACK once durable ---------------------------------------
  readonly onBatch = (conn: LspConnection, frame: Frame): void => {
    const stats = this.opts.stats;
    // Every write has an identity, and only the owner writes a stream: else NACK + close (the plumbing below).
    if (this.grants.get(conn)?.has(frame.stream) !== true) this.refuseBatch(conn, frame.stream);
    // A payload that does not decode, or whose record count is wrong, throws an LsError: NACK + close. [d09.9]
    const lines = this.opts.decode
      ? this.opts.decode(frame)
      : decodeBatch(frame, { maxDecodedBytes: this.maxDecodedBytes });
    stats.records.received += lines.length;
    this.countBatch(frame, lines);
    // With parse workers, its lines are validated there and the batch is stored when its turn comes (below).
    if (this.pool) this.validateElsewhere(conn, frame, lines);
    else this.storeBatch(conn, frame, lines, undefined);
  };

  /** Dedup, then store what is new (validated here, or `verdicts` from a parse worker), then ACK once durable. */
  private storeBatch(conn: LspConnection, frame: Frame, lines: Buffer[], verdicts: BatchVerdicts | undefined): void {
    const stats = this.opts.stats;
    const count = lines.length;
    const stream = frame.stream;
    const marks = this.hwm.get(stream);

    // @solution [d09.3, d09.4, d09.7] dedup against the accepted mark (count the copies, write only what is new); a first seq past mark + 1 is a gap (count the missing seqs)
    // @stub const first = 0;
    /** index of the first record not seen before */
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
      this.opts.log.info('gap: seqs skipped by the shipper', {
        stream,
        from: marks.accepted + 1,
        to: frame.seq - 1,
        missing,
      });
    }
    // @end-solution

    // Validate, stamp _rx, append records[first..] in one write; raises marks.accepted to the batch's last seq.
    this.append(conn, marks, frame.seq, lines, first, verdicts);

    // @solution [d09.4] ACK only once everything up to the accepted mark is durable (group commit: many batches, one fsync), then raise the durable mark
    // @stub conn.ack(stream, marks.accepted);
    // `upTo` is captured now: the ticket covers exactly what was appended so far, duplicates' originals included.
    const upTo = marks.accepted;
    this.whenStored().then(
      () => {
        this.hwm.markDurable(marks, upTo);
        conn.ack(stream, marks.durable);
      },
      () => this.notStored(conn, marks),
    );
    // @end-solution
  }

  /** SIGTERM: stop reading, flush + fsync, send the final ACKs, close every connection, last checkpoint. */
  async shutdown(rx: LspReceiver): Promise<void> {
    rx.stopReading(); // frames not yet in are never ACKed: the shipper sends them again
    await this.parsed(); // the batches in with the parse workers are stored first
    await this.pool?.stop();
    await this.opts.store?.close();
    await this.sink.close(); // flush + fsync: every batch we appended is durable now…
    await new Promise((r) => setImmediate(r)); // …its whenDurable callbacks have queued their ACKs…
    await rx.closeAll(); // …which go out before we close
    await this.hwm.close();
    await this.owners.close();
  }

  // ---- the plumbing the steps above use ----------------------------------------------------------

  /**
   * Resolves once everything appended so far is durable — the records files: the sink's fsync (one fsync
   * covers every batch appended before it); a DurableStore: its acknowledgment of this stream's last
   * publish. Rejects when it never will be (the sink failed, the store refused): then never ACK.
   */
  whenStored(): Promise<void> {
    const p = this.storing;
    this.storing = undefined;
    return p ?? this.sink.whenDurable(this.sink.position);
  }

  /** Not stored, so never ACKed: forget it was accepted and close; the shipper resends after its next HELLO. */
  notStored(conn: LspConnection, marks: StreamMarks): void {
    marks.accepted = marks.durable;
    conn.socket.destroy();
  }

  /** Validates lines[first..], stamps the valid ones with _rx, appends them in one write, rejects the rest. */
  private append(
    conn: LspConnection,
    marks: StreamMarks,
    seq: number,
    lines: Buffer[],
    first: number,
    validated: BatchVerdicts | undefined,
  ): void {
    const { stats } = this.opts;
    const { sink, out } = this;
    const count = lines.length;
    const stream = marks.id;
    const store = this.opts.store;
    let pending: Promise<void> | undefined;
    let rejected = 0;
    if (first < count) {
      let chunkFirst = seq + first;
      // a store's message has a size limit: a large batch goes as several (in order, one after another)
      const cut = store ? Math.max(4096, store.maxMessageBytes - this.maxRecordBytes - 4096) : Infinity;
      const extra = this.opts.rxExtra?.(conn);
      out.context({ ts: new Date().toISOString(), peer: conn.peer, lane: this.opts.lane, ...(extra ? { extra } : {}) });
      // The whole batch at once (day 08's validateBatch): the same answers as validateRecord, line by line.
      // (or on a parse worker: `validated`, the same function's answers for every line)
      const verdicts = validated ?? validateBatch(lines, first, this.maxRecordBytes);
      for (let i = first; i < count; i++) {
        const line = lines[i]!;
        const v = verdicts[i];
        if (v === undefined) out.addSeq(line, stream, seq + i);
        else {
          // An invalid record is not fatal: it goes to rejects.ndjson with its seq and counts as delivered.
          rejected++;
          stats.reject(v.reason);
          sink.reject({ peer: conn.peer, reason: v.reason, stream, seq: seq + i, sample: line });
        }
        if (out.length >= cut) {
          stats.records.persisted += out.count;
          pending = store!.publish(stream, out.take(), chunkFirst, seq + i);
          chunkFirst = seq + i + 1;
        }
      }
      marks.stats.received += count - first;
      marks.accepted = seq + count - 1;
      const persisted = out.count;
      const bytes = out.take();
      stats.records.persisted += persisted;
      if (store) pending = store.publish(stream, bytes, chunkFirst, marks.accepted);
      else if (bytes) {
        sink.append(bytes);
        if (sink.overHighWater) this.rx?.pause(); // the disk is behind: stop reading, TCP slows the shippers
      }
    }
    if (store) {
      // durable = the store acknowledged this (and everything before it of this stream); rejects are local files
      const published = pending ?? store.publish(stream, undefined, marks.accepted, marks.accepted);
      this.storing =
        rejected > 0 ? Promise.all([published, sink.whenDurable(sink.position)]).then(() => undefined) : published;
    }
    // A stream bound a moment ago (its BATCH came right behind its HELLO): no ACK before the binding is on disk.
    const bound = this.owners.whenBound(stream);
    if (bound)
      this.storing = Promise.all([bound, this.storing ?? sink.whenDurable(sink.position)]).then(() => undefined);
  }

  // ---- parse workers (issue 21.2): validation off this thread, batches stored in arrival order -------

  /** Hands the lines to a parse worker; the batch is stored when it and every batch before it are validated. */
  private validateElsewhere(conn: LspConnection, frame: Frame, lines: Buffer[]): void {
    const pool = this.pool!;
    const batch: InFlight = { conn, frame, lines, done: false };
    this.inFlight.push(batch);
    this.parse.batches++;
    // decodeBatch's lines are views of an uncompressed payload: the workers get one copy of it
    const span = this.opts.decode === undefined && frame.codec === 0 ? frame.payload : undefined;
    pool.run(lines, span).then(
      (verdicts) => this.validated(batch, verdicts, undefined),
      (err: unknown) => this.validated(batch, undefined, err),
    );
    // the workers are behind: stop reading until they catch up (TCP slows the shippers)
    if (pool.pendingBytes > PARSE_HIGH_WATER && !this.parseHeld) {
      this.parseHeld = true;
      this.rx?.pause();
    }
  }

  private validated(batch: InFlight, verdicts: BatchVerdicts | undefined, error: unknown): void {
    batch.done = true;
    batch.verdicts = verdicts;
    batch.error = error;
    // Store from the head while its answer is in: the same order as without workers (dedup, marks, ACKs).
    while (this.inFlight[0]?.done) {
      const b = this.inFlight.shift()!;
      const { conn } = b;
      if (b.error === undefined && !conn.closed && this.grants.get(conn)?.has(b.frame.stream) === true) {
        try {
          this.storeBatch(conn, b.frame, b.lines, b.verdicts);
          continue;
        } catch (err) {
          b.error = err;
        }
      }
      // Not stored, so never ACKed: the shipper sends it again after its next HELLO. A batch of a connection
      // that is gone is simply dropped; a failure closes the connection (so its later batches are dropped too).
      this.parse.dropped++;
      if (b.error !== undefined && !conn.closed) {
        this.opts.log.error('batch not stored: closing the connection unACKed', {
          peer: conn.peer,
          stream: b.frame.stream,
          seq: b.frame.seq,
          error: b.error instanceof Error ? b.error.message : JSON.stringify(b.error),
        });
      }
      conn.socket.destroy();
    }
    if (this.parseHeld && this.pool!.pendingBytes < PARSE_HIGH_WATER / 2) {
      this.parseHeld = false;
      if (!this.sink.overHighWater) this.rx?.resume();
    }
    if (this.inFlight.length === 0) for (const done of this.parsedWaiters.splice(0)) done();
  }

  /** Resolves once every batch handed to the parse workers is stored (or dropped). */
  private parsed(): Promise<void> {
    if (this.inFlight.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.parsedWaiters.push(resolve));
  }

  // ---- who may write a stream (issue 17; lessons/day09/stream-owners.ts) -----------------------------

  /** Who writes on `conn`: the verified identity (day 13 --mtls) or, failing that, the HELLO's name (a claim). */
  private identity(conn: LspConnection, hello: Hello): string {
    const verified = this.opts.identityOf?.(conn);
    return verified !== undefined ? `cert:${verified}` : `name:${hello.name}`;
  }

  /**
   * A HELLO: the stream's owner (binding it to this identity when it has none) decides. Another owner: NACK
   * LS_ERR_STREAM_OWNED. Else the connection may write the stream, and `answer` gives the HELLO's ACK once
   * a new binding is durable (it is the stream's first ACK).
   */
  private admit(
    conn: LspConnection,
    stream: number,
    hello: Hello,
    answer: () => number | Promise<number>,
  ): number | Promise<number> {
    const identity = this.identity(conn, hello);
    const decide = (owner: string): number | Promise<number> => {
      if (owner !== identity) this.refuseOwned(conn, stream, identity, owner);
      const held = this.hold(conn, stream); // a promise when its mark comes back from disk (issue 18.5)
      const bound = this.owners.whenBound(stream);
      if (bound === undefined && held === undefined) return answer();
      if (bound) this.opts.log.debug('stream bound to its first writer', { stream, owner: identity, peer: conn.peer });
      return Promise.all([bound, held]).then(answer);
    };
    const owner = this.owners.claim(stream, identity);
    return typeof owner === 'string' ? decide(owner) : owner.then(decide);
  }

  /**
   * Grants `conn` the writing of `stream`, which stays in memory (never evicted) until the connection ends
   * or lets go of it (past MAX_STREAMS_PER_CONNECTION, its oldest). A stream evicted earlier is granted only
   * once its mark is back from disk: no BATCH is deduplicated against a forgotten mark (issue 18.5).
   */
  private hold(conn: LspConnection, stream: number): Promise<void> | undefined {
    let mine = this.grants.get(conn);
    if (mine?.has(stream)) return undefined;
    if (!mine) {
      const streams = (mine = new Set<number>());
      this.grants.set(conn, streams);
      conn.socket.once('close', () => {
        for (const s of streams) this.hwm.release?.(s);
        streams.clear();
      });
    }
    const grants = mine;
    const grant = (): void => {
      if (conn.closed) return this.hwm.release?.(stream); // gone meanwhile: nothing to hold it for
      if (grants.size >= MAX_STREAMS_PER_CONNECTION) {
        const oldest = grants.values().next().value!;
        grants.delete(oldest);
        this.hwm.release?.(oldest);
      }
      grants.add(stream);
    };
    const loading = this.hwm.acquire?.(stream);
    if (loading === undefined) {
      grant();
      return undefined;
    }
    return loading.then(grant, (err: unknown) => {
      this.hwm.release?.(stream);
      throw err;
    });
  }

  /** A BATCH for a stream this connection has no HELLO for: another owner's (LS_ERR_STREAM_OWNED), or simply too early. */
  private refuseBatch(conn: LspConnection, stream: number): never {
    const owner = this.owners.ownerOf(stream);
    const identity = conn.hello ? this.identity(conn, conn.hello) : undefined;
    if (owner !== undefined && identity !== undefined && owner !== identity)
      this.refuseOwned(conn, stream, identity, owner);
    this.refuse(
      conn,
      stream,
      'hello_required',
      `a BATCH for stream ${stream} before its HELLO on this connection (send HELLO and wait for its ACK)`,
      { identity: identity ?? null },
    );
  }

  /** `stream` belongs to `owner`, not to `identity`, the writer on `conn`: LS_ERR_STREAM_OWNED. */
  private refuseOwned(conn: LspConnection, stream: number, identity: string, owner: string): never {
    this.refuse(
      conn,
      stream,
      'stream_owned',
      `stream ${stream} belongs to another writer: use a stream id of your own`,
      {
        identity,
        owner,
      },
    );
  }

  /** Counts the refusal, logs it (with both identities; the peer's NACK names neither), throws the NACK's LsError. */
  private refuse(
    conn: LspConnection,
    stream: number,
    reason: 'stream_owned' | 'hello_required',
    message: string,
    fields: Record<string, unknown>,
  ): never {
    this.ownership.refused[reason]++;
    const now = Date.now();
    const last = this.refusalLog.get(reason);
    if (last && now - last.at < 1000) last.suppressed++;
    else {
      this.opts.log.warn(
        reason === 'stream_owned'
          ? 'write refused: the stream belongs to another identity'
          : 'write refused: BATCH before its HELLO',
        { peer: conn.peer, stream, ...fields, ...(last?.suppressed ? { alsoSinceLastLine: last.suppressed } : {}) },
      );
      this.refusalLog.set(reason, { at: now, suppressed: 0 });
    }
    throw new LsError(reason === 'stream_owned' ? LS_ERR.LS_ERR_STREAM_OWNED : LS_ERR.LS_ERR_HELLO_REQUIRED, message);
  }

  /** A HELLO with a DurableStore: the store holds the truth for every receiver (a failed-over shipper resumes right). */
  private markFromStore(store: DurableStore, stream: number): Promise<number> {
    const marks = this.hwm.get(stream);
    return store.durableMark(stream).then((held) => {
      marks.accepted = held;
      marks.durable = held;
      marks.stats.hwm = held;
      return held;
    });
  }

  private countBatch(frame: Frame, lines: Buffer[]): void {
    const { stats } = this.opts;
    const count = lines.length;
    this.batches.frames++;
    this.batches.records += count;
    this.batches.codecs[frame.codec] = (this.batches.codecs[frame.codec] ?? 0) + 1;
    stats.bytes.decoded += frame.codec === 0 ? frame.payload.length : decodedBytes(lines);
  }
}

function decodedBytes(lines: Buffer[]): number {
  let n = lines.length;
  for (const l of lines) n += l.length;
  return n;
}
