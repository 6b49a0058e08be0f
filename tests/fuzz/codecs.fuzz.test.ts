/**
 * Fuzz: every codec's bounded decoder (gzip, zstd, lz4, brotli, none: day 12's decompressBounded over the
 * codec table's chunks) and decodeBatch.
 * Properties: decompressBounded(codec, data, max) returns at most `max` bytes or throws LS_ERR_DECODE /
 * LS_ERR_TOO_LARGE (LS_ERR_CODEC_UNAVAILABLE when not installed), never anything else; round-trip of
 * valid input; mutated compressed payloads and header lies; bombs of every codec stop at the limit.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { decodeBatch, encodeBatch } from '../../shared/protocol/batch.ts';
import { CODECS, zstdCodec, type Codec } from '../../shared/protocol/codecs.ts';
import { LS_ERR } from '../../shared/protocol/errors.ts';
import { FrameDecoder, FrameType, type Frame } from '../../shared/protocol/frame.ts';
import { xxh32 } from '../../shared/protocol/lz4-frame.ts';
import { decodeAnyCodec, decompressBounded } from '../../lessons/day12/bounded-decode.ts';
import { announceSeed, asLsError, mutate, mutationsArb, params } from './support.ts';

announceSeed('codecs');

const usable: Codec[] = [...CODECS.values()].filter((c) => c.availability().ok);
const compressing = usable.filter((c) => c.id !== 0);
const DECODE_CODES: readonly string[] = [LS_ERR.LS_ERR_DECODE, LS_ERR.LS_ERR_TOO_LARGE];

/** decompress under the rules: a Buffer of ≤ max bytes, or a DECODE / TOO_LARGE LsError. */
function boundedDecompress(codec: Codec, data: Buffer, max: number): Buffer | string {
  try {
    const out = decompressBounded(codec, data, max);
    expect(Buffer.isBuffer(out)).toBe(true);
    expect(out.length).toBeLessThanOrEqual(max);
    return out;
  } catch (err) {
    const e = asLsError(err);
    expect(DECODE_CODES).toContain(e.code);
    return e.code;
  }
}

/** Magic numbers, so random tails reach past each decoder's first check. */
const MAGIC: Record<string, number[]> = {
  gzip: [0x1f, 0x8b, 0x08, 0x00],
  zstd: [0x28, 0xb5, 0x2f, 0xfd],
  lz4: [0x04, 0x22, 0x4d, 0x18],
  brotli: [],
  none: [],
};

const text = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: fc.constantFrom('a', 'b', '{', '"', '\n', 'é', ' '), maxLength: 2000 }),
  fc.integer({ min: 0, max: 70_000 }).map((n) => 'x'.repeat(n)), // crosses the 64 KiB lz4 block size
);

describe('codec decoders under hostile input', () => {
  for (const codec of usable) {
    it(`${codec.name}: round-trip, and the output limit is exact`, () => {
      fc.assert(
        fc.property(text, fc.integer({ min: 0, max: 3000 }), (s, slack) => {
          const raw = Buffer.from(s);
          const packed = codec.compress(raw);
          expect(decompressBounded(codec, packed, raw.length + slack).equals(raw)).toBe(true);
          if (raw.length > 0) {
            const r = boundedDecompress(codec, packed, raw.length - 1);
            expect(r).toBe(LS_ERR.LS_ERR_TOO_LARGE);
          }
        }),
        params(80),
      );
    });

    it(`${codec.name}: random and mutated payloads give ≤ max bytes or DECODE / TOO_LARGE`, () => {
      const payload = fc.oneof(
        fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
        fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from([...MAGIC[codec.name]!, ...b])),
        fc.tuple(text, mutationsArb).map(([s, m]) => mutate(codec.compress(Buffer.from(s)), m)),
      );
      fc.assert(
        fc.property(payload, fc.integer({ min: 0, max: 5000 }), (p, max) => {
          boundedDecompress(codec, p, max);
        }),
        params(400),
      );
    });
  }

  it('bombs: every codec stops at the limit (all-zero input 64x-4096x the limit)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...compressing),
        fc.integer({ min: 1, max: 64 << 10 }),
        fc.integer({ min: 64, max: 4096 }),
        (codec, max, factor) => {
          const bomb = codec.compress(Buffer.alloc(Math.min(max * factor, 8 << 20)));
          expect(boundedDecompress(codec, bomb, max)).toBe(LS_ERR.LS_ERR_TOO_LARGE);
        },
      ),
      params(40),
    );
  });

  it('zstd without a content size (streamed frames): bounded decode, bombs stop at the limit', async () => {
    if (!zstdCodec.availability().ok) return;
    const stream = async (data: Buffer) => buffer(Readable.from([data]).pipe(zstdCodec.compressStream(3)));
    const small = await stream(Buffer.from('{"ts":"x"}\n'.repeat(100)));
    expect(decompressBounded(zstdCodec, small, 1100).length).toBe(1100);
    const bomb = await stream(Buffer.alloc(16 << 20));
    for (const max of [1, 1000, 1 << 20, 8 << 20])
      expect(boundedDecompress(zstdCodec, bomb, max)).toBe(LS_ERR.LS_ERR_TOO_LARGE);
    fc.assert(
      fc.property(mutationsArb, fc.integer({ min: 1, max: 1 << 20 }), (m, max) => {
        boundedDecompress(zstdCodec, mutate(bomb, m), max);
      }),
      params(100),
    );
  });

  it('lz4 header lies: content size removed or changed (checksum fixed up) is still bounded', () => {
    const lz4 = CODECS.get(3)!;
    if (!lz4.availability().ok) return;
    const withSize = lz4.compress(Buffer.alloc(300_000, 0x61));
    fc.assert(
      fc.property(fc.option(fc.maxSafeNat(), { nil: undefined }), fc.integer({ min: 1, max: 400_000 }), (size, max) => {
        // rebuild the header: FLG (content-size bit per `size`), BD, [size], HC — then the same blocks
        const flg = (withSize[4]! & ~0b1000) | (size === undefined ? 0 : 0b1000);
        const desc = Buffer.alloc(size === undefined ? 2 : 10);
        desc[0] = flg;
        desc[1] = withSize[5]!;
        if (size !== undefined) {
          desc.writeUInt32LE(size % 2 ** 32, 2);
          desc.writeUInt32LE(Math.floor(size / 2 ** 32), 6);
        }
        const hc = Buffer.from([(xxh32(desc) >>> 8) & 0xff]);
        const lied = Buffer.concat([withSize.subarray(0, 4), desc, hc, withSize.subarray(15)]);
        const r = boundedDecompress(lz4, lied, max);
        if (Buffer.isBuffer(r)) expect(r.length).toBe(300_000);
      }),
      params(200),
    );
  });
});

describe('decodeBatch under hostile input', () => {
  it("any codec id, count and payload, with the receivers' decoder or the default one: `count` lines without LF, or an LsError", () => {
    const payload = fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
      fc
        .tuple(
          fc.constantFrom(...usable),
          fc.array(fc.string({ maxLength: 20 }), { minLength: 1, maxLength: 6 }),
          fc.array(mutationsArb, { maxLength: 1 }),
        )
        .map(([c, recs, m]) => {
          const p = c.compress(Buffer.from(recs.join('\n')));
          return m.length ? mutate(p, m[0]!) : p;
        }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 1, max: 8 }),
        payload,
        fc.nat({ max: 400 }),
        fc.boolean(),
        (codec, count, p, maxDecodedBytes, anyCodec) => {
          const frame: Frame = { type: FrameType.BATCH, codec, flags: 0, count, stream: 1, seq: 1, payload: p };
          // day 12's bounded decoder for every codec, or decodeBatch's own (codec 0 only, the others refused)
          const decodePayload = anyCodec ? decodeAnyCodec : undefined;
          try {
            const lines = decodeBatch(frame, { maxDecodedBytes, decodePayload });
            expect(lines).toHaveLength(count);
            for (const l of lines) expect(l.includes(0x0a)).toBe(false);
          } catch (err) {
            asLsError(err);
          }
        },
      ),
      params(600),
    );
  });

  it('encodeBatch → FrameDecoder → decodeBatch gives the records back, for every codec', () => {
    const record = fc.string({ maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, ' ').replace(/ +$/, ''));
    fc.assert(
      fc.property(fc.constantFrom(...usable), fc.array(record, { minLength: 1, maxLength: 30 }), (codec, records) => {
        const frames = new FrameDecoder().push(encodeBatch({ stream: 7, seq: 1, records, codec: codec.id }));
        expect(frames).toHaveLength(1);
        expect(decodeBatch(frames[0]!, { decodePayload: decodeAnyCodec }).map((l) => l.toString())).toEqual(
          records.map((r) => Buffer.from(r).toString()),
        );
      }),
      params(200),
    );
  });
});
