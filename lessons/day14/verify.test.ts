import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { countPersisted } from './verify.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'day14-verify-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A persisted line as the day 14 receiver writes it (the record, then `_rx` with stream and seq). */
const lsp = (id: string, stream: number, seq: number) =>
  `{"ts":"2026-01-01T00:00:00.000Z","level":"info","msg":"GET /x 200 3ms","service":"api","host":"h1","attrs":{"id":"${id}","user":7},"_rx":{"ts":"2026-01-01T00:00:01.000Z","peer":"127.0.0.1:5000","lane":"day14","stream":${stream},"seq":${seq}}}`;
/** A line as the day 08 receiver writes it: no stream, no seq. */
const plain = (id: string) =>
  `{"ts":"2026-01-01T00:00:00.000Z","level":"info","msg":"m","attrs":{"id":"${id}"},"_rx":{"ts":"2026-01-01T00:00:01.000Z","peer":"127.0.0.1:5000","lane":"day08"}}`;

describe("countPersisted [d14.3]: this run's records in the files — once, more than once, never", () => {
  it("by id and per stream: found once, twice, never; an earlier run's stream and other prefixes do not count", async () => {
    // run: ids s9-1..s9-6, stream 7 sent 4 (seq base 10: wire seqs 11..14), stream 8 sent 2 (base 0)
    const lines = [
      lsp('s9-1', 7, 11),
      lsp('s9-2', 8, 1),
      lsp('s9-3', 7, 12),
      lsp('s9-3', 7, 12), // written twice
      lsp('s9-5', 7, 14),
      lsp('s9-6', 8, 2),
      lsp('s9-4', 99, 3), // stream 99: an earlier run with the same seed
      lsp('s8-4', 7, 13), // another prefix: not this run's
      '{"ts":"2026-01-01T00:00:00.000Z","level":"info","msg":"somebody else"}',
    ];
    await writeFile(path.join(dir, 'records-000001.ndjson'), `${lines.slice(0, 5).join('\n')}\n`);
    await writeFile(path.join(dir, 'records-000002.ndjson'), `${lines.slice(5).join('\n')}\n`);
    await writeFile(path.join(dir, 'rejects.ndjson'), `${lsp('s9-4', 7, 13)}\n`); // rejects are not records
    const v = await countPersisted(dir, {
      idPrefix: 's9',
      ids: 6,
      sent: 6,
      streams: [
        { stream: 7, sent: 4, seqBase: 10 },
        { stream: 8, sent: 2, seqBase: 0 },
      ],
    });
    expect(v).toBeDefined();
    expect({ persisted: v!.persisted, lost: v!.lost, duplicated: v!.duplicated }).toEqual({
      persisted: 5,
      lost: 1,
      duplicated: 1,
    });
    expect(v!.perStream.get(7)).toEqual({ persisted: 3, lost: 1, duplicated: 1 }); // seq 13 never arrived
    expect(v!.perStream.get(8)).toEqual({ persisted: 2, lost: 0, duplicated: 0 });
  });

  it('lanes without streams (ndjson, syslog): by id alone', async () => {
    await writeFile(
      path.join(dir, 'records-000001.ndjson'),
      `${[plain('s3-1'), plain('s3-1'), plain('s3-3'), plain('s3-9')].join('\n')}\n`,
    );
    const v = await countPersisted(dir, { idPrefix: 's3', ids: 4, sent: 4, streams: [] });
    expect(v).toBeDefined();
    // s3-9 is out of this run's range (4 ids): not this run's
    expect({ persisted: v!.persisted, lost: v!.lost, duplicated: v!.duplicated }).toEqual({
      persisted: 2,
      lost: 2,
      duplicated: 1,
    });
    expect(v!.perStream.size).toBe(0);
  });

  it('an empty or missing data dir: everything lost', async () => {
    const v = await countPersisted(path.join(dir, 'nothing-here'), {
      idPrefix: 's1',
      ids: 10,
      sent: 10,
      streams: [{ stream: 1, sent: 10, seqBase: 0 }],
    });
    expect(v).toBeDefined();
    expect({ persisted: v!.persisted, lost: v!.lost, duplicated: v!.duplicated }).toEqual({
      persisted: 0,
      lost: 10,
      duplicated: 0,
    });
    expect(v!.perStream.get(1)).toEqual({ persisted: 0, lost: 10, duplicated: 0 });
  });
});
