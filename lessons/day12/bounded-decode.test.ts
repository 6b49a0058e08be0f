// Day 12's bounded decoding [d12.6]: the output never passes the limit, a bomb stops there with bounded
// memory, and what the codec cannot decode is LS_ERR_DECODE. (The chunks themselves are tested with the
// codec table, shared/protocol/codecs.test.ts.)
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeBatch, encodeBatch } from '../../shared/protocol/batch.ts';
import { CODECS, codecByName, MAX_CHUNK_BYTES, type Codec } from '../../shared/protocol/codecs.ts';
import { LsError } from '../../shared/protocol/errors.ts';
import { FrameDecoder, FrameType, encodeFrame } from '../../shared/protocol/frame.ts';
import { DEFAULT_MAX_DECODED_BYTES } from '../../shared/protocol/limits.ts';
import { decodeAnyCodec, decompressBounded } from './bounded-decode.ts';

const TEXT = Buffer.from(
  Array.from({ length: 200 }, (_, i) => `{"ts":"2026-11-26T14:13:48Z","level":"info","msg":"req ${i}"}`).join('\n') +
    '\n',
);
const MiB = 1 << 20;
const usable = [...CODECS.values()].filter((c) => c.availability().ok);

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof LsError) return err.code;
    throw err;
  }
  return 'no error';
}

/** Counts what the codec hands out, so "stopped at the limit" is measured, not timed. */
function counting(codec: Codec): { codec: Codec; produced: () => number } {
  let produced = 0;
  return {
    codec: {
      ...codec,
      *decompressChunks(data) {
        for (const c of codec.decompressChunks(data)) {
          produced += c.length;
          yield c;
        }
      },
    },
    produced: () => produced,
  };
}

describe.each(usable.map((c) => [c.name, c] as const))('%s', (_name, codec) => {
  it('round-trips within the limit, exactly at it too', () => {
    const packed = codec.compress(TEXT);
    expect(decompressBounded(codec, packed, TEXT.length).equals(TEXT)).toBe(true);
    expect(decompressBounded(codec, packed, DEFAULT_MAX_DECODED_BYTES).equals(TEXT)).toBe(true);
  });

  it('one byte over the limit → LS_ERR_TOO_LARGE', () => {
    expect(code(() => decompressBounded(codec, codec.compress(TEXT), TEXT.length - 1))).toBe('LS_ERR_TOO_LARGE');
  });

  it('a limit of 0 takes an empty payload and refuses anything else', () => {
    expect(decompressBounded(codec, codec.compress(Buffer.alloc(0)), 0).length).toBe(0);
    expect(code(() => decompressBounded(codec, codec.compress(Buffer.from('x')), 0))).toBe('LS_ERR_TOO_LARGE');
  });

  if (codec.id !== 0) {
    it('garbage, or a payload cut short → LS_ERR_DECODE', () => {
      const packed = codec.compress(TEXT);
      expect(code(() => decompressBounded(codec, Buffer.from('not compressed at all'), MiB))).toBe('LS_ERR_DECODE');
      expect(code(() => decompressBounded(codec, packed.subarray(0, packed.length >> 1), MiB))).toBe('LS_ERR_DECODE');
    });

    it('a bomb (64 MiB of zeros) stops one chunk past a 1 MiB limit', () => {
      const bomb = codec.compress(Buffer.alloc(64 * MiB), codec.levels?.min);
      const c = counting(codec);
      expect(code(() => decompressBounded(c.codec, bomb, MiB))).toBe('LS_ERR_TOO_LARGE');
      expect(c.produced()).toBeLessThanOrEqual(MiB + MAX_CHUNK_BYTES);
    });
  }
});

describe('the gzip bomb of the checks (~1 MB → 1 GiB, 1024 members)', () => {
  it('is refused at the 32 MiB default with bounded memory', () => {
    const member = zlib.gzipSync(Buffer.alloc(MiB), { level: 9 });
    const bomb = Buffer.concat(Array.from({ length: 1024 }, () => member));
    const rss0 = process.memoryUsage.rss();
    const c = counting(codecByName('gzip'));
    expect(code(() => decompressBounded(c.codec, bomb, DEFAULT_MAX_DECODED_BYTES))).toBe('LS_ERR_TOO_LARGE');
    expect(c.produced()).toBeLessThanOrEqual(DEFAULT_MAX_DECODED_BYTES + MAX_CHUNK_BYTES);
    expect(process.memoryUsage.rss() - rss0).toBeLessThan(128 * MiB);
  });
});

describe('decodeAnyCodec (decodeBatch for the later lanes)', () => {
  it('every usable codec round-trips through decodeBatch; a bomb is LS_ERR_TOO_LARGE', () => {
    const records = ['{"a":1}', '{"b":"é"}'];
    for (const c of usable) {
      const frame = new FrameDecoder().push(encodeBatch({ stream: 1, seq: 1, records, codec: c.id }))[0]!;
      expect(decodeBatch(frame, { decodePayload: decodeAnyCodec }).map(String)).toEqual(records);
    }
    const bomb = zlib.gzipSync(Buffer.alloc(8 * MiB, 0x0a));
    const frame = new FrameDecoder().push(
      encodeFrame({ type: FrameType.BATCH, codec: 1, count: 1, stream: 1, seq: 1, payload: bomb }),
    )[0]!;
    expect(code(() => decodeBatch(frame, { maxDecodedBytes: MiB, decodePayload: decodeAnyCodec }))).toBe(
      'LS_ERR_TOO_LARGE',
    );
  });
});
