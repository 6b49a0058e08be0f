/**
 * Fuzz: the LSP/1 binary frame decoder (shared/protocol/README.md §3) and the HELLO/NACK payload parsers.
 * Properties: only LsError with a stable code escapes; the decoder never holds more than one header +
 * the payload limit; the same stream cut anywhere gives the same frames and the same error (offset
 * included); valid frames round-trip; mutated frames (bit flips, truncation, length lies) fail cleanly.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LS_ERR } from '../../shared/protocol/errors.ts';
import { encodeBatch } from '../../shared/protocol/batch.ts';
import {
  encodeAck,
  encodeFrame,
  encodeHello,
  encodeNack,
  encodePing,
  FIELD,
  FrameType,
  HEADER_SIZE,
  parseHello,
  parseNack,
  type Frame,
} from '../../shared/protocol/frame.ts';
import { decodeStream } from '../../shared/protocol/test-support.ts';
import { announceSeed, asLsError, cutsArb, cutsFor, mutate, mutationsArb, params } from './support.ts';

announceSeed('frame');

interface Outcome {
  frames: string[];
  error?: { code: string; offset: number | undefined };
  maxBuffered: number;
}

/**
 * Feeds chunks to a fresh decoder (decodeStream: only LsError escapes, a decoder that threw stays dead) and
 * checks the memory bound.
 */
function decodeAll(chunks: readonly Buffer[], maxPayloadBytes: number): Outcome {
  const { frames, error, maxBuffered } = decodeStream(chunks, { maxPayloadBytes });
  if (error) asLsError(error); // and its code is one of the stable ones
  // never more than one incomplete frame: a header and less than its (limited) payload
  expect(maxBuffered).toBeLessThan(HEADER_SIZE + maxPayloadBytes + (maxPayloadBytes === 0 ? 1 : 0));
  for (const f of frames) expect(f.payload.length).toBeLessThanOrEqual(maxPayloadBytes);
  return {
    frames: frames.map((f) => `${f.type}/${f.codec}/${f.count}/${f.stream}/${f.seq}/${f.payload.toString('hex')}`),
    ...(error ? { error: { code: error.code, offset: error.offset } } : {}),
    maxBuffered,
  };
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const FRAME_TYPES = [FrameType.HELLO, FrameType.BATCH, FrameType.ACK, FrameType.NACK, FrameType.PING, FrameType.PONG];
const recordText = fc.string({ maxLength: 30 }).map((s) => s.replace(/\n/g, ' '));

/** Valid frames of every type, BATCHes with real (maybe compressed) payloads. */
const validFrameBytes: fc.Arbitrary<Buffer> = fc.oneof(
  fc
    .record({ stream: u32, name: fc.string({ maxLength: 20 }) })
    .map(({ stream, name }) => encodeHello(stream, { name })),
  fc.record({ stream: u32, seq: fc.maxSafeNat() }).map(({ stream, seq }) => encodeAck(stream, seq)),
  fc
    .record({ stream: u32, code: fc.constantFrom(...Object.values(LS_ERR)), msg: fc.string({ maxLength: 20 }) })
    .map(({ stream, code, msg }) => encodeNack(stream, code, msg)),
  fc.maxSafeNat().map((t) => encodePing(t)),
  fc
    .record({
      stream: u32,
      seq: fc.integer({ min: 1, max: 2 ** 40 }),
      records: fc.array(recordText, { minLength: 1, maxLength: 8 }),
      codec: fc.constantFrom(0, 1, 2, 3, 4),
    })
    .map((b) => encodeBatch(b)),
  fc
    .uint8Array({ maxLength: 64 })
    .map((p) => encodeFrame({ type: FrameType.BATCH, count: 1, stream: 1, seq: 1, payload: Buffer.from(p) })),
);

describe('FrameDecoder under hostile input', () => {
  it('random bytes (half starting with a real magic/version): only LsError, bounded buffer, same result however cut', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 400 }),
      fc.uint8Array({ maxLength: 400 }).map((b) => Uint8Array.from([0x4c, 0x53, 0x01, ...b])),
      fc
        .uint8Array({ maxLength: 400 })
        .map((b) => Uint8Array.from([0x4c, 0x53, 0x01, 0x02, 0x00, 0x00, 0x00, 0x01, ...b])),
    );
    fc.assert(
      fc.property(bytes, cutsArb, fc.integer({ min: 0, max: 128 }), (b, cuts, max) => {
        const data = Buffer.from(b);
        const whole = decodeAll([data], max);
        const cut = decodeAll(cutsFor(data, cuts), max);
        expect({ ...cut, maxBuffered: 0 }).toEqual({ ...whole, maxBuffered: 0 });
        if (whole.error?.offset !== undefined) expect(whole.error.offset).toBeLessThan(data.length);
      }),
      params(600),
    );
  });

  it('valid frame streams round-trip, whatever the cuts (one byte at a time included)', () => {
    fc.assert(
      fc.property(
        fc.array(validFrameBytes, { minLength: 1, maxLength: 5 }),
        cutsArb,
        fc.boolean(),
        (frames, cuts, bytewise) => {
          const data = Buffer.concat(frames);
          const chunks = bytewise ? [...data].map((x) => Buffer.from([x])) : cutsFor(data, cuts);
          const got = decodeAll(chunks, 1 << 16);
          expect(got.error).toBeUndefined();
          expect(got.frames).toHaveLength(frames.length);
          expect(got.frames).toEqual(decodeAll([data], 1 << 16).frames);
        },
      ),
      params(300),
    );
  });

  it('any valid FrameInit (every type, every codec id, a payload on any type) decodes back field for field, however cut', () => {
    // codec and count only on a BATCH (0 elsewhere), whose last record's seq stays within 2^53-1
    const anyFrame = fc
      .record({
        type: fc.constantFrom(...FRAME_TYPES),
        codec: fc.integer({ min: 0, max: 4 }),
        count: fc.integer({ min: 1, max: 0xffff }),
        stream: u32,
        seq: fc.oneof(fc.nat({ max: 1000 }), fc.maxSafeNat()),
        payload: fc.uint8Array({ maxLength: 40 }).map((p) => Buffer.from(p)),
      })
      .map(({ type, codec, count, seq, ...rest }) =>
        type === FrameType.BATCH
          ? { type, codec, count, seq: Math.min(seq, Number.MAX_SAFE_INTEGER - count + 1), ...rest }
          : { type, codec: 0, count: 0, seq, ...rest },
      );
    fc.assert(
      fc.property(fc.array(anyFrame, { minLength: 1, maxLength: 6 }), cutsArb, (inits, cuts) => {
        const got = decodeAll(cutsFor(Buffer.concat(inits.map((i) => encodeFrame(i))), cuts), 64);
        expect(got.error).toBeUndefined();
        expect(got.frames).toEqual(
          inits.map((i) => `${i.type}/${i.codec}/${i.count}/${i.stream}/${i.seq}/${i.payload.toString('hex')}`),
        );
      }),
      params(400),
    );
  });

  it('mutated frames (bit flips, truncation, inserted/deleted bytes, u32 lies): same frames and error whole or cut', () => {
    fc.assert(
      fc.property(
        fc.array(validFrameBytes, { minLength: 1, maxLength: 4 }),
        mutationsArb,
        cutsArb,
        fc.integer({ min: 0, max: 4096 }),
        (frames, muts, cuts, max) => {
          const data = mutate(Buffer.concat(frames), muts);
          const whole = decodeAll([data], max);
          expect({ ...decodeAll(cutsFor(data, cuts), max), maxBuffered: 0 }).toEqual({ ...whole, maxBuffered: 0 });
          // an error points inside the stream
          if (whole.error?.offset !== undefined) expect(whole.error.offset).toBeLessThan(data.length);
        },
      ),
      params(600),
    );
  });

  it('a lying length field: over the limit fails at the header (nothing buffered), under it desynchronises into an LsError', () => {
    fc.assert(
      fc.property(validFrameBytes, u32, fc.integer({ min: 0, max: 1 << 20 }), (frame, length, max) => {
        const data = Buffer.from(frame);
        data.writeUInt32BE(length, FIELD.length);
        const got = decodeAll(
          [...data].map((x) => Buffer.from([x])),
          max,
        );
        if (length > max) {
          expect(got.error).toEqual({ code: LS_ERR.LS_ERR_TOO_LARGE, offset: FIELD.length });
          expect(got.maxBuffered).toBeLessThan(HEADER_SIZE);
        } else if (got.error === undefined) {
          // the decoder waits for the rest of a longer frame, or found a frame whose CRC matched
          expect(got.frames.length).toBeLessThanOrEqual(1);
        }
      }),
      params(300),
    );
  });

  it('HELLO / NACK payload parsers: any payload gives a value or LS_ERR_PAYLOAD', () => {
    const payload = fc.oneof(
      fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b)),
      fc.json().map((j) => Buffer.from(j)),
      fc.jsonValue().map((v) => Buffer.from(JSON.stringify({ name: v, code: v, message: v }) ?? 'null')),
    );
    fc.assert(
      fc.property(payload, fc.constantFrom(FrameType.HELLO, FrameType.NACK, FrameType.BATCH), (p, type) => {
        const frame: Frame = { type, codec: 0, flags: 0, count: 0, stream: 0, seq: 0, payload: p };
        for (const parse of [parseHello, parseNack]) {
          try {
            const v = parse(frame);
            expect(typeof v).toBe('object');
          } catch (err) {
            expect([LS_ERR.LS_ERR_PAYLOAD, LS_ERR.LS_ERR_TYPE]).toContain(asLsError(err).code);
          }
        }
      }),
      params(500),
    );
  });
});
