import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeBatch, encodeBatch, encodeBatchPayload, type PayloadDecoder } from './batch.ts';
import { codecById, codecByName } from './codecs.ts';
import { LsError, LS_ERR } from './errors.ts';
import { encodeFrame, FrameDecoder, FrameType, type Frame } from './frame.ts';
import { catchLs } from './test-support.ts';

const RECORDS = [
  '{"ts":"2026-11-26T14:13:48.123Z","level":"info","msg":"hello"}',
  '{"ts":"2026-11-26T14:13:48.124Z","level":"warn","msg":"héllo €"}',
  'not json at all: still one record line',
];

/** Run bytes through a FrameDecoder, as a receiver would. */
function onlyFrame(bytes: Buffer): Frame {
  const frames = new FrameDecoder().push(bytes);
  expect(frames).toHaveLength(1);
  return frames[0]!;
}

/** A payload decoder for tests: the codec table's plain (unbounded) decompress, fine for our own small payloads. */
const plain: PayloadDecoder = (f) => codecById(f.codec).decompress(f.payload);

/** A BATCH frame with this raw payload (compressed with `codec` unless `raw`). */
function batchFrame(count: number, payload: Buffer, codec = 0): Frame {
  return onlyFrame(encodeFrame({ type: FrameType.BATCH, codec, count, stream: 1, seq: 1, payload }));
}

describe('encodeBatchPayload', () => {
  it('is NDJSON with a final LF', () => {
    expect(encodeBatchPayload(['a', 'b']).toString()).toBe('a\nb\n');
    expect(encodeBatchPayload([]).length).toBe(0);
  });

  it('refuses a record holding a LF (it would shift every later seq)', () => {
    expect(catchLs(() => encodeBatchPayload(['a', 'b\nc'])).code).toBe('LS_ERR_PAYLOAD');
  });
});

describe('encodeBatch / decodeBatch round trip', () => {
  it.each([
    ['none', undefined],
    ['gzip', undefined],
    ['gzip', 1],
    ['brotli', undefined],
    ['brotli', 11],
  ])('%s level %s', (name, level) => {
    const codec = codecByName(name).id;
    const frame = onlyFrame(encodeBatch({ stream: 3, seq: 100, records: RECORDS, codec, level }));
    expect(frame).toMatchObject({ type: FrameType.BATCH, codec, count: 3, stream: 3, seq: 100 });
    expect(decodeBatch(frame, { maxDecodedBytes: 1 << 20, decodePayload: plain }).map((b) => b.toString())).toEqual(
      RECORDS,
    );
  });

  it('65535 records, the most a BATCH holds', () => {
    const records = Array.from({ length: 65535 }, (_, i) => String(i));
    const lines = decodeBatch(onlyFrame(encodeBatch({ stream: 1, seq: 1, records, codec: 1 })), {
      decodePayload: plain,
    });
    expect(lines).toHaveLength(65535);
    expect(lines[65534]!.toString()).toBe('65534');
  });

  it('count out of range → LS_ERR_COUNT; unknown codec → LS_ERR_CODEC', () => {
    expect(catchLs(() => encodeBatch({ stream: 1, seq: 1, records: [] })).code).toBe('LS_ERR_COUNT');
    const many = Array.from({ length: 65536 }, () => '{}');
    expect(catchLs(() => encodeBatch({ stream: 1, seq: 1, records: many })).code).toBe('LS_ERR_COUNT');
    expect(catchLs(() => encodeBatch({ stream: 1, seq: 1, records: ['{}'], codec: 9 })).code).toBe('LS_ERR_CODEC');
  });
});

describe('decodeBatch line rules', () => {
  it.each([
    ['final LF', 'a\nb\n', 2, ['a', 'b']],
    ['no final LF', 'a\nb', 2, ['a', 'b']],
    ['CRLF', 'a\r\nb\r\n', 2, ['a', 'b']],
    ['an empty line is a record (positions are seqs)', 'a\n\nb\n', 3, ['a', '', 'b']],
    ['a single LF is one empty record', '\n', 1, ['']],
    ['invalid JSON is not our business', '{oops\n', 1, ['{oops']],
  ])('%s', (_n, payload, count, want) => {
    expect(decodeBatch(batchFrame(count, Buffer.from(payload))).map((b) => b.toString())).toEqual(want);
  });

  it.each([
    ['fewer lines than count', 'a\nb\n', 3],
    ['more lines than count', 'a\nb\nc\n', 2],
    ['two final LFs make one more (empty) record', 'a\n\n', 1],
    ['empty payload', '', 1],
  ])('%s → LS_ERR_COUNT', (_n, payload, count) => {
    expect(catchLs(() => decodeBatch(batchFrame(count, Buffer.from(payload)))).code).toBe('LS_ERR_COUNT');
  });

  it('a frame that is not a BATCH → LS_ERR_TYPE', () => {
    const ack = onlyFrame(encodeFrame({ type: FrameType.ACK, seq: 1 }));
    expect(catchLs(() => decodeBatch(ack)).code).toBe('LS_ERR_TYPE');
  });

  it('an uncompressed payload over the limit → LS_ERR_TOO_LARGE', () => {
    const payload = encodeBatchPayload(RECORDS);
    expect(catchLs(() => decodeBatch(batchFrame(3, payload), { maxDecodedBytes: payload.length - 1 })).code).toBe(
      'LS_ERR_TOO_LARGE',
    );
    expect(decodeBatch(batchFrame(3, payload), { maxDecodedBytes: payload.length })).toHaveLength(3);
  });

  it('a compressed payload without a payload decoder → LS_ERR_CODEC_UNAVAILABLE (nothing is decompressed)', () => {
    const gz = batchFrame(3, zlib.gzipSync(encodeBatchPayload(RECORDS)), 1);
    const err = catchLs(() => decodeBatch(gz));
    expect(err.code).toBe('LS_ERR_CODEC_UNAVAILABLE');
    expect(err.message).toContain('gzip');
  });

  it("a payload decoder gets every BATCH (codec 0 too) with the limit, and its error is the batch's", () => {
    const seen: Array<[number, number]> = [];
    const spy: PayloadDecoder = (f, max) => {
      seen.push([f.codec, max]);
      if (max < 10) throw new LsError(LS_ERR.LS_ERR_TOO_LARGE, `over ${max}`);
      return plain(f, max);
    };
    const payload = encodeBatchPayload(RECORDS);
    expect(decodeBatch(batchFrame(3, payload), { maxDecodedBytes: 1000, decodePayload: spy })).toHaveLength(3);
    expect(
      decodeBatch(batchFrame(3, zlib.gzipSync(payload), 1), { maxDecodedBytes: 999, decodePayload: spy }),
    ).toHaveLength(3);
    expect(catchLs(() => decodeBatch(batchFrame(3, payload), { maxDecodedBytes: 5, decodePayload: spy })).code).toBe(
      'LS_ERR_TOO_LARGE',
    );
    expect(seen).toEqual([
      [0, 1000],
      [1, 999],
      [0, 5],
    ]);
  });

  it.each([
    ['gzip', 1],
    ['brotli', 4],
  ])('corrupt %s payload with a recomputed (valid) frame CRC → LS_ERR_DECODE', (_n, codec) => {
    const good = onlyFrame(encodeBatch({ stream: 1, seq: 1, records: RECORDS, codec }));
    for (const damage of [
      (b: Buffer) => b.fill(0x00, 0, 4), // header
      (b: Buffer) => b.fill(0xa5, b.length >> 1, (b.length >> 1) + 4), // body
      (b: Buffer) => b.subarray(0, b.length - 3), // truncated
    ]) {
      const payload = damage(Buffer.from(good.payload));
      // encodeFrame computes the CRC of the damaged payload, so the frame itself is valid
      const frame = batchFrame(3, payload, codec);
      expect(catchLs(() => decodeBatch(frame, { decodePayload: plain })).code).toBe('LS_ERR_DECODE');
    }
  });
});

describe('encodeBatchPayload sizing', () => {
  it('encodes multi-byte records that outgrow the ASCII estimate', () => {
    const records = Array.from({ length: 50 }, (_, i) => `{"msg":"${'é✓😀'.repeat(i * 7)}"}`);
    const payload = encodeBatchPayload(records);
    expect(payload.equals(Buffer.from(`${records.join('\n')}\n`))).toBe(true);
  });
});
