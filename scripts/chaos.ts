/**
 * `npm run chaos`: the acked lanes (day 09, 11, 12, 13) under a seeded schedule of faults while records
 * flow, UDP (day 10) beside them, then every stream's seqs checked from the persisted files (issue 10).
 * Writes chaos-results/latest.md and latest.json; a progress line on stderr while it runs.
 * Exit 0 when every acked lane lost, duplicated and reordered nothing; 1 otherwise; 2 on a usage error.
 *
 *   npm run chaos                                 the short profile (~1 min, the one npm test runs)
 *   npm run chaos -- --profile long               ≥ 10 min, ≥ 10M records, ≥ 50 faults
 *   npm run chaos -- --lanes day09,day12 --records 100000 --faults 20 --seed 7
 */
import { resolve } from 'node:path';
import { opt, parseCli } from '../shared/cli.ts';
import { REPO_ROOT } from './lib/launch.ts';
import { ALL_LANES, type LaneId } from './chaos/lanes.ts';
import { writeReport } from './chaos/report.ts';
import { abortChaos, PROFILES, runChaos } from './chaos/run.ts';

const args = parseCli({
  name: 'npm run chaos --',
  summary:
    'Hardening: acked lanes under kill -9, cuts, stalls, SIGSTOP, slow and full disk; then lost/duplicated/reordered from the files.',
  options: {
    profile: opt.choice(
      '--profile <name>',
      `short (~1 min, ${PROFILES.short.records} records per lane) | long (≥ 10 min, ${PROFILES.long.records} per lane)`,
      ['short', 'long'] as const,
      'short',
    ),
    lanes: opt.list('--lanes <ids>', `lanes to run, comma-separated (${ALL_LANES.join(', ')})`, [...ALL_LANES]),
    records: opt.int('--records <n>', "records per lane (default: the profile's)", undefined, { min: 1000 }),
    faults: opt.int('--faults <n>', "faults in all over the acked lanes (default: the profile's)", undefined, {
      min: 0,
    }),
    seed: opt.int('--seed <n>', 'seed of the fault schedule', 1),
    durationS: opt.int('--duration-s <n>', "seconds records flow and faults fall (default: the profile's)", undefined, {
      min: 5,
    }),
    enospc: opt.choice(
      '--enospc <how>',
      'full disk: auto (a tmpfs when mounting works) | tmpfs | inject (LOGSTREAM_FAULT_SINK only)',
      ['auto', 'tmpfs', 'inject'] as const,
      'auto',
    ),
    out: opt.string('--out <dir>', 'where latest.md and latest.json go', 'chaos-results'),
    workDir: opt.string('--work-dir <dir>', 'keep the data here (default: a temp dir, removed afterwards)'),
    verbose: opt.flag('--verbose', "show the programs' own log lines"),
  },
  validate: (v) => {
    const bad = v.lanes.filter((l) => !(ALL_LANES as readonly string[]).includes(l));
    return bad.length ? `--lanes: unknown lane ${bad.join(', ')} (have: ${ALL_LANES.join(', ')})` : undefined;
  },
});

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    process.stderr.write(`chaos: ${sig}: stopping every program and unmounting; no report\n`);
    abortChaos();
    process.exit(130);
  });
}

const report = await runChaos({
  profile: args.profile,
  lanes: args.lanes as LaneId[],
  ...(args.records !== undefined ? { records: args.records } : {}),
  ...(args.faults !== undefined ? { faults: args.faults } : {}),
  ...(args.durationS !== undefined ? { durationMs: args.durationS * 1000 } : {}),
  seed: args.seed,
  enospc: args.enospc,
  ...(args.workDir ? { workDir: args.workDir, keep: true } : {}),
  onProgress: (line) => process.stderr.write(`${line}\n`),
  ...(args.verbose ? { onLog: (lane: string, line: string) => process.stderr.write(`  [${lane}] ${line}\n`) } : {}),
});
const out = await writeReport(report, resolve(process.env.INIT_CWD ?? REPO_ROOT, args.out));
process.stdout.write(`${(await import('node:fs')).readFileSync(out.md, 'utf8')}\n`);
process.stderr.write(`report: ${out.md} and ${out.json}\n`);
process.exit(report.passed ? 0 : 1);
