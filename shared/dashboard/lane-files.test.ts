import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listRecordFiles, parseNewestFirst, pidAlive, readStats, tailLines } from './lane-files.ts';
import { deadPid } from './test-support.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ls-lanefiles-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('tailLines', () => {
  it('returns whole lines only: not the cut first line, not the unfinished last one', async () => {
    const p = join(root, 't1.ndjson');
    await writeFile(p, '{"n":1}\n{"n":2}\n{"n":3}\n{"n":4}');
    const whole = await tailLines(p, 1 << 20);
    expect(whole).toMatchObject({ lines: ['{"n":1}', '{"n":2}', '{"n":3}'], fromStart: true });
    // the last 19 bytes: '2}\n{"n":3}\n{"n":4}' minus the cut '2}' and the unfinished '{"n":4}'
    const tail = await tailLines(p, 19);
    expect(tail).toMatchObject({ lines: ['{"n":3}'], fromStart: false });
  });

  it('handles a read that starts exactly at a line boundary, an empty file and a missing one', async () => {
    const p = join(root, 't2.ndjson');
    await writeFile(p, 'aaaa\nbbbb\n');
    // 6 bytes start at the LF that ends "aaaa": "bbbb" is whole
    expect((await tailLines(p, 6))?.lines).toEqual(['bbbb']);
    // 5 bytes start at "bbbb" itself, but without the byte before we cannot tell it is whole: dropped
    expect((await tailLines(p, 5))?.lines).toEqual([]);
    await writeFile(p, '');
    expect((await tailLines(p, 100))?.lines).toEqual([]);
    expect(await tailLines(join(root, 'nope.ndjson'), 100)).toBeUndefined();
  });

  it('keeps multi-byte UTF-8 intact', async () => {
    const p = join(root, 't3.ndjson');
    await writeFile(p, '{"m":"héllo ✓"}\n{"m":"日本"}\n');
    expect(parseNewestFirst((await tailLines(p, 1000))!.lines)).toEqual([
      { value: { m: '日本' }, raw: '{"m":"日本"}' },
      { value: { m: 'héllo ✓' }, raw: '{"m":"héllo ✓"}' },
    ]);
    expect(parseNewestFirst(['{"a":1}\r', 'not json', '[1,2]', '', '{"b":2}']).map((e) => e.value)).toEqual([
      { b: 2 },
      { a: 1 },
    ]);
  });
});

describe('listRecordFiles', () => {
  it('lists *.ndjson records files newest first, without rejects or compressed files', async () => {
    const dir = join(root, 'lane');
    await mkdir(dir);
    for (const n of [
      'records-000001.ndjson',
      'records-000002.ndjson',
      'records-000003.ndjson',
      'rejects.ndjson',
      'records-000000.ndjson.gz',
      'stats.json',
    ])
      await writeFile(join(dir, n), 'x\n');
    const t = Date.now() / 1000;
    await utimes(join(dir, 'records-000001.ndjson'), t - 300, t - 300);
    await utimes(join(dir, 'records-000002.ndjson'), t - 200, t - 200);
    await utimes(join(dir, 'records-000003.ndjson'), t - 200, t - 200); // same mtime: the later name wins
    expect((await listRecordFiles(dir)).map((f) => f.name)).toEqual([
      'records-000003.ndjson',
      'records-000002.ndjson',
      'records-000001.ndjson',
    ]);
    expect(await listRecordFiles(join(root, 'absent'))).toEqual([]);
  });
});

describe('readStats / pidAlive', () => {
  it('tells a missing stats.json from an unreadable one', async () => {
    const dir = join(root, 's');
    await mkdir(dir);
    expect(await readStats(dir)).toMatchObject({ ok: false, reason: 'no_stats' });
    await writeFile(join(dir, 'stats.json'), '{"lane":');
    expect(await readStats(dir)).toMatchObject({ ok: false, reason: 'unreadable' });
    await writeFile(join(dir, 'stats.json'), '[1]');
    expect(await readStats(dir)).toMatchObject({ ok: false, reason: 'unreadable' });
    await writeFile(join(dir, 'stats.json'), '{"lane":"x"}');
    expect(await readStats(dir)).toMatchObject({ ok: true, stats: { lane: 'x' } });
  });

  it('knows a running pid from a finished one', async () => {
    expect(pidAlive(process.pid)).toBe(true);
    expect(pidAlive(await deadPid())).toBe(false);
  });
});
