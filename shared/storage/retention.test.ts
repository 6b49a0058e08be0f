import { mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { zstdCodec } from '../protocol/codecs.ts';
import { FileSink, recordFileName } from './file-sink.ts';
import { parseDuration } from './limits.ts';
import { applyRetention, planRetention, type RecordFileInfo } from './retention.ts';
import { readRecordLines } from './read-records.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(os.tmpdir(), 'retention-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const lines = (from: number, n: number) => Array.from({ length: n }, (_, i) => `{"i":${from + i}}\n`).join('');
const DAY = 86_400_000;
const records = async (d: string) => (await readdir(d)).filter((n) => n.startsWith('records-')).sort();
async function allLines(d: string): Promise<string[]> {
  const out: string[] = [];
  for await (const l of readRecordLines(d)) out.push(l);
  return out;
}

describe('planRetention', () => {
  const f = (index: number, bytes: number, ageDays = 0): RecordFileInfo => ({
    name: recordFileName(index),
    index,
    bytes,
    mtimeMs: 100 * DAY - ageDays * DAY,
  });
  const now = 100 * DAY;

  it('by size: the oldest rotated files go until the total fits; never keepFrom or later', () => {
    const files = [f(1, 100), f(2, 100), f(3, 100), f(4, 100)];
    expect(planRetention(files, { retainBytes: 250 }, 4, now).map((r) => [r.name, r.reason])).toEqual([
      [recordFileName(1), 'bytes'],
      [recordFileName(2), 'bytes'],
    ]);
    // the active file alone over the limit: nothing else to remove, and it stays
    expect(planRetention([f(4, 1000)], { retainBytes: 250 }, 4, now)).toEqual([]);
    expect(planRetention(files, { retainBytes: 50 }, 4, now).map((r) => r.name)).toEqual([1, 2, 3].map(recordFileName));
  });

  it('by age: rotated files last written before the limit go; the active file stays however old', () => {
    const files = [f(1, 10, 9), f(2, 10, 8), f(3, 10, 1), f(4, 10, 30)];
    expect(planRetention(files, { retainAgeMs: 7 * DAY }, 4, now).map((r) => [r.name, r.reason])).toEqual([
      [recordFileName(1), 'age'],
      [recordFileName(2), 'age'],
    ]);
  });

  it('no limits, nothing removed', () => {
    expect(planRetention([f(1, 1e9, 1e3), f(2, 1)], {}, 2, now)).toEqual([]);
  });
});

describe('parseDuration', () => {
  it('reads 7d, 12h, 30m, 45s, 500ms, 2w, bare seconds and 0; refuses the rest', () => {
    expect(parseDuration('7d')).toBe(7 * DAY);
    expect(parseDuration('12h')).toBe(12 * 3_600_000);
    expect(parseDuration('30m')).toBe(1_800_000);
    expect(parseDuration('45s')).toBe(45_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('2w')).toBe(14 * DAY);
    expect(parseDuration('90')).toBe(90_000);
    expect(parseDuration('0')).toBe(0);
    expect(() => parseDuration('a week')).toThrow(/not a duration/);
    expect(() => parseDuration('-1d')).toThrow(/not a duration/);
  });
});

describe('retention on real files', () => {
  it('applyRetention removes plain, .gz and .zst files alike; leaves temps, rejects and the active file', async () => {
    await writeFile(join(dir, `${recordFileName(1)}.gz`), gzipSync(lines(0, 100)));
    await writeFile(join(dir, `${recordFileName(2)}.zst`), zstdCodec.compress(Buffer.from(lines(100, 100)), 1));
    await writeFile(join(dir, recordFileName(3)), lines(200, 100));
    await writeFile(join(dir, `${recordFileName(4)}.gz.tmp`), 'x');
    await writeFile(join(dir, recordFileName(4)), lines(300, 100));
    await writeFile(join(dir, 'rejects.ndjson'), '{}\n');
    const removed = await applyRetention(dir, { retainBytes: 1 }, 4);
    expect(removed.map((r) => r.name)).toEqual([
      `${recordFileName(1)}.gz`,
      `${recordFileName(2)}.zst`,
      recordFileName(3),
    ]);
    expect((await readdir(dir)).sort()).toEqual([recordFileName(4), `${recordFileName(4)}.gz.tmp`, 'rejects.ndjson']);
  });

  it('at startup, by age: old rotated files go, counted; the newest file (appends continue there) stays', async () => {
    const old = (Date.now() - 10 * DAY) / 1000;
    for (let i = 1; i <= 3; i++) {
      await writeFile(join(dir, recordFileName(i)), lines(i * 10, 10));
      await utimes(join(dir, recordFileName(i)), old, old);
    }
    const sink = await FileSink.open({ dir, fsync: 'never', retainAgeMs: 7 * DAY });
    expect(sink.counters.retentionRemovedFiles).toBe(2);
    expect(sink.counters.retentionRemovedBytes).toBe(2 * lines(10, 10).length);
    await sink.whenWritten(sink.append(lines(40, 1)));
    await sink.close();
    expect(await records(dir)).toEqual([recordFileName(3)]);
    expect(await allLines(dir)).toEqual((lines(30, 10) + lines(40, 1)).trimEnd().split('\n'));
  });

  it('at rotation, a retention floor keeps the files from it on (a marks checkpoint still names them)', async () => {
    const sink = await FileSink.open({ dir, fsync: 'never', rotateBytes: 4096, retainBytes: 1 });
    sink.setRetentionFloor(() => 3);
    for (let i = 0; i < 3000; i += 100) await sink.whenWritten(sink.append(lines(i, 100)));
    await sink.close();
    const names = await records(dir);
    expect(sink.counters.rotations).toBeGreaterThan(4);
    expect(names[0]).toBe(recordFileName(3)); // 1 and 2 removed, 3 on kept although far over retainBytes
    expect(names.length).toBe(sink.counters.rotations - 1);
  });

  it('at rotation, by size, compressed at rest: the total stays within retainBytes + rotateBytes, the newest lines all there', async () => {
    const ROTATE = 4096;
    const RETAIN = 16 * 1024;
    for (const method of ['gzip', 'zstd'] as const) {
      const d = join(dir, method);
      const sink = await FileSink.open({
        dir: d,
        fsync: 'group',
        rotateBytes: ROTATE,
        compressRotated: method,
        retainBytes: RETAIN,
      });
      let removedEvents = 0;
      sink.on('retention', () => removedEvents++);
      const N = 20_000; // ~220 KB of records: many rotations
      for (let i = 0; i < N; i += 100) await sink.whenDurable(sink.append(lines(i, 100)));
      await sink.close();
      expect(sink.counters.retentionRemovedFiles, method).toBeGreaterThan(0);
      expect(removedEvents, method).toBeGreaterThan(0);
      const names = await records(d);
      expect(
        names.some((n) => n.endsWith('.tmp')),
        method,
      ).toBe(false);
      let total = 0;
      for (const n of names) total += (await stat(join(d, n))).size;
      expect(total, `${method}: ${names.join(' ')}`).toBeLessThanOrEqual(RETAIN + ROTATE);
      // what is left is the newest records, contiguous, ending with the last one written
      const left = await allLines(d);
      expect(left.at(-1)).toBe(`{"i":${N - 1}}`);
      const first = Number(/\d+/.exec(left[0]!)![0]);
      expect(left).toEqual(
        lines(first, N - first)
          .trimEnd()
          .split('\n'),
      );
      expect(first, method).toBeGreaterThan(0);
    }
  });
});
