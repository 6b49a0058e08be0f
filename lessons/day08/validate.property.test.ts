// validateBatch (the fast path) against validateRecord (the plain validator), property-based [d08.6]:
// on generated records and mutations of them, every line gets the same answer, reason and detail included.
import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecordGenerator } from '../../shared/generate.ts';
import { decodeBatch } from '../../shared/protocol/batch.ts';
import { FrameType } from '../../shared/protocol/frame.ts';
import { LEVELS } from '../../shared/protocol/record.ts';
import { isCommonRecord, validateBatch, validateRecord, type BatchVerdicts } from './validate.ts';

/** What validateRecord says of each line, in validateBatch's form. */
function plain(lines: readonly Buffer[], from: number, max: number): BatchVerdicts {
  const out: BatchVerdicts = new Array<BatchVerdicts[number]>(lines.length);
  for (let i = from; i < lines.length; i++) {
    const v = validateRecord(lines[i]!, max);
    if (!v.ok) out[i] = v;
  }
  return out;
}

/** The lines as decodeBatch hands them over: views into one payload, LF or CRLF between them. */
function asBatch(lines: readonly Buffer[], crlf: boolean): Buffer[] {
  const sep = Buffer.from(crlf ? '\r\n' : '\n');
  const payload = Buffer.concat(lines.flatMap((l) => [l, sep]));
  return decodeBatch({ type: FrameType.BATCH, codec: 0, flags: 0, count: lines.length, stream: 1, seq: 1, payload });
}

const pad2 = (n: number) => String(n).padStart(2, '0');
/** Mostly a valid value, sometimes one just past the rule. */
const mostly = <T>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 12, arbitrary: valid }, { weight: 1, arbitrary: invalid });
// Timestamps near the rules' edges: day 29–31 in every month, 29 February in leap and common years, hour 24,
// minute 60, second 60 and 61, empty fractions, lowercase t/z, offsets past 23:59.
const tsArb = fc
  .record({
    year: fc.constantFrom(1900, 2000, 2023, 2024, 2026, 9999, 0),
    month: mostly(fc.integer({ min: 1, max: 12 }), fc.constantFrom(0, 13)),
    day: mostly(fc.oneof(fc.integer({ min: 1, max: 28 }), fc.integer({ min: 29, max: 31 })), fc.constantFrom(0, 32)),
    hour: mostly(fc.integer({ min: 0, max: 23 }), fc.constantFrom(24, 25)),
    minute: mostly(fc.constantFrom(0, 30, 59), fc.constant(60)),
    second: mostly(fc.constantFrom(0, 59, 60), fc.constant(61)),
    frac: mostly(fc.constantFrom('', '.1', '.123456', '.123456789012'), fc.constantFrom('.', '.x')),
    t: mostly(fc.constantFrom('T', 't'), fc.constant(' ')),
    zone: mostly(fc.constantFrom('Z', 'z', '+01:00', '-23:59'), fc.constantFrom('+24:00', '+05:60', '', '+0100', 'Z ')),
  })
  .map(
    (x) =>
      `${String(x.year).padStart(4, '0')}-${pad2(x.month)}-${pad2(x.day)}${x.t}${pad2(x.hour)}:${pad2(x.minute)}:${pad2(x.second)}${x.frac}${x.zone}`,
  );
const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('', 'ü', '\u2028', '"\\/', '\u0000'));
const anyJson = fc.jsonValue({ maxDepth: 6 });
/** A member's key: mostly as JSON writes it, sometimes spelt with a \u escape (the same key to JSON.parse). */
const keyText = (k: string) =>
  k.length === 0
    ? fc.constant('""')
    : mostly(
        fc.constant(JSON.stringify(k)),
        fc.constant(`"\\u${k.charCodeAt(0).toString(16).padStart(4, '0')}${JSON.stringify(k.slice(1)).slice(1)}`),
      );
/** A member after ts, level and msg: a known key again (valid or not), attrs, or any other key. */
const member = fc.oneof(
  { weight: 1, arbitrary: tsArb.map((t) => ['ts', JSON.stringify(t)] as const) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(...LEVELS, 'INFO', 'warning', '').map((l) => ['level', JSON.stringify(l)] as const),
  },
  {
    weight: 4,
    arbitrary: fc
      .tuple(fc.constantFrom('msg', 'service', 'host'), mostly(text, anyJson))
      .map(([k, v]) => [k, JSON.stringify(v)] as const),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom('service', 'host', 'attrs', 'ts', 'level', 'msg'), anyJson)
      .map(([k, v]) => [k, JSON.stringify(v)] as const),
  },
  {
    weight: 3,
    arbitrary: fc.dictionary(fc.string(), anyJson, { maxKeys: 4 }).map((o) => ['attrs', JSON.stringify(o)] as const),
  },
  { weight: 3, arbitrary: fc.tuple(fc.string(), anyJson).map(([k, v]) => [k, JSON.stringify(v)] as const) },
);
/** A record as text: mostly the common order (ts, level, msg first), sometimes any order, repeats included. */
const recordText = fc
  .tuple(
    tsArb,
    mostly(fc.constantFrom(...LEVELS), fc.constantFrom('INFO', 'warning', '')),
    text,
    fc.array(member, { maxLength: 4 }),
    mostly(fc.constant(true), fc.constant(false)),
    fc.array(member, { maxLength: 5 }),
  )
  .chain(([ts, level, msg, rest, common, shuffled]) => {
    const members: Array<readonly [string, string]> = common
      ? [['ts', JSON.stringify(ts)], ['level', JSON.stringify(level)], ['msg', JSON.stringify(msg)], ...rest]
      : shuffled;
    return fc
      .tuple(...members.map(([k]) => keyText(k)), fc.constant(0))
      .map((keys) => `{${members.map(([, v], i) => `${keys[i] as string}:${v}`).join(',')}}`);
  });
/** A mutation of a line's bytes: what a broken or hostile shipper might send. */
const mutation = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    op: fc.constant('insert' as const),
    at: fc.nat(),
    byte: fc.constantFrom(
      0x20,
      0x09,
      0x0d,
      0x22,
      0x5c,
      0x2c,
      0x7b,
      0x7d,
      0x5b,
      0x5d,
      0x3a,
      0x30,
      0x80,
      0xc3,
      0xa9,
      0xff,
      0x00,
      0x41,
    ),
  }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), byte: fc.constant(0) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat(), byte: fc.constant(0) }),
);
function mutate(line: Buffer, ms: ReadonlyArray<{ op: string; at: number; byte: number }>): Buffer {
  let b = line;
  for (const m of ms) {
    const at = b.length ? m.at % (b.length + 1) : 0;
    if (m.op === 'flip' && at < b.length) (b = Buffer.from(b))[at] = m.byte;
    else if (m.op === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.of(m.byte), b.subarray(at)]);
    else if (m.op === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
    else if (m.op === 'truncate') b = b.subarray(0, at);
  }
  // a line never holds a LF (decodeBatch splits there)
  return Buffer.from(b.map((c) => (c === 0x0a ? 0x20 : c)));
}
const lineArb = fc.oneof(
  { weight: 3, arbitrary: recordText.map((t) => Buffer.from(t.replaceAll('\n', '\\n'))) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(recordText, fc.array(mutation, { minLength: 1, maxLength: 3 }))
      .map(([t, ms]) => mutate(Buffer.from(t.replaceAll('\n', '\\n')), ms)),
  },
);
describe('validateBatch answers exactly as validateRecord', () => {
  it('on generated and mutated records, in one batch (LF or CRLF), any limit and start', () => {
    fc.assert(
      fc.property(
        fc.array(lineArb, { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        fc.constantFrom(64 << 10, 300, 120, 60),
        fc.nat(),
        (lines, crlf, max, fromSeed) => {
          const batch = asBatch(lines, crlf);
          const from = fromSeed % batch.length;
          expect(validateBatch(batch, from, max)).toEqual(plain(batch, from, max));
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('the shape check only ever accepts what validateRecord accepts (on UTF-8: validateBatch checks that first)', () => {
    fc.assert(
      fc.property(lineArb, (line) => {
        if (isUtf8(line) && isCommonRecord(line.toString('latin1'), 0, line.length))
          expect(validateRecord(line).ok).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it('in a payload of many 64 KiB pieces (one string each), lines crossing a piece included', () => {
    const gen = new RecordGenerator({ seed: 3, padBytes: 200 });
    const good = Array.from({ length: 1500 }, () => Buffer.from(gen.next()));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(1499), lineArb), { maxLength: 20 }), fc.boolean(), (bad, crlf) => {
        const lines: Buffer[] = [...good];
        for (const [at, line] of bad) lines[at] = line;
        const batch = asBatch(lines, crlf);
        expect(validateBatch(batch, 0)).toEqual(plain(batch, 0, 64 << 10));
      }),
      { numRuns: 20 },
    );
  });

  it('lines that are not views of one buffer are validated one by one, with the same answers', () => {
    fc.assert(
      fc.property(fc.array(lineArb, { minLength: 1, maxLength: 5 }), (lines) => {
        expect(validateBatch(lines, 0)).toEqual(plain(lines, 0, 64 << 10));
      }),
    );
  });

  it('a line cut inside a UTF-8 character is invalid_utf8, though the payload around it is UTF-8', () => {
    const payload = Buffer.from('{"ts":"2026-11-26T14:13:48Z","level":"info","msg":"é"}');
    const at = payload.indexOf(0xa9); // the second byte of é
    const lines = [payload.subarray(0, at), payload.subarray(at)];
    expect(validateBatch(lines, 0)).toEqual(plain(lines, 0, 64 << 10));
    expect(validateBatch(lines, 0)[0]).toMatchObject({ reason: 'invalid_utf8' });
  });

  it('takes the fast path for the records the course generates (no JSON.parse for them)', () => {
    const gen = new RecordGenerator({ seed: 7 });
    const corpus =
      '{"ts":"2026-11-26T00:00:00.000001Z","level":"info","msg":"GET /api/orders/9164 201 49ms","service":"auth","host":"web-01","attrs":{"facility":"local5","severity":"info","procid":"13654","msgid":"REQ","sd":{"req@32473":{"id":"s7-2","user":"92552","region":"eu-west-1"}}}}';
    for (const line of [corpus, ...Array.from({ length: 200 }, () => gen.next())]) {
      expect(isCommonRecord(line, 0, line.length), line).toBe(true);
    }
    expect(isCommonRecord('{"level":"info","ts":"2026-11-26T14:13:48Z","msg":""}', 0, 52)).toBe(false); // another order: the slow way
  });
});
