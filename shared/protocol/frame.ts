/**
 * LSP/1 binary frames (§3): a 28-byte big-endian header followed by the payload.
 *
 * `encodeFrame` turns a frame description into bytes; `FrameDecoder` is fed whatever chunks the socket
 * hands us and returns the complete frames, validating each header as soon as its 28 bytes are there and
 * each CRC as soon as the payload is. Pure code: no sockets, timers or logging (CONVENTIONS.md §4).
 *
 *   offset  size  field     offset  size  field
 *        0     2  magic "LS"     8     4  stream (u32)
 *        2     1  version 1     12     8  seq (u64, kept as a JS number: at most 2^53 - 1)
 *        3     1  type          20     4  length of the payload as sent
 *        4     1  codec         24     4  CRC-32 of the payload as sent
 *        5     1  flags (0)     28     …  payload
 *        6     2  count
 */
import zlib from 'node:zlib';
import { isUtf8 } from 'node:buffer';
import { LsError, LS_ERR, type LsErrorCode } from './errors.ts';
import { CODECS } from './codecs.ts';
import { DEFAULT_MAX_PAYLOAD_BYTES, MAX_BATCH_COUNT } from './limits.ts';
import { PendingBytes } from './pending-bytes.ts';

export const MAGIC = 0x4c53;
export const VERSION = 1;
export const HEADER_SIZE = 28;

export enum FrameType {
  HELLO = 1,
  BATCH = 2,
  ACK = 3,
  NACK = 4,
  PING = 5,
  PONG = 6,
}

/** Byte offsets of the header fields; error offsets point at these. */
export const FIELD = {
  magic: 0,
  version: 2,
  type: 3,
  codec: 4,
  flags: 5,
  count: 6,
  stream: 8,
  seq: 12,
  length: 20,
  crc: 24,
} as const;

export interface Frame {
  type: FrameType;
  codec: number;
  flags: number;
  count: number;
  stream: number;
  seq: number;
  /** The payload as sent (still compressed). May be a view into a chunk given to FrameDecoder.push. */
  payload: Buffer;
}

export interface FrameInit {
  type: FrameType;
  codec?: number;
  count?: number;
  stream?: number;
  seq?: number;
  payload?: Buffer;
}

/** HELLO payload: `name` is required, anything else is carried along. */
export interface Hello {
  name: string;
  [key: string]: unknown;
}

/** NACK payload. `code` is whatever the peer sent; check it with isLsErrorCode if you need to. */
export interface Nack {
  code: string;
  message: string;
}

const EMPTY: Buffer = Buffer.alloc(0);
const U32_SPAN = 0x1_0000_0000;
/** Largest high 32-bit word of a seq that keeps it a safe integer (2^53 - 1 = 0x1FFFFF_FFFFFFFF). */
const MAX_SEQ_HI = 0x1f_ffff;

function fail(code: LsErrorCode, message: string, offset?: number): never {
  throw new LsError(code, message, offset === undefined ? undefined : { offset });
}

function isU32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n < U32_SPAN;
}

/**
 * Encode one frame. Fills in version, flags, length and CRC; validates what the caller chose (type,
 * codec, count, stream, seq) by the same rules the decoder applies, so we never send what a receiver
 * would refuse. Does not compress: pass the payload as it should go on the wire (see encodeBatch).
 */
export function encodeFrame(f: FrameInit): Buffer {
  const payload = f.payload ?? EMPTY;
  const out = Buffer.allocUnsafe(HEADER_SIZE + payload.length);
  payload.copy(out, HEADER_SIZE);
  return writeHeader(out, payload, f);
}

/**
 * encodeFrame for a payload already in place: `out[HEADER_SIZE, HEADER_SIZE + payloadBytes)` holds it (a
 * sender that writes its records straight after room for the header — day 14's load generator, issue
 * 21.4: no frame allocated and no payload copied per batch). Fills in the header; returns the frame, a view
 * of `out`. The same checks as encodeFrame.
 */
export function encodeFrameInPlace(out: Buffer, payloadBytes: number, f: Omit<FrameInit, 'payload'>): Buffer {
  return writeHeader(out, out.subarray(HEADER_SIZE, HEADER_SIZE + payloadBytes), f);
}

/** Checks `f` and writes the header for `payload` (which is, or is copied to, out[HEADER_SIZE…]). */
function writeHeader(out: Buffer, payload: Buffer, f: Omit<FrameInit, 'payload'>): Buffer {
  const type = f.type;
  const codec = f.codec ?? 0;
  const count = f.count ?? 0;
  const stream = f.stream ?? 0;
  const seq = f.seq ?? 0;

  if (!Number.isInteger(type) || type < FrameType.HELLO || type > FrameType.PONG) {
    fail(LS_ERR.LS_ERR_TYPE, `frame type must be 1..6, got ${String(type)}`);
  }
  if (!CODECS.has(codec)) fail(LS_ERR.LS_ERR_CODEC, `unknown codec id ${String(codec)}`);
  if (codec !== 0 && type !== FrameType.BATCH) {
    fail(LS_ERR.LS_ERR_CODEC, `codec ${codec} on a ${FrameType[type]} frame: only BATCH payloads are compressed`);
  }
  if (type === FrameType.BATCH) {
    if (!Number.isInteger(count) || count < 1 || count > MAX_BATCH_COUNT) {
      fail(LS_ERR.LS_ERR_COUNT, `BATCH count must be 1..${MAX_BATCH_COUNT}, got ${String(count)}`);
    }
  } else if (count !== 0) {
    fail(LS_ERR.LS_ERR_COUNT, `count must be 0 on a ${FrameType[type]} frame, got ${String(count)}`);
  }
  if (!isU32(stream)) fail(LS_ERR.LS_ERR_PAYLOAD, `stream id must be a u32, got ${String(stream)}`);
  if (!Number.isSafeInteger(seq) || seq < 0) {
    fail(LS_ERR.LS_ERR_SEQ, `seq must be an integer in 0..Number.MAX_SAFE_INTEGER, got ${String(seq)}`);
  }
  if (type === FrameType.BATCH && seq > Number.MAX_SAFE_INTEGER - (count - 1)) {
    fail(LS_ERR.LS_ERR_SEQ, `the last record's seq ${seq} + ${count - 1} is past Number.MAX_SAFE_INTEGER`);
  }
  if (payload.length >= U32_SPAN)
    fail(LS_ERR.LS_ERR_TOO_LARGE, `payload of ${payload.length} bytes needs over 32 bits`);

  out.writeUInt16BE(MAGIC, 0);
  out[2] = VERSION;
  out[3] = type;
  out[4] = codec;
  out[5] = 0;
  out.writeUInt16BE(count, 6);
  out.writeUInt32BE(stream, 8);
  out.writeUInt32BE(Math.floor(seq / U32_SPAN), 12);
  out.writeUInt32BE(seq >>> 0, 16);
  out.writeUInt32BE(payload.length, 20);
  out.writeUInt32BE(zlib.crc32(payload), 24);
  return out.length === HEADER_SIZE + payload.length ? out : out.subarray(0, HEADER_SIZE + payload.length);
}

function jsonPayload(value: unknown, what: string): Buffer {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new LsError(LS_ERR.LS_ERR_PAYLOAD, `${what} payload is not JSON-encodable`, { cause: err });
  }
  if (text === undefined) fail(LS_ERR.LS_ERR_PAYLOAD, `${what} payload is not JSON-encodable`);
  return Buffer.from(text, 'utf8');
}

/** HELLO: the first frame a shipper sends on a connection, naming itself. The receiver answers with an ACK. */
export function encodeHello(stream: number, hello: Hello): Buffer {
  if (typeof hello?.name !== 'string') fail(LS_ERR.LS_ERR_PAYLOAD, 'HELLO needs a string "name"');
  return encodeFrame({ type: FrameType.HELLO, stream, payload: jsonPayload(hello, 'HELLO') });
}

/** ACK: every record of `stream` with seq ≤ `seq` is durable (cumulative). */
export function encodeAck(stream: number, seq: number): Buffer {
  return encodeFrame({ type: FrameType.ACK, stream, seq });
}

/** NACK: a fatal error on this connection; the sender closes it right after. */
export function encodeNack(stream: number, code: string, message: string): Buffer {
  if (typeof code !== 'string' || typeof message !== 'string') {
    fail(LS_ERR.LS_ERR_PAYLOAD, 'NACK needs a string code and a string message');
  }
  return encodeFrame({ type: FrameType.NACK, stream, payload: jsonPayload({ code, message }, 'NACK') });
}

/** PING: keepalive; the token travels in the seq field and comes back in the PONG. */
export function encodePing(token: number): Buffer {
  return encodeFrame({ type: FrameType.PING, seq: token });
}

export function encodePong(token: number): Buffer {
  return encodeFrame({ type: FrameType.PONG, seq: token });
}

function parseJsonObject(frame: Frame, type: FrameType): Record<string, unknown> {
  if (frame.type !== type) {
    fail(LS_ERR.LS_ERR_TYPE, `expected a ${FrameType[type]} frame, got type ${String(frame.type)}`);
  }
  const what = FrameType[type];
  if (!isUtf8(frame.payload)) fail(LS_ERR.LS_ERR_PAYLOAD, `${what} payload is not UTF-8`);
  let value: unknown;
  try {
    value = JSON.parse(frame.payload.toString('utf8'));
  } catch (err) {
    throw new LsError(LS_ERR.LS_ERR_PAYLOAD, `${what} payload is not JSON`, { cause: err });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(LS_ERR.LS_ERR_PAYLOAD, `${what} payload is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** The HELLO's JSON payload; LS_ERR_PAYLOAD unless it is an object with a string `name`. */
export function parseHello(frame: Frame): Hello {
  const obj = parseJsonObject(frame, FrameType.HELLO);
  if (typeof obj['name'] !== 'string') fail(LS_ERR.LS_ERR_PAYLOAD, 'HELLO payload has no string "name"');
  return obj as Hello;
}

/** The NACK's JSON payload; LS_ERR_PAYLOAD unless it has a string `code` and a string `message`. */
export function parseNack(frame: Frame): Nack {
  const obj = parseJsonObject(frame, FrameType.NACK);
  const { code, message } = obj;
  if (typeof code !== 'string' || typeof message !== 'string') {
    fail(LS_ERR.LS_ERR_PAYLOAD, 'NACK payload needs a string "code" and a string "message"');
  }
  return { code, message };
}

export interface FrameDecoderOptions {
  /** Largest payload (as sent) accepted; a header declaring more fails at once. Default 4 MiB. */
  maxPayloadBytes?: number;
}

/**
 * Turns a byte stream into frames. Feed it every chunk in order; it returns the frames each chunk
 * completes.
 *
 * - A header is checked as soon as its 28 bytes have arrived, before waiting for the payload, so a
 *   frame declaring 4 GiB is refused without buffering anything. The CRC is checked once the payload
 *   is complete.
 * - Any error is an LsError whose `offset` is the absolute stream offset of the faulty field. The
 *   decoder is then dead: every later push throws the same error (a framing error is fatal, LSP/1 §3).
 * - Speed: a frame that lies inside one chunk is returned with its payload as a `subarray` of that
 *   chunk (no copy). Only a frame spanning chunks is copied, once, when its last byte arrives. So the
 *   caller must not reuse or mutate chunks it has pushed (socket chunks are fine).
 */
export class FrameDecoder {
  readonly maxPayloadBytes: number;
  /** The start of an incomplete frame (views of chunks, small ones copied), in order. */
  private readonly pending = new PendingBytes();
  /** Absolute stream offset of the first byte not yet returned as part of a frame. */
  private consumed = 0;
  /** Header of the incomplete frame, once its 28 bytes have been validated. */
  private head: Frame | null = null;
  private headLength = 0;
  private headCrc = 0;
  private failure: LsError | null = null;
  private readonly scratch = Buffer.alloc(HEADER_SIZE);

  constructor(opts: FrameDecoderOptions = {}) {
    this.maxPayloadBytes = opts.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  }

  /** Bytes received but not yet returned as part of a frame. */
  get bufferedBytes(): number {
    return this.pending.length;
  }

  /** Bytes consumed so far: the absolute stream offset where the next frame starts. */
  get offset(): number {
    return this.consumed;
  }

  /** The error that killed this decoder, if any. */
  get error(): LsError | null {
    return this.failure;
  }

  /**
   * Add a chunk; return the frames it completes (in order). Frames are appended to `out` when given, so
   * a caller that passes its own array still has the good frames decoded before an error is thrown.
   */
  push(chunk: Buffer, out: Frame[] = []): Frame[] {
    if (this.failure !== null) throw this.failure;
    try {
      this.decode(chunk, out);
    } catch (err) {
      this.failure =
        err instanceof LsError ? err : new LsError(LS_ERR.LS_ERR_DECODE, 'frame decoder failed', { cause: err });
      throw this.failure;
    }
    return out;
  }

  private decode(chunk: Buffer, out: Frame[]): void {
    if (chunk.length === 0) return;
    let buf = chunk;
    let pos = 0;

    const pending = this.pending;
    if (pending.length > 0) {
      // Slow path: we hold the start of a frame from earlier chunks.
      pending.push(chunk);
      if (this.head === null) {
        if (pending.length < HEADER_SIZE) return;
        this.head = this.readHeader(this.gatherHeader(), 0);
      }
      if (pending.length < HEADER_SIZE + this.headLength) return;
      // The frame is complete. Before `chunk` we were short of it, so any surplus lies in the last part.
      buf = this.assemble(this.head, out);
      pending.clear();
    }

    // Fast path: whole frames inside `buf` come out as views, no copying.
    while (buf.length - pos >= HEADER_SIZE) {
      const frame = this.readHeader(buf, pos);
      const end = pos + HEADER_SIZE + this.headLength;
      if (end > buf.length) {
        this.head = frame;
        break;
      }
      const payload = buf.subarray(pos + HEADER_SIZE, end);
      this.checkCrc(payload);
      frame.payload = payload;
      out.push(frame);
      this.consumed += end - pos;
      pos = end;
    }
    if (pos < buf.length) pending.push(pos === 0 ? buf : buf.subarray(pos));
  }

  /** Copy the first 28 pending bytes (spread over chunks) into the scratch buffer. */
  private gatherHeader(): Buffer {
    let w = 0;
    for (const c of this.pending.parts) {
      const n = Math.min(HEADER_SIZE - w, c.length);
      c.copy(this.scratch, w, 0, n);
      w += n;
      if (w === HEADER_SIZE) break;
    }
    return this.scratch;
  }

  /** Copy the pending frame's payload into one buffer, emit the frame, return what follows it. */
  private assemble(frame: Frame, out: Frame[]): Buffer {
    const len = this.headLength;
    const payload = len === 0 ? EMPTY : Buffer.allocUnsafe(len);
    let skip = HEADER_SIZE;
    let w = 0;
    let rest: Buffer = EMPTY;
    for (const c of this.pending.parts) {
      let start = 0;
      if (skip > 0) {
        if (c.length <= skip) {
          skip -= c.length;
          continue;
        }
        start = skip;
        skip = 0;
      }
      const n = Math.min(len - w, c.length - start);
      c.copy(payload, w, start, start + n);
      w += n;
      if (w === len) {
        rest = c.subarray(start + n);
        break;
      }
    }
    this.checkCrc(payload);
    frame.payload = payload;
    this.head = null;
    this.consumed += HEADER_SIZE + len;
    out.push(frame);
    return rest;
  }

  private checkCrc(payload: Buffer): void {
    const crc = zlib.crc32(payload);
    if (crc !== this.headCrc) {
      fail(
        LS_ERR.LS_ERR_CRC,
        `CRC-32 mismatch: header says 0x${this.headCrc.toString(16).padStart(8, '0')}, ` +
          `payload has 0x${crc.toString(16).padStart(8, '0')}`,
        this.consumed + FIELD.crc,
      );
    }
  }

  /** Validate the 28 header bytes at buf[p]; sets headLength/headCrc and returns the frame sans payload. */
  private readHeader(buf: Buffer, p: number): Frame {
    const at = this.consumed;
    if (buf[p] !== 0x4c || buf[p + 1] !== 0x53) {
      fail(LS_ERR.LS_ERR_MAGIC, `bad magic 0x${buf.toString('hex', p, p + 2)}, expected 0x4c53 ("LS")`, at);
    }
    const version = buf[p + 2]!;
    if (version !== VERSION) fail(LS_ERR.LS_ERR_VERSION, `unsupported version ${version}`, at + FIELD.version);
    const type = buf[p + 3]! as FrameType; // a raw byte, checked against the enum's range next
    if (type < FrameType.HELLO || type > FrameType.PONG) {
      fail(LS_ERR.LS_ERR_TYPE, `unknown frame type ${type}`, at + FIELD.type);
    }
    const codec = buf[p + 4]!;
    if (!CODECS.has(codec)) fail(LS_ERR.LS_ERR_CODEC, `unknown codec id ${codec}`, at + FIELD.codec);
    if (codec !== 0 && type !== FrameType.BATCH) {
      fail(LS_ERR.LS_ERR_CODEC, `codec ${codec} on a ${FrameType[type]} frame`, at + FIELD.codec);
    }
    const flags = buf[p + 5]!;
    if (flags !== 0)
      fail(LS_ERR.LS_ERR_FLAGS, `flags 0x${flags.toString(16)} set; version 1 has none`, at + FIELD.flags);
    const count = buf.readUInt16BE(p + 6);
    if (type === FrameType.BATCH ? count === 0 : count !== 0) {
      fail(
        LS_ERR.LS_ERR_COUNT,
        type === FrameType.BATCH ? 'BATCH with count 0' : `count ${count} on a ${FrameType[type]} frame`,
        at + FIELD.count,
      );
    }
    const stream = buf.readUInt32BE(p + 8);
    const seqHi = buf.readUInt32BE(p + 12);
    if (seqHi > MAX_SEQ_HI) fail(LS_ERR.LS_ERR_SEQ, 'seq above Number.MAX_SAFE_INTEGER', at + FIELD.seq);
    const seq = seqHi * U32_SPAN + buf.readUInt32BE(p + 16);
    if (type === FrameType.BATCH && seq > Number.MAX_SAFE_INTEGER - (count - 1)) {
      fail(LS_ERR.LS_ERR_SEQ, 'last record seq above Number.MAX_SAFE_INTEGER', at + FIELD.seq);
    }
    const length = buf.readUInt32BE(p + 20);
    if (length > this.maxPayloadBytes) {
      fail(
        LS_ERR.LS_ERR_TOO_LARGE,
        `payload length ${length} is over the limit of ${this.maxPayloadBytes} bytes`,
        at + FIELD.length,
      );
    }
    this.headLength = length;
    this.headCrc = buf.readUInt32BE(p + 24);
    return { type: type, codec, flags, count, stream, seq, payload: EMPTY };
  }
}
