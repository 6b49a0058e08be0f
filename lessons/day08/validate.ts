/**
 * Day 08 — record validation (LSP/1 §1): is this line a record, and if not, why not?
 *
 * A record is one UTF-8 JSON object, at most `maxRecordBytes`, with
 *   - `ts`    a string, an RFC 3339 timestamp (`isRfc3339` from shared/protocol/record.ts checks one),
 *   - `level` one of LEVELS (trace debug info warn error fatal),
 *   - `msg`   a string,
 * and optionally `service` and `host` (strings) and `attrs` (an object). Any other top-level field is
 * kept as it came. The first rule a line breaks is its `reason` in rejects.ndjson [d08.6], checked in
 * this order:
 *
 *   record_too_large → invalid_utf8 → invalid_json → not_object → missing_ts / invalid_ts →
 *   missing_level / invalid_level → missing_msg / invalid_msg → invalid_field (`detail` names the field)
 *
 * A rejection is an answer, never an exception: a bad line costs its client one reject, never the
 * connection. Every later day validates its records through these two functions (day 09's ingest, the
 * receivers of days 10–13), and the syslog lane's records are built valid by construction and tested
 * against `validateRecordObject` (tests/fuzz).
 *
 * This runs once per record (around a million times a second on a busy receiver): one UTF-8 check, one
 * JSON.parse and a few typeof tests, no regex and no Date on the common path.
 */
import { isUtf8 } from 'node:buffer';
import { DEFAULT_MAX_RECORD_BYTES } from '../../shared/protocol/limits.ts';
import { isRfc3339, LEVELS, type LogRecord, type RejectReason } from '../../shared/protocol/record.ts';

export type Rejection = { ok: false; reason: RejectReason; detail?: string };
/** `text`: the line as a string without surrounding JSON whitespace; `record`: the parsed object. */
export type RecordResult = { ok: true; text: string; record: LogRecord } | Rejection;
export type RecordObjectResult = { ok: true; record: LogRecord } | Rejection;

/**
 * Validates one record line (no LF): size, UTF-8, JSON, then the fields (validateRecordObject).
 * The caller decides what to do with the answer (persist the line with `_rx`, or reject it).
 */
// @solution [d08.6] validateRecord: a line is a record only if it fits, is UTF-8, is JSON, and its fields pass validateRecordObject
// @stub export function validateRecord(line: Buffer, maxRecordBytes: number = DEFAULT_MAX_RECORD_BYTES): RecordResult {
// @stub   return { ok: true, text: line.toString('utf8'), record: {} as LogRecord }; // accepts every line, unchecked
// @stub }
export function validateRecord(line: Buffer, maxRecordBytes: number = DEFAULT_MAX_RECORD_BYTES): RecordResult {
  if (line.length > maxRecordBytes) {
    return { ok: false, reason: 'record_too_large', detail: `${line.length} bytes, limit ${maxRecordBytes}` };
  }
  if (!isUtf8(line)) return INVALID_UTF8;
  // Only JSON's own whitespace (RFC 8259: SP, HT, CR, LF) is trimmed, never String#trim's Unicode set:
  // a line ending in U+00A0 or starting with a BOM is not JSON, and the `_rx` splice, which looks for
  // the closing brace past JSON whitespace only, must never see one as a record.
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

const INVALID_UTF8: Rejection = Object.freeze({ ok: false, reason: 'invalid_utf8' });

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
// @end-solution

/**
 * Validates an already-parsed value as a record: the field rules of LSP/1 §1, in the order above.
 * (validateRecord uses it after JSON.parse; tests hold the syslog lane's records to it.)
 */
// @solution [d08.6] validateRecordObject: an object with ts (RFC 3339), level (one of LEVELS) and msg (a string); service, host, attrs typed if present
// @stub export function validateRecordObject(value: unknown): RecordObjectResult {
// @stub   return { ok: true, record: value as LogRecord }; // accepts every value, unchecked
// @stub }
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

const LEVEL_SET: ReadonlySet<string> = new Set(LEVELS);

// One frozen result per reason that carries no varying detail: no allocation on the reject path.
const reject = (reason: RejectReason, detail?: string): Rejection =>
  Object.freeze(detail === undefined ? { ok: false as const, reason } : { ok: false as const, reason, detail });
const NOT_OBJECT = reject('not_object');
const MISSING_TS = reject('missing_ts');
const INVALID_TS = reject('invalid_ts');
const MISSING_LEVEL = reject('missing_level');
const INVALID_LEVEL = reject('invalid_level');
const MISSING_MSG = reject('missing_msg');
const INVALID_MSG = reject('invalid_msg');
const BAD_SERVICE = reject('invalid_field', 'service must be a string');
const BAD_HOST = reject('invalid_field', 'host must be a string');
const BAD_ATTRS = reject('invalid_field', 'attrs must be an object');
// @end-solution
