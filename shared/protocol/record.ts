/**
 * Record validation (LSP/1 §1). A record is one UTF-8 JSON object with a string `ts` (RFC 3339), a
 * `level` from LEVELS and a string `msg`; `service` and `host` are optional strings, `attrs` an optional
 * object, and any other top-level field is kept as it came.
 *
 * This runs once per record (around a million times a second on a busy receiver), so the common path
 * does one UTF-8 check, one JSON.parse and a few typeof tests, and the timestamp is checked with char
 * codes rather than a regex or Date.
 */
import { isUtf8 } from 'node:buffer';
import { DEFAULT_MAX_RECORD_BYTES, SAMPLE_BYTES } from './limits.ts';

export const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type Level = (typeof LEVELS)[number];

const LEVEL_SET: ReadonlySet<string> = new Set(LEVELS);

export function isLevel(s: unknown): s is Level {
  return typeof s === 'string' && LEVEL_SET.has(s);
}

/** Why an input was rejected; written as `reason` in rejects.ndjson (LSP/1 §7). */
export type RejectReason =
  | 'line_too_long'
  | 'record_too_large'
  | 'invalid_utf8'
  | 'invalid_json'
  | 'not_object'
  | 'missing_ts'
  | 'missing_level'
  | 'missing_msg'
  | 'invalid_ts'
  | 'invalid_level'
  | 'invalid_msg'
  | 'invalid_field';

/** A valid record. Fields beyond these are allowed and kept. */
export interface LogRecord {
  ts: string;
  level: Level;
  msg: string;
  service?: string;
  host?: string;
  attrs?: Record<string, unknown>;
  [key: string]: unknown;
}

export type Rejection = { ok: false; reason: RejectReason; detail?: string };
export type RecordResult = { ok: true; text: string; record: LogRecord } | Rejection;
export type RecordObjectResult = { ok: true; record: LogRecord } | Rejection;

// Shared results for the rejections that carry no detail: no allocation on the reject path.
const reject = (reason: RejectReason): Rejection => Object.freeze({ ok: false as const, reason });
const NOT_OBJECT = reject('not_object');
const MISSING_TS = reject('missing_ts');
const MISSING_LEVEL = reject('missing_level');
const MISSING_MSG = reject('missing_msg');
const INVALID_TS = reject('invalid_ts');
const INVALID_LEVEL = reject('invalid_level');
const INVALID_MSG = reject('invalid_msg');
const INVALID_UTF8 = reject('invalid_utf8');
const BAD_SERVICE: Rejection = Object.freeze({ ok: false, reason: 'invalid_field', detail: 'service must be a string' });
const BAD_HOST: Rejection = Object.freeze({ ok: false, reason: 'invalid_field', detail: 'host must be a string' });
const BAD_ATTRS: Rejection = Object.freeze({ ok: false, reason: 'invalid_field', detail: 'attrs must be an object' });

/**
 * Validate one record line (no LF). Checks, in order: size, UTF-8, JSON, object, then the fields.
 * On success `text` is the line as a string, surrounding whitespace trimmed, and `record` the parsed
 * object. The caller decides what to do with either (persist `text`, add `_rx`, …).
 */
export function validateRecord(line: Buffer, maxRecordBytes: number = DEFAULT_MAX_RECORD_BYTES): RecordResult {
  if (line.length > maxRecordBytes) {
    return { ok: false, reason: 'record_too_large', detail: `${line.length} bytes, limit ${maxRecordBytes}` };
  }
  if (!isUtf8(line)) return INVALID_UTF8;
  // Only JSON's own whitespace (RFC 8259: SP, HT, CR, LF) is trimmed, never String#trim's Unicode set:
  // a line ending in U+00A0 or starting with a BOM is not JSON, and the `_rx` splice (storage/rx.ts),
  // which looks for the closing brace past JSON whitespace only, must never see one as a record.
  const text = trimJsonWhitespace(line.toString('utf8'));
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: 'invalid_json', detail: (err as Error).message };
  }
  const checked = validateRecordObject(value);
  return checked.ok ? { ok: true, text, record: checked.record } : checked;
}

function isJsonWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** `s` without leading and trailing JSON whitespace (no copy when there is none, the common case). */
function trimJsonWhitespace(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isJsonWhitespace(s.charCodeAt(a))) a++;
  while (b > a && isJsonWhitespace(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** Validate an already-parsed value as a record (same rules as validateRecord after JSON.parse). */
export function validateRecordObject(value: unknown): RecordObjectResult {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return NOT_OBJECT;
  const r = value as Record<string, unknown>;
  const ts = r['ts'];
  if (ts === undefined) return MISSING_TS;
  if (typeof ts !== 'string' || !isRfc3339(ts)) return INVALID_TS;
  const level = r['level'];
  if (level === undefined) return MISSING_LEVEL;
  if (typeof level !== 'string' || !LEVEL_SET.has(level)) return INVALID_LEVEL;
  const msg = r['msg'];
  if (msg === undefined) return MISSING_MSG;
  if (typeof msg !== 'string') return INVALID_MSG;
  const service = r['service'];
  if (service !== undefined && typeof service !== 'string') return BAD_SERVICE;
  const host = r['host'];
  if (host !== undefined && typeof host !== 'string') return BAD_HOST;
  const attrs = r['attrs'];
  if (attrs !== undefined && (typeof attrs !== 'object' || attrs === null || Array.isArray(attrs))) return BAD_ATTRS;
  return { ok: true, record: r as LogRecord };
}

/** Two ASCII digits at s[i], s[i+1] as a number, or -1. */
function two(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * RFC 3339 `date-time`: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, `T` and `Z` in either case, with real
 * calendar ranges (Feb 29 only in leap years; second 60 allowed for leap seconds, as the RFC does).
 */
export function isRfc3339(s: string): boolean {
  const n = s.length;
  if (n < 20) return false; // shortest: 2026-11-26T14:13:48Z
  const yHi = two(s, 0);
  const yLo = two(s, 2);
  if (yHi < 0 || yLo < 0 || s.charCodeAt(4) !== 45 /* - */ || s.charCodeAt(7) !== 45) return false;
  const year = yHi * 100 + yLo;
  const month = two(s, 5);
  const day = two(s, 8);
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month]!)) return false;
  const t = s.charCodeAt(10);
  if (t !== 84 /* T */ && t !== 116 /* t */) return false;
  const hour = two(s, 11);
  const minute = two(s, 14);
  const second = two(s, 17);
  if (s.charCodeAt(13) !== 58 /* : */ || s.charCodeAt(16) !== 58) return false;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60) return false;
  let i = 19;
  if (s.charCodeAt(i) === 46 /* . */) {
    const start = ++i;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) break;
      i++;
    }
    if (i === start) return false;
  }
  const z = s.charCodeAt(i);
  if (z === 90 /* Z */ || z === 122 /* z */) return i + 1 === n;
  if (z !== 43 /* + */ && z !== 45 /* - */) return false;
  if (n !== i + 6 || s.charCodeAt(i + 3) !== 58) return false;
  const oh = two(s, i + 1);
  const om = two(s, i + 4);
  return oh >= 0 && oh <= 23 && om >= 0 && om <= 59;
}

/** A rejected input's `sample` for rejects.ndjson: at most its first 256 bytes, as text (LSP/1 §7). */
export function sampleText(input: Buffer): string {
  return input.toString('utf8', 0, Math.min(input.length, SAMPLE_BYTES));
}
