/**
 * Reading one syslog message (shared/protocol/README.md §7): RFC 5424 and RFC 3164 (BSD), told apart per message, scanned
 * into field spans without copies (`scanSyslog` → `SyslogFields`), and those spans mapped to an LSP/1
 * record object (`fieldsToRecord`, `syslogToRecord`, `parseSyslog`). Pure, like the rest of
 * shared/protocol: no sockets, timers or logging. The hot path (spans → record JSON bytes in one buffer)
 * is writer.ts; the stream framing that cuts TCP/TLS bytes into messages is the syslog lane's
 * (lessons/stack/syslog-framing.ts); a UDP datagram is one message.
 *
 * Mapping (shared/protocol/README.md §7): severity 0–2 → fatal, 3 → error, 4 → warn, 5–6 → info, 7 → debug;
 * TIMESTAMP → ts (receive time when absent), HOSTNAME → host, APP-NAME (3164: TAG) → service, MSG → msg,
 * and attrs.facility / attrs.severity (keyword names), attrs.procid, attrs.msgid, attrs.sd.
 *
 * A message that cannot be read gives a reason (errors.ts), returned, never thrown — except by
 * `parseSyslog`, the throwing convenience form.
 */
import type { LogRecord } from '../record.ts';
import { BACKSLASH, COLON, CR, DASH, EQUALS, GT, LBRACKET, LF, LT, NUL, QUOTE, RBRACKET, SP } from './bytes.ts';
import { SyslogError, type SyslogReason } from './errors.ts';
import { FACILITIES, SEVERITIES, SEVERITY_LEVEL } from './names.ts';

// ---------------------------------------------------------------------------------------------
// The scanner: one message → field spans

export const FORMAT_RFC5424 = 5424;
export const FORMAT_RFC3164 = 3164;

/** TIMESTAMP kinds in SyslogFields.tsKind. */
export const TS_NONE = 0;
export const TS_RFC3339 = 1;
export const TS_BSD = 2;

/** Where one part of a message lies: [start, end) byte offsets; start = -1 when it is absent or NILVALUE. */
export class Span {
  start = -1;
  end = -1;

  set(start: number, end: number): void {
    this.start = start;
    this.end = end;
  }
}

/**
 * Where the parts of one message lie, as Spans of the buffer given to scanSyslog. One instance is reused
 * message after message: the scan allocates nothing.
 */
export class SyslogFields {
  format = 0;
  pri = 0;
  /** TS_NONE (receive time), TS_RFC3339 (as sent) or TS_BSD (`Mmm dd hh:mm:ss[.fff]`, converted) */
  tsKind = TS_NONE;
  readonly ts = new Span();
  readonly host = new Span();
  /** APP-NAME (RFC 3164: the TAG) */
  readonly app = new Span();
  readonly proc = new Span();
  readonly msgid = new Span();
  /** the STRUCTURED-DATA elements, `[` to the last `]` (absent for `-`) */
  readonly sd = new Span();
  /** MSG: always present, possibly empty */
  readonly msg = new Span();
  /** the RFC 5424 header fields that are a token followed by SP, in the order they come (then MSGID) */
  readonly header: readonly Span[] = [this.ts, this.host, this.app, this.proc];
  /** where the scan failed (absolute offset in the buffer), when it did */
  errorAt = -1;

  get facility(): number {
    return this.pri >> 3;
  }

  get severity(): number {
    return this.pri & 7;
  }

  reset(): void {
    this.format = 0;
    this.pri = 0;
    this.tsKind = TS_NONE;
    for (const span of this.header) span.set(-1, -1);
    this.msgid.set(-1, -1);
    this.sd.set(-1, -1);
    this.msg.set(0, 0);
    this.errorAt = -1;
  }
}

function fail(f: SyslogFields, at: number, reason: SyslogReason): SyslogReason {
  f.errorAt = at;
  return reason;
}

/**
 * Reads one message (`buf[start, end)`, no framing around it) into `f`. Returns undefined on success or
 * the reason it cannot be read. Trailing LF, CR and NUL bytes are ignored (senders add them over UDP and
 * in octet-counted frames). The format is told per message: `<PRI>1 ` is RFC 5424, anything else after a
 * valid PRI is read as RFC 3164.
 */
export function scanSyslog(buf: Buffer, start: number, end: number, f: SyslogFields): SyslogReason | undefined {
  f.reset();
  while (end > start) {
    const c = buf[end - 1]!;
    if (c !== LF && c !== CR && c !== NUL) break;
    end--;
  }
  // PRI = "<" 1*3DIGIT ">", 0..191
  if (end - start < 3 || buf[start] !== LT) return fail(f, start, 'syslog_bad_pri');
  let p = start + 1;
  let pri = 0;
  let digits = 0;
  while (p < end && digits < 4) {
    const d = buf[p]! - 0x30;
    if (d < 0 || d > 9) break;
    pri = pri * 10 + d;
    digits++;
    p++;
  }
  if (digits === 0 || digits > 3 || pri > 191 || p >= end || buf[p] !== GT) return fail(f, start, 'syslog_bad_pri');
  f.pri = pri;
  p++;
  if (p + 1 < end && buf[p] === 0x31 /* 1 */ && buf[p + 1] === SP) return scan5424(buf, p + 2, end, f);
  if (p + 1 === end && buf[p] === 0x31) {
    // `<13>1` and nothing more: an RFC 5424 header cut short
    return fail(f, p, 'syslog_bad_header');
  }
  return scan3164(buf, p, end, f);
}

/** The end of the header token starting at p: the next SP, or -1 if there is none before `end`. */
function tokenEnd(buf: Buffer, p: number, end: number): number {
  while (p < end) {
    if (buf[p] === SP) return p;
    p++;
  }
  return -1;
}

/** `-`, the NILVALUE of RFC 5424: the field is absent. */
function isNil(buf: Buffer, s: number, e: number): boolean {
  return e - s === 1 && buf[s] === DASH;
}

/** Indexes into SyslogFields.header: TIMESTAMP first, PROCID last (HOSTNAME and APP-NAME between). */
const H_TIMESTAMP = 0;
const H_PROCID = 3;

function scan5424(buf: Buffer, p: number, end: number, f: SyslogFields): SyslogReason | undefined {
  f.format = FORMAT_RFC5424;
  // TIMESTAMP, HOSTNAME, APP-NAME, PROCID: each a token followed by SP, `-` when absent; a TIMESTAMP
  // that is present must be RFC 3339
  for (let h = H_TIMESTAMP; h <= H_PROCID; h++) {
    const e = tokenEnd(buf, p, end);
    if (e === p || e === -1) return fail(f, p, 'syslog_bad_header');
    if (!isNil(buf, p, e)) {
      if (h === H_TIMESTAMP) {
        if (!isRfc3339Bytes(buf, p, e)) return fail(f, p, 'syslog_bad_timestamp');
        f.tsKind = TS_RFC3339;
      }
      f.header[h]!.set(p, e);
    }
    p = e + 1;
  }
  // MSGID: followed by SP and STRUCTURED-DATA, or (leniently) by the end of the message
  const e = tokenEnd(buf, p, end);
  const msgidEnd = e === -1 ? end : e;
  if (msgidEnd === p) return fail(f, p, 'syslog_bad_header');
  if (!isNil(buf, p, msgidEnd)) {
    f.msgid.start = p;
    f.msgid.end = msgidEnd;
  }
  if (e === -1) {
    f.msg.start = f.msg.end = end;
    return undefined;
  }
  p = e + 1;
  // STRUCTURED-DATA = NILVALUE / 1*SD-ELEMENT
  if (p >= end) return fail(f, p, 'syslog_bad_header');
  if (buf[p] === DASH) {
    p++;
  } else {
    const sdEnd = scanStructuredData(buf, p, end);
    if (sdEnd < 0) return fail(f, -sdEnd - 1, 'syslog_bad_sd');
    f.sd.start = p;
    f.sd.end = sdEnd;
    p = sdEnd;
  }
  if (p === end) {
    f.msg.start = f.msg.end = end;
    return undefined;
  }
  if (buf[p] !== SP) return fail(f, p, 'syslog_bad_sd');
  p++;
  // MSG: a UTF-8 BOM announces UTF-8 text and is not part of the message
  if (end - p >= 3 && buf[p] === 0xef && buf[p + 1] === 0xbb && buf[p + 2] === 0xbf) p += 3;
  f.msg.start = p;
  f.msg.end = end;
  return undefined;
}

/** SD-NAME: PRINTUSASCII except '=', SP, ']' and '"' (length is not limited here: be liberal). */
function isSdNameByte(c: number): boolean {
  return c > 32 && c < 127 && c !== EQUALS && c !== RBRACKET && c !== QUOTE;
}

/**
 * Validates SD-ELEMENTs from `[` at p. Returns the offset just after the last `]`, or -(offset + 1) of
 * the first byte that breaks the grammar.
 */
function scanStructuredData(buf: Buffer, p: number, end: number): number {
  for (;;) {
    if (p >= end || buf[p] !== LBRACKET) return -p - 1;
    p++;
    const idStart = p;
    while (p < end && isSdNameByte(buf[p]!)) p++;
    if (p === idStart) return -p - 1;
    for (;;) {
      if (p >= end) return -p - 1;
      const c = buf[p]!;
      if (c === RBRACKET) {
        p++;
        break;
      }
      if (c !== SP) return -p - 1;
      p++;
      const nameStart = p;
      while (p < end && isSdNameByte(buf[p]!)) p++;
      if (p === nameStart || p + 1 >= end || buf[p] !== EQUALS || buf[p + 1] !== QUOTE) return -p - 1;
      p += 2;
      // PARAM-VALUE: any bytes up to an unescaped '"'; a backslash escapes the byte after it
      for (;;) {
        if (p >= end) return -p - 1;
        const v = buf[p]!;
        if (v === QUOTE) break;
        p += v === BACKSLASH ? 2 : 1;
      }
      p++;
    }
    if (p === end || buf[p] === SP) return p;
  }
}

const MONTHS = 'JanFebMarAprMayJunJulAugSepOctNovDec';
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Month 0..11 of a three-letter English month name at p (any case), or -1. */
function monthAt(buf: Buffer, p: number): number {
  const a = buf[p]! | 0x20;
  const b = buf[p + 1]! | 0x20;
  const c = buf[p + 2]! | 0x20;
  for (let m = 0; m < 12; m++) {
    const i = m * 3;
    if ((MONTHS.charCodeAt(i) | 0x20) === a && MONTHS.charCodeAt(i + 1) === b && MONTHS.charCodeAt(i + 2) === c)
      return m;
  }
  return -1;
}

function digitAt(buf: Buffer, p: number): number {
  const d = buf[p]! - 0x30;
  return d >= 0 && d <= 9 ? d : -1;
}

function twoDigits(buf: Buffer, p: number): number {
  const a = digitAt(buf, p);
  const b = digitAt(buf, p + 1);
  return a < 0 || b < 0 ? -1 : a * 10 + b;
}

/**
 * End of an RFC 3164 TIMESTAMP `Mmm dd hh:mm:ss` at p (day space- or zero-padded; an optional `.fff`
 * fraction tolerated), followed by SP or the end of the message; -1 if there is none.
 */
function bsdTimestampEnd(buf: Buffer, p: number, end: number): number {
  if (end - p < 15) return -1;
  const month = monthAt(buf, p);
  if (month < 0 || buf[p + 3] !== SP) return -1;
  const d1 = buf[p + 4] === SP ? 0 : digitAt(buf, p + 4);
  const d2 = digitAt(buf, p + 5);
  if (d1 < 0 || d2 < 0) return -1;
  const day = d1 * 10 + d2;
  if (day < 1 || day > DAYS_IN_MONTH[month]! || buf[p + 6] !== SP) return -1;
  const h = twoDigits(buf, p + 7);
  const m = twoDigits(buf, p + 10);
  const s = twoDigits(buf, p + 13);
  if (buf[p + 9] !== COLON || buf[p + 12] !== COLON || h < 0 || h > 23 || m < 0 || m > 59 || s < 0 || s > 60) return -1;
  let e = p + 15;
  if (e < end && buf[e] === 0x2e /* . */) {
    let q = e + 1;
    while (q < end && digitAt(buf, q) >= 0) q++;
    if (q === e + 1) return -1;
    e = q;
  }
  return e === end || buf[e] === SP ? e : -1;
}

/** A hostname token: [A-Za-z0-9._-]+ ending in a letter or digit, or an IPv6 address (2+ colons), then SP. */
function hostnameEnd(buf: Buffer, p: number, end: number): number {
  let q = p;
  let colons = 0;
  let hexish = true;
  let lastAlnum = false;
  while (q < end) {
    const c = buf[q]!;
    if (c === SP) break;
    const lower = c | 0x20;
    const digit = c >= 0x30 && c <= 0x39;
    const alpha = lower >= 0x61 && lower <= 0x7a && c >= 0x41;
    lastAlnum = digit || alpha;
    if (c === COLON) colons++;
    else if (!lastAlnum && c !== 0x2e && c !== 0x5f && c !== DASH) return -1;
    if (!(digit || (alpha && lower <= 0x66) || c === COLON || c === 0x2e)) hexish = false;
    q++;
  }
  if (q === p || q === end) return -1; // a hostname is followed by SP and more
  if (colons > 0 && !(colons >= 2 && hexish)) return -1;
  return lastAlnum ? q : -1;
}

/** Longest TAG and PID we read as such (RFC 3164 allows 32 for the TAG; real senders go further). */
const MAX_TAG = 128;

function scan3164(buf: Buffer, p: number, end: number, f: SyslogFields): SyslogReason | undefined {
  f.format = FORMAT_RFC3164;
  // TIMESTAMP: BSD `Mmm dd hh:mm:ss`, or an RFC 3339 one (rsyslog's RSYSLOG_ForwardFormat sends that)
  let e = bsdTimestampEnd(buf, p, end);
  if (e >= 0) {
    f.tsKind = TS_BSD;
  } else {
    const t = tokenEnd(buf, p, end);
    const te = t === -1 ? end : t;
    if (te - p >= 20 && isRfc3339Bytes(buf, p, te)) {
      e = te;
      f.tsKind = TS_RFC3339;
    }
  }
  if (e >= 0) {
    f.ts.start = p;
    f.ts.end = e;
    p = e < end ? e + 1 : end;
    // HOSTNAME follows a TIMESTAMP (RFC 3164 §4.1.2); without one, what follows is all CONTENT.
    const h = hostnameEnd(buf, p, end);
    if (h >= 0) {
      f.host.start = p;
      f.host.end = h;
      p = h + 1;
    }
  }
  // TAG: a word followed by ':' or '[pid]' (what logger, journald and most daemons send). After a
  // TIMESTAMP a bare word is a TAG too, as rsyslog reads it (its traditional forward format sends the
  // APP-NAME of an RFC 5424 message that way: `… host app text`). Without a TIMESTAMP a bare word is
  // just the start of the message.
  let q = p;
  while (q < end && q - p <= MAX_TAG) {
    const c = buf[q]!;
    if (c === SP || c === COLON || c === LBRACKET || c === RBRACKET) break;
    q++;
  }
  if (q > p && q - p <= MAX_TAG && f.tsKind !== TS_NONE && (q === end || buf[q] === SP)) {
    f.app.start = p;
    f.app.end = q;
    p = q < end ? q + 1 : q;
  } else if (q > p && q < end && q - p <= MAX_TAG) {
    const c = buf[q]!;
    if (c === COLON) {
      f.app.start = p;
      f.app.end = q;
      p = q + 1;
    } else if (c === LBRACKET) {
      let r = q + 1;
      while (r < end && r - q <= MAX_TAG && buf[r] !== RBRACKET && buf[r] !== SP) r++;
      if (r < end && buf[r] === RBRACKET && r > q + 1) {
        f.app.start = p;
        f.app.end = q;
        f.proc.start = q + 1;
        f.proc.end = r;
        p = r + 1;
        if (p < end && buf[p] === COLON) p++;
      }
    }
    if (f.app.start >= 0 && p < end && buf[p] === SP) p++;
  }
  f.msg.start = p;
  f.msg.end = end;
  return undefined;
}

/**
 * RFC 3339 `date-time` in buf[s, e): the byte twin of record.ts's isRfc3339 (same rules; the tests
 * hold them to each other), so the hot path never makes a string to check a timestamp.
 */
export function isRfc3339Bytes(buf: Buffer, s: number, e: number): boolean {
  return e - s >= 20 && isRfc3339Head(buf, s) && isRfc3339Rest(buf, s + 19, e);
}

/**
 * The first 19 bytes of an RFC 3339 `date-time`, `YYYY-MM-DDTHH:MM:SS` (the caller knows there are 20+):
 * a valid date and time of day, at fixed offsets. Split from the rest so that the syslog writer can skip
 * it when these 19 bytes are those it checked last (a log's timestamps share their second).
 */
export function isRfc3339Head(buf: Buffer, s: number): boolean {
  const yHi = twoDigits(buf, s);
  const yLo = twoDigits(buf, s + 2);
  if (yHi < 0 || yLo < 0 || buf[s + 4] !== DASH || buf[s + 7] !== DASH) return false;
  const year = yHi * 100 + yLo;
  const month = twoDigits(buf, s + 5);
  const day = twoDigits(buf, s + 8);
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 ? (leap ? 29 : 28) : DAYS_IN_MONTH[month - 1]!)) return false;
  const t = buf[s + 10];
  if (t !== 0x54 && t !== 0x74) return false;
  const hour = twoDigits(buf, s + 11);
  const minute = twoDigits(buf, s + 14);
  const second = twoDigits(buf, s + 17);
  if (buf[s + 13] !== COLON || buf[s + 16] !== COLON) return false;
  return hour >= 0 && hour <= 23 && minute >= 0 && minute <= 59 && second >= 0 && second <= 60;
}

/** What follows `YYYY-MM-DDTHH:MM:SS` at i, up to e: an optional `.fraction`, then `Z` or `±hh:mm`. */
export function isRfc3339Rest(buf: Buffer, i: number, e: number): boolean {
  if (buf[i] === 0x2e) {
    const fs = ++i;
    while (i < e && digitAt(buf, i) >= 0) i++;
    if (i === fs) return false;
  }
  if (i >= e) return false;
  const z = buf[i];
  if (z === 0x5a || z === 0x7a) return i + 1 === e;
  if (z !== 0x2b && z !== DASH) return false;
  if (e !== i + 6 || buf[i + 3] !== COLON) return false;
  const oh = twoDigits(buf, i + 1);
  const om = twoDigits(buf, i + 4);
  return oh >= 0 && oh <= 23 && om >= 0 && om <= 59;
}

// ---------------------------------------------------------------------------------------------
// RFC 3164 timestamps → RFC 3339

/** How far in the future a BSD timestamp may lie before we take it for last year's (Dec → Jan). */
const FUTURE_SLACK_MS = 7 * 86_400_000;

/**
 * An RFC 3164 TIMESTAMP (validated by the scanner) as an RFC 3339 UTC string. It has no year and no zone:
 * it is read in this process's local time zone (TZ), in the year of `receivedAt` — or the year before
 * when that would put it more than 7 days in the future (a December message read in January). A Feb 29
 * that the year lacks goes back to the last year that has it.
 */
export function bsdTimestampToIso(buf: Buffer, s: number, e: number, receivedAt: number): string {
  const month = monthAt(buf, s);
  const day = (buf[s + 4] === SP ? 0 : buf[s + 4]! - 0x30) * 10 + (buf[s + 5]! - 0x30);
  const h = twoDigits(buf, s + 7);
  const m = twoDigits(buf, s + 10);
  const sec = twoDigits(buf, s + 13);
  let ms = 0;
  if (e > s + 16) {
    // `.f`, `.ff`, `.fff…`: milliseconds from the first three digits
    ms = (buf[s + 16]! - 0x30) * 100;
    if (e > s + 17) ms += (buf[s + 17]! - 0x30) * 10;
    if (e > s + 18) ms += buf[s + 18]! - 0x30;
  }
  let year = new Date(receivedAt).getFullYear();
  const at = (y: number) => new Date(y, month, day, h, m, sec, ms);
  let d = at(year);
  if (d.getTime() > receivedAt + FUTURE_SLACK_MS) d = at(--year);
  for (let k = 0; k < 8 && d.getMonth() !== month; k++) d = at(--year); // Feb 29
  return d.toISOString();
}

// ---------------------------------------------------------------------------------------------
// Fields → LogRecord (objects): the reference mapping, used by tools, tests and the fallback path

/** Structured data as attrs.sd: `{ "id@pen": { param: value } }`; a param repeated in an element gives an array. */
export type StructuredData = Record<string, Record<string, string | string[]>>;

/** Sets an own property, `__proto__` included (plain assignment would change the prototype instead). */
function put(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

function own<T>(obj: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/** PARAM-VALUE bytes with `\"`, `\\` and `\]` unescaped (any other backslash stays as it is). */
function unescapeParam(buf: Buffer, s: number, e: number): Buffer {
  const out = Buffer.allocUnsafe(e - s);
  let w = 0;
  for (let i = s; i < e; i++) {
    const c = buf[i]!;
    if (c === BACKSLASH && i + 1 < e) {
      const n = buf[i + 1]!;
      if (n === QUOTE || n === BACKSLASH || n === RBRACKET) {
        out[w++] = n;
        i++;
        continue;
      }
    }
    out[w++] = c;
  }
  return out.subarray(0, w);
}

/** Parses STRUCTURED-DATA already validated by scanSyslog (`f.sd.start`..`f.sd.end`). */
export function parseStructuredData(buf: Buffer, s: number, e: number): StructuredData {
  const sd: StructuredData = {};
  let p = s;
  while (p < e && buf[p] === LBRACKET) {
    p++;
    const idStart = p;
    while (isSdNameByte(buf[p]!)) p++;
    const id = buf.toString('utf8', idStart, p);
    let params = own(sd, id);
    if (params === undefined) {
      params = {};
      put(sd, id, params);
    }
    while (buf[p] !== RBRACKET) {
      p++; // SP
      const nameStart = p;
      while (isSdNameByte(buf[p]!)) p++;
      const name = buf.toString('utf8', nameStart, p);
      p += 2; // ="
      const vStart = p;
      while (buf[p] !== QUOTE) p += buf[p] === BACKSLASH ? 2 : 1;
      const value = unescapeParam(buf, vStart, p).toString('utf8');
      p++;
      const prev = own(params, name);
      if (prev === undefined) put(params, name, value);
      else if (Array.isArray(prev)) prev.push(value);
      else put(params, name, [prev, value]);
    }
    p++;
  }
  return sd;
}

function text(buf: Buffer, s: number, e: number): string {
  return buf.toString('utf8', s, e);
}

/**
 * The LSP/1 record for a scanned message (shared/protocol/README.md §7). `receivedAt` (ms since the epoch) is the ts when the
 * message has none, and anchors the year of an RFC 3164 timestamp.
 */
export function fieldsToRecord(buf: Buffer, f: SyslogFields, receivedAt: number): LogRecord {
  let ts: string;
  if (f.tsKind === TS_RFC3339) ts = buf.toString('latin1', f.ts.start, f.ts.end);
  else if (f.tsKind === TS_BSD) ts = bsdTimestampToIso(buf, f.ts.start, f.ts.end, receivedAt);
  else ts = new Date(receivedAt).toISOString();
  const record: LogRecord = { ts, level: SEVERITY_LEVEL[f.severity]!, msg: text(buf, f.msg.start, f.msg.end) };
  if (f.app.start >= 0) record.service = text(buf, f.app.start, f.app.end);
  if (f.host.start >= 0) record.host = text(buf, f.host.start, f.host.end);
  const attrs: Record<string, unknown> = { facility: FACILITIES[f.facility]!, severity: SEVERITIES[f.severity]! };
  if (f.proc.start >= 0) attrs.procid = text(buf, f.proc.start, f.proc.end);
  if (f.msgid.start >= 0) attrs.msgid = text(buf, f.msgid.start, f.msgid.end);
  if (f.sd.start >= 0) attrs.sd = parseStructuredData(buf, f.sd.start, f.sd.end);
  record.attrs = attrs;
  return record;
}

export type SyslogRecordResult = { ok: true; record: LogRecord } | { ok: false; reason: SyslogReason; offset: number };

/** One message → its record, or the reason it is rejected (never throws). */
export function syslogToRecord(input: Buffer | string, receivedAt: number = Date.now()): SyslogRecordResult {
  const buf = typeof input === 'string' ? Buffer.from(input) : input;
  const f = new SyslogFields();
  const reason = scanSyslog(buf, 0, buf.length, f);
  if (reason !== undefined) return { ok: false, reason, offset: f.errorAt };
  return { ok: true, record: fieldsToRecord(buf, f, receivedAt) };
}

/** One message → its record; throws a SyslogError (code LS_ERR_SYSLOG_*) when it cannot be read. */
export function parseSyslog(input: Buffer | string, receivedAt: number = Date.now()): LogRecord {
  const r = syslogToRecord(input, receivedAt);
  if (!r.ok)
    throw new SyslogError(r.reason, `syslog message rejected: ${r.reason} at byte ${r.offset}`, { offset: r.offset });
  return r.record;
}
