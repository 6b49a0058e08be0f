// Heavy suite (`npm run test:heavy`), issue 18 item 2: a real receiver (day 12, gzip at rest, 64 KiB
// files, marks checkpointed every 100 ms) is killed with SIGKILL at each named fault point of
// LOGSTREAM_FAULT_SINK=kill-at:POINT:N while a shipper streams to it (10,000 records/s for 3 s); a new receiver on the same
// --data-dir and port must start (no ENOENT on a file compressed away under the marks recovery), and
// when the shipper is done every seq it sent is on disk exactly once (read back with read-records), no
// temp file or compressed twin is left, and no records file passes --rotate-bytes.
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../shared/free-port.ts';
import { readRecordLines } from '../../shared/storage/read-records.ts';
import { startProgram, type Program } from '../../scripts/lib/launch.ts';

const N = 30_000;
const STREAM = 4242;
const ROTATE = 64 * 1024;

const running: Program[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop('SIGKILL')));
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

function receiver(port: number, dataDir: string, fault?: string): Program & { log: string[] } {
  const log: string[] = [];
  const p = startProgram({
    name: `day12 receiver${fault ? ` (${fault})` : ''}`,
    file: 'lessons/day12/receiver.ts',
    args: [
      '--port',
      String(port),
      '--data-dir',
      dataDir,
      '--rest-compression',
      'gzip',
      '--rotate-bytes',
      String(ROTATE),
      '--checkpoint-interval-ms',
      '100',
    ],
    env: fault ? { LOGSTREAM_FAULT_SINK: fault } : {},
    readyTimeoutMs: 60_000,
    onLog: (line) => log.push(line),
  });
  running.push(p);
  return Object.assign(p, { log });
}

describe('a receiver killed at each named fault point starts again; nothing acknowledged lost or duplicated', () => {
  it.each([
    ['write', 40],
    ['rotate', 8],
    ['compress', 8],
    ['compressed', 8],
    ['checkpoint', 10],
  ])('kill-at:%s:%i', async (point, nth) => {
    const root = await mkdtemp(join(os.tmpdir(), `restart-${point}-`));
    dirs.push(root);
    const dataDir = join(root, 'data');
    const port = await freePort();
    const fault = `kill-at:${point}:${nth}`;
    const first = receiver(port, dataDir, fault);
    await first.ready;
    const shipper = startProgram({
      name: 'day12 shipper',
      file: 'lessons/day12/shipper.ts',
      args: [
        '--target',
        `127.0.0.1:${port}`,
        '--generate',
        String(N),
        '--rate',
        '10000',
        '--stream-id',
        String(STREAM),
        '--state-dir',
        join(root, 'shipper'),
        '--backoff-base-ms',
        '50',
        '--backoff-cap-ms',
        '300',
        '--progress-ms',
        '0',
      ],
    });
    running.push(shipper);
    const firstEnd = await Promise.race([
      first.exit.then((e) => ({ who: 'receiver', ...e })),
      shipper.exit.then((e) => ({ who: 'shipper', ...e })),
    ]);
    expect(firstEnd, `the receiver dies by SIGKILL at ${fault} while the shipper streams`).toMatchObject({
      who: 'receiver',
      signal: 'SIGKILL',
    });
    const left = (await readdir(dataDir)).sort();

    const second = receiver(port, dataDir);
    await second.ready.catch((err: Error) => {
      throw new Error(
        `restart after ${fault} failed (left: ${left.join(' ')}): ${err.message}\n${second.log.slice(-10).join('\n')}`,
      );
    });
    const shipped = await shipper.exit;
    const done = await shipper.done;
    expect(shipped.exitCode).toBe(0);
    expect(done).toMatchObject({ acked: N, dropped: 0 });
    expect((await second.stop('SIGTERM')).exitCode).toBe(0);

    const names = (await readdir(dataDir)).sort();
    expect(
      names.filter((n) => n.endsWith('.tmp') && n !== 'hwm-checkpoint.json.tmp'),
      'temp files left',
    ).toEqual([]);
    expect(
      names.filter((n) => /\.ndjson$/.test(n) && names.includes(`${n}.gz`)),
      'plain files beside their .gz',
    ).toEqual([]);
    const seqs = new Map<number, number>();
    for await (const line of readRecordLines(dataDir)) {
      const rx = (JSON.parse(line) as { _rx?: { stream?: number; seq?: number } })._rx;
      if (rx?.stream === STREAM && rx.seq !== undefined) seqs.set(rx.seq, (seqs.get(rx.seq) ?? 0) + 1);
    }
    const lost: number[] = [];
    const duplicated: number[] = [];
    for (let s = 1; s <= N; s++) {
      const c = seqs.get(s) ?? 0;
      if (c === 0) lost.push(s);
      if (c > 1) duplicated.push(s);
    }
    process.stdout.write(
      `[restart ${fault}] left at the kill: ${left.filter((n) => !n.startsWith('records-') || /\.(tmp|ndjson)$/.test(n)).join(' ')}; records ${seqs.size}, lost ${lost.length}, duplicated ${duplicated.length}\n`,
    );
    expect({ lost: lost.slice(0, 10), duplicated: duplicated.slice(0, 10), extra: seqs.size - N }).toEqual({
      lost: [],
      duplicated: [],
      extra: 0,
    });

    // the rotation bound: no records file (decompressed) holds more than --rotate-bytes
    let largest = 0;
    for (const n of names.filter((x) => x.startsWith('records-'))) {
      const size = n.endsWith('.gz')
        ? gunzipSync(await readFile(join(dataDir, n))).length
        : (await stat(join(dataDir, n))).size;
      largest = Math.max(largest, size);
    }
    expect(largest).toBeLessThanOrEqual(ROTATE);
  });
});
