/**
 * Fuzz: the syslog parsers (RFC 5424, RFC 3164: shared/protocol/syslog/) and the RFC 6587 stream
 * framing (octet counting / LF: lessons/stack/syslog-framing.ts). Properties: nothing throws
 * (parseSyslog: only SyslogError with its code); every accepted message becomes a VALID LSP/1 record
 * (shared/protocol/README.md §1: RFC 3339 ts, a level, a string msg); the one-pass writer and the reference mapping agree on
 * any input, valid or not; the frame decoder gives the same messages and rejects however the stream is
 * cut and buffers about one message.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validateRecordObject } from '../../lessons/day08/validate.ts';
import { frameOctetCounted, SyslogFrameDecoder } from '../../lessons/stack/syslog-framing.ts';
import { encodeSyslog5424 } from '../../shared/protocol/syslog/encode.ts';
import { SYSLOG_ERR, SYSLOG_REASONS, SyslogError } from '../../shared/protocol/syslog/errors.ts';
import { parseSyslog, syslogToRecord } from '../../shared/protocol/syslog/scan.ts';
import { mostlySyslog } from '../../shared/protocol/syslog/test-support.ts';
import { SyslogRecordWriter } from '../../shared/protocol/syslog/writer.ts';
import { announceSeed, cutsArb, cutsFor, mutate, mutationsArb, params } from './support.ts';

announceSeed('syslog');

const NOW = Date.parse('2026-11-26T14:13:48.123Z');

/** Real-world shaped messages (RFC 5424 examples, logger, rsyslog, BSD variants). */
export const SEEDS = [
  "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - BOM'su root' failed for lonvick on /dev/pts/8",
  "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
  '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event log entry...',
  '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3"][examplePriority@32473 class="high"]',
  '<13>1 - - - - - -',
  "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
  '<13>Feb 29 10:00:00 host app[123]: leap day',
  '<13>Nov  6 01:02:03.456 host sshd[99]: Accepted publickey',
  '<0>Oct 11 22:14:15 just text',
  '<191>1 2026-11-26T14:13:48Z h a p m [a b="\\"\\]\\\\"] msg',
  'no pri at all',
];

const syslogish = fc.oneof(
  fc.uint8Array({ maxLength: 120 }).map((b) => Buffer.from(b)),
  fc.tuple(fc.constantFrom(...SEEDS), mutationsArb).map(([s, m]) => mutate(Buffer.from(s), m)),
  mostlySyslog(20, 4),
);

describe('syslog message parsers under hostile input', () => {
  it('syslogToRecord / parseSyslog: a valid LSP/1 record or a documented reason, never another throw', () => {
    fc.assert(
      fc.property(syslogish, fc.integer({ min: 0, max: 4_102_444_800_000 }), (msg, at) => {
        const r = syslogToRecord(msg, at);
        if (r.ok) {
          const v = validateRecordObject(JSON.parse(JSON.stringify(r.record)) as unknown);
          expect(v).toMatchObject({ ok: true });
          expect(v).toHaveProperty('record');
        } else {
          expect(SYSLOG_REASONS).toContain(r.reason);
          expect(r.offset).toBeGreaterThanOrEqual(0);
        }
        try {
          parseSyslog(msg, at);
          expect(r.ok).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(SyslogError);
          const e = err as SyslogError;
          expect(r.ok ? undefined : SYSLOG_ERR[r.reason]).toBe(e.code);
        }
      }),
      params(2000),
    );
  });

  it('SyslogRecordWriter (one pass) agrees with syslogToRecord (reference) on any input', () => {
    const w = new SyslogRecordWriter(64);
    fc.assert(
      fc.property(syslogish, fc.integer({ min: 0, max: 4_102_444_800_000 }), (msg, at) => {
        w.setReceived(at);
        w.setTail(',"_rx":{"lane":"fuzz"}');
        const ref = syslogToRecord(msg, at);
        const reason = w.add(msg, 0, msg.length);
        const out = w.take();
        if (!ref.ok) {
          expect(reason).toBe(ref.reason);
          expect(out).toBeUndefined();
          return;
        }
        expect(reason).toBeUndefined();
        const text = out!.toString('utf8');
        expect(text.endsWith('\n')).toBe(true);
        expect(text.indexOf('\n')).toBe(text.length - 1); // exactly one line
        const parsed = JSON.parse(text) as Record<string, unknown>;
        expect(parsed).toEqual({ ...JSON.parse(JSON.stringify(ref.record)), _rx: { lane: 'fuzz' } });
      }),
      params(2000),
    );
  });

  it('RFC 5424 round-trip: encodeSyslog5424 of a valid record reads back as a valid record', () => {
    const rec = fc.record({
      ts: fc
        .date({ min: new Date('1970-01-01'), max: new Date('2999-12-31'), noInvalidDate: true })
        .map((d) => d.toISOString()),
      level: fc.constantFrom('trace', 'debug', 'info', 'warn', 'error', 'fatal' as const),
      msg: fc.string({ maxLength: 40 }),
      host: fc.option(fc.string({ maxLength: 12 }), { nil: undefined }),
      service: fc.option(fc.string({ maxLength: 12 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(rec, (r) => {
        const record = Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) as Parameters<
          typeof encodeSyslog5424
        >[0];
        const back = syslogToRecord(encodeSyslog5424(record), NOW);
        expect(back.ok).toBe(true);
        if (back.ok) expect(validateRecordObject(back.record).ok).toBe(true);
      }),
      params(500),
    );
  });
});

interface StreamResult {
  events: string[];
  maxBuffered: number;
}

function runStream(chunks: readonly Buffer[], max: number, reusesChunks: boolean): StreamResult {
  const events: string[] = [];
  let maxBuffered = 0;
  const d = new SyslogFrameDecoder({
    maxMessageBytes: max,
    reusesChunks,
    onMessage: (buf, s, e, framing) => events.push(`M:${framing}:${buf.toString('hex', s, e)}`),
    onReject: (i) => {
      // `bytes` of syslog_too_large is what was seen when the line passed the limit: a lower bound that
      // depends on the cuts (as LineDecoder's), so only its bound is compared.
      if (i.reason === 'syslog_too_large') expect(i.bytes).toBeGreaterThan(max);
      const bytes = i.reason === 'syslog_too_large' ? '>max' : i.bytes;
      events.push(`R:${i.reason}:${i.offset}:${bytes}:${i.sample.toString('hex')}`);
    },
  });
  for (const c of chunks) {
    // a caller that reuses its chunks: hand the decoder a copy it will see overwritten afterwards
    const chunk = reusesChunks ? Buffer.from(c) : c;
    d.push(chunk);
    if (reusesChunks) chunk.fill(0x5a);
    maxBuffered = Math.max(maxBuffered, d.bufferedBytes);
    expect(d.bufferedBytes).toBeLessThanOrEqual(max + 1 + 10);
  }
  d.end();
  return { events, maxBuffered };
}

describe('SyslogFrameDecoder (RFC 6587) under hostile input', () => {
  const stream = fc.oneof(
    fc
      .array(fc.constantFrom(0x30, 0x31, 0x35, 0x39, 0x20, 0x0a, 0x0d, 0x00, 0x3c, 0x61, 0xff), { maxLength: 300 })
      .map((a) => Buffer.from(a)),
    fc
      .array(
        fc.tuple(
          fc.constantFrom(...SEEDS),
          fc.constantFrom('octet', 'lf', 'crlf', 'liar'),
          fc.integer({ min: -5, max: 5 }),
        ),
        { maxLength: 6 },
      )
      .map((msgs) =>
        Buffer.concat(
          msgs.map(([m, how, lie]) => {
            const b = Buffer.from(m);
            if (how === 'octet') return frameOctetCounted(b);
            if (how === 'liar') return Buffer.concat([Buffer.from(`${Math.max(0, b.length + lie)} `), b]);
            return Buffer.concat([b, Buffer.from(how === 'lf' ? '\n' : '\r\n')]);
          }),
        ),
      ),
    fc
      .tuple(fc.uint8Array({ maxLength: 40 }), mutationsArb)
      .map(([b, m]) => mutate(Buffer.concat([frameOctetCounted(Buffer.from(SEEDS[0]!)), Buffer.from(b)]), m)),
  );

  it('same messages and rejects however the stream is cut; buffering bounded by the message limit', () => {
    fc.assert(
      fc.property(stream, cutsArb, fc.integer({ min: 1, max: 200 }), fc.boolean(), (data, cuts, max, reuse) => {
        const whole = runStream([data], max, false);
        expect(runStream(cutsFor(data, cuts), max, reuse).events).toEqual(whole.events);
      }),
      params(1500),
    );
  });

  it('octet-counted and LF-framed messages round-trip', () => {
    const msg = fc.uint8Array({ minLength: 1, maxLength: 80 }).map((b) => Buffer.from(b));
    fc.assert(
      fc.property(fc.array(fc.tuple(msg, fc.boolean()), { minLength: 1, maxLength: 8 }), cutsArb, (msgs, cuts) => {
        // LF framing cannot carry a LF, and its message cannot start with a digit or a separator byte
        const framed = msgs.map(([m, octet]) => {
          if (octet) return { wire: frameOctetCounted(m), want: m, framing: 'octet' };
          let t = Buffer.from(m.filter((x) => x !== 0x0a));
          while (t.length && t[t.length - 1] === 0x0d) t = t.subarray(0, -1);
          t = Buffer.concat([Buffer.from('<'), t]);
          return { wire: Buffer.concat([t, Buffer.from('\n')]), want: t, framing: 'lf' };
        });
        const got = runStream(cutsFor(Buffer.concat(framed.map((f) => f.wire)), cuts), 100, false).events;
        expect(got).toEqual(framed.map((f) => `M:${f.framing}:${f.want.toString('hex')}`));
      }),
      params(500),
    );
  });
});
