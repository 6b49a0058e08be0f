/**
 * Day 14 — how the load generator talks to each lane. The plumbing, handed over: the lesson's ideas are
 * in schedule.ts (when records are due), loadgen.ts's open-loop turn, latency.ts and verify.ts; this file
 * only turns "n records, due at time t" into bytes on a socket, for every transport the course has:
 *
 *   StreamLane    ndjson (day 08), syslog-tcp (RFC 6587 octet counting): records straight into 256 KiB
 *                 chunks, one write() per chunk. No ACKs: "sent" means handed to the kernel.
 *   LspLane       lsp, lsp-tls (days 09–14): HELLO, then BATCH frames (optionally compressed with the codec
 *                 table of shared/protocol/codecs.ts); each ACK stops the latency clock of the records it
 *                 covers (day 09's WaitTimes, lessons/day09/wait-times.ts → an HDR histogram per lane).
 *   DatagramLane  udp (LSP/1 §5: one BATCH per datagram, never over --max-datagram) and syslog-udp (one
 *                 RFC 5424 message per datagram). No ACKs.
 *
 * Every lane counts `sent` (records the kernel took), `acked`, `bytes` and errors, reports `room()` (what
 * it can take right now: closed loop) and `backlog` (records generated but not yet written: open loop),
 * and calls `wake()` when room may have appeared.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { WaitTimes } from '../day09/wait-times.ts';
import type { Codec } from '../../shared/protocol/codecs.ts';
import {
  encodeFrame,
  encodeFrameInPlace,
  encodeHello,
  FrameDecoder,
  FrameType,
  HEADER_SIZE,
  parseNack,
} from '../../shared/protocol/frame.ts';
import type { RecordWriter } from './records.ts';

export type Transport = 'ndjson' | 'lsp' | 'lsp-tls' | 'udp' | 'syslog-tcp' | 'syslog-udp';
export const TRANSPORTS: readonly Transport[] = ['ndjson', 'lsp', 'lsp-tls', 'udp', 'syslog-tcp', 'syslog-udp'];

export interface LaneOptions {
  index: number;
  host: string;
  port: number;
  writer: RecordWriter;
  /** every generated record's bytes pass through here (the --dump file) */
  tap?: ((records: Buffer) => void) | undefined;
  /** LSP/UDP */
  stream: number;
  batchRecords: number;
  batchDelayMs: number;
  windowBatches: number;
  codec?: Codec | undefined;
  level?: number | undefined;
  maxDatagram: number;
  /** TLS client options (lsp-tls) */
  tls?: tls.ConnectionOptions | undefined;
  helloName: string;
}

const CHUNK_BYTES = 256 << 10;
/** StreamLane: records are written 1 MiB at a time, with up to 4 MiB handed to the socket at once */
const STREAM_CHUNK_BYTES = 1 << 20;
const STREAM_IN_FLIGHT = 4 << 20;

export abstract class Lane {
  sent = 0;
  acked = 0;
  bytes = 0;
  frames = 0;
  errors = 0;
  lastError: string | undefined;
  failed = false;
  /** records generated for this lane and not yet handed to the kernel */
  backlog = 0;
  /** records generated for this lane */
  pushed = 0;
  wake: () => void = () => {};
  readonly acks: boolean = false;
  readonly waits = new WaitTimes();

  constructor(readonly o: LaneOptions) {}

  get stream(): number | undefined {
    return undefined;
  }
  /** wire seq of a record = its local seq (1, 2, … in this run) + this */
  get seqBase(): number {
    return 0;
  }
  abstract connect(): Promise<void>;
  /** Records this lane can take now without queueing them (closed loop). */
  abstract room(): number;
  /** Generates `n` records into this lane; `dueAt` is when they were due (performance.now() ms). */
  abstract push(n: number, dueAt: number): void;
  /** Sends what waits: a partial chunk/batch (`force`, or older than the batch delay). */
  abstract flush(now: number, force: boolean): void;
  /** Flushes, waits (≤ timeoutMs) for the kernel to take everything (and for ACKs), closes. */
  abstract finish(timeoutMs: number): Promise<void>;

  protected fail(err: Error & { code?: string }): void {
    this.errors++;
    this.lastError = `${err.code ?? 'ERROR'}: ${err.message}`;
    this.failed = true;
    this.wake();
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() >= end) return false;
    await sleep(5);
  }
  return true;
}

function openSocket(o: LaneOptions, secure: boolean): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = secure
      ? tls.connect({ host: o.host, port: o.port, ...o.tls })
      : net.connect({ host: o.host, port: o.port, noDelay: true });
    s.setNoDelay(true);
    const onError = (err: Error) => reject(err);
    s.once('error', onError);
    s.once(secure ? 'secureConnect' : 'connect', () => {
      s.off('error', onError);
      resolve(s);
    });
  });
}

// ---- ndjson, syslog-tcp: a byte stream, no answer ----------------------------------------------------

export class StreamLane extends Lane {
  private socket!: net.Socket;
  /**
   * Chunks come from a small free list and go back to it once the kernel has taken them (the write
   * callback): a fresh 1 MiB Buffer per chunk costs page faults on first touch and GC work for its
   * external memory, more than generating the records in it (issue 21.5).
   */
  private readonly free: Buffer[] = [];
  private chunk: Buffer = Buffer.allocUnsafeSlow(STREAM_CHUNK_BYTES);
  private pos = 0;
  private inChunk = 0;
  /** bytes handed to the socket and not yet taken by the kernel */
  private inFlight = 0;

  async connect(): Promise<void> {
    this.socket = await openSocket(this.o, false);
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('data', () => {}); // a sink that talks back is ignored
  }

  room(): number {
    // Several chunks may be in flight (not just the socket's 16 KiB high-water mark): the generator
    // fills the next chunk while the kernel copies the last one.
    if (this.failed || this.inFlight >= STREAM_IN_FLIGHT) return 0;
    return 4096;
  }

  push(n: number): void {
    const w = this.o.writer;
    this.pushed += n;
    this.backlog += n;
    while (n > 0) {
      const k = w.fill(this.chunk, this.pos, n);
      this.pos = w.end;
      this.inChunk += k;
      n -= k;
      if (k === 0 || this.pos > STREAM_CHUNK_BYTES - w.maxOutputBytes) this.flush(0, true);
    }
  }

  flush(_now: number, force: boolean): void {
    if (!force || this.pos === 0) return;
    const full = this.chunk;
    const bytes = full.subarray(0, this.pos);
    const count = this.inChunk;
    this.chunk = this.free.pop() ?? Buffer.allocUnsafeSlow(STREAM_CHUNK_BYTES);
    this.pos = 0;
    this.inChunk = 0;
    this.o.tap?.(bytes);
    this.frames++;
    if (this.failed) return;
    this.inFlight += bytes.length;
    this.socket.write(bytes, (err) => {
      this.inFlight -= bytes.length;
      if (err) return;
      // (a --dump tap writes these bytes too: only then is the chunk not reused)
      if (this.o.tap === undefined && this.free.length < 8) this.free.push(full);
      this.sent += count;
      this.backlog -= count;
      this.bytes += bytes.length;
      this.wake();
    });
  }

  async finish(timeoutMs: number): Promise<void> {
    this.flush(0, true);
    // woken by each write's callback: no polling delay at the end of a short run
    await until(() => this.backlog === 0 || this.failed, timeoutMs);
    if (!this.socket.closed) {
      const closed = new Promise<void>((r) => this.socket.once('close', () => r()));
      this.socket.end();
      await Promise.race([closed, sleep(1000)]);
    }
    this.socket.destroy();
  }
}

// ---- LSP/1 over TCP or TLS: HELLO, BATCH, ACK ----------------------------------------------------------

export class LspLane extends Lane {
  override readonly acks = true;
  private socket!: net.Socket;
  private readonly decoder = new FrameDecoder({ maxPayloadBytes: 1 << 20 });
  /** wire seq = local seq + base (base = what the receiver already holds for this stream, from HELLO's ACK) */
  private base = 0;
  private nextLocal = 1;
  /**
   * the open batch: its records are written after HEADER_SIZE bytes of room, where closeBatch puts the frame
   * header (encodeFrameInPlace); buffers whose frame the socket has written, free again
   */
  private buf: Buffer | undefined;
  private readonly free: Buffer[] = [];
  private pos = 0;
  private count = 0;
  private firstLocal = 1;
  private openedAt = 0;
  /** last local seq of every batch sent and not yet ACKed, in order */
  private inflight: number[] = [];
  private inflightHead = 0;
  private helloAck: ((seq: number) => void) | undefined;
  private readonly batchBytes: number;

  constructor(
    o: LaneOptions,
    private readonly secure: boolean,
  ) {
    super(o);
    this.batchBytes = Math.min(4 << 20, o.batchRecords * o.writer.maxOutputBytes);
  }

  override get stream(): number {
    return this.o.stream;
  }

  override get seqBase(): number {
    return this.base;
  }

  async connect(): Promise<void> {
    this.socket = await openSocket(this.o, this.secure);
    const acked = new Promise<number>((resolve) => (this.helloAck = resolve));
    this.socket.on('data', (chunk: Buffer) => {
      let frames;
      try {
        frames = this.decoder.push(chunk);
      } catch (err) {
        this.fail(err as Error);
        this.socket.destroy();
        return;
      }
      for (const f of frames) {
        if (f.type === FrameType.ACK) this.onAck(f.seq);
        else if (f.type === FrameType.NACK) {
          const nack = parseNack(f);
          this.fail(Object.assign(new Error(nack.message), { code: nack.code }));
        }
      }
    });
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => {
      if (!this.closing)
        this.fail(Object.assign(new Error('the receiver closed the connection'), { code: 'LS_ERR_CLOSED' }));
      this.helloAck?.(-1);
    });
    this.socket.on('drain', () => this.wake());
    this.socket.write(encodeHello(this.o.stream, { name: this.o.helloName }));
    const seq = await acked;
    if (seq < 0) throw new Error(this.lastError ?? 'connection closed before the HELLO was answered');
    this.base = seq;
  }

  private closing = false;

  private onAck(seq: number): void {
    if (this.helloAck) {
      const h = this.helloAck;
      this.helloAck = undefined;
      h(seq);
      return;
    }
    const local = seq - this.base;
    if (local <= this.acked) return;
    this.acked = Math.min(local, this.nextLocal - 1);
    this.waits.acked(this.acked, performance.now());
    while (this.inflightHead < this.inflight.length && this.inflight[this.inflightHead]! <= this.acked)
      this.inflightHead++;
    if (this.inflightHead > 1024 && this.inflightHead * 2 > this.inflight.length) {
      this.inflight = this.inflight.slice(this.inflightHead);
      this.inflightHead = 0;
    }
    this.wake();
  }

  private get inflightBatches(): number {
    return this.inflight.length - this.inflightHead;
  }

  room(): number {
    if (this.failed || this.socket.writableNeedDrain) return 0;
    const free = this.o.windowBatches - this.inflightBatches;
    return free > 0 ? free * this.o.batchRecords - this.count : 0;
  }

  push(n: number, dueAt: number): void {
    const w = this.o.writer;
    const max = this.o.batchRecords;
    this.pushed += n;
    this.backlog += n;
    while (n > 0) {
      if (!this.buf) {
        this.buf = this.free.pop() ?? Buffer.allocUnsafeSlow(HEADER_SIZE + this.batchBytes);
        this.pos = HEADER_SIZE;
        this.count = 0;
        this.firstLocal = this.nextLocal;
        this.openedAt = dueAt;
      }
      const k = w.fill(this.buf, this.pos, Math.min(n, max - this.count));
      if (k > 0) {
        this.waits.enter(this.nextLocal, k, dueAt);
        this.nextLocal += k;
        this.pos = w.end;
        this.count += k;
        n -= k;
      }
      if (k === 0 || this.count === max) this.closeBatch();
    }
  }

  flush(now: number, force: boolean): void {
    if (this.buf && this.count > 0 && (force || now - this.openedAt >= this.o.batchDelayMs)) this.closeBatch();
  }

  private closeBatch(): void {
    const buf = this.buf;
    this.buf = undefined;
    if (!buf || this.count === 0) return;
    // Issue 21.4: no allocation per batch. The records were written after room for the header, which is filled
    // in place; the buffer is reused once the socket has written the frame (a fresh frame per batch, 20-43 KiB,
    // was ~85-140 MB/s of external memory at half max, and the full GCs it caused — 32 in 10 s, up to 11 ms
    // each — stalled the open loop and the ACK clock both). A compressed payload is a new buffer: framed by
    // encodeFrame, which copies it, so the records' buffer is free at once. A --dump tap keeps the bytes.
    const count = this.count;
    const raw = buf.subarray(HEADER_SIZE, this.pos);
    this.o.tap?.(raw);
    const reuse = this.o.tap === undefined;
    const codec = this.o.codec;
    const init = {
      type: FrameType.BATCH,
      codec: codec?.id ?? 0,
      count,
      stream: this.o.stream,
      seq: this.base + this.firstLocal,
    };
    let frame: Buffer;
    let inPlace = false;
    if (codec && codec.id !== 0) {
      frame = encodeFrame({ ...init, payload: codec.compress(raw, this.o.level) });
      if (reuse) this.free.push(buf);
    } else {
      frame = encodeFrameInPlace(buf, raw.length, init);
      inPlace = reuse;
    }
    this.inflight.push(this.firstLocal + count - 1);
    this.frames++;
    if (this.failed) return;
    this.socket.write(frame, (err) => {
      if (inPlace) this.free.push(buf);
      if (err) return;
      this.sent += count;
      this.backlog -= count;
      this.bytes += frame.length;
    });
  }

  async finish(timeoutMs: number): Promise<void> {
    this.flush(0, true);
    await until(() => this.failed || (this.backlog === 0 && this.acked >= this.nextLocal - 1), timeoutMs);
    this.closing = true;
    this.socket.end();
    await until(() => this.socket.closed, 1000);
    this.socket.destroy();
  }
}

// ---- UDP: LSP/1 BATCH per datagram, or one syslog message per datagram ------------------------------------

const UDP_INFLIGHT = 256;

export class DatagramLane extends Lane {
  private socket!: dgram.Socket;
  private inflightSends = 0;
  private nextSeq = 1;
  private readonly chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  private readonly ends: Int32Array;

  constructor(
    o: LaneOptions,
    private readonly syslog: boolean,
  ) {
    super(o);
    this.ends = new Int32Array(Math.ceil(CHUNK_BYTES / 64));
  }

  override get stream(): number | undefined {
    return this.syslog ? undefined : this.o.stream;
  }

  async connect(): Promise<void> {
    this.socket = dgram.createSocket({ type: net.isIPv6(this.o.host) ? 'udp6' : 'udp4', sendBufferSize: 4 << 20 });
    this.socket.on('error', (err) => this.fail(err));
    await new Promise<void>((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.connect(this.o.port, this.o.host, () => {
        this.socket.off('error', reject);
        resolve();
      });
    });
  }

  room(): number {
    if (this.failed) return 0;
    const free = UDP_INFLIGHT - this.inflightSends;
    return free > 0 ? free * (this.syslog ? 1 : Math.min(this.o.batchRecords, 8)) : 0;
  }

  push(n: number): void {
    const w = this.o.writer;
    this.pushed += n;
    this.backlog += n;
    while (n > 0) {
      const k = w.fill(this.chunk, 0, Math.min(n, this.ends.length), this.ends);
      const bytes = this.chunk.subarray(0, w.end);
      this.o.tap?.(bytes);
      this.pack(bytes, k);
      n -= k;
    }
  }

  /** Cuts the chunk at record ends into datagrams that never pass --max-datagram (lessons/day10/README.md, UDP). */
  private pack(bytes: Buffer, k: number): void {
    const ends = this.ends;
    if (this.syslog) {
      let start = 0;
      for (let i = 0; i < k; i++) {
        const end = ends[i]!;
        this.send(Buffer.from(bytes.subarray(start, end - 1)), 1); // without the LF
        start = end;
      }
      return;
    }
    const maxPayload = this.o.maxDatagram - HEADER_SIZE;
    let start = 0;
    let i = 0;
    while (i < k) {
      let j = i;
      while (j < k && j - i < this.o.batchRecords && ends[j]! - start <= maxPayload) j++;
      if (j === i) j = i + 1; // cannot happen: records are capped to fit a datagram
      const end = ends[j - 1]!;
      const count = j - i;
      const frame = encodeFrame({
        type: FrameType.BATCH,
        count,
        stream: this.o.stream,
        seq: this.nextSeq,
        payload: bytes.subarray(start, end),
      });
      this.nextSeq += count;
      this.send(frame, count);
      start = end;
      i = j;
    }
  }

  private send(datagram: Buffer, count: number): void {
    this.frames++;
    if (this.failed) return;
    this.inflightSends++;
    this.socket.send(datagram, (err) => {
      this.inflightSends--;
      if (err) {
        this.errors++;
        this.lastError = `${(err as NodeJS.ErrnoException).code ?? 'ERROR'}: ${err.message}`;
      } else {
        this.sent += count;
        this.bytes += datagram.length;
      }
      this.backlog -= count;
      this.wake();
    });
  }

  flush(): void {}

  async finish(timeoutMs: number): Promise<void> {
    await until(() => this.inflightSends === 0, timeoutMs);
    this.socket.close();
  }
}

export function createLane(transport: Transport, o: LaneOptions): Lane {
  switch (transport) {
    case 'ndjson':
    case 'syslog-tcp':
      return new StreamLane(o);
    case 'lsp':
      return new LspLane(o, false);
    case 'lsp-tls':
      return new LspLane(o, true);
    case 'udp':
      return new DatagramLane(o, false);
    case 'syslog-udp':
      return new DatagramLane(o, true);
  }
}
