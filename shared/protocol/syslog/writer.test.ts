/**
 * The one-pass record writer: the slow path, collecting many records, the BSD timestamp cache, and a
 * seeded property test holding its lines to fieldsToRecord. (Each real-world case of scan.test.ts goes
 * through the writer too.) Replay a fuzz failure with LS_FUZZ_SEED=<seed>.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LogRecord } from '../record.ts';
import { fieldsToRecord, parseSyslog, scanSyslog, SyslogFields } from './scan.ts';
import { local, NOW, NOW_ISO, SEED } from './test-support.ts';
import { SyslogRecordWriter } from './writer.ts';

describe('SyslogRecordWriter', () => {
  it('bytes that are not UTF-8 become U+FFFD (the slow path), the same as toString', () => {
    const msg = Buffer.concat([
      Buffer.from('<13>1 - h\xe9 - - - [a b="\xff"] caf', 'latin1'),
      Buffer.from([0xe9, 0x20, 0xc3]),
    ]);
    const expected = {
      ts: NOW_ISO,
      level: 'info',
      msg: 'caf\ufffd \ufffd',
      host: 'h\ufffd',
      attrs: { facility: 'user', severity: 'notice', sd: { a: { b: '\ufffd' } } },
    };
    expect(parseSyslog(msg, NOW)).toEqual(expected);
    const w = new SyslogRecordWriter();
    w.setReceived(NOW);
    expect(w.add(msg, 0, msg.length)).toBeUndefined();
    expect(w.slowPath).toBe(1);
    expect(JSON.parse(w.take()!.toString())).toEqual(expected);
  });

  it('the writer collects many records into one buffer and take() hands them over', () => {
    const w = new SyslogRecordWriter(128);
    w.setReceived(NOW);
    const lines: string[] = [];
    for (let i = 0; i < 500; i++) {
      const m = Buffer.from(`<${i % 192}>1 - h${i} a - - - message ${i} ${'x'.repeat(i)}`);
      expect(w.add(m, 0, m.length)).toBeUndefined();
      if (i % 97 === 0) lines.push(...w.take()!.toString().split('\n').filter(Boolean));
    }
    expect(w.count).toBeGreaterThan(0);
    lines.push(...w.take()!.toString().split('\n').filter(Boolean));
    expect(w.take()).toBeUndefined();
    expect(lines).toHaveLength(500);
    lines.forEach((l, i) => expect((JSON.parse(l) as LogRecord).host).toBe(`h${i}`));
  });

  it('the writer caches BSD conversions per timestamp, and the cache follows the receive time', () => {
    const w = new SyslogRecordWriter();
    const msg = Buffer.from('<13>Dec 31 23:00:00 h a: x');
    const jan1 = new Date(2027, 0, 1, 0, 30).getTime();
    w.setReceived(jan1);
    w.add(msg, 0, msg.length);
    w.setReceived(new Date(2027, 11, 31, 23, 30).getTime()); // a year on: same bytes, new year
    w.add(msg, 0, msg.length);
    const [a, b] = w
      .take()!
      .toString()
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as LogRecord).ts);
    expect(a).toBe(local(2026, 11, 31, 23, 0, 0));
    expect(b).toBe(local(2027, 11, 31, 23, 0, 0));
  });
});

/** Well-formed RFC 5424 messages from random parts (escapes, UTF-8, bytes that are not UTF-8, repeats). */
const tokenText = fc
  .string({
    unit: fc.constantFrom('a', 'Z', '9', '-', '.', '"', '\\', ']', '=', 'é', '\u0001', '\u007f'),
    minLength: 1,
    maxLength: 6,
  })
  .filter((t) => !t.includes(' '));
const sdNameArb = fc.string({ unit: fc.constantFrom('a', 'b', '@', '1', '\\', '_'), minLength: 1, maxLength: 4 });
const paramValue = fc
  .array(fc.constantFrom('x', ' ', '\\"', '\\\\', '\\]', '\\n', ']', '=', 'é', '😀', '\u0000', '\t'), { maxLength: 6 })
  .map((a) => a.join(''));
const wellFormed5424 = fc
  .record({
    pri: fc.integer({ min: 0, max: 191 }),
    ts: fc.oneof(
      fc.constant('-'),
      fc.integer({ min: 0, max: 4_102_444_800_000 }).map((ms) => new Date(ms).toISOString()),
    ),
    host: fc.oneof(fc.constant('-'), tokenText),
    app: fc.oneof(fc.constant('-'), tokenText),
    proc: fc.oneof(fc.constant('-'), tokenText),
    msgid: fc.oneof(fc.constant('-'), tokenText),
    sd: fc.oneof(
      fc.constant('-'),
      fc
        .array(fc.tuple(sdNameArb, fc.array(fc.tuple(sdNameArb, paramValue), { maxLength: 3 })), {
          minLength: 1,
          maxLength: 3,
        })
        .map((els) => els.map(([id, ps]) => `[${id}${ps.map(([n, v]) => ` ${n}="${v}"`).join('')}]`).join('')),
    ),
    msg: fc.option(fc.string({ unit: 'grapheme', maxLength: 30 }), { nil: undefined }),
    bad: fc.option(fc.constantFrom(0xff, 0xc3, 0x80), { nil: undefined }),
  })
  .map((m) => {
    const msg = m.msg ?? (m.bad === undefined ? undefined : '');
    const text = `<${m.pri}>1 ${m.ts} ${m.host} ${m.app} ${m.proc} ${m.msgid} ${m.sd}${msg === undefined ? '' : ` ${msg}`}`;
    const buf = Buffer.from(text);
    // a byte that is not UTF-8 at the end of MSG
    return m.bad === undefined ? buf : Buffer.concat([buf, Buffer.from([m.bad])]);
  });

describe('seeded fuzz', () => {
  it('well-formed RFC 5424: always a record, and the one-pass writer equals fieldsToRecord', () => {
    const w = new SyslogRecordWriter(64);
    w.setReceived(NOW);
    const f = new SyslogFields();
    fc.assert(
      fc.property(wellFormed5424, (msg) => {
        expect(scanSyslog(msg, 0, msg.length, f)).toBeUndefined();
        expect(w.add(msg, 0, msg.length)).toBeUndefined();
        const line = w.take()!.toString('utf8');
        expect(JSON.parse(line)).toEqual(JSON.parse(JSON.stringify(fieldsToRecord(msg, f, NOW))));
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });
});
