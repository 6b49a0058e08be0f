/**
 * `npm run chaos`: every lane (issue 10; issue 18 item 6) under a seeded schedule of faults while records
 * flow — the acknowledged lanes (day 09, 11, 12, 13, day 14's loadgen, the JetStream scale-out lane) with a
 * budget of 0 lost and 0 duplicated, the lanes without ACKs (day 08, syslog over TCP, TLS and UDP, day 10)
 * with their loss measured and attributed to a cause — then every record checked from the persisted files.
 * Writes chaos-results/latest.md and latest.json (and <profile>.md/.json); a progress line on stderr.
 * Exit 0 when every acked lane lost and duplicated nothing and every loss elsewhere has a cause; 1
 * otherwise; 2 on a usage error.
 *
 *   npm run chaos                                 the short profile (~2–3 min, every lane, every fault kind)
 *   npm run chaos -- --profile long               ≥ 30M records, ≥ 100 faults, ≤ 25 min on 2 cores
 *   npm run chaos -- --lanes day09,day12 --records 100000 --faults 20 --seed 7
 *   npm run chaos -- --refresh-course chaos-results/long.json    COURSE.md's table from a report, no run
 */
import { resolve } from 'node:path';
import { opt, parseCli } from '../shared/cli.ts';
import { REPO_ROOT } from './lib/launch.ts';
import { ALL_LANES, type LaneId } from './chaos/lanes.ts';
import { readFileSync } from 'node:fs';
import { refreshCourse, writeReport } from './chaos/report.ts';
import { abortChaos, runChaos } from './chaos/run.ts';
import { PROFILES, type ChaosReport } from './chaos/types.ts';

const args = parseCli({
  name: 'npm run chaos --',
  summary:
    'Hardening: every lane under kill -9, cuts, stalls, SIGSTOP, slow and full disk, a second receiver on a data dir, NATS node and archiver kills; then lost/duplicated from the files (loss by cause where there are no ACKs).',
  options: {
    profile: opt.choice(
      '--profile <name>',
      `short (~2–3 min, ${PROFILES.short.records} records per lane) | long (~22 min, ${PROFILES.long.records} per lane, ${PROFILES.long.faults} faults)`,
      ['short', 'long'] as const,
      'short',
    ),
    lanes: opt.list('--lanes <ids>', `lanes to run, comma-separated (${ALL_LANES.join(', ')})`, [...ALL_LANES]),
    records: opt.int('--records <n>', "records per lane (default: the profile's)", undefined, { min: 1000 }),
    faults: opt.int('--faults <n>', "faults in all over the lanes (default: the profile's)", undefined, {
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
    refreshCourse: opt.string(
      '--refresh-course <report.json>',
      "no run: rewrite COURSE.md's chaos table from this report (e.g. chaos-results/long.json)",
    ),
  },
  validate: (v) => {
    const bad = v.lanes.filter((l) => !(ALL_LANES as readonly string[]).includes(l));
    return bad.length ? `--lanes: unknown lane ${bad.join(', ')} (have: ${ALL_LANES.join(', ')})` : undefined;
  },
});

if (args.refreshCourse) {
  const rep = JSON.parse(
    readFileSync(resolve(process.env.INIT_CWD ?? REPO_ROOT, args.refreshCourse), 'utf8'),
  ) as ChaosReport;
  await refreshCourse(resolve(REPO_ROOT, 'COURSE.md'), rep);
  process.stderr.write(`COURSE.md: chaos table refreshed from ${args.refreshCourse}\n`);
  process.exit(0);
}

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
process.stdout.write(`${readFileSync(out.md, 'utf8')}\n`);
process.stderr.write(`report: ${out.md} and ${out.json}\n`);
process.exit(report.passed ? 0 : 1);
