// The shelf that holds what a receiver evicted from memory (issue 18.5): values read back by stream, a
// filter that never says "not here" for a stream that is, and a journal left by a crash replayed at open.
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SHELF_DIR, StreamShelf } from './stream-shelf.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(os.tmpdir(), 'shelf-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('StreamShelf', () => {
  it('reads back every value of a stream, before and after the flush, and after a reopen', async () => {
    const a = await StreamShelf.open<number>(dir, 'marks');
    expect(a.mayHold(7)).toBe(false);
    a.put(7, 10);
    a.put(8, 3);
    expect(a.mayHold(7)).toBe(true);
    expect(await a.read(7)).toEqual([10]); // still queued
    const flushing = a.flush();
    a.put(7, 20); // during a flush: in the next one
    expect(await a.read(7)).toEqual([10, 20]); // in flight and queued alike
    await flushing;
    await a.flush();
    expect(await a.read(7)).toEqual([10, 20]);
    await a.close();

    const b = await StreamShelf.open<number>(dir, 'marks');
    expect(b.openedWith).toBe(2);
    expect(b.mayHold(7) && b.mayHold(8)).toBe(true);
    expect(await b.read(7)).toEqual([10, 20]);
    expect(await b.read(9)).toEqual([]);
  });

  it('the filter never misses a stream it holds (100,000 of them), and says "not here" for nearly every other', async () => {
    const s = await StreamShelf.open<number>(dir, 'marks');
    for (let i = 0; i < 100_000; i++) s.put(i * 7919, 1);
    let missed = 0;
    for (let i = 0; i < 100_000; i++) if (!s.mayHold(i * 7919)) missed++;
    expect(missed).toBe(0);
    let maybe = 0;
    for (let i = 0; i < 100_000; i++) if (s.mayHold(1_000_000_007 + i)) maybe++;
    expect(maybe).toBeLessThan(1000); // about 0.01 % expected at this fill
  });

  it('a journal left by a crash is replayed into the buckets at open, a bucket cut mid-line included', async () => {
    const a = await StreamShelf.open<number>(dir, 'marks');
    a.put(5, 1);
    await a.flush();
    // the crash: a flush whose journal write returned, whose bucket append was cut mid-line
    const shelf = join(dir, SHELF_DIR);
    await appendFile(join(shelf, 'marks.journal'), `${JSON.stringify([5, 9])}\n${JSON.stringify([6, 4])}\n[6,`);
    const bucket = (await readdir(shelf)).find((f) => f.startsWith('marks-'))!;
    await appendFile(join(shelf, bucket), '[5,9');
    const b = await StreamShelf.open<number>(dir, 'marks');
    expect(Math.max(...(await b.read(5)))).toBe(9);
    expect(await b.read(6)).toEqual([4]);
    expect(await readFile(join(shelf, 'marks.journal'), 'utf8')).toBe(''); // emptied once the buckets are synced
  });

  it('kinds are kept apart', async () => {
    await mkdir(join(dir, SHELF_DIR), { recursive: true });
    await writeFile(join(dir, SHELF_DIR, 'owners-000.ndjson'), '');
    const m = await StreamShelf.open<number>(dir, 'marks');
    const o = await StreamShelf.open<{ owner: string }>(dir, 'owners');
    m.put(1, 5);
    o.put(1, { owner: 'name:a' });
    await Promise.all([m.flush(), o.flush()]);
    expect(await m.read(1)).toEqual([5]);
    expect(await o.read(1)).toEqual([{ owner: 'name:a' }]);
  });
});
