/**
 * `npm run bench -- [scenario ...] [--quick] [--runs n] [--records n]`: the course's benchmark (CONVENTIONS.md §5,
 * issue #8). Each scenario runs its contenders side by side in one run, alternating them, repeated
 * (--runs, ≥ 3), and reports medians, min–max and ratios against the scenario's baseline, with the machine
 * (CPU, cores, RAM), Node version and record size. Timing thresholds never live in tests: this report is
 * where speed is judged.
 *
 * With no scenario it runs `all`: THE summary — every lane on the same messages, rsyslog as a peer, the raw
 * loopback ceiling and the generator alone (scripts/bench/summary.ts). `every` runs every scenario.
 * Results (scripts/bench/README.md): bench-results/latest.{md,json,svg} for the whole run,
 * bench-results/<scenario>.{md,json,svg} for each scenario, and a timestamped copy under
 * bench-results/history/. --quick writes under bench-results/quick/ instead, so a check run never
 * overwrites real figures.
 */
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { opt, parseCli } from '../shared/cli.ts';
import { REPO_ROOT } from './lib/launch.ts';
import {
  reportJson,
  reportMarkdown,
  scenarioMarkdown,
  type BenchReport,
  type Machine,
  type ScenarioReport,
} from './bench/report.ts';
import { runScenario } from './bench/runner.ts';
import { SCENARIOS } from './bench/scenarios.ts';

const DEFAULT_RECORDS = 1_000_000;
/** --quick: a twentieth of each scenario's records (at least this many) and 3 runs */
const QUICK_DIVISOR = 20;
const QUICK_MIN_RECORDS = 5_000;

// Scenario names are the words that are not flags and not a flag's value.
const VALUE_FLAGS = new Set(['--runs', '--records', '--out']);
const argv = process.argv.slice(2);
const names = argv.filter((a, i) => !a.startsWith('-') && !VALUE_FLAGS.has(argv[i - 1] ?? ''));
const list = Object.entries(SCENARIOS)
  .map(([n, s]) => `  ${n.padEnd(9)} ${s.title}`)
  .join('\n');
const args = parseCli(
  {
    name: 'npm run bench --',
    summary:
      'Run benchmark scenarios side by side (alternating, repeated) and report medians, min–max and ratios, as markdown, JSON and an SVG chart.',
    options: {
      runs: opt.int(
        '--runs <n>',
        'rounds; every contender runs once per round, the order alternating (use ≥ 3 for figures)',
        3,
        { min: 1, max: 50 },
      ),
      records: opt.int(
        '--records <n>',
        `records per run (default: the scenario's own, ${DEFAULT_RECORDS.toLocaleString('en-US')} unless it says otherwise)`,
        undefined,
        { min: 1000 },
      ),
      quick: opt.flag(
        '--quick',
        `small runs (a ${QUICK_DIVISOR}th of the records) to check the bench works; results go to <out>/quick/`,
      ),
      list: opt.flag('--list', 'list scenarios and exit'),
      out: opt.string('--out <dir>', 'where results are written', 'bench-results'),
    },
    epilog: `Scenarios (default: all; "every" = every one):\n${list}`,
  },
  process.argv.filter((a, i) => i < 2 || !names.includes(a)),
);

if (args.list) {
  console.log(list);
  process.exit(0);
}
const unknown = names.filter((n) => n !== 'every' && !SCENARIOS[n]);
if (unknown.length) {
  console.error(
    `npm run bench: unknown scenario ${unknown.join(', ')} (have: ${Object.keys(SCENARIOS).join(', ')}, every)`,
  );
  process.exit(2);
}
const selected = names.includes('every') ? Object.keys(SCENARIOS) : names.length ? [...new Set(names)] : ['all'];
if (args.runs < 3) console.error(`note: --runs ${args.runs}: fewer than 3 runs make no median worth reporting`);

const machine: Machine = {
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.availableParallelism(),
  memGiB: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  os: `${os.type()} ${os.release()} ${os.arch()}`,
  date: new Date().toISOString(),
};

const baseOut = resolve(process.env.INIT_CWD ?? REPO_ROOT, args.out);
const outDir = args.quick ? join(baseOut, 'quick') : baseOut;
await mkdir(join(outDir, 'history'), { recursive: true });

const recordsFor = (name: string): number => {
  if (args.records !== undefined) return args.records;
  const r = SCENARIOS[name]!.defaultRecords ?? DEFAULT_RECORDS;
  return args.quick ? Math.max(QUICK_MIN_RECORDS, Math.round(r / QUICK_DIVISOR)) : r;
};

const report: BenchReport = {
  machine,
  quick: args.quick,
  command: `npm run bench -- ${argv.join(' ')}`.trim(),
  scenarios: [],
};
let failed = false;
// Ctrl-C between runs: write what was measured so far (each run stops its own programs in `finally`).
for (const name of selected) {
  const { failed: f, ...s } = await runScenario(name, SCENARIOS[name]!, { runs: args.runs, records: recordsFor(name) });
  failed ||= f;
  report.scenarios.push(s);
  console.log(`\n${scenarioMarkdown(s, machine)}`);
  await writeScenario(s);
}

const stamp = machine.date.replace(/[:]/g, '').replace(/\.\d+Z$/, 'Z');
const files = await writeReport(join(outDir, 'latest'), report);
const tag = selected.length > 3 ? `${selected.length}-scenarios` : selected.join('+');
for (const f of files) await copyFile(f, join(outDir, 'history', `${stamp}-${tag}${f.slice(f.lastIndexOf('.'))}`));
console.error(
  `\nwrote ${files.map((f) => f.replace(`${REPO_ROOT}`, '')).join(', ')} (+ per-scenario files and history/${stamp}-${tag}.*)`,
);
process.exit(failed ? 1 : 0);

async function writeScenario(s: ScenarioReport): Promise<void> {
  await writeReport(join(outDir, s.scenario), { ...report, scenarios: [s] });
}

/** <base>.md, <base>.json, <base>.svg; returns the paths. A chart that fails to render is reported, not fatal. */
async function writeReport(base: string, r: BenchReport): Promise<string[]> {
  await writeFile(`${base}.md`, `${reportMarkdown(r)}\n`);
  await writeFile(`${base}.json`, reportJson(r));
  const out = [`${base}.md`, `${base}.json`];
  try {
    // vega is loaded only here: --help, --list and usage errors stay quick
    const { renderSvg } = await import('./bench/chart.ts');
    await writeFile(`${base}.svg`, await renderSvg(r));
    out.push(`${base}.svg`);
  } catch (err) {
    console.error(`chart for ${base} not written: ${(err as Error).message}`);
  }
  return out;
}
