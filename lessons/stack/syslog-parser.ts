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
 * Buffers travel both ways and are reused, so hundreds of MB/s through a worker make almost no garbage:
 * the main thread copies the reads of a turn into a pooled ArrayBuffer and transfers it (no second
 * copy); the worker sends it back with its answer, together with the records, written into a buffer the
 * main thread handed back after copying out the previous ones.
 */
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { SyslogFrameDecoder, SyslogRecordWriter, type SyslogReason } from '../../shared/protocol/syslog.ts';

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
}

export interface ParsedBatch {
  /**
   * record lines (each with its `_rx`) of every output below, in order; undefined when there are none.
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
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// The parsing itself: the same code on the main thread and in a worker

/** Parses the streams of many connections into one record buffer. */
class ParseCore {
  private readonly decoders = new Map<number, { decoder: SyslogFrameDecoder; rx: string }>();
  private readonly writer: SyslogRecordWriter;
  private tailKey = '';
  private current: ParsedOutput | undefined;

  /**
   * @param allocate when given, record buffers come from it and each records() is a buffer of its own
   *   (for a worker to transfer); it also means the caller hands each input chunk on after push(), so
   *   the decoders copy what they must keep. Otherwise records() is a view, valid until release().
   */
  constructor(
    private readonly maxMessageBytes: number,
    private readonly allocate?: (minBytes: number) => Buffer,
  ) {
    this.writer = new SyslogRecordWriter(256 << 10, allocate);
  }

  get slowPath(): number {
    return this.writer.slowPath;
  }

  open(id: number, rx: string): void {
    const decoder = new SyslogFrameDecoder({
      maxMessageBytes: this.maxMessageBytes,
      reusesChunks: this.allocate !== undefined,
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
    return this.allocate ? this.writer.take() : this.writer.peek();
  }

  /** The last records() view is no longer needed: its buffer is reused. */
  release(): void {
    this.writer.clear();
  }

  private begin(id: number, now: number): ParsedOutput {
    const conn = this.decoders.get(id);
    this.writer.setReceived(now);
    // `_rx` changes once per millisecond per connection: set it only then
    const key = `${id} ${now}`;
    if (conn && key !== this.tailKey) {
      this.tailKey = key;
      this.writer.setTail(`,"_rx":{"ts":"${new Date(now).toISOString()}"${conn.rx}`);
    }
    this.current = { id, messages: 0, persisted: 0, rejects: [] };
    return this.current;
  }
}

/** Everything on the calling thread: onOutput is called synchronously from push/end/close. */
export class InlineSyslogParser implements SyslogStreamParser {
  private readonly core: ParseCore;
  readonly pendingBytes = 0;

  constructor(maxMessageBytes: number, private readonly onOutput: (batch: ParsedBatch) => void) {
    this.core = new ParseCore(maxMessageBytes);
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

/** One step of a batch, in order; a push's bytes are `input[offset, offset + length)`. */
type Step =
  | { t: 'open'; id: number; rx: string }
  | { t: 'push'; id: number; offset: number; length: number; now: number }
  | { t: 'end'; id: number; now: number }
  | { t: 'close'; id: number };

interface ToWorker {
  steps: Step[];
  input: Uint8Array | undefined;
  /** record buffers handed back for reuse */
  recycled: ArrayBuffer[];
}

interface FromWorker {
  records: Uint8Array | undefined;
  outputs: Array<Omit<ParsedOutput, 'partial' | 'rejects'> & { partial?: Uint8Array; rejects: Array<{ reason: SyslogReason; sample: Uint8Array }> }>;
  /** the batch's input ArrayBuffer, handed back for the next batch */
  input: ArrayBuffer | undefined;
  bytes: number;
  slowPath: number;
}

const asBuffer = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/** Most buffers kept for reuse on each side (beyond that, the GC takes them). */
const POOL_MAX = 16;
/** A batch is sent at the end of the event-loop turn, or sooner once its input reaches this size. */
const BATCH_BYTES = 1 << 20;

interface Lane {
  worker: Worker;
  steps: Step[];
  input: Buffer | undefined;
  inputLen: number;
  /** record buffers to hand back with the next batch */
  recycled: ArrayBuffer[];
  slowPath: number;
}

/**
 * N worker threads; a connection is parsed on worker `id % N`, so its outputs come back in order.
 * Calls are gathered per worker and sent once per event-loop turn; onOutput runs on the main thread.
 */
export class WorkerSyslogParser implements SyslogStreamParser {
  private readonly lanes: Lane[] = [];
  /** input buffers back from the workers */
  private readonly inputs: ArrayBuffer[] = [];
  private pending = 0;
  private scheduled = false;
  private failed: Error | undefined;

  constructor(threads: number, maxMessageBytes: number, private readonly onOutput: (batch: ParsedBatch) => void, onError: (err: Error) => void) {
    // Workers start from a tiny bootstrap that registers the TypeScript loader (tsx) the main thread
    // runs under, then imports this very file: no build step, like everything else here.
    const tsx = import.meta.resolve('tsx/esm/api');
    const self = import.meta.url;
    for (let i = 0; i < threads; i++) {
      const worker = new Worker(`import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(self)}); })`, {
        eval: true,
        workerData: { syslogParser: true, maxMessageBytes },
      });
      const lane: Lane = { worker, steps: [], input: undefined, inputLen: 0, recycled: [], slowPath: 0 };
      worker.on('message', (m: FromWorker) => {
        this.pending -= m.bytes;
        lane.slowPath = m.slowPath;
        if (m.input && this.inputs.length < POOL_MAX) this.inputs.push(m.input);
        this.onOutput({
          records: m.records ? asBuffer(m.records) : undefined,
          outputs: m.outputs.map((o) => ({
            ...o,
            partial: o.partial ? asBuffer(o.partial) : undefined,
            rejects: o.rejects.map((r) => ({ reason: r.reason, sample: asBuffer(r.sample) })),
          })),
        });
        // onOutput has copied the records out: their buffer goes back with the next batch
        if (m.records && lane.recycled.length < POOL_MAX) lane.recycled.push(m.records.buffer as ArrayBuffer);
      });
      worker.on('error', (err) => {
        this.failed = err;
        onError(err);
      });
      this.lanes.push(lane);
    }
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
    let input = lane.input;
    if (input === undefined || lane.inputLen + chunk.length > input.length) {
      if (input !== undefined) this.send(lane);
      const ab = this.inputs.pop();
      input = lane.input = ab !== undefined && ab.byteLength >= chunk.length ? Buffer.from(ab) : Buffer.from(new ArrayBuffer(Math.max(BATCH_BYTES, chunk.length)));
      lane.inputLen = 0;
    }
    chunk.copy(input, lane.inputLen);
    lane.steps.push({ t: 'push', id, offset: lane.inputLen, length: chunk.length, now });
    lane.inputLen += chunk.length;
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
    for (const lane of this.lanes) if (lane.steps.length) this.send(lane);
  };

  private send(lane: Lane): void {
    const input = lane.input;
    const msg: ToWorker = { steps: lane.steps, input: input?.subarray(0, lane.inputLen), recycled: lane.recycled };
    const transfer: ArrayBuffer[] = [...lane.recycled];
    if (input) transfer.push(input.buffer as ArrayBuffer);
    lane.worker.postMessage(msg, transfer);
    lane.steps = [];
    lane.input = undefined;
    lane.inputLen = 0;
    lane.recycled = [];
  }
}

/** The worker's side: one ParseCore, answering every batch with one message (buffers transferred). */
function runWorker(maxMessageBytes: number): void {
  const pool: ArrayBuffer[] = [];
  const allocate = (n: number): Buffer => {
    for (let i = pool.length - 1; i >= 0; i--) {
      if (pool[i]!.byteLength >= n) return Buffer.from(pool.splice(i, 1)[0]!);
    }
    return Buffer.from(new ArrayBuffer(n));
  };
  const core = new ParseCore(maxMessageBytes, allocate);
  const port = parentPort!;
  port.on('message', (m: ToWorker) => {
    for (const ab of m.recycled) if (pool.length < POOL_MAX) pool.push(ab);
    const input = m.input ? asBuffer(m.input) : undefined;
    const outputs: ParsedOutput[] = [];
    for (const s of m.steps) {
      if (s.t === 'open') core.open(s.id, s.rx);
      else if (s.t === 'push') outputs.push(core.push(s.id, input!.subarray(s.offset, s.offset + s.length), s.now));
      else if (s.t === 'end') outputs.push(core.end(s.id, s.now));
      else outputs.push(core.close(s.id));
    }
    // The writer gives every records() a buffer of its own (from `allocate`), and the decoders keep
    // copies, never views, of what spans reads: both buffers can move without a copy.
    const records = core.records();
    const transfer: ArrayBuffer[] = [];
    if (records) transfer.push(records.buffer as ArrayBuffer);
    if (m.input) transfer.push(m.input.buffer as ArrayBuffer);
    const msg: FromWorker = { records, outputs, input: m.input?.buffer as ArrayBuffer | undefined, bytes: m.input?.byteLength ?? 0, slowPath: core.slowPath };
    port.postMessage(msg, transfer);
  });
}

if (!isMainThread) {
  const { workerData } = await import('node:worker_threads');
  const wd = workerData as { syslogParser?: boolean; maxMessageBytes?: number } | undefined;
  if (wd?.syslogParser) runWorker(wd.maxMessageBytes!);
}
