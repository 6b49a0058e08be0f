/**
 * Fuzz: the NDJSON text framing (LineDecoder, shared/protocol/README.md §2) and record validation (shared/protocol/README.md §1), plus the `_rx`
 * splice the receivers apply to every record validateRecord accepts (shared/storage/rx.ts).
 * Properties: no exception; bounded buffering (≤ limit + 1 byte for a CR); chunking-invariance; every
 * rejection is a documented reason; an accepted record, stamped with `_rx`, is one valid JSON line that
 * reads back as the record plus `_rx`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineDecoder } from '../../lessons/day08/line-decoder.ts';
import { isRfc3339, LEVELS, type RejectReason } from '../../shared/protocol/record.ts';
import { validateRecord } from '../../lessons/day08/validate.ts';
import { RxWriter } from '../../shared/storage/rx.ts';
import { announceSeed, cutsArb, cutsFor, mutate, mutationsArb, params } from './support.ts';

announceSeed('ndjson');

const REASONS: readonly RejectReason[] = [
  'line_too_long',
  'record_too_large',
  'invalid_utf8',
  'invalid_json',
  'not_object',
  'missing_ts',
  'missing_level',
  'missing_msg',
  'invalid_ts',
  'invalid_level',
  'invalid_msg',
  'invalid_field',
];

function runLines(chunks: readonly Buffer[], max: number) {
  const events: string[] = [];
  const d = new LineDecoder({
    maxLineBytes: max,
    onLine: (l) => events.push(`L:${l.toString('hex')}`),
    onTooLong: (i) =>
      events.push(`T:${i.offset}:${i.sample.subarray(0, Math.min(i.sample.length, max + 1)).toString('hex')}`),
  });
  for (const c of chunks) {
    d.push(c);
    expect(d.bufferedBytes).toBeLessThanOrEqual(max + 1);
  }
  d.end();
  expect(d.bufferedBytes).toBe(0);
  return events;
}

const validRecord = fc.record(
  {
    ts: fc
      .date({ min: new Date('1970-01-01'), max: new Date('2999-12-31'), noInvalidDate: true })
      .map((d) => d.toISOString()),
    level: fc.constantFrom(...LEVELS),
    msg: fc.string({ unit: 'binary', maxLength: 40 }),
    service: fc.string({ maxLength: 10 }),
    host: fc.string({ maxLength: 10 }),
    attrs: fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }),
    extra: fc.jsonValue({ maxDepth: 2 }),
  },
  { requiredKeys: ['ts', 'level', 'msg'] },
);
/** JSON whitespace, and Unicode whitespace that String#trim removes but JSON does not allow. */
const ws = fc
  .array(fc.constantFrom(' ', '\t', '\r', '\u00a0', '\ufeff', '\u2028', '\u3000', '\u000b'), { maxLength: 3 })
  .map((a) => a.join(''));

describe('LineDecoder under hostile input', () => {
  it('random bytes with long lines: same events however cut, buffer ≤ limit + 1', () => {
    const unit = fc.constantFrom(0x0a, 0x0d, 0x61, 0x7b, 0xe2, 0x82, 0xac, 0x00, 0xff);
    const data = fc.oneof(
      fc.array(unit, { maxLength: 300 }).map((a) => Buffer.from(a)),
      fc
        .array(fc.tuple(fc.nat({ max: 200 }), fc.constantFrom('\n', '\r\n', '')), { maxLength: 6 })
        .map((ls) => Buffer.from(ls.map(([n, e]) => 'y'.repeat(n) + e).join(''))),
    );
    fc.assert(
      fc.property(data, cutsArb, fc.integer({ min: 1, max: 120 }), (d, cuts, max) => {
        expect(runLines(cutsFor(d, cuts), max)).toEqual(runLines([d], max));
      }),
      params(600),
    );
  });
});

describe('validateRecord under hostile input', () => {
  it('random bytes, JSON values and mutated records: ok or a documented reason, never a throw', () => {
    const line = fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
      fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v))),
      fc.tuple(validRecord, mutationsArb).map(([r, m]) => mutate(Buffer.from(JSON.stringify(r)), m)),
      fc.tuple(ws, validRecord, ws).map(([a, r, b]) => Buffer.from(a + JSON.stringify(r) + b)),
    );
    fc.assert(
      fc.property(line, fc.integer({ min: 0, max: 400 }), (l, max) => {
        const v = validateRecord(l, max);
        if (!v.ok) expect(REASONS).toContain(v.reason);
        else {
          expect(isRfc3339(v.record.ts)).toBe(true);
          expect(LEVELS).toContain(v.record.level);
          expect(typeof v.record.msg).toBe('string');
        }
      }),
      params(1000),
    );
  });

  it('valid records round-trip, and what is accepted is stamped with _rx into one JSON line', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(ws, validRecord, ws), { minLength: 1, maxLength: 4 }), (items) => {
        const w = new RxWriter(64);
        w.context({ ts: '2026-11-26T00:00:00.000Z', peer: '127.0.0.1:1', lane: 'fuzz' });
        const want: unknown[] = [];
        for (const [a, r, b] of items) {
          const line = Buffer.from(a + JSON.stringify(r) + b);
          const v = validateRecord(line, 1 << 20);
          const jsonWs = /^[ \t\r]*$/.test(a) && /^[ \t\r]*$/.test(b);
          expect(v.ok).toBe(jsonWs); // only JSON whitespace may surround a record
          if (!v.ok) continue;
          expect(v.record).toEqual(JSON.parse(JSON.stringify(r)));
          w.add(line);
          want.push({
            ...JSON.parse(JSON.stringify(r)),
            _rx: { ts: '2026-11-26T00:00:00.000Z', peer: '127.0.0.1:1', lane: 'fuzz' },
          });
        }
        const out = w.take()?.toString() ?? '';
        const lines = out.split('\n').slice(0, -1);
        expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual(want);
      }),
      params(400),
    );
  });

  it('deep nesting (attrs 20 000 levels, arrays 60 000 levels) is an answer, not a stack overflow', () => {
    const deep = (n: number) =>
      `{"ts":"2026-11-26T14:13:48Z","level":"info","msg":"deep","attrs":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}`;
    expect(validateRecord(Buffer.from(deep(20_000)), 1 << 20).ok).toBe(true);
    expect(validateRecord(Buffer.from('['.repeat(60_000) + ']'.repeat(60_000)), 1 << 20)).toMatchObject({
      ok: false,
      reason: 'not_object',
    });
    expect(validateRecord(Buffer.from('['.repeat(60_000)), 1 << 20)).toMatchObject({
      ok: false,
      reason: 'invalid_json',
    });
  });

  it('isRfc3339 never throws and never accepts what Date cannot read', () => {
    const unit = fc.constantFrom(...'0123456789-:.TtZz+ \u0000é'.split(''));
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit, maxLength: 40 }), fc.string({ maxLength: 40 })), (s) => {
        if (isRfc3339(s)) expect(Number.isNaN(Date.parse(s.replace(/t/, 'T').replace(/z$/, 'Z')))).toBe(false);
      }),
      params(2000),
    );
  });
});
