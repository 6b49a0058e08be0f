import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatRanges, readRecords, readRejects, readStats, statNumber, verifySeqs } from './persisted.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'persisted-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const j = (o: unknown) => `${JSON.stringify(o)}\n`;

describe('readRecords', () => {
  it('reads *.ndjson and *.ndjson.gz in natural order, not rejects.ndjson', async () => {
    await writeFile(path.join(dir, 'records-10.ndjson'), j({ n: 3 }));
    await writeFile(path.join(dir, 'records-2.ndjson.gz'), gzipSync(j({ n: 1 }) + j({ n: 2 })));
    await writeFile(path.join(dir, 'rejects.ndjson'), j({ reason: 'invalid_json' }));
    await writeFile(path.join(dir, 'stats.json'), '{}');
    await writeFile(path.join(dir, 'notes.txt'), 'x\n');
    const r = await readRecords(dir);
    expect(r.records.map((p) => p.record['n'])).toEqual([1, 2, 3]);
    expect(r.records.map((p) => [p.file, p.lineNo])).toEqual([
      ['records-2.ndjson.gz', 1],
      ['records-2.ndjson.gz', 2],
      ['records-10.ndjson', 1],
    ]);
    expect(r.files.map((f) => f.file)).toEqual(['records-2.ndjson.gz', 'records-10.ndjson']);
    expect(r.invalid).toEqual([]);
  });

  it('reports a partial last line and lines that are not JSON objects', async () => {
    await writeFile(path.join(dir, 'a.ndjson'), `${j({ n: 1 })}not json\n[1]\n{"n":2`);
    const r = await readRecords(dir);
    expect(r.records.map((p) => p.record['n'])).toEqual([1]);
    expect(r.files[0]).toMatchObject({ file: 'a.ndjson', lines: 3, endsInPartialLine: true, partialTail: '{"n":2' });
    expect(r.invalid.map((i) => [i.lineNo, i.problem.split(':')[0]])).toEqual([
      [2, 'invalid JSON'],
      [3, 'not a JSON object'],
    ]);
  });

  it('reads a .gz that is still being written as far as it goes', async () => {
    const gz = gzipSync(j({ n: 1 }) + j({ n: 2 }));
    await writeFile(path.join(dir, 'a.ndjson.gz'), gz.subarray(0, gz.length - 8));
    const r = await readRecords(dir);
    expect(r.records.length).toBeLessThanOrEqual(2);
  });

  it('a missing dir has no records', async () => {
    expect(await readRecords(path.join(dir, 'nope'))).toEqual({ records: [], files: [], invalid: [] });
  });
});

describe('readRejects / readStats', () => {
  it('reads rejects.ndjson', async () => {
    await writeFile(
      path.join(dir, 'rejects.ndjson'),
      j({ reason: 'invalid_json', sample: 'x' }) + j({ reason: 'missing_level', sample: 'y' }),
    );
    const r = await readRejects(dir);
    expect(r.rejects.map((x) => x.reject['reason'])).toEqual(['invalid_json', 'missing_level']);
    expect(r.rejects[1]?.lineNo).toBe(2);
  });

  it('reads stats.json, null when absent, throws when not JSON', async () => {
    expect(await readStats(dir)).toBeNull();
    await writeFile(path.join(dir, 'stats.json'), JSON.stringify({ records: { persisted: 5 } }));
    const s = await readStats(dir);
    expect(statNumber(s, 'records.persisted')).toBe(5);
    expect(statNumber(s, 'records.nope')).toBeUndefined();
    await writeFile(path.join(dir, 'stats.json'), '{"half');
    await expect(readStats(dir)).rejects.toThrow(SyntaxError);
  });
});

describe('verifySeqs', () => {
  const recs = (seqs: number[], stream = 1) => seqs.map((seq) => ({ record: { _rx: { stream, seq } } }));

  it('a clean run', () => {
    expect(verifySeqs(recs([1, 2, 3]))).toEqual({ lost: [], duplicated: [], reordered: 0, count: 3, maxSeq: 3 });
  });

  it('finds lost, duplicated and reordered seqs', () => {
    const r = verifySeqs(recs([1, 2, 5, 4, 2, 7]));
    expect(r.lost).toEqual([3, 6]);
    expect(r.duplicated).toEqual([2]);
    expect(r.reordered).toBe(1);
  });

  it('filters by stream and skips records without a seq', () => {
    const all = [...recs([1, 2], 1), ...recs([1, 3], 2), { record: { msg: 'no rx' } }];
    expect(verifySeqs(all, { stream: 2 })).toMatchObject({ lost: [2], count: 2 });
    expect(verifySeqs(all, { stream: '1' })).toMatchObject({ lost: [], count: 2 });
  });

  it('formatRanges', () => {
    expect(formatRanges([1, 2, 3, 7, 9, 10])).toBe('1-3, 7, 9-10');
    expect(formatRanges([1, 3, 5], 2)).toBe('1, 3, … (3 in all)');
  });
});
