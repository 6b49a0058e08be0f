/**
 * What the dashboard knows about a lane comes from its data dir alone (COURSE.md, what a receiver writes): `stats.json`, the
 * records files (`*.ndjson`) and `rejects.ndjson`. No receiver code is imported: any program that
 * writes the persisted form shows up, the reference lessons and a learner's alike.
 *
 * Files can be large (hundreds of MiB), so the latest records are read by tailing: only the last
 * `maxBytes` of the newest files, never a whole file. A line still being written (no LF yet) is left
 * for the next read.
 */
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

const LF = 0x0a;
export const STATS_FILE = 'stats.json';
export const REJECTS_FILE = 'rejects.ndjson';

export type StatsRead =
  | { ok: true; stats: Record<string, unknown>; mtimeMs: number }
  | { ok: false; reason: 'no_stats' | 'unreadable'; detail: string };

/** Reads and parses `<dir>/stats.json` (replaced atomically by receivers, so never half-written). */
export async function readStats(dir: string): Promise<StatsRead> {
  const path = join(dir, STATS_FILE);
  let text: string;
  let mtimeMs: number;
  try {
    const [st, t] = await Promise.all([stat(path), readFile(path, 'utf8')]);
    text = t;
    mtimeMs = st.mtimeMs;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, reason: code === 'ENOENT' ? 'no_stats' : 'unreadable', detail: code ?? String(err) };
  }
  try {
    const v: unknown = JSON.parse(text);
    if (v === null || typeof v !== 'object' || Array.isArray(v))
      return { ok: false, reason: 'unreadable', detail: 'stats.json is not a JSON object' };
    return { ok: true, stats: v as Record<string, unknown>, mtimeMs };
  } catch (err) {
    return { ok: false, reason: 'unreadable', detail: `stats.json is not JSON: ${(err as Error).message}` };
  }
}

export interface TailChunk {
  path: string;
  size: number;
  mtimeMs: number;
  /** complete lines, oldest first */
  lines: string[];
  /** true when the read started at offset 0 (the whole file was seen) */
  fromStart: boolean;
}

/**
 * The complete lines in the last `maxBytes` of a file. The first line is dropped when the read starts
 * mid-file (it is only the end of a line); bytes after the last LF are a line still being written.
 */
export async function tailLines(path: string, maxBytes: number): Promise<TailChunk | undefined> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const st = await fh.stat();
    const start = Math.max(0, st.size - maxBytes);
    const len = st.size - start;
    const buf = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const { bytesRead } = await fh.read(buf, got, len - got, start + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    let from = 0;
    if (start > 0) {
      const nl = buf.indexOf(LF);
      from = nl < 0 || nl >= got ? got : nl + 1;
    }
    const end = buf.lastIndexOf(LF, got - 1) + 1;
    const lines = end > from ? buf.toString('utf8', from, end - 1).split('\n') : [];
    return { path, size: st.size, mtimeMs: st.mtimeMs, lines, fromStart: start === 0 };
  } finally {
    await fh.close();
  }
}

export interface RecordFile {
  name: string;
  path: string;
  size: number;
  mtimeMs: number;
}

/**
 * The records files (`*.ndjson`, not rejects.ndjson; compressed rotated files are skipped), newest
 * first: by modification time, then by name (records-000002 after records-000001).
 */
export async function listRecordFiles(dir: string): Promise<RecordFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: RecordFile[] = [];
  await Promise.all(
    names
      .filter((n) => n.endsWith('.ndjson') && n !== REJECTS_FILE)
      .map(async (name) => {
        const path = join(dir, name);
        try {
          const st = await stat(path);
          if (st.isFile()) out.push({ name, path, size: st.size, mtimeMs: st.mtimeMs });
        } catch {
          // rotated away between readdir and stat
        }
      }),
  );
  out.sort((a, b) => b.mtimeMs - a.mtimeMs || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
  return out;
}

/** One parsed line: the object (to filter on) and the line as written (to send on without re-serialising). */
export interface TailEntry {
  value: Record<string, unknown>;
  raw: string;
}

/** Parses NDJSON lines (oldest first) into entries, newest first; lines that are not JSON objects are skipped. */
export function parseNewestFirst(lines: readonly string[], into: TailEntry[] = []): TailEntry[] {
  for (let i = lines.length - 1; i >= 0; i--) {
    const raw = lines[i]!.trim();
    if (raw.length < 2) continue;
    try {
      const v: unknown = JSON.parse(raw);
      if (v !== null && typeof v === 'object' && !Array.isArray(v))
        into.push({ value: v as Record<string, unknown>, raw });
    } catch {
      // a torn line after a crash: not ours to judge here
    }
  }
  return into;
}

/** Is this pid a running process on this host? EPERM means it exists but belongs to someone else. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
