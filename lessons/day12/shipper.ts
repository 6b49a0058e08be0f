/**
 * Day 12 — Compression: the shipper.
 *
 * A BATCH of 1000 log records is ~200 KB of NDJSON that says "level":"info" and "service":"checkout" a
 * thousand times. Compressed, it is 25–50 KB. The trade: CPU here (and at the receiver) for bytes on the
 * network. Today the shipper compresses each BATCH payload with --codec at --level and puts the codec's id
 * in the frame header (shared/protocol/README.md §3, byte 4), and it measures what that costs and saves.
 *
 * Compression does not always pay. The decision for each batch is this file's (compressBatch):
 *
 *   1. below --min-compress-bytes, do not even try: a 70-byte batch gains nothing, and gzip's header and
 *      trailer alone are 18 bytes — CPU spent to make it BIGGER [d12.5]
 *   2. compress with --codec at --level [d12.3, d12.4]; if the result is not smaller (already compressed,
 *      random, tiny), send the batch as it was, with codec 0: the receiver takes that from anyone [d12.5]
 *   3. a codec whose package is missing is a usage error at start (exit 2, saying what to install), never
 *      a crash in the middle of a stream [d12.1]
 *
 * Everything else — the state machine, ACKs, resend, the window, backoff, spool — is day 09's shipper
 * engine (lessons/day09/shipper-engine.ts), unchanged. It compresses once per batch (a resend reuses the bytes)
 * and counts bytes before and after and the CPU time spent; the done line reports them per run:
 * {"codec","level","rawBytes","wireBytes","ratio","cpuMs","cpuMsPerMB","tooSmall","notSmaller",…}.
 *
 * Run: npx tsx lessons/day12/shipper.ts --target 127.0.0.1:5144 --generate 200000 --codec zstd --level 1
 */
import { opt, parseCli } from '../../shared/cli.ts';
import { createLog } from '../../shared/log.ts';
import { LspShipper, lspCodecOptions, lspShipperOptions, validateLspShipper } from '../day09/shipper-engine.ts';
import { shipperDirs } from '../day09/shipper-options.ts';
import { Batcher } from '../day11/batcher.ts';
import { CODEC_NAMES, codecByName, type Codec } from '../../shared/protocol/codecs.ts';

const PROGRAM = 'lessons/day12/shipper.ts';
const args = parseCli({
  name: PROGRAM,
  summary:
    "Day 12 shipper: day 09's acknowledged LSP/1 shipper, with each BATCH compressed (gzip, zstd, lz4, brotli) when it pays.",
  options: {
    ...lspShipperOptions('day12'),
    ...lspCodecOptions(),
    codec: opt.choice('--codec <name>', `BATCH payload codec: ${CODEC_NAMES.join(' | ')}`, CODEC_NAMES, 'zstd'),
    minCompressBytes: opt.bytes(
      '--min-compress-bytes <size>',
      'batches smaller than this are sent uncompressed (codec 0): not worth the CPU',
      512,
      { min: 0 },
    ),
  },
  validate: (v) => validateLspShipper(v) ?? validateCodec(v.codec, v.level),
});

/** --level must be one the codec takes; a codec without levels (none, lz4) takes none. */
function validateCodec(name: string, level: number | undefined): string | undefined {
  if (level === undefined) return undefined;
  const range = codecByName(name).levels;
  if (!range) return `--level: ${name} has no compression levels`;
  if (!Number.isInteger(level) || level < range.min || level > range.max)
    return `--level: ${name} takes ${range.min}..${range.max}, got ${level}`;
  return undefined;
}

const log = createLog('day12/shipper');

// ---- 3. a missing package is found now, not at the first batch ----------------------------------------
const codec = codecByName(args.codec);
const avail = codec.availability();
if (!avail.ok) {
  process.stderr.write(
    `${PROGRAM}: --codec ${codec.name}: ${avail.reason} (or pick another: --codec gzip needs no package)\n`,
  );
  process.exit(2);
}
const level = codec.levels ? (args.level ?? codec.levels.default) : undefined;

// ---- 1, 2. compress a batch only when it pays ------------------------------------------------------------
const decisions = { tooSmall: 0, notSmaller: 0, compressed: 0, failed: 0 };

/**
 * The payload to send for one batch: compressed, or the payload itself when compressing does not pay
 * (the engine sends a payload that did not shrink with codec 0).
 */
function compressBatch(payload: Buffer, lvl: number | undefined): Buffer {
  // @solution [d12.3, d12.4, d12.5] compress the batch with --codec at --level when it pays: not below --min-compress-bytes, and never a result that is not smaller (count each decision)
  // @stub return payload;
  if (payload.length < args.minCompressBytes) {
    decisions.tooSmall++;
    return payload;
  }
  let packed: Buffer;
  try {
    packed = codec.compress(payload, lvl);
  } catch (err) {
    // never crash mid-stream over one batch: it goes uncompressed, and we say so (once a run is enough)
    if (decisions.failed++ === 0)
      log.warn(`${codec.name} compression failed: sending raw`, { error: (err as Error).message });
    return payload;
  }
  if (packed.length >= payload.length) {
    decisions.notSmaller++;
    return payload;
  }
  decisions.compressed++;
  return packed;
  // @end-solution
}

/** The codec the engine calls: the table's codec, with this file's decision in front of it. */
const deciding: Codec = { ...codec, compress: compressBatch };

// ---- the engine (day 09) ------------------------------------------------------------------------------

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
const shipper: LspShipper = new LspShipper({
  lesson: 'day12',
  args,
  log,
  ...shipperDirs(PROGRAM, args), // --state-dir, --spool, --follow's position
  batching: (o) => new Batcher<string>(o), // day 11's batches: full, bytes, or --batch-delay-ms
  // minBytes 0: the size rule is ours (compressBatch), so the engine hands every batch to `deciding`
  compression: { codec: deciding, level, minBytes: 0 },
  hello: { codec: codec.name },
  doneExtra: () => {
    const c = shipper.compressionStats; // bytesIn: payloads before compression, bytesOut: as sent
    const cpuMs = c.cpuUs / 1000;
    return {
      codec: codec.name,
      level: level ?? null,
      rawBytes: c.bytesIn,
      wireBytes: c.bytesOut,
      ratio: c.bytesOut ? round(c.bytesIn / c.bytesOut, 3) : 0,
      cpuMs: round(cpuMs, 1),
      cpuMsPerMB: c.bytesIn ? round(cpuMs / (c.bytesIn / 1e6), 3) : 0,
      ...decisions,
    };
  },
});
log.info('codec', {
  codec: codec.name,
  implementation: avail.implementation,
  level,
  minCompressBytes: args.minCompressBytes,
});
process.exit(await shipper.run());
