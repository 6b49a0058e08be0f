import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { CODECS, CODEC_NAMES, codecById, codecByName, usableCodec } from './codecs.ts';
import { DEFAULT_MAX_DECODED_BYTES } from './limits.ts';
import { catchLs } from './test-support.ts';

const TEXT = Buffer.from(
  Array.from({ length: 200 }, (_, i) => `{"ts":"2026-11-26T14:13:48.${String(i % 1000).padStart(3, '0')}Z","level":"info","msg":"req ${i}"}`).join('\n') + '\n',
);

/** ~1 GiB of zeros as 1024 concatenated gzip members of 1 MiB each: about 1 MB on the wire. */
function gzipBomb(): Buffer {
  const member = zlib.gzipSync(Buffer.alloc(1 << 20), { level: 9 });
  return Buffer.concat(Array.from({ length: 1024 }, () => member));
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
  });

  it('unknown id or name → LS_ERR_CODEC', () => {
    expect(catchLs(() => codecById(5)).code).toBe('LS_ERR_CODEC');
    expect(catchLs(() => codecById(-1)).code).toBe('LS_ERR_CODEC');
    expect(catchLs(() => codecByName('snappy')).code).toBe('LS_ERR_CODEC');
  });

  it('zstd and lz4 report themselves unavailable with an install hint', () => {
    for (const name of ['zstd', 'lz4']) {
      const c = codecByName(name);
      const a = c.availability();
      expect(a.ok).toBe(false);
      if (!a.ok) expect(a.reason).toMatch(/npm install/);
      expect(catchLs(() => c.compress(TEXT)).code).toBe('LS_ERR_CODEC_UNAVAILABLE');
      expect(catchLs(() => c.decompress(TEXT, 1000)).code).toBe('LS_ERR_CODEC_UNAVAILABLE');
      expect(catchLs(() => usableCodec(c.id)).code).toBe('LS_ERR_CODEC_UNAVAILABLE');
    }
  });
});

describe.each(['none', 'gzip', 'brotli'])('%s', (name) => {
  const codec = codecByName(name);

  it('is available and round-trips at every level', () => {
    expect(codec.availability()).toEqual({ ok: true });
    const levels = codec.levels ? [codec.levels.min, codec.levels.default, codec.levels.max] : [undefined];
    for (const level of levels) {
      const packed = codec.compress(TEXT, level);
      if (name !== 'none' && level !== 0) expect(packed.length).toBeLessThan(TEXT.length);
      expect(codec.decompress(packed, TEXT.length).equals(TEXT)).toBe(true);
    }
    expect(codec.decompress(codec.compress(Buffer.alloc(0)), 10).length).toBe(0);
  });

  it('output one byte over the limit → LS_ERR_TOO_LARGE', () => {
    const err = catchLs(() => codec.decompress(codec.compress(TEXT), TEXT.length - 1));
    expect(err.code).toBe('LS_ERR_TOO_LARGE');
  });

  it('a limit of 0 still works for an empty payload and refuses anything else', () => {
    expect(codec.decompress(codec.compress(Buffer.alloc(0)), 0).length).toBe(0);
    expect(catchLs(() => codec.decompress(codec.compress(Buffer.from('x')), 0)).code).toBe('LS_ERR_TOO_LARGE');
  });

  if (codec.levels) {
    it('a level outside its range → LS_ERR_CODEC', () => {
      expect(catchLs(() => codec.compress(TEXT, codec.levels!.max + 1)).code).toBe('LS_ERR_CODEC');
      expect(catchLs(() => codec.compress(TEXT, 1.5)).code).toBe('LS_ERR_CODEC');
    });
  }
});

describe('decompression bombs and corrupt input', () => {
  it('gzip: ~1 MB that inflates to 1 GiB stops at the 32 MiB limit', () => {
    const bomb = gzipBomb();
    expect(bomb.length).toBeLessThan(2 << 20);
    const err = catchLs(() => codecByName('gzip').decompress(bomb, DEFAULT_MAX_DECODED_BYTES));
    expect(err.code).toBe('LS_ERR_TOO_LARGE');
  });

  it('brotli: a few KiB that inflate to 64 MiB stop at a 32 MiB limit', () => {
    const bomb = zlib.brotliCompressSync(Buffer.alloc(64 << 20), {
      params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 },
    });
    expect(bomb.length).toBeLessThan(64 << 10);
    const err = catchLs(() => codecByName('brotli').decompress(bomb, DEFAULT_MAX_DECODED_BYTES));
    expect(err.code).toBe('LS_ERR_TOO_LARGE');
  });

  it.each([
    ['gzip', 'not gzip at all'],
    ['gzip', ''],
    ['brotli', 'not brotli at all'],
    ['brotli', ''],
  ])('%s on %j → LS_ERR_DECODE', (name, data) => {
    const err = catchLs(() => codecByName(name).decompress(Buffer.from(data), 1 << 20));
    expect(err.code).toBe('LS_ERR_DECODE');
    expect(err.cause).toBeInstanceOf(Error);
  });

  it('gzip with a damaged trailer (data check) or truncated → LS_ERR_DECODE', () => {
    const gz = codecByName('gzip').compress(TEXT);
    const badCrc = Buffer.from(gz);
    badCrc[badCrc.length - 6]! ^= 0xff;
    expect(catchLs(() => codecByName('gzip').decompress(badCrc, 1 << 20)).code).toBe('LS_ERR_DECODE');
    expect(catchLs(() => codecByName('gzip').decompress(gz.subarray(0, gz.length - 10), 1 << 20)).code).toBe('LS_ERR_DECODE');
  });
});
