import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { zstdCodec } from '../protocol/codecs.ts';
import type { FileHandle } from 'node:fs/promises';
import { FileSink, parseSinkFault, recordFileName, truncatePartialLine } from './file-sink.ts';
import { readRecordLines } from './read-records.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(os.tmpdir(), 'sink-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const lines = (from: number, n: number) => Array.from({ length: n }, (_, i) => `{"i":${from + i}}\n`).join('');
async function readAll(d: string): Promise<string> {
  let out = '';
  for (const f of (await readdir(d)).sort()) {
    if (!f.startsWith('records-')) continue;
    const buf = await readFile(join(d, f));
    out += f.endsWith('.gz')
      ? gunzipSync(buf).toString()
      : f.endsWith('.zst')
        ? zstdCodec.decompress(buf).toString()
        : buf.toString();
  }
  return out;
}

describe('FileSink', () => {
  it.each(['group', 'always', 'interval', 'never'] as const)(
    'fsync %s: durable tickets resolve and the data is on disk',
    async (fsync) => {
      const sink = await FileSink.open({ dir, fsync, fsyncIntervalMs: 5 });
      const t1 = sink.append(lines(0, 10));
      const t2 = sink.append(Buffer.from(lines(10, 10)));
      await sink.whenDurable(t2);
      await sink.whenDurable(t1); // already covered
      expect(await readFile(sink.activeFile, 'utf8')).toBe(lines(0, 20));
      if (fsync !== 'never') expect(sink.counters.fsyncs).toBeGreaterThan(0);
      await sink.close();
    },
  );

  it('group commit: many appends while an fsync runs are covered by few fsyncs', async () => {
    const sink = await FileSink.open({ dir, fsync: 'always' });
    const tickets = Array.from({ length: 200 }, (_, i) => sink.append(lines(i, 1)));
    await Promise.all(tickets.map((t) => sink.whenDurable(t)));
    expect(sink.counters.fsyncs).toBeLessThan(50);
    await sink.close();
    expect((await readAll(dir)).split('\n').length - 1).toBe(200);
  });

  it('rotates by size and gzips rotated files; every line exactly once', async () => {
    const sink = await FileSink.open({ dir, fsync: 'never', rotateBytes: 4096, compressRotated: 'gzip' });
    for (let i = 0; i < 50; i++) await sink.whenWritten(sink.append(lines(i * 20, 20)));
    await sink.close();
    const names = await readdir(dir);
    expect(names.filter((n) => n.endsWith('.ndjson.gz')).length).toBeGreaterThanOrEqual(2);
    expect(names.some((n) => n.endsWith('.tmp'))).toBe(false);
    expect(await readAll(dir)).toBe(lines(0, 1000));
  });

  it('rotates by size and zstd-compresses rotated files (.ndjson.zst); every line exactly once', async () => {
    const sink = await FileSink.open({ dir, fsync: 'never', rotateBytes: 4096, compressRotated: 'zstd' });
    for (let i = 0; i < 50; i++) await sink.whenWritten(sink.append(lines(i * 20, 20)));
    await sink.close();
    const names = await readdir(dir);
    const zst = names.filter((n) => /^records-\d{6}\.ndjson\.zst$/.test(n));
    expect(zst.length).toBeGreaterThanOrEqual(2);
    expect(sink.counters.compressedFiles).toBe(zst.length);
    expect(names.some((n) => n.endsWith('.tmp') || n.endsWith('.gz'))).toBe(false);
    // Each .zst is a standalone zstd stream (readable by the zstd CLI) holding whole lines.
    for (const n of zst)
      expect(zstdCodec.decompress(await readFile(join(dir, n))).toString()).toMatch(/^(\{"i":\d+\}\n)+$/);
    expect(await readAll(dir)).toBe(lines(0, 1000));
    const viaReader: string[] = [];
    for await (const l of readRecordLines(dir)) viaReader.push(l);
    expect(viaReader.join('\n') + '\n').toBe(lines(0, 1000));
  });

  it('zstd at rest: a level outside 1..19 is refused when the sink opens, not at the first rotation', async () => {
    await expect(
      FileSink.open({ dir, fsync: 'never', compressRotated: 'zstd', compressLevel: 42 }),
    ).rejects.toMatchObject({ code: 'LS_ERR_CODEC' });
    await expect(FileSink.open({ dir, fsync: 'never', compressRotated: 'gzip', compressLevel: 42 })).rejects.toThrow();
  });

  it('finishes an interrupted zstd compression, drops a .zst.tmp, and compresses rotated leftovers', async () => {
    const compress = (b: Buffer) => zstdCodec.compress(b);
    await writeFile(join(dir, recordFileName(1)), lines(0, 3));
    await writeFile(join(dir, `${recordFileName(1)}.zst`), compress(Buffer.from(lines(0, 3))));
    await writeFile(join(dir, recordFileName(2)), lines(3, 2)); // rotated, never compressed (crash)
    await writeFile(join(dir, `${recordFileName(2)}.zst.tmp`), 'junk'); // the interrupted attempt
    await writeFile(join(dir, `${recordFileName(3)}.gz`), gzipSync(lines(5, 2))); // an older gzip-era file
    const sink = await FileSink.open({ dir, fsync: 'never', compressRotated: 'zstd' });
    expect(sink.activeFile).toBe(join(dir, recordFileName(4))); // the newest file is compressed: start a new one
    sink.append(lines(7, 1));
    await sink.close();
    const names = (await readdir(dir)).sort();
    expect(names).toEqual([
      `${recordFileName(1)}.zst`,
      `${recordFileName(2)}.zst`,
      `${recordFileName(3)}.gz`,
      recordFileName(4),
      'rejects.ndjson',
    ]);
    expect(await readAll(dir)).toBe(lines(0, 8));
  });

  it('recovers after a crash: a partial last line is cut and appends continue in the newest file', async () => {
    await writeFile(join(dir, recordFileName(1)), `${lines(0, 3)}{"i":3`);
    const sink = await FileSink.open({ dir, fsync: 'never' });
    sink.append(lines(3, 2));
    await sink.close();
    expect(await readAll(dir)).toBe(lines(0, 5));
  });

  it('finishes an interrupted compression: a source with a complete .gz is removed', async () => {
    await writeFile(join(dir, recordFileName(1)), lines(0, 3));
    await writeFile(join(dir, `${recordFileName(1)}.gz`), gzipSync(lines(0, 3)));
    await writeFile(join(dir, `${recordFileName(2)}.gz.tmp`), 'junk');
    const sink = await FileSink.open({ dir, fsync: 'never', compressRotated: 'gzip' });
    sink.append(lines(3, 1));
    await sink.close();
    expect(await readAll(dir)).toBe(lines(0, 4));
    expect((await readdir(dir)).some((n) => n.endsWith('.tmp'))).toBe(false);
  });

  it('writes rejects with a sample of at most 256 bytes', async () => {
    const sink = await FileSink.open({ dir, fsync: 'never' });
    sink.reject({ peer: '127.0.0.1:1', reason: 'invalid_json', seq: 7, sample: Buffer.alloc(1000, 0x61) });
    await sink.close();
    const rej = JSON.parse(await readFile(join(dir, 'rejects.ndjson'), 'utf8')) as {
      reason: string;
      seq: number;
      sample: string;
    };
    expect(rej).toMatchObject({ reason: 'invalid_json', seq: 7 });
    expect(rej.sample.length).toBe(256);
  });

  it('signals backpressure past the high-water mark and drains', async () => {
    const sink = await FileSink.open({ dir, fsync: 'never', highWaterMark: 1000, writeDelayMs: 5 });
    const drained = new Promise<void>((r) => sink.once('drain', () => r()));
    sink.append(lines(0, 200));
    expect(sink.overHighWater).toBe(true);
    await drained;
    expect(sink.overHighWater).toBe(false);
    await sink.close();
  });
});

describe('FileSink: rotation bound and restart (issue 18)', () => {
  it('no records file passes rotateBytes: a group is split at a line boundary first; a longer line gets a file of its own', async () => {
    const sink = await FileSink.open({ dir, fsync: 'never', rotateBytes: 4096 });
    sink.append(lines(0, 1000)); // ~10 KB in one append: split over three files
    const long = `{"i":1000,"pad":"${'y'.repeat(6000)}"}\n`;
    sink.append(long);
    await sink.whenWritten(sink.append(lines(1001, 10)));
    await sink.close();
    const sizes = new Map<string, number>();
    for (const f of (await readdir(dir)).filter((n) => n.startsWith('records-')).sort())
      sizes.set(f, (await readFile(join(dir, f))).length);
    for (const [f, size] of sizes) {
      const text = await readFile(join(dir, f), 'utf8');
      expect(text.endsWith('\n'), `${f} ends with a whole line`).toBe(true);
      if (size > 4096) expect(text, `${f} over the limit holds the one long line alone`).toBe(long);
    }
    expect([...sizes.values()].filter((n) => n > 4096)).toEqual([long.length]);
    expect(await readAll(dir)).toBe(lines(0, 1000) + long + lines(1001, 10));
  });

  it('one round of small and large appends past 1 MiB is written whole and in order', async () => {
    const sink = await FileSink.open({ dir, fsync: 'never' });
    const small = (i: number) => `{"i":${i},"pad":"${'x'.repeat(500)}"}\n`;
    const big = `{"big":"${'y'.repeat(2 << 20)}"}\n`;
    let want = '';
    for (let i = 0; i < 3000; i++) {
      const text = i === 1500 ? big : small(i);
      sink.append(Buffer.from(text));
      want += text;
    }
    await sink.close();
    expect(sink.counters.writes).toBeGreaterThan(2); // staged in slices of at most 1 MiB, the big one alone
    expect(await readAll(dir)).toBe(want);
  });

  it('restarting on a file already at the limit rotates before the first write', async () => {
    await writeFile(join(dir, recordFileName(1)), lines(0, 500)); // ~5 KB, over a 4096 limit (an older version)
    const sink = await FileSink.open({ dir, fsync: 'never', rotateBytes: 4096 });
    await sink.whenWritten(sink.append(lines(500, 1)));
    expect(sink.activeFile).toBe(join(dir, recordFileName(2)));
    await sink.close();
    expect(await readAll(dir)).toBe(lines(0, 501));
  });

  it('open finishes the half-done work of a kill before it returns: temps dropped, twins resolved, leftovers compressed', async () => {
    await writeFile(join(dir, recordFileName(1)), lines(0, 3)); // compressed twin in place, source not yet removed
    await writeFile(join(dir, `${recordFileName(1)}.gz`), gzipSync(lines(0, 3)));
    await writeFile(join(dir, recordFileName(2)), lines(3, 2)); // rotated, its compression interrupted
    await writeFile(join(dir, `${recordFileName(2)}.gz.tmp`), 'half a gzip');
    await writeFile(join(dir, recordFileName(3)), lines(5, 2)); // rotated, never compressed (killed at rotate)
    await writeFile(join(dir, recordFileName(4)), `${lines(7, 1)}{"i":8`); // active, killed mid-write
    const sink = await FileSink.open({ dir, fsync: 'never', compressRotated: 'gzip' });
    // before any close: nothing left for a background job, so the marks recovery can scan at once
    expect((await readdir(dir)).filter((n) => n.startsWith('records-')).sort()).toEqual([
      `${recordFileName(1)}.gz`,
      `${recordFileName(2)}.gz`,
      `${recordFileName(3)}.gz`,
      recordFileName(4),
    ]);
    expect(sink.counters.compressedFiles).toBe(2);
    sink.append(lines(8, 1));
    await sink.close();
    expect(await readAll(dir)).toBe(lines(0, 9));
  });

  it('parses LOGSTREAM_FAULT_SINK kill points, alone or with other faults', () => {
    expect(parseSinkFault('kill-at:rotate')).toEqual({ killAt: { point: 'rotate', nth: 1 } });
    expect(parseSinkFault('slow:5,kill-at:compress:3')).toEqual({ slowMs: 5, killAt: { point: 'compress', nth: 3 } });
    expect(() => parseSinkFault('kill-at:lunch')).toThrow(/kill-at:write\|rotate/);
    expect(() => parseSinkFault('kill-at:write:0')).toThrow();
  });
});

describe('FileSink: what waits for an fsync — group commit, rotations (issue 21.4)', () => {
  /** Holds every datasync of FileHandles until released, so a test can see what waits for which fsync. */
  async function gateDatasync(): Promise<{ started: () => number; release: () => void; restore: () => void }> {
    const probe = await FileSink.open({ dir: join(dir, 'probe'), fsync: 'never' });
    // reach the FileHandle class through the sink's handle (node:fs/promises does not export it)
    const proto = Object.getPrototypeOf((probe as unknown as { fh: FileHandle }).fh) as FileHandle;
    await probe.close();
    // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be called with each handle as `this`
    const original = proto.datasync;
    const deferred = () => {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      return { promise, resolve };
    };
    let gate = deferred();
    let started = 0;
    proto.datasync = async function (this: FileHandle) {
      started++;
      await gate.promise;
      return original.call(this);
    };
    return {
      started: () => started,
      release: () => {
        gate.resolve();
        gate = deferred();
      },
      restore: () => {
        proto.datasync = original;
        gate.resolve();
      },
    };
  }

  it('an ACK waits for an fsync that began after its data was written; writes go on while an fsync runs', async () => {
    const gate = await gateDatasync();
    try {
      const sink = await FileSink.open({ dir, fsync: 'group' });
      const t1 = sink.append(lines(0, 5));
      await sink.whenWritten(t1);
      await vi.waitFor(() => expect(gate.started()).toBe(1)); // the first fsync is running (held)
      let d1 = false;
      let d2 = false;
      void sink.whenDurable(t1).then(() => (d1 = true));
      // written while that fsync runs: the write is not held up by it, but its ACK must wait for the next
      const t2 = sink.append(lines(5, 5));
      await sink.whenWritten(t2);
      void sink.whenDurable(t2).then(() => (d2 = true));
      await new Promise((r) => setImmediate(r));
      expect([d1, d2]).toEqual([false, false]); // nothing durable before an fsync returns
      gate.release(); // the first fsync returns: t1 durable, t2 not (its data came after that fsync began)
      await vi.waitFor(() => expect(d1).toBe(true));
      await vi.waitFor(() => expect(gate.started()).toBe(2)); // the next fsync starts at once, no timer
      expect(d2).toBe(false);
      gate.release();
      await vi.waitFor(() => expect(d2).toBe(true));
      gate.restore();
      await sink.close();
      expect(await readAll(dir)).toBe(lines(0, 10));
    } finally {
      gate.restore();
    }
  });

  it("a rotation does not stop writes for the old file's fsync; the ACK waits for both files", async () => {
    const gate = await gateDatasync();
    try {
      const sink = await FileSink.open({ dir, fsync: 'group', rotateBytes: 64 });
      const rotated: string[] = [];
      sink.on('rotate', (file: string) => rotated.push(file));
      const t1 = sink.append(lines(0, 5));
      await sink.whenWritten(t1);
      await vi.waitFor(() => expect(gate.started()).toBe(1)); // file 1's fsync is running (held)
      // 40 + 40 bytes > 64: this append rotates, and is written although no fsync has returned yet
      const t2 = sink.append(lines(5, 5));
      await sink.whenWritten(t2);
      expect(sink.activeFile).toBe(join(dir, recordFileName(2)));
      let d1 = false;
      let d2 = false;
      void sink.whenDurable(t1).then(() => (d1 = true)); // (waiters in ticket order, as receivers wait)
      void sink.whenDurable(t2).then(() => (d2 = true));
      gate.release(); // the round before the rotation returns: t1 durable, t2 (in both files) not yet
      await vi.waitFor(() => expect(d1).toBe(true));
      await vi.waitFor(() => expect(gate.started()).toBe(3)); // the next round: the old file and the new one
      expect([d2, rotated]).toEqual([false, []]); // the rotated file is announced only once it is durable
      gate.release();
      await vi.waitFor(() => expect(d2).toBe(true));
      expect(rotated).toEqual([join(dir, recordFileName(1))]);
      gate.restore();
      await sink.close();
      expect(await readAll(dir)).toBe(lines(0, 10));
    } finally {
      gate.restore();
    }
  });

  it("fsync never: a rotation's fsync of the old file stops no write, and the file is announced once synced", async () => {
    const gate = await gateDatasync();
    try {
      const sink = await FileSink.open({ dir, fsync: 'never', rotateBytes: 64 });
      const rotated: string[] = [];
      sink.on('rotate', (file: string) => rotated.push(file));
      await sink.whenDurable(sink.append(lines(0, 5)));
      // 40 + 40 bytes > 64: this append rotates, and is durable (written) while the old file's fsync is held
      await sink.whenDurable(sink.append(lines(5, 5)));
      expect(sink.activeFile).toBe(join(dir, recordFileName(2)));
      expect([gate.started(), rotated]).toEqual([1, []]);
      gate.release();
      await vi.waitFor(() => expect(rotated).toEqual([join(dir, recordFileName(1))]));
      gate.restore();
      await sink.close();
      expect(await readAll(dir)).toBe(lines(0, 10));
    } finally {
      gate.restore();
    }
  });

  it('many appends are covered by few fsyncs, across rotations, rejects included', async () => {
    const sink = await FileSink.open({ dir, fsync: 'group', rotateBytes: 4096 });
    const tickets: number[] = [];
    for (let i = 0; i < 500; i++) {
      tickets.push(sink.append(lines(i, 1)));
      if (i % 50 === 0) sink.reject({ peer: 'p', reason: 'r', sample: 'x' });
      if (i % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(tickets.map((t) => sink.whenDurable(t)));
    expect(sink.counters.fsyncs).toBeLessThan(500);
    expect(sink.counters.rotations).toBeGreaterThan(0);
    // every fsync round is in the histogram (FSYNC_BUCKETS_MS), and the slowest is its max
    expect(sink.counters.fsyncHistogram.reduce((a, b) => a + b, 0)).toBe(sink.counters.fsyncs);
    expect(sink.counters.fsyncMaxMs).toBeGreaterThan(0);
    await sink.close();
    expect(await readAll(dir)).toBe(lines(0, 500));
    expect((await readFile(join(dir, 'rejects.ndjson'), 'utf8')).split('\n').length - 1).toBe(10);
  });
});

describe('FileSink: rejects sampled per second (issue 18.4)', () => {
  it('writes at most rejectsPerSecond lines a second and counts the rest', async () => {
    const sink = await FileSink.open({ dir, fsync: 'never', rejectsPerSecond: 50 });
    const t0 = performance.now();
    let written = 0;
    for (let i = 0; i < 20_000; i++)
      if (sink.reject({ peer: '127.0.0.1:1', reason: 'invalid_json', sample: `bad ${i}` })) written++;
    const seconds = (performance.now() - t0) / 1000;
    await sink.close();
    const lines = (await readFile(join(dir, 'rejects.ndjson'), 'utf8')).split('\n').filter(Boolean);
    expect(lines.length).toBe(written);
    expect(sink.counters.rejectsWritten).toBe(written);
    expect(sink.counters.rejectsSuppressed).toBe(20_000 - written);
    // a burst of one second's worth, then 50 a second: bounded by the time the loop took, not by 20,000
    expect(written).toBeLessThanOrEqual(50 + Math.ceil(50 * seconds));
    expect(written).toBeGreaterThanOrEqual(50);
  });

  it('0 writes every reject; the default is 100 a second', async () => {
    const all = await FileSink.open({ dir, fsync: 'never', rejectsPerSecond: 0 });
    for (let i = 0; i < 500; i++) all.reject({ peer: 'p', reason: 'r', sample: 'x' });
    await all.close();
    expect(all.counters.rejectsWritten).toBe(500);
    const dflt = await FileSink.open({ dir: join(dir, 'd'), fsync: 'never' });
    for (let i = 0; i < 500; i++) dflt.reject({ peer: 'p', reason: 'r', sample: 'x' });
    await dflt.close();
    expect(dflt.counters.rejectsWritten + dflt.counters.rejectsSuppressed).toBe(500);
    expect(dflt.counters.rejectsSuppressed).toBeGreaterThan(0);
  });
});

describe('truncatePartialLine', () => {
  it('cuts back to the last LF, or empties a file with none', async () => {
    const p = join(dir, 'x');
    await writeFile(p, 'a\nbc');
    expect(await truncatePartialLine(p)).toBe(2);
    expect(await readFile(p, 'utf8')).toBe('a\n');
    await writeFile(p, 'abc');
    await truncatePartialLine(p);
    expect(await readFile(p, 'utf8')).toBe('');
  });
});
