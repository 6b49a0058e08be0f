// `npm run check -- day08`: runs a day's checks against the lessons, stops at the first failure and
// explains it. Exit 0 all passed, 1 a check failed, 2 the harness could not run.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFile } from 'node:fs/promises';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
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

function parseSeed(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) > 0xffffffff)
    throw new InvalidArgumentError('--seed must be an integer 0..4294967295');
  return Number(v);
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name('npm run check --')
    .description('Run the graded checks of one lesson; stops at the first failure.')
    .argument('<lesson>', `lesson id (${knownLessons().join(', ')})`)
    .option('--lessons <dir>', 'lessons root to check', path.join(REPO_ROOT, 'lessons'))
    .option('--seed <n>', 'seed for the random traffic (printed on every run)', parseSeed)
    .option('--only <ids>', 'run only these check ids, comma-separated, e.g. --only d08.3,d08.5')
    .option('--keep', 'keep the temporary data dirs of the checks', false)
    .option('--json <file>', 'also write the results as JSON')
    .option('--all', 'do not stop at the first failure', false)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError)
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version'
        ? 0
        : 2;
    throw err;
  }
  const lesson = program.args[0] as string;
  const opts = program.opts<{
    lessons: string;
    seed?: number;
    only?: string;
    keep: boolean;
    json?: string;
    all: boolean;
  }>();
  const seed = opts.seed ?? newSeed();
  const lessonsRoot = userPath(opts.lessons);
  console.log(bold(`checks for ${lesson}`) + dim(`  lessons: ${lessonsRoot}  seed: ${seed}  (replay: --seed ${seed})`));
  try {
    const results = await runChecks({
      lessonsRoot,
      lesson,
      seed,
      stopOnFirstFailure: !opts.all,
      ...(opts.only
        ? {
            only: opts.only
              .split(',')
              .map((x) => x.trim())
              .filter(Boolean),
          }
        : {}),
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
    if (opts.json)
      await writeFile(userPath(opts.json), JSON.stringify({ lesson, lessonsRoot, seed, ...sum, results }, null, 2));
    return sum.failed === 0 ? 0 : 1;
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
  // A stray rejection inside a check must not end the whole run (nor pass for a failed check).
  process.on('unhandledRejection', (err) =>
    console.error(dim(`(harness: a check left an unhandled rejection: ${String(err)})`)),
  );
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(2);
    },
  );
}
