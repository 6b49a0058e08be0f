import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBatch, encodeBatch } from './batch.ts';
import {
  CODECS,
  CODEC_NAMES,
  codecById,
  codecByName,
  makeLz4Codec,
  makeZstdCodec,
  MAX_CHUNK_BYTES,
  usableCodec,
  zstdCodec,
  ZSTD_WINDOW_LOG_MAX,
  type Codec,
  type ModuleLoader,
} from './codecs.ts';
import { LsError } from './errors.ts';
import { encodeFrame, FrameDecoder, FrameType, type Frame } from './frame.ts';
import { lz4DecompressBlocks, walkLz4Frames, xxh32, type Lz4Native } from './lz4-frame.ts';
import { RecordGenerator } from '../generate.ts';
import { catchLs, fuzzSeed } from './test-support.ts';

const require = createRequire(import.meta.url);
const realLoad: ModuleLoader = (id) => require(id);

interface ZstdNapi {
  compress(data: Uint8Array, params?: Record<string, unknown>): Buffer;
  decompress(data: Uint8Array): Buffer;
  CompressStream: new (params?: Record<string, unknown>) => NodeJS.ReadWriteStream;
  DecompressStream: new () => NodeJS.ReadWriteStream;
}
interface Lz4Napi {
  compressFrameSync(data: Buffer, opts?: { contentChecksum?: boolean; blockChecksums?: boolean }): Buffer;
  decompressFrameSync(data: Buffer): Buffer;
  compressSync(data: Buffer, dict?: Buffer): Buffer;
  uncompressSync(data: Uint8Array, dict?: Uint8Array): Buffer;
}
const zstdNapi = require('zstd-napi') as ZstdNapi;
const lz4Napi = require('lz4-napi') as Lz4Napi;

const TEXT = Buffer.from(
  Array.from(
    { length: 200 },
    (_, i) => `{"ts":"2026-11-26T14:13:48.${String(i % 1000).padStart(3, '0')}Z","level":"info","msg":"req ${i}"}`,
  ).join('\n') + '\n',
);

/** Inputs every codec must round-trip: empty, tiny, incompressible, a real batch, and a multi-block one. */
function corpus(): Array<[string, Buffer]> {
  let x = 12345;
  const noise = Buffer.alloc(70_000);
  for (let i = 0; i < noise.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    noise[i] = x >>> 24;
  }
  const batch = Buffer.from(new RecordGenerator({ seed: 3 }).take(1000).join('\n') + '\n');
  const big = Buffer.concat(Array.from({ length: 24 }, () => batch)); // ~5 MiB: several lz4 4 MiB blocks, many zstd blocks
  return [
    ['empty', Buffer.alloc(0)],
    ['one byte', Buffer.from('x')],
    ['text', TEXT],
    ['incompressible', noise],
    ['1000 generated records', batch],
    ['~5 MiB', big],
  ];
}
const CORPUS = corpus();

/** Levels worth trying: every level for small ranges, else min, default, max and a few between. */
function levelsOf(c: Codec): Array<number | undefined> {
  if (!c.levels) return [undefined];
  const { min, max, default: def } = c.levels;
  if (max - min <= 11) return Array.from({ length: max - min + 1 }, (_, i) => min + i);
  return [...new Set([min, def, 3, 6, 9, max])];
}

/** ~1 GiB of zeros as 1024 concatenated gzip members of 1 MiB each: about 1 MB on the wire. */
function gzipBomb(): Buffer {
  const member = zlib.gzipSync(Buffer.alloc(1 << 20), { level: 9 });
  return Buffer.concat(Array.from({ length: 1024 }, () => member));
}

let zeros64: Buffer | undefined;
/** 64 MiB of zeros (calloc'ed: its pages cost no RSS until written). */
const zeros = (): Buffer => (zeros64 ??= Buffer.alloc(64 << 20));

/** Every chunk of decompressChunks(data), checked against MAX_CHUNK_BYTES (none: the payload itself). */
function chunksOf(codec: Codec, data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (const c of codec.decompressChunks(data)) {
    if (codec.id !== 0) expect(c.length).toBeLessThanOrEqual(MAX_CHUNK_BYTES);
    expect(c.length).toBeGreaterThan(0);
    out.push(c);
  }
  return out;
}

/** The first chunk of decompressChunks(data); the generator is closed after it (nothing more decoded). */
function firstChunk(codec: Codec, data: Buffer): Buffer | undefined {
  const it = codec.decompressChunks(data);
  try {
    const r = it.next();
    return r.done ? undefined : r.value;
  } finally {
    it.return();
  }
}

describe('codec table', () => {
  it('holds the five LSP/1 codecs under their ids', () => {
    expect([...CODECS.keys()]).toEqual([0, 1, 2, 3, 4]);
    expect(CODEC_NAMES).toEqual(['none', 'gzip', 'zstd', 'lz4', 'brotli']);
    for (const [id, c] of CODECS) {
      expect(c.id).toBe(id);
      expect(codecById(id)).toBe(c);
      expect(codecByName(c.name)).toBe(c);
    }
    expect(codecByName('zstd')).toBe(zstdCodec);
  });

  it('unknown id or name → LS_ERR_CODEC', () => {
    expect(catchLs(() => codecById(5)).code).toBe('LS_ERR_CODEC');
    expect(catchLs(() => codecById(-1)).code).toBe('LS_ERR_CODEC');
    expect(catchLs(() => codecByName('snappy')).code).toBe('LS_ERR_CODEC');
  });

  it('zstd and lz4 are available here (the packages are installed) and say what runs them', () => {
    expect(codecByName('zstd').availability()).toEqual({ ok: true, implementation: 'zstd-napi' });
    expect(codecByName('lz4').availability()).toEqual({ ok: true, implementation: 'lz4-napi' });
    expect(usableCodec(2)).toBe(codecByName('zstd'));
    expect(usableCodec(3)).toBe(codecByName('lz4'));
  });
});

describe('optional packages: loaded lazily, a missing one is reported, never a crash', () => {
  const missing =
    (calls: string[]): ModuleLoader =>
    (id) => {
      calls.push(id);
      const err = new Error(`Cannot find module '${id}'`) as NodeJS.ErrnoException;
      err.code = 'MODULE_NOT_FOUND';
      throw err;
    };

  it.each([
    ['zstd', 'zstd unavailable: npm install zstd-napi', (load: ModuleLoader) => makeZstdCodec({ load, zlib: {} })],
    ['lz4', 'lz4 unavailable: npm install lz4-napi', (load: ModuleLoader) => makeLz4Codec({ load })],
  ])('%s without its package', (_name, reason, make) => {
    const calls: string[] = [];
    const c = make(missing(calls));
    expect(calls).toEqual([]); // nothing is loaded before first use
    expect(c.availability()).toEqual({ ok: false, reason });
    const e1 = catchLs(() => c.compress(TEXT));
    expect(e1.code).toBe('LS_ERR_CODEC_UNAVAILABLE');
    expect((e1.cause as NodeJS.ErrnoException).code).toBe('MODULE_NOT_FOUND');
    expect(catchLs(() => c.decompress(TEXT)).code).toBe('LS_ERR_CODEC_UNAVAILABLE');
    expect(catchLs(() => c.decompressChunks(TEXT).next()).code).toBe('LS_ERR_CODEC_UNAVAILABLE');
    expect(c.availability().ok).toBe(false);
    expect(calls.length).toBe(1); // the failure is remembered, not retried on every call
  });

  it('a package that loads but lacks the expected API counts as unavailable', () => {
    const z = makeZstdCodec({ load: () => ({}), zlib: {} });
    expect(z.availability().ok).toBe(false);
    expect(catchLs(() => z.compressStream()).code).toBe('LS_ERR_CODEC_UNAVAILABLE');
    const l = makeLz4Codec({ load: () => ({ compressFrameSync: 1 }) });
    expect(l.availability().ok).toBe(false);
  });

  it('the table falls back to unavailable with the real loader too (no package named like this)', () => {
    const c = makeLz4Codec({ load: (id) => require(`${id}-does-not-exist`) as never });
    expect(c.availability()).toEqual({ ok: false, reason: 'lz4 unavailable: npm install lz4-napi' });
  });
});

describe('zstd through node:zlib (Node ≥ 22.15), detected from the zlib module', () => {
  // A stand-in for node:zlib's zstd functions, with the same option shapes; built on zstd-napi so results
  // are real.
  const calls: Array<Record<string, unknown>> = [];
  const fakeZlib = {
    constants: { ZSTD_c_compressionLevel: 100, ZSTD_d_windowLogMax: 100 },
    zstdCompressSync(data: Buffer, opts: { params: Record<number, number> }) {
      calls.push({ op: 'compress', ...opts });
      return zstdNapi.compress(data, { compressionLevel: opts.params[100] });
    },
    zstdDecompressSync(data: Buffer, opts: { params: Record<number, number> }) {
      calls.push({ op: 'decompress', ...opts });
      return zstdNapi.decompress(data);
    },
    createZstdCompress: () => new zstdNapi.CompressStream(),
    createZstdDecompress: () => new zstdNapi.DecompressStream(),
  };

  it('is preferred to the package, which is then never loaded', () => {
    const loaded: string[] = [];
    const c = makeZstdCodec({ zlib: fakeZlib, load: (id) => loaded.push(id) });
    expect(c.availability()).toEqual({ ok: true, implementation: 'node:zlib' });
    const packed = c.compress(TEXT, 7);
    expect(calls.at(-1)).toMatchObject({ op: 'compress', params: { 100: 7 } });
    expect(c.decompress(packed).equals(TEXT)).toBe(true);
    expect(calls.at(-1)).toMatchObject({ op: 'decompress', params: { 100: ZSTD_WINDOW_LOG_MAX } });
    expect(catchLs(() => c.decompress(Buffer.from('nope'))).code).toBe('LS_ERR_DECODE');
    expect(catchLs(() => c.decompress(Buffer.alloc(0))).code).toBe('LS_ERR_DECODE');
    expect(catchLs(() => c.decompressChunks(Buffer.alloc(0)).next()).code).toBe('LS_ERR_DECODE');
    expect(loaded).toEqual([]);
  });

  it('this Node (20) has no zstd in node:zlib, so the table uses zstd-napi', () => {
    const hasBuiltin = typeof (zlib as unknown as Record<string, unknown>)['zstdCompressSync'] === 'function';
    const a = zstdCodec.availability();
    expect(a.ok && a.implementation).toBe(hasBuiltin ? 'node:zlib' : 'zstd-napi');
  });
});

describe.each(CODEC_NAMES.map((n) => [n]))('%s', (name) => {
  const codec = codecByName(name);

  it('round-trips the corpus at every level it has', () => {
    expect(codec.availability().ok).toBe(true);
    for (const level of levelsOf(codec)) {
      for (const [label, data] of CORPUS) {
        if (label === '~5 MiB' && level !== undefined && level > 12) continue; // high levels are slow, and `text` covers them
        const packed = codec.compress(data, level);
        if (name !== 'none' && level !== 0 && label === '1000 generated records')
          expect(packed.length).toBeLessThan(data.length / 2);
        const out = codec.decompress(packed);
        expect(out.equals(data), `${name} level ${String(level)} ${label}`).toBe(true);
        if (level === codec.levels?.default || level === undefined) {
          expect(Buffer.concat(chunksOf(codec, packed)).equals(data), `${name} chunks ${label}`).toBe(true);
        }
      }
    }
  });

  it('decompressChunks: an empty payload yields no chunk at all', () => {
    expect(chunksOf(codec, codec.compress(Buffer.alloc(0)))).toEqual([]);
  });

  if (codec.levels) {
    it('a level outside its range → LS_ERR_CODEC', () => {
      expect(catchLs(() => codec.compress(TEXT, codec.levels!.max + 1)).code).toBe('LS_ERR_CODEC');
      expect(catchLs(() => codec.compress(TEXT, codec.levels!.min - 1)).code).toBe('LS_ERR_CODEC');
      expect(catchLs(() => codec.compress(TEXT, 1.5)).code).toBe('LS_ERR_CODEC');
    });
  }

  if (name !== 'none') {
    it('garbage and an empty payload → LS_ERR_DECODE', () => {
      for (const data of ['not compressed at all', '']) {
        const err = catchLs(() => codec.decompress(Buffer.from(data)));
        expect(err.code).toBe('LS_ERR_DECODE');
        expect(err.cause === undefined || err.cause instanceof Error).toBe(true);
        expect(catchLs(() => chunksOf(codec, Buffer.from(data))).code).toBe('LS_ERR_DECODE');
      }
      const packed = codec.compress(TEXT);
      expect(catchLs(() => chunksOf(codec, packed.subarray(0, packed.length >> 1))).code).toBe('LS_ERR_DECODE');
    });
  }
});

describe('zstd and lz4 specifics', () => {
  it('zstd: levels 1..19, default 1; lz4: no levels (lz4_flex has only the fast mode)', () => {
    expect(codecByName('zstd').levels).toEqual({ min: 1, max: 19, default: 1 });
    expect(codecByName('lz4').levels).toBeUndefined();
    // A level given to lz4 is ignored, like for `none`.
    expect(codecByName('lz4').compress(TEXT, 9).equals(codecByName('lz4').compress(TEXT))).toBe(true);
  });

  it('zstd: higher levels do compress better on log records', () => {
    const batch = CORPUS.find(([l]) => l === '1000 generated records')![1];
    const size = (level: number) => codecByName('zstd').compress(batch, level).length;
    expect(size(19)).toBeLessThan(size(1));
  });

  it('zstd: several frames back to back, with and without content sizes, decode to their concatenation', () => {
    const a = zstdNapi.compress(Buffer.from('hello '));
    const b = zstdNapi.compress(Buffer.from('world'), { contentSizeFlag: false });
    const skippable = Buffer.from('502a4d1803000000616263', 'hex'); // a skippable frame holding "abc"
    const zs = codecByName('zstd');
    expect(zs.decompress(Buffer.concat([a, a])).toString()).toBe('hello hello ');
    expect(zs.decompress(Buffer.concat([a, skippable, b])).toString()).toBe('hello world');
    expect(Buffer.concat(chunksOf(zs, Buffer.concat([a, skippable, b]))).toString()).toBe('hello world');
  });

  it('zstd: a frame without content size is decoded in steps (large output, several chunks)', () => {
    const data = CORPUS.find(([l]) => l === '~5 MiB')![1];
    const packed = zstdNapi.compress(data, { contentSizeFlag: false, compressionLevel: 1 });
    expect(codecByName('zstd').decompress(packed).equals(data)).toBe(true);
    const chunks = chunksOf(codecByName('zstd'), packed);
    expect(chunks.length).toBeGreaterThan(1);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    expect(catchLs(() => codecByName('zstd').decompress(packed.subarray(0, packed.length - 1))).code).toBe(
      'LS_ERR_DECODE',
    );
    expect(catchLs(() => chunksOf(codecByName('zstd'), packed.subarray(0, packed.length - 1))).code).toBe(
      'LS_ERR_DECODE',
    );
  });

  it('zstd: a window over 2^ZSTD_WINDOW_LOG_MAX is refused as LS_ERR_TOO_LARGE (the decoder would reserve it)', async () => {
    // No content size (a streaming encoder does not know it): the decoder reserves the whole window.
    const packedWith = async (windowLog: number): Promise<Buffer> => {
      const parts: Buffer[] = [];
      await pipeline(
        Readable.from([Buffer.from('tiny')]),
        new zstdNapi.CompressStream({ windowLog }),
        async function* (src) {
          for await (const c of src) parts.push(c as Buffer);
        },
      );
      return Buffer.concat(parts);
    };
    const over = await packedWith(ZSTD_WINDOW_LOG_MAX + 1);
    expect(catchLs(() => chunksOf(codecByName('zstd'), over)).code).toBe('LS_ERR_TOO_LARGE');
    expect(catchLs(() => codecByName('zstd').decompress(over)).code).toBe('LS_ERR_TOO_LARGE');
    expect(Buffer.concat(chunksOf(codecByName('zstd'), await packedWith(ZSTD_WINDOW_LOG_MAX))).toString()).toBe('tiny');
  });

  it('lz4: our frames are standard LZ4 frames (an independent frame decoder, lz4_flex, reads them)', () => {
    const lz = codecByName('lz4');
    for (const [label, data] of CORPUS) {
      const packed = lz.compress(data);
      expect(packed.subarray(0, 4).toString('hex'), label).toBe('04224d18');
      expect(lz4Napi.decompressFrameSync(packed).equals(data), label).toBe(true);
      expect(walkLz4Frames(packed)[0]!.contentSize).toBe(data.length);
    }
  });

  it('lz4: frames from other encoders decode too (checksums, several frames, skippable frames)', () => {
    const lz = codecByName('lz4');
    for (const [label, data] of CORPUS) {
      expect(lz.decompress(lz4Napi.compressFrameSync(data)).equals(data), label).toBe(true);
    }
    const withSums = lz4Napi.compressFrameSync(TEXT, { contentChecksum: true, blockChecksums: true });
    expect(lz.decompress(withSums).equals(TEXT)).toBe(true);
    const bad = Buffer.from(withSums);
    bad[bad.length - 1]! ^= 1; // content checksum
    expect(catchLs(() => lz.decompress(bad)).code).toBe('LS_ERR_DECODE');
    const badBlock = Buffer.from(withSums);
    badBlock[badBlock.length - 9]! ^= 1; // the block checksum of the last block
    expect(catchLs(() => lz.decompress(badBlock)).code).toBe('LS_ERR_DECODE');
    const a = lz4Napi.compressFrameSync(Buffer.from('hello '));
    const skippable = Buffer.from('5a2a4d1803000000616263', 'hex');
    expect(lz.decompress(Buffer.concat([a, skippable, a])).toString()).toBe('hello hello ');
  });

  it('lz4: trailing bytes after the last frame → LS_ERR_DECODE (the native decoder would ignore them)', () => {
    const a = lz4Napi.compressFrameSync(TEXT);
    expect(catchLs(() => codecByName('lz4').decompress(Buffer.concat([a, Buffer.from('junk')]))).code).toBe(
      'LS_ERR_DECODE',
    );
  });

  it('lz4: linked blocks (each may refer to the previous 64 KiB) decode, with the previous output as dictionary', () => {
    const data = CORPUS.find(([l]) => l === '1000 generated records')![1];
    const frame = linkedFrame([
      data.subarray(0, 65536),
      data.subarray(65536, 100_000),
      data.subarray(100_000, 130_000),
    ]);
    expect(walkLz4Frames(frame)[0]!.linked).toBe(true);
    const want = data.subarray(0, 130_000);
    expect(lz4Napi.decompressFrameSync(frame).equals(want)).toBe(true); // the crafted frame is valid
    expect(codecByName('lz4').decompress(frame).equals(want)).toBe(true);
    expect(chunksOf(codecByName('lz4'), frame).map((c) => c.length)).toEqual([65536, 100_000 - 65536, 30_000]);
    // Without the dictionary the second block cannot be decoded: the dict is really used.
    const noDict: Lz4Native = { ...realNative(), decompressBlock: (b) => lz4Napi.uncompressSync(b) };
    expect(catchLs(() => [...lz4DecompressBlocks(frame, noDict)]).code).toBe('LS_ERR_DECODE');
  });

  it('lz4: malformed frame structure → LS_ERR_DECODE before any native call', () => {
    const good = lz4Napi.compressFrameSync(TEXT);
    const cases: Array<[string, Buffer]> = [
      ['legacy magic', Buffer.concat([Buffer.from('02214c18', 'hex'), good.subarray(4)])],
      ['bad version', withHeader(good, (h) => (h[4] = (h[4]! & 0x3f) | 0x80))],
      ['reserved FLG bit', withHeader(good, (h) => (h[4]! |= 0b10))],
      ['dictionary id', withHeader(good, (h) => (h[4]! |= 0b1))],
      ['block max id 3', withHeader(good, (h) => (h[5] = 0x30))],
      ['header checksum', Buffer.from(good).fill(good[6]! ^ 0xff, 6, 7)],
      ['block size over the maximum', withBlockSize(good, 0x7fffffff)],
      ['truncated', good.subarray(0, good.length - 2)],
      ['no end mark', good.subarray(0, good.length - 4)],
    ];
    const spy = countingNative();
    for (const [label, data] of cases) {
      const err = catchLs(() => lz4DecompressBlocks(data, spy.native).next());
      expect(err.code, label).toBe('LS_ERR_DECODE');
    }
    expect(spy.calls).toBe(0);
  });

  it('xxh32 matches the reference vectors', () => {
    expect(xxh32(Buffer.alloc(0))).toBe(0x02cc5d05);
    expect(xxh32(Buffer.from('a'))).toBe(0x550d7456);
    expect(xxh32(Buffer.from('abc'))).toBe(0x32d153ff);
    expect(xxh32(Buffer.from('Nobody inspects the spammish repetition'))).toBe(0xe2293b2f);
    expect(xxh32(Buffer.from('abc'), 1)).not.toBe(0x32d153ff);
  });
});

describe('decompression bombs, a chunk at a time: asking for one chunk decodes one chunk', () => {
  // Decoding a 1 GiB bomb in full would add ~1 GiB of RSS; its first chunk must cost a few MiB at most.
  // (Stopping at a limit is the receiver's job: lessons/day12 counts the chunks and stops asking.)
  const RSS_BUDGET = 48 << 20;

  function onlyFirstChunk(codec: Codec, bomb: Buffer): number {
    const rss0 = process.memoryUsage.rss();
    const first = firstChunk(codec, bomb);
    expect(first?.length ?? 0).toBeGreaterThan(0);
    expect(first!.length).toBeLessThanOrEqual(MAX_CHUNK_BYTES);
    expect(process.memoryUsage.rss() - rss0).toBeLessThan(RSS_BUDGET);
    return first!.length;
  }

  it('gzip: ~1 MB that inflates to 1 GiB', () => {
    const bomb = gzipBomb();
    expect(bomb.length).toBeLessThan(2 << 20);
    onlyFirstChunk(codecByName('gzip'), bomb);
  });

  it('brotli: a few KiB that inflate to 64 MiB', () => {
    const bomb = zlib.brotliCompressSync(zeros(), { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 } });
    expect(bomb.length).toBeLessThan(64 << 10);
    onlyFirstChunk(codecByName('brotli'), bomb);
  });

  it('zstd, content size declared (1 GiB in 16 frames): the declared size is not allocated', () => {
    const frame = codecByName('zstd').compress(zeros());
    const bomb = Buffer.concat(Array.from({ length: 16 }, () => frame));
    expect(bomb.length).toBeLessThan(64 << 10);
    const spy = spyZstd();
    onlyFirstChunk(spy.codec, bomb);
    expect(spy.produced()).toBeLessThanOrEqual(MAX_CHUNK_BYTES);
  });

  it('zstd, no content size (1 GiB in 16 frames)', () => {
    const frame = zstdNapi.compress(zeros(), { contentSizeFlag: false, compressionLevel: 1 });
    const bomb = Buffer.concat(Array.from({ length: 16 }, () => frame));
    const spy = spyZstd();
    onlyFirstChunk(spy.codec, bomb);
    expect(spy.produced()).toBeLessThanOrEqual(MAX_CHUNK_BYTES);
  });

  it('lz4 (1 GiB in 16 frames, with and without content sizes): one block per chunk', () => {
    const sized = codecByName('lz4').compress(zeros());
    const unsized = lz4Napi.compressFrameSync(zeros());
    expect(walkLz4Frames(unsized)[0]!.contentSize).toBeUndefined();
    for (const frame of [sized, unsized]) {
      const bomb = Buffer.concat(Array.from({ length: 16 }, () => frame));
      const spy = countingNative();
      const it = lz4DecompressBlocks(bomb, spy.native);
      expect(it.next().done).toBe(false);
      it.return();
      expect(spy.calls).toBe(1);
      expect(spy.produced).toBeLessThanOrEqual(4 << 20);
    }
  });

  it('lz4 with a declared content size of 1 GiB and no blocks: LS_ERR_DECODE from the walk, nothing decoded', () => {
    const frame = Buffer.concat([lz4Header(0x40 | 0x20 | 0x08, 0x70, 2 ** 30), Buffer.alloc(4)]);
    const spy = countingNative();
    expect(catchLs(() => lz4DecompressBlocks(frame, spy.native).next()).code).toBe('LS_ERR_DECODE');
    expect(spy.calls).toBe(0);
  });
});

describe('corrupt zstd / lz4 payloads in a valid frame (CRC recomputed) → LS_ERR_DECODE', () => {
  const RECORDS = [
    '{"ts":"2026-11-26T14:13:48.123Z","level":"info","msg":"hello"}',
    '{"ts":"2026-11-26T14:13:48.124Z","level":"warn","msg":"héllo €"}',
  ];
  /** A BATCH frame around `payload`, through encodeFrame (which computes the CRC) and a FrameDecoder. */
  const batchFrame = (payload: Buffer, codec: number): Frame =>
    new FrameDecoder().push(
      encodeFrame({ type: FrameType.BATCH, codec, count: RECORDS.length, stream: 1, seq: 1, payload }),
    )[0]!;
  it.each([
    ['zstd', 2],
    ['lz4', 3],
  ])('%s', (_n, codec) => {
    const good = new FrameDecoder().push(encodeBatch({ stream: 1, seq: 1, records: RECORDS, codec }))[0]!;
    // decodeBatch takes codec 0 only unless given a payload decoder: the plain one will do for a test
    const plain = { decodePayload: (f: Frame) => codecById(f.codec).decompress(f.payload) };
    expect(catchLs(() => decodeBatch(good)).code).toBe('LS_ERR_CODEC_UNAVAILABLE');
    expect(decodeBatch(good, plain).map(String)).toEqual(RECORDS);
    for (const damage of [
      (b: Buffer) => b.fill(0x00, 0, 4), // magic
      (b: Buffer) => b.subarray(0, b.length - 3), // truncated
      (b: Buffer) => b.subarray(0, 6), // header only
      (b: Buffer) => Buffer.concat([b, Buffer.from([1, 2, 3, 4, 5, 6, 7, 8])]), // trailing junk
    ]) {
      const frame = batchFrame(damage(Buffer.from(good.payload)), codec);
      expect(catchLs(() => decodeBatch(frame, plain)).code).toBe('LS_ERR_DECODE');
    }
  });
});

describe('seeded fuzz of the decoders: chunks of at most MAX_CHUNK_BYTES, only LsError ever escapes', () => {
  const RUNS = { seed: fuzzSeed('codecs'), numRuns: 300 };
  const MAGIC: Record<string, Buffer> = {
    zstd: Buffer.from('28b52ffd', 'hex'),
    lz4: Buffer.from('04224d18', 'hex'),
    gzip: Buffer.from('1f8b08', 'hex'),
    brotli: Buffer.alloc(0),
  };

  /** At most `steps` chunks (a consumer may stop at any one): each within MAX_CHUNK_BYTES, or an LsError. */
  function check(codec: Codec, data: Buffer, steps: number): void {
    try {
      let n = 0;
      for (const c of codec.decompressChunks(data)) {
        expect(c.length).toBeLessThanOrEqual(MAX_CHUNK_BYTES);
        if (++n >= steps) break;
      }
    } catch (err) {
      if (!(err instanceof LsError)) throw err;
      expect(['LS_ERR_DECODE', 'LS_ERR_TOO_LARGE']).toContain(err.code);
    }
  }

  const limits = fc.constantFrom(1, 2, 16);

  it.each(['zstd', 'lz4', 'gzip', 'brotli'])('%s', (name) => {
    const codec = codecByName(name);
    const random = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.concat([MAGIC[name]!, b])),
    );
    // Real payloads, then damaged: byte overwrites, truncation, or both.
    const damaged = fc
      .tuple(
        fc.array(fc.string({ maxLength: 40 }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { maxLength: 4 }),
        fc.option(fc.nat()),
      )
      .map(([recs, dmg, cut]) => {
        let b = Buffer.from(codec.compress(Buffer.from(recs.join('\n'))));
        for (const { at, byte } of dmg) b[at % b.length] = byte;
        if (cut !== null) b = b.subarray(0, cut % (b.length + 1));
        return b;
      });
    fc.assert(
      fc.property(fc.oneof(random, damaged), limits, (data, max) => check(codec, data, max)),
      RUNS,
    );
  });

  it('lz4, structurally valid frames with random block contents (reaches the native block decoders)', () => {
    const block = fc.tuple(fc.boolean(), fc.uint8Array({ minLength: 1, maxLength: 200 }));
    const frameArb = fc.tuple(fc.boolean(), fc.array(block, { minLength: 1, maxLength: 4 })).map(([linked, blocks]) =>
      Buffer.concat([
        lz4Header(linked ? 0x40 : 0x60, 0x40),
        ...blocks.map(([raw, body]) => {
          const head = Buffer.alloc(4);
          head.writeUInt32LE((body.length | (raw ? 0x80000000 : 0)) >>> 0);
          return Buffer.concat([head, body]);
        }),
        Buffer.alloc(4),
      ]),
    );
    fc.assert(
      fc.property(frameArb, limits, (data, max) => {
        check(codecByName('lz4'), data, max);
        try {
          for (const c of lz4DecompressBlocks(data, realNative())) expect(c.length).toBeLessThanOrEqual(64 << 10);
        } catch (err) {
          if (!(err instanceof LsError)) throw err;
        }
      }),
      RUNS,
    );
  });
});

describe('zstd streams (files at rest)', () => {
  it('compressStream | decompressStream round-trips, and the output is a standard zstd frame', async () => {
    const data = CORPUS.find(([l]) => l === '~5 MiB')![1];
    const packed: Buffer[] = [];
    await pipeline(
      Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]),
      zstdCodec.compressStream(3),
      async function* (src) {
        for await (const c of src) packed.push(c as Buffer);
      },
    );
    const file = Buffer.concat(packed);
    expect(zstdNapi.decompress(file).equals(data)).toBe(true);
    const back: Buffer[] = [];
    await pipeline(Readable.from([file]), zstdCodec.decompressStream(), async function* (src) {
      for await (const c of src) back.push(c as Buffer);
    });
    expect(Buffer.concat(back).equals(data)).toBe(true);
    expect(catchLs(() => zstdCodec.compressStream(20)).code).toBe('LS_ERR_CODEC');
  });
});

// --- helpers --------------------------------------------------------------------------------------

/** lz4-napi's block functions, as codecs.ts wires them. */
function realNative(): Lz4Native {
  return {
    compressBlock: (d) => lz4Napi.compressSync(d),
    decompressBlock: (b, d) => (d === undefined ? lz4Napi.uncompressSync(b) : lz4Napi.uncompressSync(b, d)),
  };
}

/** The real lz4 block decoder, counting calls and bytes produced. */
function countingNative(): { native: Lz4Native; calls: number; produced: number } {
  const real = realNative();
  const s = {
    calls: 0,
    produced: 0,
    native: {
      compressBlock: (b: Buffer) => real.compressBlock(b),
      decompressBlock(b: Buffer, d?: Buffer) {
        s.calls++;
        const out = real.decompressBlock(b, d);
        s.produced += out.length;
        return out;
      },
    },
  };
  return s;
}

/** A zstd codec on the real zstd-napi whose decompression contexts count every byte they produce. */
function spyZstd(): { codec: Codec; produced: () => number } {
  let produced = 0;
  type DCtx = {
    decompress(d: Uint8Array, s: Uint8Array): number;
    decompressStream(d: Uint8Array, s: Uint8Array): [number, number, number];
  };
  const load: ModuleLoader = (id) => {
    const real = realLoad(id) as Record<string, unknown>;
    if (id !== 'zstd-napi/binding') return real;
    const RealDCtx = real['DCtx'] as new () => DCtx;
    class CountingDCtx extends RealDCtx {
      override decompress(d: Uint8Array, s: Uint8Array): number {
        const n = super.decompress(d, s);
        produced += n;
        return n;
      }
      override decompressStream(d: Uint8Array, s: Uint8Array): [number, number, number] {
        const r = super.decompressStream(d, s);
        produced += r[1];
        return r;
      }
    }
    return { ...real, DCtx: CountingDCtx };
  };
  return { codec: makeZstdCodec({ load, zlib: {} }), produced: () => produced };
}

/** An LZ4 frame header (magic, FLG, BD, optional content size, header checksum). */
function lz4Header(flg: number, bd: number, contentSize?: number): Buffer {
  const desc = Buffer.alloc(contentSize === undefined ? 2 : 10);
  desc[0] = flg;
  desc[1] = bd;
  if (contentSize !== undefined) desc.writeBigUInt64LE(BigInt(contentSize), 2);
  const magic = Buffer.from('04224d18', 'hex');
  return Buffer.concat([magic, desc, Buffer.from([(xxh32(desc) >>> 8) & 0xff])]);
}

/** A linked-blocks frame (64 KiB blocks), each block compressed with the previous data as dictionary. */
function linkedFrame(parts: Buffer[]): Buffer {
  const out: Buffer[] = [lz4Header(0x40, 0x40)];
  let prev = Buffer.alloc(0);
  for (const p of parts) {
    const block = (prev.length ? lz4Napi.compressSync(p, prev.subarray(-65536)) : lz4Napi.compressSync(p)).subarray(4);
    const head = Buffer.alloc(4);
    head.writeUInt32LE(block.length);
    out.push(head, block);
    prev = Buffer.concat([prev, p]);
  }
  out.push(Buffer.alloc(4));
  return Buffer.concat(out);
}

/** `frame` with its FLG/BD bytes edited and the header checksum recomputed. */
function withHeader(frame: Buffer, edit: (h: Buffer) => void): Buffer {
  const b = Buffer.from(frame);
  edit(b);
  b[6] = (xxh32(b.subarray(4, 6)) >>> 8) & 0xff;
  return b;
}

/** `frame` (no content size) with its first block size word replaced. */
function withBlockSize(frame: Buffer, word: number): Buffer {
  const b = Buffer.from(frame);
  b.writeUInt32LE(word >>> 0, 7);
  return b;
}
