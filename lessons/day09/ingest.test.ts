// AckedIngest behind a real LspReceiver on loopback: HELLO → durable mark, ACK only once durable,
// dedup of a resend, a gap counted, marks recovered by a second instance on the same data dir.
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeBatch } from '../../shared/protocol/batch.ts';
import { encodeHello } from '../../shared/protocol/frame.ts';
import { connectRaw, startIngest } from '../../tests/support/lsp-loopback.ts';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const rec = (i: number) => `{"ts":"2026-11-26T12:00:00.000Z","level":"info","msg":"m${i}"}`;

/** The ingest behind a receiver on loopback, and one raw client connected to it. */
async function start(dir: string, parseThreads = 0) {
  const rx = await startIngest({
    dataDir: dir,
    parseThreads,
    rejectsPerSecond: 0, // every reject written (the test reads them all)
  });
  const client = await connectRaw(rx.port);
  const stop = async () => {
    client.socket.destroy();
    await rx.stop();
  };
  return { ...rx, ...client, stop };
}

async function recordLines(dir: string): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => /^records-\d+\.ndjson$/.test(f)).sort();
  return (await Promise.all(files.map((f) => readFile(join(dir, f), 'utf8')))).join('').trim().split('\n');
}

// 0 = validated on the main thread; 2 = on parse workers (issue 21.2), where order, dedup and ACKs must not change.
describe.each([0, 2])('AckedIngest, --parse-threads %i', (threads) => {
  it('answers HELLO with the durable mark, ACKs batches once durable, drops resends, counts gaps, survives a restart', async () => {
    const dir = await mkdtemp(join(os.tmpdir(), 'acked-ingest-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const a = await start(dir, threads);
    a.socket.write(encodeHello(7, { name: 't' }));
    await a.until(() => a.acks().length === 1);
    expect(a.acks()).toEqual([0]);
    const records = Array.from({ length: 10 }, (_, i) => rec(i + 1));
    a.socket.write(encodeBatch({ stream: 7, seq: 1, records: records.slice(0, 6) }));
    a.socket.write(encodeBatch({ stream: 7, seq: 4, records: records.slice(3, 10) })); // 4..6 again
    await a.until(() => a.acks().at(-1) === 10);
    a.socket.write(encodeBatch({ stream: 7, seq: 15, records: [rec(15)] })); // 11..14 skipped
    await a.until(() => a.acks().at(-1) === 15);
    expect(a.stats.records.duplicates).toBe(3);
    expect(a.stats.streams['7']!.gaps).toBe(4);
    expect(a.ingest.batches).toMatchObject({ frames: 3, records: 14 });
    await a.stop();

    const lines = await recordLines(dir);
    expect(lines.map((l) => (JSON.parse(l) as { _rx: { seq: number } })._rx.seq)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15,
    ]);

    const b = await start(dir, threads);
    cleanup.push(b.stop);
    b.socket.write(encodeHello(7, { name: 't' }));
    await b.until(() => b.acks().length === 1);
    expect(b.acks()).toEqual([15]);
  });

  it('keeps the order of many pipelined batches and rejects each bad record with its seq and reason', async () => {
    const dir = await mkdtemp(join(os.tmpdir(), 'acked-ingest-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const a = await start(dir, threads);
    a.socket.write(encodeHello(3, { name: 't' }));
    await a.until(() => a.acks().length === 1);
    // 40 batches of 50 sent at once (every 7th record not JSON, every 11th without a level), the 30th resent
    const bad = (seq: number) =>
      seq % 7 === 0
        ? `not json ${seq}`
        : seq % 11 === 0
          ? `{"ts":"2026-11-26T12:00:00.000Z","msg":"m${seq}"}`
          : undefined;
    const batch = (b: number) => {
      const seq = b * 50 + 1;
      return encodeBatch({
        stream: 3,
        seq,
        records: Array.from({ length: 50 }, (_, i) => bad(seq + i) ?? rec(seq + i)),
      });
    };
    for (let b = 0; b < 40; b++) a.socket.write(batch(b));
    a.socket.write(batch(29));
    await a.until(() => a.acks().at(-1) === 2000);
    expect(a.stats.records.duplicates).toBe(50);
    await a.stop();
    const expected = Array.from({ length: 2000 }, (_, i) => i + 1).filter((seq) => bad(seq) === undefined);
    expect((await recordLines(dir)).map((l) => (JSON.parse(l) as { _rx: { seq: number } })._rx.seq)).toEqual(expected);
    const rejects = (await readFile(join(dir, 'rejects.ndjson'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { seq: number; reason: string });
    expect(rejects.map((r) => r.seq)).toEqual(
      Array.from({ length: 2000 }, (_, i) => i + 1).filter((seq) => bad(seq) !== undefined),
    );
    expect(rejects.find((r) => r.seq === 7)?.reason).toBe('invalid_json');
    expect(rejects.find((r) => r.seq === 11)?.reason).toBe('missing_level');
    expect(a.ingest.parse).toMatchObject({ threads, batches: threads > 0 ? 41 : 0, dropped: 0 });
  });
});
