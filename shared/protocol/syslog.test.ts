/**
 * Syslog codec tests (GUIDE §4 recipe): tables of real-world messages, error tables (reason + code +
 * offset), the framing decoder fed whole, one byte at a time and split at every offset, and seeded
 * property tests. Replay a fuzz failure with LS_FUZZ_SEED=<seed>.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRfc3339, LEVELS, type LogRecord } from './record.ts';
import {
  bsdTimestampToIso,
  encodeSyslog5424,
  fieldsToRecord,
  frameOctetCounted,
  isRfc3339Bytes,
  parseSyslog,
  scanSyslog,
  SYSLOG_ERR,
  SyslogError,
  SyslogFields,
  SyslogFrameDecoder,
  SyslogRecordWriter,
  syslogToRecord,
  type SyslogFraming,
  type SyslogReason,
  type SyslogRejectInfo,
} from './syslog.ts';
import { bytewise, cutAt, splitsInTwo } from './test-support.ts';

/**
 * The codec builds records valid by construction (LSP/1 §1); this restates the rules it must meet. The
 * receivers' own validator (lessons/day08/validate.ts) is held against the codec in tests/fuzz.
 */
function obeysLsp1(r: LogRecord): boolean {
  const optional = (v: unknown, type: string) => v === undefined || (typeof v === type && v !== null && !Array.isArray(v));
  return isRfc3339(r.ts) && (LEVELS as readonly string[]).includes(r.level) && typeof r.msg === 'string' && optional(r.service, 'string') && optional(r.host, 'string') && optional(r.attrs, 'object');
}

/** Receive time used throughout: 2026-11-26 12:00 UTC (the tests run with the process's TZ; see bsd cases). */
const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);
const NOW_ISO = new Date(NOW).toISOString();

/** The ISO string a BSD timestamp becomes in this process's zone, for expectations that stay TZ-proof. */
const local = (y: number, mo: number, d: number, h: number, mi: number, s: number, ms = 0) => new Date(y, mo, d, h, mi, s, ms).toISOString();

type Case = [name: string, message: string, expected: LogRecord];

const CASES: Case[] = [
  // RFC 5424 §6.5, examples 1-4
  [
    'RFC 5424 example 1 (BOM, no SD)',
    "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \ufeff'su root' failed for lonvick on /dev/pts/8",
    { ts: '2003-10-11T22:14:15.003Z', level: 'fatal', msg: "'su root' failed for lonvick on /dev/pts/8", service: 'su', host: 'mymachine.example.com', attrs: { facility: 'auth', severity: 'crit', msgid: 'ID47' } },
  ],
  [
    'RFC 5424 example 2 (offset, µs, PROCID)',
    "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
    { ts: '2003-08-24T05:14:15.000003-07:00', level: 'info', msg: "%% It's time to make the do-nuts.", service: 'myproc', host: '192.0.2.1', attrs: { facility: 'local4', severity: 'notice', procid: '8710' } },
  ],
  [
    'RFC 5424 example 3 (SD and BOM MSG)',
    '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] \ufeffAn application event log entry...',
    {
      ts: '2003-10-11T22:14:15.003Z', level: 'info', msg: 'An application event log entry...', service: 'evntslog', host: 'mymachine.example.com',
      attrs: { facility: 'local4', severity: 'notice', msgid: 'ID47', sd: { 'exampleSDID@32473': { iut: '3', eventSource: 'Application', eventID: '1011' } } },
    },
  ],
  [
    'RFC 5424 example 4 (two SD elements, no MSG)',
    '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]',
    {
      ts: '2003-10-11T22:14:15.003Z', level: 'info', msg: '', service: 'evntslog', host: 'mymachine.example.com',
      attrs: { facility: 'local4', severity: 'notice', msgid: 'ID47', sd: { 'exampleSDID@32473': { iut: '3', eventSource: 'Application', eventID: '1011' }, 'examplePriority@32473': { class: 'high' } } },
    },
  ],
  // util-linux logger 2.38, as captured on the wire
  [
    'logger --rfc5424 --sd-id --sd-param --msgid -p local0.err',
    '<131>1 2026-11-26T15:45:52.148387+00:00 vm myapp - M1 [timeQuality tzKnown="1" isSynced="0"][zoo@32473 tiger="hungry" q="a\\"b"] hello 5424',
    {
      ts: '2026-11-26T15:45:52.148387+00:00', level: 'error', msg: 'hello 5424', service: 'myapp', host: 'vm',
      attrs: { facility: 'local0', severity: 'err', msgid: 'M1', sd: { timeQuality: { tzKnown: '1', isSynced: '0' }, 'zoo@32473': { tiger: 'hungry', q: 'a"b' } } },
    },
  ],
  [
    'logger default (rfc5424, user.notice) with the LF of TCP non-transparent framing',
    '<13>1 2026-11-26T15:45:52.954538+00:00 vm root - - [timeQuality tzKnown="1" isSynced="0"] plain default\n',
    { ts: '2026-11-26T15:45:52.954538+00:00', level: 'info', msg: 'plain default', service: 'root', host: 'vm', attrs: { facility: 'user', severity: 'notice', sd: { timeQuality: { tzKnown: '1', isSynced: '0' } } } },
  ],
  [
    'logger --rfc3164 --id=42 -t myapp -p local0.err',
    '<131>Nov 26 15:45:51 vm myapp[42]: hello 3164\n',
    { ts: local(2026, 10, 26, 15, 45, 51), level: 'error', msg: 'hello 3164', service: 'myapp', host: 'vm', attrs: { facility: 'local0', severity: 'err', procid: '42' } },
  ],
  // rsyslog's forwarding templates
  [
    'rsyslog RSYSLOG_SyslogProtocol23Format (trailing LF)',
    '<14>1 2026-11-26T15:50:01.123456+00:00 web-01 nginx 811 - - GET / 200\n',
    { ts: '2026-11-26T15:50:01.123456+00:00', level: 'info', msg: 'GET / 200', service: 'nginx', host: 'web-01', attrs: { facility: 'user', severity: 'info', procid: '811' } },
  ],
  [
    'rsyslog RSYSLOG_ForwardFormat (3164 header, RFC 3339 timestamp)',
    '<86>2026-11-26T15:50:01.123456+01:00 web-01 sshd[811]: Accepted publickey for deploy',
    { ts: '2026-11-26T15:50:01.123456+01:00', level: 'info', msg: 'Accepted publickey for deploy', service: 'sshd', host: 'web-01', attrs: { facility: 'authpriv', severity: 'info', procid: '811' } },
  ],
  [
    'rsyslog RSYSLOG_TraditionalForwardFormat',
    '<30>Nov  5 09:03:07 db-1 systemd[1]: Started Daily apt upgrade.',
    { ts: local(2026, 10, 5, 9, 3, 7), level: 'info', msg: 'Started Daily apt upgrade.', service: 'systemd', host: 'db-1', attrs: { facility: 'daemon', severity: 'info', procid: '1' } },
  ],
  // RFC 3164 variants
  [
    'RFC 3164 §5.4 example 1 (hostname, tag without PID)',
    "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
    { ts: local(2026, 9, 11, 22, 14, 15), level: 'fatal', msg: "'su root' failed for lonvick on /dev/pts/8", service: 'su', host: 'mymachine', attrs: { facility: 'auth', severity: 'crit' } },
  ],
  [
    'RFC 3164 §5.4 example 2 (IP as hostname; after a TIMESTAMP the first word is the TAG, as rsyslog reads it)',
    '<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!',
    { ts: local(2026, 1, 5, 17, 32, 18), level: 'info', msg: 'the BFG!', service: 'Use', host: '10.0.0.99', attrs: { facility: 'user', severity: 'notice' } },
  ],
  [
    'rsyslog RSYSLOG_TraditionalForwardFormat of an RFC 5424 message (TAG without a colon)',
    '<156>Nov 26 15:56:02 vm rs-app via rsyslog 1',
    { ts: local(2026, 10, 26, 15, 56, 2), level: 'warn', msg: 'via rsyslog 1', service: 'rs-app', host: 'vm', attrs: { facility: 'local3', severity: 'warning' } },
  ],
  [
    '3164 header with nothing after the TAG',
    '<13>Nov 26 15:56:02 vm app',
    { ts: local(2026, 10, 26, 15, 56, 2), level: 'info', msg: '', service: 'app', host: 'vm', attrs: { facility: 'user', severity: 'notice' } },
  ],
  [
    '3164 without hostname, tag with PID',
    '<38>Oct 11 22:14:15 sshd[4242]: Connection closed',
    { ts: local(2026, 9, 11, 22, 14, 15), level: 'info', msg: 'Connection closed', service: 'sshd', attrs: { facility: 'auth', severity: 'info', procid: '4242' } },
  ],
  [
    '3164 without hostname, tag without PID',
    '<38>Oct 11 22:14:15 cron: job done',
    { ts: local(2026, 9, 11, 22, 14, 15), level: 'info', msg: 'job done', service: 'cron', attrs: { facility: 'auth', severity: 'info' } },
  ],
  [
    '3164 with IPv6 hostname and milliseconds',
    '<15>Mar  1 00:00:00.250 fe80::1 kernel: eth0 up',
    { ts: local(2026, 2, 1, 0, 0, 0, 250), level: 'debug', msg: 'eth0 up', service: 'kernel', host: 'fe80::1', attrs: { facility: 'user', severity: 'debug' } },
  ],
  [
    '3164 with no timestamp: everything after PRI is the message (tag still recognised)',
    '<13>myapp: no header here',
    { ts: NOW_ISO, level: 'info', msg: 'no header here', service: 'myapp', attrs: { facility: 'user', severity: 'notice' } },
  ],
  [
    '3164, bare text after PRI',
    '<0>kernel panic at the disco',
    { ts: NOW_ISO, level: 'fatal', msg: 'kernel panic at the disco', attrs: { facility: 'kern', severity: 'emerg' } },
  ],
  [
    'a December message read in late November is last year (more than 7 days ahead)',
    '<191>Dec 24 18:00:00 host app: ho ho',
    { ts: local(2025, 11, 24, 18, 0, 0), level: 'debug', msg: 'ho ho', service: 'app', host: 'host', attrs: { facility: 'local7', severity: 'debug' } },
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
    { ts: NOW_ISO, level: 'info', msg: '', service: 'app', host: 'host', attrs: { facility: 'user', severity: 'notice', procid: '1', msgid: 'ID' } },
  ],
  [
    'SD escapes \\" \\\\ \\] and a lone backslash',
    '<13>1 - - - - - [id@1 a="q\\"b\\\\s\\]e\\x"] m',
    { ts: NOW_ISO, level: 'info', msg: 'm', attrs: { facility: 'user', severity: 'notice', sd: { 'id@1': { a: 'q"b\\s]e\\x' } } } },
  ],
  [
    'a repeated param becomes an array; a repeated SD-ID is merged',
    '<13>1 - - - - - [a k="1" k="2"][b x=""][a j="3"] m',
    { ts: NOW_ISO, level: 'info', msg: 'm', attrs: { facility: 'user', severity: 'notice', sd: { a: { k: ['1', '2'], j: '3' }, b: { x: '' } } } },
  ],
  [
    '__proto__ as an SD-ID and a param name is kept as data',
    '<13>1 - - - - - [__proto__ __proto__="x" constructor="y"] m',
    { ts: NOW_ISO, level: 'info', msg: 'm', attrs: { facility: 'user', severity: 'notice', sd: JSON.parse('{"__proto__":{"__proto__":"x","constructor":"y"}}') as Record<string, never> } },
  ],
  [
    'UTF-8, control characters and quotes in MSG and fields',
    '<13>1 - hôst ápp - - - "quoted" tab\there \u0001 日本 😀 \\ end',
    { ts: NOW_ISO, level: 'info', msg: '"quoted" tab\there \u0001 日本 😀 \\ end', service: 'ápp', host: 'hôst', attrs: { facility: 'user', severity: 'notice' } },
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

  it('bytes that are not UTF-8 become U+FFFD (the slow path), the same as toString', () => {
    const msg = Buffer.concat([Buffer.from('<13>1 - h\xe9 - - - [a b="\xff"] caf', 'latin1'), Buffer.from([0xe9, 0x20, 0xc3])]);
    const expected = { ts: NOW_ISO, level: 'info', msg: 'caf\ufffd \ufffd', host: 'h\ufffd', attrs: { facility: 'user', severity: 'notice', sd: { a: { b: '\ufffd' } } } };
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
      expect({ reason: e.reason, code: e.code, offset: e.offset }).toEqual({ reason, code: SYSLOG_ERR[reason], offset });
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
      '2026-11-26T14:13:48Z', '2026-11-26t14:13:48z', '2026-11-26T14:13:48.123456789+05:30', '2024-02-29T00:00:00Z', '2026-02-29T00:00:00Z',
      '2026-11-26T24:00:00Z', '2026-11-26T14:13:60Z', '2026-11-26T14:13:48.Z', '2026-11-26T14:13:48', '2026-11-26T14:13:48+0530',
      '2026-11-26 14:13:48Z', '2026-00-10T00:00:00Z', '2026-04-31T00:00:00Z', '1900-02-29T00:00:00Z', '2000-02-29T00:00:00Z',
    ];
    for (const s of samples) expect(isRfc3339Bytes(Buffer.from(s), 0, s.length), s).toBe(isRfc3339(s));
    const alphabet = fc.constantFrom(...'0123456789-:.TtZz+ '.split(''));
    const template = fc.tuple(fc.integer({ min: 1899, max: 2101 }), fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 32 }), fc.integer({ min: 0, max: 25 }), fc.integer({ min: 0, max: 61 }));
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: alphabet, maxLength: 40 }), template.map(([y, mo, d, h, s]) => `${y}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:00:${String(s).padStart(2, '0')}Z`)), (s) => {
        expect(isRfc3339Bytes(Buffer.from(s), 0, s.length)).toBe(isRfc3339(s));
      }),
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
    expect(parseSyslog('<13>Feb 30 12:00:00 host app: x', NOW)).toEqual({ ts: NOW_ISO, level: 'info', msg: 'Feb 30 12:00:00 host app: x', attrs: { facility: 'user', severity: 'notice' } });
    expect(parseSyslog('<13>Oct 11 25:00:00 x', NOW).msg).toBe('Oct 11 25:00:00 x');
    // without a TIMESTAMP a bare first word stays in the message
    expect(parseSyslog('<13>hello world', NOW)).toMatchObject({ msg: 'hello world' });
    expect(parseSyslog('<13>hello world', NOW).service).toBeUndefined();
  });

  it('the writer caches BSD conversions per timestamp, and the cache follows the receive time', () => {
    const w = new SyslogRecordWriter();
    const msg = Buffer.from('<13>Dec 31 23:00:00 h a: x');
    const jan1 = new Date(2027, 0, 1, 0, 30).getTime();
    w.setReceived(jan1);
    w.add(msg, 0, msg.length);
    w.setReceived(new Date(2027, 11, 31, 23, 30).getTime()); // a year on: same bytes, new year
    w.add(msg, 0, msg.length);
    const [a, b] = w.take()!.toString().trim().split('\n').map((l) => (JSON.parse(l) as LogRecord).ts);
    expect(a).toBe(local(2026, 11, 31, 23, 0, 0));
    expect(b).toBe(local(2027, 11, 31, 23, 0, 0));
  });
});

// ---------------------------------------------------------------------------------------------
// Framing

interface Decoded {
  messages: Array<{ text: string; framing: SyslogFraming }>;
  rejects: Array<Omit<SyslogRejectInfo, 'sample'> & { sample: string }>;
}

function decode(chunks: readonly Buffer[], maxMessageBytes = 64, end = true, maxSkipBytes?: number): Decoded {
  const out: Decoded = { messages: [], rejects: [] };
  const d = new SyslogFrameDecoder({
    maxMessageBytes,
    ...(maxSkipBytes === undefined ? {} : { maxSkipBytes }),
    onMessage: (buf, s, e, framing) => out.messages.push({ text: buf.toString('latin1', s, e), framing }),
    onReject: (info) => out.rejects.push({ ...info, sample: info.sample.toString('latin1') }),
  });
  for (const c of chunks) d.push(c);
  if (end) {
    d.end();
    expect(d.bufferedBytes).toBe(0);
    expect(d.idle || d.dead).toBe(true); // dead: after a fatal reject (maxSkipBytes)
  }
  return out;
}

function* feeds(data: Buffer): Generator<[string, Buffer[]]> {
  yield ['whole', [data]];
  yield ['bytewise', bytewise(data)];
  for (const parts of splitsInTwo(data)) yield [`split@${parts[0]!.length}`, parts];
}

const oct = (m: string) => `${Buffer.byteLength(m)} ${m}`;

describe('SyslogFrameDecoder (RFC 6587)', () => {
  it('octet counting and LF framing, mixed per message on one connection', () => {
    const m1 = '<13>1 - - - - - - one';
    const m2 = '<14>Oct 11 22:14:15 host app: two';
    const m3 = '<15>1 - - - - - - three\nwith LF inside';
    const input = Buffer.from(`${oct(m1)}${m2}\n${oct(m3)}\n\r\n<16>four\r\n${oct('<17>five')}<18>six`);
    for (const [how, chunks] of feeds(input)) {
      expect(decode(chunks), how).toEqual({
        messages: [
          { text: m1, framing: 'octet' },
          { text: m2, framing: 'lf' },
          { text: m3, framing: 'octet' },
          { text: '<16>four', framing: 'lf' },
          { text: '<17>five', framing: 'octet' },
          { text: '<18>six', framing: 'lf' }, // final line without LF, completed by end()
        ],
        rejects: [],
      });
    }
  });

  it('a count over the limit is rejected and exactly that many bytes are skipped', () => {
    const big = `<13>1 - - - - - - ${'x'.repeat(100)}`; // 118 bytes, limit 64
    const input = Buffer.from(`${oct('<13>a')}${oct(big)}${oct('<13>b')}`);
    for (const [how, chunks] of feeds(input)) {
      const r = decode(chunks);
      expect(r.messages.map((m) => m.text), how).toEqual(['<13>a', '<13>b']);
      expect(r.rejects.map(({ reason, offset, bytes }) => ({ reason, offset, bytes })), how).toEqual([{ reason: 'syslog_count_too_large', offset: 7, bytes: 118 }]);
      expect(r.rejects[0]!.sample.startsWith('118 '), how).toBe(true);
    }
  });

  it('a bad count is rejected and the stream resynchronises after the next LF', () => {
    const cases: Array<[string, string, string[], Array<{ reason: string; offset: number }>]> = [
      ['letter in count', `12a <13>lost\n${oct('<13>ok')}`, ['<13>ok'], [{ reason: 'syslog_bad_count', offset: 0 }]],
      ['count without SP', `12<13>lost\n<13>next`, ['<13>next'], [{ reason: 'syslog_bad_count', offset: 0 }]],
      ['count then LF', `5\n<13>x\n`, ['<13>x'], [{ reason: 'syslog_bad_count', offset: 0 }]],
      ['leading zero', `05 <13>x\n<13>y`, ['<13>y'], [{ reason: 'syslog_bad_count', offset: 0 }]],
      ['zero', `0 \n${oct('<13>z')}`, ['<13>z'], [{ reason: 'syslog_bad_count', offset: 0 }]],
      ['11 digits', `12345678901 x\n<13>w`, ['<13>w'], [{ reason: 'syslog_bad_count', offset: 0 }]],
      ['after a good message', `${oct('<13>a')}9x\n<13>b`, ['<13>a', '<13>b'], [{ reason: 'syslog_bad_count', offset: 7 }]],
      ['truncated count at the end of the stream', `${oct('<13>a')}12`, ['<13>a'], [{ reason: 'syslog_bad_count', offset: 7 }]],
    ];
    for (const [name, text, messages, rejects] of cases) {
      for (const [how, chunks] of feeds(Buffer.from(text))) {
        const r = decode(chunks);
        expect(r.messages.map((m) => m.text), `${name} ${how}`).toEqual(messages);
        expect(r.rejects.map(({ reason, offset }) => ({ reason, offset })), `${name} ${how}`).toEqual(rejects);
      }
    }
  });

  it('the stream ending inside an octet-counted message: syslog_truncated', () => {
    for (const [how, chunks] of feeds(Buffer.from(`${oct('<13>a')}30 <13>1 - - - -`))) {
      const r = decode(chunks);
      expect(r.messages.map((m) => m.text), how).toEqual(['<13>a']);
      expect(r.rejects, how).toEqual([{ reason: 'syslog_truncated', code: 'LS_ERR_SYSLOG_TRUNCATED', offset: 7, bytes: 13, sample: '<13>1 - - - -' }]);
    }
  });

  it('an LF-framed message over the limit is rejected and discarded up to its LF', () => {
    const long = `<13>${'y'.repeat(100)}`;
    for (const [how, chunks] of feeds(Buffer.from(`<13>a\n${long}\r\n<13>b\n${long}`))) {
      const r = decode(chunks);
      expect(r.messages.map((m) => m.text), how).toEqual(['<13>a', '<13>b']);
      expect(r.rejects.map(({ reason, offset }) => ({ reason, offset })), how).toEqual([
        { reason: 'syslog_too_large', offset: 6 },
        { reason: 'syslog_too_large', offset: 6 + 104 + 2 + 6 },
      ]);
      for (const rej of r.rejects) expect(rej.bytes, how).toBeGreaterThan(64);
    }
  });

  it('exactly at the limit is accepted, one over is not (both framings)', () => {
    const at = `<13>${'z'.repeat(60)}`; // 64 bytes
    const over = `<13>${'z'.repeat(61)}`;
    for (const [how, chunks] of feeds(Buffer.from(`${oct(at)}${oct(over)}${at}\r\n${over}\n`))) {
      const r = decode(chunks);
      expect(r.messages.map((m) => m.text), how).toEqual([at, at]);
      expect(r.rejects.map((x) => x.reason), how).toEqual(['syslog_count_too_large', 'syslog_too_large']);
    }
  });

  it('every framing reject carries its reason and the matching code (error table)', () => {
    // GUIDE §4: the code is what tests and checks rely on, for each way a stream can be malformed
    const cases: Array<[string, string, SyslogReason, string]> = [
      ['bad count (letter)', `12a <13>x\n`, 'syslog_bad_count', 'LS_ERR_SYSLOG_COUNT'],
      ['count cut by the end of the stream', `12`, 'syslog_bad_count', 'LS_ERR_SYSLOG_COUNT'],
      ['count over the limit (skipped)', `100 ${'x'.repeat(100)}`, 'syslog_count_too_large', 'LS_ERR_SYSLOG_COUNT_TOO_LARGE'],
      ['truncated octet-counted message', `30 <13>1 - -`, 'syslog_truncated', 'LS_ERR_SYSLOG_TRUNCATED'],
      ['LF-framed message over the limit', `<13>${'y'.repeat(80)}\n`, 'syslog_too_large', 'LS_ERR_SYSLOG_TOO_LARGE'],
    ];
    for (const [name, text, reason, code] of cases) {
      for (const [how, chunks] of feeds(Buffer.from(text))) {
        const r = decode(chunks);
        expect(r.rejects.map((x) => [x.reason, x.code, x.fatal ?? false]), `${name} ${how}`).toEqual([[reason, code, false]]);
        expect(SYSLOG_ERR[reason]).toBe(code);
      }
    }
  });

  it('a count over the skip limit is fatal: one reject, then nothing more is read (the lane closes the connection)', () => {
    // limit 64, skip limit 200: 150 is skipped and the stream goes on; 5000 cannot be skipped
    const input = Buffer.from(`${oct('<13>a')}150 ${'x'.repeat(150)}${oct('<13>b')}5000 ${'z'.repeat(300)}${oct('<13>never')}`);
    for (const [how, chunks] of feeds(input)) {
      const r = decode(chunks, 64, true, 200);
      expect(r.messages.map((m) => m.text), how).toEqual(['<13>a', '<13>b']);
      expect(
        r.rejects.map(({ reason, code, offset, bytes, fatal, sample }) => ({ reason, code, offset, bytes, fatal: fatal ?? false, sample: sample.slice(0, 5) })),
        how,
      ).toEqual([
        { reason: 'syslog_count_too_large', code: 'LS_ERR_SYSLOG_COUNT_TOO_LARGE', offset: 7, bytes: 150, fatal: false, sample: '150 x' },
        { reason: 'syslog_count_too_large', code: 'LS_ERR_SYSLOG_COUNT_TOO_LARGE', offset: 7 + 154 + 7, bytes: 5000, fatal: true, sample: '5000 ' },
      ]);
    }
    const d = new SyslogFrameDecoder({ maxMessageBytes: 64, maxSkipBytes: 64, onMessage: () => expect.fail('nothing after a fatal reject'), onReject: () => {} });
    d.push(Buffer.from('9999999999 '));
    expect(d.dead).toBe(true);
    d.push(Buffer.from(oct('<13>after')));
    d.end();
    expect(d.bufferedBytes).toBe(0);
    expect(d.buffered().length).toBe(0);
    // a count within the message limit is never fatal, whatever the skip limit
    expect(decode([Buffer.from(oct('<13>fits'))], 64, true, 0).messages.map((m) => m.text)).toEqual(['<13>fits']);
  });

  it('holds bounded memory while a huge message trickles in, and reports the buffered sample', () => {
    const got: string[] = [];
    const reasons: string[] = [];
    const d = new SyslogFrameDecoder({ maxMessageBytes: 1000, onMessage: (b, s, e) => got.push(b.toString('latin1', s, e)), onReject: (r) => reasons.push(r.reason) });
    d.push(Buffer.from('500 <13>partial'));
    expect(d.idle).toBe(false);
    expect(d.bufferedBytes).toBe(11);
    expect(d.buffered().toString()).toBe('<13>partial');
    for (let i = 0; i < 489; i++) d.push(Buffer.from('y'));
    expect(got).toHaveLength(1);
    expect(d.idle).toBe(true);
    // an LF-framed message that never ends: rejected once past the limit, then discarded
    for (let i = 0; i < 5000; i++) {
      d.push(Buffer.from('<13>xxxxxx'));
      expect(d.bufferedBytes).toBeLessThanOrEqual(1002);
    }
    expect(reasons).toEqual(['syslog_too_large']);
    d.push(Buffer.from('\n123'));
    expect(d.buffered().toString()).toBe('123');
    expect(d.offset).toBe(15 + 489 + 50_000 + 4);
  });
});

// ---------------------------------------------------------------------------------------------
// Encoder (the forwarder's side)

describe('encodeSyslog5424', () => {
  it('writes a record as RFC 5424 that reads back as the same record', () => {
    const record: LogRecord = {
      ts: '2026-11-26T14:13:48.123456789+01:00', level: 'warn', msg: 'disk "almost" full ] \\', service: 'df', host: 'web-01',
      attrs: { facility: 'local3', procid: '77', msgid: 'DISK', sd: { 'disk@32473': { path: '/var', pct: ['91', '92'] } }, user: 42, note: 'a"b' },
    };
    const wire = encodeSyslog5424(record);
    expect(wire.toString()).toBe('<156>1 2026-11-26T14:13:48.123456+01:00 web-01 df 77 DISK [disk@32473 path="/var" pct="91" pct="92"][lsp@32473 user="42" note="a\\"b"] disk "almost" full ] \\');
    expect(parseSyslog(wire, NOW)).toEqual({
      ts: '2026-11-26T14:13:48.123456+01:00', level: 'warn', msg: 'disk "almost" full ] \\', service: 'df', host: 'web-01',
      attrs: { facility: 'local3', severity: 'warning', procid: '77', msgid: 'DISK', sd: { 'disk@32473': { path: '/var', pct: ['91', '92'] }, 'lsp@32473': { user: '42', note: 'a"b' } } },
    });
    expect(frameOctetCounted(Buffer.from('<13>x')).toString()).toBe('5 <13>x');
  });

  it('round-trips any record whose fields fit RFC 5424 (seeded)', () => {
    const printable = fc.string({ unit: fc.constantFrom(...'abcXYZ019.-_@:/'.split('')), minLength: 2, maxLength: 20 }).filter((s) => s !== '-');
    const level = fc.constantFrom('debug', 'info', 'warn', 'error', 'fatal' as const);
    const sdName = fc.string({ unit: fc.constantFrom(...'abcdef@0123'.split('')), minLength: 1, maxLength: 8 });
    fc.assert(
      fc.property(
        fc.record({
          ms: fc.integer({ min: 0, max: 4_102_444_800_000 }),
          level,
          msg: fc.string({ unit: 'grapheme', maxLength: 60 }).map((s) => s.replace(/^\ufeff/, '').replace(/[\r\n\0]+$/, '')),
          host: fc.option(printable, { nil: undefined }),
          service: fc.option(printable, { nil: undefined }),
          facility: fc.integer({ min: 0, max: 23 }),
          sd: fc.dictionary(sdName, fc.dictionary(sdName, fc.string({ unit: 'grapheme', maxLength: 10 }), { maxKeys: 3 }), { maxKeys: 3 }),
        }),
        (r) => {
          const rec: LogRecord = { ts: new Date(r.ms).toISOString(), level: r.level, msg: r.msg, attrs: { facility: r.facility, sd: r.sd } };
          if (r.host !== undefined) rec.host = r.host;
          if (r.service !== undefined) rec.service = r.service;
          const back = parseSyslog(encodeSyslog5424(rec), NOW);
          expect(back.ts).toBe(rec.ts);
          expect(back.msg).toBe(rec.msg);
          expect(back.host).toBe(rec.host);
          expect(back.service).toBe(rec.service);
          expect(back.level).toBe(rec.level === 'debug' ? 'debug' : rec.level);
          const attrs = back.attrs as Record<string, unknown>;
          expect(attrs.facility).toBe(['kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp', 'ntp', 'security', 'console', 'solaris-cron', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7'][r.facility]);
          if (Object.keys(r.sd).length) expect(attrs.sd).toEqual(r.sd);
          else expect(attrs.sd).toBeUndefined();
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Seeded fuzz

function fuzzSeed(name: string): number {
  const env = process.env['LS_FUZZ_SEED'];
  const seed = env !== undefined && env !== '' ? Number(env) : Math.floor(Math.random() * 0x7fffffff);
  console.log(`[${name}] fuzz seed ${seed} (replay with LS_FUZZ_SEED=${seed})`);
  return seed;
}
const SEED = fuzzSeed('syslog');

/** Messages that are mostly valid syslog with random damage: the interesting inputs. */
const syslogish = fc
  .tuple(
    fc.constantFrom('<13>1 ', '<165>1 ', '<0>', '<34>Oct 11 22:14:15 ', '<191>', '<13>1 - - - - - ', '<13>1 2026-11-26T14:13:48.5Z h a 1 m ', '<', ''),
    fc.array(fc.constantFrom('-', ' ', '[', ']', '"', '\\', '=', 'id@1', 'a="', 'x', ':', '[1]', '\ufeff', 'é', '\n', '\r', '\u0000', '\u007f', '😀', 'Feb 29', '10:00:00'), { maxLength: 30 }),
    fc.uint8Array({ maxLength: 8 }),
  )
  .map(([head, parts, tail]) => Buffer.concat([Buffer.from(head + parts.join('')), Buffer.from(tail)]));

/** Well-formed RFC 5424 messages from random parts (escapes, UTF-8, bytes that are not UTF-8, repeats). */
const tokenText = fc.string({ unit: fc.constantFrom('a', 'Z', '9', '-', '.', '"', '\\', ']', '=', 'é', '\u0001', '\u007f'), minLength: 1, maxLength: 6 }).filter((t) => !t.includes(' '));
const sdNameArb = fc.string({ unit: fc.constantFrom('a', 'b', '@', '1', '\\', '_'), minLength: 1, maxLength: 4 });
const paramValue = fc.array(fc.constantFrom('x', ' ', '\\"', '\\\\', '\\]', '\\n', ']', '=', 'é', '😀', '\u0000', '\t'), { maxLength: 6 }).map((a) => a.join(''));
const wellFormed5424 = fc
  .record({
    pri: fc.integer({ min: 0, max: 191 }),
    ts: fc.oneof(fc.constant('-'), fc.integer({ min: 0, max: 4_102_444_800_000 }).map((ms) => new Date(ms).toISOString())),
    host: fc.oneof(fc.constant('-'), tokenText),
    app: fc.oneof(fc.constant('-'), tokenText),
    proc: fc.oneof(fc.constant('-'), tokenText),
    msgid: fc.oneof(fc.constant('-'), tokenText),
    sd: fc.oneof(fc.constant('-'), fc.array(fc.tuple(sdNameArb, fc.array(fc.tuple(sdNameArb, paramValue), { maxLength: 3 })), { minLength: 1, maxLength: 3 }).map((els) => els.map(([id, ps]) => `[${id}${ps.map(([n, v]) => ` ${n}="${v}"`).join('')}]`).join(''))),
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

  it('scan/record/writer: never throw, writer JSON equals fieldsToRecord, records are valid', () => {
    const w = new SyslogRecordWriter(64);
    w.setReceived(NOW);
    const f = new SyslogFields();
    fc.assert(
      fc.property(fc.oneof(syslogish, fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a))), (msg) => {
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
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });

  it('framing: random cuts give the same messages and rejects as whole input; no hang, bounded buffer', () => {
    const stream = fc.array(
      fc.oneof(
        syslogish.map((m) => `${m.length} ${m.toString('latin1')}`),
        syslogish.map((m) => `${m.toString('latin1').replace(/\n/g, ' ')}\n`),
        fc.constantFrom('999 ', '12x', '0 ', '\n', '\r\n', '5\n', '99999999999 '),
      ),
      { maxLength: 12 },
    );
    fc.assert(
      fc.property(stream, fc.array(fc.nat({ max: 3000 }), { maxLength: 10 }), fc.integer({ min: 8, max: 200 }), (parts, cuts, max) => {
        const data = Buffer.from(parts.join(''), 'latin1');
        // A too-large LF-framed message is found before its end when it arrives in pieces, so its
        // `bytes` is a lower bound there: compare everything else.
        const comparable = (d: Decoded) => ({ ...d, rejects: d.rejects.map((r) => (r.reason === 'syslog_too_large' ? { ...r, bytes: 0 } : r)) });
        const whole = decode([data], max);
        expect(comparable(decode(cutAt(data, cuts), max))).toEqual(comparable(whole));
        expect(comparable(decode(bytewise(data), max))).toEqual(comparable(whole));
        for (const m of whole.messages) expect(Buffer.byteLength(m.text, 'latin1')).toBeLessThanOrEqual(max);
        for (const r of whole.rejects) expect(Object.keys(SYSLOG_ERR)).toContain(r.reason);
      }),
      { seed: SEED, numRuns: 400 },
    );
  });

  it('a pathological stream (huge count) is skipped without buffering it', () => {
    const d = new SyslogFrameDecoder({ maxMessageBytes: 100, onMessage: () => {}, onReject: () => {} });
    d.push(Buffer.from('9999999999 '));
    const junk = Buffer.alloc(1 << 20, 0x61);
    for (let i = 0; i < 20; i++) d.push(junk);
    expect(d.bufferedBytes).toBe(0);
  });
});
