/**
 * Scale-out's benchmark (issue 11): records/s into a JetStream stream with 1, 2 and 3 receivers, at R1
 * and R3, beside the file sink, in one run.
 *
 * Each contender starts its own lanes: the scale receivers (`lessons/scale/receiver.ts`, --sink file or
 * jetstream) and, for JetStream, a fresh 3-node nats-server cluster on loopback (not timed). The records
 * are split evenly over the receivers; one client per receiver sends pre-encoded BATCH frames of 1000
 * (its own LSP/1 stream) and does nothing else, and the clock stops when the slowest has the ACK of its
 * last record — i.e. when everything is durable in JetStream (PubAck, R replicas) or fsynced (file
 * sink). The archiver is not part of the timing (it drains the stream behind the receivers).
 *
 * Read it knowing the machine: every receiver, every nats-server node and every client share its cores,
 * so "more receivers" can only help while cores are idle; on more hosts each receiver gets its own.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { RecordGenerator } from '../../shared/generate.ts';
import { NatsCluster } from '../../lessons/scale/jetstream/cluster.ts';
import { startProgram, type Program } from '../lib/launch.ts';
import { lspBlast, toBatchFrames } from './lsp-blast.ts';
import type { BenchContext, Contender, RunResult, Scenario } from './types.ts';
import { warmFreeMemory } from './warm-memory.ts';

/** per context: the lines, cut into frames per (receiver count, receiver index) on first use */
const corpora = new WeakMap<BenchContext, { lines: string[]; frames: Map<string, Buffer[]> }>();
let runNo = 0;

function corpus(opts: { records: number }): BenchContext {
  const gen = new RecordGenerator({ seed: 42, baseTimeMs: Date.UTC(2026, 10, 26) });
  const lines = gen.take(opts.records);
  const bytes = lines.reduce((a, l) => a + Buffer.byteLength(l) + 1, 0);
  const ctx: BenchContext = { records: opts.records, recordBytes: Math.round(bytes / opts.records), chunks: [] };
  corpora.set(ctx, { lines, frames: new Map() });
  return ctx;
}

/** receiver i of n: its share of the records as frames of its own stream */
function share(ctx: BenchContext, n: number, i: number): { frames: Buffer[]; records: number; stream: number } {
  const c = corpora.get(ctx)!;
  const per = Math.ceil(ctx.records / n);
  const lines = c.lines.slice(i * per, Math.min(ctx.records, (i + 1) * per));
  // a new stream id per run: JetStream keeps what earlier runs stored (fresh clusters anyway)
  const stream = 1000 * ++runNo + i;
  return { frames: toBatchFrames(lines, stream, 1000), records: lines.length, stream };
}

async function persisted(dir: string): Promise<number> {
  const stats = JSON.parse(await readFile(join(dir, 'stats.json'), 'utf8')) as { records: { persisted: number } };
  return stats.records.persisted;
}

function contender(receivers: number, sink: 'file' | 'jetstream', replicas: number): Contender {
  const name =
    sink === 'file'
      ? `file sink, ${receivers} receiver${receivers > 1 ? 's' : ''}`
      : `JetStream R${replicas}, ${receivers} receiver${receivers > 1 ? 's' : ''}`;
  return {
    name,
    async run(ctx): Promise<RunResult> {
      const dir = await mkdtemp(join(os.tmpdir(), 'logstream-bench-scale-'));
      const cluster =
        sink === 'jetstream' ? new NatsCluster({ size: 3, dir: join(dir, 'nats'), baseHttpPort: -1 }) : undefined;
      const rxs: Program[] = [];
      try {
        await cluster?.start(30_000);
        const nats = cluster
          ? [
              '--sink',
              'jetstream',
              '--nats',
              cluster.urls.join(','),
              '--replicas',
              String(replicas),
              '--js-stream',
              `BENCH${replicas}`,
            ]
          : ['--sink', 'file', '--fsync', 'interval'];
        for (let i = 0; i < receivers; i++) {
          // each receiver prefers another node (as the launcher does)
          const args = cluster
            ? nats.map((a) =>
                a === cluster.urls.join(',') ? [0, 1, 2].map((k) => cluster.urls[(i + k) % 3]).join(',') : a,
              )
            : nats;
          rxs.push(
            startProgram({
              name: `r${i + 1}`,
              file: 'lessons/scale/receiver.ts',
              args: ['--port', '0', '--data-dir', join(dir, `r${i + 1}`), '--lane', `bench-r${i + 1}`, ...args],
              readyTimeoutMs: 30_000,
            }),
          );
        }
        const ready = await Promise.all(rxs.map((r) => r.ready));
        warmFreeMemory();
        const shares = ready.map((_, i) => share(ctx, receivers, i));
        const t0 = performance.now();
        const results = await Promise.all(
          ready.map((r, i) => lspBlast(r.host, r.port, shares[i]!.stream, shares[i]!.frames, shares[i]!.records)),
        );
        const ms = performance.now() - t0;
        await Promise.all(rxs.map((r) => r.stop()));
        let got = 0;
        for (let i = 0; i < receivers; i++) got += await persisted(join(dir, `r${i + 1}`));
        if (got !== ctx.records) throw new Error(`receivers persisted ${got} of ${ctx.records}`);
        return {
          records: ctx.records,
          bytes: results.reduce((a, r) => a + r.bytes, 0),
          ms,
          extra: { receivers, sink, replicas: sink === 'file' ? 0 : replicas },
        };
      } finally {
        await Promise.all(rxs.map((r) => r.stop()));
        await cluster?.stop(1000);
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

export const scaleScenario: Scenario = {
  title: 'scale-out: records/s into JetStream with 1, 2 and 3 receivers (R1 and R3), beside the file sink',
  baseline: 'file sink, 1 receiver',
  defaultRecords: 300_000,
  setup: corpus,
  contenders: [
    contender(1, 'file', 0),
    contender(3, 'file', 0),
    contender(1, 'jetstream', 1),
    contender(2, 'jetstream', 1),
    contender(3, 'jetstream', 1),
    contender(1, 'jetstream', 3),
    contender(2, 'jetstream', 3),
    contender(3, 'jetstream', 3),
  ],
  notes:
    "Each row: the records split evenly over the receivers, one client per receiver sending pre-encoded BATCH frames of 1000 on its own LSP/1 stream; time = until the slowest client has the ACK of its last record (JetStream: PubAck from R replicas; file sink: --fsync interval). JetStream rows run a fresh 3-node nats-server cluster on loopback (startup not timed). Every process shares this machine's cores: with 2 cores, 3 receivers + 3 NATS nodes + clients cannot all run at once, so growth with receivers is bounded by the CPU, not the design.",
};
