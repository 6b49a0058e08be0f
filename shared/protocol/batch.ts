/**
 * BATCH payloads (LSP/1 §3): `count` records as NDJSON, compressed with the frame's codec.
 * Record i (from 0) has seq `frame.seq + i`, so the record count must match the payload exactly.
 *
 * Decoding takes uncompressed payloads (codec 0) by itself. A compressed one is decoded by the function
 * the receiver passes (`decodePayload`), which must bound what it produces (shared/protocol/README.md §5: a few KiB can
 * inflate to GiBs); without one, a compressed BATCH is refused (LS_ERR_CODEC_UNAVAILABLE).
 */
import { LsError, LS_ERR } from './errors.ts';
import { CODECS, usableCodec } from './codecs.ts';
import { encodeFrame, FrameType, type Frame } from './frame.ts';
import { DEFAULT_MAX_DECODED_BYTES, MAX_BATCH_COUNT } from './limits.ts';

const LF = 0x0a;
const CR = 0x0d;

/**
 * Records → NDJSON bytes, one record per line, final LF included. Each record must be one line: a record
 * holding a LF would shift every later seq, so it is refused (LS_ERR_PAYLOAD).
 */
export function encodeBatchPayload(records: readonly string[]): Buffer {
  if (records.length === 0) return Buffer.alloc(0);
  let chars = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    if (r.includes('\n')) {
      throw new LsError(LS_ERR.LS_ERR_PAYLOAD, `record ${i} contains a line feed; a record is one line`);
    }
    chars += r.length;
  }
  // Encoding each record straight into one buffer is several times faster than join + Buffer.from.
  // Log records are mostly ASCII, so size for that and grow only when a record needs more room.
  let buf = Buffer.allocUnsafe(chars + records.length + 64);
  let pos = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    if (buf.length - pos < r.length * 3 + 1) {
      const need = pos + Buffer.byteLength(r) + 1;
      if (need > buf.length) {
        const bigger = Buffer.allocUnsafe(Math.max(need, buf.length * 2));
        buf.copy(bigger, 0, 0, pos);
        buf = bigger;
      }
    }
    pos += buf.write(r, pos);
    buf[pos++] = 0x0a;
  }
  return buf.subarray(0, pos);
}

export interface EncodeBatchOptions {
  stream: number;
  /** Seq of the first record. */
  seq: number;
  records: readonly string[];
  /** Codec id (default 0, none). */
  codec?: number;
  /** Compression level for the codec (default: the codec's default). */
  level?: number;
}

/** A complete BATCH frame: NDJSON payload, compressed, with count = records.length. */
export function encodeBatch(opts: EncodeBatchOptions): Buffer {
  const codecId = opts.codec ?? 0;
  const count = opts.records.length;
  if (count < 1 || count > MAX_BATCH_COUNT) {
    throw new LsError(LS_ERR.LS_ERR_COUNT, `a BATCH holds 1..${MAX_BATCH_COUNT} records, got ${count}`);
  }
  const raw = encodeBatchPayload(opts.records);
  const payload = codecId === 0 ? raw : usableCodec(codecId).compress(raw, opts.level);
  return encodeFrame({ type: FrameType.BATCH, codec: codecId, count, stream: opts.stream, seq: opts.seq, payload });
}

/**
 * Turns a BATCH frame's payload into its NDJSON bytes, never more than `maxDecodedBytes` of them: throws
 * an LsError (LS_ERR_TOO_LARGE past the limit, LS_ERR_DECODE when the payload does not decode,
 * LS_ERR_CODEC_UNAVAILABLE for a codec it does not take). Called for every BATCH, codec 0 included.
 */
export type PayloadDecoder = (frame: Frame, maxDecodedBytes: number) => Buffer;

export interface DecodeBatchLimits {
  /** Largest decoded payload; a payload inflating past it is LS_ERR_TOO_LARGE. Default 32 MiB. */
  maxDecodedBytes?: number;
  /** How payloads are decoded; default: codec 0 only (uncompressedOnly). */
  decodePayload?: PayloadDecoder | undefined;
}

/** The default PayloadDecoder: the payload as it is (codec 0), within the limit; a compressed one is refused. */
export const uncompressedOnly: PayloadDecoder = (frame, max) => {
  if (frame.codec !== 0) {
    const name = CODECS.get(frame.codec)?.name ?? `#${frame.codec}`;
    throw new LsError(
      LS_ERR.LS_ERR_CODEC_UNAVAILABLE,
      `codec ${name}: this receiver takes uncompressed batches only (codec 0, none)`,
    );
  }
  if (frame.payload.length > max) {
    throw new LsError(LS_ERR.LS_ERR_TOO_LARGE, `payload of ${frame.payload.length} bytes is over ${max}`);
  }
  return frame.payload;
};

/**
 * Decode a BATCH's payload (`limits.decodePayload`, default codec 0 only) and split it into exactly
 * `frame.count` record lines (final LF optional, a CR before a LF dropped). Lines are views into the
 * decoded payload. Whether each line is a valid record is not checked here (see validateRecord): a bad
 * record is rejected on its own, it does not fail the batch.
 *
 * Errors, all fatal for the connection: LS_ERR_TYPE (not a BATCH), LS_ERR_CODEC_UNAVAILABLE (a codec not
 * taken), LS_ERR_DECODE (does not decompress), LS_ERR_TOO_LARGE (decodes past the limit), LS_ERR_COUNT
 * (line count ≠ count), and whatever else `decodePayload` throws.
 */
export function decodeBatch(frame: Frame, limits: DecodeBatchLimits = {}): Buffer[] {
  if (frame.type !== FrameType.BATCH) {
    throw new LsError(LS_ERR.LS_ERR_TYPE, `expected a BATCH frame, got type ${String(frame.type)}`);
  }
  const max = limits.maxDecodedBytes ?? DEFAULT_MAX_DECODED_BYTES;
  const data = (limits.decodePayload ?? uncompressedOnly)(frame, max);
  const count = frame.count;
  const lines: Buffer[] = new Array<Buffer>(count);
  let n = 0;
  let pos = 0;
  const len = data.length;
  while (pos < len) {
    let lf = data.indexOf(LF, pos);
    if (lf === -1) lf = len; // last line without its final LF
    if (n === count) {
      throw new LsError(LS_ERR.LS_ERR_COUNT, `BATCH declares ${count} records but holds more`);
    }
    const end = lf > pos && data[lf - 1] === CR ? lf - 1 : lf;
    lines[n++] = data.subarray(pos, end);
    pos = lf + 1;
  }
  if (n !== count) {
    throw new LsError(LS_ERR.LS_ERR_COUNT, `BATCH declares ${count} records but holds ${n}`);
  }
  return lines;
}
