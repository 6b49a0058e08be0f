/**
 * What the syslog codec's tests share (scan.test.ts, writer.test.ts, encode.test.ts, and the framing's
 * lessons/stack/syslog-framing.test.ts): the receive time, the LSP/1 rules a record must meet, the fuzz
 * seed and the "mostly syslog" inputs. Not part of the library.
 */
import fc from 'fast-check';
import { isRfc3339, LEVELS, type LogRecord } from '../record.ts';
import { fuzzSeed } from '../test-support.ts';

/**
 * The codec builds records valid by construction (LSP/1 §1); this restates the rules it must meet. The
 * receivers' own validator (lessons/day08/validate.ts) is held against the codec in tests/fuzz.
 */
export function obeysLsp1(r: LogRecord): boolean {
  const optional = (v: unknown, type: string) =>
    v === undefined || (typeof v === type && v !== null && !Array.isArray(v));
  return (
    isRfc3339(r.ts) &&
    (LEVELS as readonly string[]).includes(r.level) &&
    typeof r.msg === 'string' &&
    optional(r.service, 'string') &&
    optional(r.host, 'string') &&
    optional(r.attrs, 'object')
  );
}

/** Receive time used throughout: 2026-11-26 12:00 UTC (the tests run with the process's TZ; see bsd cases). */
export const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);
export const NOW_ISO = new Date(NOW).toISOString();

/** The ISO string a BSD timestamp becomes in this process's zone, for expectations that stay TZ-proof. */
export const local = (y: number, mo: number, d: number, h: number, mi: number, s: number, ms = 0) =>
  new Date(y, mo, d, h, mi, s, ms).toISOString();

export const SEED = fuzzSeed('syslog');

/** Starts of messages: valid and broken PRIs, RFC 5424 and RFC 3164 headers, impossible dates. */
const HEADS = [
  '<13>1 ',
  '<165>1 ',
  '<0>',
  '<34>Oct 11 22:14:15 ',
  '<191>',
  '<13>1 - - - - - ',
  '<13>1 2026-11-26T14:13:48.5Z h a 1 m ',
  '<',
  '',
  '<13>Feb 29 10:00:00 ',
  '<13>Dec 31 23:59:60 ',
  '<9>1 2026-02-29T00:00:00Z ',
  '<999>',
  '<13>1 9999-12-31T23:59:60.999999999+23:59 ',
];

/** What follows a head. */
const PIECES = [
  // header and SD syntax, dates
  ...['-', ' ', '[', ']', '"', '\\', '=', 'id@1', 'a="', 'x', ':', '[1]', 'Feb 29', '10:00:00'],
  // line ends, a BOM, NUL and DEL, multi-byte characters, a lone surrogate
  ...['\ufeff', 'é', '\n', '\r', '\u0000', '\u007f', '😀', '\udc00'],
];

/**
 * Messages that are mostly valid syslog with random damage, the interesting inputs: a head, up to `maxPieces`
 * pieces, up to `maxTail` random bytes. Shared by the codec's seeded tests and tests/fuzz/syslog.fuzz.test.ts.
 */
export function mostlySyslog(maxPieces = 30, maxTail = 8): fc.Arbitrary<Buffer> {
  return fc
    .tuple(
      fc.constantFrom(...HEADS),
      fc.array(fc.constantFrom(...PIECES), { maxLength: maxPieces }),
      fc.uint8Array({ maxLength: maxTail }),
    )
    .map(([head, parts, tail]) => Buffer.concat([Buffer.from(head + parts.join('')), Buffer.from(tail)]));
}

export const syslogish = mostlySyslog();
