/**
 * The storing half of an acknowledging LSP/1 receiver (LSP1 §4, §7): day 09's delivery rules, packaged
 * for the days that build on them (day 11 batching, and any later lane that just needs "store it once,
 * ACK it when durable"). lessons/day09/receiver.ts tells the same story step by step; this is its
 * reusable form.
 *
 *   HELLO(stream)  → the stream's DURABLE high-water mark (0 when never seen)
 *   BATCH(seq, n)  → decode (codec table, bounded), dedup against the ACCEPTED mark (seq ≤ mark: counted,
 *                    not written), a first seq past mark + 1 is a gap (counted, accepted), invalid records
 *                    to rejects.ndjson (delivered), the rest stamped with _rx and appended in one write;
 *                    the ACK goes out once the sink says those bytes are durable (group commit).
 *   marks          recovered from disk at start (HwmStore), so kill -9 loses nothing that was ACKed.
 *
 * With `jetstream` (lessons/scale/jetstream/sink.ts, issue 11) the records go to a JetStream stream instead of
 * the records files, and "durable" means "JetStream acknowledged the publish": the marks then live in
 * JetStream (a HELLO asks it, so any receiver of the cluster answers the same), the ACK waits for the
 * PubAck, and a failed publish closes the connection unACKed. rejects.ndjson and stats.json stay local.
 *
 * Usage (with shared/lsp-receiver.ts):
 *   const ingest = await AckedIngest.open({ dataDir, fsync, …, stats, log, lane });
 *   const rx = new LspReceiver({ handlers: ingest.handlers, … });
 *   ingest.attach(rx);                       // sink backpressure pauses/resumes the sockets
 *   …on SIGTERM: await ingest.shutdown(rx);  // stop reading, fsync, final ACKs, checkpoint
 */
import type { Log } from '../../shared/log.ts';
import { HwmStore } from './hwm-store.ts';
import type { JetStreamSink } from '../scale/jetstream/sink.ts';
import type { LspConnection, LspHandlers, LspReceiver } from '../../shared/lsp-receiver.ts';
import { decodeBatch } from '../../shared/protocol/batch.ts';
import type { Frame } from '../../shared/protocol/frame.ts';
import { DEFAULT_MAX_DECODED_BYTES, DEFAULT_MAX_RECORD_BYTES } from '../../shared/protocol/limits.ts';
import { validateRecord } from '../../shared/protocol/record.ts';
import { FileSink, type FsyncPolicy } from '../../shared/storage/file-sink.ts';
import { RxWriter } from '../../shared/storage/rx.ts';
import type { ReceiverStats } from '../../shared/stats.ts';
import type { StreamMarks } from './hwm-store.ts';

export interface AckedIngestOptions {
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
  /** store records in JetStream instead of the records files (ACK = PubAck) */
  jetstream?: JetStreamSink | undefined;
}

/** The marks AckedIngest works with: HwmStore (file sink) or MemoryMarks (JetStream holds the truth). */
export interface MarkStore {
  get(stream: number): StreamMarks;
  markDurable(m: StreamMarks, seq: number): void;
  close(): Promise<void>;
}

/** Marks kept in memory only: with the JetStream sink a HELLO reads them back from the cluster. */
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

export class AckedIngest {
  readonly batches: BatchCounters = { frames: 0, records: 0, codecs: {} };
  /** (small to start: take() hands the buffer to the sink and allocates max(this, last batch) afresh; 256 KiB per small batch is mostly GC) */
  private readonly out = new RxWriter(2048);
  private rx: LspReceiver | undefined;
  private readonly maxDecodedBytes: number;
  private readonly maxRecordBytes: number;

  private constructor(
    private readonly opts: AckedIngestOptions,
    readonly sink: FileSink,
    readonly hwm: MarkStore,
  ) {
    this.maxDecodedBytes = opts.maxDecodedBytes ?? DEFAULT_MAX_DECODED_BYTES;
    this.maxRecordBytes = opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  }

  static async open(opts: AckedIngestOptions): Promise<AckedIngest> {
    const sink = await FileSink.open({ dir: opts.dataDir, fsync: opts.fsync, fsyncIntervalMs: opts.fsyncIntervalMs, rotateBytes: opts.rotateBytes });
    sink.on('error', (err: Error) => opts.log.error('sink failed: nothing more is ACKed', { error: err.message }));
    if (opts.jetstream) return new AckedIngest(opts, sink, new MemoryMarks(opts.stats));
    const hwm = await HwmStore.open({
      dir: opts.dataDir,
      sink,
      stats: opts.stats,
      checkpointIntervalMs: opts.checkpointIntervalMs ?? 1000,
      onError: (err) => opts.log.warn('HWM checkpoint failed (the next one retries)', { error: err.message }),
    });
    opts.log.info('high-water marks recovered', { ...hwm.recovery });
    return new AckedIngest(opts, sink, hwm);
  }

  /** The handlers for LspReceiver. */
  get handlers(): LspHandlers {
    return { onHello: this.onHello, onBatch: this.onBatch };
  }

  /** Sink backpressure pauses every socket of `rx` and resumes them once the sink drained. */
  attach(rx: LspReceiver): void {
    this.rx = rx;
    this.sink.on('drain', () => rx.resume());
  }

  readonly onHello = (_conn: LspConnection, stream: number): number | Promise<number> => {
    const marks = this.hwm.get(stream);
    const js = this.opts.jetstream;
    if (!js) return marks.durable;
    // JetStream holds the truth for every receiver: a shipper that failed over from another one resumes right.
    return js.durableMark(stream).then((held) => {
      marks.accepted = held;
      marks.durable = held;
      marks.stats.hwm = held;
      return held;
    });
  };

  readonly onBatch = (conn: LspConnection, frame: Frame): void => {
    const { stats, sink } = { stats: this.opts.stats, sink: this.sink };
    // A payload that does not decode, or whose count is wrong, throws an LsError: NACK + close.
    const lines = decodeBatch(frame, { maxDecodedBytes: this.maxDecodedBytes });
    const count = lines.length;
    const stream = frame.stream;
    const marks = this.hwm.get(stream);
    this.batches.frames++;
    this.batches.records += count;
    this.batches.codecs[frame.codec] = (this.batches.codecs[frame.codec] ?? 0) + 1;
    stats.records.received += count;
    stats.bytes.decoded += frame.codec === 0 ? frame.payload.length : decodedBytes(lines);

    let first = 0;
    if (frame.seq <= marks.accepted) {
      first = Math.min(count, marks.accepted - frame.seq + 1); // a resend: drop what we hold
      marks.stats.duplicates += first;
      stats.records.duplicates += first;
    } else if (frame.seq > marks.accepted + 1) {
      marks.stats.gaps += frame.seq - marks.accepted - 1; // the shipper dropped these on purpose
    }
    const js = this.opts.jetstream;
    let chunkFirst = frame.seq + first;
    let rejected = 0;
    let pending: Promise<void> | undefined;
    if (first < count) {
      const out = this.out;
      // a JetStream message has a size limit: a large batch goes as several (in order, same chain)
      const cut = js ? Math.max(4096, js.maxMessageBytes - this.maxRecordBytes - 4096) : Infinity;
      out.context({ ts: new Date().toISOString(), peer: conn.peer, lane: this.opts.lane });
      for (let i = first; i < count; i++) {
        const line = lines[i]!;
        const v = validateRecord(line, this.maxRecordBytes);
        if (v.ok) out.addSeq(line, stream, frame.seq + i);
        else {
          rejected++;
          stats.reject(v.reason);
          sink.reject({ peer: conn.peer, reason: v.reason, stream, seq: frame.seq + i, sample: line });
        }
        if (out.length >= cut) {
          stats.records.persisted += out.count;
          pending = js!.publish(stream, out.take(), chunkFirst, frame.seq + i);
          chunkFirst = frame.seq + i + 1;
        }
      }
      marks.stats.received += count - first;
      marks.accepted = frame.seq + count - 1;
      const persisted = out.count;
      const bytes = out.take();
      if (bytes && !js) {
        sink.append(bytes);
        stats.records.persisted += persisted;
        if (sink.overHighWater) this.rx?.pause();
      } else if (bytes) stats.records.persisted += persisted;
      if (js) pending = js.publish(stream, bytes, chunkFirst, marks.accepted);
    }
    // ACK once everything up to the accepted mark is durable (one fsync covers many batches).
    const upTo = marks.accepted;
    if (js) {
      // durable = JetStream acknowledged this (and everything before it of this stream)
      const published = pending ?? js.publish(stream, undefined, upTo, upTo);
      const stored = rejected > 0 ? Promise.all([published, sink.whenDurable(sink.position)]) : published;
      stored.then(
        () => {
          this.hwm.markDurable(marks, upTo);
          conn.ack(stream, marks.durable);
        },
        () => {
          // not stored, so never ACKed: the shipper sends it again after its next HELLO (which asks JetStream)
          marks.accepted = marks.durable;
          conn.socket.destroy();
        },
      );
      return;
    }
    sink.whenDurable(sink.position).then(
      () => {
        this.hwm.markDurable(marks, upTo);
        conn.ack(stream, marks.durable);
      },
      () => {},
    );
  };

  /** SIGTERM: stop reading, flush + fsync, send the final ACKs, close every connection, last checkpoint. */
  async shutdown(rx: LspReceiver): Promise<void> {
    rx.stopReading();
    await this.opts.jetstream?.close();
    await this.sink.close();
    await new Promise((r) => setImmediate(r)); // the whenDurable callbacks queue their ACKs…
    await rx.closeAll(); // …which go out before we close
    await this.hwm.close();
  }
}

function decodedBytes(lines: Buffer[]): number {
  let n = lines.length;
  for (const l of lines) n += l.length;
  return n;
}
