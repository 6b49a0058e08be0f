/**
 * Micro-benchmark of the LSP/1 payload codecs (shared/protocol/codecs.ts): every available codec at a
 * few levels, over the same seeded corpus of BATCH payloads (N batches of 1000 generated records, as
 * NDJSON, exactly what a shipper compresses). For each contender: compression ratio, compress MB/s and
 * decompress MB/s (MB = 10^6 bytes of *uncompressed* NDJSON), as the median of --runs runs in which the
 * contenders alternate, with min–max. Decompression goes through the bounded path the receiver uses
 * (limit: the default 32 MiB).
 *
 *   npx tsx scripts/bench/codecs.ts [--runs 5] [--batches 20] [--seed 1] [--slow]
 *
 * Single-threaded, in-process, synchronous calls: this measures codec CPU cost, not a pipeline.
 */
import os from 'node:os';
import { opt, parseCli } from '../../shared/cli.ts';
import { RecordGenerator } from '../../shared/generate.ts';
import { encodeBatchPayload } from '../../shared/protocol/batch.ts';
import { CODECS, type Codec } from '../../shared/protocol/codecs.ts';

const args = parseCli({
  name: 'scripts/bench/codecs.ts',
  summary: 'Ratio and speed of every available LSP/1 codec and level on generated log batches.',
  options: {
    runs: opt.int('--runs <n>', 'alternating runs per contender (median reported)', 5, { min: 3, max: 50 }),
    batches: opt.int('--batches <n>', 'batches of 1000 records in the corpus', 20, { min: 1, max: 1000 }),
    seed: opt.int('--seed <n>', 'generator seed', 1),
    slow: opt.flag('--slow', 'also run the slowest levels (brotli 11)'),
  },
});

/** Levels tried per codec (undefined: the codec has none). */
const LEVELS: Record<string, Array<number | undefined>> = {
  none: [undefined],
  gzip: [1, 6, 9],
  zstd: [1, 3, 6, 9, 19],
  lz4: [undefined],
  brotli: args.slow ? [1, 4, 9, 11] : [1, 4, 9],
};

const gen = new RecordGenerator({ seed: args.seed });
const corpus = Array.from({ length: args.batches }, () => encodeBatchPayload(gen.take(1000)));
const rawBytes = corpus.reduce((n, b) => n + b.length, 0);

interface Contender {
  codec: Codec;
  level: number | undefined;
  label: string;
  packed: Buffer[];
  compressMBs: number[];
  decompressMBs: number[];
  packedBytes: number;
}

const contenders: Contender[] = [];
const skipped: string[] = [];
for (const codec of CODECS.values()) {
  const a = codec.availability();
  if (!a.ok) {
    skipped.push(`${codec.name} (${a.reason})`);
    continue;
  }
  for (const level of LEVELS[codec.name] ?? [undefined]) {
    const impl = a.implementation ? ` (${a.implementation})` : '';
    contenders.push({
      codec,
      level,
      label: `${codec.name}${impl}`,
      packed: [],
      compressMBs: [],
      decompressMBs: [],
      packedBytes: 0,
    });
  }
}

function timeIt(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

// Warm-up and correctness: one full round trip per contender before any timing.
for (const c of contenders) {
  c.packed = corpus.map((b) => c.codec.compress(b, c.level));
  c.packedBytes = c.packed.reduce((n, b) => n + b.length, 0);
  c.packed.forEach((p, i) => {
    if (!c.codec.decompress(p).equals(corpus[i]!)) throw new Error(`${c.label} ${String(c.level)}: round trip failed`);
  });
}

for (let run = 0; run < args.runs; run++) {
  // Alternate: every contender once per run, in a rotated order so none always runs first.
  for (let k = 0; k < contenders.length; k++) {
    const c = contenders[(k + run) % contenders.length]!;
    const ct = timeIt(() => {
      for (let i = 0; i < corpus.length; i++) c.packed[i] = c.codec.compress(corpus[i]!, c.level);
    });
    const dt = timeIt(() => {
      for (const p of c.packed) c.codec.decompress(p);
    });
    c.compressMBs.push(rawBytes / 1e6 / ct);
    c.decompressMBs.push(rawBytes / 1e6 / dt);
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (xs: number[]): string => {
  const r = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  return `${r(median(xs))} (${r(Math.min(...xs))}–${r(Math.max(...xs))})`;
};

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
console.log(
  `# LSP/1 codecs: ${args.batches} batches × 1000 records, ${(rawBytes / args.batches / 1000).toFixed(0)} B/record, ${(rawBytes / args.batches / 1024).toFixed(0)} KiB/batch, seed ${args.seed}`,
);
console.log(
  `${cpu} × ${os.cpus().length}, Node ${process.version}, ${os.platform()} ${os.arch()}; median (min–max) of ${args.runs} alternating runs; MB = 10^6 B of NDJSON\n`,
);
console.log('| codec | level | ratio | compress MB/s | decompress MB/s |');
console.log('|---|---|---|---|---|');
for (const c of contenders) {
  const def = c.codec.levels && c.level === c.codec.levels.default ? ' (default)' : '';
  // `none` returns its input: its "speed" is a function call, not a figure worth printing.
  const speeds = c.codec.name === 'none' ? 'no-op | no-op' : `${fmt(c.compressMBs)} | ${fmt(c.decompressMBs)}`;
  console.log(
    `| ${c.label} | ${c.level === undefined ? '–' : `${c.level}${def}`} | ${(rawBytes / c.packedBytes).toFixed(2)} | ${speeds} |`,
  );
}
if (skipped.length) console.log(`\nnot available here: ${skipped.join('; ')}`);
