/**
 * The syslog scanner and its record mapping (CONVENTIONS.md §4 recipe), over the tables in scan-vectors.json:
 * real-world messages (each also through the one-pass writer, which must make the same record), the error
 * table (reason + code + offset); then timestamps, and a seeded property test. Replay a fuzz failure with
 * LS_FUZZ_SEED=<seed>.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRfc3339, type LogRecord } from '../record.ts';
import { SYSLOG_ERR, SyslogError, type SyslogReason } from './errors.ts';
import {
  bsdTimestampToIso,
  fieldsToRecord,
  isRfc3339Bytes,
  parseSyslog,
  scanSyslog,
  SyslogFields,
  syslogToRecord,
} from './scan.ts';
import { local, NOW, NOW_ISO, obeysLsp1, SEED, syslogish } from './test-support.ts';
import { SyslogRecordWriter } from './writer.ts';

/**
 * The codec's test vectors, kept as data in scan-vectors.json: real-world messages (RFC 5424 and RFC 3164
 * examples, logger, rsyslog) with the records they must make, the error table (reason + offset), and RFC 3339
 * samples. A record's ts "receive time" stands for NOW, and "local <date>T<time>" for that wall-clock time in
 * this process's zone (an RFC 3164 timestamp has none).
 */
interface Vectors {
  records: Array<{ name: string; message: string; record: LogRecord }>;
  errors: Array<{ name: string; message: string; reason: SyslogReason; offset: number }>;
  rfc3339Samples: string[];
}
const VECTORS = JSON.parse(readFileSync(new URL('./scan-vectors.json', import.meta.url), 'utf8')) as Vectors;

/** The record a vector expects, its ts resolved (see Vectors). */
function resolveTs(record: LogRecord): LogRecord {
  const { ts } = record;
  if (ts === 'receive time') return { ...record, ts: NOW_ISO };
  return ts.startsWith('local ') ? { ...record, ts: new Date(ts.slice('local '.length)).toISOString() } : record;
}

/** Records the writer makes, parsed back, with the tail it was given. */
function viaWriter(buf: Buffer, start = 0, end = buf.length): unknown {
  const w = new SyslogRecordWriter(64);
  w.setReceived(NOW);
  w.setTail(',"_rx":{"lane":"syslog"}');
  const reason = w.add(buf, start, end);
  if (reason !== undefined) return { reason };
  const out = w.take()!.toString('utf8');
  expect(out.endsWith('}\n')).toBe(true);
  expect(out.indexOf('\n')).toBe(out.length - 1);
  return JSON.parse(out) as unknown;
}

describe('parseSyslog: real-world messages (RFC 5424 examples, logger, rsyslog, RFC 3164 variants)', () => {
  for (const { name, message, record: want } of VECTORS.records) {
    it(name, () => {
      const expected = resolveTs(want);
      const record = parseSyslog(message, NOW);
      expect(record).toEqual(expected);
      expect(obeysLsp1(record)).toBe(true);
      // The fast writer makes the same record, as one JSON line, with the tail after it.
      expect(viaWriter(Buffer.from(message))).toEqual({ ...expected, _rx: { lane: 'syslog' } });
      // … also from the middle of a larger buffer (offsets, not copies).
      const framed = Buffer.concat([Buffer.from('garbage<'), Buffer.from(message), Buffer.from('>more')]);
      expect(viaWriter(framed, 8, framed.length - 5)).toEqual({ ...expected, _rx: { lane: 'syslog' } });
    });
  }
});

describe('parseSyslog: error table (reason, code, offset)', () => {
  for (const { name, message, reason, offset } of VECTORS.errors) {
    it(name, () => {
      let caught: unknown;
      try {
        parseSyslog(message, NOW);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(SyslogError);
      const e = caught as SyslogError;
      expect({ reason: e.reason, code: e.code, offset: e.offset }).toEqual({
        reason,
        code: SYSLOG_ERR[reason],
        offset,
      });
      const r = syslogToRecord(message, NOW);
      expect(r).toEqual({ ok: false, reason, offset });
      expect(viaWriter(Buffer.from(message))).toEqual({ reason });
    });
  }
});

describe('timestamps', () => {
  it('isRfc3339Bytes agrees with isRfc3339 (hand-picked and random strings)', () => {
    const samples = VECTORS.rfc3339Samples;
    for (const s of samples) expect(isRfc3339Bytes(Buffer.from(s), 0, s.length), s).toBe(isRfc3339(s));
    const alphabet = fc.constantFrom(...'0123456789-:.TtZz+ '.split(''));
    const template = fc.tuple(
      fc.integer({ min: 1899, max: 2101 }),
      fc.integer({ min: 0, max: 13 }),
      fc.integer({ min: 0, max: 32 }),
      fc.integer({ min: 0, max: 25 }),
      fc.integer({ min: 0, max: 61 }),
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: alphabet, maxLength: 40 }),
          template.map(
            ([y, mo, d, h, s]) =>
              `${y}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:00:${String(s).padStart(2, '0')}Z`,
          ),
        ),
        (s) => {
          expect(isRfc3339Bytes(Buffer.from(s), 0, s.length)).toBe(isRfc3339(s));
        },
      ),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('RFC 3164: the year comes from the receive time; December read in January is last year', () => {
    const bsd = (s: string, at: number) => bsdTimestampToIso(Buffer.from(s), 0, s.length, at);
    const jan2 = new Date(2027, 0, 2, 10, 0, 0).getTime();
    expect(bsd('Dec 31 23:59:59', jan2)).toBe(local(2026, 11, 31, 23, 59, 59));
    expect(bsd('Jan  2 09:59:00', jan2)).toBe(local(2027, 0, 2, 9, 59, 0));
    // a few days ahead is clock skew, not last year
    expect(bsd('Jan  5 00:00:00', jan2)).toBe(local(2027, 0, 5, 0, 0, 0));
    // Feb 29 in a year without one goes back to the last leap year
    expect(bsd('Feb 29 12:00:00', new Date(2027, 5, 1).getTime())).toBe(local(2024, 1, 29, 12, 0, 0));
    expect(bsd('Feb 29 12:00:00', new Date(2028, 5, 1).getTime())).toBe(local(2028, 1, 29, 12, 0, 0));
    expect(bsd('Jun 15 08:00:00.1', jan2)).toBe(local(2026, 5, 15, 8, 0, 0, 100));
    expect(bsd('Jun 15 08:00:00.123456', jan2)).toBe(local(2026, 5, 15, 8, 0, 0, 123));
  });

  it('an impossible BSD date is not a timestamp: the line is all content', () => {
    expect(parseSyslog('<13>Feb 30 12:00:00 host app: x', NOW)).toEqual({
      ts: NOW_ISO,
      level: 'info',
      msg: 'Feb 30 12:00:00 host app: x',
      attrs: { facility: 'user', severity: 'notice' },
    });
    expect(parseSyslog('<13>Oct 11 25:00:00 x', NOW).msg).toBe('Oct 11 25:00:00 x');
    // without a TIMESTAMP a bare first word stays in the message
    expect(parseSyslog('<13>hello world', NOW)).toMatchObject({ msg: 'hello world' });
    expect(parseSyslog('<13>hello world', NOW).service).toBeUndefined();
  });
});

describe('seeded fuzz', () => {
  it('scan/record/writer: never throw, writer JSON equals fieldsToRecord, records are valid', () => {
    const w = new SyslogRecordWriter(64);
    w.setReceived(NOW);
    const f = new SyslogFields();
    fc.assert(
      fc.property(
        fc.oneof(
          syslogish,
          fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
        ),
        (msg) => {
          const reason = scanSyslog(msg, 0, msg.length, f);
          const wr = w.add(msg, 0, msg.length);
          expect(wr).toBe(reason);
          if (reason !== undefined) {
            expect(Object.keys(SYSLOG_ERR)).toContain(reason);
            expect(w.take()).toBeUndefined();
            return;
          }
          const record = fieldsToRecord(msg, f, NOW);
          expect(obeysLsp1(record)).toBe(true);
          const line = w.take()!.toString('utf8');
          expect(line.indexOf('\n')).toBe(line.length - 1);
          expect(JSON.parse(line)).toEqual(JSON.parse(JSON.stringify(record)));
        },
      ),
      { seed: SEED, numRuns: 3000 },
    );
  });
});
