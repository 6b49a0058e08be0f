// `npm run check -- day08`: runs a day's checks against the lessons, stops at the first failure and
// explains it. Exit 0 all passed, 1 a check failed, 2 the harness could not run.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFile } from 'node:fs/promises';
import { opt, parseCliArgs } from '../shared/cli.ts';
import { HarnessError } from './harness/errors.ts';
import { bold, checkLine, dim, failureBlock, green, red } from './harness/report.ts';
import { newSeed } from './harness/rng.ts';
import { REPO_ROOT, knownLessons, runChecks, summarize, userPath } from './harness/runner.ts';

const shellQuote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The command that replays one check: the same lessons folder (the learner's copy) and the same seed (goal 4). */
export function rerunCommand(o: { lesson: string; lessonsRoot: string; seed: number; id: string }): string {
  const lessons =
    path.resolve(o.lessonsRoot) === path.join(REPO_ROOT, 'lessons') ? '' : ` --lessons ${shellQuote(o.lessonsRoot)}`;
  return `npm run check -- ${o.lesson}${lessons} --seed ${o.seed} --only ${o.id}`;
}

// What the tools built on the checks (check, grade, progress, starter) share: their --seed, how the harness's
// own failure ends them (exit 2), and how they run as a program (issue 22.5: one CLI layer, parseCli).

/** `--seed <n>`: the seed of the random traffic, printed on every run so that a run can be replayed. */
export const seedOption = (description = 'seed for the random traffic (printed on every run)') =>
  opt.int('--seed <n>', description, undefined, { max: 0xffffffff });

/** The harness could not run (exit 2): a HarnessError as one line with its code, anything else in full. */
export function harnessFailure(err: unknown): number {
  if (err instanceof HarnessError) console.error(`error: ${err.message} [${err.code}]`);
  else console.error(err);
  return 2;
}

/** Runs `main` when `moduleUrl` is the program node started; a stray rejection inside a check ends nothing. */
export function runTool(moduleUrl: string, main: (argv: string[]) => Promise<number>): void {
  if (!process.argv[1] || path.resolve(process.argv[1]) !== fileURLToPath(moduleUrl)) return;
  // A stray rejection inside a check must not end the whole run (nor pass for a failed check).
  process.on('unhandledRejection', (err) =>
    console.error(dim(`(harness: a check left an unhandled rejection: ${String(err)})`)),
  );
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => process.exit(harnessFailure(err)),
  );
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseCliArgs(
    {
      name: 'npm run check --',
      summary: 'Run the graded checks of one lesson; stops at the first failure.',
      positional: [{ name: 'lesson', description: `lesson id (${knownLessons().join(', ')})`, required: true }],
      options: {
        lessons: opt.string('--lessons <dir>', 'lessons root to check', path.join(REPO_ROOT, 'lessons')),
        seed: seedOption(),
        only: opt.list('--only <ids>', 'run only these check ids, comma-separated, e.g. --only d08.3,d08.5'),
        keep: opt.flag('--keep', 'keep the temporary data dirs of the checks'),
        json: opt.string('--json <file>', 'also write the results as JSON'),
        all: opt.flag('--all', 'do not stop at the first failure'),
      },
    },
    argv,
  );
  if (typeof parsed === 'number') return parsed;
  const opts = parsed.values;
  const lesson = parsed.args[0]!;
  const seed = opts.seed ?? newSeed();
  const lessonsRoot = userPath(opts.lessons);
  console.log(bold(`checks for ${lesson}`) + dim(`  lessons: ${lessonsRoot}  seed: ${seed}  (replay: --seed ${seed})`));
  try {
    const results = await runChecks({
      lessonsRoot,
      lesson,
      seed,
      stopOnFirstFailure: !opts.all,
      ...(opts.only ? { only: opts.only } : {}),
      keep: opts.keep,
      onCheckEnd: (r) => {
        console.log(checkLine(r));
        if (r.status === 'failed') console.log(failureBlock(r));
        else if (r.kept?.length) console.log(dim(`    kept: ${r.kept.join(', ')}`));
      },
    });
    const sum = summarize(results);
    for (const r of results.filter((x) => x.status === 'not-run')) console.log(checkLine(r));
    const given = sum.given ? ` (+${sum.givenPassed}/${sum.given} given)` : '';
    const line = `${sum.passed - sum.givenPassed}/${sum.total - sum.given} checks passed${given}, ${sum.earned}/${sum.maxPoints} points`;
    console.log(sum.failed === 0 && sum.notRun === 0 ? green(line) : red(line));
    const firstFailed = results.find((r) => r.status === 'failed');
    if (firstFailed)
      console.log(
        dim(`seed ${seed}: rerun this check with  ${rerunCommand({ lesson, lessonsRoot, seed, id: firstFailed.id })}`),
      );
    // A learner who solved a later TODO first sees it graded too, not only "not run" (found using a starter:
    // day 08's validation TODO solved before the line limit's).
    if (sum.notRun > 0 && firstFailed)
      console.log(dim(`${sum.notRun} checks not run after the first failure: add --all to run every check anyway`));
    if (opts.json)
      await writeFile(userPath(opts.json), JSON.stringify({ lesson, lessonsRoot, seed, ...sum, results }, null, 2));
    return sum.failed === 0 ? 0 : 1;
  } catch (err) {
    return harnessFailure(err);
  }
}

runTool(import.meta.url, main);
