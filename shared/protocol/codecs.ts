/**
 * The payload codecs of LSP/1 (§3, header byte 4), in ONE table keyed by codec id.
 *
 * Everything that needs a codec goes through this table: the frame decoder asks it whether an id is
 * known, `decodeBatch` asks it to decompress, shippers look codecs up by the name a user typed.
 * Adding a codec (zstd, lz4) is a change to its table entry and nothing else.
 *
 * Decompression is bounded: the caller passes `maxOutputBytes` and a payload that would inflate past it
 * fails with LS_ERR_TOO_LARGE as soon as the limit is crossed, without producing the rest (a
 * "decompression bomb" of a few KiB that expands to GiBs costs us at most the limit). A payload the
 * codec cannot decode fails with LS_ERR_DECODE.
 */
import zlib from 'node:zlib';
import { LsError, LS_ERR } from './errors.ts';

export type CodecName = 'none' | 'gzip' | 'zstd' | 'lz4' | 'brotli';

export type CodecAvailability = { ok: true } | { ok: false; reason: string };

export interface Codec {
  /** The id carried in the frame header. */
  id: number;
  name: CodecName;
  /** Compression levels this codec accepts; absent when it has none. */
  levels?: { min: number; max: number; default: number };
  /** Whether this process can use the codec; when not, `reason` says what to install. */
  availability(): CodecAvailability;
  /** Compress `data`; `level` defaults to `levels.default`. Throws LsError (never a plain Error). */
  compress(data: Buffer, level?: number): Buffer;
  /** Decompress `data`, refusing to produce more than `maxOutputBytes` bytes. Throws LsError. */
  decompress(data: Buffer, maxOutputBytes: number): Buffer;
}

const AVAILABLE: CodecAvailability = Object.freeze({ ok: true });

function checkLevel(codec: Codec, level: number | undefined): number {
  const range = codec.levels;
  if (range === undefined) return 0;
  if (level === undefined) return range.default;
  if (!Number.isInteger(level) || level < range.min || level > range.max) {
    throw new LsError(
      LS_ERR.LS_ERR_CODEC,
      `${codec.name} level must be an integer in ${range.min}..${range.max}, got ${String(level)}`,
    );
  }
  return level;
}

/**
 * Run one of node:zlib's sync decompressors with an output cap and map its failures to our codes.
 * zlib stops as soon as the output passes `maxOutputLength` (RangeError ERR_BUFFER_TOO_LARGE), which is
 * what makes a bomb cheap to refuse.
 */
function zlibDecompress(
  name: CodecName,
  run: (opts: { maxOutputLength: number }) => Buffer,
  maxOutputBytes: number,
): Buffer {
  // zlib rejects a cap of 0; nothing decodes to fewer than 0 bytes, so 1 with a post-check is the same.
  const cap = Math.max(1, Math.min(maxOutputBytes, 2 ** 32));
  let out: Buffer;
  try {
    out = run({ maxOutputLength: cap });
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new LsError(LS_ERR.LS_ERR_TOO_LARGE, `${name} payload inflates past ${maxOutputBytes} bytes`, {
        cause: err,
      });
    }
    throw new LsError(LS_ERR.LS_ERR_DECODE, `${name} payload does not decompress: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (out.length > maxOutputBytes) {
    throw new LsError(LS_ERR.LS_ERR_TOO_LARGE, `${name} payload inflates past ${maxOutputBytes} bytes`);
  }
  return out;
}

function zlibCompress(name: CodecName, run: () => Buffer): Buffer {
  try {
    return run();
  } catch (err) {
    // Only reachable on absurd inputs (e.g. over Node's buffer limit); keep the no-plain-Error promise.
    throw new LsError(LS_ERR.LS_ERR_CODEC, `${name} compression failed: ${(err as Error).message}`, { cause: err });
  }
}

const none: Codec = {
  id: 0,
  name: 'none',
  availability: () => AVAILABLE,
  compress: (data) => data,
  decompress(data, maxOutputBytes) {
    if (data.length > maxOutputBytes) {
      throw new LsError(LS_ERR.LS_ERR_TOO_LARGE, `payload of ${data.length} bytes is over ${maxOutputBytes}`);
    }
    return data;
  },
};

const gzip: Codec = {
  id: 1,
  name: 'gzip',
  levels: { min: 0, max: 9, default: 6 },
  availability: () => AVAILABLE,
  compress(data, level) {
    const lvl = checkLevel(gzip, level);
    return zlibCompress('gzip', () => zlib.gzipSync(data, { level: lvl }));
  },
  decompress: (data, maxOutputBytes) => zlibDecompress('gzip', (o) => zlib.gunzipSync(data, o), maxOutputBytes),
};

const brotli: Codec = {
  id: 4,
  name: 'brotli',
  // Brotli's own default quality is 11, which is far too slow for a log stream; 4 is a common
  // "fast but still much better than gzip -1" choice. Measure with `npm run bench` before changing it.
  levels: { min: 0, max: 11, default: 4 },
  availability: () => AVAILABLE,
  compress(data, level) {
    const quality = checkLevel(brotli, level);
    return zlibCompress('brotli', () =>
      zlib.brotliCompressSync(data, {
        params: {
          [zlib.constants.BROTLI_PARAM_QUALITY]: quality,
          [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
          [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length,
        },
      }),
    );
  },
  decompress: (data, maxOutputBytes) =>
    zlibDecompress('brotli', (o) => zlib.brotliDecompressSync(data, o), maxOutputBytes),
};

/** A codec LSP/1 defines but this build cannot run yet: its entry says what to install. */
function unavailable(id: number, name: CodecName, reason: string): Codec {
  const fail = (): never => {
    throw new LsError(LS_ERR.LS_ERR_CODEC_UNAVAILABLE, reason);
  };
  return { id, name, availability: () => ({ ok: false, reason }), compress: fail, decompress: fail };
}

const zstd = unavailable(2, 'zstd', 'zstd unavailable: npm install zstd-napi');
const lz4 = unavailable(3, 'lz4', 'lz4 unavailable: npm install lz4-napi');

/** The codec table, keyed by LSP/1 codec id. */
export const CODECS: ReadonlyMap<number, Codec> = new Map([none, gzip, zstd, lz4, brotli].map((c) => [c.id, c]));

const BY_NAME: ReadonlyMap<string, Codec> = new Map([...CODECS.values()].map((c) => [c.name, c]));

/** Codec names in id order, e.g. for a CLI's `--codec` help. */
export const CODEC_NAMES: readonly CodecName[] = [...CODECS.values()].map((c) => c.name);

/** The codec with this id; LS_ERR_CODEC when LSP/1 defines none. Does not check availability. */
export function codecById(id: number): Codec {
  const codec = CODECS.get(id);
  if (codec === undefined) throw new LsError(LS_ERR.LS_ERR_CODEC, `unknown codec id ${String(id)}`);
  return codec;
}

/** The codec with this name ('gzip', …); LS_ERR_CODEC when there is none. Does not check availability. */
export function codecByName(name: string): Codec {
  const codec = BY_NAME.get(name);
  if (codec === undefined) {
    throw new LsError(LS_ERR.LS_ERR_CODEC, `unknown codec "${name}" (known: ${CODEC_NAMES.join(', ')})`);
  }
  return codec;
}

/** Like codecById, but also LS_ERR_CODEC_UNAVAILABLE when this process cannot run it. */
export function usableCodec(id: number): Codec {
  const codec = codecById(id);
  const avail = codec.availability();
  if (!avail.ok) throw new LsError(LS_ERR.LS_ERR_CODEC_UNAVAILABLE, avail.reason);
  return codec;
}
