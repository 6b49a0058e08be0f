/**
 * The syslog scanner and its record mapping (CONVENTIONS.md §4 recipe): tables of real-world messages (each also
 * through the one-pass writer, which must make the same record), the error table (reason + code +
 * offset), timestamps, and a seeded property test. Replay a fuzz failure with LS_FUZZ_SEED=<seed>.
 */
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

type Case = [name: string, message: string, expected: LogRecord];

const CASES: Case[] = [
  // RFC 5424 §6.5, examples 1-4
  [
    'RFC 5424 example 1 (BOM, no SD)',
    "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \ufeff'su root' failed for lonvick on /dev/pts/8",
    {
      ts: '2003-10-11T22:14:15.003Z',
      level: 'fatal',
      msg: "'su root' failed for lonvick on /dev/pts/8",
      service: 'su',
      host: 'mymachine.example.com',
      attrs: { facility: 'auth', severity: 'crit', msgid: 'ID47' },
    },
  ],
  [
    'RFC 5424 example 2 (offset, µs, PROCID)',
    "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
    {
      ts: '2003-08-24T05:14:15.000003-07:00',
      level: 'info',
      msg: "%% It's time to make the do-nuts.",
      service: 'myproc',
      host: '192.0.2.1',
      attrs: { facility: 'local4', severity: 'notice', procid: '8710' },
    },
  ],
  [
    'RFC 5424 example 3 (SD and BOM MSG)',
    '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] \ufeffAn application event log entry...',
    {
      ts: '2003-10-11T22:14:15.003Z',
      level: 'info',
      msg: 'An application event log entry...',
      service: 'evntslog',
      host: 'mymachine.example.com',
      attrs: {
        facility: 'local4',
        severity: 'notice',
        msgid: 'ID47',
        sd: { 'exampleSDID@32473': { iut: '3', eventSource: 'Application', eventID: '1011' } },
      },
    },
  ],
  [
    'RFC 5424 example 4 (two SD elements, no MSG)',
    '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]',
    {
      ts: '2003-10-11T22:14:15.003Z',
      level: 'info',
      msg: '',
      service: 'evntslog',
      host: 'mymachine.example.com',
      attrs: {
        facility: 'local4',
        severity: 'notice',
        msgid: 'ID47',
        sd: {
          'exampleSDID@32473': { iut: '3', eventSource: 'Application', eventID: '1011' },
          'examplePriority@32473': { class: 'high' },
        },
      },
    },
  ],
  // util-linux logger 2.38, as captured on the wire
  [
    'logger --rfc5424 --sd-id --sd-param --msgid -p local0.err',
    '<131>1 2026-11-26T15:45:52.148387+00:00 vm myapp - M1 [timeQuality tzKnown="1" isSynced="0"][zoo@32473 tiger="hungry" q="a\\"b"] hello 5424',
    {
      ts: '2026-11-26T15:45:52.148387+00:00',
      level: 'error',
      msg: 'hello 5424',
      service: 'myapp',
      host: 'vm',
      attrs: {
        facility: 'local0',
        severity: 'err',
        msgid: 'M1',
        sd: { timeQuality: { tzKnown: '1', isSynced: '0' }, 'zoo@32473': { tiger: 'hungry', q: 'a"b' } },
      },
    },
  ],
  [
    'logger default (rfc5424, user.notice) with the LF of TCP non-transparent framing',
    '<13>1 2026-11-26T15:45:52.954538+00:00 vm root - - [timeQuality tzKnown="1" isSynced="0"] plain default\n',
    {
      ts: '2026-11-26T15:45:52.954538+00:00',
      level: 'info',
      msg: 'plain default',
      service: 'root',
      host: 'vm',
      attrs: { facility: 'user', severity: 'notice', sd: { timeQuality: { tzKnown: '1', isSynced: '0' } } },
    },
  ],
  [
    'logger --rfc3164 --id=42 -t myapp -p local0.err',
    '<131>Nov 26 15:45:51 vm myapp[42]: hello 3164\n',
    {
      ts: local(2026, 10, 26, 15, 45, 51),
      level: 'error',
      msg: 'hello 3164',
      service: 'myapp',
      host: 'vm',
      attrs: { facility: 'local0', severity: 'err', procid: '42' },
    },
  ],
  // rsyslog's forwarding templates
  [
    'rsyslog RSYSLOG_SyslogProtocol23Format (trailing LF)',
    '<14>1 2026-11-26T15:50:01.123456+00:00 web-01 nginx 811 - - GET / 200\n',
    {
      ts: '2026-11-26T15:50:01.123456+00:00',
      level: 'info',
      msg: 'GET / 200',
      service: 'nginx',
      host: 'web-01',
      attrs: { facility: 'user', severity: 'info', procid: '811' },
    },
  ],
  [
    'rsyslog RSYSLOG_ForwardFormat (3164 header, RFC 3339 timestamp)',
    '<86>2026-11-26T15:50:01.123456+01:00 web-01 sshd[811]: Accepted publickey for deploy',
    {
      ts: '2026-11-26T15:50:01.123456+01:00',
      level: 'info',
      msg: 'Accepted publickey for deploy',
      service: 'sshd',
      host: 'web-01',
      attrs: { facility: 'authpriv', severity: 'info', procid: '811' },
    },
  ],
  [
    'rsyslog RSYSLOG_TraditionalForwardFormat',
    '<30>Nov  5 09:03:07 db-1 systemd[1]: Started Daily apt upgrade.',
    {
      ts: local(2026, 10, 5, 9, 3, 7),
      level: 'info',
      msg: 'Started Daily apt upgrade.',
      service: 'systemd',
      host: 'db-1',
      attrs: { facility: 'daemon', severity: 'info', procid: '1' },
    },
  ],
  // RFC 3164 variants
  [
    'RFC 3164 §5.4 example 1 (hostname, tag without PID)',
    "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
    {
      ts: local(2026, 9, 11, 22, 14, 15),
      level: 'fatal',
      msg: "'su root' failed for lonvick on /dev/pts/8",
      service: 'su',
      host: 'mymachine',
      attrs: { facility: 'auth', severity: 'crit' },
    },
  ],
  [
    'RFC 3164 §5.4 example 2 (IP as hostname; after a TIMESTAMP the first word is the TAG, as rsyslog reads it)',
    '<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!',
    {
      ts: local(2026, 1, 5, 17, 32, 18),
      level: 'info',
      msg: 'the BFG!',
      service: 'Use',
      host: '10.0.0.99',
      attrs: { facility: 'user', severity: 'notice' },
    },
  ],
  [
    'rsyslog RSYSLOG_TraditionalForwardFormat of an RFC 5424 message (TAG without a colon)',
    '<156>Nov 26 15:56:02 vm rs-app via rsyslog 1',
    {
      ts: local(2026, 10, 26, 15, 56, 2),
      level: 'warn',
      msg: 'via rsyslog 1',
      service: 'rs-app',
      host: 'vm',
      attrs: { facility: 'local3', severity: 'warning' },
    },
  ],
  [
    '3164 header with nothing after the TAG',
    '<13>Nov 26 15:56:02 vm app',
    {
      ts: local(2026, 10, 26, 15, 56, 2),
      level: 'info',
      msg: '',
      service: 'app',
      host: 'vm',
      attrs: { facility: 'user', severity: 'notice' },
    },
  ],
  [
    '3164 without hostname, tag with PID',
    '<38>Oct 11 22:14:15 sshd[4242]: Connection closed',
    {
      ts: local(2026, 9, 11, 22, 14, 15),
      level: 'info',
      msg: 'Connection closed',
      service: 'sshd',
      attrs: { facility: 'auth', severity: 'info', procid: '4242' },
    },
  ],
  [
    '3164 without hostname, tag without PID',
    '<38>Oct 11 22:14:15 cron: job done',
    {
      ts: local(2026, 9, 11, 22, 14, 15),
      level: 'info',
      msg: 'job done',
      service: 'cron',
      attrs: { facility: 'auth', severity: 'info' },
    },
  ],
  [
    '3164 with IPv6 hostname and milliseconds',
    '<15>Mar  1 00:00:00.250 fe80::1 kernel: eth0 up',
    {
      ts: local(2026, 2, 1, 0, 0, 0, 250),
      level: 'debug',
      msg: 'eth0 up',
      service: 'kernel',
      host: 'fe80::1',
      attrs: { facility: 'user', severity: 'debug' },
    },
  ],
  [
    '3164 with no timestamp: everything after PRI is the message (tag still recognised)',
    '<13>myapp: no header here',
    {
      ts: NOW_ISO,
      level: 'info',
      msg: 'no header here',
      service: 'myapp',
      attrs: { facility: 'user', severity: 'notice' },
    },
  ],
  [
    '3164, bare text after PRI',
    '<0>kernel panic at the disco',
    { ts: NOW_ISO, level: 'fatal', msg: 'kernel panic at the disco', attrs: { facility: 'kern', severity: 'emerg' } },
  ],
  [
    'a December message read in late November is last year (more than 7 days ahead)',
    '<191>Dec 24 18:00:00 host app: ho ho',
    {
      ts: local(2025, 11, 24, 18, 0, 0),
      level: 'debug',
      msg: 'ho ho',
      service: 'app',
      host: 'host',
      attrs: { facility: 'local7', severity: 'debug' },
    },
  ],
  // NILVALUEs, escapes, repeats, odd bytes
  [
    'all NILVALUE',
    '<13>1 - - - - - -',
    { ts: NOW_ISO, level: 'info', msg: '', attrs: { facility: 'user', severity: 'notice' } },
  ],
  [
    'header ends after MSGID (lenient)',
    '<13>1 - host app 1 ID',
    {
      ts: NOW_ISO,
      level: 'info',
      msg: '',
      service: 'app',
      host: 'host',
      attrs: { facility: 'user', severity: 'notice', procid: '1', msgid: 'ID' },
    },
  ],
  [
    'SD escapes \\" \\\\ \\] and a lone backslash',
    '<13>1 - - - - - [id@1 a="q\\"b\\\\s\\]e\\x"] m',
    {
      ts: NOW_ISO,
      level: 'info',
      msg: 'm',
      attrs: { facility: 'user', severity: 'notice', sd: { 'id@1': { a: 'q"b\\s]e\\x' } } },
    },
  ],
  [
    'a repeated param becomes an array; a repeated SD-ID is merged',
    '<13>1 - - - - - [a k="1" k="2"][b x=""][a j="3"] m',
    {
      ts: NOW_ISO,
      level: 'info',
      msg: 'm',
      attrs: { facility: 'user', severity: 'notice', sd: { a: { k: ['1', '2'], j: '3' }, b: { x: '' } } },
    },
  ],
  [
    '__proto__ as an SD-ID and a param name is kept as data',
    '<13>1 - - - - - [__proto__ __proto__="x" constructor="y"] m',
    {
      ts: NOW_ISO,
      level: 'info',
      msg: 'm',
      attrs: {
        facility: 'user',
        severity: 'notice',
        sd: JSON.parse('{"__proto__":{"__proto__":"x","constructor":"y"}}') as Record<string, never>,
      },
    },
  ],
  [
    'UTF-8, control characters and quotes in MSG and fields',
    '<13>1 - hôst ápp - - - "quoted" tab\there \u0001 日本 😀 \\ end',
    {
      ts: NOW_ISO,
      level: 'info',
      msg: '"quoted" tab\there \u0001 日本 😀 \\ end',
      service: 'ápp',
      host: 'hôst',
      attrs: { facility: 'user', severity: 'notice' },
    },
  ],
  [
    'a multi-line MSG (octet counting allows LF inside); trailing CR LF NUL dropped',
    '<13>1 - - - - - - line 1\nline 2\r\n\u0000',
    { ts: NOW_ISO, level: 'info', msg: 'line 1\nline 2', attrs: { facility: 'user', severity: 'notice' } },
  ],
  [
    'PRI 0 and 191 are the bounds',
    '<191>1 - - - - - - x',
    { ts: NOW_ISO, level: 'debug', msg: 'x', attrs: { facility: 'local7', severity: 'debug' } },
  ],
];

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
  for (const [name, message, expected] of CASES) {
    it(name, () => {
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

type ErrorCase = [name: string, message: string | Buffer, reason: SyslogReason, offset: number];
const ERRORS: ErrorCase[] = [
  ['empty', '', 'syslog_bad_pri', 0],
  ['only line ends', '\r\n\u0000', 'syslog_bad_pri', 0],
  ['no PRI', 'hello world', 'syslog_bad_pri', 0],
  ['no closing >', '<13 hello', 'syslog_bad_pri', 0],
  ['empty PRI', '<>1 - - - - - -', 'syslog_bad_pri', 0],
  ['PRI 192', '<192>1 - - - - - -', 'syslog_bad_pri', 0],
  ['PRI of 4 digits', '<0013>x', 'syslog_bad_pri', 0],
  ['PRI not digits', '<1a>x', 'syslog_bad_pri', 0],
  ['negative PRI', '<-1>x', 'syslog_bad_pri', 0],
  ['version then nothing', '<13>1', 'syslog_bad_header', 4],
  ['5424 header cut after TIMESTAMP', '<13>1 2026-11-26T14:13:48Z', 'syslog_bad_header', 6],
  ['5424 two spaces', '<13>1  - - - - -', 'syslog_bad_header', 6],
  ['5424 HOSTNAME missing', '<13>1 - ', 'syslog_bad_header', 8],
  ['5424 SD missing after MSGID SP', '<13>1 - - - - - ', 'syslog_bad_header', 16],
  ['5424 bad TIMESTAMP', '<13>1 2026-13-01T00:00:00Z - - - - -', 'syslog_bad_timestamp', 6],
  ['5424 TIMESTAMP not RFC 3339', '<13>1 Oct 11 22:14:15 - - - - -', 'syslog_bad_timestamp', 6],
  ['5424 TIMESTAMP Feb 29 2026', '<13>1 2026-02-29T00:00:00Z - - - - -', 'syslog_bad_timestamp', 6],
  ['SD not - or [', '<13>1 - - - - - x', 'syslog_bad_sd', 16],
  ['SD unterminated element', '<13>1 - - - - - [id a="1"', 'syslog_bad_sd', 25],
  ['SD unterminated value', '<13>1 - - - - - [id a="1]', 'syslog_bad_sd', 25],
  ['SD empty id', '<13>1 - - - - - [] m', 'syslog_bad_sd', 17],
  ['SD param without quotes', '<13>1 - - - - - [id a=1] m', 'syslog_bad_sd', 21],
  ['SD junk after ]', '<13>1 - - - - - [id]x', 'syslog_bad_sd', 20],
  ['NILVALUE SD followed by junk', '<13>1 - - - - - -x', 'syslog_bad_sd', 17],
  ['SD value ends in a backslash', '<13>1 - - - - - [id a="\\', 'syslog_bad_sd', 25],
];

describe('parseSyslog: error table (reason, code, offset)', () => {
  for (const [name, message, reason, offset] of ERRORS) {
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
      const buf = typeof message === 'string' ? Buffer.from(message) : message;
      expect(viaWriter(buf)).toEqual({ reason });
    });
  }
});

describe('timestamps', () => {
  it('isRfc3339Bytes agrees with isRfc3339 (hand-picked and random strings)', () => {
    const samples = [
      '2026-11-26T14:13:48Z',
      '2026-11-26t14:13:48z',
      '2026-11-26T14:13:48.123456789+05:30',
      '2024-02-29T00:00:00Z',
      '2026-02-29T00:00:00Z',
      '2026-11-26T24:00:00Z',
      '2026-11-26T14:13:60Z',
      '2026-11-26T14:13:48.Z',
      '2026-11-26T14:13:48',
      '2026-11-26T14:13:48+0530',
      '2026-11-26 14:13:48Z',
      '2026-00-10T00:00:00Z',
      '2026-04-31T00:00:00Z',
      '1900-02-29T00:00:00Z',
      '2000-02-29T00:00:00Z',
    ];
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
