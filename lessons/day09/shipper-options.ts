/**
 * The flags every acknowledged LSP/1 shipper takes (days 09, 11, 12, 13 and the scale-out lesson), their
 * cross-flag rules, and the "one shipper per state dir" exit. The engine that uses them is
 * lessons/day09/shipper-engine.ts.
 *
 * - `lspShipperOptions(lesson, defaultPort?)`: --target (default: the lesson's lane port, shared/lanes.ts), --input/--generate/--format/--seed/--service, --follow,
 *   --state-dir, --stream-id, --name, --batch-records, --batch-bytes, --batch-delay-ms, --window-batches,
 *   --window-bytes, --queue-records, --overflow, --spool, --spool-bytes, --backoff-base-ms, --backoff-cap-ms,
 *   --max-attempts, --ack-timeout-ms, --keepalive-ms, --progress-ms, --rate, --spread.
 * - `lspCodecOptions()`: --codec, --level, --min-compress-bytes (day 12).
 * - `validateLspShipper(values)`: one source, --follow needs a file, cap ≥ base, --batch-bytes holds at
 *   least one record; one line naming the flag.
 * - `ownDir(program, flag, open)`: a state or spool dir another live shipper holds → exit 2 naming the flag.
 * - `shipperDirs(program, args)`: the --state-dir, the --spool and the --follow position, each through ownDir.
 */
import os from 'node:os';
import {
  MS_RANGE,
  opt,
  parseHostPort,
  requireOneSource,
  shipperOptions,
  type CliValues,
  type HostPort,
  type OptionSpec,
} from '../../shared/cli.ts';
import { DirLockedError } from '../../shared/dir-lock.ts';
import { lanePort } from '../../shared/lanes.ts';
import { RecordGenerator } from '../../shared/generate.ts';
import { CODEC_NAMES } from '../../shared/protocol/codecs.ts';
import { DEFAULT_MAX_PAYLOAD_BYTES } from '../../shared/protocol/limits.ts';
import { ShipperState, type FollowState } from './shipper-state.ts';
import { Spool } from './spool.ts';

/** The smallest valid record (shared/protocol/README.md §1) plus its LF: no --batch-bytes below this can hold any record. */
export const SMALLEST_RECORD_BYTES = '{"ts":"2026-01-01T00:00:00Z","level":"info","msg":""}'.length + 1;

/** `--target a:1,b:2,…`: the first is the target (`host`, `port`); `all` lists every one, in order (issue 11). */
export interface TargetList extends HostPort {
  all: HostPort[];
}

export function parseTargets(raw: string): TargetList {
  const all = raw
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
    .map(parseHostPort);
  if (all.length === 0) return parseTargets(`${raw}:`); // parseHostPort names what is wrong
  return { ...all[0]!, all };
}

export function lspShipperOptions(lesson: string, defaultPort = lanePort(lesson)) {
  const target: OptionSpec<TargetList, true> = {
    flags: '--target <host:port[,host:port…]>',
    description: 'receiver to ship to; several, comma-separated: fail over to the next when one is lost (see --spread)',
    defaultValue: parseTargets(`127.0.0.1:${defaultPort}`),
    parse: parseTargets,
  };
  return {
    ...shipperOptions(lesson, defaultPort),
    target,
    spread: opt.flag(
      '--spread',
      'with several --target: start at target (stream id mod count) instead of the first, so shippers spread over the receivers',
    ),
    follow: opt.flag(
      '--follow',
      'with --input FILE: keep reading appended lines (and across rotation); resume after the last ACKed line',
    ),
    stateDir: opt.string(
      '--state-dir <dir>',
      'keeps the stream id and, with --follow, the acknowledged read position',
      `data/${lesson}-shipper`,
    ),
    streamId: opt.int('--stream-id <n>', 'stream id (u32) to use instead of the one kept in --state-dir', undefined, {
      min: 0,
      max: 0xffff_ffff,
    }),
    name: opt.string(
      '--name <name>',
      'shipper name sent in HELLO. Without a client certificate it is the identity that owns the stream at the receiver: a changed name on a plaintext lane needs a new stream (--stream-id or a new --state-dir), else the receiver refuses it (LS_ERR_STREAM_OWNED) and the shipper stops',
      `${os.hostname()}/${lesson}-shipper`,
    ),
    batchRecords: opt.int('--batch-records <n>', 'records per BATCH at most', 1000, { min: 1, max: 65535 }),
    batchBytes: opt.bytes('--batch-bytes <size>', 'payload bytes per BATCH at most (before compression)', 1 << 20, {
      min: 1,
      max: DEFAULT_MAX_PAYLOAD_BYTES,
    }),
    batchDelayMs: opt.int(
      '--batch-delay-ms <n>',
      'send a batch that is not full after this long (0 = at once)',
      20,
      MS_RANGE.delay,
    ),
    windowBatches: opt.int('--window-batches <n>', 'batches in flight (sent, not yet ACKed) at most', 64, {
      min: 1,
      max: 1_000_000,
    }),
    windowBytes: opt.bytes('--window-bytes <size>', 'payload bytes in flight at most', 32 << 20, { min: 1024 }),
    queueRecords: opt.int('--queue-records <n>', 'records held in memory (queued + unacknowledged) at most', 200_000, {
      min: 1,
    }),
    overflow: opt.choice(
      '--overflow <policy>',
      'when memory (and the spool) is full: block | drop-oldest | drop-newest',
      ['block', 'drop-oldest', 'drop-newest'] as const,
      'block',
    ),
    spool: opt.string('--spool <dir>', 'overflow to disk here first; --overflow applies when the spool is full'),
    spoolBytes: opt.bytes('--spool-bytes <size>', 'most bytes the spool holds', 1 << 30, { min: 4096 }),
    backoffBaseMs: opt.int(
      '--backoff-base-ms <n>',
      'first reconnect window (full jitter: random(0, min(cap, base·2^attempt)))',
      100,
      MS_RANGE.backoff,
    ),
    backoffCapMs: opt.int('--backoff-cap-ms <n>', 'largest reconnect window', 5000, MS_RANGE.backoff),
    maxAttempts: opt.int('--max-attempts <n>', 'give up after this many failed connects in a row (0 = never)', 0, {
      min: 0,
    }),
    ackTimeoutMs: opt.int(
      '--ack-timeout-ms <n>',
      'no ACK progress (or no PONG) for this long: the connection is dead, reconnect',
      5000,
      { min: 10 },
    ),
    keepaliveMs: opt.int('--keepalive-ms <n>', 'PING the receiver this often', 1000, { min: 10 }),
    progressMs: opt.int('--progress-ms <n>', 'print a progress line this often (0 = never)', 1000, { min: 0 }),
    rate: opt.int(
      '--rate <n>',
      'with --generate: create records at this many per second (0 = as fast as possible)',
      0,
      { min: 0 },
    ),
  };
}

/** `--codec`, `--level`, `--min-compress-bytes` (day 12 on). */
export function lspCodecOptions() {
  return {
    codec: opt.choice('--codec <name>', `BATCH payload codec: ${CODEC_NAMES.join(' | ')}`, CODEC_NAMES, 'none'),
    level: opt.int('--level <n>', "compression level (default: the codec's own)", undefined, { min: -131072, max: 22 }),
    minCompressBytes: opt.bytes(
      '--min-compress-bytes <size>',
      'payloads smaller than this go uncompressed (codec 0)',
      256,
      { min: 0 },
    ),
  };
}

/** The parsed values of lspShipperOptions() (a day may add its own flags beside them). */
export type LspShipperArgs = CliValues<ReturnType<typeof lspShipperOptions>>;

/** Largest record `--generate` makes with this seed (its records vary by a few bytes), LF included. */
function generatedRecordBytes(seed: number): number {
  const gen = new RecordGenerator({ seed });
  let max = 0;
  for (let i = 0; i < 1000; i++) max = Math.max(max, Buffer.byteLength(gen.next()) + 1);
  return max;
}

/** Cross-flag rules; returns one line naming the flag, or undefined. */
export function validateLspShipper(v: LspShipperArgs): string | undefined {
  return (
    requireOneSource(v) ??
    (v.follow && (v.input === undefined || v.input === '-') ? '--follow needs --input FILE' : undefined) ??
    (v.backoffCapMs < v.backoffBaseMs
      ? `--backoff-cap-ms (${v.backoffCapMs}) must be at least --backoff-base-ms (${v.backoffBaseMs})`
      : undefined) ??
    (v.batchBytes < SMALLEST_RECORD_BYTES
      ? `--batch-bytes ${v.batchBytes} is smaller than one record (the smallest valid record is ${SMALLEST_RECORD_BYTES} bytes)`
      : undefined) ??
    (v.generate !== undefined && v.batchBytes < generatedRecordBytes(v.seed)
      ? `--batch-bytes ${v.batchBytes} is smaller than one record (--generate makes records of up to ${generatedRecordBytes(v.seed)} bytes)`
      : undefined) ??
    (v.rate > 0 && v.generate === undefined ? '--rate paces --generate only' : undefined)
  );
}

/** A state or spool dir another live shipper uses is a usage error: one line naming the flag, exit 2. */
export function ownDir<T>(program: string, flag: string, open: () => T): T {
  try {
    return open();
  } catch (err) {
    if (!(err instanceof DirLockedError)) throw err;
    process.stderr.write(`${program}: ${flag}: ${err.message}\n`);
    process.exit(2);
  }
}

/** What an acknowledged shipper keeps on disk (days 09, 11–13, scale; issue 22.2: it stood in each one). */
export interface ShipperDirs {
  state: ShipperState;
  spool: Spool | undefined;
  follow: FollowState | undefined;
}

/** Opens a shipper's dirs; a dir another live shipper holds is a usage error naming its flag (ownDir). */
export function shipperDirs(program: string, args: LspShipperArgs): ShipperDirs {
  // The stream id (and a followed file's acknowledged position) live in --state-dir; one shipper per dir.
  const state = ownDir(program, '--state-dir', () =>
    ShipperState.open(args.stateDir, args.streamId === undefined ? {} : { streamId: args.streamId }),
  );
  // Past --queue-records, records wait on disk here [d09.6].
  const spool = args.spool
    ? ownDir(program, '--spool', () => new Spool({ dir: args.spool!, maxBytes: args.spoolBytes }))
    : undefined;
  // Where a --follow run resumes: after the last line whose record the receiver ACKed [d09.5].
  const follow: FollowState | undefined = args.follow ? state.followOf(args.input!) : undefined;
  return { state, spool, follow };
}
