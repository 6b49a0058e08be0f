/**
 * Seeded property tests (CONVENTIONS.md §4: "seeded random bytes"). The seed is printed; replay a failure with
 * LS_FUZZ_SEED=<seed> npx vitest run shared/protocol/fuzz.test.ts. Runs are bounded so the file stays
 * well under a second or two.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBatch } from './batch.ts';
import { CODECS } from './codecs.ts';
import { LsError } from './errors.ts';
import { encodeFrame, FrameDecoder, FrameType, type Frame, type FrameInit } from './frame.ts';
import { cutAt } from './test-support.ts';

/**
 * Seed for the property tests: LS_FUZZ_SEED to replay a run, otherwise a fresh one. Always printed, so
 * a failure can be reproduced (CONVENTIONS.md §3: randomness is seeded and the seed is printed).
 */
function fuzzSeed(name: string): number {
  const env = process.env['LS_FUZZ_SEED'];
  const seed = env !== undefined && env !== '' ? Number(env) : Math.floor(Math.random() * 0x7fffffff);
  console.log(`[${name}] fuzz seed ${seed} (replay with LS_FUZZ_SEED=${seed})`);
  return seed;
}

const seed = fuzzSeed('protocol');
const RUNS = { seed, numRuns: 400 };

interface Outcome {
  frames: Array<Record<string, unknown>>;
  error?: { code: string; offset: number | undefined };
  buffered: number;
}

/** Decode chunks; only LsError may escape push, and a dead decoder rethrows the same error. */
function outcome(chunks: readonly Buffer[], maxPayloadBytes: number): Outcome {
  const d = new FrameDecoder({ maxPayloadBytes });
  const out: Frame[] = [];
  let error: Outcome['error'];
  try {
    for (const c of chunks) d.push(c, out);
  } catch (err) {
    if (!(err instanceof LsError)) throw err;
    error = { code: err.code, offset: err.offset };
    expect(() => d.push(Buffer.from([0x4c]))).toThrow(err);
  }
  return {
    frames: out.map((f) => ({ ...f, payload: f.payload.toString('hex') })),
    ...(error ? { error } : {}),
    buffered: error ? 0 : d.bufferedBytes,
  };
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const cuts = fc.array(fc.nat({ max: 2000 }), { maxLength: 12 });

/** Any valid frame. */
const validFrame: fc.Arbitrary<FrameInit> = fc
  .record({
    type: fc.integer({ min: 1, max: 6 }),
    codec: fc.integer({ min: 0, max: 4 }),
    count: fc.integer({ min: 1, max: 0xffff }),
    stream: u32,
    seq: fc.oneof(fc.nat({ max: 1000 }), fc.maxSafeNat()),
    payload: fc.uint8Array({ maxLength: 40 }),
  })
  .map(({ type, codec, count, stream, seq, payload }) =>
    (type as FrameType) === FrameType.BATCH
      ? {
          type,
          codec,
          count,
          stream,
          seq: Math.min(seq, Number.MAX_SAFE_INTEGER - count + 1),
          payload: Buffer.from(payload),
        }
      : { type: type as FrameType, stream, seq, payload: Buffer.from(payload) },
  );

describe(`fuzz (seed ${seed})`, () => {
  it('FrameDecoder: random bytes only ever raise LsError', () => {
    // Half of the inputs start like a real header so the later checks get exercised too.
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.uint8Array({ maxLength: 300 }).map((b) => Uint8Array.from([0x4c, 0x53, 0x01, ...b])),
    );
    fc.assert(
      fc.property(bytes, cuts, fc.integer({ min: 0, max: 64 }), (b, c, max) => {
        outcome(cutAt(Buffer.from(b), c), max);
      }),
      RUNS,
    );
  });

  it('FrameDecoder: valid frames round-trip however the stream is cut', () => {
    fc.assert(
      fc.property(fc.array(validFrame, { minLength: 1, maxLength: 6 }), cuts, (inits, c) => {
        const bytes = Buffer.concat(inits.map((i) => encodeFrame(i)));
        const got = outcome(cutAt(bytes, c), 64);
        expect(got.error).toBeUndefined();
        expect(got.frames.map((f) => [f['type'], f['stream'], f['seq'], f['payload']])).toEqual(
          inits.map((i) => [i.type, i.stream ?? 0, i.seq ?? 0, i.payload!.toString('hex')]),
        );
      }),
      RUNS,
    );
  });

  it('FrameDecoder: damaged streams give the same frames and the same error whatever the cuts', () => {
    const damage = fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), {
      minLength: 1,
      maxLength: 3,
    });
    fc.assert(
      fc.property(
        fc.array(validFrame, { minLength: 1, maxLength: 4 }),
        damage,
        cuts,
        fc.nat({ max: 50 }),
        (inits, dmg, c, maxPayload) => {
          const bytes = Buffer.concat(inits.map((i) => encodeFrame(i)));
          for (const { at, byte } of dmg) bytes[at % bytes.length] = byte;
          const whole = outcome([bytes], maxPayload);
          expect(outcome(cutAt(bytes, c), maxPayload)).toEqual(whole);
          if (whole.error) expect(whole.error.offset).toBeLessThan(bytes.length);
        },
      ),
      RUNS,
    );
  });

  it('decodeBatch: random and damaged payloads give `count` lines or an LsError', () => {
    const codecIds = [...CODECS.keys()];
    // Real compressed payloads, then damaged, so the decompressors see plausible input.
    const payload = fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
      fc
        .tuple(
          fc.constantFrom(...codecIds.filter((id) => CODECS.get(id)!.availability().ok)),
          fc.array(fc.string({ maxLength: 20 }), { minLength: 1, maxLength: 5 }),
          fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { maxLength: 3 }),
        )
        .map(([id, recs, dmg]) => {
          const b = Buffer.from(CODECS.get(id)!.compress(Buffer.from(recs.join('\n'))));
          for (const { at, byte } of dmg) if (b.length > 0) b[at % b.length] = byte;
          return b;
        }),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...codecIds),
        fc.integer({ min: 1, max: 6 }),
        payload,
        fc.nat({ max: 300 }),
        (codec, count, p, maxDecodedBytes) => {
          const frame: Frame = { type: FrameType.BATCH, codec, flags: 0, count, stream: 1, seq: 1, payload: p };
          try {
            expect(decodeBatch(frame, { maxDecodedBytes })).toHaveLength(count);
          } catch (err) {
            if (!(err instanceof LsError)) throw err;
          }
        },
      ),
      RUNS,
    );
  });
});
