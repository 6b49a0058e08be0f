/**
 * `npm run bench -- [scenario ...]`: the course's benchmark (GUIDE §5). Each scenario runs its
 * contenders side by side in one run, alternating them, repeated (--runs, ≥ 3), and reports medians,
 * min–max and ratios against the scenario's baseline, with the machine, Node version and record size.
 * Results: a markdown table on stdout and bench-results/<scenario>.{md,json}.
 * Timing thresholds never live in tests: this report is where speed is judged.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { opt, parseCli } from '../shared/cli.ts';
import { REPO_ROOT } from './lib/launch.ts';
import { SCENARIOS, type Contender, type RunResult } from './bench/scenarios.ts';

// Scenario names are the words that are not flags and not a flag's value.
const VALUE_FLAGS = new Set(['--runs', '--records', '--out']);
const names = process.argv.slice(2).filter((a, i, all) => !a.startsWith('-') && !VALUE_FLAGS.has(all[i - 1] ?? ''));
const args = parseCli(
  {
    name: 'npm run bench --',
    summary: 'Run benchmark scenarios side by side and report medians and ratios.',
    options: {
      runs: opt.int('--runs <n>', 'repetitions of each contender (alternating)', 3, { min: 1, max: 50 }),
      records: opt.int('--records <n>', 'records per run', 1_000_000, { min: 1000 }),
      list: opt.flag('--list', 'list scenarios and exit'),
      out: opt.string('--out <dir>', 'where results are written', 'bench-results'),
    },
    epilog: `Scenarios: ${Object.keys(SCENARIOS).join(', ')} (default: all)`,
  },
  process.argv.filter((a) => !names.includes(a)),
);

if (args.list) {
  for (const [name, s] of Object.entries(SCENARIOS)) console.log(`${name.padEnd(10)} ${s.title}`);
  process.exit(0);
}
const unknown = names.filter((n) => !SCENARIOS[n]);
if (unknown.length) {
  console.error(`npm run bench: unknown scenario ${unknown.join(', ')} (have: ${Object.keys(SCENARIOS).join(', ')})`);
  process.exit(2);
}
const selected = names.length ? names : Object.keys(SCENARIOS);

const machine = {
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.availableParallelism(),
  memGiB: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  os: `${os.type()} ${os.release()}`,
  date: new Date().toISOString(),
};

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2));

const outDir = resolve(process.env.INIT_CWD ?? REPO_ROOT, args.out);
await mkdir(outDir, { recursive: true });
let failed = false;
for (const name of selected) {
  const scenario = SCENARIOS[name]!;
  const ctx = await scenario.setup({ records: args.records });
  console.error(`\n== ${name}: ${scenario.title} (${args.runs} runs, ${args.records.toLocaleString('en-US')} records, ~${ctx.recordBytes} B/record)`);
  const results = new Map<string, RunResult[]>();
  for (let run = 0; run < args.runs; run++) {
    // Alternate the order each run so warm caches and background noise fall on every contender.
    const order: Contender[] = run % 2 ? [...scenario.contenders].reverse() : [...scenario.contenders];
    for (const c of order) {
      try {
        const r = await c.run(ctx);
        results.set(c.name, [...(results.get(c.name) ?? []), r]);
        console.error(`  run ${run + 1} ${c.name.padEnd(36)} ${fmt(r.records / (r.ms / 1000))} records/s  ${fmt(r.bytes / r.ms / 1000)} MB/s${r.note ? `  ${r.note}` : ''}`);
      } catch (err) {
        failed = true;
        console.error(`  run ${run + 1} ${c.name}: FAILED ${(err as Error).message}`);
      }
    }
  }
  await ctx.teardown?.();
  const rows = scenario.contenders.map((c) => {
    const rs = results.get(c.name) ?? [];
    const rates = rs.map((r) => r.records / (r.ms / 1000));
    const mbs = rs.map((r) => r.bytes / r.ms / 1000);
    return { contender: c.name, runs: rs.length, recordsPerSec: rs.length ? median(rates) : 0, min: Math.min(...rates), max: Math.max(...rates), mbPerSec: rs.length ? median(mbs) : 0, extra: rs.at(-1)?.extra ?? {} };
  });
  const base = rows.find((r) => r.contender === scenario.baseline) ?? rows[0]!;
  const table = [
    `### ${name}: ${scenario.title}`,
    '',
    `${args.runs} runs alternating, ${args.records.toLocaleString('en-US')} records of ~${ctx.recordBytes} bytes; ${machine.cores} cores (${machine.cpu}), Node ${machine.node}, ${machine.date.slice(0, 10)}`,
    '',
    `| contender | records/s (median) | min – max | MB/s | vs ${base.contender} |`,
    '|---|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.contender} | ${fmt(r.recordsPerSec)} | ${fmt(r.min)} – ${fmt(r.max)} | ${fmt(r.mbPerSec)} | ${base.recordsPerSec ? (r.recordsPerSec / base.recordsPerSec).toFixed(2) : '-'}× |`),
    '',
    scenario.notes ?? '',
  ].join('\n');
  console.log(`\n${table}`);
  await writeFile(join(outDir, `${name}.md`), `${table}\n`);
  await writeFile(join(outDir, `${name}.json`), `${JSON.stringify({ scenario: name, title: scenario.title, machine, runs: args.runs, records: args.records, recordBytes: ctx.recordBytes, baseline: base.contender, rows }, null, 2)}\n`);
}
process.exit(failed ? 1 : 0);
