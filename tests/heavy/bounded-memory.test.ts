// Heavy suite (`npm run test:heavy`), issue 18 item 5: bounded memory under hostile clients. A real day 09
// receiver (default limits) is attacked, and while the attack holds, a good client (day 09's shipper, on
// its own connection) must get its records stored and ACKed, and the receiver's resident memory
// (/proc/<pid>/status VmRSS) must stay within the bound lessons/day09/README.md states ("Limits under
// hostile clients"). The bounds are correctness bounds with a wide margin, never timings: without the
// budget the first attack makes the receiver hold all 1.2 GB it is sent; without eviction the second keeps
// a million streams' marks, owners and stats.json entries in memory.
//   1. 300 connections each send a 4 MiB frame but its last byte (the partial-frame budget, --max-partial-bytes);
//   2. 1,000,000 distinct stream ids in HELLOs (the tracked-stream bound, --max-streams, idle ones evicted).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../shared/free-port.ts';
import { encodeFrame, encodeHello, FrameDecoder, FrameType } from '../../shared/protocol/frame.ts';
import { DEFAULT_MAX_PAYLOAD_BYTES } from '../../shared/protocol/limits.ts';
import { readRecordLines } from '../../shared/storage/read-records.ts';
import { startProgram, type Program } from '../../scripts/lib/launch.ts';

const MiB = 1 << 20;
/** The bounds lessons/day09/README.md states for a receiver with default limits (RSS, resident memory). */
const RSS_BOUND_PARTIAL = 768 * MiB;
const RSS_BOUND_STREAMS = 1024 * MiB;

const running: Program[] = [];
const sockets: net.Socket[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(running.splice(0).map((p) => p.stop('SIGKILL')));
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function vmRssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** Waits for `cond` (polled), with a generous deadline that only turns a hang into a failure. */
async function until<T>(cond: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 90_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Stats {
  lsp?: { budgetWaits: number; partialBytes: number; partialBytesPeak: number };
  tracking?: { streams: number; maxStreams: number; evicted: number; restored: number };
  ownership?: { streams: number };
  records: { persisted: number };
}
async function readStats(dataDir: string): Promise<Stats | undefined> {
  try {
    return JSON.parse(await readFile(join(dataDir, 'stats.json'), 'utf8')) as Stats;
  } catch {
    return undefined; // between the writer's rename and the next read, or not written yet
  }
}

async function setup(name: string, extra: string[] = []) {
  const root = await mkdtemp(join(os.tmpdir(), `bounded-${name}-`));
  dirs.push(root);
  const dataDir = join(root, 'data');
  const port = await freePort();
  const rx = startProgram({
    name: 'day09 receiver',
    file: 'lessons/day09/receiver.ts',
    args: ['--port', String(port), '--data-dir', dataDir, '--stats-interval-ms', '200', ...extra],
    readyTimeoutMs: 60_000,
  });
  running.push(rx);
  await rx.ready;
  return { root, dataDir, port, rx };
}

/** The good client: day 09's shipper, 5,000 records on stream 7; resolves with its done line. */
async function goodClient(root: string, port: number) {
  const shipper = startProgram({
    name: 'day09 shipper',
    file: 'lessons/day09/shipper.ts',
    args: [
      '--target',
      `127.0.0.1:${port}`,
      '--generate',
      '5000',
      '--stream-id',
      '7',
      '--name',
      'good-client',
      '--state-dir',
      join(root, 'shipper'),
    ],
  });
  running.push(shipper);
  const done = await shipper.done;
  const exit = await shipper.exit;
  return { done, exit };
}

async function storedOf(dataDir: string, stream: number): Promise<Set<number>> {
  const seqs = new Set<number>();
  for await (const line of readRecordLines(dataDir)) {
    const rx = (JSON.parse(line) as { _rx?: { stream?: number; seq?: number } })._rx;
    if (rx?.stream === stream && typeof rx.seq === 'number') seqs.add(rx.seq);
  }
  return seqs;
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    sockets.push(s);
    s.once('error', reject);
  });
}

describe('bounded memory under hostile clients (issue 18.5)', () => {
  it('300 connections each holding a 4 MiB frame but its last byte: RSS within the bound, a good client stored and ACKed', async () => {
    const { root, dataDir, port, rx } = await setup('partial', ['--idle-timeout-ms', '300000']);
    // One frame of the largest payload allowed; every hostile connection writes all of it but the last byte.
    const frame = encodeFrame({
      type: FrameType.BATCH,
      stream: 1,
      seq: 1,
      count: 1,
      payload: Buffer.alloc(DEFAULT_MAX_PAYLOAD_BYTES, 0x78),
    });
    const almost = frame.subarray(0, frame.length - 1);
    const HOSTILE = 300;
    for (let i = 0; i < HOSTILE; i++) {
      const s = await connect(port);
      s.on('error', () => {});
      s.write(almost);
    }
    // The receiver has taken what the budget allows: 64 full holders (64 × 4 MiB = the 256 MiB budget)
    // and every other connection waits, paused, its bytes in the kernel and in our write buffers.
    const budgetSpent = await until(async () => {
      const st = await readStats(dataDir);
      return st?.lsp && st.lsp.budgetWaits >= HOSTILE - 65 ? st : undefined;
    }, 'the partial-frame budget spent (stats.json lsp.budgetWaits)');
    const rssHeld = await vmRssBytes(rx.pid);

    const { done, exit } = await goodClient(root, port);
    expect(exit.exitCode).toBe(0);
    expect(done).toMatchObject({ sent: 5000, acked: 5000, dropped: 0 });
    expect((await storedOf(dataDir, 7)).size).toBe(5000);
    const rssAfter = await vmRssBytes(rx.pid);
    const st = await until(() => readStats(dataDir), 'stats.json');

    console.log(
      `partial frames: ${HOSTILE} × ${almost.length} bytes sent; held ${st.lsp!.partialBytes} (peak ${st.lsp!.partialBytesPeak}), budgetWaits ${budgetSpent.lsp!.budgetWaits}; VmRSS ${Math.round(rssHeld / MiB)} MiB under attack, ${Math.round(rssAfter / MiB)} MiB after the good client (bound ${RSS_BOUND_PARTIAL / MiB} MiB)`,
    );
    expect(st.lsp!.partialBytesPeak).toBeLessThanOrEqual(2 * 256 * MiB + 2 * 1024 * 64 * 1024);
    expect(rssHeld).toBeLessThan(RSS_BOUND_PARTIAL);
    expect(rssAfter).toBeLessThan(RSS_BOUND_PARTIAL);
    expect(rx.proc.exitCode).toBeNull(); // still up
  }, 150_000);

  it('1,000,000 distinct stream ids in HELLOs: tracked streams bounded (idle ones evicted), RSS within the bound, a good client stored and ACKed', async () => {
    const { root, dataDir, port, rx } = await setup('streams', ['--stats-interval-ms', '1000']);
    const N = 1_000_000;
    const CONNS = 4;
    const per = N / CONNS;
    let answered = 0;
    let refused = 0;
    let peakRss = 0;
    // Four connections, each HELLOing 250,000 streams of its own, a window of 10,000 unanswered at a time.
    const flood = Array.from({ length: CONNS }, async (_, c) => {
      const s = await connect(port);
      const dec = new FrameDecoder();
      let sent = 0;
      let acked = 0;
      const name = `flood-${c}`;
      await new Promise<void>((resolve, reject) => {
        const pump = () => {
          const parts: Buffer[] = [];
          while (sent < per && sent - acked < 10_000) parts.push(encodeHello(1_000_000 + c * per + ++sent, { name }));
          if (parts.length) s.write(Buffer.concat(parts));
        };
        s.on('data', (chunk: Buffer) => {
          for (const f of dec.push(chunk)) {
            if (f.type === FrameType.ACK) {
              acked++;
              answered++;
            } else if (f.type === FrameType.NACK) refused++;
          }
          if (acked === per) resolve();
          else pump();
        });
        s.once('close', () => (acked === per ? resolve() : reject(new Error(`flood ${c} closed after ${acked}`))));
        s.once('error', reject);
        pump();
      });
      s.end();
    });
    const sampler = setInterval(() => {
      void vmRssBytes(rx.pid).then(
        (r) => (peakRss = Math.max(peakRss, r)),
        () => {},
      );
    }, 250);
    try {
      await Promise.all(flood);
    } finally {
      clearInterval(sampler);
    }
    expect(answered).toBe(N);
    expect(refused).toBe(0);
    peakRss = Math.max(peakRss, await vmRssBytes(rx.pid));

    const { done, exit } = await goodClient(root, port);
    expect(exit.exitCode).toBe(0);
    expect(done).toMatchObject({ sent: 5000, acked: 5000, dropped: 0 });
    expect((await storedOf(dataDir, 7)).size).toBe(5000);
    const st = await until(async () => {
      const s = await readStats(dataDir);
      return s?.tracking && s.records.persisted === 5000 ? s : undefined;
    }, 'stats.json after the good client');
    console.log(
      `stream ids: ${N} HELLOs answered; tracked ${st.tracking!.streams} of max ${st.tracking!.maxStreams}, evicted ${st.tracking!.evicted}, owners ${st.ownership?.streams}; peak VmRSS ${Math.round(peakRss / MiB)} MiB (bound ${RSS_BOUND_STREAMS / MiB} MiB)`,
    );
    expect(st.tracking!.streams).toBeLessThanOrEqual(st.tracking!.maxStreams);
    expect(st.tracking!.evicted).toBeGreaterThanOrEqual(N - st.tracking!.maxStreams);
    expect(st.ownership?.streams).toBe(N + 1);
    expect(peakRss).toBeLessThan(RSS_BOUND_STREAMS);
    expect(rx.proc.exitCode).toBeNull();
  }, 600_000);
});
