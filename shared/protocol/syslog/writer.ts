/**
 * The syslog lane's hot path: scanned fields → LSP/1 record JSON bytes, straight into one output buffer
 * (`SyslogRecordWriter`, writing into a `RecordOutput`). The common case, RFC 5424, is read and written
 * in one pass; everything else is scanned first (scan.ts) and written from the spans; rare cases (bytes
 * that are not UTF-8, repeated SD names) take the reference mapping, fieldsToRecord + JSON.stringify.
 * The tests hold the two to each other: a writer's line is the record fieldsToRecord makes.
 */
import { isUtf8 } from 'node:buffer';
import { BACKSLASH, COLON, CR, DASH, EQUALS, GT, LBRACKET, LF, LT, NUL, QUOTE, RBRACKET, SP } from './bytes.ts';
import type { SyslogReason } from './errors.ts';
import { FACILITIES, SEVERITIES, SEVERITY_LEVEL } from './names.ts';
import {
  bsdTimestampToIso,
  fieldsToRecord,
  isRfc3339Head,
  isRfc3339Rest,
  scanSyslog,
  SyslogFields,
  TS_BSD,
  TS_RFC3339,
} from './scan.ts';

// Per message the lane writes ~2.5× the bytes it reads (the record's keys, attrs, _rx), so the writer
// moves bytes 4 at a time where it can: a DataView reads 4 input bytes as one int32, a few integer
// operations tell whether any of them needs attention (the end of a token, a JSON escape, a byte that is
// not ASCII — "SWAR", SIMD within a register), and a clean word is stored with one write. The fixed
// parts of a record (keys, the attrs of each PRI, the `_rx` tail) are kept as int32 words for the same
// reason. Anything that is not clean goes through the byte-at-a-time tables below.

/** Byte classes for JSON strings: 0 copy, 1 short escape, 2 \u00XX, 3 part of a multi-byte UTF-8 character. */
const CLASS = new Uint8Array(256);
const SHORT = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) CLASS[c] = 2;
for (const [c, e] of [
  [8, 'b'],
  [9, 't'],
  [10, 'n'],
  [12, 'f'],
  [13, 'r'],
  [QUOTE, '"'],
  [BACKSLASH, '\\'],
] as const) {
  CLASS[c] = 1;
  SHORT[c] = e.charCodeAt(0);
}
for (let c = 0x80; c < 0x100; c++) CLASS[c] = 3;
const HEX = Buffer.from('0123456789abcdef');
/** CLASS, plus 4 for the SP that ends a header token. */
const TOKEN = CLASS.slice();
TOKEN[SP] = 4;
/** SD-NAME bytes: 1 copy, 2 a backslash (JSON-escaped), 0 not part of a name. */
const SDNAME = new Uint8Array(256);
for (let c = 33; c < 127; c++) SDNAME[c] = c === EQUALS || c === RBRACKET || c === QUOTE ? 0 : c === BACKSLASH ? 2 : 1;
/** PARAM-VALUE bytes: CLASS, but 4 for the closing '"' and 5 for the backslash that escapes in SD. */
const SDVALUE = CLASS.slice();
SDVALUE[QUOTE] = 4;
SDVALUE[BACKSLASH] = 5;

// SWAR tests on a little-endian int32 word of 4 bytes. `(v - 0x01010101) & ~v & 0x80808080` is non-zero
// exactly when a byte of v is 0 (`x ^ 0x22222222` turns the '"' bytes into zeros), and
// `(x - 0x20202020) & ~x` marks the bytes below 0x20 (valid for bytes below 0x80; the others are caught
// by `| x`, whose high bits are theirs). All of it stays in int32 (`&` truncates).
const W_ONES = 0x01010101;
const W_HIGH = 0x80808080 | 0;

/**
 * 0 when all 4 bytes go into a JSON string as they are: not '"' or '\', and from `low` (as 4 bytes) to
 * 0x7f — TEXT_LOW for string content, TOKEN_LOW to stop at a SP too (it ends a header token).
 */
function unsafeWord(x: number, low: number): number {
  const q = x ^ 0x22222222;
  const b = x ^ 0x5c5c5c5c;
  return (((x - low) & ~x) | ((q - W_ONES) & ~q) | ((b - W_ONES) & ~b) | x) & W_HIGH;
}
const TEXT_LOW = 0x20202020;
const TOKEN_LOW = 0x21212121;

/** Non-zero when a byte of x is SP. */
function hasSpace(x: number): number {
  const s = x ^ 0x20202020;
  return (s - W_ONES) & ~s & W_HIGH;
}

const viewOf = (b: Buffer) => new DataView(b.buffer, b.byteOffset, b.byteLength);

/**
 * Bytes written a word at a time: `n` bytes as ⌈n/4⌉ little-endian int32 words. A write stores up to 3
 * bytes past n, which the next write overwrites (the writer keeps that much room at the end).
 */
class Words {
  readonly n: number;
  readonly w: Int32Array;
  /** the bytes themselves, for putLong */
  readonly bytes: Buffer;
  constructor(bytes: Buffer) {
    this.n = bytes.length;
    this.bytes = bytes;
    const padded = Buffer.alloc((bytes.length + 3) & ~3);
    bytes.copy(padded);
    this.w = new Int32Array(padded.length >> 2);
    for (let i = 0; i < this.w.length; i++) this.w[i] = padded.readInt32LE(i * 4);
  }
}

function putWords(k: Words, dv: DataView, o: number): number {
  const w = k.w;
  for (let i = 0; i < w.length; i++) dv.setInt32(o + 4 * i, w[i]!, true);
  return o + k.n;
}

/** A long constant (the attrs of a PRI, the `_rx` tail): one memcpy costs less than its words. */
function putLong(k: Words, dst: Buffer, o: number): number {
  dst.set(k.bytes, o);
  return o + k.n;
}

/** Room kept past the worst case of a record for word writes that run over their end. */
const SLACK = 8;

/**
 * Where SyslogRecordWriter writes: a buffer, how much of it holds records, and a DataView on it. The
 * writer owns one by default; the syslog lane hands it the collecting buffer of its appender instead, so
 * every record is written once, straight where the file write takes it from.
 */
export class RecordOutput {
  buf: Buffer;
  view: DataView;
  /** bytes of `buf` that hold complete records */
  len = 0;

  constructor(buf: Buffer) {
    this.buf = buf;
    this.view = viewOf(buf);
  }

  /** Continues in `next` (its first `len` bytes already used); returns what `buf` held, as a view. */
  swap(next: Buffer, len = 0): Buffer {
    const out = this.buf.subarray(0, this.len);
    this.buf = next;
    this.view = viewOf(next);
    this.len = len;
    return out;
  }

  /** Makes room for `extra` more bytes: a bigger buffer from `alloc`, with the records copied over. */
  reserve(extra: number, alloc: (n: number) => Buffer = (n) => Buffer.allocUnsafeSlow(n)): void {
    if (this.len + extra <= this.buf.length) return;
    const bigger = alloc(Math.max(this.buf.length * 2, this.len + extra));
    this.buf.copy(bigger, 0, 0, this.len);
    this.swap(bigger, this.len);
  }

  /** Appends bytes (complete lines) made elsewhere. */
  add(bytes: Buffer): void {
    this.reserve(bytes.length);
    bytes.copy(this.buf, this.len);
    this.len += bytes.length;
  }
}

/** One byte of JSON string content (from CLASS k ≠ 0, 3) at dst[o]; the new o. */
function escapeByte(c: number, k: number, dst: Buffer, o: number): number {
  if (k === 1) {
    dst[o] = BACKSLASH;
    dst[o + 1] = SHORT[c]!;
    return o + 2;
  }
  dst[o] = BACKSLASH;
  dst[o + 1] = 0x75;
  dst[o + 2] = 0x30;
  dst[o + 3] = 0x30;
  dst[o + 4] = HEX[c >> 4]!;
  dst[o + 5] = HEX[c & 15]!;
  return o + 6;
}

function sameBytes(buf: Buffer, a: number, aEnd: number, b: number, bEnd: number): boolean {
  if (aEnd - a !== bEnd - b) return false;
  for (let i = 0; i < aEnd - a; i++) if (buf[a + i] !== buf[b + i]) return false;
  return true;
}

const enc = (s: string) => Buffer.from(s, 'latin1');
const words = (s: string) => new Words(enc(s));
const K_TS = words('{"ts":"');
/** `","level":"<level>"` by severity (closes the ts string) */
const K_LEVEL = SEVERITY_LEVEL.map((l) => words(`","level":"${l}"`));
const K_HOST = words(',"host":"');
/** K_LEVEL and K_HOST together (one write for the common case) */
const K_LEVEL_HOST = SEVERITY_LEVEL.map((l) => words(`","level":"${l}","host":"`));
const K_SERVICE = words(',"service":"');
/** `,"attrs":{"facility":"…","severity":"…"` by PRI */
const K_ATTRS = Array.from({ length: 192 }, (_, pri) =>
  words(`,"attrs":{"facility":"${FACILITIES[pri >> 3]}","severity":"${SEVERITIES[pri & 7]}"`),
);
const K_PROCID = words(',"procid":"');
const K_MSGID = words(',"msgid":"');
const K_SD = words(',"sd":{');
/** `},"msg":"`: closes attrs, opens msg */
const K_MSG = words('},"msg":"');
const CLOSE_LF = enc('}\n');

/** Most SD-PARAMs of one element / SD-ELEMENTs of one message checked for repeats on the fast path. */
const MAX_SD_TRACKED = 64;

// Results of the single-pass RFC 5424 transcoder below a valid output position.
const R_SLOW = -1; // not UTF-8, a repeated SD name, too many SD names: take the reference path
const R_HEADER = -2;
const R_TIMESTAMP = -3;
const R_SD = -4;
const REASON_OF: Record<number, SyslogReason> = {
  [R_HEADER]: 'syslog_bad_header',
  [R_TIMESTAMP]: 'syslog_bad_timestamp',
  [R_SD]: 'syslog_bad_sd',
};

/** Where the last copyJsonText / headerMember / transcodeSd stopped: a second return value without an allocation. */
let tokenStop = 0;

/**
 * JSON string content (no quotes) of src from p at dst[o], a word at a time where it can: up to `end`
 * (`spaceEnds` false: the MSG), or up to the next SP before it (a header token). Sets tokenStop where it
 * stopped; returns the new output position, or R_SLOW when the bytes are not UTF-8 (the slow path turns
 * them into U+FFFD, like toString). Worst case 6 bytes out per byte in. `sv` is a DataView on src.
 */
function copyJsonText(
  src: Buffer,
  sv: DataView,
  p: number,
  end: number,
  dst: Buffer,
  dv: DataView,
  o: number,
  spaceEnds: boolean,
): number {
  const start = p;
  // TOKEN is CLASS with SP as 4 (the end), and TOKEN_LOW makes the word test stop at SP to match
  const table = spaceEnds ? TOKEN : CLASS;
  const low = spaceEnds ? TOKEN_LOW : TEXT_LOW;
  let high = false;
  scan: while (p < end) {
    if (p + 4 <= end) {
      const x = sv.getInt32(p, true);
      if (unsafeWord(x, low) === 0) {
        dv.setInt32(o, x, true);
        p += 4;
        o += 4;
        continue;
      }
    }
    // a word (or the last bytes) with something in it: byte by byte
    const stop = p + 4 < end ? p + 4 : end;
    for (; p < stop; p++) {
      const c = src[p]!;
      const k = table[c]!;
      if (k === 0) {
        dst[o++] = c;
      } else if (k === 4) {
        break scan;
      } else if (k === 3) {
        high = true;
        dst[o++] = c;
      } else {
        o = escapeByte(c, k, dst, o);
      }
    }
  }
  tokenStop = p;
  if (high && !isUtf8(src.subarray(start, p))) return R_SLOW;
  return o;
}

/** `key`, then src[s, e) as a JSON string and its closing '"': one member of the record; R_SLOW when not UTF-8. */
function putMember(key: Words, src: Buffer, sv: DataView, s: number, e: number, dst: Buffer, dv: DataView, o: number) {
  o = copyJsonText(src, sv, s, e, dst, dv, putWords(key, dv, o), false);
  if (o < 0) return o;
  dst[o++] = QUOTE;
  return o;
}

/**
 * An SD-NAME (SD-ID or PARAM-NAME) from p, copied as JSON string content; sets tokenStop after it.
 * Names are short (`id`, `user`, `origin`, `meta`): a byte loop over the SDNAME table beats a word
 * test that needs six comparisons per word.
 */
function copySdName(src: Buffer, p: number, end: number, dst: Buffer, o: number): number {
  for (; p < end; p++) {
    const c = src[p]!;
    const k = SDNAME[c]!;
    if (k === 0) break;
    // SD-NAME bytes are ASCII: only a backslash needs a JSON escape
    if (k === 2) dst[o++] = BACKSLASH;
    dst[o++] = c;
  }
  tokenStop = p;
  return o;
}

/**
 * Builds LSP/1 record lines from syslog messages into one buffer (the syslog twin of RxWriter):
 *
 *   w.setReceived(Date.now()); w.setTail(',"_rx":{…}');   // once per socket read or datagram
 *   const reason = w.add(buf, start, end);                // per message: a line, or why not
 *   sink.append(w.take());                                // once per read
 *
 * Each line is `{"ts":…,"level":…,"host"?,"service"?,"attrs":{…},"msg":…` + tail + `}\n` — fields in the
 * order an RFC 5424 message carries them, so it is read and written in ONE pass — and it is the record
 * `fieldsToRecord` makes (the tests hold them to each other). Rare cases — bytes that are not UTF-8, a
 * repeated SD-ID or param — go through scanSyslog + fieldsToRecord + JSON.stringify instead.
 */
export class SyslogRecordWriter {
  /** where the lines go: the writer's own buffer, or one it was given (see the constructor) */
  readonly out: RecordOutput;
  /** records added since the last take() / clear() */
  count = 0;
  /** messages that took the slow path (not UTF-8, repeated SD names), since construction */
  slowPath = 0;
  private readonly fields = new SyslogFields();
  /** `_rx` members + `}\n`: a view of tailStore, rewritten in place by setTail (once per read: no garbage) */
  private tail: Buffer = CLOSE_LF;
  private tailStore = Buffer.allocUnsafeSlow(512);
  private receivedAt = 0;
  /** the receive time as RFC 3339 words, made when a message without a timestamp needs it */
  private receivedIso: Words = words('1970-01-01T00:00:00.000Z');
  private receivedIsoMs = 0;
  /** the last BSD timestamp converted, and what it became (one conversion per second of log, not per message) */
  private bsdKey = Buffer.alloc(32);
  private bsdKeyLen = -1;
  private bsdIso: Words = words('');
  private bsdAnchor = 0;
  private readonly sdMarks = new Int32Array(MAX_SD_TRACKED * 2);
  /** the first 20 bytes of the last RFC 3339 TIMESTAMP whose first 19 passed isRfc3339Head, as words */
  private readonly tsHead = new Int32Array(5);
  private tsHeadOk = false;
  /** the input buffer of the last add() and a DataView on it (a new one per input chunk, not per message) */
  private src: Buffer = Buffer.alloc(0);
  private sv: DataView = viewOf(this.src);
  private readonly alloc: (n: number) => Buffer;

  /**
   * @param initialBytes size of the output buffer (it grows for a bigger read)
   * @param allocate where output buffers come from. When given, every take() returns bytes that sit
   *   alone at the start of a buffer from `allocate` (a thread can transfer it without a copy, or hand it
   *   back to be reused); otherwise the unused rest of a buffer is handed on to the next records
   * @param output write into this RecordOutput (shared with its owner, e.g. an appender) rather than a
   *   buffer of the writer's own; take() and peek() are then the owner's business
   */
  constructor(
    private readonly initialBytes = 256 << 10,
    private readonly allocate?: (minBytes: number) => Buffer,
    output?: RecordOutput,
  ) {
    this.alloc = allocate ?? ((n: number) => Buffer.allocUnsafe(n));
    this.out = output ?? new RecordOutput(this.alloc(initialBytes));
  }

  /** The receive time (ms): ts of messages without one, and the year of RFC 3164 timestamps. */
  setReceived(ms: number): void {
    this.receivedAt = ms;
  }

  /** The receive time as RFC 3339 (for messages without a timestamp): converted once per millisecond, when used. */
  private receivedWords(): Words {
    if (this.receivedIsoMs !== this.receivedAt) {
      this.receivedIsoMs = this.receivedAt;
      this.receivedIso = words(new Date(this.receivedAt).toISOString());
    }
    return this.receivedIso;
  }

  /**
   * JSON members appended to every record from now on, starting with a comma, e.g.
   * `,"_rx":{"ts":"…","peer":"…","lane":"syslog","transport":"tcp"}`; '' for none.
   */
  setTail(members: string): void {
    // at most 3 bytes per UTF-16 unit, and the closing `}\n`
    if (members.length * 3 + 2 > this.tailStore.length) this.tailStore = Buffer.allocUnsafeSlow(members.length * 3 + 2);
    const store = this.tailStore;
    const n = store.write(members, 0);
    store[n] = 0x7d;
    store[n + 1] = LF;
    this.tail = store.subarray(0, n + 2);
  }

  /** Adds the record for one message; returns undefined, or the reason the message is rejected. */
  add(src: Buffer, start: number, end: number): SyslogReason | undefined {
    while (end > start) {
      const c = src[end - 1]!;
      if (c !== LF && c !== CR && c !== NUL) break;
      end--;
    }
    const out = this.out;
    // Room for the worst case: every byte escaped as \u00XX, plus the fixed parts, the tail and the slack.
    const room = (end - start) * 6 + 256 + this.tail.length + SLACK;
    if (out.len + room > out.buf.length) out.reserve(Math.max(room, this.initialBytes), this.alloc);
    if (src !== this.src) {
      this.src = src;
      this.sv = viewOf(src);
    }
    // The common case, RFC 5424, in one pass: `<PRI>1 ` then the header, read and written as we go.
    if (end - start > 6 && src[start] === LT) {
      let p = start + 1;
      let pri = 0;
      let d = src[p]! - 0x30;
      if (d >= 0 && d <= 9) {
        pri = d;
        d = src[++p]! - 0x30;
        if (d >= 0 && d <= 9) {
          pri = pri * 10 + d;
          d = src[++p]! - 0x30;
          if (d >= 0 && d <= 9) {
            pri = pri * 10 + d;
            p++;
          }
        }
        if (pri <= 191 && p + 2 < end && src[p] === GT && src[p + 1] === 0x31 && src[p + 2] === SP) {
          const o = this.transcode5424(src, p + 3, end, pri);
          if (o >= 0) {
            out.buf.set(this.tail, o);
            out.len = o + this.tail.length;
            this.count++;
            return undefined;
          }
          if (o !== R_SLOW) return REASON_OF[o];
        }
      }
    }
    // Everything else (RFC 3164, errors, the slow path): scan, then write from the spans.
    const f = this.fields;
    const reason = scanSyslog(src, start, end, f);
    if (reason !== undefined) return reason;
    const p = this.writeFields(src, f);
    if (p < 0) {
      this.slowPath++;
      const json = JSON.stringify(fieldsToRecord(src, f, this.receivedAt));
      const body = Buffer.from(json.slice(0, -1)); // without its closing brace: the tail closes it
      out.reserve(body.length + this.tail.length + SLACK, this.alloc);
      out.buf.set(body, out.len);
      out.len += body.length;
    } else {
      out.len = p;
    }
    out.buf.set(this.tail, out.len);
    out.len += this.tail.length;
    this.count++;
    return undefined;
  }

  /**
   * RFC 5424 from just after `<PRI>1 ` to `end` (trailing line ends already dropped), straight to JSON:
   * every byte is looked at once. Returns the output position after the record's own members, or
   * R_SLOW / R_HEADER / R_TIMESTAMP / R_SD. The checks mirror scan5424 exactly (the fuzz test holds them
   * to each other).
   */
  private transcode5424(src: Buffer, p: number, end: number, pri: number): number {
    const sv = this.sv;
    const dst = this.out.buf;
    const dv = this.out.view;
    let o = putWords(K_TS, dv, this.out.len);
    // TIMESTAMP: find its SP a word at a time, check it, copy it a word at a time
    let e = p;
    while (e + 4 <= end && hasSpace(sv.getInt32(e, true)) === 0) e += 4;
    while (e < end && src[e] !== SP) e++;
    if (e === p || e === end) return R_HEADER;
    if (e - p === 1 && src[p] === DASH) {
      o = putWords(this.receivedWords(), dv, o);
    } else {
      if (!this.rfc3339(src, sv, p, e)) return R_TIMESTAMP;
      let i = p;
      for (; i + 4 <= e; i += 4, o += 4) dv.setInt32(o, sv.getInt32(i, true), true);
      for (; i < e; i++) dst[o++] = src[i]!;
    }
    p = e + 1;
    // HOSTNAME, APP-NAME, PROCID (each followed by SP); level and host keys in one write when there is a host
    o = this.headerMember(src, p, end, o, K_LEVEL_HOST[pri & 7]!, K_LEVEL[pri & 7]);
    if (o < 0) return o;
    o = this.headerMember(src, tokenStop, end, o, K_SERVICE);
    if (o < 0) return o;
    o = putLong(K_ATTRS[pri]!, dst, o);
    o = this.headerMember(src, tokenStop, end, o, K_PROCID);
    if (o < 0) return o;
    p = tokenStop;
    // MSGID: followed by SP and STRUCTURED-DATA, or (leniently) by the end of the message
    if (p >= end || src[p] === SP) return R_HEADER;
    if (src[p] === DASH && (p + 1 === end || src[p + 1] === SP)) {
      p++;
    } else {
      o = copyJsonText(src, sv, p, end, dst, dv, putWords(K_MSGID, dv, o), true);
      if (o < 0) return o;
      dst[o++] = QUOTE;
      p = tokenStop;
    }
    if (p === end) {
      o = putWords(K_MSG, dv, o);
      dst[o++] = QUOTE;
      return o;
    }
    p++;
    // STRUCTURED-DATA
    if (p >= end) return R_HEADER;
    if (src[p] === DASH) {
      p++;
    } else {
      o = this.transcodeSd(src, p, end, dst, o);
      if (o < 0) return o;
      p = tokenStop;
    }
    o = putWords(K_MSG, dv, o);
    if (p === end) {
      dst[o++] = QUOTE;
      return o;
    }
    if (src[p] !== SP) return R_SD;
    p++;
    if (end - p >= 3 && src[p] === 0xef && src[p + 1] === 0xbb && src[p + 2] === 0xbf) p += 3;
    o = copyJsonText(src, sv, p, end, dst, dv, o, false);
    if (o < 0) return o;
    dst[o++] = QUOTE;
    return o;
  }

  /**
   * isRfc3339Bytes(src, p, e), the `YYYY-MM-DDTHH:MM:SS` part checked only when it differs from the last
   * one that passed (compared as 5 words: bytes 0-19, the 20th checked again below): a log's timestamps
   * share their second, so most messages check only their fraction and zone (issue 21.1).
   */
  private rfc3339(src: Buffer, sv: DataView, p: number, e: number): boolean {
    if (e - p < 20) return false;
    const head = this.tsHead;
    const w0 = sv.getInt32(p, true);
    const w1 = sv.getInt32(p + 4, true);
    const w2 = sv.getInt32(p + 8, true);
    const w3 = sv.getInt32(p + 12, true);
    const w4 = sv.getInt32(p + 16, true);
    if (w0 !== head[0] || w1 !== head[1] || w2 !== head[2] || w3 !== head[3] || w4 !== head[4] || !this.tsHeadOk) {
      if (!isRfc3339Head(src, p)) return false;
      head[0] = w0;
      head[1] = w1;
      head[2] = w2;
      head[3] = w3;
      head[4] = w4;
      this.tsHeadOk = true;
    }
    return isRfc3339Rest(src, p + 19, e);
  }

  /**
   * An RFC 5424 header field at p that a SP ends (HOSTNAME, APP-NAME, PROCID): NILVALUE writes `nilKey`
   * (when there is one), a value `key` and the value as a JSON string. Sets tokenStop after the SP; returns
   * the output position, R_HEADER (an empty field, no SP after it) or R_SLOW (not UTF-8).
   */
  private headerMember(src: Buffer, p: number, end: number, o: number, key: Words, nilKey?: Words): number {
    const dv = this.out.view;
    if (p >= end || src[p] === SP) return R_HEADER;
    if (src[p] === DASH && p + 1 < end && src[p + 1] === SP) {
      tokenStop = p + 2;
      return nilKey === undefined ? o : putWords(nilKey, dv, o);
    }
    o = copyJsonText(src, this.sv, p, end, this.out.buf, dv, putWords(key, dv, o), true);
    if (o < 0) return o;
    if (tokenStop === end) return R_HEADER;
    this.out.buf[o++] = QUOTE;
    tokenStop++;
    return o;
  }

  /**
   * STRUCTURED-DATA from `[` at p, validated and written as `,"sd":{"id":{"name":"value",…},…}` in one
   * pass; sets tokenStop just after the last `]`. R_SD where the grammar breaks, R_SLOW for a repeated
   * SD-ID or PARAM-NAME (merged and turned into arrays by the reference path) or bytes that are not UTF-8.
   */
  private transcodeSd(src: Buffer, p: number, end: number, dst: Buffer, o: number): number {
    const marks = this.sdMarks;
    const sv = this.sv;
    const dv = this.out.view;
    o = putWords(K_SD, dv, o);
    let ids = 0;
    for (;;) {
      if (p >= end || src[p] !== LBRACKET) return R_SD;
      p++;
      const idStart = p;
      if (ids > 0) dst[o++] = 0x2c;
      dst[o++] = QUOTE;
      o = copySdName(src, p, end, dst, o);
      p = tokenStop;
      if (p === idStart) return R_SD;
      if (ids === MAX_SD_TRACKED) return R_SLOW;
      for (let k = 0; k < ids; k++) if (sameBytes(src, marks[2 * k]!, marks[2 * k + 1]!, idStart, p)) return R_SLOW;
      marks[2 * ids] = idStart;
      marks[2 * ids + 1] = p;
      ids++;
      dst[o++] = QUOTE;
      dst[o++] = COLON;
      dst[o++] = 0x7b;
      let names = 0;
      for (;;) {
        if (p >= end) return R_SD;
        const c = src[p]!;
        if (c === RBRACKET) {
          p++;
          break;
        }
        if (c !== SP) return R_SD;
        p++;
        const nameStart = p;
        if (names > 0) dst[o++] = 0x2c;
        dst[o++] = QUOTE;
        o = copySdName(src, p, end, dst, o);
        p = tokenStop;
        if (p === nameStart || p + 1 >= end || src[p] !== EQUALS || src[p + 1] !== QUOTE) return R_SD;
        const slot = ids + names;
        if (slot === MAX_SD_TRACKED) return R_SLOW;
        for (let k = ids; k < slot; k++)
          if (sameBytes(src, marks[2 * k]!, marks[2 * k + 1]!, nameStart, p)) return R_SLOW;
        marks[2 * slot] = nameStart;
        marks[2 * slot + 1] = p;
        names++;
        dst[o++] = QUOTE;
        dst[o++] = COLON;
        dst[o++] = QUOTE;
        p += 2;
        // PARAM-VALUE up to an unescaped '"': `\"`, `\\`, `\]` undone, JSON escapes applied
        const vStart = p;
        let high = false;
        for (;;) {
          if (p + 4 <= end) {
            const x = sv.getInt32(p, true);
            if (unsafeWord(x, TEXT_LOW) === 0) {
              dv.setInt32(o, x, true);
              p += 4;
              o += 4;
              continue;
            }
          }
          if (p >= end) return R_SD;
          let v = src[p]!;
          let k = SDVALUE[v]!;
          if (k === 0) {
            dst[o++] = v;
            p++;
            continue;
          }
          if (k === 4) break;
          if (k === 5) {
            if (p + 1 >= end) return R_SD;
            const n = src[p + 1]!;
            p++;
            if (n !== QUOTE && n !== BACKSLASH && n !== RBRACKET) {
              // a lone backslash stays, and the byte after it is skipped over by the grammar
              dst[o++] = BACKSLASH;
              dst[o++] = BACKSLASH;
            }
            v = n;
            k = CLASS[v]!;
          }
          p++;
          if (k === 0) {
            dst[o++] = v;
          } else if (k === 3) {
            high = true;
            dst[o++] = v;
          } else {
            o = escapeByte(v, k, dst, o);
          }
        }
        if (high && !isUtf8(src.subarray(vStart, p))) return R_SLOW;
        dst[o++] = QUOTE;
        p++;
      }
      dst[o++] = 0x7d;
      if (p === end || src[p] === SP) break;
    }
    dst[o++] = 0x7d;
    tokenStop = p;
    return o;
  }

  /** The record from scanned spans (RFC 3164, and RFC 5424 messages the one-pass path handed back). */
  private writeFields(src: Buffer, f: SyslogFields): number {
    const sv = this.sv;
    const dst = this.out.buf;
    const dv = this.out.view;
    let p = putWords(K_TS, dv, this.out.len);
    if (f.tsKind === TS_RFC3339) {
      for (let i = f.ts.start; i < f.ts.end; i++) dst[p++] = src[i]!;
    } else if (f.tsKind === TS_BSD) {
      p = putWords(this.bsdTimestamp(src, f.ts.start, f.ts.end), dv, p);
    } else {
      p = putWords(this.receivedWords(), dv, p);
    }
    p = putWords(K_LEVEL[f.severity]!, dv, p);
    if (f.host.start >= 0) p = putMember(K_HOST, src, sv, f.host.start, f.host.end, dst, dv, p);
    if (p < 0) return p;
    if (f.app.start >= 0) p = putMember(K_SERVICE, src, sv, f.app.start, f.app.end, dst, dv, p);
    if (p < 0) return p;
    p = putWords(K_ATTRS[f.pri]!, dv, p);
    if (f.proc.start >= 0) p = putMember(K_PROCID, src, sv, f.proc.start, f.proc.end, dst, dv, p);
    if (p < 0) return p;
    if (f.msgid.start >= 0) p = putMember(K_MSGID, src, sv, f.msgid.start, f.msgid.end, dst, dv, p);
    if (p < 0) return p;
    if (f.sd.start >= 0) {
      p = this.transcodeSd(src, f.sd.start, f.sd.end, dst, p);
      if (p < 0) return p;
    }
    return putMember(K_MSG, src, sv, f.msg.start, f.msg.end, dst, dv, p);
  }

  /** A BSD timestamp as RFC 3339 bytes, converted once per distinct timestamp (per second of log). */
  private bsdTimestamp(src: Buffer, s: number, e: number): Words {
    const n = e - s;
    const key = this.bsdKey;
    if (n === this.bsdKeyLen && n <= key.length && Math.abs(this.receivedAt - this.bsdAnchor) < 3_600_000) {
      let same = true;
      for (let i = 0; i < n; i++) {
        if (key[i] !== src[s + i]) {
          same = false;
          break;
        }
      }
      if (same) return this.bsdIso;
    }
    this.bsdIso = words(bsdTimestampToIso(src, s, e, this.receivedAt));
    this.bsdAnchor = this.receivedAt;
    if (n <= key.length) {
      src.copy(key, 0, s, e);
      this.bsdKeyLen = n;
    } else {
      this.bsdKeyLen = -1;
    }
    return this.bsdIso;
  }

  /** bytes collected since the last take() */
  get length(): number {
    return this.out.len;
  }

  /**
   * The lines collected so far as a view of the writer's own buffer, or undefined when empty: valid
   * until the next add() or clear(). For a consumer that copies them at once (no allocation per read).
   */
  peek(): Buffer | undefined {
    return this.out.len === 0 ? undefined : this.out.buf.subarray(0, this.out.len);
  }

  /** Forgets the lines collected (after peek()); the buffer is reused. */
  clear(): void {
    this.out.len = 0;
    this.count = 0;
  }

  /** The lines collected since the last take (a fresh buffer each time), or undefined when empty. */
  take(): Buffer | undefined {
    const out = this.out;
    if (out.len === 0) return undefined;
    // What is left of the buffer is handed on when it is large: one allocation per several reads.
    const rest = out.buf.length - out.len;
    const next =
      !this.allocate && rest >= this.initialBytes / 2 ? out.buf.subarray(out.len) : this.alloc(this.initialBytes);
    this.count = 0;
    return out.swap(next);
  }
}
