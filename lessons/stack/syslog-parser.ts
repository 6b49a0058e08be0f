/**
 * Where the syslog lane turns TCP/TLS bytes into record lines: on the main thread, or on worker threads.
 *
 * Parsing (RFC 6587 framing, RFC 5424/3164, JSON out) is the lane's heaviest work, and one JavaScript
 * thread does it on one core. rsyslog spreads the same work over threads (input, queue workers, output);
 * so can we: with `threads > 0` each connection is parsed on one of N worker threads — in order, since a
 * connection always goes to the same worker — while the main thread only reads sockets and appends to
 * the file sink. With `threads: 0` everything runs inline (the simplest form).
 *
 *   main thread                                worker thread (a decoder per connection, one writer)
 *   socket reads ─▶ one batch per event-loop ──▶ SyslogFrameDecoder → SyslogRecordWriter
 *                   turn (all reads, in order)
 *   onOutput(batch) ◀─────────────────────────── { records: one buffer, per-read counts and rejects }
 *
 * Bytes travel through SharedArrayBuffer slabs both sides keep, so hundreds of MB/s through a worker
 * make almost no garbage: the main thread copies the reads of a turn into an input slab; the worker
 * writes the records into a record slab, which the main thread copies into its appender and hands back.
 * Inline, the records are written straight into the appender (no copy at all).
 */
import { isMainThread, parentPort, type Worker, workerData } from 'node:worker_threads';
import type { SyslogReason } from '../../shared/protocol/syslog/errors.ts';
import { tsWorker } from '../../shared/ts-worker.ts';
import { SyslogRecordWriter, type RecordOutput } from '../../shared/protocol/syslog/writer.ts';
import { SyslogFrameDecoder } from './syslog-framing.ts';
import { warmUpStream } from './syslog-warm-up.ts';

/** What one push/end/close of a connection produced (its records are in the batch's buffer). */
export interface ParsedOutput {
  /** connection id */
  id: number;
  /** messages read (records + rejects) */
  messages: number;
  persisted: number;
  rejects: Array<{ reason: SyslogReason; sample: Buffer }>;
  /** the answer to end(): everything the connection sent is in this batch or an earlier one */
  ended?: boolean;
  /** the answer to close(); `partial` = the first bytes of an incomplete message, if one was held */
  closed?: boolean;
  partial?: Buffer;
  /** the framing broke beyond repair (a count over maxSkipBytes): the lane closes the connection */
  fatal?: boolean;
}

/** The limits the framing enforces (SyslogFrameDecoderOptions). */
export interface ParseLimits {
  maxMessageBytes: number;
  /** a count over the message limit and over this ends the connection instead of being skipped */
  maxSkipBytes: number;
  /** sample messages parsed (and thrown away) on each parsing thread before `ready` (syslog-warm-up.ts); 0 = none */
  warmUp?: number;
}

export interface ParsedBatch {
  /**
   * record lines (each with its `_rx`) of every output below, in order; undefined when there are none,
   * or when they were written straight into the lane's output (InlineSyslogParser with an output).
   * Valid during the onOutput call only (buffers are reused): copy them, or hand them to what does.
   */
  records: Buffer | undefined;
  outputs: ParsedOutput[];
}

export interface SyslogStreamParser {
  /** A new connection; `rx` = the `_rx` members after ts, e.g. `,"peer":"…","lane":"syslog","transport":"tcp"}`. */
  open(id: number, rx: string): void;
  /** Bytes of connection `id`, received at `now` (ms). The chunk may be reused once push returns. */
  push(id: number, chunk: Buffer, now: number): void;
  /** The peer half-closed: a last LF-framed message without LF completes; an octet-counted one is cut. */
  end(id: number, now: number): void;
  /** Forget the connection; the answer carries its incomplete message, if any. */
  close(id: number): void;
  /** bytes pushed but not yet answered (the lane pauses reading above a bound) */
  readonly pendingBytes: number;
  /** messages that took the slow path (bytes that are not UTF-8, repeated SD names) */
  readonly slowPath: number;
  /** resolves once the parser works at full speed (workers loaded, warmed up) */
  readonly ready: Promise<void>;
  /** how long the start-up warm-up took (ms; the slowest thread's), once ready */
  readonly warmUpMs: number;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// The parsing itself: the same code on the main thread and in a worker

/** Parses the streams of many connections into one record buffer. */
class ParseCore {
  private readonly decoders = new Map<number, { decoder: SyslogFrameDecoder; rx: string }>();
  private readonly writer: SyslogRecordWriter;
  /** the connection and time the writer's `_rx` tail was set for */
  private tailId = -1;
  private tailAt = -1;
  private current: ParsedOutput | undefined;

  /**
   * @param allocate when given, record buffers come from it and each records() is a buffer of its own
   *   (for a worker to hand over). Otherwise records() is a view, valid until release(). Either way the
   *   caller may reuse each input chunk after push(): the decoders copy what they must keep.
   * @param output write the records straight into this (the lane's appender) instead: records() is
   *   then always undefined
   * @param recordBytes size of each records buffer: big enough for a batch's records, so that it never
   *   has to grow (and be copied) while a batch is parsed
   */
  constructor(
    private readonly limits: ParseLimits,
    private readonly allocate?: (minBytes: number) => Buffer,
    private readonly output?: RecordOutput,
    recordBytes = 256 << 10,
  ) {
    this.writer = new SyslogRecordWriter(recordBytes, allocate, output);
  }

  /** the buffer the writer is filling now */
  get outputBuffer(): Buffer {
    return this.writer.out.buf;
  }

  get slowPath(): number {
    return this.writer.slowPath;
  }

  open(id: number, rx: string): void {
    const decoder = new SyslogFrameDecoder({
      maxMessageBytes: this.limits.maxMessageBytes,
      maxSkipBytes: this.limits.maxSkipBytes,
      // push() promises the caller may reuse its chunk once push returns (the lane reads TCP into one
      // buffer it reuses): what spans reads is copied, never kept as a view
      reusesChunks: true,
      onMessage: (buf, start, end) => {
        const out = this.current!;
        out.messages++;
        const reason = this.writer.add(buf, start, end);
        if (reason === undefined) out.persisted++;
        else out.rejects.push({ reason, sample: Buffer.from(buf.subarray(start, Math.min(end, start + 256))) });
      },
      onReject: (info) => {
        const out = this.current!;
        out.messages++;
        out.rejects.push({ reason: info.reason, sample: info.sample });
        if (info.fatal) out.fatal = true;
      },
    });
    this.decoders.set(id, { decoder, rx });
  }

  push(id: number, chunk: Buffer, now: number): ParsedOutput {
    const out = this.begin(id, now);
    this.decoders.get(id)?.decoder.push(chunk);
    this.current = undefined;
    return out;
  }

  end(id: number, now: number): ParsedOutput {
    const out = this.begin(id, now);
    this.decoders.get(id)?.decoder.end();
    this.current = undefined;
    out.ended = true;
    return out;
  }

  close(id: number): ParsedOutput {
    const conn = this.decoders.get(id);
    this.decoders.delete(id);
    const out: ParsedOutput = { id, messages: 0, persisted: 0, rejects: [], closed: true };
    const partial = conn?.decoder.buffered();
    if (partial && partial.length) out.partial = partial;
    return out;
  }

  /** The record lines made since the last call (see the constructor for whose buffer they are in). */
  records(): Buffer | undefined {
    if (this.output) return undefined;
    return this.allocate ? this.writer.take() : this.writer.peek();
  }

  /** The last records() view is no longer needed: its buffer is reused. */
  release(): void {
    if (!this.output) this.writer.clear();
  }

  private begin(id: number, now: number): ParsedOutput {
    const conn = this.decoders.get(id);
    this.writer.setReceived(now);
    // `_rx` changes once per millisecond per connection: set it only then
    if (conn && (id !== this.tailId || now !== this.tailAt)) {
      this.tailId = id;
      this.tailAt = now;
      this.writer.setTail(`,"_rx":{"ts":"${new Date(now).toISOString()}"${conn.rx}`);
    }
    this.current = { id, messages: 0, persisted: 0, rejects: [] };
    return this.current;
  }
}

/**
 * Parses `limits.warmUp` sample messages on this thread with a throw-away ParseCore, so that the code
 * real traffic takes is compiled before the first client (syslog-warm-up.ts says why); returns the ms.
 */
function warmUp(limits: ParseLimits): number {
  const n = limits.warmUp ?? 0;
  if (n <= 0) return 0;
  const t0 = performance.now();
  const core = new ParseCore(limits);
  core.open(0, ',"peer":"warm-up","lane":"syslog","transport":"tcp"}');
  for (const read of warmUpStream(n)) {
    const out = core.push(0, read, Date.now());
    core.release();
    if (out.persisted !== out.messages)
      throw new Error(`syslog warm-up: a sample message was rejected (${out.rejects[0]?.reason})`);
  }
  core.end(0, Date.now());
  core.close(0);
  return performance.now() - t0;
}

/**
 * Everything on the calling thread: onOutput is called synchronously from push/end/close. With an
 * `output` (the lane's appender), records are written straight into it, once: the batches then carry
 * counts and rejects only.
 */
export class InlineSyslogParser implements SyslogStreamParser {
  private readonly core: ParseCore;
  readonly pendingBytes = 0;
  readonly ready: Promise<void>;
  /** how long the start-up warm-up took (ms) */
  readonly warmUpMs: number;

  constructor(
    limits: ParseLimits,
    private readonly onOutput: (batch: ParsedBatch) => void,
    output?: RecordOutput,
  ) {
    this.warmUpMs = warmUp(limits);
    this.ready = Promise.resolve();
    this.core = new ParseCore(limits, undefined, output);
  }

  get slowPath(): number {
    return this.core.slowPath;
  }

  open(id: number, rx: string): void {
    this.core.open(id, rx);
  }

  push(id: number, chunk: Buffer, now: number): void {
    this.emit(this.core.push(id, chunk, now));
  }

  end(id: number, now: number): void {
    this.emit(this.core.end(id, now));
  }

  close(id: number): void {
    this.emit(this.core.close(id));
  }

  private emit(out: ParsedOutput): void {
    this.onOutput({ records: this.core.records(), outputs: [out] });
    this.core.release();
  }

  async stop(): Promise<void> {}
}

// ---------------------------------------------------------------------------------------------
// Worker threads

/** One step of a batch, in order; a push's bytes are `input slab[offset, offset + length)`. */
type Step =
  | { t: 'open'; id: number; rx: string }
  | { t: 'push'; id: number; offset: number; length: number; now: number }
  | { t: 'end'; id: number; now: number }
  | { t: 'close'; id: number };

interface ToWorker {
  steps: Step[];
  /** the input slab the pushes' bytes are in (-1: none) */
  slab: number;
  /** input slabs made since the last batch (the worker learns each once) */
  newSlabs: Array<[number, SharedArrayBuffer]>;
  /** record slabs the main thread has copied out: free again */
  recycled: number[];
}

interface FromWorker {
  ready?: true;
  /** with `ready`: the warm-up's ms */
  warmUpMs?: number;
  /** the records of the batch: [record slab, length] (a slab not sent before comes in newSlabs) */
  records: [number, number] | undefined;
  /** records too big for a slab (a huge message): sent as a copy */
  bigRecords?: Uint8Array;
  newSlabs: Array<[number, SharedArrayBuffer]>;
  outputs: Array<
    Omit<ParsedOutput, 'partial' | 'rejects'> & {
      partial?: Uint8Array;
      rejects: Array<{ reason: SyslogReason; sample: Uint8Array }>;
    }
  >;
  /** the batch's input slab, free again (-1: none) */
  slab: number;
  bytes: number;
  slowPath: number;
}

const asBuffer = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/** A batch is sent at the end of the event-loop turn, or sooner once its input fills a slab. */
const BATCH_BYTES = 512 << 10;
/**
 * A record slab holds the records of one batch: ~2.5× its input for typical messages (if escapes make
 * it more, the writer moves to a bigger, private buffer for that batch).
 */
const RECORD_SLAB_BYTES = 4 * BATCH_BYTES;

interface Lane {
  worker: Worker;
  steps: Step[];
  /** input slabs by index (shared with the worker), the free ones, and the one being filled */
  slabs: Buffer[];
  free: number[];
  newSlabs: Array<[number, SharedArrayBuffer]>;
  slab: number;
  inputLen: number;
  /** this worker's record slabs, by index */
  recordSlabs: Buffer[];
  /** record slabs to hand back with the next batch */
  recycled: number[];
  slowPath: number;
}

/**
 * N worker threads; a connection is parsed on worker `id % N`, so its outputs come back in order.
 * Calls are gathered per worker and sent once per event-loop turn; onOutput runs on the main thread.
 *
 * The bytes travel through SharedArrayBuffer slabs both sides keep for the life of the lane — input
 * slabs (made here), record slabs (made by the worker) — and messages only say which slab and how much.
 * Transferring fresh ArrayBuffers instead costs GC time: V8 counts each arriving one as new external
 * memory, and at hundreds of MB/s that meant a full mark-compact every few batches.
 */
export class WorkerSyslogParser implements SyslogStreamParser {
  private readonly lanes: Lane[] = [];
  private pending = 0;
  private scheduled = false;
  private failed: Error | undefined;
  readonly ready: Promise<void>;
  warmUpMs = 0;

  constructor(
    threads: number,
    limits: ParseLimits,
    private readonly onOutput: (batch: ParsedBatch) => void,
    onError: (err: Error) => void,
  ) {
    // Each worker runs this very file, as JavaScript esbuild bundles at start-up (shared/ts-worker.ts:
    // no TypeScript loader per worker, ~18 MB less RSS each); its worker side starts at the bottom.
    const readies: Array<Promise<void>> = [];
    for (let i = 0; i < threads; i++) {
      const worker = tsWorker(import.meta.url, { workerData: { syslogParser: true, limits } });
      const lane: Lane = {
        worker,
        steps: [],
        slabs: [],
        free: [],
        newSlabs: [],
        slab: -1,
        inputLen: 0,
        recordSlabs: [],
        recycled: [],
        slowPath: 0,
      };
      let ready!: () => void;
      readies.push(new Promise<void>((r) => (ready = r)));
      worker.on('message', (m: FromWorker) => {
        if (m.ready) {
          this.warmUpMs = Math.max(this.warmUpMs, m.warmUpMs ?? 0);
          return ready();
        }
        this.pending -= m.bytes;
        lane.slowPath = m.slowPath;
        if (m.slab >= 0) lane.free.push(m.slab);
        for (const [k, sab] of m.newSlabs) lane.recordSlabs[k] = Buffer.from(sab);
        const records = m.records
          ? lane.recordSlabs[m.records[0]]!.subarray(0, m.records[1])
          : m.bigRecords
            ? asBuffer(m.bigRecords)
            : undefined;
        this.onOutput({
          records,
          outputs: m.outputs.map((o) => ({
            ...o,
            partial: o.partial ? asBuffer(o.partial) : undefined,
            rejects: o.rejects.map((r) => ({ reason: r.reason, sample: asBuffer(r.sample) })),
          })),
        });
        // onOutput has copied the records out: their slab goes back with the next batch (sent at the
        // end of this turn if nothing else is, so the worker need not make new ones)
        if (m.records) {
          lane.recycled.push(m.records[0]);
          this.schedule();
        }
      });
      worker.on('error', (err) => {
        this.failed = err;
        ready();
        onError(err);
      });
      this.lanes.push(lane);
    }
    this.ready = Promise.all(readies).then(() => undefined);
  }

  get pendingBytes(): number {
    return this.pending;
  }

  get slowPath(): number {
    return this.lanes.reduce((a, l) => a + l.slowPath, 0);
  }

  open(id: number, rx: string): void {
    this.step(id, { t: 'open', id, rx });
  }

  push(id: number, chunk: Buffer, now: number): void {
    const lane = this.laneOf(id);
    this.pending += chunk.length;
    // A chunk bigger than what is left of the slab goes in pieces: the decoder takes a stream cut anywhere.
    for (let off = 0; off < chunk.length;) {
      if (lane.slab < 0 || lane.inputLen === BATCH_BYTES) {
        if (lane.slab >= 0) this.send(lane);
        lane.slab = this.freeSlab(lane);
        lane.inputLen = 0;
      }
      const n = Math.min(chunk.length - off, BATCH_BYTES - lane.inputLen);
      chunk.copy(lane.slabs[lane.slab]!, lane.inputLen, off, off + n);
      lane.steps.push({ t: 'push', id, offset: lane.inputLen, length: n, now });
      lane.inputLen += n;
      off += n;
    }
    this.schedule();
  }

  end(id: number, now: number): void {
    this.step(id, { t: 'end', id, now });
  }

  close(id: number): void {
    this.step(id, { t: 'close', id });
  }

  async stop(): Promise<void> {
    this.flushAll();
    await Promise.all(this.lanes.map((l) => l.worker.terminate()));
  }

  private freeSlab(lane: Lane): number {
    const k = lane.free.pop();
    if (k !== undefined) return k;
    // All in flight: one more (bounded: the lane stops reading while pendingBytes is high).
    const sab = new SharedArrayBuffer(BATCH_BYTES);
    lane.slabs.push(Buffer.from(sab));
    lane.newSlabs.push([lane.slabs.length - 1, sab]);
    return lane.slabs.length - 1;
  }

  private laneOf(id: number): Lane {
    if (this.failed) throw this.failed;
    return this.lanes[id % this.lanes.length]!;
  }

  private step(id: number, s: Step): void {
    this.laneOf(id).steps.push(s);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flushAll);
  }

  private readonly flushAll = (): void => {
    this.scheduled = false;
    for (const lane of this.lanes)
      if (lane.steps.length || lane.recycled.length || lane.newSlabs.length) this.send(lane);
  };

  private send(lane: Lane): void {
    const used = lane.inputLen > 0;
    const msg: ToWorker = {
      steps: lane.steps,
      slab: used ? lane.slab : -1,
      newSlabs: lane.newSlabs,
      recycled: lane.recycled,
    };
    lane.worker.postMessage(msg);
    if (!used && lane.slab >= 0) lane.free.push(lane.slab); // a slab that carried nothing stays ours
    lane.steps = [];
    lane.slab = -1;
    lane.inputLen = 0;
    lane.newSlabs = [];
    lane.recycled = [];
  }
}

/** The worker's side: one ParseCore, answering every batch with one message (slab numbers, no bytes). */
function runWorker(limits: ParseLimits): void {
  const inputs: Buffer[] = [];
  const slabs: Buffer[] = [];
  const slabOf = new Map<ArrayBufferLike, number>();
  const free: number[] = [];
  let newSlabs: Array<[number, SharedArrayBuffer]> = [];
  /** slabs handed to the writer and not yet sent back with records */
  const issued = new Set<number>();
  const allocate = (n: number): Buffer => {
    if (n > RECORD_SLAB_BYTES) return Buffer.allocUnsafeSlow(n); // a huge message's records: a private buffer
    let k = free.pop();
    if (k === undefined) {
      const sab = new SharedArrayBuffer(RECORD_SLAB_BYTES);
      k = slabs.length;
      slabs.push(Buffer.from(sab));
      slabOf.set(sab, k);
      newSlabs.push([k, sab]);
    }
    issued.add(k);
    return slabs[k]!;
  };
  const core = new ParseCore(limits, allocate, undefined, RECORD_SLAB_BYTES);
  const port = parentPort!;
  port.on('message', (m: ToWorker) => {
    for (const [k, sab] of m.newSlabs) inputs[k] = Buffer.from(sab);
    for (const k of m.recycled) free.push(k);
    const input = m.slab >= 0 ? inputs[m.slab]! : undefined;
    let bytes = 0;
    const outputs: ParsedOutput[] = [];
    for (const s of m.steps) {
      if (s.t === 'open') core.open(s.id, s.rx);
      else if (s.t === 'push') {
        bytes += s.length;
        outputs.push(core.push(s.id, input!.subarray(s.offset, s.offset + s.length), s.now));
      } else if (s.t === 'end') outputs.push(core.end(s.id, s.now));
      else outputs.push(core.close(s.id));
    }
    // The writer gives every records() a buffer of its own (from `allocate`), and the decoders keep
    // copies, never views, of what spans reads (the input slab is reused once this answer is out).
    const recs = core.records();
    const recSlab = recs ? slabOf.get(recs.buffer) : undefined;
    // The records' slab goes to the main thread, the writer's current one stays issued, and any other
    // slab issued meanwhile was dropped (the writer moved to a bigger buffer): free again.
    const current = slabOf.get(core.outputBuffer.buffer);
    for (const k of issued) if (k !== recSlab && k !== current) free.push(k);
    issued.clear();
    if (current !== undefined) issued.add(current);
    const msg: FromWorker = {
      records: recs && recSlab !== undefined ? [recSlab, recs.length] : undefined,
      newSlabs,
      outputs,
      slab: m.slab,
      bytes,
      slowPath: core.slowPath,
    };
    if (recs && recSlab === undefined) msg.bigRecords = recs;
    newSlabs = [];
    port.postMessage(msg);
  });
  port.postMessage({ ready: true, warmUpMs: warmUp(limits) } satisfies Pick<FromWorker, 'ready' | 'warmUpMs'>);
}

if (!isMainThread) {
  const wd = workerData as { syslogParser?: boolean; limits?: ParseLimits } | undefined;
  if (wd?.syslogParser) runWorker(wd.limits!);
}
