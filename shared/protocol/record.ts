/**
 * The record's vocabulary (LSP/1 §1): its type, its levels, the reject reasons, and the RFC 3339 check
 * the syslog codec needs too. Whether a line IS a record is day 08's lesson: lessons/day08/validate.ts.
 */
import { SAMPLE_BYTES } from './limits.ts';

export const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type Level = (typeof LEVELS)[number];

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
