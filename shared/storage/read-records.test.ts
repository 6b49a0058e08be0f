import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { zstdCodec } from '../protocol/codecs.ts';
import { listRecordFiles, readFileLines, readRecordLines } from './read-records.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(os.tmpdir(), 'read-records-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const lines = (from: number, n: number) => Array.from({ length: n }, (_, i) => `{"i":${from + i}}\n`).join('');
const zst = (s: string) => zstdCodec.compress(Buffer.from(s), 3);
async function collect(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const l of it) out.push(l);
  return out;
}
const expected = (from: number, n: number) => lines(from, n).trimEnd().split('\n');

describe('readRecordLines', () => {
  it('reads .ndjson, .ndjson.gz and .ndjson.zst in numeric file order, then line order', async () => {
    await writeFile(join(dir, 'records-000009.ndjson.gz'), gzipSync(lines(0, 3)));
    await writeFile(join(dir, 'records-000010.ndjson.zst'), zst(lines(3, 3)));
    await writeFile(join(dir, 'records-000011.ndjson'), lines(6, 2));
    await writeFile(join(dir, 'rejects.ndjson'), '{"reason":"invalid_json"}\n');
    await writeFile(join(dir, 'records-000012.ndjson.zst.tmp'), 'half-written');
    await writeFile(join(dir, 'stats.json'), '{}');
    expect(await listRecordFiles(dir)).toEqual([
      'records-000009.ndjson.gz',
      'records-000010.ndjson.zst',
      'records-000011.ndjson',
    ]);
    expect(await collect(readRecordLines(dir))).toEqual(expected(0, 8));
  });

  it('a plain file next to its compressed twin (crash before the unlink) is read once, from the twin', async () => {
    await writeFile(join(dir, 'records-000001.ndjson'), lines(0, 2));
    await writeFile(join(dir, 'records-000001.ndjson.zst'), zst(lines(0, 2)));
    await writeFile(join(dir, 'records-000002.ndjson'), lines(2, 1));
    expect(await collect(readRecordLines(dir))).toEqual(expected(0, 3));
  });

  it('skips a last line without its LF; keeps lines that span stream chunks', async () => {
    const long = `{"pad":"${'x'.repeat(200_000)}"}\n`; // longer than a 64 KiB read chunk
    const body = lines(0, 2) + long + lines(2, 1000);
    await writeFile(join(dir, 'records-000001.ndjson'), `${body}{"i":"partial`);
    await writeFile(join(dir, 'records-000002.ndjson.zst'), zst(body));
    await writeFile(join(dir, 'records-000003.ndjson.gz'), gzipSync(body));
    const want = body.trimEnd().split('\n');
    for (const f of ['records-000001.ndjson', 'records-000002.ndjson.zst', 'records-000003.ndjson.gz']) {
      expect(await collect(readFileLines(join(dir, f)))).toEqual(want);
    }
  });

  it('a missing dir holds no records; a corrupt compressed file is an error', async () => {
    expect(await collect(readRecordLines(join(dir, 'nope')))).toEqual([]);
    await writeFile(join(dir, 'records-000001.ndjson.zst'), Buffer.from('this is not zstd'));
    await expect(collect(readRecordLines(dir))).rejects.toThrow();
    await writeFile(join(dir, 'records-000001.ndjson.zst'), zst(lines(0, 100)).subarray(0, 20));
    await expect(collect(readRecordLines(dir))).rejects.toThrow();
  });
});
