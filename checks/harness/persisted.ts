// Readers of what a receiver persists under its --data-dir (COURSE.md, what a receiver writes), and a sequence verifier.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { codecByName } from '../../shared/protocol/codecs.ts';

export interface PersistedRecord {
  /** File name inside the data dir. */
  file: string;
  /** 1-based line number in that file. */
  lineNo: number;
  record: Record<string, unknown>;
  /** The line as stored (without its LF). */
  raw: string;
}

export interface PersistedFile {
  file: string;
  bytes: number;
  /** Complete lines (ending in LF). */
  lines: number;
  /** True when the file does not end in LF (and is not empty). */
  endsInPartialLine: boolean;
  /** The bytes after the last LF, when there are any. */
  partialTail?: string;
  /** A .gz file that could not be fully decompressed (e.g. still being written). */
  truncatedGzip?: boolean;
}

export interface InvalidLine {
  file: string;
  lineNo: number;
  text: string;
  problem: string;
}

export interface PersistedRecords {
  records: PersistedRecord[];
  files: PersistedFile[];
  /** Complete lines that are not a JSON object. */
  invalid: InvalidLine[];
}

const naturalCompare = new Intl.Collator('en', { numeric: true }).compare;

async function listDir(dataDir: string): Promise<string[]> {
  try {
    return (await readdir(dataDir, { withFileTypes: true }))
      .filter((d) => d.isFile())
      .map((d) => d.name)
      .sort(naturalCompare);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

interface ParsedFile {
  info: PersistedFile;
  rows: Array<{ lineNo: number; raw: string; value?: Record<string, unknown>; problem?: string }>;
}

async function parseNdjsonFile(dataDir: string, name: string): Promise<ParsedFile> {
  let bytes: Buffer = await readFile(path.join(dataDir, name));
  let truncatedGzip = false;
  if (name.endsWith('.gz')) {
    try {
      bytes = gunzipSync(bytes, { finishFlush: 2 /* Z_SYNC_FLUSH: keep what decodes from a partial file */ });
    } catch {
      truncatedGzip = true;
      bytes = Buffer.alloc(0);
    }
  } else if (name.endsWith('.zst')) {
    try {
      bytes = codecByName('zstd').decompress(bytes);
    } catch {
      truncatedGzip = true;
      bytes = Buffer.alloc(0);
    }
  }
  const text = bytes.toString('utf8');
  const lastLf = text.lastIndexOf('\n');
  const complete = lastLf === -1 ? '' : text.slice(0, lastLf);
  const tail = text.slice(lastLf + 1);
  const lines = lastLf === -1 ? [] : complete.split('\n');
  const rows: ParsedFile['rows'] = [];
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] as string;
    const lineNo = i + 1;
    if (raw.length === 0) {
      rows.push({ lineNo, raw, problem: 'empty line' });
      continue;
    }
    try {
      const value: unknown = JSON.parse(raw);
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        rows.push({ lineNo, raw, problem: 'not a JSON object' });
      else rows.push({ lineNo, raw, value: value as Record<string, unknown> });
    } catch (err) {
      rows.push({ lineNo, raw, problem: `invalid JSON: ${(err as Error).message}` });
    }
  }
  const info: PersistedFile = {
    file: name,
    bytes: bytes.length,
    lines: lines.length,
    endsInPartialLine: tail.length > 0,
  };
  if (tail.length > 0) info.partialTail = tail.length > 200 ? `${tail.slice(0, 200)}…` : tail;
  if (truncatedGzip) info.truncatedGzip = true;
  return { info, rows };
}

const isRecordsFile = (name: string) => /\.ndjson(\.gz|\.zst)?$/.test(name) && !name.startsWith('rejects');

/**
 * A rotated file is compressed to a temp name, renamed into place, then its source is removed: for a
 * moment both exist. The compressed twin is complete (it was renamed into place last), so read only it.
 */
function withoutCompressedTwins(names: string[]): string[] {
  const set = new Set(names);
  return names.filter((n) => !(n.endsWith('.ndjson') && (set.has(`${n}.gz`) || set.has(`${n}.zst`))));
}

/**
 * The JSON lines of the files `names` in `dataDir`, in order: each object through `take`, and every
 * line that is not one an InvalidLine (so that a check can say what it could not read, and where).
 */
async function readLines<T>(
  dataDir: string,
  names: string[],
  take: (name: string, lineNo: number, value: Record<string, unknown>, raw: string) => T,
): Promise<{ items: T[]; files: PersistedFile[]; invalid: InvalidLine[] }> {
  const out = { items: [] as T[], files: [] as PersistedFile[], invalid: [] as InvalidLine[] };
  for (const name of names) {
    const parsed = await parseNdjsonFile(dataDir, name);
    out.files.push(parsed.info);
    for (const row of parsed.rows) {
      if (row.value) out.items.push(take(name, row.lineNo, row.value, row.raw));
      else
        out.invalid.push({
          file: name,
          lineNo: row.lineNo,
          text: row.raw.slice(0, 200),
          problem: row.problem ?? 'invalid',
        });
    }
  }
  return out;
}

/** Every record in `<dataDir>/*.ndjson`, `*.ndjson.gz` and `*.ndjson.zst` except the rejects file, in file then line order. */
export async function readRecords(dataDir: string): Promise<PersistedRecords> {
  const names = withoutCompressedTwins((await listDir(dataDir)).filter(isRecordsFile));
  const { items, files, invalid } = await readLines(dataDir, names, (file, lineNo, record, raw) => ({
    file,
    lineNo,
    record,
    raw,
  }));
  return { records: items, files, invalid };
}

export interface RejectEntry {
  file: string;
  lineNo: number;
  reject: Record<string, unknown>;
}

export interface PersistedRejects {
  rejects: RejectEntry[];
  files: PersistedFile[];
  invalid: InvalidLine[];
}

/** Entries of `<dataDir>/rejects.ndjson` (and a rotated rejects*.ndjson.gz, if any). */
export async function readRejects(dataDir: string): Promise<PersistedRejects> {
  const names = (await listDir(dataDir)).filter((n) => /^rejects.*\.ndjson(\.gz)?$/.test(n));
  const { items, files, invalid } = await readLines(dataDir, names, (file, lineNo, reject) => ({
    file,
    lineNo,
    reject,
  }));
  return { rejects: items, files, invalid };
}

export type Stats = Record<string, unknown> & {
  lane?: unknown;
  updatedAt?: unknown;
  connections?: Record<string, unknown>;
  records?: Record<string, unknown>;
  bytes?: Record<string, unknown>;
  streams?: Record<string, Record<string, unknown>>;
};

/** `<dataDir>/stats.json`, or null when it does not exist (yet). Throws if it is not JSON. */
export async function readStats(dataDir: string): Promise<Stats | null> {
  let text: string;
  try {
    text = await readFile(path.join(dataDir, 'stats.json'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const value: unknown = JSON.parse(text);
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new TypeError('stats.json is not a JSON object');
  return value as Stats;
}

/** Reads a dotted path such as "records.persisted" from stats. */
export function statNumber(stats: Stats | null, dotted: string): number | undefined {
  let cur: unknown = stats;
  for (const key of dotted.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return typeof cur === 'number' ? cur : undefined;
}

export interface SeqReport {
  /** Seqs in 1..max that never appear. */
  lost: number[];
  /** Seqs that appear more than once (each listed once). */
  duplicated: number[];
  /** Records whose (first) arrival has a seq below one already seen (in file, then line, order). */
  reordered: number;
  /** Records that carried a seq (for the stream asked for, if any). */
  count: number;
  maxSeq: number;
}

/** Checks `_rx.seq` of persisted records: every seq 1..max exactly once, in order. */
export function verifySeqs(
  records: ReadonlyArray<Pick<PersistedRecord, 'record'>>,
  opts: { stream?: number | string } = {},
): SeqReport {
  const seen = new Map<number, number>();
  let maxSeq = 0;
  let reordered = 0;
  let count = 0;
  for (const { record } of records) {
    const rx = record['_rx'] as Record<string, unknown> | undefined;
    if (!rx || typeof rx !== 'object') continue;
    if (opts.stream !== undefined && String(rx['stream']) !== String(opts.stream)) continue;
    const seq = rx['seq'];
    if (typeof seq !== 'number' || !Number.isInteger(seq)) continue;
    count++;
    if (seq < maxSeq && !seen.has(seq)) reordered++;
    if (seq > maxSeq) maxSeq = seq;
    seen.set(seq, (seen.get(seq) ?? 0) + 1);
  }
  const lost: number[] = [];
  for (let s = 1; s <= maxSeq; s++) if (!seen.has(s)) lost.push(s);
  const duplicated = [...seen]
    .filter(([, n]) => n > 1)
    .map(([s]) => s)
    .sort((a, b) => a - b);
  return { lost, duplicated, reordered, count, maxSeq };
}

/** [1,2,3,7,9,10] → "1-3, 7, 9-10" (at most `max` ranges). */
export function formatRanges(values: readonly number[], max = 10): string {
  const ranges: string[] = [];
  let i = 0;
  while (i < values.length && ranges.length < max) {
    const start = values[i] as number;
    let end = start;
    while (i + 1 < values.length && values[i + 1] === end + 1) end = values[++i] as number;
    ranges.push(start === end ? `${start}` : `${start}-${end}`);
    i++;
  }
  return i < values.length ? `${ranges.join(', ')}, … (${values.length} in all)` : ranges.join(', ');
}
