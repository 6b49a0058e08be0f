/**
 * The storage limits a receiver takes on its command line (issue 18.4: the disk bounded), kept apart from
 * FileSink so the CLI layer (shared/cli.ts receiverOptions) can name their defaults without loading the sink:
 *   --rejects-per-second N   rejects.ndjson lines written per second at most; the rest are only counted
 *   --retain-bytes SIZE      the records files together hold at most this much (oldest rotated files go)
 *   --retain-age DURATION    rotated records files older than this go (7d, 12h, 30m, …)
 * A receiver hands them to FileSink.open with `...storageLimits(args)`.
 */
import { InvalidArgumentError } from 'commander';

/** rejects.ndjson lines per second unless a receiver says otherwise: enough to see what is wrong, never a flood */
export const DEFAULT_REJECTS_PER_SECOND = 100;

export interface StorageLimits {
  /** rejects.ndjson lines per second at most, the rest only counted (default DEFAULT_REJECTS_PER_SECOND; 0 = all) */
  rejectsPerSecond?: number;
  /** retention: the records files together hold at most this many bytes on disk (0 / undefined: no limit) */
  retainBytes?: number;
  /** retention: rotated records files whose last write is older than this go (0 / undefined: no limit) */
  retainAgeMs?: number;
}

/** The storage limits out of a receiver's parsed arguments (receiverOptions), for FileSink.open. */
export function storageLimits(args: StorageLimits): StorageLimits {
  return { rejectsPerSecond: args.rejectsPerSecond, retainBytes: args.retainBytes, retainAgeMs: args.retainAgeMs };
}

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

/** `7d`, `12h`, `30m`, `45s`, `500ms`, `2w`, or `0` (off) → milliseconds; a bare number is seconds. */
export function parseDuration(raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$/i.exec(raw);
  if (!m) throw new InvalidArgumentError(`'${raw}' is not a duration (e.g. 7d, 12h, 30m, 45s, 500ms; 0 = off)`);
  return Math.round(Number(m[1]) * DURATION_UNITS[(m[2] ?? 's').toLowerCase()]!);
}
