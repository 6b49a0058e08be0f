/**
 * Text framing (LSP/1 §2): one record per LF-terminated line.
 *
 * `LineDecoder` is fed socket chunks and calls `onLine` for every complete, non-empty line. It works on
 * bytes, never on strings, so a multi-byte UTF-8 character split across two chunks needs no special
 * care: the split can never fall on a LF (0x0A never occurs inside a multi-byte UTF-8 sequence).
 *
 * - A CR just before the LF is dropped; empty lines are ignored.
 * - A line longer than `maxLineBytes` (not counting CR/LF) is reported once through `onTooLong` as soon
 *   as we know it is too long, and its bytes are discarded up to the next LF; decoding then goes on
 *   on the same connection. Memory stays bounded by about `maxLineBytes` whatever the peer sends.
 * - At the end of the stream, a final line without LF is still a line.
 * - Speed: a line that lies inside one chunk is passed as a `subarray` view (no copy); only a line
 *   spanning chunks is copied, once, when its LF arrives.
 *
 * How the work is split: `push` finds the line ends in each chunk and passes every complete line to
 * `line()`; the bytes after the chunk's last LF start a line still arriving, kept with `hold()` until
 * its LF comes (`completeHeld()`, which gets them back from `takeHeld()`). The line limit lives in
 * `hold`, `takeHeld` and `line` [d08.5]; the framing in `push`, `completeHeld` and `end` [d08.2–d08.4, d08.8].
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
  /** The line in progress: its bytes from earlier chunks (views of them; small ones copied together). */
  private readonly pending = new PendingBytes();
  /** True while the rest of a too-long line is skipped up to its LF (its bytes are not held). */
  private skipping = false;
  /** Absolute stream offset of the first byte of the line in progress. */
  private lineStart = 0;
  /** Bytes pushed so far: the absolute offset of the next chunk's first byte. */
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

  /** True while a line is in progress: bytes held from earlier chunks, or a too-long line being skipped. */
  private get inProgress(): boolean {
    return this.pending.length > 0 || this.skipping;
  }

  // ---- framing [d08.2, d08.3, d08.4, d08.8] ----------------------------------------------------------

  /**
   * Adds a chunk; calls onLine/onTooLong synchronously, in stream order, for every line it completes.
   * A line is the bytes before a LF, without one CR just before the LF; an empty line is skipped. The
   * line in progress from earlier chunks ends at this chunk's first LF; the bytes after its last LF are
   * the start of the next line (`hold` them, and set `lineStart`). Every complete line goes to `line()`.
   * If a callback throws, the exception propagates and the rest of that chunk is dropped.
   */
  push(chunk: Buffer): void {
    // @solution [d08.2, d08.3, d08.4] split the chunk into lines, keeping the partial tail
    // @stub void chunk;
    const base = this.pushed;
    this.pushed += chunk.length;
    let pos = 0;
    if (this.inProgress) {
      const lf = chunk.indexOf(LF);
      if (lf === -1) {
        this.hold(chunk);
        return;
      }
      this.hold(chunk.subarray(0, lf));
      this.completeHeld();
      pos = lf + 1;
    }
    // Every line that lies inside this chunk is passed on as a view of it: no copy.
    while (pos < chunk.length) {
      const lf = chunk.indexOf(LF, pos);
      if (lf === -1) {
        this.lineStart = base + pos;
        this.hold(pos === 0 ? chunk : chunk.subarray(pos));
        return;
      }
      const end = lf > pos && chunk[lf - 1] === CR ? lf - 1 : lf;
      if (end > pos) this.line(chunk.subarray(pos, end), base + pos);
      pos = lf + 1;
    }
    // @end-solution
  }

  /** End of input: a line still in progress is complete now, even without its LF (not an error). */
  end(): void {
    // @solution [d08.8] at the end of the stream, the line in progress is a final line
    if (this.inProgress) this.completeHeld();
    // @end-solution
  }

  /** The line in progress is complete (its LF came, or the stream ended): pass it on like any other. */
  private completeHeld(): void {
    // @solution [d08.3, d08.4, d08.8] take the held bytes back, drop a CR at their end, pass a non-empty line to line()
    // @stub this.pending.clear();
    const offset = this.lineStart;
    let line = this.takeHeld();
    if (line === null) return;
    if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    if (line.length > 0) this.line(line, offset);
    // @end-solution
  }

  // ---- the line limit [d08.5] ------------------------------------------------------------------------

  /**
   * Adds bytes to the line in progress. Memory must stay bounded whatever the peer sends: once the held
   * line is over `maxLineBytes + 1` (room for a CR before its LF) it is too long for certain.
   */
  private hold(bytes: Buffer): void {
    // @solution [d08.5] enforce the line limit: report an over-long line once (onTooLong, from lineStart), drop its bytes, skip to the next LF
    // @stub this.pending.push(bytes);
    if (this.skipping) return;
    this.pending.push(bytes);
    if (this.pending.length <= this.maxLineBytes + 1) return;
    const info: LineTooLongInfo = {
      sample: sampleOf(this.pending.parts),
      offset: this.lineStart,
      bytes: this.pending.length,
    };
    this.pending.clear();
    this.skipping = true;
    this.onTooLong(info);
    // @end-solution
  }

  /** The held line's bytes, forgotten here (one Buffer); null when the line was skipped as too long. */
  private takeHeld(): Buffer | null {
    const { parts, length } = this.pending;
    this.pending.clear(); // `parts` stays intact: clear() starts a new list
    // @solution [d08.5] a skipped line ends at its LF: stop skipping, and there is no line to pass on
    // @stub return Buffer.concat(parts, length);
    if (this.skipping) {
      this.skipping = false;
      return null;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, length);
    // @end-solution
  }

  /** A complete line (no CR/LF, not empty) starting at stream offset `offset`. */
  private line(line: Buffer, offset: number): void {
    // @solution [d08.5] a line over maxLineBytes goes to onTooLong (once, with a sample), never to onLine
    // @stub void offset;
    // @stub this.onLine(line);
    if (line.length > this.maxLineBytes) {
      this.onTooLong({ sample: sampleOf([line]), offset, bytes: line.length });
    } else {
      this.onLine(line);
    }
    // @end-solution
  }
}
