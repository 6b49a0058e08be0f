/**
 * A fair share (issue 17.3, `npm run bench -- fairness`): one client at full speed and a polite one share a
 * day 09 receiver. How long do the polite client's ACKs wait?
 *
 *   polite   an in-process LSP/1 client on its own stream: a BATCH of 10 records every 10 ms (1,000
 *            records/s), open loop — batch i is due at t0 + 10·i ms whether or not earlier ones were
 *            ACKed, and its latency runs from that due time to the ACK that covers it (so a stall on our
 *            side counts too: no coordinated omission).
 *   flood    day 09's shipper in its own process, `--generate N` at full speed, batches of 1000.
 *
 * Rows: the polite client alone (the baseline), and beside the flood. records/s is the polite client's
 * (≈ 1,000: it is paced); the figures are its ACK latency p50 / p99 / max in the note and the JSON (`extra`),
 * with the flood's own records/s. The receiver runs with --fsync interval (group commit every 10 ms).
 */
import { rm } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { RecordGenerator } from '../../shared/generate.ts';
import { encodeBatch } from '../../shared/protocol/batch.ts';
import { encodeHello, FrameDecoder, FrameType } from '../../shared/protocol/frame.ts';
import { shipperDone, startReceiver, tempDir } from './receivers.ts';
import type { BenchContext, Contender, RunResult, Scenario } from './types.ts';
import { readyToTime } from './warm-memory.ts';

const POLITE_STREAM = 1717;
const BATCH = 10;
const EVERY_MS = 10;

interface Latencies {
  acked: number;
  p50: number;
  p99: number;
  max: number;
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** The polite client: `until()` says when to stop sending; resolves once every batch sent is ACKed. */
async function polite(host: string, port: number, lines: string[], until: () => boolean): Promise<Latencies> {
  const socket = net.connect({ host, port, noDelay: true });
  await new Promise<void>((res, rej) => socket.once('connect', res).once('error', rej));
  const dec = new FrameDecoder();
  const due: number[] = []; // due time of batch i (its last seq = (i + 1) · BATCH)
  const lat: number[] = [];
  let acked = 0;
  let helloAcked: (() => void) | undefined;
  let allAcked: (() => void) | undefined;
  let sent = 0;
  socket.on('data', (c: Buffer) => {
    const now = performance.now();
    for (const f of dec.push(c)) {
      if (f.type === FrameType.NACK) socket.destroy(new Error(`NACK ${f.payload.toString()}`));
      if (f.type !== FrameType.ACK || f.stream !== POLITE_STREAM) continue;
      if (helloAcked) {
        helloAcked();
        helloAcked = undefined;
        continue;
      }
      while (acked < sent && (acked + 1) * BATCH <= f.seq) lat.push(now - due[acked++]!);
      if (acked === sent && allAcked) allAcked();
    }
  });
  const closed = new Promise<never>((_, rej) =>
    socket.once('close', () => rej(new Error(`polite connection closed after ${acked} of ${sent} batches`))),
  );
  closed.catch(() => {});
  socket.write(encodeHello(POLITE_STREAM, { name: 'bench-polite' }));
  await Promise.race([closed, new Promise<void>((r) => (helloAcked = r))]);
  const t0 = performance.now();
  await Promise.race([
    closed,
    new Promise<void>((resolve) => {
      const tick = () => {
        const now = performance.now();
        // every batch that is due by now goes (open loop: a late tick sends what it owes)
        while (t0 + sent * EVERY_MS <= now && !until()) {
          const first = sent * BATCH;
          due.push(t0 + sent * EVERY_MS);
          socket.write(
            encodeBatch({
              stream: POLITE_STREAM,
              seq: first + 1,
              records: lines.slice(first % (lines.length - BATCH), (first % (lines.length - BATCH)) + BATCH),
            }),
          );
          sent++;
        }
        if (until()) return resolve();
        setTimeout(tick, Math.max(0, t0 + sent * EVERY_MS - performance.now()));
      };
      tick();
    }),
  ]);
  if (acked < sent) await Promise.race([closed, new Promise<void>((r) => (allAcked = r))]);
  socket.destroy();
  lat.sort((a, b) => a - b);
  const r1 = (x: number) => Math.round(x * 10) / 10;
  return { acked: acked * BATCH, p50: r1(pct(lat, 50)), p99: r1(pct(lat, 99)), max: r1(lat[lat.length - 1] ?? 0) };
}

interface FairnessContext extends BenchContext {
  lines: string[];
}

async function run(ctx: FairnessContext, flood: boolean): Promise<RunResult> {
  const dir = await tempDir('fair');
  const rx = startReceiver('day09 receiver', 'lessons/day09/receiver.ts', join(dir, 'rx'), ['--fsync', 'interval']);
  try {
    const ready = await readyToTime(rx);
    const t0 = performance.now();
    if (!flood) {
      const l = await polite(ready.host, ready.port, ctx.lines, () => performance.now() - t0 >= 5000);
      return {
        records: l.acked,
        bytes: l.acked * ctx.recordBytes,
        ms: performance.now() - t0,
        note: `polite ACK p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms`,
        extra: { ackP50Ms: l.p50, ackP99Ms: l.p99, ackMaxMs: l.max },
      };
    }
    let floodDone = false;
    const done = shipperDone('flood', 'lessons/day09/shipper.ts', ready, ctx.records, [
      '--batch-records',
      '1000',
      '--state-dir',
      join(dir, 'flood'),
      '--progress-ms',
      '0',
    ]).finally(() => (floodDone = true));
    // the polite client starts once the flood is under way, and stops when it ends
    await new Promise((r) => setTimeout(r, 300));
    const l = await polite(ready.host, ready.port, ctx.lines, () => floodDone);
    const d = await done;
    if (d['acked'] !== ctx.records) throw new Error(`the flood got ACKs for ${String(d['acked'])} of ${ctx.records}`);
    const floodPerSec = Math.round(Number(d['recordsPerSec']));
    return {
      records: l.acked,
      bytes: l.acked * ctx.recordBytes,
      ms: performance.now() - t0,
      note: `polite ACK p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms; flood ${floodPerSec.toLocaleString('en-US')} records/s`,
      extra: { ackP50Ms: l.p50, ackP99Ms: l.p99, ackMaxMs: l.max, floodRecordsPerSec: floodPerSec },
    };
  } finally {
    await rx.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const alone: Contender = {
  name: 'polite 1,000 records/s alone',
  ownInput: true,
  run: (ctx) => run(ctx as FairnessContext, false),
};
const beside: Contender = {
  name: 'polite 1,000 records/s beside a full-speed flood',
  ownInput: true,
  run: (ctx) => run(ctx as FairnessContext, true),
};

export const fairnessScenario: Scenario = {
  title: "a fair share: a polite client's ACK latency beside one client at full speed (day 09 receiver)",
  baseline: alone.name,
  defaultRecords: 1_000_000,
  contenders: [alone, beside],
  figures: {
    ackP50Ms: 'polite ACK p50 (ms)',
    ackP99Ms: 'polite ACK p99 (ms)',
    ackMaxMs: 'polite ACK max (ms)',
    floodRecordsPerSec: 'flood records/s',
  },
  setup(opts) {
    const gen = new RecordGenerator({ seed: 42, baseTimeMs: Date.UTC(2026, 10, 26) });
    const lines = gen.take(10_000);
    const bytes = lines.reduce((a, l) => a + l.length + 1, 0);
    const ctx: FairnessContext = {
      records: opts.records,
      recordBytes: Math.round(bytes / lines.length),
      chunks: [],
      lines,
    };
    return ctx;
  },
  notes:
    "records/s is the polite client's (paced at 1,000/s: it should not move); what matters is its ACK latency, the second table (medians over the runs of p50, p99, max: from each batch's due time to the ACK covering it, open loop; each run's figures are in its note and the JSON). The flood is lessons/day09/shipper.ts --generate N (the scenario's records) --batch-records 1000 in its own process; the polite client runs while the flood runs. Receiver: lessons/day09/receiver.ts --fsync interval, fresh data dir per run.",
};
