/** The RFC 5424 encoder (the forwarder's side): a record out and back in, by hand and seeded. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LogRecord } from '../record.ts';
import { encodeSyslog5424 } from './encode.ts';
import { FACILITIES } from './names.ts';
import { parseSyslog } from './scan.ts';
import { NOW, SEED } from './test-support.ts';

describe('encodeSyslog5424', () => {
  it('writes a record as RFC 5424 that reads back as the same record', () => {
    // what the message carries as it is (the encoder keeps microseconds of ts; the rest comes back the same)
    const carried = { level: 'warn', msg: 'disk "almost" full ] \\', service: 'df', host: 'web-01' } as const;
    const record: LogRecord = {
      ts: '2026-11-26T14:13:48.123456789+01:00',
      ...carried,
      attrs: {
        facility: 'local3',
        procid: '77',
        msgid: 'DISK',
        sd: { 'disk@32473': { path: '/var', pct: ['91', '92'] } },
        user: 42,
        note: 'a"b',
      },
    };
    const wire = encodeSyslog5424(record);
    expect(wire.toString()).toBe(
      '<156>1 2026-11-26T14:13:48.123456+01:00 web-01 df 77 DISK [disk@32473 path="/var" pct="91" pct="92"][lsp@32473 user="42" note="a\\"b"] disk "almost" full ] \\',
    );
    expect(parseSyslog(wire, NOW)).toEqual({
      ts: '2026-11-26T14:13:48.123456+01:00',
      ...carried,
      attrs: {
        facility: 'local3',
        severity: 'warning',
        procid: '77',
        msgid: 'DISK',
        sd: { 'disk@32473': { path: '/var', pct: ['91', '92'] }, 'lsp@32473': { user: '42', note: 'a"b' } },
      },
    });
  });

  it('round-trips any record whose fields fit RFC 5424 (seeded)', () => {
    const printable = fc
      .string({ unit: fc.constantFrom(...'abcXYZ019.-_@:/'.split('')), minLength: 2, maxLength: 20 })
      .filter((s) => s !== '-');
    const level = fc.constantFrom('debug', 'info', 'warn', 'error', 'fatal' as const);
    const sdName = fc.string({ unit: fc.constantFrom(...'abcdef@0123'.split('')), minLength: 1, maxLength: 8 });
    fc.assert(
      fc.property(
        fc.record({
          ms: fc.integer({ min: 0, max: 4_102_444_800_000 }),
          level,
          msg: fc
            .string({ unit: 'grapheme', maxLength: 60 })
            .map((s) => s.replace(/^\ufeff/, '').replace(/[\r\n\0]+$/, '')),
          host: fc.option(printable, { nil: undefined }),
          service: fc.option(printable, { nil: undefined }),
          facility: fc.integer({ min: 0, max: 23 }),
          sd: fc.dictionary(
            sdName,
            fc.dictionary(sdName, fc.string({ unit: 'grapheme', maxLength: 10 }), { maxKeys: 3 }),
            { maxKeys: 3 },
          ),
        }),
        (r) => {
          const rec: LogRecord = {
            ts: new Date(r.ms).toISOString(),
            level: r.level,
            msg: r.msg,
            attrs: { facility: r.facility, sd: r.sd },
          };
          if (r.host !== undefined) rec.host = r.host;
          if (r.service !== undefined) rec.service = r.service;
          const back = parseSyslog(encodeSyslog5424(rec), NOW);
          expect(back.ts).toBe(rec.ts);
          expect(back.msg).toBe(rec.msg);
          expect(back.host).toBe(rec.host);
          expect(back.service).toBe(rec.service);
          expect(back.level).toBe(rec.level === 'debug' ? 'debug' : rec.level);
          const attrs = back.attrs as Record<string, unknown>;
          expect(attrs.facility).toBe(FACILITIES[r.facility]);
          if (Object.keys(r.sd).length) expect(attrs.sd).toEqual(r.sd);
          else expect(attrs.sd).toBeUndefined();
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });
});
