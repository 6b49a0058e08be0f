/**
 * Syslog, for clients that already exist (LSP1 §8): RFC 5424 and RFC 3164 (BSD) messages, mapped to
 * LSP/1 records, and the TCP framing of RFC 6587. Pure, like the rest of shared/protocol: no sockets,
 * timers or logging. The lane that puts this on UDP, TCP and TLS is lessons/stack/syslog-receiver.ts.
 *
 *   bytes ─▶ SyslogFrameDecoder ─▶ one message ─▶ scanSyslog ─▶ SyslogFields (spans, no copies)
 *            (TCP/TLS only; UDP                                 ├▶ fieldsToRecord → LogRecord (objects)
 *             is one datagram =                                 └▶ SyslogRecordWriter → record JSON bytes
 *             one message)                                         (the hot path: straight into one buffer)
 *
 * Mapping (LSP1 §8): severity 0–2 → fatal, 3 → error, 4 → warn, 5–6 → info, 7 → debug;
 * TIMESTAMP → ts (receive time when absent), HOSTNAME → host, APP-NAME (3164: TAG) → service, MSG → msg,
 * and attrs.facility / attrs.severity (keyword names), attrs.procid, attrs.msgid, attrs.sd.
 *
 * Errors: a message that cannot be read becomes a reject with a stable reason (`syslog_bad_pri`, …) —
 * returned, never thrown, on the hot path. `parseSyslog` is the throwing convenience form: it throws a
 * `SyslogError` whose `code` is the `LS_ERR_SYSLOG_*` matching the reason.
 */
import { isUtf8 } from 'node:buffer';
import { SAMPLE_BYTES } from './limits.ts';
import { PendingBytes } from './pending-bytes.ts';
import { isRfc3339, type Level, type LogRecord } from './record.ts';

// ---------------------------------------------------------------------------------------------
// Reasons and errors

/** Why a syslog input was rejected (the `reason` in rejects.ndjson), with the error code it maps to. */
export const SYSLOG_ERR = {
  /** PRI missing, not `<` 1–3 digits `>`, or above 191 */
  syslog_bad_pri: 'LS_ERR_SYSLOG_PRI',
  /** an RFC 5424 header cut short (a field missing, or two spaces in a row) */
  syslog_bad_header: 'LS_ERR_SYSLOG_HEADER',
  /** an RFC 5424 TIMESTAMP that is neither `-` nor a valid RFC 3339 date-time */
  syslog_bad_timestamp: 'LS_ERR_SYSLOG_TIMESTAMP',
  /** RFC 5424 STRUCTURED-DATA that does not follow the grammar */
  syslog_bad_sd: 'LS_ERR_SYSLOG_SD',
  /** a datagram or an LF-framed message longer than the message limit */
  syslog_too_large: 'LS_ERR_SYSLOG_TOO_LARGE',
  /** RFC 6587 octet counting: a count that is not digits followed by a space (or is 0, or has > 10 digits) */
  syslog_bad_count: 'LS_ERR_SYSLOG_COUNT',
  /**
   * RFC 6587 octet counting: a count larger than the message limit. The message is skipped (the count
   * says where the next one starts); a count past the skip limit too ends the connection (`fatal`).
   */
  syslog_count_too_large: 'LS_ERR_SYSLOG_COUNT_TOO_LARGE',
  /** the stream ended inside an octet-counted message */
  syslog_truncated: 'LS_ERR_SYSLOG_TRUNCATED',
} as const;

export type SyslogReason = keyof typeof SYSLOG_ERR;
export type SyslogErrorCode = (typeof SYSLOG_ERR)[SyslogReason];
export const SYSLOG_REASONS = Object.keys(SYSLOG_ERR) as SyslogReason[];

export class SyslogError extends Error {
  readonly code: SyslogErrorCode;
  readonly reason: SyslogReason;
  /** byte offset in the message (parser) or in the stream (framing) of what is wrong */
  readonly offset?: number;
  constructor(reason: SyslogReason, message: string, opts?: { cause?: unknown; offset?: number }) {
    super(message, opts?.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'SyslogError';
    this.reason = reason;
    this.code = SYSLOG_ERR[reason];
    if (opts?.offset !== undefined) this.offset = opts.offset;
  }
}

// ---------------------------------------------------------------------------------------------
// Names and the severity → level mapping

/** Facility keywords by code (RFC 5424 table 1, with the names rsyslog and logger use). */
export const FACILITIES = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp',
  'ntp', 'security', 'console', 'solaris-cron', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5',
  'local6', 'local7',
] as const;

/** Severity keywords by code (RFC 5424 table 2). */
export const SEVERITIES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;

/** LSP1 §8: severity 0–2 → fatal, 3 → error, 4 → warn, 5–6 → info, 7 → debug. */
export const SEVERITY_LEVEL: readonly Level[] = ['fatal', 'fatal', 'fatal', 'error', 'warn', 'info', 'info', 'debug'];

/** The other way, for the forwarder: the severity a record of that level is sent with. */
export const LEVEL_SEVERITY: Readonly<Record<Level, number>> = { trace: 7, debug: 7, info: 6, warn: 4, error: 3, fatal: 2 };

// ---------------------------------------------------------------------------------------------
// The scanner: one message → field spans

const LT = 0x3c;
const GT = 0x3e;
const SP = 0x20;
const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;
const DASH = 0x2d;
const COLON = 0x3a;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const EQUALS = 0x3d;

export const FORMAT_RFC5424 = 5424;
export const FORMAT_RFC3164 = 3164;

/** TIMESTAMP kinds in SyslogFields.tsKind. */
export const TS_NONE = 0;
export const TS_RFC3339 = 1;
export const TS_BSD = 2;

/**
 * Where the parts of one message lie, as [start, end) byte offsets into the buffer given to scanSyslog
 * (start = -1 for a part that is absent or NILVALUE). One instance is reused message after message: the
 * scan allocates nothing.
 */
export class SyslogFields {
  format = 0;
  pri = 0;
  /** TS_NONE (receive time), TS_RFC3339 (as sent) or TS_BSD (`Mmm dd hh:mm:ss[.fff]`, converted) */
  tsKind = TS_NONE;
  tsStart = -1;
  tsEnd = -1;
  hostStart = -1;
  hostEnd = -1;
  appStart = -1;
  appEnd = -1;
  procStart = -1;
  procEnd = -1;
  msgidStart = -1;
  msgidEnd = -1;
  /** the STRUCTURED-DATA elements, `[` to the last `]` (absent for `-`) */
  sdStart = -1;
  sdEnd = -1;
  msgStart = 0;
  msgEnd = 0;
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
    this.tsStart = this.tsEnd = -1;
    this.hostStart = this.hostEnd = -1;
    this.appStart = this.appEnd = -1;
    this.procStart = this.procEnd = -1;
    this.msgidStart = this.msgidEnd = -1;
    this.sdStart = this.sdEnd = -1;
    this.msgStart = this.msgEnd = 0;
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

function scan5424(buf: Buffer, p: number, end: number, f: SyslogFields): SyslogReason | undefined {
  f.format = FORMAT_RFC5424;
  // TIMESTAMP
  let e = tokenEnd(buf, p, end);
  if (e === p || e === -1) return fail(f, p, 'syslog_bad_header');
  if (!(e - p === 1 && buf[p] === DASH)) {
    if (!isRfc3339Bytes(buf, p, e)) return fail(f, p, 'syslog_bad_timestamp');
    f.tsKind = TS_RFC3339;
    f.tsStart = p;
    f.tsEnd = e;
  }
  p = e + 1;
  // HOSTNAME, APP-NAME, PROCID: each followed by SP
  e = tokenEnd(buf, p, end);
  if (e === p || e === -1) return fail(f, p, 'syslog_bad_header');
  if (!(e - p === 1 && buf[p] === DASH)) {
    f.hostStart = p;
    f.hostEnd = e;
  }
  p = e + 1;
  e = tokenEnd(buf, p, end);
  if (e === p || e === -1) return fail(f, p, 'syslog_bad_header');
  if (!(e - p === 1 && buf[p] === DASH)) {
    f.appStart = p;
    f.appEnd = e;
  }
  p = e + 1;
  e = tokenEnd(buf, p, end);
  if (e === p || e === -1) return fail(f, p, 'syslog_bad_header');
  if (!(e - p === 1 && buf[p] === DASH)) {
    f.procStart = p;
    f.procEnd = e;
  }
  p = e + 1;
  // MSGID: followed by SP and STRUCTURED-DATA, or (leniently) by the end of the message
  e = tokenEnd(buf, p, end);
  const msgidEnd = e === -1 ? end : e;
  if (msgidEnd === p) return fail(f, p, 'syslog_bad_header');
  if (!(msgidEnd - p === 1 && buf[p] === DASH)) {
    f.msgidStart = p;
    f.msgidEnd = msgidEnd;
  }
  if (e === -1) {
    f.msgStart = f.msgEnd = end;
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
    f.sdStart = p;
    f.sdEnd = sdEnd;
    p = sdEnd;
  }
  if (p === end) {
    f.msgStart = f.msgEnd = end;
    return undefined;
  }
  if (buf[p] !== SP) return fail(f, p, 'syslog_bad_sd');
  p++;
  // MSG: a UTF-8 BOM announces UTF-8 text and is not part of the message
  if (end - p >= 3 && buf[p] === 0xef && buf[p + 1] === 0xbb && buf[p + 2] === 0xbf) p += 3;
  f.msgStart = p;
  f.msgEnd = end;
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
    if ((MONTHS.charCodeAt(i) | 0x20) === a && MONTHS.charCodeAt(i + 1) === b && MONTHS.charCodeAt(i + 2) === c) return m;
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
    f.tsStart = p;
    f.tsEnd = e;
    p = e < end ? e + 1 : end;
    // HOSTNAME follows a TIMESTAMP (RFC 3164 §4.1.2); without one, what follows is all CONTENT.
    const h = hostnameEnd(buf, p, end);
    if (h >= 0) {
      f.hostStart = p;
      f.hostEnd = h;
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
    f.appStart = p;
    f.appEnd = q;
    p = q < end ? q + 1 : q;
  } else if (q > p && q < end && q - p <= MAX_TAG) {
    const c = buf[q]!;
    if (c === COLON) {
      f.appStart = p;
      f.appEnd = q;
      p = q + 1;
    } else if (c === LBRACKET) {
      let r = q + 1;
      while (r < end && r - q <= MAX_TAG && buf[r] !== RBRACKET && buf[r] !== SP) r++;
      if (r < end && buf[r] === RBRACKET && r > q + 1) {
        f.appStart = p;
        f.appEnd = q;
        f.procStart = q + 1;
        f.procEnd = r;
        p = r + 1;
        if (p < end && buf[p] === COLON) p++;
      }
    }
    if (f.appStart >= 0 && p < end && buf[p] === SP) p++;
  }
  f.msgStart = p;
  f.msgEnd = end;
  return undefined;
}

/**
 * RFC 3339 `date-time` in buf[s, e): the byte twin of record.ts's isRfc3339 (same rules; the tests
 * hold them to each other), so the hot path never makes a string to check a timestamp.
 */
export function isRfc3339Bytes(buf: Buffer, s: number, e: number): boolean {
  const n = e - s;
  if (n < 20) return false;
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
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60) return false;
  let i = s + 19;
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
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
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

/** Parses STRUCTURED-DATA already validated by scanSyslog (`f.sdStart`..`f.sdEnd`). */
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
 * The LSP/1 record for a scanned message (LSP1 §8). `receivedAt` (ms since the epoch) is the ts when the
 * message has none, and anchors the year of an RFC 3164 timestamp.
 */
export function fieldsToRecord(buf: Buffer, f: SyslogFields, receivedAt: number): LogRecord {
  let ts: string;
  if (f.tsKind === TS_RFC3339) ts = buf.toString('latin1', f.tsStart, f.tsEnd);
  else if (f.tsKind === TS_BSD) ts = bsdTimestampToIso(buf, f.tsStart, f.tsEnd, receivedAt);
  else ts = new Date(receivedAt).toISOString();
  const record: LogRecord = { ts, level: SEVERITY_LEVEL[f.severity]!, msg: text(buf, f.msgStart, f.msgEnd) };
  if (f.appStart >= 0) record.service = text(buf, f.appStart, f.appEnd);
  if (f.hostStart >= 0) record.host = text(buf, f.hostStart, f.hostEnd);
  const attrs: Record<string, unknown> = { facility: FACILITIES[f.facility]!, severity: SEVERITIES[f.severity]! };
  if (f.procStart >= 0) attrs.procid = text(buf, f.procStart, f.procEnd);
  if (f.msgidStart >= 0) attrs.msgid = text(buf, f.msgidStart, f.msgidEnd);
  if (f.sdStart >= 0) attrs.sd = parseStructuredData(buf, f.sdStart, f.sdEnd);
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
  if (!r.ok) throw new SyslogError(r.reason, `syslog message rejected: ${r.reason} at byte ${r.offset}`, { offset: r.offset });
  return r.record;
}

// ---------------------------------------------------------------------------------------------
// The hot path: scanned fields → record JSON bytes, straight into one output buffer
//
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
for (const [c, e] of [[8, 'b'], [9, 't'], [10, 'n'], [12, 'f'], [13, 'r'], [QUOTE, '"'], [BACKSLASH, '\\']] as const) {
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

/** 0 when all 4 bytes go into a JSON string as they are: 0x20..0x7f, not '"' or '\'. */
function textUnsafe(x: number): number {
  const q = x ^ 0x22222222;
  const b = x ^ 0x5c5c5c5c;
  return (((x - 0x20202020) & ~x) | ((q - W_ONES) & ~q) | ((b - W_ONES) & ~b) | x) & W_HIGH;
}

/** textUnsafe, and SP too (it ends a header token). */
function tokenUnsafe(x: number): number {
  const q = x ^ 0x22222222;
  const b = x ^ 0x5c5c5c5c;
  return (((x - 0x21212121) & ~x) | ((q - W_ONES) & ~q) | ((b - W_ONES) & ~b) | x) & W_HIGH;
}

/** 0 when all 4 bytes are SD-NAME bytes that need no JSON escape: 0x21..0x7e, not '=', ']', '"' or '\'. */
function nameUnsafe(x: number): number {
  const q = x ^ 0x22222222;
  const b = x ^ 0x5c5c5c5c;
  const eq = x ^ 0x3d3d3d3d;
  const rb = x ^ 0x5d5d5d5d;
  const del = x ^ 0x7f7f7f7f;
  return (
    (((x - 0x21212121) & ~x) | ((q - W_ONES) & ~q) | ((b - W_ONES) & ~b) | ((eq - W_ONES) & ~eq) | ((rb - W_ONES) & ~rb) | ((del - W_ONES) & ~del) | x) & W_HIGH
  );
}

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
  reserve(extra: number, alloc: (n: number) => Buffer = Buffer.allocUnsafeSlow): void {
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

/** Returned by the string writers when the bytes are not valid UTF-8: the record takes the slow path. */
const NOT_UTF8 = -1;

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

/**
 * JSON string content (no quotes) of src[s, e) at dst[o]; new o, or NOT_UTF8. Worst case 6 bytes out
 * per byte in. `sv` is a DataView on src.
 */
function writeJsonText(src: Buffer, sv: DataView, s: number, e: number, dst: Buffer, dv: DataView, o: number): number {
  let high = false;
  let p = s;
  while (p < e) {
    if (p + 4 <= e) {
      const x = sv.getInt32(p, true);
      if (textUnsafe(x) === 0) {
        dv.setInt32(o, x, true);
        p += 4;
        o += 4;
        continue;
      }
    }
    // a word (or the last bytes) with something in it: byte by byte
    const stop = p + 4 < e ? p + 4 : e;
    for (; p < stop; p++) {
      const c = src[p]!;
      const k = CLASS[c]!;
      if (k === 0) {
        dst[o++] = c;
      } else if (k === 3) {
        high = true;
        dst[o++] = c;
      } else {
        o = escapeByte(c, k, dst, o);
      }
    }
  }
  // Valid UTF-8 goes into JSON as it is; anything else takes the slow path (U+FFFD, like toString).
  if (high && !isUtf8(src.subarray(s, e))) return NOT_UTF8;
  return o;
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
const K_ATTRS = Array.from({ length: 192 }, (_, pri) => words(`,"attrs":{"facility":"${FACILITIES[pri >> 3]}","severity":"${SEVERITIES[pri & 7]}"`));
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
const REASON_OF: Record<number, SyslogReason> = { [R_HEADER]: 'syslog_bad_header', [R_TIMESTAMP]: 'syslog_bad_timestamp', [R_SD]: 'syslog_bad_sd' };

/** Where the last copyToken / transcodeSd stopped: a second return value without an allocation. */
let tokenStop = 0;

/**
 * Copies a header token (bytes up to the next SP or `end`) as JSON string content; sets tokenStop to
 * the SP that ended it (or `end`). Returns the new output position, or R_SLOW when it is not UTF-8.
 */
function copyToken(src: Buffer, sv: DataView, p: number, end: number, dst: Buffer, dv: DataView, o: number): number {
  const start = p;
  let high = false;
  scan: while (p < end) {
    if (p + 4 <= end) {
      const x = sv.getInt32(p, true);
      if (tokenUnsafe(x) === 0) {
        dv.setInt32(o, x, true);
        p += 4;
        o += 4;
        continue;
      }
    }
    const stop = p + 4 < end ? p + 4 : end;
    for (; p < stop; p++) {
      const c = src[p]!;
      const k = TOKEN[c]!;
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

/** An SD-NAME (SD-ID or PARAM-NAME) from p, copied as JSON string content; sets tokenStop after it. */
function copySdName(src: Buffer, sv: DataView, p: number, end: number, dst: Buffer, dv: DataView, o: number): number {
  for (;;) {
    if (p + 4 <= end) {
      const x = sv.getInt32(p, true);
      if (nameUnsafe(x) === 0) {
        dv.setInt32(o, x, true);
        p += 4;
        o += 4;
        continue;
      }
    }
    if (p >= end) break;
    const k = SDNAME[src[p]!]!;
    if (k === 0) break;
    // SD-NAME bytes are ASCII: only a backslash needs a JSON escape
    if (k === 2) dst[o++] = BACKSLASH;
    dst[o++] = src[p++]!;
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
  private tail: Words = new Words(CLOSE_LF);
  private receivedAt = 0;
  private receivedIso: Words = words('1970-01-01T00:00:00.000Z');
  /** the last BSD timestamp converted, and what it became (one conversion per second of log, not per message) */
  private bsdKey = Buffer.alloc(32);
  private bsdKeyLen = -1;
  private bsdIso: Words = words('');
  private bsdAnchor = 0;
  private readonly sdMarks = new Int32Array(MAX_SD_TRACKED * 2);
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
    if (ms === this.receivedAt) return;
    this.receivedAt = ms;
    this.receivedIso = words(new Date(ms).toISOString());
  }

  /**
   * JSON members appended to every record from now on, starting with a comma, e.g.
   * `,"_rx":{"ts":"…","peer":"…","lane":"syslog","transport":"tcp"}`; '' for none.
   */
  setTail(members: string): void {
    this.tail = new Words(Buffer.from(`${members}}\n`));
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
    const room = (end - start) * 6 + 256 + this.tail.n + SLACK;
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
            out.len = putLong(this.tail, out.buf, o);
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
      out.reserve(body.length + this.tail.n + SLACK, this.alloc);
      out.buf.set(body, out.len);
      out.len += body.length;
    } else {
      out.len = p;
    }
    out.len = putLong(this.tail, out.buf, out.len);
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
      o = putWords(this.receivedIso, dv, o);
    } else {
      if (!isRfc3339Bytes(src, p, e)) return R_TIMESTAMP;
      let i = p;
      for (; i + 4 <= e; i += 4, o += 4) dv.setInt32(o, sv.getInt32(i, true), true);
      for (; i < e; i++) dst[o++] = src[i]!;
    }
    p = e + 1;
    // HOSTNAME, APP-NAME (each followed by SP); level and host keys in one write when there is a host
    if (p >= end || src[p] === SP) return R_HEADER;
    if (src[p] === DASH && p + 1 < end && src[p + 1] === SP) {
      o = putWords(K_LEVEL[pri & 7]!, dv, o);
      p += 2;
    } else {
      o = copyToken(src, sv, p, end, dst, dv, putWords(K_LEVEL_HOST[pri & 7]!, dv, o));
      if (o < 0) return o;
      if (tokenStop === end) return R_HEADER;
      dst[o++] = QUOTE;
      p = tokenStop + 1;
    }
    if (p >= end || src[p] === SP) return R_HEADER;
    if (src[p] === DASH && p + 1 < end && src[p + 1] === SP) {
      p += 2;
    } else {
      o = copyToken(src, sv, p, end, dst, dv, putWords(K_SERVICE, dv, o));
      if (o < 0) return o;
      if (tokenStop === end) return R_HEADER;
      dst[o++] = QUOTE;
      p = tokenStop + 1;
    }
    o = putLong(K_ATTRS[pri]!, dst, o);
    // PROCID (followed by SP)
    if (p >= end || src[p] === SP) return R_HEADER;
    if (src[p] === DASH && p + 1 < end && src[p + 1] === SP) {
      p += 2;
    } else {
      o = copyToken(src, sv, p, end, dst, dv, putWords(K_PROCID, dv, o));
      if (o < 0) return o;
      if (tokenStop === end) return R_HEADER;
      dst[o++] = QUOTE;
      p = tokenStop + 1;
    }
    // MSGID: followed by SP and STRUCTURED-DATA, or (leniently) by the end of the message
    if (p >= end || src[p] === SP) return R_HEADER;
    if (src[p] === DASH && (p + 1 === end || src[p + 1] === SP)) {
      p++;
    } else {
      o = copyToken(src, sv, p, end, dst, dv, putWords(K_MSGID, dv, o));
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
    o = writeJsonText(src, sv, p, end, dst, dv, o);
    if (o < 0) return o;
    dst[o++] = QUOTE;
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
      o = copySdName(src, sv, p, end, dst, dv, o);
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
        o = copySdName(src, sv, p, end, dst, dv, o);
        p = tokenStop;
        if (p === nameStart || p + 1 >= end || src[p] !== EQUALS || src[p + 1] !== QUOTE) return R_SD;
        const slot = ids + names;
        if (slot === MAX_SD_TRACKED) return R_SLOW;
        for (let k = ids; k < slot; k++) if (sameBytes(src, marks[2 * k]!, marks[2 * k + 1]!, nameStart, p)) return R_SLOW;
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
            if (textUnsafe(x) === 0) {
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
      for (let i = f.tsStart; i < f.tsEnd; i++) dst[p++] = src[i]!;
    } else if (f.tsKind === TS_BSD) {
      p = putWords(this.bsdTimestamp(src, f.tsStart, f.tsEnd), dv, p);
    } else {
      p = putWords(this.receivedIso, dv, p);
    }
    p = putWords(K_LEVEL[f.severity]!, dv, p);
    if (f.hostStart >= 0) {
      p = writeJsonText(src, sv, f.hostStart, f.hostEnd, dst, dv, putWords(K_HOST, dv, p));
      if (p < 0) return p;
      dst[p++] = QUOTE;
    }
    if (f.appStart >= 0) {
      p = writeJsonText(src, sv, f.appStart, f.appEnd, dst, dv, putWords(K_SERVICE, dv, p));
      if (p < 0) return p;
      dst[p++] = QUOTE;
    }
    p = putWords(K_ATTRS[f.pri]!, dv, p);
    if (f.procStart >= 0) {
      p = writeJsonText(src, sv, f.procStart, f.procEnd, dst, dv, putWords(K_PROCID, dv, p));
      if (p < 0) return p;
      dst[p++] = QUOTE;
    }
    if (f.msgidStart >= 0) {
      p = writeJsonText(src, sv, f.msgidStart, f.msgidEnd, dst, dv, putWords(K_MSGID, dv, p));
      if (p < 0) return p;
      dst[p++] = QUOTE;
    }
    if (f.sdStart >= 0) {
      p = this.transcodeSd(src, f.sdStart, f.sdEnd, dst, p);
      if (p < 0) return p;
    }
    p = writeJsonText(src, sv, f.msgStart, f.msgEnd, dst, dv, putWords(K_MSG, dv, p));
    if (p < 0) return p;
    dst[p++] = QUOTE;
    return p;
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
    const next = !this.allocate && rest >= this.initialBytes / 2 ? out.buf.subarray(out.len) : this.alloc(this.initialBytes);
    this.count = 0;
    return out.swap(next);
  }
}

// ---------------------------------------------------------------------------------------------
// RFC 6587 framing: octet counting and LF, told apart per message

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
   * The caller reuses (or hands away) each chunk once push() returns: the part of a message that spans
   * chunks is then copied rather than kept as a view. Default false: views are kept (fewer copies).
   */
  reusesChunks?: boolean;
}

const S_START = 0;
const S_COUNT = 1;
const S_OCTETS = 2;
const S_SKIP = 3;
const S_LINE = 4;
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
 * - an LF-framed message over the limit → `syslog_too_large`, discarded up to its LF;
 * - the stream ending inside an octet-counted message → `syslog_truncated` (from end()).
 * Memory stays bounded by about maxMessageBytes whatever the peer sends.
 */
export class SyslogFrameDecoder {
  private readonly max: number;
  private readonly maxSkip: number;
  private readonly onMessage: SyslogFrameDecoderOptions['onMessage'];
  private readonly onReject: SyslogFrameDecoderOptions['onReject'];
  private state = S_START;
  private readonly pending = new PendingBytes();
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
   * bytes however the stream was cut (never the CR of its CR LF).
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
  }

  /** bytes pushed so far */
  get offset(): number {
    return this.pushed;
  }

  /** bytes held for an incomplete message */
  get bufferedBytes(): number {
    return this.pending.length + (this.state === S_COUNT ? this.countLen : 0);
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
    const parts = this.state === S_COUNT ? [this.countBytes.subarray(0, this.countLen)] : this.pending.parts;
    return firstBytes(parts);
  }

  /** Adds a chunk; calls onMessage / onReject synchronously, in stream order. */
  push(chunk: Buffer): void {
    const base = this.pushed;
    this.pushed += chunk.length;
    const len = chunk.length;
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
            if (q < len && chunk[q] === SP && c !== 0x30 && q - pos <= MAX_COUNT_DIGITS && n <= this.max && q + 1 + n <= len) {
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
          const want = this.need - this.pending.length;
          if (this.pending.length === 0 && len - pos >= want) {
            this.state = S_START;
            pos += want;
            this.onMessage(chunk, pos - want, pos, 'octet');
            break;
          }
          const take = Math.min(len - pos, want);
          this.hold(chunk.subarray(pos, pos + take));
          pos += take;
          if (this.pending.length === this.need) this.finishPending('octet');
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
        case S_LINE:
          pos = this.readLine(chunk, pos, base);
          break;
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
  }

  /** End of the stream: a final LF-framed message without LF is still a message; a cut one is rejected. */
  end(): void {
    const state = this.state;
    if (state === S_DEAD) return;
    this.state = S_START;
    if (state === S_LINE) {
      if (this.pending.length > 0) this.finishLine();
    } else if (state === S_OCTETS) {
      const sample = firstBytes(this.pending.parts);
      const seen = this.pending.length;
      this.pending.clear();
      this.reject('syslog_truncated', sample, this.msgOffset, seen);
    } else if (state === S_SKIP) {
      this.need = 0;
      if (this.skipSample !== undefined) this.reportSkipped();
    } else if (state === S_COUNT) {
      this.reject('syslog_bad_count', Buffer.from(this.countBytes.subarray(0, this.countLen)), this.msgOffset, this.countLen);
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

  /** Keeps part of a message that spans chunks: a view, or a copy when the caller reuses its chunks. */
  private hold(piece: Buffer): void {
    this.pending.push(this.reusesChunks && piece.length > 0 ? Buffer.from(piece) : piece);
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

  private readLine(chunk: Buffer, pos: number, base: number): number {
    const len = chunk.length;
    const lf = chunk.indexOf(LF, pos);
    if (lf === -1) {
      if (this.pending.length === 0) this.msgOffset = base + pos;
      this.hold(pos === 0 ? chunk : chunk.subarray(pos));
      // Room for a CR before the LF that has not come yet.
      if (this.pending.length > this.max + 1) {
        const sample = firstBytes(this.pending.parts, this.tooLargeSample);
        const seen = this.pending.length;
        this.pending.clear();
        this.state = S_DISCARD;
        this.reject('syslog_too_large', sample, this.msgOffset, seen);
      }
      return len;
    }
    this.state = S_START;
    if (this.pending.length === 0) {
      const end = lf > pos && chunk[lf - 1] === CR ? lf - 1 : lf;
      if (end - pos > this.max) {
        this.reject('syslog_too_large', Buffer.from(chunk.subarray(pos, pos + this.tooLargeSample)), base + pos, end - pos);
      } else if (end > pos) {
        this.onMessage(chunk, pos, end, 'lf');
      }
      return lf + 1;
    }
    this.hold(chunk.subarray(pos, lf));
    this.finishLine();
    return lf + 1;
  }

  private finishLine(): void {
    const total = this.pending.length;
    if (total > this.max + 1) {
      const sample = firstBytes(this.pending.parts, this.tooLargeSample);
      this.pending.clear();
      this.reject('syslog_too_large', sample, this.msgOffset, total);
      return;
    }
    const parts = this.pending.parts;
    const line = parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
    this.pending.clear();
    const end = line.length > 0 && line[line.length - 1] === CR ? line.length - 1 : line.length;
    if (end > this.max) {
      this.reject('syslog_too_large', Buffer.from(line.subarray(0, this.tooLargeSample)), this.msgOffset, end);
    } else if (end > 0) {
      this.onMessage(line, 0, end, 'lf');
    }
  }

  private finishPending(framing: SyslogFraming): void {
    const parts = this.pending.parts;
    const msg = parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.pending.length);
    this.pending.clear();
    this.state = S_START;
    this.onMessage(msg, 0, msg.length, framing);
  }
}

/** The first ≤`limit` bytes spread over `parts`, copied. */
function firstBytes(parts: readonly Buffer[], limit = SAMPLE_BYTES): Buffer {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = Buffer.allocUnsafe(Math.min(total, limit));
  let w = 0;
  for (const p of parts) {
    if (w === out.length) break;
    w += p.copy(out, w, 0, Math.min(p.length, out.length - w));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The other way: records → RFC 5424 (the forwarder)

export interface Syslog5424Options {
  /** facility when the record has no attrs.facility (code or keyword); default 1 (user) */
  facility?: number | string;
  /** start MSG with a UTF-8 BOM, as RFC 5424 §6.4 suggests; default false (most collectors keep it in the text) */
  bom?: boolean;
  /**
   * SD-ID under which attrs other than facility/severity/procid/msgid/sd travel, as params (strings as
   * they are, anything else as JSON); false to leave them out. Default `lsp@32473` (32473 is the example
   * enterprise number of RFC 5612).
   */
  attrsSdId?: string | false;
}

/** PRINTUSASCII (33..126) only, `-` when empty, at most `max` characters (RFC 5424 §6.2 header fields). */
function headerField(value: unknown, max: number): string {
  if (typeof value !== 'string' || value === '') return '-';
  let out = '';
  for (const ch of value) {
    const c = ch.codePointAt(0)!;
    out += c > 32 && c < 127 ? ch : '_';
    if (out.length >= max) break;
  }
  return out;
}

/** SD-NAME: 1..32 PRINTUSASCII except `=`, SP, `]`, `"`. */
function sdName(name: string): string {
  let out = '';
  for (const ch of name) {
    const c = ch.codePointAt(0)!;
    out += c > 32 && c < 127 && ch !== '=' && ch !== ']' && ch !== '"' ? ch : '_';
    if (out.length >= 32) break;
  }
  return out === '' ? '_' : out;
}

function paramValue(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
  return s.replace(/["\\\]]/g, (c) => `\\${c}`);
}

function codeOf(value: unknown, names: readonly string[], max: number): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max) return value;
  if (typeof value === 'string') {
    const i = names.indexOf(value);
    if (i >= 0) return i;
  }
  return undefined;
}

/** RFC 3339 as RFC 5424 wants it: upper-case T and Z, at most 6 fraction digits; `-` if not a timestamp. */
function timestamp5424(ts: unknown): string {
  if (typeof ts !== 'string' || !isRfc3339(ts)) return '-';
  let t = ts.slice(0, 10) + 'T' + ts.slice(11);
  t = t.replace(/z$/, 'Z');
  return t.replace(/^(.{19}\.\d{6})\d+/, '$1');
}

/**
 * A record as one RFC 5424 message (no framing): PRI from attrs.facility/attrs.severity (or the level),
 * TIMESTAMP from ts, HOSTNAME host, APP-NAME service, PROCID/MSGID from attrs, STRUCTURED-DATA from
 * attrs.sd (plus the other attrs, see attrsSdId), MSG the msg.
 */
export function encodeSyslog5424(record: LogRecord, opts: Syslog5424Options = {}): Buffer {
  const attrs = (record.attrs ?? {}) as Record<string, unknown>;
  const facility = codeOf(attrs.facility, FACILITIES, 23) ?? codeOf(opts.facility, FACILITIES, 23) ?? 1;
  const severity = codeOf(attrs.severity, SEVERITIES, 7) ?? LEVEL_SEVERITY[record.level] ?? 6;
  let sd = '';
  const sdIn = attrs.sd;
  if (sdIn !== null && typeof sdIn === 'object' && !Array.isArray(sdIn)) {
    for (const [id, params] of Object.entries(sdIn as Record<string, unknown>)) {
      sd += `[${sdName(id)}`;
      if (params !== null && typeof params === 'object' && !Array.isArray(params)) {
        for (const [name, value] of Object.entries(params as Record<string, unknown>)) {
          for (const v of Array.isArray(value) ? value : [value]) sd += ` ${sdName(name)}="${paramValue(v)}"`;
        }
      }
      sd += ']';
    }
  }
  const sdId = opts.attrsSdId === undefined ? 'lsp@32473' : opts.attrsSdId;
  if (sdId !== false) {
    let extra = '';
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'facility' || k === 'severity' || k === 'procid' || k === 'msgid' || k === 'sd' || v === undefined) continue;
      extra += ` ${sdName(k)}="${paramValue(v)}"`;
    }
    if (extra) sd += `[${sdName(sdId)}${extra}]`;
  }
  const header = `<${facility * 8 + severity}>1 ${timestamp5424(record.ts)} ${headerField(record.host, 255)} ${headerField(record.service, 48)} ${headerField(attrs.procid, 128)} ${headerField(attrs.msgid, 32)} ${sd || '-'}`;
  const msg = typeof record.msg === 'string' ? record.msg : String(record.msg);
  if (msg === '') return Buffer.from(header);
  return Buffer.from(`${header} ${opts.bom ? '\ufeff' : ''}${msg}`);
}

/** RFC 6587 octet counting: `LEN SP MSG`. */
export function frameOctetCounted(msg: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${msg.length} `, 'latin1'), msg]);
}
