// `npm run grade -- --lessons <dir>`: grades a learner's copy, honestly (issue 16, Deliver 2). Per day a
// status and the points EARNED:
//   absent          no folder for the day: a 0 row
//   does not start  a .ts file of the day does not compile (esbuild), or its program exits before its
//                   ready line with a syntax error: the first error, `file:line:col message`, whole
//   untouched       the day's TODO regions exactly as `npm run starter` wrote them: 0, checks not run
//                   (--run-untouched runs them anyway)
//   partial         some check that is not given fails
//   complete        every check that is not given passes
// A given check (Check.given) is shown as "given" and is worth 0. Every submission runs against the
// REFERENCE shared/ and node_modules/: its lessons are staged into a temp root beside them; a shared/ in
// the submission that differs is reported, never used. The reference commit is recorded with the seed.
// Exit 0 every day complete, 1 otherwise, 2 the harness could not run.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { newSeed } from '../checks/harness/rng.ts';
import { dim, green, red } from '../checks/harness/report.ts';
import { REPO_ROOT, knownLessons, userPath } from '../checks/harness/runner.ts';
import { harnessFailure, runTool, seedOption } from '../checks/run.ts';
import { opt, parseCliArgs } from '../shared/cli.ts';
import { OUT_NAME, defaultJobs, formatClassTable, gradeClass, lastSeed, writeClassOutputs } from './grade/class.ts';
import { formatNotes, formatTable, grade, referenceCommit } from './grade/copy.ts';

/** The default time budget of one learner-day (seconds of its checks running). */
export const DEFAULT_BUDGET_S = 300;

export async function main(argv: string[]): Promise<number> {
  const parsed = parseCliArgs(
    {
      name: 'npm run grade --',
      summary:
        "Grade a learner's copy (--lessons) or a whole class (--class): per day a status (absent, does not start, untouched, partial, complete) and the points earned.",
      epilog: [
        '--class <dir>: every folder of <dir> that holds lessons/ (a clone of a learner repository, a starter) or',
        'dayNN/ folders is a learner; names starting with _ or . are not. Each learner-day runs in a bubblewrap',
        'sandbox (its own loopback, /tmp and pids; it sees only its copy and the reference shared/, checks/ and',
        'node_modules, read-only), --jobs at a time; a check marked exclusive runs alone on the machine. Writes',
        '<out>/class.csv, <out>/class.json and <out>/feedback/<learner>.md. A learner-day whose copy, reference',
        'and seed are unchanged is taken from <out>/cache; without --seed the seed of the last grade in <out> is',
        'used again, so a re-run after a deadline grades only what changed.',
        '',
        'Exit: --lessons 0 every day complete, 1 otherwise; --class 0 graded (whatever the learners earned);',
        '2 the grader could not run (bad flag, no folder, the sandbox cannot start without --no-sandbox).',
      ].join('\n'),
      options: {
        lessons: opt.string('--lessons <dir>', 'one lessons root to grade (holds day08/, day09/, …)'),
        class: opt.string('--class <dir>', 'a folder of learner folders to grade, each in its own sandbox'),
        out: opt.string('--out <dir>', '--class: where the table, feedback and cache go (default <class>/_grades)'),
        jobs: opt.int('--jobs <n>', '--class: learner-days graded at once (default: one per core)', undefined, {
          min: 1,
          max: 99,
        }),
        budget: opt.int(
          '--budget <s>',
          `--class: seconds of checks one learner-day may take (default ${DEFAULT_BUDGET_S})`,
          undefined,
          { min: 1, max: 99_999 },
        ),
        noSandbox: opt.flag(
          '--no-sandbox',
          '--class: run learner code WITHOUT the sandbox, with your rights (when bwrap cannot start)',
        ),
        fresh: opt.flag('--fresh', '--class: grade every learner-day again (ignore the cache)'),
        retryFailed: opt.flag(
          '--retry-failed',
          '--class: run the failed checks of a learner-day once more, alone on the machine, and keep that result',
        ),
        json: opt.string('--json <file>', '--lessons: write the results as JSON'),
        days: opt.list(
          '--days <list>',
          'only these days, comma-separated (e.g. day08,day09); a missing one is an absent row',
        ),
        only: opt.list(
          '--only <ids>',
          'only these check ids (e.g. d08.1,d08.3); days with none listed run every check',
        ),
        seed: seedOption('seed for the random traffic'),
        concurrency: opt.int('--concurrency <n>', 'checks run at once within a day', 1, { min: 1, max: 99 }),
        runUntouched: opt.flag('--run-untouched', 'run the checks of an untouched day too'),
        quiet: opt.flag('--quiet', 'print only the table'),
      },
    },
    argv,
  );
  if (typeof parsed === 'number') return parsed;
  const o = { ...parsed.values, sandbox: !parsed.values.noSandbox };
  if (!o.lessons === !o.class) {
    console.error('error: give either --lessons <dir> (one copy) or --class <dir> (a class) [LS_ERR_BAD_FLAG]');
    return 2;
  }
  const classOnly = (['out', 'jobs', 'budget'] as const).filter((k) => o[k] !== undefined);
  if (o.lessons && (classOnly.length || !o.sandbox || o.fresh || o.retryFailed)) {
    const flags = [
      ...classOnly,
      ...(!o.sandbox ? ['no-sandbox'] : []),
      ...(o.fresh ? ['fresh'] : []),
      ...(o.retryFailed ? ['retry-failed'] : []),
    ];
    console.error(
      `error: --${flags.join(', --')} ${flags.length > 1 ? 'go' : 'goes'} with --class, not --lessons [LS_ERR_BAD_FLAG]`,
    );
    return 2;
  }
  if (o.class && o.json) {
    console.error('error: --json goes with --lessons; --class writes <out>/class.json [LS_ERR_BAD_FLAG]');
    return 2;
  }
  try {
    if (o.class) return await mainClass(o as typeof o & { class: string });
    const seed = o.seed ?? newSeed();
    const lessonsRoot = userPath(o.lessons!);
    const commit = referenceCommit(REPO_ROOT);
    console.log(dim(`grading ${lessonsRoot}  seed: ${seed}  reference: ${commit}`));
    console.log(
      dim('not sandboxed: --lessons runs the copy with your rights (for your own copy); --class sandboxes each copy'),
    );
    const { days, only } = o;
    const report = await grade({
      lessonsRoot,
      seed,
      ...(days ? { days } : {}),
      ...(only ? { only } : {}),
      concurrency: o.concurrency,
      runUntouched: o.runUntouched,
      verbose: !o.quiet,
    });
    console.log(`\n${formatTable(report)}`);
    for (const n of formatNotes(report)) console.log(n);
    const complete = report.days.every((d) => d.status === 'complete');
    const open = report.days.filter((d) => d.status !== 'complete').map((d) => `${d.lesson} ${d.status}`);
    console.log(complete ? green('every day complete') : red(`not complete: ${open.join(', ')}`));
    if (o.json) await writeFile(userPath(o.json), `${JSON.stringify(report, null, 2)}\n`);
    return complete ? 0 : 1;
  } catch (err) {
    return harnessFailure(err);
  }
}

async function mainClass(o: {
  class: string;
  out?: string;
  jobs?: number;
  budget?: number;
  sandbox: boolean;
  fresh: boolean;
  retryFailed: boolean;
  days?: string[];
  only?: string[];
  seed?: number;
  concurrency: number;
  runUntouched: boolean;
  quiet: boolean;
}): Promise<number> {
  const classDir = userPath(o.class);
  const outDir = o.out ? userPath(o.out) : path.join(classDir, OUT_NAME);
  const previous = o.seed === undefined ? await lastSeed(outDir) : undefined;
  const seed = o.seed ?? previous ?? newSeed();
  const jobs = o.jobs ?? defaultJobs();
  const days = o.days ?? knownLessons().filter((l) => /^day\d+$/.test(l));
  const { only } = o;
  console.log(
    dim(
      `grading the class ${classDir}  seed: ${seed}${previous !== undefined ? ' (the last grade’s: the cache applies)' : ''}  reference: ${referenceCommit(REPO_ROOT)}  jobs: ${jobs}  budget: ${o.budget ?? DEFAULT_BUDGET_S} s per learner-day`,
    ),
  );
  const report = await gradeClass({
    classDir,
    outDir,
    seed,
    days,
    ...(only ? { only } : {}),
    jobs,
    budgetS: o.budget ?? DEFAULT_BUDGET_S,
    concurrency: o.concurrency,
    runUntouched: o.runUntouched,
    sandbox: o.sandbox,
    fresh: o.fresh,
    retryFailed: o.retryFailed,
    progress: !o.quiet,
  });
  const out = await writeClassOutputs(report);
  if (!report.sandbox.used) console.log(red(`not sandboxed: ${report.sandbox.reason ?? '--no-sandbox'}`));
  console.log(`\n${formatClassTable(report)}`);
  for (const s of report.skipped) console.log(dim(`skipped ${s.dir}: ${s.reason}`));
  for (const l of report.learners) {
    for (const d of l.days) if (d.error) console.log(`${l.name} ${d.lesson} does not start: ${d.error}`);
    for (const n of l.notes ?? []) console.log(`${l.name}: ${n}`);
  }
  const cached = report.learners.flatMap((l) => l.days).filter((d) => d.cached).length;
  console.log(
    dim(
      `${report.learners.length} learners × ${days.length} days in ${(report.wallMs / 1000).toFixed(1)} s (${cached} learner-days from the cache)`,
    ),
  );
  console.log(`table: ${out.csv}\n       ${out.json}\nfeedback: ${path.join(outDir, 'feedback')}/<learner>.md`);
  return 0;
}

runTool(import.meta.url, main);
