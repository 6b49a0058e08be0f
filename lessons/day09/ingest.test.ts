// AckedIngest behind a real LspReceiver on loopback: HELLO → durable mark, ACK only once durable,
// dedup of a resend, a gap counted, marks recovered by a second instance on the same data dir.
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AckedIngest } from './ingest.ts';
import { createLog } from '../../shared/log.ts';
import { LspReceiver } from '../../shared/lsp-receiver.ts';
import { encodeBatch } from '../../shared/protocol/batch.ts';
import { encodeHello, FrameDecoder, FrameType, type Frame } from '../../shared/protocol/frame.ts';
import { ReceiverStats } from '../../shared/stats.ts';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const rec = (i: number) => `{"ts":"2026-11-26T12:00:00.000Z","level":"info","msg":"m${i}"}`;

async function start(dir: string, parseThreads = 0) {
  const stats = new ReceiverStats('t', 'lsp1-tcp');
  const log = createLog('test');
  const ingest = await AckedIngest.open({
    dataDir: dir,
    fsync: 'interval',
    fsyncIntervalMs: 10,
    rotateBytes: 1 << 30,
    lane: 't',
    stats,
    log,
    parseThreads,
    rejectsPerSecond: 0, // every reject written (the test reads them all)
  });
  const rx = new LspReceiver({ handlers: ingest.handlers, log, stats, maxConnections: 10, idleTimeoutMs: 60_000 });
  ingest.attach(rx);
  const server = net.createServer({ noDelay: true }, rx.accept);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((r) => socket.once('connect', r));
  socket.on('error', () => {});
  const frames: Frame[] = [];
  const dec = new FrameDecoder();
  socket.on('data', (c: Buffer) => frames.push(...dec.push(c)));
  const stop = async () => {
    socket.destroy();
    server.close();
    await ingest.shutdown(rx);
  };
  const acks = () => frames.filter((f) => f.type === FrameType.ACK).map((f) => f.seq);
  const until = async (cond: () => boolean) => {
    const end = Date.now() + 5000;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`timed out; acks ${acks().join(',')}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  return { stats, ingest, socket, acks, until, stop, frames };
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
