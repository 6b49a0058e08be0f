/**
 * Disk retention for records files (issue 18.4): a data dir must not grow until the disk is full.
 *
 * Two limits, each optional, applied by FileSink at startup and after each rotation:
 *   retainBytes   the records files together (on disk: compressed size for `.gz` / `.zst`) hold at most
 *                 this much; past it the oldest rotated files go;
 *   retainAgeMs   a rotated file whose newest line is older than this goes (its mtime is the time of its
 *                 last write, so every line in it is at least that old).
 *
 * What may go: only rotated files below `keepFrom`, oldest first. FileSink passes the index of the file it
 * writes (never removed), and runs retention after the compressions queued before it, so a file waiting to
 * be compressed is never removed either. Rotated files were fsynced before the next file took appends, so
 * nothing removed is un-synced data an ACK still waits for. The active file can thus keep the total above
 * retainBytes by up to one --rotate-bytes: the bound is retainBytes + rotateBytes (see COURSE.md).
 *
 * The decision (`planRetention`) is a pure function of the listing; `applyRetention` lists, decides and
 * removes.
 */
import { readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** records-NNNNNN.ndjson, .ndjson.gz, .ndjson.zst (not `.tmp`: an interrupted compression is FileSink.open's) */
const RECORDS_FILE = /^records-(\d{6,})\.ndjson(?:\.gz|\.zst)?$/;

export interface RetentionPolicy {
  /** most bytes the records files may hold together (0 or undefined: no limit) */
  retainBytes?: number | undefined;
  /** remove rotated files whose last write is older than this (0 or undefined: no limit) */
  retainAgeMs?: number | undefined;
}

export interface RecordFileInfo {
  name: string;
  index: number;
  bytes: number;
  mtimeMs: number;
}

export interface Removal {
  name: string;
  bytes: number;
  /** which limit removed it */
  reason: 'bytes' | 'age';
}

export function retentionEnabled(p: RetentionPolicy): boolean {
  return (p.retainBytes ?? 0) > 0 || (p.retainAgeMs ?? 0) > 0;
}

/** The records files of `dir` with their size and mtime, oldest index first. */
export async function listRecordFileInfo(dir: string): Promise<RecordFileInfo[]> {
  const out: RecordFileInfo[] = [];
  for (const name of await readdir(dir)) {
    const m = RECORDS_FILE.exec(name);
    if (!m) continue;
    try {
      const st = await stat(join(dir, name));
      out.push({ name, index: Number(m[1]), bytes: st.size, mtimeMs: st.mtimeMs });
    } catch {
      // gone between readdir and stat (a compression finishing): not ours to count
    }
  }
  return out.sort((a, b) => a.index - b.index || a.name.localeCompare(b.name));
}

/**
 * Which files to remove: among files with index < keepFrom, oldest first, each one that is past the age
 * limit, or needed to bring the total of ALL records files down to retainBytes.
 */
export function planRetention(
  files: readonly RecordFileInfo[],
  policy: RetentionPolicy,
  keepFrom: number,
  now: number,
): Removal[] {
  const maxBytes = policy.retainBytes ?? 0;
  const maxAge = policy.retainAgeMs ?? 0;
  let total = files.reduce((n, f) => n + f.bytes, 0);
  const out: Removal[] = [];
  for (const f of files) {
    if (f.index >= keepFrom) break;
    let reason: Removal['reason'] | undefined;
    if (maxBytes > 0 && total > maxBytes) reason = 'bytes';
    else if (maxAge > 0 && now - f.mtimeMs > maxAge) reason = 'age';
    if (!reason) continue;
    out.push({ name: f.name, bytes: f.bytes, reason });
    total -= f.bytes;
  }
  return out;
}

/** Lists, decides (planRetention) and removes; returns what was removed (a file already gone is skipped). */
export async function applyRetention(
  dir: string,
  policy: RetentionPolicy,
  keepFrom: number,
  now = Date.now(),
): Promise<Removal[]> {
  if (!retentionEnabled(policy)) return [];
  const removed: Removal[] = [];
  for (const r of planRetention(await listRecordFileInfo(dir), policy, keepFrom, now)) {
    try {
      await unlink(join(dir, r.name));
      removed.push(r);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return removed;
}
