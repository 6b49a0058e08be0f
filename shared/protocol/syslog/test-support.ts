/**
 * What the syslog codec's tests share (scan.test.ts, writer.test.ts, encode.test.ts, and the framing's
 * lessons/stack/syslog-framing.test.ts): the receive time, the LSP/1 rules a record must meet, the fuzz
 * seed and the "mostly syslog" inputs. Not part of the library.
 */
import fc from 'fast-check';
import { isRfc3339, LEVELS, type LogRecord } from '../record.ts';

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

function fuzzSeed(name: string): number {
  const env = process.env['LS_FUZZ_SEED'];
  const seed = env !== undefined && env !== '' ? Number(env) : Math.floor(Math.random() * 0x7fffffff);
  console.log(`[${name}] fuzz seed ${seed} (replay with LS_FUZZ_SEED=${seed})`);
  return seed;
}
export const SEED = fuzzSeed('syslog');

/** Messages that are mostly valid syslog with random damage: the interesting inputs. */
export const syslogish = fc
  .tuple(
    fc.constantFrom(
      '<13>1 ',
      '<165>1 ',
      '<0>',
      '<34>Oct 11 22:14:15 ',
      '<191>',
      '<13>1 - - - - - ',
      '<13>1 2026-11-26T14:13:48.5Z h a 1 m ',
      '<',
      '',
    ),
    fc.array(
      fc.constantFrom(
        '-',
        ' ',
        '[',
        ']',
        '"',
        '\\',
        '=',
        'id@1',
        'a="',
        'x',
        ':',
        '[1]',
        '\ufeff',
        'é',
        '\n',
        '\r',
        '\u0000',
        '\u007f',
        '😀',
        'Feb 29',
        '10:00:00',
      ),
      { maxLength: 30 },
    ),
    fc.uint8Array({ maxLength: 8 }),
  )
  .map(([head, parts, tail]) => Buffer.concat([Buffer.from(head + parts.join('')), Buffer.from(tail)]));
