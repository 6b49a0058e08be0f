/**
 * Day 11 experiment: sweep the batch size (and the delay) and measure what batching buys and costs.
 *
 * Starts the day 11 receiver (TCP, ACKed, --fsync interval) on a temporary data dir, then runs the day 11
 * shipper once per setting and prints one table row from its done line:
 *
 *   records/s         records ACKed per second (the shipper's clock, connect → last ACK)
 *   frames/s          BATCH frames per second
 *   writes/record     socket write() calls per record (each one a system call while the socket keeps up)
 *   p50 / p99 ms      per-record latency from entering the batcher (creation) to its ACK
 *
 * Part 1, throughput: as fast as the shipper can, batch sizes 1, 10, 100, 1000, 10000 — once with the
 * default window (--window-batches 64) and once with a window big enough never to be the limit (small
 * batches ship fewer records: their rate is what counts).
 * Part 2, latency: a steady offered load (--rate) where batching must wait for records: batch size × delay.
 *
 * Run: npx tsx lessons/day11/experiment.ts [--quick] [--records N] [--rate R]
 * (Two processes share the machine: numbers on a busy 2-core VM wobble; compare within one run.)
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { opt, parseCli } from '../../shared/cli.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const args = parseCli({
  name: 'lessons/day11/experiment.ts',
  summary:
    'Day 11 experiment: batch size × delay → records/s, frames/s, writes per record, p50/p99 latency (creation → ACK).',
  options: {
    records: opt.int('--records <n>', 'records per throughput run (batch 1 runs a tenth of it)', 200_000, {
      min: 1000,
    }),
    rate: opt.int('--rate <n>', 'offered load of the latency runs, records/s', 20_000, { min: 100 }),
    seconds: opt.int('--seconds <n>', 'length of each latency run', 3, { min: 1, max: 60 }),
    quick: opt.flag('--quick', 'fewer settings (a smoke run)'),
  },
});

type Json = Record<string, unknown>;

/** Runs a program of this lesson; `ready` resolves with its ready line, `exit` with its last JSON line. */
function start(file: string, argv: string[]): { ready: Promise<Json>; last: Promise<Json | undefined>; stop(): void } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(HERE, file), ...argv], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let last: Json | undefined;
  let stderr = '';
  let onReady!: (j: Json) => void;
  const ready = new Promise<Json>((resolve) => (onReady = resolve));
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (!line.startsWith('{')) return;
    last = JSON.parse(line) as Json;
    if (last['event'] === 'ready') onReady(last);
  });
  child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2000)));
  const exited = new Promise<Json | undefined>((resolve) => child.once('close', () => resolve(last)));
  void exited.then(() => onReady({ event: 'exited', stderr }));
  return { ready, last: exited, stop: () => child.kill('SIGTERM') };
}

interface Row {
  label: string;
  done: Record<string, unknown>;
}

async function ship(target: string, stateDir: string, extra: string[]): Promise<Json> {
  const done = await start('shipper.ts', ['--target', target, '--state-dir', stateDir, '--progress-ms', '0', ...extra])
    .last;
  if (done?.['event'] !== 'done') throw new Error(`shipper ${extra.join(' ')}: no done line`);
  return done;
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function table(title: string, rows: Row[]): void {
  const head = [
    'setting',
    'records/s',
    'frames/s',
    'writes/record',
    'rec/batch',
    'p50 ms',
    'p99 ms',
    'flushes (r/b/t/c)',
  ];
  const lines = rows.map(({ label, done }) => {
    const s = Number(done['elapsedMs']) / 1000;
    const acked = Number(done['acked']);
    const frames = Number(done['frames']);
    const w = done['waitMs'] as { p50: number; p99: number };
    const f = done['flushes'] as Record<string, number>;
    return [
      label,
      fmt(acked / s),
      fmt(frames / s),
      fmt(Number(done['socketWrites']) / acked, 4),
      fmt(Number(done['recordsPerBatch']), 1),
      fmt(w.p50, 1),
      fmt(w.p99, 1),
      `${f['records']}/${f['bytes']}/${f['time']}/${f['close']}`,
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(`\n${title}`);
  console.log(row(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const l of lines) console.log(row(l));
}

const dir = await mkdtemp(join(os.tmpdir(), 'day11-experiment-'));
// Part 1's receiver fsyncs every 100 ms (the default); Part 2's fsyncs as soon as it can (group commit), so
// that the latency batching adds is not hidden under a 50 ms average wait for the next periodic fsync.
const rx = start('receiver.ts', ['--port', '0', '--data-dir', join(dir, 'rx'), '--fsync', 'interval']);
const rxAlways = start('receiver.ts', ['--port', '0', '--data-dir', join(dir, 'rx-always'), '--fsync', 'always']);
try {
  const targetOf = async (p: ReturnType<typeof start>): Promise<string> => {
    const ready = await p.ready;
    if (ready['event'] !== 'ready') throw new Error(`the receiver did not start: ${String(ready['stderr'])}`);
    return `${String(ready['host'])}:${String(ready['port'])}`;
  };
  const target = await targetOf(rx);
  const targetAlways = await targetOf(rxAlways);
  let run = 0;
  const state = () => join(dir, `state-${++run}`);
  const sizes = args.quick ? [1, 100, 1000] : [1, 10, 100, 1000, 10000];
  console.log(
    `day 11 batching experiment — node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}; records ~200 bytes (--generate)`,
  );

  for (const window of [64, 100_000]) {
    const rows: Row[] = [];
    for (const size of sizes) {
      // batch 1 is slow (with the default window, very): fewer records, the rate is what counts
      const n =
        size === 1
          ? Math.max(2000, Math.floor(args.records / (window === 64 ? 100 : 10)))
          : size === 10 && window === 64
            ? Math.floor(args.records / 4)
            : args.records;
      const done = await ship(target, state(), [
        '--generate',
        String(n),
        '--batch-records',
        String(size),
        '--batch-bytes',
        '4MiB',
        '--batch-delay-ms',
        '20',
        '--window-batches',
        String(window),
        '--window-bytes',
        '256MiB',
        '--queue-records',
        String(Math.max(200_000, 2 * size)),
      ]);
      rows.push({ label: `batch ${size} (${fmt(n)} records)`, done });
    }
    table(
      `Part 1 — throughput, as fast as possible (receiver --fsync interval), --batch-delay-ms 20, --window-batches ${fmt(window)}`,
      rows,
    );
  }

  const rows: Row[] = [];
  const n = args.rate * args.seconds;
  for (const delay of args.quick ? [5, 50] : [1, 5, 50]) {
    for (const size of sizes) {
      const done = await ship(targetAlways, state(), [
        '--generate',
        String(n),
        '--rate',
        String(args.rate),
        '--batch-records',
        String(size),
        '--batch-bytes',
        '4MiB',
        '--batch-delay-ms',
        String(delay),
        '--window-batches',
        '100000',
        '--window-bytes',
        '256MiB',
      ]);
      rows.push({ label: `batch ${size}, delay ${delay} ms`, done });
    }
  }
  table(
    `Part 2 — latency at a steady ${fmt(args.rate)} records/s (receiver --fsync always: group commit; ${fmt(n)} records per run)`,
    rows,
  );
} finally {
  rx.stop();
  rxAlways.stop();
  await Promise.all([rx.last, rxAlways.last]);
  await rm(dir, { recursive: true, force: true });
}
