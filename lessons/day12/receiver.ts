/**
 * Day 12 — Compression: the receiver.
 *
 * Log records are mostly the same words again and again ("level":"info", "service":"checkout", …), so a
 * BATCH of 1000 of them shrinks 4–10× when compressed. The shipper pays CPU to compress; we pay CPU to
 * decompress; in exchange the network (and, for files at rest, the disk) carries a fraction of the bytes.
 * Today the receiver takes every LSP/1 codec (header byte 4: 0 none, 1 gzip, 2 zstd, 3 lz4, 4 brotli) and
 * measures what each one costs and saves:
 *
 *   1. accept    the codec must be one this receiver takes (--codecs; every codec installed here by default).
 *                One it was not told to take — or whose package is missing — is a fatal
 *                LS_ERR_CODEC_UNAVAILABLE; an id LSP/1 does not define is LS_ERR_CODEC (the frame decoder) [d12.8]
 *   2. inflate   with a LIMIT (bounded-decode.ts): decoding stops as soon as the output passes
 *                --max-decoded-bytes, so a 1 MiB "decompression bomb" that would expand to 1 GiB costs us
 *                at most the limit, and is answered with a fatal LS_ERR_TOO_LARGE NACK [d12.6]; a payload
 *                that does not decompress (its frame CRC may well be right) is a fatal LS_ERR_DECODE NACK,
 *                never a crash [d12.7]
 *   3. measure   per codec: bytes on the wire, bytes decoded, the ratio, and the milliseconds spent
 *                decompressing per MB — stats.json `compression` [d12.2]
 *   4. at rest   rotated files are compressed too (--rest-compression gzip|zstd, --rotate-bytes) [d12.9]
 *
 * Everything after decoding — dedup by (stream, seq), ACK once durable, HWM recovery — is day 09's,
 * unchanged (lessons/day09/ingest.ts): it takes our payload decoder and the sink's rest compression.
 *
 * Run: npx tsx lessons/day12/receiver.ts --port 5144 --data-dir data/day12 --rest-compression zstd
 */
import { lspReceiverFor, lspReceiverOptions, serveAcked } from '../day09/acked-receiver.ts';
import { AckedIngest } from '../day09/ingest.ts';
import { opt, parseCli, receiverOptions } from '../../shared/cli.ts';
import { createLog } from '../../shared/log.ts';
import { decodeBatch } from '../../shared/protocol/batch.ts';
import { CODEC_NAMES, CODECS, codecByName, type Codec } from '../../shared/protocol/codecs.ts';
import { LsError, LS_ERR } from '../../shared/protocol/errors.ts';
import type { Frame } from '../../shared/protocol/frame.ts';
import { REST_COMPRESSION } from '../../shared/storage/file-sink.ts';
import { ReceiverStats } from '../../shared/stats.ts';
import { decompressBounded } from './bounded-decode.ts';

const PROGRAM = 'lessons/day12/receiver.ts';
const args = parseCli({
  name: PROGRAM,
  summary:
    'Day 12 receiver: LSP/1 over TCP with compressed BATCH payloads (gzip, zstd, lz4, brotli), bounded decompression, per-codec cost and savings, compressed files at rest.',
  options: {
    ...receiverOptions('day12'),
    ...lspReceiverOptions(), // --max-decoded-bytes bounds the inflating too [d12.6]
    codecs: opt.list(
      '--codecs <list>',
      `codecs accepted, e.g. none,gzip,zstd (default: every one installed here; known: ${CODEC_NAMES.join(', ')})`,
    ),
    restCompression: opt.choice(
      '--rest-compression <method>',
      'compress rotated records files at rest: none | gzip (.ndjson.gz) | zstd (.ndjson.zst)',
      ['none', 'gzip', 'zstd'] as const,
      'none',
    ),
    restLevel: opt.int(
      '--rest-level <n>',
      `level for --rest-compression (default: gzip ${REST_COMPRESSION.gzip.defaultLevel}, zstd ${REST_COMPRESSION.zstd.defaultLevel})`,
      undefined,
      { min: 0, max: 19 },
    ),
  },
  validate: (v) => {
    const unknown = (v.codecs ?? []).filter((name) => !CODEC_NAMES.includes(name as never));
    if (unknown.length) return `--codecs: unknown codec ${unknown.join(', ')} (known: ${CODEC_NAMES.join(', ')})`;
    if (v.restLevel !== undefined) {
      if (v.restCompression === 'none') return '--rest-level needs --rest-compression gzip or zstd';
      const range = codecByName(v.restCompression).levels!;
      if (v.restLevel < range.min || v.restLevel > range.max)
        return `--rest-level: ${v.restCompression} takes ${range.min}..${range.max}, got ${v.restLevel}`;
    }
    return undefined;
  },
});

const log = createLog('day12/receiver');

/** A usage error found after parsing (a codec that is not installed): one line naming the flag, exit 2. */
function usageError(flag: string, message: string): never {
  process.stderr.write(`${PROGRAM}: ${flag}: ${message}\n`);
  process.exit(2);
}

// ---- 1. which codecs we take: say so at start, not at the first batch that needs a missing package ----
/** codec id → codec, for every codec this receiver accepts. `none` always: shippers send small batches raw. */
const acceptedCodecs = new Map<number, Codec>();
for (const codec of CODECS.values()) {
  const avail = codec.availability();
  const asked = args.codecs === undefined || args.codecs.includes(codec.name) || codec.id === 0;
  if (avail.ok && asked) acceptedCodecs.set(codec.id, codec);
  else if (!avail.ok && args.codecs !== undefined && asked) usageError('--codecs', avail.reason); // asked for, cannot run
  log.info(
    `codec ${codec.name}: ${!avail.ok ? `NOT AVAILABLE (${avail.reason})` : asked ? `accepted${avail.implementation ? ` (${avail.implementation})` : ''}` : 'refused (not in --codecs)'}`,
  );
}
if (args.restCompression === 'zstd' && !codecByName('zstd').availability().ok)
  usageError('--rest-compression', 'zstd unavailable: npm install zstd-napi');

// ---- 3. what each codec costs and saves: stats.json `compression` -------------------------------------
interface CodecStats {
  batches: number;
  records: number;
  /** payload bytes as sent (compressed) */
  wireBytes: number;
  /** payload bytes after decompression: what the shipper had before compressing */
  rawBytes: number;
  /** rawBytes / wireBytes */
  ratio: number;
  /** milliseconds the (single) JS thread spent decoding this codec's payloads */
  cpuMs: number;
  /** cpuMs per MB (10^6 bytes) of rawBytes */
  cpuMsPerMB: number;
  /** fatal payload errors, by code (LS_ERR_TOO_LARGE, LS_ERR_DECODE, LS_ERR_CODEC_UNAVAILABLE) */
  errors: Record<string, number>;
}
const compression: Record<string, CodecStats> = {};
/** exact decoding time per codec (stats.json shows it rounded) */
const cpuMs: Record<string, number> = {};
const codecStats = (name: string): CodecStats => {
  cpuMs[name] ??= 0;
  return (compression[name] ??= {
    batches: 0,
    records: 0,
    wireBytes: 0,
    rawBytes: 0,
    ratio: 0,
    cpuMs: 0,
    cpuMsPerMB: 0,
    errors: {},
  });
};
for (const c of acceptedCodecs.values()) codecStats(c.name);

function countError(name: string, err: unknown): void {
  const code = err instanceof LsError ? err.code : 'internal';
  const s = codecStats(name);
  s.errors[code] = (s.errors[code] ?? 0) + 1;
}

// ---- 2. every BATCH payload comes through here: accept the codec, decode within the limit, measure -----
/** The payload's NDJSON bytes, at most `maxBytes` of them. Throws an LsError (fatal: NACK + close). */
function decodePayload(frame: Frame, maxBytes: number): Buffer {
  // @solution [d12.8] take only the codecs this receiver accepts (--codecs): any other is a fatal LS_ERR_CODEC_UNAVAILABLE
  // @stub const codec = CODECS.get(frame.codec)!;
  const codec = acceptedCodecs.get(frame.codec);
  if (codec === undefined) {
    const name = CODECS.get(frame.codec)?.name ?? `#${frame.codec}`;
    const err = new LsError(
      LS_ERR.LS_ERR_CODEC_UNAVAILABLE,
      `codec ${name} is not accepted by this receiver (it takes ${[...acceptedCodecs.values()].map((c) => c.name).join(', ')})`,
    );
    countError(name, err);
    throw err;
  }
  // @end-solution
  // @solution [d12.2] measure each codec: the time spent decoding, and per batch the records, the bytes as sent (wire) and decoded (raw)
  // @stub return decompressBounded(codec, frame.payload, maxBytes);
  const s = codecStats(codec.name);
  const t0 = performance.now();
  let raw: Buffer;
  try {
    raw = decompressBounded(codec, frame.payload, maxBytes);
  } catch (err) {
    // LS_ERR_TOO_LARGE (a bomb, stopped at the limit) or LS_ERR_DECODE (not a valid payload of this codec)
    countError(codec.name, err);
    throw err;
  } finally {
    cpuMs[codec.name]! += performance.now() - t0;
  }
  s.batches++;
  s.records += frame.count;
  s.wireBytes += frame.payload.length;
  s.rawBytes += raw.length;
  return raw;
  // @end-solution
}

// ---- day 09, unchanged: dedup, gaps, validate, append, ACK once durable; plus compression at rest -------
const stats = new ReceiverStats(args.lane, 'lsp1-tcp');
let ingest: AckedIngest;
try {
  ingest = await AckedIngest.open({
    ...args,
    stats,
    log,
    // The decompressed payload is an uncompressed BATCH payload: decodeBatch splits it into exactly `count` records.
    decode: (frame) => decodeBatch(frame, { maxDecodedBytes: args.maxDecodedBytes, decodePayload }),
    fileSink: {
      // @solution [d12.9] rotated files are compressed at rest with --rest-compression (and --rest-level)
      // @stub compressRotated: 'none',
      compressRotated: args.restCompression,
      ...(args.restLevel === undefined ? {} : { compressLevel: args.restLevel }),
      // @end-solution
    },
  });
} catch (err) {
  // a --rest-level the method does not take is LS_ERR_CODEC; zstd without its package LS_ERR_CODEC_UNAVAILABLE
  if (err instanceof LsError)
    usageError(args.restLevel === undefined ? '--rest-compression' : '--rest-level', err.message);
  throw err;
}
ingest.sink.on('warning', (err: Error) => log.warn('sink warning', { error: err.message }));

// ---- the connection machinery (frames, NACK, PING, limits) is shared with days 09–14 ------------------
const rx = lspReceiverFor(args, ingest, { log, stats });

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
/** stats.json `compression` and `rest`, refreshed before each write. */
function collectCompression(): void {
  for (const [name, s] of Object.entries(compression)) {
    const ms = cpuMs[name] ?? 0;
    // @solution [d12.2] per codec: ratio = raw / wire, CPU ms in all and per MB (10^6 bytes) of raw
    s.ratio = s.wireBytes > 0 ? round(s.rawBytes / s.wireBytes, 3) : 0;
    s.cpuMs = round(ms, 1);
    s.cpuMsPerMB = s.rawBytes > 0 ? round(ms / (s.rawBytes / 1e6), 3) : 0;
    // @end-solution
  }
  stats.extra.compression = compression;
  stats.extra.rest = {
    compression: args.restCompression,
    level:
      args.restLevel ?? (args.restCompression === 'none' ? null : REST_COMPRESSION[args.restCompression].defaultLevel),
    compressedFiles: ingest.sink.counters.compressedFiles,
    rotations: ingest.sink.counters.rotations,
  };
}

// day 09's serving; SIGTERM's close of the sink also finishes the compression of rotated files
await serveAcked({
  lesson: 'day12',
  args,
  log,
  stats,
  ingest,
  rx,
  collect: collectCompression,
  ready: { codecs: [...acceptedCodecs.values()].map((c) => c.name), restCompression: args.restCompression },
  listening: { maxDecodedBytes: args.maxDecodedBytes, restCompression: args.restCompression },
});
