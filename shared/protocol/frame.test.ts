import { describe, expect, it } from 'vitest';
import { LS_ERR, LsError, type LsErrorCode } from './errors.ts';
import {
  encodeAck,
  encodeFrame,
  encodeFrameInPlace,
  encodeHello,
  encodeNack,
  encodePing,
  encodePong,
  FrameDecoder,
  FrameType,
  HEADER_SIZE,
  parseHello,
  parseNack,
  type Frame,
  type FrameInit,
} from './frame.ts';
import { decodeBatch } from './batch.ts';
import { codecById } from './codecs.ts';
import { bytewise, catchLs, crcHex, decodeStream, hex, splitsInTwo } from './test-support.ts';

/** Decode a list of chunks with a fresh decoder; return the frames (an error fails the test). */
function decodeChunks(chunks: readonly Buffer[], opts?: { maxPayloadBytes?: number }): Frame[] {
  const { frames, error, decoder } = decodeStream(chunks, opts);
  if (error) throw error;
  expect(decoder.bufferedBytes).toBe(0);
  return frames;
}

/** A frame as plain data, payload as hex, for deep equality. */
function plain(f: Frame): Record<string, unknown> {
  return { ...f, payload: f.payload.toString('hex') };
}

/** Every way of feeding `data` we test: whole, one byte at a time, split at every offset. */
function* feeds(data: Buffer): Generator<[string, Buffer[]]> {
  yield ['whole', [data]];
  yield ['bytewise', bytewise(data)];
  for (const parts of splitsInTwo(data)) yield [`split@${parts[0]!.length}`, parts];
}

// ---------------------------------------------------------------------------------------------------------
// Golden vectors, written by hand from shared/protocol/README.md §3 (NOT produced by the encoder). Layout per line:
// magic | version | type | codec | flags | count | stream | seq | length | crc32 | payload
// ---------------------------------------------------------------------------------------------------------
const HELLO_PAYLOAD = '{"name":"a"}';
const BATCH_PAYLOAD = '{"n":1}\n{"n":2}\n';
const NACK_PAYLOAD = '{"code":"LS_ERR_CRC","message":"bad"}';
// gzip of "a\n" with one stored deflate block: gzip header, block header, LEN/NLEN, data, CRC32 LE, ISIZE.
const A_LF_CRC_LE = hex(crcHex('a\n')).reverse().toString('hex');
const GZIP_PAYLOAD = hex(`1f8b 0800 00000000 00ff | 01 0200 fdff 610a | ${A_LF_CRC_LE} 02000000`);

interface Golden {
  name: string;
  bytes: Buffer;
  frame: Frame;
  init: FrameInit;
}

const GOLDEN: Golden[] = [
  {
    name: 'HELLO stream 7 {"name":"a"}',
    bytes: hex(`4c53 | 01 | 01 | 00 | 00 | 0000 | 00000007 | 0000000000000000 | 0000000c | ${crcHex(HELLO_PAYLOAD)} |
                7b226e616d65223a2261227d`),
    frame: {
      type: FrameType.HELLO,
      codec: 0,
      flags: 0,
      count: 0,
      stream: 7,
      seq: 0,
      payload: Buffer.from(HELLO_PAYLOAD),
    },
    init: { type: FrameType.HELLO, stream: 7, payload: Buffer.from(HELLO_PAYLOAD) },
  },
  {
    name: 'BATCH stream 0x01020304 seq 2^32+2, 2 records, codec none',
    bytes: hex(`4c53 | 01 | 02 | 00 | 00 | 0002 | 01020304 | 0000000100000002 | 00000010 | ${crcHex(BATCH_PAYLOAD)} |
                7b226e223a317d0a 7b226e223a327d0a`),
    frame: {
      type: FrameType.BATCH,
      codec: 0,
      flags: 0,
      count: 2,
      stream: 0x01020304,
      seq: 2 ** 32 + 2,
      payload: Buffer.from(BATCH_PAYLOAD),
    },
    init: {
      type: FrameType.BATCH,
      count: 2,
      stream: 0x01020304,
      seq: 2 ** 32 + 2,
      payload: Buffer.from(BATCH_PAYLOAD),
    },
  },
  {
    name: 'BATCH codec gzip (stored block), 1 record, stream 1 seq 1',
    bytes: Buffer.concat([
      hex(`4c53 | 01 | 02 | 01 | 00 | 0001 | 00000001 | 0000000000000001 | 00000019 | ${crcHex(GZIP_PAYLOAD)}`),
      GZIP_PAYLOAD,
    ]),
    frame: { type: FrameType.BATCH, codec: 1, flags: 0, count: 1, stream: 1, seq: 1, payload: GZIP_PAYLOAD },
    init: { type: FrameType.BATCH, codec: 1, count: 1, stream: 1, seq: 1, payload: GZIP_PAYLOAD },
  },
  {
    name: 'ACK stream 9 seq 42',
    bytes: hex('4c53 | 01 | 03 | 00 | 00 | 0000 | 00000009 | 000000000000002a | 00000000 | 00000000'),
    frame: { type: FrameType.ACK, codec: 0, flags: 0, count: 0, stream: 9, seq: 42, payload: Buffer.alloc(0) },
    init: { type: FrameType.ACK, stream: 9, seq: 42 },
  },
  {
    name: 'NACK stream 9 LS_ERR_CRC',
    bytes: Buffer.concat([
      hex(`4c53 | 01 | 04 | 00 | 00 | 0000 | 00000009 | 0000000000000000 | 00000025 | ${crcHex(NACK_PAYLOAD)}`),
      Buffer.from(NACK_PAYLOAD),
    ]),
    frame: {
      type: FrameType.NACK,
      codec: 0,
      flags: 0,
      count: 0,
      stream: 9,
      seq: 0,
      payload: Buffer.from(NACK_PAYLOAD),
    },
    init: { type: FrameType.NACK, stream: 9, payload: Buffer.from(NACK_PAYLOAD) },
  },
  {
    name: 'PING token 2^53-1 (largest seq we accept)',
    bytes: hex('4c53 | 01 | 05 | 00 | 00 | 0000 | 00000000 | 001fffffffffffff | 00000000 | 00000000'),
    frame: {
      type: FrameType.PING,
      codec: 0,
      flags: 0,
      count: 0,
      stream: 0,
      seq: Number.MAX_SAFE_INTEGER,
      payload: Buffer.alloc(0),
    },
    init: { type: FrameType.PING, seq: Number.MAX_SAFE_INTEGER },
  },
  {
    name: 'PONG token 1, stream 0xffffffff',
    bytes: hex('4c53 | 01 | 06 | 00 | 00 | 0000 | ffffffff | 0000000000000001 | 00000000 | 00000000'),
    frame: { type: FrameType.PONG, codec: 0, flags: 0, count: 0, stream: 0xffffffff, seq: 1, payload: Buffer.alloc(0) },
    init: { type: FrameType.PONG, stream: 0xffffffff, seq: 1 },
  },
];

describe('golden vectors (shared/protocol/README.md §3, hand-written)', () => {
  it.each(GOLDEN)('$name: encodeFrame produces exactly these bytes', ({ bytes, init }) => {
    expect(encodeFrame(init).toString('hex')).toBe(bytes.toString('hex'));
  });

  it.each(GOLDEN)('$name: decodes whole, byte by byte and split at every offset', ({ bytes, frame }) => {
    for (const [how, chunks] of feeds(bytes)) {
      const frames = decodeChunks(chunks);
      expect(frames.map(plain), how).toEqual([plain(frame)]);
    }
  });

  it('convenience encoders match the golden vectors', () => {
    const byName = (prefix: string) => GOLDEN.find((g) => g.name.startsWith(prefix))!.bytes;
    expect(encodeHello(7, { name: 'a' })).toEqual(byName('HELLO'));
    expect(encodeAck(9, 42)).toEqual(byName('ACK'));
    expect(encodeNack(9, 'LS_ERR_CRC', 'bad')).toEqual(byName('NACK'));
    expect(encodePing(Number.MAX_SAFE_INTEGER)).toEqual(byName('PING'));
    expect(encodePong(1)).toEqual(hex('4c53 01 06 00 00 0000 00000000 0000000000000001 00000000 00000000'));
  });

  it('the hand-made gzip BATCH decodes to its one record', () => {
    const g = GOLDEN.find((x) => x.frame.codec === 1)!;
    const [frame] = decodeChunks([g.bytes]);
    expect(
      decodeBatch(frame!, { decodePayload: (f) => codecById(f.codec).decompress(f.payload) }).map((b) => b.toString()),
    ).toEqual(['a']);
  });

  it('all golden frames back to back, every split and byte by byte', () => {
    const stream = Buffer.concat(GOLDEN.map((g) => g.bytes));
    const want = GOLDEN.map((g) => plain(g.frame));
    for (const [how, chunks] of feeds(stream)) expect(decodeChunks(chunks).map(plain), how).toEqual(want);
  });
});

describe('round trip', () => {
  const big = Buffer.alloc(70_000, 0x61);
  const cases: Array<[string, FrameInit]> = [
    ['HELLO with extra fields', { type: FrameType.HELLO, stream: 1, payload: Buffer.from('{"name":"s","v":2}') }],
    ['BATCH count 1 seq 1', { type: FrameType.BATCH, count: 1, stream: 0, seq: 1, payload: Buffer.from('{}\n') }],
    ['BATCH count 65535', { type: FrameType.BATCH, count: 65535, stream: 5, seq: 1e12, payload: Buffer.from('x') }],
    [
      'BATCH brotli codec id',
      { type: FrameType.BATCH, codec: 4, count: 3, stream: 2, seq: 7, payload: Buffer.from([1, 2, 3]) },
    ],
    ['BATCH 70 kB payload', { type: FrameType.BATCH, count: 1, stream: 2, seq: 7, payload: big }],
    [
      'BATCH last seq exactly 2^53-1',
      { type: FrameType.BATCH, count: 2, seq: Number.MAX_SAFE_INTEGER - 1, payload: Buffer.from('a\nb') },
    ],
    ['ACK seq 0', { type: FrameType.ACK, stream: 3, seq: 0 }],
    ['ACK seq 2^32 - 1', { type: FrameType.ACK, stream: 3, seq: 2 ** 32 - 1 }],
    ['ACK seq 2^32', { type: FrameType.ACK, stream: 3, seq: 2 ** 32 }],
    ['NACK', { type: FrameType.NACK, stream: 0, payload: Buffer.from('{"code":"LS_ERR_MAGIC","message":"m"}') }],
    ['PING 0', { type: FrameType.PING, seq: 0 }],
    ['PING with payload', { type: FrameType.PING, seq: 5, payload: Buffer.from('pad') }],
    ['PONG 123456789012', { type: FrameType.PONG, seq: 123456789012 }],
  ];

  it.each(cases)('%s', (_name, init) => {
    const bytes = encodeFrame(init);
    expect(bytes.length).toBe(HEADER_SIZE + (init.payload?.length ?? 0));
    const [frame, ...rest] = decodeChunks([bytes]);
    expect(rest).toEqual([]);
    expect(frame).toMatchObject({
      type: init.type,
      codec: init.codec ?? 0,
      flags: 0,
      count: init.count ?? 0,
      stream: init.stream ?? 0,
      seq: init.seq ?? 0,
    });
    expect(frame!.payload.equals(init.payload ?? Buffer.alloc(0))).toBe(true);
  });

  it('all of them back to back, byte by byte and split at every offset of the small ones', () => {
    const small = cases.filter(([n]) => !n.includes('70 kB')).map(([, init]) => encodeFrame(init));
    const stream = Buffer.concat(small);
    const want = decodeChunks([stream]).map(plain);
    expect(want).toHaveLength(small.length);
    for (const [how, chunks] of feeds(stream)) expect(decodeChunks(chunks).map(plain), how).toEqual(want);
  });

  it('a large frame fed in 1000-byte chunks', () => {
    const bytes = encodeFrame(cases.find(([n]) => n.includes('70 kB'))![1]);
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 1000) chunks.push(bytes.subarray(i, i + 1000));
    const [frame] = decodeChunks(chunks);
    expect(frame!.payload.equals(big)).toBe(true);
  });

  it('encodeFrameInPlace: the same bytes as encodeFrame for every case, the payload framed where it lies', () => {
    for (const [name, init] of cases) {
      const payload = init.payload ?? Buffer.alloc(0);
      const room = Buffer.alloc(HEADER_SIZE + payload.length + 7, 0xee); // larger than the frame: a view comes back
      payload.copy(room, HEADER_SIZE);
      const { payload: _p, ...header } = init;
      const framed = encodeFrameInPlace(room, payload.length, header);
      expect(framed.equals(encodeFrame(init)), name).toBe(true);
      expect(framed.buffer, name).toBe(room.buffer);
    }
    expect(
      catchLs(() => encodeFrameInPlace(Buffer.alloc(HEADER_SIZE + 2), 2, { type: FrameType.BATCH, count: 0 })).code,
    ).toBe(LS_ERR.LS_ERR_COUNT);
  });

  it('HELLO and NACK payload helpers', () => {
    const [h] = decodeChunks([encodeHello(4, { name: 'web-1', pid: 42 })]);
    expect(parseHello(h!)).toEqual({ name: 'web-1', pid: 42 });
    const [n] = decodeChunks([encodeNack(4, LS_ERR.LS_ERR_CRC, 'crc mismatch at 24')]);
    expect(parseNack(n!)).toEqual({ code: 'LS_ERR_CRC', message: 'crc mismatch at 24' });
  });
});

// ---------------------------------------------------------------------------------------------------------
// Error tables: code + bytes + the absolute offset of the faulty field.
// ---------------------------------------------------------------------------------------------------------
const ACK = hex('4c53 01 03 00 00 0000 00000009 000000000000002a 00000000 00000000');
const BATCH = GOLDEN[1]!.bytes;

/** A copy of `base` with the bytes at `at` replaced by `bytes` (hex). */
function patch(base: Buffer, at: number, bytes: string): Buffer {
  const out = Buffer.from(base);
  hex(bytes).copy(out, at);
  return out;
}

interface ErrorCase {
  name: string;
  bytes: Buffer;
  code: LsErrorCode;
  offset: number;
  maxPayloadBytes?: number;
}

/** The hand-written frames bad values are written into: ACK, BATCH and HELLO above, and a PING (token 42). */
const BASES = {
  ACK,
  BATCH,
  HELLO: GOLDEN[0]!.bytes,
  PING: hex('4c53 01 05 00 00 0000 00000000 000000000000002a 00000000 00000000'),
};

/** The header alone: a length error must come before any payload is read. */
const headerOf = (frame: Buffer): Buffer => frame.subarray(0, HEADER_SIZE);

/**
 * One header field's bad values (README §3): each (hex) is written at the field's offset into the named base
 * frame and must fail with the field's code at that offset, both stated once per field here, by hand.
 */
function badField(
  field: string,
  code: LsErrorCode,
  offset: number,
  values: Partial<Record<keyof typeof BASES, string[]>>,
  opts: { headerOnly?: boolean; maxPayloadBytes?: number } = {},
): ErrorCase[] {
  const limit = opts.maxPayloadBytes ? `, limit ${opts.maxPayloadBytes}` : '';
  const how = `${opts.headerOnly ? ', header only' : ''}${limit}`;
  return Object.entries(values).flatMap(([base, bad]) =>
    bad.map((v) => {
      const bytes = patch(BASES[base as keyof typeof BASES], offset, v);
      const name = `${field} ${v} on ${base}${how}`;
      return {
        name,
        bytes: opts.headerOnly ? headerOf(bytes) : bytes,
        code,
        offset,
        maxPayloadBytes: opts.maxPayloadBytes,
      };
    }),
  );
}

const ERRORS: ErrorCase[] = [
  // "LT", 0x0000, and the magic byte-swapped ("SL")
  ...badField('magic', 'LS_ERR_MAGIC', 0, { ACK: ['4c54', '0000', '534c'] }),
  ...badField('version', 'LS_ERR_VERSION', 2, { ACK: ['00', '02'] }),
  ...badField('type', 'LS_ERR_TYPE', 3, { ACK: ['00', '07', 'ff'] }),
  // unknown codec ids on a BATCH; any codec on a frame that carries no records
  ...badField('codec', 'LS_ERR_CODEC', 4, { BATCH: ['05', 'ff'], ACK: ['01'], HELLO: ['04'] }),
  ...badField('flags', 'LS_ERR_FLAGS', 5, { ACK: ['01'], BATCH: ['80'] }),
  ...badField('count', 'LS_ERR_COUNT', 6, { BATCH: ['0000'], ACK: ['0001'], PING: ['ffff'] }),
  // 2^53, 2^64-1, and a BATCH (count 2) whose last record's seq passes 2^53-1
  ...badField('seq', 'LS_ERR_SEQ', 12, {
    ACK: ['0020000000000000'],
    PING: ['ffffffffffffffff'],
    BATCH: ['001fffffffffffff'],
  }),
  // 4 GiB - 1 and 4 MiB + 1 over the default limit; 17 over a 16-byte limit
  ...badField('length', 'LS_ERR_TOO_LARGE', 20, { BATCH: ['ffffffff', '00400001'] }, { headerOnly: true }),
  ...badField('length', 'LS_ERR_TOO_LARGE', 20, { ACK: ['00000011'] }, { headerOnly: true, maxPayloadBytes: 16 }),
  // one bit off, and a non-zero crc over an empty payload
  ...badField('crc', 'LS_ERR_CRC', 24, {
    BATCH: [(BATCH[24]! ^ 0x01).toString(16).padStart(2, '0')],
    ACK: ['00000001'],
  }),
  { name: 'payload byte flipped on BATCH', bytes: patch(BATCH, 30, '00'), code: 'LS_ERR_CRC', offset: 24 },
];

describe('error table', () => {
  const PREFIX = encodePing(77); // a valid frame before the bad one moves every offset by 28

  it.each(ERRORS)('$name → $code at offset $offset', ({ bytes, code, offset, maxPayloadBytes }) => {
    for (const prefix of [Buffer.alloc(0), PREFIX]) {
      const input = Buffer.concat([prefix, bytes]);
      for (const [how, chunks] of feeds(input)) {
        // decodeStream also checks the decoder is dead from now on: the same error again, whatever comes next
        const { frames, error } = decodeStream(chunks, { maxPayloadBytes });
        const where = `${how}, prefix ${prefix.length}`;
        expect(error?.code, where).toBe(code);
        expect(error?.offset, where).toBe(prefix.length + offset);
        // the good frame before the bad one was still handed over
        expect(frames.length, where).toBe(prefix.length > 0 ? 1 : 0);
      }
    }
  });

  it('a 4 GiB declared length fails as soon as the header is in, before any payload', () => {
    const d = new FrameDecoder();
    const header = headerOf(patch(BATCH, 20, 'ffffffff'));
    expect(d.push(header.subarray(0, 27))).toEqual([]);
    expect(d.bufferedBytes).toBe(27);
    const err = catchLs(() => d.push(header.subarray(27)));
    expect(err.code).toBe(LS_ERR.LS_ERR_TOO_LARGE);
    expect(err.offset).toBe(20);
  });

  it('a length exactly at the limit is accepted and waits for the payload', () => {
    const d = new FrameDecoder({ maxPayloadBytes: 16 });
    expect(d.push(headerOf(patch(ACK, 20, '00000010')))).toEqual([]);
    expect(d.bufferedBytes).toBe(HEADER_SIZE);
    expect(d.offset).toBe(0);
  });
});

describe('FrameDecoder bookkeeping', () => {
  it('tracks offset and bufferedBytes across partial frames', () => {
    const d = new FrameDecoder();
    const a = encodeAck(1, 1);
    const b = GOLDEN[1]!.bytes;
    expect(d.push(Buffer.concat([a, b.subarray(0, 10)]))).toHaveLength(1);
    expect(d.offset).toBe(a.length);
    expect(d.bufferedBytes).toBe(10);
    expect(d.push(Buffer.alloc(0))).toEqual([]);
    expect(d.push(b.subarray(10, 40))).toEqual([]);
    expect(d.bufferedBytes).toBe(40);
    expect(d.push(b.subarray(40))).toHaveLength(1);
    expect(d.offset).toBe(a.length + b.length);
    expect(d.bufferedBytes).toBe(0);
  });

  it('a frame inside one chunk gets a payload view, not a copy', () => {
    const bytes = GOLDEN[1]!.bytes;
    const [frame] = new FrameDecoder().push(bytes);
    expect(frame!.payload.buffer).toBe(bytes.buffer);
  });

  it('an error keeps the frames decoded before it when the caller passes its own array', () => {
    const d = new FrameDecoder();
    const out: Frame[] = [];
    expect(() => d.push(Buffer.concat([encodeAck(1, 1), encodeAck(1, 2), patch(ACK, 0, '00')]), out)).toThrow(LsError);
    expect(out.map((f) => f.seq)).toEqual([1, 2]);
  });
});

describe('encoder input validation', () => {
  const bad: Array<[string, FrameInit, LsErrorCode]> = [
    ['type 0', { type: 0 as FrameType }, 'LS_ERR_TYPE'],
    ['type 7', { type: 7 as FrameType }, 'LS_ERR_TYPE'],
    ['unknown codec 9', { type: FrameType.BATCH, count: 1, codec: 9 }, 'LS_ERR_CODEC'],
    ['codec on ACK', { type: FrameType.ACK, codec: 1 }, 'LS_ERR_CODEC'],
    ['BATCH count 0', { type: FrameType.BATCH, count: 0 }, 'LS_ERR_COUNT'],
    ['BATCH count 65536', { type: FrameType.BATCH, count: 65536 }, 'LS_ERR_COUNT'],
    ['BATCH count 1.5', { type: FrameType.BATCH, count: 1.5 }, 'LS_ERR_COUNT'],
    ['count on PING', { type: FrameType.PING, count: 1 }, 'LS_ERR_COUNT'],
    ['stream -1', { type: FrameType.ACK, stream: -1 }, 'LS_ERR_PAYLOAD'],
    ['stream 2^32', { type: FrameType.ACK, stream: 2 ** 32 }, 'LS_ERR_PAYLOAD'],
    ['seq -1', { type: FrameType.ACK, seq: -1 }, 'LS_ERR_SEQ'],
    ['seq 2^53', { type: FrameType.ACK, seq: 2 ** 53 }, 'LS_ERR_SEQ'],
    ['seq NaN', { type: FrameType.PING, seq: Number.NaN }, 'LS_ERR_SEQ'],
    ['BATCH last seq past 2^53-1', { type: FrameType.BATCH, count: 2, seq: Number.MAX_SAFE_INTEGER }, 'LS_ERR_SEQ'],
  ];
  it.each(bad)('%s → %s', (_name, init, code) => {
    expect(catchLs(() => encodeFrame(init)).code).toBe(code);
  });

  it('HELLO without a string name, NACK without strings', () => {
    expect(catchLs(() => encodeHello(1, { name: 3 } as never)).code).toBe('LS_ERR_PAYLOAD');
    expect(catchLs(() => encodeNack(1, 5 as never, 'm')).code).toBe('LS_ERR_PAYLOAD');
  });
});

describe('parseHello / parseNack', () => {
  /** A HELLO or NACK frame carrying `payload`, through the decoder. */
  const frameOf = (type: 'HELLO' | 'NACK', payload: string | Buffer) =>
    decodeChunks([encodeFrame({ type: FrameType[type], payload: Buffer.from(payload) })])[0]!;

  it.each([
    ['HELLO', 'not JSON', '{"name":'],
    ['HELLO', 'empty', ''],
    ['HELLO', 'an array', '["a"]'],
    ['HELLO', 'null', 'null'],
    ['HELLO', 'name missing', '{"nom":"a"}'],
    ['HELLO', 'name not a string', '{"name":1}'],
    ['HELLO', 'not UTF-8', Buffer.from([0x7b, 0xff, 0x7d])],
    ['NACK', 'not JSON', 'nope'],
    ['NACK', 'code missing', '{"message":"m"}'],
    ['NACK', 'message not a string', '{"code":"LS_ERR_CRC","message":1}'],
  ] as const)('%s %s → LS_ERR_PAYLOAD', (type, _n, payload) => {
    const parse = type === 'HELLO' ? parseHello : parseNack;
    expect(catchLs(() => parse(frameOf(type, payload))).code).toBe('LS_ERR_PAYLOAD');
  });

  it('the wrong frame type → LS_ERR_TYPE', () => {
    const [ack] = decodeChunks([encodeAck(1, 1)]);
    expect(catchLs(() => parseHello(ack!)).code).toBe('LS_ERR_TYPE');
    expect(catchLs(() => parseNack(ack!)).code).toBe('LS_ERR_TYPE');
  });
});
