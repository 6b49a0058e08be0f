import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Spool } from './spool.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(os.tmpdir(), 'spool-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const recs = (from: number, n: number) => Array.from({ length: n }, (_, i) => `{"i":${from + i},"t":"é"}`);
const files = async () => (await readdir(dir)).filter((f) => f.startsWith('spool-')).sort();

describe('Spool [d09.6]', () => {
  it('gives records back in the order and with the seqs they went in', () => {
    const s = new Spool({ dir, maxBytes: 1 << 20 });
    expect(s.append(1, recs(1, 3))).toBe(3);
    expect(s.append(4, recs(4, 5), 1, 4)).toBe(3); // records[1..4) of that chunk
    expect(s.records).toBe(6);
    expect(s.nextCount).toBe(3);
    expect(s.shift()).toEqual({ firstSeq: 1, records: recs(1, 3) });
    expect(s.shift()).toEqual({ firstSeq: 4, records: recs(4, 5).slice(1, 4) });
    expect(s.shift()).toBeUndefined();
    expect(s.isEmpty).toBe(true);
    expect(s.bytes).toBe(0);
    expect(s.counters).toMatchObject({ spooled: 6, restored: 6 });
    s.close();
  });

  it('is bounded by maxBytes: takes the whole records that fit, then none', () => {
    const one = Buffer.byteLength(recs(1, 1)[0]!) + 1;
    const s = new Spool({ dir, maxBytes: one * 5 + 3 });
    expect(s.append(1, recs(1, 3))).toBe(3);
    expect(s.append(4, recs(4, 4))).toBe(2); // room for 2 more whole records
    expect(s.bytes).toBe(one * 5);
    expect(s.append(6, recs(6, 1))).toBe(0);
    s.shift(); // frees 3
    expect(s.append(6, recs(6, 4))).toBe(3);
    expect(s.shift()).toEqual({ firstSeq: 4, records: recs(4, 2) });
    expect(s.shift()).toEqual({ firstSeq: 6, records: recs(6, 3) });
    s.close();
  });

  it('rolls over segments and deletes each once read; an empty spool keeps no file', async () => {
    const s = new Spool({ dir, maxBytes: 1 << 20, segmentBytes: 100 });
    let seq = 1;
    for (let i = 0; i < 10; i++) {
      s.append(seq, recs(seq, 4));
      seq += 4;
    }
    expect((await files()).length).toBeGreaterThan(3);
    let expected = 1;
    for (let i = 0; i < 5; i++) {
      const e = s.shift()!;
      expect(e.firstSeq).toBe(expected);
      expect(e.records).toEqual(recs(expected, 4));
      expected += 4;
    }
    const midway = (await files()).length;
    expect(midway).toBeLessThan(10);
    // appends while reading go behind
    s.append(seq, recs(seq, 2));
    while (!s.isEmpty) {
      const e = s.shift()!;
      expect(e.firstSeq).toBe(expected);
      expected += e.records.length;
    }
    expect(expected).toBe(seq + 2);
    expect(await files()).toEqual([]);
    s.append(100, recs(100, 1)); // usable again after emptying
    expect(s.shift()).toEqual({ firstSeq: 100, records: recs(100, 1) });
    s.close();
  });

  it('starts empty, clearing what an earlier process left, and close() removes its files', async () => {
    await writeFile(join(dir, 'spool-000007.ndjson'), 'stale\n');
    await writeFile(join(dir, 'keep.txt'), 'not ours\n');
    const s = new Spool({ dir, maxBytes: 1 << 20 });
    expect(s.isEmpty).toBe(true);
    expect(await files()).toEqual([]);
    s.append(1, recs(1, 2));
    s.close();
    expect(await readdir(dir)).toEqual(['keep.txt']);
  });
});
