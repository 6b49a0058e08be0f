// Issue 18.4 (and 18.2's rotation bound), end to end on real receivers: the disk stays bounded.
//  - Rejects sampled per second: a client sends 100,000 bad lines; every one is counted by reason in
//    stats.json, but rejects.ndjson holds at most --rejects-per-second lines a second of the receiver's life.
//  - Rotation and retention under load: day 09's shipper streams into a receiver with --rotate-bytes
//    256 KiB (the size with which files once grew to 11–17 MB) and --retain-bytes; no records file passes
//    --rotate-bytes, the records files together stay within --retain-bytes + --rotate-bytes, what was
//    removed is counted in stats.json, and what is left is the newest records, each once.
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startProgram, type Program } from '../scripts/lib/launch.ts';
import { readRecordLines } from '../shared/storage/read-records.ts';

const running: Program[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop('SIGKILL')));
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tmp(prefix: string): Promise<string> {
  const d = await mkdtemp(join(os.tmpdir(), prefix));
  dirs.push(d);
  return d;
}

function start(name: string, file: string, args: string[]): Program {
  const p = startProgram({ name, file, args });
  running.push(p);
  return p;
}

type Json = Record<string, unknown>;
async function stats(dataDir: string): Promise<Json | undefined> {
  try {
    return JSON.parse(await readFile(join(dataDir, 'stats.json'), 'utf8')) as Json;
  } catch {
    return undefined; // not written yet, or mid-rename
  }
}
const sinkOf = (st: Json | undefined) => (st?.['sink'] ?? {}) as Record<string, number>;

/** Polls `f` until it returns a value (a condition, not a sleep in place of one). */
async function until<T>(f: () => Promise<T | undefined>, what: string, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the disk stays bounded (issue 18.4)', () => {
  it('100,000 bad lines: every one counted by reason, rejects.ndjson within --rejects-per-second', async () => {
    const dataDir = await tmp('rejects-sampled-');
    const PER_SECOND = 20;
    const BAD = 100_000;
    const startedAt = Date.now();
    const rx = start('day08 receiver', 'lessons/day08/receiver.ts', [
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--rejects-per-second',
      String(PER_SECOND),
      '--stats-interval-ms',
      '50',
    ]);
    const { port } = await rx.ready;
    const good = (i: number) => `{"ts":"2026-12-06T00:00:00Z","level":"info","msg":"good ${i}"}\n`;
    const sock = net.connect(port, '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    let text = good(0);
    for (let i = 0; i < BAD; i++) text += i % 2 ? `not json ${i}\n` : `{"msg":"no ts or level ${i}"}\n`;
    text += good(1);
    await new Promise<void>((r) => sock.end(text, () => r()));

    const st = await until(async () => {
      const s = await stats(dataDir);
      const records = s?.['records'] as Record<string, number> | undefined;
      return records && records['rejected'] === BAD && records['persisted'] === 2 ? s : undefined;
    }, `stats.json records.rejected = ${BAD}`);
    expect((await rx.stop('SIGTERM')).exitCode).toBe(0);
    const lifeSec = (Date.now() - startedAt) / 1000;

    const rejects = st['rejects'] as Record<string, number>;
    expect(Object.values(rejects).reduce((a, b) => a + b, 0)).toBe(BAD); // every reject counted by reason
    const final = sinkOf(await stats(dataDir));
    expect(final['rejectsWritten']! + final['rejectsSuppressed']!).toBe(BAD);
    const lines = (await readFile(join(dataDir, 'rejects.ndjson'), 'utf8')).split('\n').filter(Boolean);
    expect(lines.length).toBe(final['rejectsWritten']);
    // a burst of one second's worth, then PER_SECOND a second, over the receiver's whole life
    expect(lines.length).toBeLessThanOrEqual(PER_SECOND * (Math.ceil(lifeSec) + 1));
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) {
      const r = JSON.parse(l) as { peer?: unknown; reason?: unknown };
      expect([typeof r.peer, typeof r.reason]).toEqual(['string', 'string']);
    }
    process.stdout.write(
      `[rejects] ${BAD} bad lines in ${lifeSec.toFixed(1)} s: ${lines.length} written, ${final['rejectsSuppressed']} counted only; by reason ${JSON.stringify(rejects)}\n`,
    );
  }, 120_000);

  it('under load: no records file passes --rotate-bytes, the total stays within --retain-bytes + --rotate-bytes', async () => {
    const root = await tmp('retention-load-');
    const dataDir = join(root, 'data');
    const ROTATE = 256 * 1024;
    const RETAIN = 2 * 1024 * 1024;
    const N = 60_000;
    const STREAM = 7;
    const rx = start('day09 receiver', 'lessons/day09/receiver.ts', [
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--rotate-bytes',
      String(ROTATE),
      '--retain-bytes',
      String(RETAIN),
      '--stats-interval-ms',
      '50',
      // Retention never removes the file the marks checkpoint names, nor a later one (FileSink.setRetentionFloor):
      // the bound is retain + rotate only while a checkpoint comes every few files. With the default 1 s, and
      // group commit writing through rotations without waiting for their fsyncs (issue 21.4), 40 of these
      // 256 KiB files came between two checkpoints.
      '--checkpoint-interval-ms',
      '50',
    ]);
    const { port } = await rx.ready;
    const shipper = start('day09 shipper', 'lessons/day09/shipper.ts', [
      '--target',
      `127.0.0.1:${port}`,
      '--generate',
      String(N),
      '--stream-id',
      String(STREAM),
      '--state-dir',
      join(root, 'shipper'),
      '--progress-ms',
      '0',
    ]);
    expect((await shipper.exit).exitCode).toBe(0);
    expect(await shipper.done).toMatchObject({ acked: N });
    const st = await until(async () => {
      const s = await stats(dataDir);
      return s && (s['records'] as Record<string, number>)['persisted'] === N ? s : undefined;
    }, `stats.json records.persisted = ${N}`);
    expect((await rx.stop('SIGTERM')).exitCode).toBe(0);

    const names = (await readdir(dataDir)).filter((n) => n.startsWith('records-')).sort();
    let total = 0;
    for (const n of names) {
      const size = (await stat(join(dataDir, n))).size;
      expect(size, `${n} within --rotate-bytes`).toBeLessThanOrEqual(ROTATE);
      total += size;
    }
    expect(total, names.join(' ')).toBeLessThanOrEqual(RETAIN + ROTATE);
    const sink = sinkOf((await stats(dataDir)) ?? st);
    expect(sink['retentionRemovedFiles']).toBeGreaterThan(0);
    expect(sink['rotations']).toBeGreaterThanOrEqual(names.length - 1 + sink['retentionRemovedFiles']!);
    // what is left: the newest records, a contiguous run of seqs ending at N, each once
    const seqs: number[] = [];
    for await (const line of readRecordLines(dataDir)) {
      const r = (JSON.parse(line) as { _rx?: { stream?: number; seq?: number } })._rx;
      if (r?.stream === STREAM && r.seq !== undefined) seqs.push(r.seq);
    }
    const first = seqs[0]!;
    expect(first).toBeGreaterThan(1);
    expect(seqs).toEqual(Array.from({ length: N - first + 1 }, (_, i) => first + i));
    process.stdout.write(
      `[retention] ${N} records: ${sink['rotations']} rotations, ${sink['retentionRemovedFiles']} files (${sink['retentionRemovedBytes']} B) removed; left ${names.length} files, ${total} B, seqs ${first}..${N}\n`,
    );
  }, 180_000);
});
