// Issue 18, item 2, at the sink: a writer is killed (SIGKILL) at each named fault point of
// LOGSTREAM_FAULT_SINK=kill-at:POINT — mid-write, mid-rotation, mid-compression, after the compressed
// twin is in place — and the next FileSink.open recovers: every acknowledged line is there exactly once
// and in order, no temp file or twin is left, and no records file passes --rotate-bytes. The real
// receiver killed at each point (and mid-checkpoint), with a shipper, is tests/heavy/restart.test.ts.
import { execa } from 'execa';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { FileSink } from '../shared/storage/file-sink.ts';
import { readRecordLines } from '../shared/storage/read-records.ts';
import { REPO_ROOT } from '../scripts/lib/launch.ts';

const CHILD = join(REPO_ROOT, 'tests/support/sink-kill-child.ts');
const ROTATE_BYTES = 4096;
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** What each point leaves on disk (proves the point is where its name says). */
const LEFT: Record<string, (names: string[], dir: string) => Promise<boolean>> = {
  write: async (names, dir) => {
    const plain = names.filter((n) => /^records-\d+\.ndjson$/.test(n)).sort();
    const last = await readFile(join(dir, plain.at(-1)!));
    return last.length > 0 && last[last.length - 1] !== 0x0a; // a partial last line
  },
  rotate: (names) => Promise.resolve(names.filter((n) => /^records-\d+\.ndjson$/.test(n)).length >= 2), // rotated, not compressed
  compress: (names) => Promise.resolve(names.some((n) => n.endsWith('.ndjson.gz.tmp'))),
  compressed: (names) => Promise.resolve(names.some((n) => n.endsWith('.ndjson.gz') && names.includes(n.slice(0, -3)))), // twin
};

describe('FileSink restarts after a kill at every named fault point', () => {
  it.each([
    ['write', 40],
    ['rotate', 6],
    ['compress', 4],
    ['compressed', 4],
  ])('kill-at:%s:%i, then open: nothing acknowledged lost or duplicated', async (point, nth) => {
    const dir = await mkdtemp(join(os.tmpdir(), `sink-kill-${point}-`));
    dirs.push(dir);
    const r = await execa(process.execPath, ['--import', 'tsx', CHILD, dir], {
      cwd: REPO_ROOT,
      env: { LOGSTREAM_FAULT_SINK: `kill-at:${point}:${nth}` },
      reject: false,
      timeout: 60_000,
    });
    expect(r.signal, `the writer dies by SIGKILL at ${point} (stderr: ${r.stderr.slice(-400)})`).toBe('SIGKILL');
    const acked = Number(r.stdout.trim().split('\n').at(-1) ?? 0);
    const left = await readdir(dir);
    expect(await LEFT[point]!(left, dir), `what kill-at:${point} leaves: ${left.sort().join(' ')}`).toBe(true);

    const sink = await FileSink.open({
      dir,
      fsync: 'never',
      rotateBytes: ROTATE_BYTES,
      compressRotated: 'gzip',
      onDirLocked: 'throw',
    });
    // open has finished the half-done work before returning: no temp, no twin, one plain file (the active one)
    const names = (await readdir(dir)).sort();
    expect(names.filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(names.filter((n) => /^records-\d+\.ndjson$/.test(n))).toEqual([sink.activeFile.split('/').at(-1)]);
    await sink.close();

    const seen: number[] = [];
    for await (const l of readRecordLines(dir)) seen.push((JSON.parse(l) as { i: number }).i);
    expect(seen.length).toBeGreaterThanOrEqual(acked);
    const wrong = seen.findIndex((v, k) => v !== k);
    expect(
      wrong,
      `line ${wrong} is ${seen[wrong]} (lines 0..${seen.length - 1} in order expected; ${acked} acknowledged)`,
    ).toBe(-1);
    // the rotation bound: no records file (decompressed) holds more than --rotate-bytes (no line is longer)
    for (const n of (await readdir(dir)).filter((x) => x.startsWith('records-'))) {
      const size = n.endsWith('.gz')
        ? gunzipSync(await readFile(join(dir, n))).length
        : (await stat(join(dir, n))).size;
      expect(size, n).toBeLessThanOrEqual(ROTATE_BYTES);
    }
  });
});
