import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { zstdCodec } from '../../shared/protocol/codecs.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHECKPOINT_FILE, HwmStore, recoverHwm } from './hwm-store.ts';
import { ReceiverStats } from '../../shared/stats.ts';
import { FileSink, recordFileName } from '../../shared/storage/file-sink.ts';
import { readRxStreamSeq, RxWriter } from '../../shared/storage/rx.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(os.tmpdir(), 'hwm-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const REC = Buffer.from('{"ts":"2026-11-26T14:13:48.123Z","level":"info","msg":"a \\"seq\\":9}}"}');

/** Persisted lines (as the receiver writes them) for `stream`, seqs [from, to]. */
function persisted(stream: number, from: number, to: number, extra?: Record<string, unknown>): Buffer {
  const w = new RxWriter();
  w.context({ ts: '2026-11-26T14:13:48.200Z', peer: '127.0.0.1:5000', lane: 'day09', ...(extra ? { extra } : {}) });
  for (let s = from; s <= to; s++) w.addSeq(REC, stream, s);
  return w.take() ?? Buffer.alloc(0);
}

function parseOne(line: Buffer): [number, number] | undefined {
  let out: [number, number] | undefined;
  const end = line[line.length - 1] === 0x0a ? line.length - 1 : line.length;
  readRxStreamSeq(line, 0, end, (stream, seq) => (out = [stream, seq]));
  return out;
}

describe('readRxStreamSeq', () => {
  it('reads stream and seq from the tail RxWriter writes, without JSON.parse', () => {
    expect(parseOne(persisted(7, 42, 42))).toEqual([7, 42]);
    expect(parseOne(persisted(0xffff_ffff, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER))).toEqual([
      0xffff_ffff,
      Number.MAX_SAFE_INTEGER,
    ]);
    expect(parseOne(persisted(3, 1, 1, { subject: 'CN=x' }))).toEqual([3, 1]);
  });

  it('finds nothing in lines without them', () => {
    const w = new RxWriter();
    w.context({ ts: 't', peer: 'p', lane: 'l' });
    w.add(REC); // a day 08 text record: no stream/seq
    expect(parseOne(w.take()!)).toBeUndefined();
    for (const s of [
      '',
      '{}',
      '{"seq":5}}',
      '{"a":1,"_rx":{"stream":x,"seq":5}}',
      '{"_rx":{"stream":1,"seq":}}',
      'garbage "stream":1,"seq":2',
    ]) {
      expect(parseOne(Buffer.from(s))).toBeUndefined();
    }
  });
});

describe('recoverHwm [d09.4]', () => {
  it('without a checkpoint scans every records file (plain and .gz) and the rejects', async () => {
    await writeFile(join(dir, recordFileName(1)), gzipSync(Buffer.concat([persisted(1, 1, 100), persisted(2, 1, 5)])));
    await writeFile(
      join(dir, `${recordFileName(1)}.gz`),
      gzipSync(Buffer.concat([persisted(1, 1, 100), persisted(2, 1, 5)])),
    );
    await rm(join(dir, recordFileName(1)));
    await writeFile(join(dir, recordFileName(2)), Buffer.concat([persisted(1, 101, 150), persisted(3, 9, 9)]));
    await writeFile(
      join(dir, 'rejects.ndjson'),
      `${JSON.stringify({ ts: 't', peer: 'p', reason: 'invalid_json', stream: 1, seq: 151, sample: '"stream":1,"seq":999}}' })}\n`,
    );
    const { hwm, report } = await recoverHwm(dir);
    expect(Object.fromEntries(hwm)).toEqual({ 1: 151, 2: 5, 3: 9 });
    expect(report.fromCheckpoint).toBe(false);
    expect(report.scannedLines).toBe(100 + 5 + 50 + 1 + 1);
  });

  it('reads rotated .zst files too (--rest-compression zstd)', async () => {
    await writeFile(
      join(dir, `${recordFileName(1)}.zst`),
      zstdCodec.compress(Buffer.concat([persisted(1, 1, 100), persisted(2, 1, 5)]), 1),
    );
    await writeFile(join(dir, recordFileName(2)), persisted(1, 101, 120));
    const { hwm } = await recoverHwm(dir);
    expect(Object.fromEntries(hwm)).toEqual({ 1: 120, 2: 5 });
  });

  it('ignores a partial last line (a crash mid-write)', async () => {
    const full = persisted(4, 1, 10);
    const torn = persisted(4, 11, 11).subarray(0, -5);
    await writeFile(join(dir, recordFileName(1)), Buffer.concat([full, torn]));
    expect(Object.fromEntries((await recoverHwm(dir)).hwm)).toEqual({ 4: 10 });
  });

  it('an empty or missing data dir has no marks', async () => {
    expect((await recoverHwm(dir)).hwm.size).toBe(0);
    expect((await recoverHwm(join(dir, 'nope'))).hwm.size).toBe(0);
  });

  it('a checkpoint offset past the end of its file (never valid) falls back to reading that file', async () => {
    await writeFile(join(dir, recordFileName(1)), persisted(1, 1, 10));
    await writeFile(
      join(dir, CHECKPOINT_FILE),
      JSON.stringify({
        version: 1,
        writtenAt: '',
        records: { file: recordFileName(1), offset: 1 << 30 },
        rejects: { offset: 0 },
        streams: { 1: 3 },
      }),
    );
    expect(Object.fromEntries((await recoverHwm(dir)).hwm)).toEqual({ 1: 10 });
  });
});

describe('HwmStore [d09.4]', () => {
  async function openStore() {
    const stats = new ReceiverStats('day09', 'lsp1-tcp');
    const sink = await FileSink.open({ dir, fsync: 'interval', fsyncIntervalMs: 5 });
    const store = await HwmStore.open({ dir, sink, stats, checkpointIntervalMs: 60_000 });
    return { stats, sink, store };
  }

  it('marks start at 0, rise with markDurable, and feed stats.json', async () => {
    const { stats, sink, store } = await openStore();
    const m = store.get(9);
    expect([m.accepted, m.durable]).toEqual([0, 0]);
    m.accepted = 10;
    store.markDurable(m, 10);
    store.markDurable(m, 4); // never backwards
    expect(m.durable).toBe(10);
    expect(stats.streams['9']?.hwm).toBe(10);
    await sink.close();
    await store.close();
  });

  it('after a crash, recovery = checkpoint + the lines after it; only those lines are scanned', async () => {
    const a = await openStore();
    const m1 = a.store.get(1);
    const m2 = a.store.get(2);
    a.sink.append(persisted(1, 1, 1000));
    a.sink.append(persisted(2, 1, 500));
    m1.accepted = 1000;
    m2.accepted = 500;
    await a.sink.whenWritten(a.sink.position); // the offsets a checkpoint takes are what is written
    await a.store.checkpoint();
    const cp = JSON.parse(await readFile(join(dir, CHECKPOINT_FILE), 'utf8')) as { streams: unknown };
    expect(cp.streams).toEqual({ 1: 1000, 2: 500 });
    // more after the checkpoint, then a "crash": no close, no final checkpoint
    a.sink.append(persisted(1, 1001, 1010));
    m1.accepted = 1010;
    await a.sink.whenWritten(a.sink.position);
    const after = persisted(1, 1001, 1010).length;

    const b = await recoverHwm(dir);
    expect(Object.fromEntries(b.hwm)).toEqual({ 1: 1010, 2: 500 });
    expect(b.report.fromCheckpoint).toBe(true);
    expect(b.report.scannedBytes).toBe(after);
    expect(b.report.scannedLines).toBe(10);
    await a.sink.close();
  });

  it('a checkpoint is never ahead of the disk: it waits until its marks are durable', async () => {
    const stats = new ReceiverStats('day09', 'lsp1-tcp');
    const sink = await FileSink.open({ dir, fsync: 'interval', fsyncIntervalMs: 5, writeDelayMs: 150 }); // a slow disk
    const store = await HwmStore.open({ dir, sink, stats, checkpointIntervalMs: 60_000 });
    const m = store.get(5);
    sink.append(persisted(5, 1, 10));
    m.accepted = 10;
    const cp = store.checkpoint();
    await new Promise((r) => setTimeout(r, 50));
    // the records are not on disk yet, so neither is a checkpoint claiming them
    await expect(readFile(join(dir, CHECKPOINT_FILE), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
    await cp;
    expect((JSON.parse(await readFile(join(dir, CHECKPOINT_FILE), 'utf8')) as { streams: unknown }).streams).toEqual({
      5: 10,
    });
    await sink.close();
    await store.close();
  });

  it('reopening recovers both marks at what is on disk; close() leaves a checkpoint covering everything', async () => {
    const a = await openStore();
    a.sink.append(persisted(3, 1, 50));
    a.store.get(3).accepted = 50;
    await a.sink.close();
    await a.store.close();
    const b = await openStore();
    expect(b.store.recovery.scannedBytes).toBe(0);
    const m = b.store.get(3);
    expect([m.accepted, m.durable]).toEqual([50, 50]);
    expect(b.stats.streams['3']?.hwm).toBe(50);
    await b.sink.close();
    await b.store.close();
  });
});
