// Retention (--retain-bytes / --retain-age) on a receiver with marks (issue 18.4): no records file that a
// recovery after a crash would still read is removed. Without a checkpoint every file is read, so nothing
// goes; once a checkpoint names file k, files before k may go (their marks are in the checkpoint), k and
// later stay. Real FileSink, real HwmStore, real files.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ReceiverStats } from '../../shared/stats.ts';
import { FileSink, recordFileName } from '../../shared/storage/file-sink.ts';
import { RxWriter } from '../../shared/storage/rx.ts';
import { HwmStore, recoverHwm } from './hwm-store.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(os.tmpdir(), 'retention-floor-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const REC = Buffer.from('{"ts":"2026-11-26T14:13:48.123Z","level":"info","msg":"retention floor"}');

/** Persisted lines for `stream`, seqs [from, to], as the receiver writes them (`_rx` last). */
function persisted(stream: number, from: number, to: number): Buffer {
  const w = new RxWriter();
  w.context({ ts: '2026-11-26T14:13:48.200Z', peer: '127.0.0.1:5000', lane: 'day09' });
  for (let s = from; s <= to; s++) w.addSeq(REC, stream, s);
  return w.take() ?? Buffer.alloc(0);
}

async function open() {
  // rotate every 4 KiB (~30 records), keep 1 byte: without a floor every rotated file would go at once
  const sink = await FileSink.open({ dir, fsync: 'interval', fsyncIntervalMs: 5, rotateBytes: 4096, retainBytes: 1 });
  const stats = new ReceiverStats('day09', 'lsp1-tcp');
  const store = await HwmStore.open({ dir, sink, stats, checkpointIntervalMs: 3_600_000 });
  return { sink, store };
}

async function write(sink: FileSink, stream: number, from: number, to: number): Promise<void> {
  for (let s = from; s <= to; s += 50) await sink.whenWritten(sink.append(persisted(stream, s, Math.min(to, s + 49))));
}

const recordFiles = async () => (await readdir(dir)).filter((f) => f.startsWith('records-')).sort();

describe('the retention floor of a receiver with marks', () => {
  it('no checkpoint yet: no records file is removed, so a quiet stream keeps its mark', async () => {
    const { sink, store } = await open();
    await write(sink, 7, 1, 50); // stream 7 writes once, in the first file
    await write(sink, 8, 1, 3000); // then stream 8 rotates through ~100 files
    await sink.close(); // waits for the retention queued at each rotation
    expect(sink.counters.rotations).toBeGreaterThan(20);
    expect(sink.counters.retentionRemovedFiles).toBe(0);
    expect((await recordFiles())[0]).toBe(recordFileName(1));
    const { hwm } = await recoverHwm(dir); // what a restart after a crash would see
    expect(hwm.get(7)).toBe(50);
    expect(hwm.get(8)).toBe(3000);
    await store.close();
  });

  it('after a checkpoint names file k: files before k go, k and later stay, and every mark comes back', async () => {
    const { sink, store } = await open();
    await write(sink, 7, 1, 50);
    const m7 = store.get(7);
    m7.accepted = 50; // what the ingest would have set for those records
    await write(sink, 8, 1, 500);
    const m8 = store.get(8);
    m8.accepted = 500;
    await store.checkpoint();
    const floor = (await recordFiles()).at(-1)!; // the active file when the checkpoint was taken
    await write(sink, 8, 501, 3000);
    await sink.close();
    const files = await recordFiles();
    expect(sink.counters.retentionRemovedFiles).toBeGreaterThan(0);
    expect(files[0]).toBe(floor);
    const { hwm } = await recoverHwm(dir);
    expect(hwm.get(7)).toBe(50); // from the checkpoint: its file is gone
    expect(hwm.get(8)).toBe(3000);
    await store.close();
  });
});
