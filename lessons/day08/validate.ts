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

/**
 * What validateBatch answers for each line from `from` on: undefined for a record, else its Rejection —
 * always exactly what validateRecord(lines[i]) would answer (validate.property.test.ts holds it to that).
 */
export type BatchVerdicts = Array<Rejection | undefined>;

/**
 * Validates many record lines at once (a BATCH's payload, split by decodeBatch): the same decisions as
 * validateRecord, a line at a time, but built for speed (why, in the README: "Why it is fast").
 *
 *   - ONE UTF-8 check for the whole payload and one string per 64 KiB of it, not one per record. It is
 *     latin1 (one char per byte, a plain copy): a record's byte offsets are its string offsets, and since
 *     the payload is UTF-8, its non-ASCII bytes can only stand inside JSON strings, where any char ≥ 0x20
 *     is allowed — so the shape check below answers the same on those bytes as on the decoded text.
 *   - a sticky regex (COMMON_RECORD) checks the common record shape, no whitespace, `ts`, `level`, `msg`
 *     first, other members after, values nested up to 4 deep, in one pass of compiled code. It only ever
 *     ACCEPTS: it matches nothing that validateRecord would refuse (ts is a real date, level one of LEVELS,
 *     msg/service/host strings, attrs an object, a repeated known key only with a value just as valid).
 *   - every line it does not match goes to validateRecord itself (JSON.parse and the field rules), which
 *     gives a valid but unusual record its yes and a bad one its exact reason.
 * No JSON.parse, no object and no string per record on the common path.
 */
// @solution [d08.6] validateBatch: the lines of a batch, validated as validateRecord would, without a JSON.parse per common record (one UTF-8 check, one string, a shape regex)
// @stub export function validateBatch(lines: readonly Buffer[], from = 0, maxRecordBytes = DEFAULT_MAX_RECORD_BYTES): BatchVerdicts {
// @stub   // Correct but slow: a record at a time (one toString and one JSON.parse each). Make it fast without changing one answer.
// @stub   const verdicts: BatchVerdicts = new Array<Rejection | undefined>(lines.length);
// @stub   for (let i = from; i < lines.length; i++) {
// @stub     const v = validateRecord(lines[i]!, maxRecordBytes);
// @stub     verdicts[i] = v.ok ? undefined : v;
// @stub   }
// @stub   return verdicts;
// @stub }
// @stub
// @stub /** True when text[start, end) is a record of the common shape: the fast path's check (none yet). */
// @stub export function isCommonRecord(_text: string, _start: number, _end: number): boolean {
// @stub   return false;
// @stub }
export function validateBatch(
  lines: readonly Buffer[],
  from = 0,
  maxRecordBytes: number = DEFAULT_MAX_RECORD_BYTES,
): BatchVerdicts {
  const verdicts: BatchVerdicts = new Array<Rejection | undefined>(lines.length);
  const span = spanOf(lines, from);
  // One UTF-8 check for all the lines (when they are views of one buffer, as decodeBatch gives them).
  const bytes = span !== undefined && isUtf8(span.bytes) ? span.bytes : undefined;
  // One string per TEXT_CHUNK bytes of lines, not one per line (nor one for a whole payload: a string past
  // ~128 KiB is a large object for V8, several times slower to make and collect).
  let text = '';
  let textStart = 0;
  let textEnd = 0;
  for (let i = from; i < lines.length; i++) {
    const line = lines[i]!;
    if (bytes !== undefined && line.length <= maxRecordBytes) {
      const start = line.byteOffset - span!.offset;
      const end = start + line.length;
      if (end > textEnd) {
        textStart = start;
        textEnd = Math.max(end, Math.min(bytes.length, start + TEXT_CHUNK));
        text = bytes.toString('latin1', textStart, textEnd);
      }
      // A line cut inside a UTF-8 character is not UTF-8 even though the whole span is: let validateRecord say so.
      if (
        isCharStart(bytes, start) &&
        isCharStart(bytes, end) &&
        isCommonRecord(text, start - textStart, end - textStart)
      )
        continue;
    }
    const v = validateRecord(line, maxRecordBytes);
    if (!v.ok) verdicts[i] = v;
  }
  return verdicts;
}

const TEXT_CHUNK = 64 << 10;

/** True when text[start, end) is a record of the common shape (a latin1 view of UTF-8 bytes; see validateBatch). */
export function isCommonRecord(text: string, start: number, end: number): boolean {
  COMMON_RECORD.lastIndex = start;
  return COMMON_RECORD.test(text) && COMMON_RECORD.lastIndex === end;
}

/** The bytes lines[from..] lie in (one buffer, in order), or undefined when they are not views of one buffer. */
function spanOf(lines: readonly Buffer[], from: number): { bytes: Buffer; offset: number } | undefined {
  if (from >= lines.length) return undefined;
  const first = lines[from]!;
  const last = lines[lines.length - 1]!;
  const arrayBuffer = first.buffer; // (read once: the getter is not free, and this runs for every line)
  let prevEnd = first.byteOffset;
  for (let i = from; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.buffer !== arrayBuffer || l.byteOffset < prevEnd) return undefined;
    prevEnd = l.byteOffset + l.length;
  }
  const offset = first.byteOffset;
  return { bytes: Buffer.from(arrayBuffer, offset, last.byteOffset + last.length - offset), offset };
}

/** Not a UTF-8 continuation byte (10xxxxxx) at `i`: a character starts there (or the span ends there). */
function isCharStart(bytes: Buffer, i: number): boolean {
  return i >= bytes.length || (bytes[i]! & 0xc0) !== 0x80;
}

// The common record shape, as a regex. Strings: no raw control char, `"` or `\` except valid escapes
// (the loop unrolled, so it never backtracks); numbers by JSON's grammar; containers whose members are
// followed by a `,` that starts another member or by the closing bracket (each value appears once in
// the pattern, so the pattern grows 2× per level, not 4×).
const STR = String.raw`"[^"\\\x00-\x1f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*)*"`;
const NUM = String.raw`-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?`;
const objectOf = (v: string): string => String.raw`\{(?:${STR}:${v}(?:,(?=")|(?=\})))*\}`;
const arrayOf = (v: string): string => String.raw`\[(?:${v}(?:,(?!\])|(?=\])))*\]`;
const valueOf = (depth: number): string => {
  const scalar = `${STR}|${NUM}|true|false|null`;
  if (depth === 0) return `(?:${scalar})`;
  const inner = valueOf(depth - 1);
  return `(?:${scalar}|${objectOf(inner)}|${arrayOf(inner)})`;
};
const VALUE = valueOf(4);
// RFC 3339 as isRfc3339 takes it, day within its month (29 February goes the slow way: leap years).
const MONTH_DAY = String.raw`(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|02-(?:0[1-9]|1\d|2[0-8]))`;
const TS = String.raw`"\d{4}-${MONTH_DAY}[Tt](?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)(?:\.\d+)?(?:[Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)"`;
const LEVEL = `"(?:${LEVELS.join('|')})"`;
// A member after the first three: a known key with a value its rule accepts (JSON.parse keeps a repeated
// key's last value, so a repeat is harmless only if it is valid too), or any other key spelt without escapes.
const MEMBER = String.raw`(?:"ts":${TS}|"level":${LEVEL}|"(?:msg|service|host)":${STR}|"attrs":${objectOf(VALUE)}|"(?!(?:ts|level|msg|service|host|attrs)")[^"\\\x00-\x1f]*":${VALUE})`;
const COMMON_RECORD = new RegExp(String.raw`\{"ts":${TS},"level":${LEVEL},"msg":${STR}(?:,${MEMBER})*\}`, 'y');
// @end-solution
