/**
 * RFC 6587 framing, the syslog lane's TCP/TLS input: a byte stream cut into syslog messages, octet
 * counting (`LEN SP MSG`) and LF framing told apart per message. (A UDP datagram is one message: no
 * framing; the message itself is read by shared/protocol/syslog/scan.ts and writer.ts.)
 *
 * The LF-framed messages are day 08's lines, with day 08's limit: that part is day 08's LineDecoder
 * (lessons/day08/line-decoder.ts), fed one message at a time (up to and including its LF) so that the
 * next message may be octet-counted again. What is the syslog lane's own: the count, exact skipping of
 * a count over the limit, resynchronising after a broken count, and the reasons (shared/protocol/syslog/
 * errors.ts: `syslog_too_large` is day 08's `line_too_long`).
 */
import { LineDecoder, type LineTooLongInfo } from '../day08/line-decoder.ts';
import { SAMPLE_BYTES } from '../../shared/protocol/limits.ts';
import { SYSLOG_ERR, type SyslogErrorCode, type SyslogReason } from '../../shared/protocol/syslog/errors.ts';

const SP = 0x20;
const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;

const EMPTY = Buffer.alloc(0);
/** The assembly buffer of a message that spans chunks is kept (for the next) up to this size. */
const KEEP_ASM_BYTES = 64 << 10;

/** Most digits a count may have: more is not a count (10 digits = up to 9,999,999,999 bytes). */
const MAX_COUNT_DIGITS = 10;

export type SyslogFraming = 'octet' | 'lf';

export interface SyslogRejectInfo {
  reason: SyslogReason;
  /** the error code of `reason` (SYSLOG_ERR) */
  code: SyslogErrorCode;
  /** the first ≤256 bytes of what was rejected (a copy: yours to keep) */
  sample: Buffer;
  /** absolute stream offset of the message (or count) that was rejected */
  offset: number;
  /** what was declared or seen, e.g. the count of syslog_count_too_large */
  bytes: number;
  /**
   * The framing cannot go on: the decoder ignores everything after this, and the caller should close
   * the connection (only a count over maxSkipBytes does this).
   */
  fatal?: boolean;
}

export interface SyslogFrameDecoderOptions {
  /** longest message accepted, in bytes (the count of an octet-counted one; an LF-framed line without LF) */
  maxMessageBytes: number;
  /**
   * Largest count over maxMessageBytes that is skipped (read and thrown away) to carry on with the next
   * message; a count above it is a fatal syslog_count_too_large: nothing after it is read (the caller
   * closes the connection). Default: no limit (every count of up to 10 digits is skipped).
   */
  maxSkipBytes?: number;
  /**
   * One message, `buf[start, end)`, without its count or LF (a CR before the LF is dropped). `buf` may be
   * the pushed chunk itself: use the bytes before returning.
   */
  onMessage: (buf: Buffer, start: number, end: number, framing: SyslogFraming) => void;
  onReject: (info: SyslogRejectInfo) => void;
  /**
   * The caller reuses (or hands away) each chunk once push() returns: the part of an LF-framed message
   * that spans chunks is then copied rather than kept as a view (default false: views are kept). An
   * octet-counted message that spans chunks is always copied, into one buffer the decoder reuses.
   */
  reusesChunks?: boolean;
}

const S_START = 0;
const S_COUNT = 1;
const S_OCTETS = 2;
const S_SKIP = 3;
/** an LF-framed message: its bytes go to the LineDecoder up to and including its LF */
const S_LINE = 4;
/** after a bad count: everything up to and including the next LF is dropped */
const S_DISCARD = 5;
/** after a fatal reject: everything is ignored */
const S_DEAD = 6;

/**
 * Cuts a TCP/TLS byte stream into syslog messages (RFC 6587), deciding per message: one that starts with
 * a digit is octet-counted (`LEN SP MSG`), anything else is LF-terminated (non-transparent framing).
 * Both may be mixed on one connection. LF, CR and NUL bytes between messages are skipped.
 *
 * Errors are per message, and the stream goes on wherever the framing allows:
 * - a count over `maxMessageBytes` → `syslog_count_too_large`, and exactly that many bytes are skipped
 *   (the count is all the framing we have, and it says where the next message starts) — unless the
 *   count is also over `maxSkipBytes`: then the reject is `fatal` and the decoder reads nothing more
 *   (waiting for gigabytes to skip would let one peer hold a connection with a lie);
 * - a count that is not `NONZERO-DIGIT *DIGIT SP` (a letter, a leading 0, more than 10 digits) →
 *   `syslog_bad_count`, and the decoder resynchronises by discarding up to and including the next LF;
 * - an LF-framed message over the limit → `syslog_too_large`, discarded up to its LF (day 08's line
 *   limit, by day 08's LineDecoder);
 * - the stream ending inside an octet-counted message → `syslog_truncated` (from end()).
 * Memory stays bounded by about maxMessageBytes whatever the peer sends.
 */
export class SyslogFrameDecoder {
  private readonly max: number;
  private readonly maxSkip: number;
  private readonly onMessage: SyslogFrameDecoderOptions['onMessage'];
  private readonly onReject: SyslogFrameDecoderOptions['onReject'];
  private state = S_START;
  /**
   * S_OCTETS: the part of the message from earlier chunks, copied into one buffer this decoder reuses
   * (issue 21: no Buffer per piece, no concat at the end); it grows as bytes arrive, never past the count.
   */
  private asm: Buffer = EMPTY;
  private asmLen = 0;
  /** S_LINE: day 08's line framing, with the message limit as its line limit */
  private readonly lines: LineDecoder;
  /** the chunk push() is working on (a line that lies inside it is passed on as an offset range of it) */
  private chunk: Buffer | undefined;
  /** S_COUNT: the digits so far */
  private count = 0;
  private readonly countBytes = Buffer.alloc(MAX_COUNT_DIGITS + 1);
  private countLen = 0;
  /** S_OCTETS: bytes of the message; S_SKIP: bytes left to skip */
  private need = 0;
  /** absolute offset of the message (or count) in progress */
  private msgOffset = 0;
  private pushed = 0;
  /**
   * Sample of a too-large LF-framed message: its first min(256, max + 1) bytes, which are all message
   * bytes however the stream was cut (never the CR of its CR LF). LineDecoder's sample is up to 256
   * bytes of what it held when it found the line too long, which depends on the cuts: it is cut to this.
   */
  private readonly tooLargeSample: number;
  /** S_SKIP: the reject of the skipped message, sent once its sample (count SP first bytes) is complete */
  private skipSample: Buffer | undefined;
  private skipSampleLen = 0;

  private readonly reusesChunks: boolean;

  constructor(opts: SyslogFrameDecoderOptions) {
    this.max = opts.maxMessageBytes;
    this.maxSkip = opts.maxSkipBytes ?? Infinity;
    this.reusesChunks = opts.reusesChunks ?? false;
    this.tooLargeSample = Math.min(SAMPLE_BYTES, this.max + 1);
    this.onMessage = opts.onMessage;
    this.onReject = opts.onReject;
    this.lines = new LineDecoder({
      maxLineBytes: this.max,
      onLine: (line) => this.lfMessage(line),
      onTooLong: (info) => this.lineTooLong(info),
    });
  }

  /** bytes pushed so far */
  get offset(): number {
    return this.pushed;
  }

  /** bytes held for an incomplete message */
  get bufferedBytes(): number {
    return this.asmLen + this.lines.bufferedBytes + (this.state === S_COUNT ? this.countLen : 0);
  }

  /** true when the decoder is between messages (nothing incomplete held) */
  get idle(): boolean {
    return this.state === S_START;
  }

  /** true after a fatal reject: the rest of the stream is ignored */
  get dead(): boolean {
    return this.state === S_DEAD;
  }

  /** A copy of the first ≤256 bytes of the incomplete message (for a reject when a peer is cut). */
  buffered(): Buffer {
    if (this.state === S_DEAD) return Buffer.alloc(0);
    if (this.state === S_LINE) return this.lines.buffered();
    if (this.state === S_COUNT) return Buffer.from(this.countBytes.subarray(0, this.countLen));
    return Buffer.from(this.asm.subarray(0, Math.min(this.asmLen, SAMPLE_BYTES)));
  }

  /** Adds a chunk; calls onMessage / onReject synchronously, in stream order. */
  push(chunk: Buffer): void {
    const base = this.pushed;
    this.pushed += chunk.length;
    const len = chunk.length;
    this.chunk = chunk;
    let pos = 0;
    while (pos < len) {
      switch (this.state) {
        case S_START: {
          const c = chunk[pos]!;
          if (c === LF || c === CR || c === NUL) {
            pos++;
            break;
          }
          this.msgOffset = base + pos;
          if (c >= 0x30 && c <= 0x39) {
            this.state = S_COUNT;
            this.count = 0;
            this.countLen = 0;
            // Fast path: a whole count and its message inside this chunk (the common case).
            let q = pos;
            let n = 0;
            while (q < len && q - pos <= MAX_COUNT_DIGITS) {
              const d = chunk[q]! - 0x30;
              if (d < 0 || d > 9) break;
              n = n * 10 + d;
              q++;
            }
            if (
              q < len &&
              chunk[q] === SP &&
              c !== 0x30 &&
              q - pos <= MAX_COUNT_DIGITS &&
              n <= this.max &&
              q + 1 + n <= len
            ) {
              this.state = S_START;
              pos = q + 1 + n;
              this.onMessage(chunk, q + 1, pos, 'octet');
            }
          } else {
            this.state = S_LINE;
          }
          break;
        }
        case S_COUNT:
          pos = this.readCount(chunk, pos);
          break;
        case S_OCTETS: {
          const want = this.need - this.asmLen;
          if (this.asmLen === 0 && len - pos >= want) {
            this.state = S_START;
            pos += want;
            this.onMessage(chunk, pos - want, pos, 'octet');
            break;
          }
          const take = Math.min(len - pos, want);
          this.hold(chunk, pos, pos + take);
          pos += take;
          if (this.asmLen === this.need) this.finishPending('octet');
          break;
        }
        case S_SKIP: {
          const take = Math.min(len - pos, this.need);
          const sample = this.skipSample;
          if (sample !== undefined) {
            const n = Math.min(take, sample.length - this.skipSampleLen);
            chunk.copy(sample, this.skipSampleLen, pos, pos + n);
            this.skipSampleLen += n;
            if (this.skipSampleLen === sample.length) this.reportSkipped();
          }
          pos += take;
          this.need -= take;
          if (this.need === 0) this.state = S_START;
          break;
        }
        case S_LINE: {
          // One message at a time, up to and including its LF: the next may be octet-counted.
          const lf = chunk.indexOf(LF, pos);
          if (lf === -1) {
            const rest = pos === 0 ? chunk : chunk.subarray(pos);
            // LineDecoder keeps views of what it holds: a copy when the caller reuses its chunks
            this.lines.push(this.reusesChunks ? Buffer.from(rest) : rest);
            pos = len;
          } else {
            this.state = S_START;
            this.lines.push(chunk.subarray(pos, lf + 1));
            pos = lf + 1;
          }
          break;
        }
        case S_DEAD:
          return;
        default: {
          // S_DISCARD: up to and including the next LF
          const lf = chunk.indexOf(LF, pos);
          if (lf === -1) {
            pos = len;
          } else {
            pos = lf + 1;
            this.state = S_START;
          }
        }
      }
    }
    this.chunk = undefined;
  }

  /** End of the stream: a final LF-framed message without LF is still a message; a cut one is rejected. */
  end(): void {
    const state = this.state;
    if (state === S_DEAD) return;
    this.state = S_START;
    if (state === S_LINE) {
      this.lines.end();
    } else if (state === S_OCTETS) {
      const sample = Buffer.from(this.asm.subarray(0, Math.min(this.asmLen, SAMPLE_BYTES)));
      const seen = this.asmLen;
      this.asmLen = 0;
      this.reject('syslog_truncated', sample, this.msgOffset, seen);
    } else if (state === S_SKIP) {
      this.need = 0;
      if (this.skipSample !== undefined) this.reportSkipped();
    } else if (state === S_COUNT) {
      this.reject(
        'syslog_bad_count',
        Buffer.from(this.countBytes.subarray(0, this.countLen)),
        this.msgOffset,
        this.countLen,
      );
    }
  }

  private readCount(chunk: Buffer, pos: number): number {
    const len = chunk.length;
    while (pos < len) {
      const c = chunk[pos]!;
      if (c >= 0x30 && c <= 0x39 && this.countLen < MAX_COUNT_DIGITS) {
        this.countBytes[this.countLen++] = c;
        this.count = this.count * 10 + (c - 0x30);
        pos++;
        continue;
      }
      if (c === SP && this.countBytes[0] !== 0x30) {
        pos++;
        if (this.count > this.maxSkip && this.count > this.max) {
          // Too much to skip: the framing ends here (sample: the count and its SP).
          const sample = Buffer.allocUnsafe(this.countLen + 1);
          this.countBytes.copy(sample, 0, 0, this.countLen);
          sample[this.countLen] = SP;
          this.state = S_DEAD;
          this.reject('syslog_count_too_large', sample, this.msgOffset, this.count, true);
          return chunk.length;
        }
        if (this.count > this.max) {
          // Skipped exactly; reported once the sample (count, SP, first bytes) is in, so it does not
          // depend on how the stream was cut.
          const sample = Buffer.allocUnsafe(Math.min(SAMPLE_BYTES, this.countLen + 1 + this.count));
          this.countBytes.copy(sample, 0, 0, this.countLen);
          sample[this.countLen] = SP;
          this.skipSample = sample;
          this.skipSampleLen = this.countLen + 1;
          this.need = this.count;
          this.state = S_SKIP;
          return pos;
        }
        this.need = this.count;
        this.state = S_OCTETS;
        return pos;
      }
      // Not a count: resynchronise at the next LF (the offending byte may be that LF). The sample is
      // the digits and the byte that broke them.
      const sample = Buffer.concat([this.countBytes.subarray(0, this.countLen), chunk.subarray(pos, pos + 1)]);
      this.state = S_DISCARD;
      this.reject('syslog_bad_count', sample, this.msgOffset, this.countLen);
      return pos;
    }
    return pos;
  }

  /** Keeps `chunk[start, end)`, part of an octet-counted message that spans chunks (a copy). */
  private hold(chunk: Buffer, start: number, end: number): void {
    const total = this.asmLen + end - start;
    if (total > this.asm.length) {
      // grows with what arrived (doubling), never past the message's count: memory follows the bytes sent
      const bigger = Buffer.allocUnsafeSlow(Math.min(this.need, Math.max(total, 2 * this.asm.length, 4096)));
      this.asm.copy(bigger, 0, 0, this.asmLen);
      this.asm = bigger;
    }
    chunk.copy(this.asm, this.asmLen, start, end);
    this.asmLen = total;
  }

  private reportSkipped(): void {
    const sample = this.skipSample!.subarray(0, this.skipSampleLen);
    this.skipSample = undefined;
    this.reject('syslog_count_too_large', sample, this.msgOffset, this.count);
  }

  private reject(reason: SyslogReason, sample: Buffer, offset: number, bytes: number, fatal = false): void {
    const info: SyslogRejectInfo = { reason, code: SYSLOG_ERR[reason], sample, offset, bytes };
    if (fatal) info.fatal = true;
    this.onReject(info);
  }

  /**
   * A complete LF-framed message from the LineDecoder (no CR/LF, within the limit). One that lies inside
   * the chunk being pushed is passed on as a range of that chunk, as octet-counted ones are: a consumer
   * that keeps per-buffer state (the record writer's DataView) keeps it for the whole chunk.
   */
  private lfMessage(line: Buffer): void {
    const chunk = this.chunk;
    if (chunk !== undefined && line.buffer === chunk.buffer) {
      const start = line.byteOffset - chunk.byteOffset;
      if (start >= 0 && start + line.length <= chunk.length) {
        this.onMessage(chunk, start, start + line.length, 'lf');
        return;
      }
    }
    this.onMessage(line, 0, line.length, 'lf');
  }

  /** An LF-framed message over the limit: the LineDecoder discards it up to its LF. */
  private lineTooLong(info: LineTooLongInfo): void {
    // LineDecoder counts offsets in the bytes it was fed; the message began at msgOffset in the stream.
    this.reject('syslog_too_large', info.sample.subarray(0, this.tooLargeSample), this.msgOffset, info.bytes);
  }

  private finishPending(framing: SyslogFraming): void {
    const n = this.asmLen;
    this.asmLen = 0;
    this.state = S_START;
    this.onMessage(this.asm, 0, n, framing);
    // a buffer grown for one big message is not kept for the small ones after it
    if (this.asm.length > KEEP_ASM_BYTES) this.asm = EMPTY;
  }
}

/** RFC 6587 octet counting, the sending side: `LEN SP MSG`. */
export function frameOctetCounted(msg: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${msg.length} `, 'latin1'), msg]);
}
