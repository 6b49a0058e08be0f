/**
 * Day 12's experiment: every codec × a few levels over the same generated records, in one table.
 *
 *   npx tsx scripts/experiments/day12.ts [--records 200000] [--runs 3] [--levels gzip:1,6,9;zstd:1,3,9;brotli:1,4] [--lessons DIR]
 *
 * Two halves, each measured where it is meaningful:
 *   - the codec alone, in one process: ratio, compress MB/s, decompress MB/s (MB = 10^6 B of NDJSON).
 *     That is scripts/bench/codecs.ts, run as it is (its table is read back), not a copy of it;
 *   - end to end: the day 12 shipper (--generate, --codec, --level) to a fresh day 12 receiver, --runs
 *     times per contender, alternating: records/s (median) and the bytes the receiver read from the wire
 *     per record, plus the CPU ms per MB each side reports.
 * The question it answers: which codec buys the most bytes for the least throughput?
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { userPath } from '../../checks/harness/runner.ts';
import { opt, parseCli } from '../../shared/cli.ts';
import { CODECS } from '../../shared/protocol/codecs.ts';
import { runCodec, type CodecRun } from '../bench/day12.ts';
import { REPO_ROOT, useLessonsRoot } from '../lib/launch.ts';

const args = parseCli({
  name: 'scripts/experiments/day12.ts',
  summary:
    'Day 12 experiment: ratio, compress/decompress MB/s, end-to-end records/s and wire bytes per record, for every codec and a few levels.',
  options: {
    lessons: opt.string(
      '--lessons <dir>',
      "run the programs of this lessons folder (a learner's copy) instead of the repo's lessons/",
    ),
    records: opt.int('--records <n>', 'records per end-to-end run', 200_000, { min: 1000 }),
    runs: opt.int('--runs <n>', 'end-to-end runs per contender, alternating (median reported)', 3, { min: 1, max: 20 }),
    levels: opt.string(
      '--levels <spec>',
      'levels per codec, e.g. "gzip:1,6,9;zstd:1,3,9;brotli:1,4"',
      'gzip:1,6,9;zstd:1,3,9;brotli:1,4',
    ),
    batches: opt.int('--batches <n>', 'batches of 1000 records for the codec micro-benchmark', 20, {
      min: 1,
      max: 1000,
    }),
  },
  validate: (v) =>
    /^([a-z0-9]+:\d+(,\d+)*)(;[a-z0-9]+:\d+(,\d+)*)*$/.test(v.levels)
      ? undefined
      : `--levels: '${v.levels}' is not codec:l1,l2;codec:l3`,
});
// --lessons: the receivers and shippers come from the learner's copy (issue 16)
if (args.lessons) {
  const root = userPath(args.lessons);
  const missing = ['day12/receiver.ts', 'day12/shipper.ts'].filter((f) => !existsSync(join(root, f)));
  if (missing.length) {
    console.error(`scripts/experiments/day12.ts: --lessons ${root} has no ${missing.join(', ')}`);
    process.exit(2);
  }
  useLessonsRoot(root);
}

// ---- the contenders: none, lz4 (no levels), and each codec's levels ---------------------------------
const levelSpec = new Map(
  args.levels.split(';').map((part) => {
    const [name, list] = part.split(':') as [string, string];
    return [name, list.split(',').map(Number)] as const;
  }),
);
const contenders: Array<{ codec: string; level: number | undefined }> = [];
const skipped: string[] = [];
for (const c of CODECS.values()) {
  const a = c.availability();
  if (!a.ok) {
    skipped.push(`${c.name} (${a.reason})`);
    continue;
  }
  if (!c.levels) contenders.push({ codec: c.name, level: undefined });
  else for (const l of levelSpec.get(c.name) ?? [c.levels.default]) contenders.push({ codec: c.name, level: l });
}
const key = (codec: string, level: number | undefined | null) => `${codec}/${level ?? '-'}`;

// ---- 1. the codecs alone: scripts/bench/codecs.ts, its markdown table read back ----------------------
interface Micro {
  ratio: string;
  compress: string;
  decompress: string;
}
console.error(`codec micro-benchmark (scripts/bench/codecs.ts, ${args.batches} batches × 1000 records)…`);
const { stdout } = await promisify(execFile)(
  process.execPath,
  [
    '--import',
    'tsx',
    join(REPO_ROOT, 'scripts/bench/codecs.ts'),
    '--runs',
    '3',
    '--batches',
    String(args.batches),
    '--seed',
    '42',
  ],
  { cwd: REPO_ROOT, maxBuffer: 1 << 20 },
);
const micro = new Map<string, Micro>();
for (const line of stdout.split('\n')) {
  // | zstd (zstd-napi) | 1 (default) | 7.25 | 657 (494–669) | 1655 (1487–1690) |
  const cells = line.split('|').map((s) => s.trim());
  if (cells.length < 6 || !/^\d/.test(cells[3] ?? '')) continue;
  const codec = cells[1]!.split(' ')[0]!;
  const level = /^\d+/.exec(cells[2]!)?.[0];
  micro.set(key(codec, level === undefined ? undefined : Number(level)), {
    ratio: cells[3]!,
    compress: cells[4]!.split(' ')[0]!,
    decompress: cells[5]!.split(' ')[0]!,
  });
}

// ---- 2. end to end --------------------------------------------------------------------------------------
console.error(
  `end to end: ${contenders.length} contenders × ${args.runs} runs of ${args.records.toLocaleString('en-US')} records`,
);
const runs = new Map<string, CodecRun[]>();
for (let run = 0; run < args.runs; run++) {
  const order = run % 2 ? [...contenders].reverse() : contenders;
  for (const c of order) {
    const r = await runCodec({ records: args.records, codec: c.codec, level: c.level });
    runs.set(key(c.codec, c.level), [...(runs.get(key(c.codec, c.level)) ?? []), r]);
    console.error(
      `  run ${run + 1} ${key(c.codec, c.level).padEnd(10)} ${Math.round(r.recordsPerSec).toLocaleString('en-US').padStart(9)} records/s, ${r.wireBytesPerRecord.toFixed(1)} wire B/record`,
    );
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const none = runs.get(key('none', undefined))!;
const noneRate = median(none.map((r) => r.recordsPerSec));
const noneWire = median(none.map((r) => r.wireBytesPerRecord));

console.log(
  `# Day 12: codecs on ${args.records.toLocaleString('en-US')} generated records (~${Math.round(none[0]!.rawBytes / args.records)} B each), batches of 1000`,
);
console.log(
  `${os.cpus()[0]?.model ?? 'unknown CPU'} × ${os.availableParallelism()}, Node ${process.version}; end to end: median of ${args.runs} alternating runs; micro: median of 3 (scripts/bench/codecs.ts)\n`,
);
console.log(
  '| codec | level | ratio | compress MB/s | decompress MB/s | records/s | vs none | wire B/record | vs none | CPU ms/MB shipper | CPU ms/MB receiver |',
);
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const c of contenders) {
  const rs = runs.get(key(c.codec, c.level))!;
  const m = micro.get(key(c.codec, c.level));
  const rate = median(rs.map((r) => r.recordsPerSec));
  const wire = median(rs.map((r) => r.wireBytesPerRecord));
  const speeds = c.codec === 'none' ? '– | –' : `${m?.compress ?? '?'} | ${m?.decompress ?? '?'}`;
  console.log(
    `| ${c.codec} | ${c.level ?? '–'} | ${m?.ratio ?? rs[0]!.ratio.toFixed(2)} | ${speeds} | ${Math.round(rate).toLocaleString('en-US')} | ${(rate / noneRate).toFixed(2)}× | ${wire.toFixed(1)} | 1/${(noneWire / wire).toFixed(1)} | ${median(rs.map((r) => r.shipperCpuMsPerMB)).toFixed(1)} | ${median(rs.map((r) => r.receiverCpuMsPerMB)).toFixed(1)} |`,
  );
}
if (skipped.length) console.log(`\nnot available here: ${skipped.join('; ')}`);
console.log(
  '\nratio = NDJSON bytes / compressed bytes (micro-benchmark); wire B/record counts every byte the receiver read (28-byte frame headers, HELLO, PINGs included).',
);
