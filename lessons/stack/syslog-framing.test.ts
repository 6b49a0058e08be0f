/**
 * RFC 6587 framing (CONVENTIONS.md §4 recipe): the decoder fed whole, one byte at a time and split at every
 * offset; the error table; bounded memory; a seeded property test (random cuts give the same messages
 * and rejects). Replay a fuzz failure with LS_FUZZ_SEED=<seed>.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SYSLOG_ERR, type SyslogReason } from '../../shared/protocol/syslog/errors.ts';
import { SEED, syslogish } from '../../shared/protocol/syslog/test-support.ts';
import { bytewise, cutAt, splitsInTwo } from '../../shared/protocol/test-support.ts';
import { frameOctetCounted, SyslogFrameDecoder, type SyslogFraming, type SyslogRejectInfo } from './syslog-framing.ts';

interface Decoded {
  messages: Array<{ text: string; framing: SyslogFraming }>;
  rejects: Array<Omit<SyslogRejectInfo, 'sample'> & { sample: string }>;
}

/** The messages' text, in order. */
const texts = (r: Decoded): string[] => r.messages.map((m) => m.text);

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
      expect(texts(r), how).toEqual(['<13>a', '<13>b']);
      expect(
        r.rejects.map(({ reason, offset, bytes }) => ({ reason, offset, bytes })),
        how,
      ).toEqual([{ reason: 'syslog_count_too_large', offset: 7, bytes: 118 }]);
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
      [
        'after a good message',
        `${oct('<13>a')}9x\n<13>b`,
        ['<13>a', '<13>b'],
        [{ reason: 'syslog_bad_count', offset: 7 }],
      ],
      [
        'truncated count at the end of the stream',
        `${oct('<13>a')}12`,
        ['<13>a'],
        [{ reason: 'syslog_bad_count', offset: 7 }],
      ],
    ];
    for (const [name, text, messages, rejects] of cases) {
      for (const [how, chunks] of feeds(Buffer.from(text))) {
        const r = decode(chunks);
        expect(texts(r), `${name} ${how}`).toEqual(messages);
        expect(
          r.rejects.map(({ reason, offset }) => ({ reason, offset })),
          `${name} ${how}`,
        ).toEqual(rejects);
      }
    }
  });

  it('the stream ending inside an octet-counted message: syslog_truncated', () => {
    for (const [how, chunks] of feeds(Buffer.from(`${oct('<13>a')}30 <13>1 - - - -`))) {
      const r = decode(chunks);
      expect(texts(r), how).toEqual(['<13>a']);
      expect(r.rejects, how).toEqual([
        { reason: 'syslog_truncated', code: 'LS_ERR_SYSLOG_TRUNCATED', offset: 7, bytes: 13, sample: '<13>1 - - - -' },
      ]);
    }
  });

  it('an LF-framed message over the limit is rejected and discarded up to its LF', () => {
    const long = `<13>${'y'.repeat(100)}`;
    for (const [how, chunks] of feeds(Buffer.from(`<13>a\n${long}\r\n<13>b\n${long}`))) {
      const r = decode(chunks);
      expect(texts(r), how).toEqual(['<13>a', '<13>b']);
      expect(
        r.rejects.map(({ reason, offset }) => ({ reason, offset })),
        how,
      ).toEqual([
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
      expect(texts(r), how).toEqual([at, at]);
      expect(
        r.rejects.map((x) => x.reason),
        how,
      ).toEqual(['syslog_count_too_large', 'syslog_too_large']);
    }
  });

  it('every framing reject carries its reason and the matching code (error table)', () => {
    // CONVENTIONS.md §4: the code is what tests and checks rely on, for each way a stream can be malformed
    const cases: Array<[string, string, SyslogReason, string]> = [
      ['bad count (letter)', `12a <13>x\n`, 'syslog_bad_count', 'LS_ERR_SYSLOG_COUNT'],
      ['count cut by the end of the stream', `12`, 'syslog_bad_count', 'LS_ERR_SYSLOG_COUNT'],
      [
        'count over the limit (skipped)',
        `100 ${'x'.repeat(100)}`,
        'syslog_count_too_large',
        'LS_ERR_SYSLOG_COUNT_TOO_LARGE',
      ],
      ['truncated octet-counted message', `30 <13>1 - -`, 'syslog_truncated', 'LS_ERR_SYSLOG_TRUNCATED'],
      ['LF-framed message over the limit', `<13>${'y'.repeat(80)}\n`, 'syslog_too_large', 'LS_ERR_SYSLOG_TOO_LARGE'],
    ];
    for (const [name, text, reason, code] of cases) {
      for (const [how, chunks] of feeds(Buffer.from(text))) {
        const r = decode(chunks);
        expect(
          r.rejects.map((x) => [x.reason, x.code, x.fatal ?? false]),
          `${name} ${how}`,
        ).toEqual([[reason, code, false]]);
        expect(SYSLOG_ERR[reason]).toBe(code);
      }
    }
  });

  it('a count over the skip limit is fatal: one reject, then nothing more is read (the lane closes the connection)', () => {
    // limit 64, skip limit 200: 150 is skipped and the stream goes on; 5000 cannot be skipped
    const input = Buffer.from(
      `${oct('<13>a')}150 ${'x'.repeat(150)}${oct('<13>b')}5000 ${'z'.repeat(300)}${oct('<13>never')}`,
    );
    for (const [how, chunks] of feeds(input)) {
      const r = decode(chunks, 64, true, 200);
      expect(texts(r), how).toEqual(['<13>a', '<13>b']);
      expect(
        r.rejects.map(({ reason, code, offset, bytes, fatal, sample }) => ({
          reason,
          code,
          offset,
          bytes,
          fatal: fatal ?? false,
          sample: sample.slice(0, 5),
        })),
        how,
      ).toEqual([
        {
          reason: 'syslog_count_too_large',
          code: 'LS_ERR_SYSLOG_COUNT_TOO_LARGE',
          offset: 7,
          bytes: 150,
          fatal: false,
          sample: '150 x',
        },
        {
          reason: 'syslog_count_too_large',
          code: 'LS_ERR_SYSLOG_COUNT_TOO_LARGE',
          offset: 7 + 154 + 7,
          bytes: 5000,
          fatal: true,
          sample: '5000 ',
        },
      ]);
    }
    const d = new SyslogFrameDecoder({
      maxMessageBytes: 64,
      maxSkipBytes: 64,
      onMessage: () => expect.fail('nothing after a fatal reject'),
      onReject: () => {},
    });
    d.push(Buffer.from('9999999999 '));
    expect(d.dead).toBe(true);
    d.push(Buffer.from(oct('<13>after')));
    d.end();
    expect(d.bufferedBytes).toBe(0);
    expect(d.buffered().length).toBe(0);
    // a count within the message limit is never fatal, whatever the skip limit
    expect(decode([Buffer.from(oct('<13>fits'))], 64, true, 0).messages.map((m) => m.text)).toEqual(['<13>fits']);
  });

  it('reusesChunks: a message held across chunks survives the caller overwriting them (big chunks are not copied by PendingBytes)', () => {
    const lf = `<13>${'l'.repeat(3000)}`;
    const octet = `<13>${'o'.repeat(3000)}`;
    const wire = Buffer.from(`${lf}\n${oct(octet)}`);
    for (const at of [2000, lf.length + 2000]) {
      const got: string[] = [];
      const d = new SyslogFrameDecoder({
        maxMessageBytes: 5000,
        reusesChunks: true,
        onMessage: (b, s, e) => got.push(b.toString('latin1', s, e)),
        onReject: () => expect.fail('no reject'),
      });
      for (const part of [wire.subarray(0, at), wire.subarray(at)]) {
        const chunk = Buffer.from(part); // the caller's buffer, overwritten once push returns
        d.push(chunk);
        chunk.fill(0x5a);
      }
      d.end();
      expect(got, `cut at ${at}`).toEqual([lf, octet]);
    }
  });

  it("LF framing is day 08's line limit: a too-long line is reported from its first byte in the stream, sample min(256, limit + 1) bytes", () => {
    for (const max of [10, 300]) {
      const long = `<13>${'q'.repeat(400)}`;
      const input = Buffer.from(`${oct('<13>a')}<13>b\n${long}\n<13>c\n`);
      for (const [how, chunks] of feeds(input)) {
        const r = decode(chunks, max);
        expect(texts(r), how).toEqual(['<13>a', '<13>b', '<13>c']);
        expect(
          r.rejects.map(({ reason, offset, sample }) => ({ reason, offset, sample })),
          how,
        ).toEqual([{ reason: 'syslog_too_large', offset: 7 + 6, sample: long.slice(0, Math.min(256, max + 1)) }]);
      }
    }
  });

  it('holds bounded memory while a huge message trickles in, and reports the buffered sample', () => {
    const got: string[] = [];
    const reasons: string[] = [];
    const d = new SyslogFrameDecoder({
      maxMessageBytes: 1000,
      onMessage: (b, s, e) => got.push(b.toString('latin1', s, e)),
      onReject: (r) => reasons.push(r.reason),
    });
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

  it('frameOctetCounted writes LEN SP MSG', () => {
    expect(frameOctetCounted(Buffer.from('<13>x')).toString()).toBe('5 <13>x');
    expect(decode([frameOctetCounted(Buffer.from('<13>é'))]).messages).toEqual([
      { text: Buffer.from('<13>é').toString('latin1'), framing: 'octet' },
    ]);
  });
});

describe('seeded fuzz', () => {
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
      fc.property(
        stream,
        fc.array(fc.nat({ max: 3000 }), { maxLength: 10 }),
        fc.integer({ min: 8, max: 200 }),
        (parts, cuts, max) => {
          const data = Buffer.from(parts.join(''), 'latin1');
          // A too-large LF-framed message is found before its end when it arrives in pieces, so its
          // `bytes` is a lower bound there: compare everything else.
          const comparable = (d: Decoded) => ({
            ...d,
            rejects: d.rejects.map((r) => (r.reason === 'syslog_too_large' ? { ...r, bytes: 0 } : r)),
          });
          const whole = decode([data], max);
          expect(comparable(decode(cutAt(data, cuts), max))).toEqual(comparable(whole));
          expect(comparable(decode(bytewise(data), max))).toEqual(comparable(whole));
          for (const m of whole.messages) expect(Buffer.byteLength(m.text, 'latin1')).toBeLessThanOrEqual(max);
          for (const r of whole.rejects) expect(Object.keys(SYSLOG_ERR)).toContain(r.reason);
        },
      ),
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
