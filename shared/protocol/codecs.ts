/**
 * The payload codecs of LSP/1 (§3, header byte 4), in ONE table keyed by codec id.
 *
 * Everything that needs a codec goes through this table: the frame decoder asks it whether an id is
 * known, shippers look codecs up by the name a user typed, receivers and file readers decompress with it.
 * Adding a codec is a change to its table entry and nothing else.
 *
 *   0 none · 1 gzip (node:zlib) · 2 zstd (node:zlib on Node ≥ 22.15, else zstd-napi) · 3 lz4 (lz4-napi,
 *   LZ4 frame format) · 4 brotli (node:zlib). zstd and lz4 need an optional package, loaded lazily: when
 *   it is missing, `availability()` says what to install and import still works.
 *
 * Two ways to decompress, for two kinds of input:
 *   - `decompress(data)`: all of it, in one call, no limit. For bytes we wrote ourselves or trust (files at
 *     rest, tests, benchmarks) — never for a payload a peer sent: a few KiB can inflate to GiBs.
 *   - `decompressChunks(data)`: a generator that yields the output a chunk at a time (each at most
 *     MAX_CHUNK_BYTES) and decodes the next chunk only when asked. It sets no limit itself: the caller
 *     counts what it received and stops asking (shared/protocol/README.md §5: a receiver bounds what one BATCH may decode to).
 * Both throw LsError: LS_ERR_DECODE for a payload the codec cannot decode (the generator at the chunk
 * where it shows), LS_ERR_CODEC_UNAVAILABLE when the codec's package is missing.
 */
import { createRequire } from 'node:module';
import type { Transform } from 'node:stream';
import zlib from 'node:zlib';
import { LsError, LS_ERR } from './errors.ts';
import { lz4CompressFrame, lz4DecompressBlocks, type Lz4Native } from './lz4-frame.ts';

export type CodecName = 'none' | 'gzip' | 'zstd' | 'lz4' | 'brotli';

/** `implementation` names what runs a codec that has a choice (e.g. 'zstd-napi' or 'node:zlib'). */
export type CodecAvailability = { ok: true; implementation?: string } | { ok: false; reason: string };

/**
 * The largest chunk `decompressChunks` yields (none excepted: it yields the payload itself). A caller that
 * stops once its count passes a limit has produced at most limit + this.
 */
export const MAX_CHUNK_BYTES = 4 << 20;

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
  /**
   * Decompress all of `data` at once, with NO limit on the output: for trusted bytes only (our own files,
   * tests, benchmarks). Throws LsError (LS_ERR_DECODE when `data` does not decompress).
   */
  decompress(data: Buffer): Buffer;
  /**
   * Decompress `data` a chunk at a time: each step yields the next ≤ MAX_CHUNK_BYTES of output, and nothing
   * more is decoded until the caller asks for the next (stop iterating and the decoder is dropped). The
   * chunks, joined, are what decompress(data) returns. Throws LsError from the step where the payload
   * turns out not to decode (LS_ERR_DECODE).
   */
  decompressChunks(data: Buffer): Generator<Buffer, void, undefined>;
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

const notDecodable = (name: string, cause: unknown): LsError =>
  new LsError(
    LS_ERR.LS_ERR_DECODE,
    `${name} payload does not decompress: ${(cause as Error)?.message ?? String(cause)}`,
    { cause },
  );

/** One of node:zlib's sync decompressors, all at once, its failures mapped to LS_ERR_DECODE. */
function zlibDecompress(name: CodecName, run: () => Buffer): Buffer {
  try {
    return run();
  } catch (err) {
    throw notDecodable(name, err);
  }
}

function zlibCompress(name: CodecName, run: () => Buffer): Buffer {
  try {
    return run();
  } catch (err) {
    // Only reachable on absurd inputs (e.g. over Node's buffer limit); keep the no-plain-Error promise.
    throw new LsError(LS_ERR.LS_ERR_CODEC, `${name} compression failed: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The part of a node:zlib engine (`new zlib.Gunzip()`, …) that its own *Sync functions drive: the native
 * handle's writeSync() fills at most the output buffer it is given and reports what is left in
 * `_writeState` ([output space left, input left]). Not public API, but the one way to run zlib
 * synchronously a buffer at a time; stable since Node 10 (lib/zlib.js processChunkSync).
 */
interface SteppableZlib {
  _handle: {
    writeSync(
      flush: number,
      input: Buffer,
      inOff: number,
      inLen: number,
      out: Buffer,
      outOff: number,
      outLen: number,
    ): void;
  } | null;
  _writeState: Uint32Array;
  _finishFlushFlag: number;
  errored: Error | null;
  destroyed: boolean;
  on(event: 'error', fn: (err: Error) => void): unknown;
  close(): void;
}

function isSteppable(e: unknown): e is SteppableZlib {
  const z = e as Partial<SteppableZlib>;
  return (
    typeof z._handle?.writeSync === 'function' &&
    z._writeState instanceof Uint32Array &&
    typeof z._finishFlushFlag === 'number'
  );
}

/** First output buffer of a zlib step; later ones double, up to MAX_CHUNK_BYTES. */
const ZLIB_FIRST_STEP = 64 << 10;

/**
 * Runs a node:zlib decompressing engine one output buffer at a time. Errors (zlib reports them through
 * the engine, which it destroys) become LS_ERR_DECODE.
 */
function* zlibChunks(name: CodecName, engine: unknown, data: Buffer): Generator<Buffer, void, undefined> {
  if (!isSteppable(engine)) {
    throw new LsError(LS_ERR.LS_ERR_CODEC_UNAVAILABLE, `${name}: this Node's zlib cannot be run a chunk at a time`);
  }
  engine.on('error', () => {}); // reported synchronously through `errored` below; the event comes later
  const handle = engine._handle!;
  const state = engine._writeState;
  let inOff = 0;
  let inLeft = data.length;
  let step = ZLIB_FIRST_STEP;
  try {
    for (;;) {
      const out = Buffer.allocUnsafe(step);
      handle.writeSync(engine._finishFlushFlag, data, inOff, inLeft, out, 0, step);
      if (engine.errored || engine.destroyed)
        throw notDecodable(name, engine.errored ?? new Error('the decoder failed'));
      const outLeft = state[0]!;
      inOff += inLeft - state[1]!;
      inLeft = state[1]!;
      const produced = step - outLeft;
      if (produced > 0) yield out.subarray(0, produced);
      if (outLeft !== 0) return; // room to spare: everything the input holds has been produced
      step = Math.min(MAX_CHUNK_BYTES, step * 2);
    }
  } finally {
    if (!engine.destroyed) engine.close();
  }
}

const none: Codec = {
  id: 0,
  name: 'none',
  availability: () => AVAILABLE,
  compress: (data) => data,
  decompress: (data) => data,
  *decompressChunks(data) {
    if (data.length > 0) yield data;
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
  decompress: (data) => zlibDecompress('gzip', () => zlib.gunzipSync(data)),
  decompressChunks: (data) => zlibChunks('gzip', new zlib.Gunzip(), data),
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
  decompress: (data) => zlibDecompress('brotli', () => zlib.brotliDecompressSync(data)),
  decompressChunks: (data) => zlibChunks('brotli', new zlib.BrotliDecompress(), data),
};

// ---------------------------------------------------------------------------------------------------
// Codecs backed by optional native packages: zstd (2) and lz4 (3).
//
// The packages are loaded lazily, on the first availability()/compress()/decompress() call, through a
// loader (createRequire by default; tests inject a failing one). A missing or broken package never
// breaks `import`: the codec reports { ok: false, reason: "… npm install …" } and its compress/decompress
// throw LS_ERR_CODEC_UNAVAILABLE with the load error as `cause`.
// ---------------------------------------------------------------------------------------------------

/** Loads a CommonJS package by name (like `require`). Injectable so tests can simulate a missing package. */
export type ModuleLoader = (specifier: string) => unknown;

const defaultLoader: ModuleLoader = createRequire(import.meta.url);

type Loaded<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Runs `load` once, on first use, and remembers the result (a failure too: no retry per call). */
function lazily<T>(load: () => T): () => Loaded<T> {
  let state: Loaded<T> | undefined;
  return () => {
    if (state === undefined) {
      try {
        state = { ok: true, value: load() };
      } catch (error) {
        state = { ok: false, error };
      }
    }
    return state;
  };
}

function isFn(o: unknown, ...names: string[]): boolean {
  return (
    typeof o === 'object' && o !== null && names.every((n) => typeof (o as Record<string, unknown>)[n] === 'function')
  );
}

// --- zstd --------------------------------------------------------------------------------------------

/** A zstd codec, plus the streaming (de)compressors the file sink and readers use for files at rest. */
export interface ZstdCodec extends Codec {
  /** A Transform that zstd-compresses a byte stream (one frame). LS_ERR_CODEC_UNAVAILABLE if no backend. */
  compressStream(level?: number): Transform;
  /** A Transform that decompresses a zstd byte stream (unbounded: for our own files, not for the wire). */
  decompressStream(): Transform;
}

interface ZstdBackend {
  implementation: string;
  compress(data: Buffer, level: number): Buffer;
  decompress(data: Buffer): Buffer;
  decompressChunks(data: Buffer): Generator<Buffer, void, undefined>;
  compressStream(level: number): Transform;
  decompressStream(): Transform;
}

/**
 * The largest window a zstd decoder here accepts (ZSTD_d_windowLogMax): 2^27 = 128 MiB, zstd's own
 * default. A frame whose content size is unknown makes the streaming decoder reserve its declared window
 * up front, so without a cap a 20-byte frame could ask for 2 GiB; levels 1..19 use at most 8 MiB.
 */
export const ZSTD_WINDOW_LOG_MAX = 27;

/** zstd reports a window over the cap as this error. */
const WINDOW_TOO_LARGE = /too much memory|window ?too ?large/i;

const zstdFailure = (err: unknown): LsError =>
  err instanceof LsError
    ? err
    : WINDOW_TOO_LARGE.test((err as Error)?.message ?? '')
      ? new LsError(LS_ERR.LS_ERR_TOO_LARGE, `zstd payload needs a window over 2^${ZSTD_WINDOW_LOG_MAX} bytes`, {
          cause: err,
        })
      : notDecodable('zstd', err);

/** The part of zstd-napi's low-level binding (`zstd-napi/binding`) we use. */
interface ZstdBinding {
  CCtx: new () => { compress(dst: Uint8Array, src: Uint8Array, level: number): number };
  DCtx: new () => ZstdDCtx;
  DParameter: { windowLogMax: number };
  ResetDirective: { sessionOnly: number };
  getFrameContentSize(frame: Uint8Array): number | null;
  findFrameCompressedSize(frame: Uint8Array): number;
  compressBound(size: number): number;
}

interface ZstdDCtx {
  decompress(dst: Uint8Array, src: Uint8Array): number;
  decompressStream(dst: Uint8Array, src: Uint8Array): [number, number, number];
  setParameter(param: number, value: number): void;
  reset(directive: number): void;
}

interface ZstdNapiIndex {
  CompressStream: new (params?: Record<string, unknown>) => Transform;
  DecompressStream: new (params?: Record<string, unknown>) => Transform;
}

/** Largest compression scratch buffer we keep between calls (larger inputs get a one-off buffer). */
const SCRATCH_KEEP = 8 << 20;
/** First output step of the streaming decoder; later steps grow with the output, up to MAX_CHUNK_BYTES. */
const OUT_STEP = 128 << 10;

function zstdNapiBackend(load: ModuleLoader): ZstdBackend {
  const b = load('zstd-napi/binding') as ZstdBinding;
  const index = load('zstd-napi') as ZstdNapiIndex;
  if (
    !isFn(b, 'CCtx', 'DCtx', 'getFrameContentSize', 'findFrameCompressedSize', 'compressBound') ||
    !isFn(index, 'CompressStream', 'DecompressStream')
  ) {
    throw new Error('zstd-napi does not have the expected API (CCtx, DCtx, getFrameContentSize, CompressStream, …)');
  }
  const cctx = new b.CCtx();
  let scratch = Buffer.alloc(0);
  /** one decompression context kept for reuse; a generator that is still running takes a fresh one */
  let idle: ZstdDCtx | undefined;
  const takeDctx = (): ZstdDCtx => {
    const d = idle ?? new b.DCtx();
    idle = undefined;
    d.reset(b.ResetDirective.sessionOnly);
    d.setParameter(b.DParameter.windowLogMax, ZSTD_WINDOW_LOG_MAX);
    return d;
  };

  /** Content sizes declared by every frame, or null when one frame does not declare its size. */
  function declaredSize(data: Buffer): number | null {
    let total = 0;
    let off = 0;
    while (off < data.length) {
      const frame = off === 0 ? data : data.subarray(off);
      const size = b.getFrameContentSize(frame); // throws on a header it cannot parse
      if (size === null) return null;
      total += size;
      off += b.findFrameCompressedSize(frame); // throws on a truncated or corrupt frame
    }
    return total;
  }

  function* chunks(data: Buffer): Generator<Buffer, void, undefined> {
    if (data.length === 0) throw notDecodable('zstd', new Error('empty payload'));
    const dctx = takeDctx(); // (one abandoned mid-payload is dropped; only a clean finish returns it)
    let total = 0;
    let src = data;
    for (;;) {
      const dst = Buffer.allocUnsafe(Math.min(MAX_CHUNK_BYTES, Math.max(OUT_STEP, total)));
      let ret: number;
      let produced: number;
      let consumed: number;
      try {
        [ret, produced, consumed] = dctx.decompressStream(dst, src);
      } catch (err) {
        throw zstdFailure(err);
      }
      src = src.subarray(consumed);
      if (produced > 0) {
        total += produced;
        yield dst.subarray(0, produced);
      }
      if (src.length === 0) {
        if (ret === 0) break; // last frame complete
        if (produced < dst.length) throw notDecodable('zstd', new Error('truncated frame: input ends inside a frame'));
      } else if (produced === 0 && consumed === 0) {
        throw notDecodable('zstd', new Error('the decoder makes no progress'));
      }
    }
    idle = dctx;
  }

  return {
    implementation: 'zstd-napi',
    compress(data, level) {
      const bound = b.compressBound(data.length);
      let dst = scratch;
      if (dst.length < bound) {
        dst = Buffer.allocUnsafe(bound);
        if (bound <= SCRATCH_KEEP) scratch = dst;
      }
      const n = cctx.compress(dst, data, level);
      const out = Buffer.allocUnsafe(n);
      dst.copy(out, 0, 0, n);
      return out;
    },
    decompress(data) {
      if (data.length === 0) throw notDecodable('zstd', new Error('empty payload'));
      let size: number | null;
      try {
        size = declaredSize(data);
      } catch (err) {
        throw zstdFailure(err);
      }
      if (size === null) return collect(chunks(data));
      // Every frame declares its size: decode straight into an exact buffer.
      const dctx = takeDctx();
      const out = Buffer.allocUnsafe(size);
      let n: number;
      try {
        n = dctx.decompress(out, data);
      } catch (err) {
        throw zstdFailure(err);
      }
      idle = dctx;
      if (n !== size) throw notDecodable('zstd', new Error(`frames declare ${size} bytes and hold ${n}`));
      return out;
    },
    decompressChunks: chunks,
    compressStream: (level) => new index.CompressStream({ compressionLevel: level }),
    decompressStream: () => new index.DecompressStream(),
  };
}

/** node:zlib's zstd API (Node ≥ 22.15 / 23.8). @types/node 20 does not know it, hence this shape. */
interface NodeZlibZstd {
  zstdCompressSync(data: Buffer, opts: object): Buffer;
  zstdDecompressSync(data: Buffer, opts: object): Buffer;
  createZstdCompress(opts: object): Transform;
  createZstdDecompress(opts?: object): Transform;
  constants: { ZSTD_c_compressionLevel: number; ZSTD_d_windowLogMax: number };
}

function hasNodeZstd(z: unknown): z is NodeZlibZstd {
  if (!isFn(z, 'zstdCompressSync', 'zstdDecompressSync', 'createZstdCompress', 'createZstdDecompress')) return false;
  const c = (z as { constants?: Record<string, unknown> }).constants;
  return typeof c?.['ZSTD_c_compressionLevel'] === 'number' && typeof c['ZSTD_d_windowLogMax'] === 'number';
}

function nodeZlibZstdBackend(z: NodeZlibZstd): ZstdBackend {
  const c = z.constants;
  const params = { [c.ZSTD_d_windowLogMax]: ZSTD_WINDOW_LOG_MAX };
  const empty = (data: Buffer) => {
    if (data.length === 0) throw notDecodable('zstd', new Error('empty payload'));
  };
  return {
    implementation: 'node:zlib',
    compress: (data, level) =>
      zlibCompress('zstd', () => z.zstdCompressSync(data, { params: { [c.ZSTD_c_compressionLevel]: level } })),
    decompress(data) {
      empty(data);
      try {
        return z.zstdDecompressSync(data, { params });
      } catch (err) {
        throw zstdFailure(err);
      }
    },
    *decompressChunks(data) {
      empty(data);
      try {
        yield* zlibChunks('zstd', z.createZstdDecompress({ params }), data);
      } catch (err) {
        throw err instanceof LsError && err.code === LS_ERR.LS_ERR_DECODE && WINDOW_TOO_LARGE.test(err.message)
          ? zstdFailure(err.cause)
          : err;
      }
    },
    compressStream: (level) => z.createZstdCompress({ params: { [c.ZSTD_c_compressionLevel]: level } }),
    decompressStream: () => z.createZstdDecompress(),
  };
}

/** Every chunk of a generator, joined. */
function collect(chunks: Iterable<Buffer>): Buffer {
  const parts: Buffer[] = [];
  let total = 0;
  for (const c of chunks) {
    parts.push(c);
    total += c.length;
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
}

export interface NativeCodecOptions {
  /** How to load the npm package (default: createRequire). */
  load?: ModuleLoader;
  /**
   * zstd only: the node:zlib module to probe for a built-in zstd (Node ≥ 22.15). When it has one, it is
   * preferred to the package and nothing is loaded.
   */
  zlib?: unknown;
}

const ZSTD_REASON = 'zstd unavailable: npm install zstd-napi';
const LZ4_REASON = 'lz4 unavailable: npm install lz4-napi';

/**
 * The zstd codec (id 2): node:zlib's zstd when this Node has it (detected once, here), else the
 * `zstd-napi` package, loaded on first use.
 *
 * Levels 1..19, default 1: on our log batches (~200 KiB of NDJSON) level 1 both compresses faster and
 * compresses *better* than zstd's usual default 3 (see scripts/bench/codecs.ts). Payloads carry their
 * content size, so decompress() decodes them into an exact buffer in one call; decompressChunks() always
 * streams, in steps of at most MAX_CHUNK_BYTES.
 */
export function makeZstdCodec(opts: NativeCodecOptions = {}): ZstdCodec {
  const load = opts.load ?? defaultLoader;
  const z = opts.zlib ?? zlib;
  const backend = lazily<ZstdBackend>(() => (hasNodeZstd(z) ? nodeZlibZstdBackend(z) : zstdNapiBackend(load)));
  const use = (): ZstdBackend => {
    const r = backend();
    if (!r.ok) throw new LsError(LS_ERR.LS_ERR_CODEC_UNAVAILABLE, ZSTD_REASON, { cause: r.error });
    return r.value;
  };
  const codec: ZstdCodec = {
    id: 2,
    name: 'zstd',
    levels: { min: 1, max: 19, default: 1 },
    availability() {
      const r = backend();
      return r.ok ? { ok: true, implementation: r.value.implementation } : { ok: false, reason: ZSTD_REASON };
    },
    compress(data, level) {
      const lvl = checkLevel(codec, level);
      const impl = use();
      return zlibCompress('zstd', () => impl.compress(data, lvl));
    },
    decompress: (data) => use().decompress(data),
    decompressChunks: (data) => use().decompressChunks(data),
    compressStream(level) {
      const lvl = checkLevel(codec, level);
      return use().compressStream(lvl);
    },
    decompressStream: () => use().decompressStream(),
  };
  return codec;
}

// --- lz4 ---------------------------------------------------------------------------------------------

/** The part of lz4-napi we use: its block functions (see lz4-frame.ts for why not its frame ones). */
interface Lz4Napi {
  compressSync(data: Buffer): Buffer;
  uncompressSync(data: Uint8Array, dict?: Uint8Array): Buffer;
}

/**
 * The lz4 codec (id 3): the standard LZ4 *frame* format (magic 04 22 4D 18, what the `lz4` command line
 * tool writes and every LZ4 library reads), framed in lz4-frame.ts around the block codec of the
 * `lz4-napi` package (Rust lz4_flex), loaded on first use.
 *
 * No levels: lz4_flex implements only LZ4's fast mode (no LZ4-HC, no acceleration factor), and lz4-napi
 * exposes no knob, so the entry has no `levels` and a level passed to compress() is ignored (as for
 * `none`). Decompression goes block by block (lz4-frame.ts): a chunk is one block, ≤ 4 MiB.
 */
export function makeLz4Codec(opts: NativeCodecOptions = {}): Codec {
  const load = opts.load ?? defaultLoader;
  const native = lazily<Lz4Native>(() => {
    const m = load('lz4-napi');
    if (!isFn(m, 'compressSync', 'uncompressSync')) {
      throw new Error('lz4-napi does not have the expected API (compressSync, uncompressSync)');
    }
    const n = m as Lz4Napi;
    return {
      compressBlock: (data) => n.compressSync(data),
      decompressBlock: (block, dict) => (dict === undefined ? n.uncompressSync(block) : n.uncompressSync(block, dict)),
    };
  });
  const use = (): Lz4Native => {
    const r = native();
    if (!r.ok) throw new LsError(LS_ERR.LS_ERR_CODEC_UNAVAILABLE, LZ4_REASON, { cause: r.error });
    return r.value;
  };
  return {
    id: 3,
    name: 'lz4',
    availability() {
      return native().ok ? { ok: true, implementation: 'lz4-napi' } : { ok: false, reason: LZ4_REASON };
    },
    compress(data) {
      const n = use();
      return zlibCompress('lz4', () => lz4CompressFrame(data, n));
    },
    decompress: (data) => collect(lz4DecompressBlocks(data, use())),
    decompressChunks: (data) => lz4DecompressBlocks(data, use()),
  };
}

/** The zstd entry of the table, with its streaming helpers (used for files at rest). */
export const zstdCodec: ZstdCodec = makeZstdCodec();
const zstd = zstdCodec;
const lz4 = makeLz4Codec();

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
