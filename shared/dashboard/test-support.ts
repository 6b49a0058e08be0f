/**
 * Test helpers for the dashboard: a lane data dir written the way receivers write it (COURSE.md, what a receiver writes), and a
 * deadline-bound wait (tests never sleep for a fixed time).
 */
import { mkdir, rename, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface FakeStats {
  lane?: string;
  transport?: string;
  pid?: number;
  updatedAt?: string;
  received?: number;
  persisted?: number;
  rejected?: number;
  duplicates?: number;
  dropped?: number;
  wire?: number;
  decoded?: number;
  open?: number;
  total?: number;
  rejects?: Record<string, number>;
  streams?: Record<string, { hwm: number; received?: number; gaps: number; duplicates: number; reordered: number }>;
  extra?: Record<string, unknown>;
}

export function statsObject(s: FakeStats = {}): Record<string, unknown> {
  return {
    lane: s.lane ?? 'test',
    transport: s.transport ?? 'tcp',
    pid: s.pid ?? process.pid,
    startedAt: '2026-01-01T00:00:00.000Z',
    updatedAt: s.updatedAt ?? new Date().toISOString(),
    connections: { open: s.open ?? 1, total: s.total ?? 2, refused: 0, idleTimeouts: 0, errors: 0 },
    records: {
      received: s.received ?? 0,
      persisted: s.persisted ?? 0,
      rejected: s.rejected ?? 0,
      duplicates: s.duplicates ?? 0,
      dropped: s.dropped ?? 0,
    },
    bytes: { wire: s.wire ?? 0, decoded: s.decoded ?? 0 },
    rejects: s.rejects ?? {},
    streams: s.streams ?? {},
    ...s.extra,
  };
}

/** Replaces stats.json atomically, as StatsWriter does. Returns what was written. */
export async function writeStats(dir: string, s: FakeStats = {}): Promise<Record<string, unknown>> {
  await mkdir(dir, { recursive: true });
  const obj = statsObject(s);
  const tmp = join(dir, `stats.json.${Math.random().toString(36).slice(2)}.tmp`);
  await writeFile(tmp, `${JSON.stringify(obj, null, 1)}\n`);
  await rename(tmp, join(dir, 'stats.json'));
  return obj;
}

export interface FakeRecord {
  level: string;
  msg: string;
  service?: string;
  seq?: number;
}

/** One persisted line: the record plus `_rx`. */
export function recordLine(r: FakeRecord, lane = 'test', stream = 1): string {
  const rec: Record<string, unknown> = {
    ts: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, r.seq ?? 0)).toISOString(),
    level: r.level,
    msg: r.msg,
  };
  if (r.service) rec.service = r.service;
  rec._rx = {
    ts: new Date().toISOString(),
    peer: '127.0.0.1:50000',
    lane,
    ...(r.seq !== undefined ? { stream, seq: r.seq } : {}),
  };
  return `${JSON.stringify(rec)}\n`;
}

export async function appendRecords(
  dir: string,
  file: string,
  records: readonly FakeRecord[],
  lane = 'test',
): Promise<void> {
  await mkdir(dir, { recursive: true });
  await appendFile(join(dir, file), records.map((r) => recordLine(r, lane)).join(''));
}

export async function appendRejects(
  dir: string,
  rejects: ReadonlyArray<{ reason: string; seq?: number; sample: string }>,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  await appendFile(
    join(dir, 'rejects.ndjson'),
    rejects.map((r) => `${JSON.stringify({ ts: new Date().toISOString(), peer: '127.0.0.1:50001', ...r })}\n`).join(''),
  );
}

/** Polls `probe` until it returns a value that is not undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `waited ${timeoutMs} ms for ${what}${last ? ` (last error: ${last instanceof Error ? last.message : JSON.stringify(last)})` : ''}`,
      );
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A pid that is certainly not running: a child we started and saw exit. */
export async function deadPid(): Promise<number> {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  const pid = child.pid!;
  await new Promise((r) => child.once('exit', r));
  return pid;
}
