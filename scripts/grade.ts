// `npm run grade -- --lessons <dir>`: grades a learner's copy. Runs every check of every day present
// (never stopping at a failure) and prints points per day. Exit 0 all passed, 1 some failed, 2 the
// harness could not run.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { HarnessError } from '../checks/harness/errors.ts';
import { bold, checkLine, dim, failureBlock, green, red } from '../checks/harness/report.ts';
import { newSeed } from '../checks/harness/rng.ts';
import { knownLessons, lessonDirOf, runChecks, summarize, userPath } from '../checks/harness/runner.ts';
import type { CheckResult } from '../checks/harness/types.ts';

export interface DayGrade {
  lesson: string;
  passed: number;
  failed: number;
  total: number;
  points: number;
  maxPoints: number;
  results: CheckResult[];
}

export interface GradeReport {
  lessonsRoot: string;
  seed: number;
  days: DayGrade[];
  /** Days in the registry with no folder in the lessons root (not graded). */
  absent: string[];
  total: { passed: number; total: number; points: number; maxPoints: number };
}

export async function grade(opts: { lessonsRoot: string; seed: number; days?: string[]; verbose?: boolean }): Promise<GradeReport> {
  const known = knownLessons();
  const unknown = (opts.days ?? []).filter((d) => !known.includes(d));
  if (unknown.length) throw new HarnessError('LS_ERR_UNKNOWN_LESSON', `unknown lesson ${unknown.join(', ')} (known: ${known.join(', ')})`);
  if (!existsSync(opts.lessonsRoot)) throw new HarnessError('LS_ERR_LESSON_MISSING', `no lessons folder ${opts.lessonsRoot}`);
  const wanted = opts.days ?? known;
  const present = wanted.filter((d) => existsSync(lessonDirOf(opts.lessonsRoot, d)));
  const absent = wanted.filter((d) => !present.includes(d));
  if (opts.days && absent.length) throw new HarnessError('LS_ERR_LESSON_MISSING', `no lesson folder for ${absent.map((d) => lessonDirOf(opts.lessonsRoot, d)).join(', ')}`);
  if (present.length === 0) throw new HarnessError('LS_ERR_LESSON_MISSING', `no lesson folders (${known.join(', ')}) under ${opts.lessonsRoot}`);
  const days: DayGrade[] = [];
  for (const lesson of present) {
    if (opts.verbose) console.log(bold(lesson));
    const results = await runChecks({
      lessonsRoot: opts.lessonsRoot,
      lesson,
      seed: opts.seed,
      stopOnFirstFailure: false,
      onCheckEnd: opts.verbose
        ? (r) => {
            console.log(checkLine(r));
            if (r.status === 'failed') console.log(failureBlock(r));
          }
        : undefined,
    });
    const s = summarize(results);
    days.push({ lesson, passed: s.passed, failed: s.failed, total: s.total, points: s.points, maxPoints: s.maxPoints, results });
  }
  const total = days.reduce((t, d) => ({ passed: t.passed + d.passed, total: t.total + d.total, points: t.points + d.points, maxPoints: t.maxPoints + d.maxPoints }), { passed: 0, total: 0, points: 0, maxPoints: 0 });
  return { lessonsRoot: opts.lessonsRoot, seed: opts.seed, days, absent, total };
}

export function formatTable(report: GradeReport): string {
  const rows = [['day', 'checks', 'points'], ...report.days.map((d) => [d.lesson, `${d.passed}/${d.total}`, `${d.points}/${d.maxPoints}`]), ['total', `${report.total.passed}/${report.total.total}`, `${report.total.points}/${report.total.maxPoints}`]];
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => (r[i] as string).length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  const sep = widths.map((w) => '-'.repeat(w)).join('  ');
  return [fmt(rows[0] as string[]), sep, ...rows.slice(1, -1).map(fmt), sep, fmt(rows[rows.length - 1] as string[])].join('\n');
}

function parseSeed(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) > 0xffffffff) throw new InvalidArgumentError('--seed must be an integer 0..4294967295');
  return Number(v);
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name('npm run grade --')
    .description("Grade a learner's copy: every check of every day present, points per day.")
    .requiredOption('--lessons <dir>', 'lessons root to grade (holds day08/, day09/, …)')
    .option('--json <file>', 'write the results as JSON')
    .option('--days <list>', 'only these days, comma-separated (e.g. day08,day09)')
    .option('--seed <n>', 'seed for the random traffic', parseSeed)
    .option('--quiet', 'print only the table', false)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.code === 'commander.helpDisplayed' || err.code === 'commander.help' ? 0 : 2;
    throw err;
  }
  const o = program.opts<{ lessons: string; json?: string; days?: string; seed?: number; quiet: boolean }>();
  const seed = o.seed ?? newSeed();
  const lessonsRoot = userPath(o.lessons);
  console.log(dim(`grading ${lessonsRoot}  seed: ${seed}`));
  try {
    const days = o.days?.split(',').map((d) => d.trim()).filter(Boolean);
    const report = await grade({ lessonsRoot, seed, ...(days ? { days } : {}), verbose: !o.quiet });
    console.log(`\n${formatTable(report)}`);
    if (report.absent.length) console.log(dim(`not present (not graded): ${report.absent.join(', ')}`));
    const allPassed = report.total.passed === report.total.total;
    console.log(allPassed ? green('all checks passed') : red(`${report.total.total - report.total.passed} checks failed`));
    if (o.json) await writeFile(userPath(o.json), JSON.stringify(report, null, 2));
    return allPassed ? 0 : 1;
  } catch (err) {
    if (err instanceof HarnessError) {
      console.error(`error: ${err.message} [${err.code}]`);
      return 2;
    }
    console.error(err);
    return 2;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.on('unhandledRejection', (err) => console.error(dim(`(harness: a check left an unhandled rejection: ${String(err)})`)));
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(2);
    },
  );
}
