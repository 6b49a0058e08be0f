/**
 * Text framing (LSP/1 §2): one record per LF-terminated line.
 *
 * `LineDecoder` is fed socket chunks and calls `onLine` for every complete, non-empty line. It works on
 * bytes, never on strings, so a multi-byte UTF-8 character split across two chunks needs no special
 * care: the split can never fall on a LF (0x0A never occurs inside a multi-byte UTF-8 sequence).
 *
 * - A CR just before the LF is dropped; empty lines are ignored.
 * - A line longer than `maxLineBytes` (not counting CR/LF) is reported once through `onTooLong` as soon
 *   as we know it is too long, and its bytes are discarded up to the next LF; decoding then goes on.
 *   Memory stays bounded by about `maxLineBytes` whatever the peer sends.
 * - Speed: a line that lies inside one chunk is passed as a `subarray` view (no copy); only a line
 *   spanning chunks is copied, once, when its LF arrives.
 */
import { SAMPLE_BYTES } from '../../shared/protocol/limits.ts';
import { PendingBytes } from '../../shared/protocol/pending-bytes.ts';

const LF = 0x0a;
const CR = 0x0d;

export interface LineTooLongInfo {
  /** The first ≤256 bytes of the line (a copy: yours to keep). */
  sample: Buffer;
  /** Absolute stream offset of the line's first byte. */
  offset: number;
  /**
   * Bytes of the line seen when it was found too long: always > maxLineBytes. When the line was still
   * arriving this is a lower bound (the rest is discarded without being counted here).
   */
  bytes: number;
}

export interface LineDecoderOptions {
  /** Longest line accepted, in bytes, without its CR/LF (LSP/1: the record limit, 64 KiB). */
  maxLineBytes: number;
  /**
   * A complete, non-empty line without CR/LF. The Buffer may be a view into a pushed chunk: use it (or
   * copy it) before returning.
   */
  onLine: (line: Buffer) => void;
  /** A line over the limit (reason `line_too_long`), reported once. */
  onTooLong: (info: LineTooLongInfo) => void;
}

/** The first ≤256 bytes spread over `parts`, copied. */
function sampleOf(parts: readonly Buffer[]): Buffer {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = Buffer.allocUnsafe(Math.min(total, SAMPLE_BYTES));
  let w = 0;
  for (const p of parts) {
    if (w === out.length) break;
    w += p.copy(out, w, 0, Math.min(p.length, out.length - w));
  }
  return out;
}

export class LineDecoder {
  private readonly maxLineBytes: number;
  private readonly onLine: (line: Buffer) => void;
  private readonly onTooLong: (info: LineTooLongInfo) => void;
  /** The line in progress (views of earlier chunks, small ones copied). */
  private readonly pending = new PendingBytes();
  /** True while skipping the rest of a too-long line up to its LF. */
  private discarding = false;
  /** Absolute offset of the first byte of the line in progress. */
  private lineStart = 0;
  /** Absolute offset of the next chunk's first byte (bytes pushed so far). */
  private pushed = 0;

  constructor(opts: LineDecoderOptions) {
    this.maxLineBytes = opts.maxLineBytes;
    this.onLine = opts.onLine;
    this.onTooLong = opts.onTooLong;
  }

  /** Bytes held for an incomplete line (never much more than maxLineBytes). */
  get bufferedBytes(): number {
    return this.pending.length;
  }

  /** A copy of the first ≤256 bytes of the incomplete line (for a reject sample when a peer is cut). */
  buffered(): Buffer {
    return sampleOf(this.pending.parts);
  }

  /** Bytes pushed so far. */
  get offset(): number {
    return this.pushed;
  }

  /**
   * Add a chunk; calls onLine/onTooLong synchronously, in stream order. If a callback throws, the
   * exception propagates and the rest of that chunk is dropped.
   */
  push(chunk: Buffer): void {
    const base = this.pushed;
    this.pushed += chunk.length;
    const len = chunk.length;
    let pos = 0;

    if (this.discarding || this.pending.length > 0) {
      const lf = chunk.indexOf(LF);
      if (lf === -1) {
        if (!this.discarding) {
          this.pending.push(chunk);
          this.checkOverflow();
        }
        return;
      }
      pos = lf + 1;
      if (this.discarding) {
        this.discarding = false;
      } else {
        this.finishSpanning(chunk.subarray(0, lf));
      }
    }

    // Fast path: every complete line in the chunk is a view.
    const max = this.maxLineBytes;
    while (pos < len) {
      const lf = chunk.indexOf(LF, pos);
      if (lf === -1) {
        this.lineStart = base + pos;
        this.pending.push(pos === 0 ? chunk : chunk.subarray(pos));
        this.checkOverflow();
        return;
      }
      const start = pos;
      const end = lf > start && chunk[lf - 1] === CR ? lf - 1 : lf;
      pos = lf + 1;
      if (end === start) continue;
      if (end - start > max) {
        this.onTooLong({ sample: sampleOf([chunk.subarray(start, end)]), offset: base + start, bytes: end - start });
      } else {
        this.onLine(chunk.subarray(start, end));
      }
    }
  }

  /** End of input: a final line without LF is still a line (not an error). */
  end(): void {
    if (this.discarding) {
      this.discarding = false;
      return;
    }
    if (this.pending.length > 0) this.finishSpanning(null);
  }

  /** The line in progress ends with `last` (the bytes before its LF in the current chunk), or here. */
  private finishSpanning(last: Buffer | null): void {
    if (last !== null) this.pending.push(last);
    const { parts, length: total } = this.pending;
    const offset = this.lineStart;
    this.pending.clear(); // `parts` stays intact: clear() starts a new list and a new accumulator
    // A line this long is too long even if its last byte is a CR: report it without joining it.
    if (total > this.maxLineBytes + 1) {
      this.onTooLong({ sample: sampleOf(parts), offset, bytes: total });
      return;
    }
    let line = parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
    if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    if (line.length === 0) return;
    if (line.length > this.maxLineBytes) {
      this.onTooLong({ sample: sampleOf([line]), offset, bytes: line.length });
    } else {
      this.onLine(line);
    }
  }

  /** Once the unterminated line is longer than maxLineBytes + 1 (room for a CR), it is too long. */
  private checkOverflow(): void {
    if (this.pending.length <= this.maxLineBytes + 1) return;
    const info: LineTooLongInfo = {
      sample: sampleOf(this.pending.parts),
      offset: this.lineStart,
      bytes: this.pending.length,
    };
    this.pending.clear();
    this.discarding = true;
    this.onTooLong(info);
  }
}
