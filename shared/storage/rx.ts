/**
 * The persisted form of a record (COURSE.md, what a receiver writes): the record's own bytes untouched, plus one key `_rx`
 * = {ts, peer, lane, stream?, seq?}. We splice `_rx` in before the record's closing brace instead of
 * parsing and re-serialising: the bytes the client sent stay exactly as they were, and it is fast —
 * records are copied byte for byte into one output buffer per read, never turned back into strings.
 */
export interface RxInfo {
  ts: string;
  peer: string;
  lane: string;
  /** extra fields after lane, e.g. the TLS client subject */
  extra?: Record<string, unknown>;
}

const SPACE = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;
const CLOSE = 0x7d; // }

/** Writes a non-negative safe integer in decimal at `pos`; returns the position after it. */
function writeDecimal(buf: Buffer, pos: number, n: number): number {
  if (n < 10) {
    buf[pos] = 48 + n;
    return pos + 1;
  }
  if (n < 0x8000_0000) {
    // the common case: 32-bit integer division (`| 0`), no Math.floor
    let digits = 1;
    for (let x = (n / 10) | 0; x > 0; x = (x / 10) | 0) digits++;
    let x = n;
    for (let i = pos + digits - 1; i >= pos; i--) {
      const q = (x / 10) | 0;
      buf[i] = 48 + x - q * 10;
      x = q;
    }
    return pos + digits;
  }
  let digits = 0;
  for (let x = n; x >= 1; x = Math.floor(x / 10)) digits++;
  let x = n;
  for (let i = pos + digits - 1; i >= pos; i--) {
    buf[i] = 48 + (x % 10);
    x = Math.floor(x / 10);
  }
  return pos + digits;
}

/** Index of a validated record's closing brace (trailing whitespace skipped), or -1. */
function closingBrace(line: Buffer): number {
  let end = line.length - 1;
  while (end >= 0) {
    const c = line[end];
    if (c !== SPACE && c !== TAB && c !== CR && c !== LF) break;
    end--;
  }
  return end >= 0 && line[end] === CLOSE ? end : -1;
}

/** Leading whitespace a record may have (JSON allows it; the persisted line starts at the `{`). */
function firstByte(line: Buffer): number {
  let i = 0;
  while (i < line.length) {
    const c = line[i];
    if (c !== SPACE && c !== TAB && c !== CR && c !== LF) break;
    i++;
  }
  return i;
}

/**
 * Collects stamped records into one Buffer. Call `context()` when the receive time or peer changes
 * (once per socket read is plenty), `add` / `addSeq` per validated record, and `take()` to hand the
 * bytes to the sink.
 */
export class RxWriter {
  private buf: Buffer;
  private len = 0;
  private head: Buffer = Buffer.alloc(0);
  /** head + `,"stream":N,"seq":` for stream `streamOf` (-1: to be made) */
  private headSeq: Buffer = Buffer.alloc(0);
  private streamOf = -1;
  /** records added since the last take() */
  count = 0;

  constructor(initialBytes = 256 << 10) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Sets the `_rx` fields for the records added next. */
  context(info: RxInfo): void {
    let head = `,"_rx":{"ts":${JSON.stringify(info.ts)},"peer":${JSON.stringify(info.peer)},"lane":${JSON.stringify(info.lane)}`;
    if (info.extra)
      for (const [k, v] of Object.entries(info.extra)) head += `,${JSON.stringify(k)}:${JSON.stringify(v)}`;
    this.head = Buffer.from(head);
    this.streamOf = -1;
  }

  /** A validated record without stream/seq (day 08 text lines). */
  add(line: Buffer): void {
    const start = firstByte(line);
    const brace = closingBrace(line);
    this.ensure(brace - start + this.head.length + 3);
    // TypedArray#set is a plain memcpy; Buffer#copy pays JS-side argument checks on every call.
    this.buf.set(line.subarray(start, brace), this.len);
    this.len += brace - start;
    this.buf.set(this.head, this.len);
    this.len += this.head.length;
    this.buf[this.len++] = CLOSE;
    this.buf[this.len++] = CLOSE;
    this.buf[this.len++] = LF;
    this.count++;
  }

  /** A validated LSP/1 record: `_rx` also gets its stream and seq. */
  addSeq(line: Buffer, stream: number, seq: number): void {
    const start = firstByte(line);
    const brace = closingBrace(line);
    if (stream !== this.streamOf) this.streamHead(stream);
    this.ensure(line.length + this.headSeq.length + 20);
    // The common record has no whitespace around it: copy the whole line (a view we already have; a
    // subarray would be one more object per record) and write the tail over its closing brace.
    if (start === 0) this.buf.set(line, this.len);
    else this.buf.set(line.subarray(start, brace), this.len);
    this.len += brace - start;
    // `,"_rx":{…,"stream":N,"seq":` in one copy; the digits byte by byte: no string per record.
    this.buf.set(this.headSeq, this.len);
    this.len = writeDecimal(this.buf, this.len + this.headSeq.length, seq);
    this.buf[this.len++] = CLOSE;
    this.buf[this.len++] = CLOSE;
    this.buf[this.len++] = LF;
    this.count++;
  }

  /** The head with `,"stream":N,"seq":` after it, made once per context and stream (not per record). */
  private streamHead(stream: number): void {
    const s = Buffer.from(`,"stream":${stream},"seq":`);
    this.headSeq = Buffer.concat([this.head, s]);
    this.streamOf = stream;
  }

  get length(): number {
    return this.len;
  }

  /** The bytes collected since the last take (a fresh buffer each time), or undefined when empty. */
  take(): Buffer | undefined {
    if (this.len === 0) return undefined;
    const out = this.buf.subarray(0, this.len);
    // Size the next buffer from this one (batches come alike, issue 21): a fixed large buffer per take would
    // dominate small batches, and growing from a small one by doubling copies each big batch ~twice over.
    this.buf = Buffer.allocUnsafe(Math.max(2048, this.len + (this.len >> 3)));
    this.len = 0;
    this.count = 0;
    return out;
  }

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + extra));
    this.buf.copy(bigger, 0, 0, this.len);
    this.buf = bigger;
  }
}

/** `host:port`, with IPv6 in brackets; IPv4-mapped IPv6 shown as IPv4. */
export function peerName(address: string | undefined, port: number | undefined): string {
  const a = (address ?? 'unknown').replace(/^::ffff:/, '');
  return a.includes(':') ? `[${a}]:${port ?? 0}` : `${a}:${port ?? 0}`;
}

// ---- reading it back ----------------------------------------------------------------------------------
// The inverse of RxWriter for the two fields a reader most often wants (a receiver recovering its marks,
// a check or a test counting seqs): read from the line's tail, without JSON.parse.

const COLON = 0x3a;
const COMMA = 0x2c;
const SEQ_NAME = Buffer.from('"seq"');
const STREAM_NAME = Buffer.from('"stream"');

/** Reads the digits ending at buf[end - 1] backwards; returns [value, index of the first digit] or null. */
function digitsBefore(buf: Buffer, end: number, min: number): [number, number] | null {
  let i = end - 1;
  let value = 0;
  let mul = 1;
  while (i >= min) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) break;
    value += d * mul;
    mul *= 10;
    i--;
  }
  return i === end - 1 || end - 1 - i > 16 ? null : [value, i + 1];
}

function endsWithAt(buf: Buffer, end: number, lit: Buffer, min: number): boolean {
  const start = end - lit.length;
  if (start < min) return false;
  for (let k = 0; k < lit.length; k++) if (buf[start + k] !== lit[k]) return false;
  return true;
}

/**
 * The `_rx` stream and seq of one persisted line buf[start, end) (no LF), read from its tail
 * `,"stream":N,"seq":S}}`. Calls `found(stream, seq)`; returns false for a line without them
 * (e.g. a day 08 text record).
 */
export function readRxStreamSeq(
  buf: Buffer,
  start: number,
  end: number,
  found: (stream: number, seq: number) => void,
): boolean {
  let p = end;
  if (p - start < 20 || buf[p - 1] !== CLOSE || buf[p - 2] !== CLOSE) return false;
  p -= 2;
  const seq = digitsBefore(buf, p, start);
  if (!seq) return false;
  p = seq[1];
  if (buf[p - 1] !== COLON || !endsWithAt(buf, p - 1, SEQ_NAME, start)) return false;
  p -= 1 + SEQ_NAME.length;
  if (buf[p - 1] !== COMMA) return false;
  p -= 1;
  const stream = digitsBefore(buf, p, start);
  if (!stream) return false;
  p = stream[1];
  if (buf[p - 1] !== COLON || !endsWithAt(buf, p - 1, STREAM_NAME, start)) return false;
  found(stream[0], seq[0]);
  return true;
}
