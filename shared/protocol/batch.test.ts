import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeBatch, encodeBatch, encodeBatchPayload } from './batch.ts';
import { codecByName } from './codecs.ts';
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
    expect(decodeBatch(frame, { maxDecodedBytes: 1 << 20 }).map((b) => b.toString())).toEqual(RECORDS);
  });

  it('65535 records, the most a BATCH holds', () => {
    const records = Array.from({ length: 65535 }, (_, i) => String(i));
    const lines = decodeBatch(onlyFrame(encodeBatch({ stream: 1, seq: 1, records, codec: 1 })));
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

  it('decoded size over the limit → LS_ERR_TOO_LARGE (uncompressed and compressed)', () => {
    const payload = encodeBatchPayload(RECORDS);
    const limits = { maxDecodedBytes: payload.length - 1 };
    expect(catchLs(() => decodeBatch(batchFrame(3, payload), limits)).code).toBe('LS_ERR_TOO_LARGE');
    expect(catchLs(() => decodeBatch(batchFrame(3, zlib.gzipSync(payload), 1), limits)).code).toBe('LS_ERR_TOO_LARGE');
    expect(decodeBatch(batchFrame(3, zlib.gzipSync(payload), 1), { maxDecodedBytes: payload.length })).toHaveLength(3);
  });

  it('a gzip bomb inside a valid frame → LS_ERR_TOO_LARGE at the default 32 MiB', () => {
    const member = zlib.gzipSync(Buffer.alloc(1 << 20, 0x0a), { level: 9 });
    const bomb = Buffer.concat(Array.from({ length: 256 }, () => member)); // 256 MiB of LFs
    expect(catchLs(() => decodeBatch(batchFrame(1, bomb, 1))).code).toBe('LS_ERR_TOO_LARGE');
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
      expect(catchLs(() => decodeBatch(frame)).code).toBe('LS_ERR_DECODE');
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
