// `npm run starter -- day08 --out <dir>`: a learner's starting copy of a lesson, with every solution
// region replaced by its stub (checks/harness/solutions.ts), runnable and checkable as it is.
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { HarnessError } from '../checks/harness/errors.ts';
import { copyLesson } from '../checks/harness/lesson-copy.ts';
import { REPO_ROOT, userPath } from '../checks/harness/runner.ts';
import { stubSolutions, type SolutionRegion } from '../checks/harness/solutions.ts';

export interface StarterResult {
  lessonsRoot: string;
  lessonDir: string;
  regions: Array<SolutionRegion & { file: string }>;
}

export async function writeStarter(opts: { lesson: string; out: string; repoRoot?: string; sourceLessonsRoot?: string }): Promise<StarterResult> {
  const repoRoot = opts.repoRoot ?? REPO_ROOT;
  const destRoot = path.resolve(opts.out);
  const regions: StarterResult['regions'] = [];
  const lessonsRoot = await copyLesson({
    repoRoot,
    lesson: opts.lesson,
    ...(opts.sourceLessonsRoot ? { sourceLessonsRoot: opts.sourceLessonsRoot } : {}),
    destRoot,
    transform: (rel, text) => {
      if (!rel.endsWith('.ts')) return text;
      const r = stubSolutions(text, rel);
      regions.push(...r.regions.map((x) => ({ ...x, file: rel })));
      return r.text;
    },
  });
  return { lessonsRoot, lessonDir: path.join(lessonsRoot, opts.lesson), regions };
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name('npm run starter --')
    .description('Write a starter copy of a lesson: solution regions replaced by TODO stubs.')
    .argument('<lesson>', 'lesson id, e.g. day08')
    .requiredOption('--out <dir>', 'folder to write <dir>/lessons/<lesson>/ into')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.code === 'commander.helpDisplayed' || err.code === 'commander.help' ? 0 : 2;
    throw err;
  }
  const lesson = program.args[0] as string;
  const { out } = program.opts<{ out: string }>();
  try {
    const r = await writeStarter({ lesson, out: userPath(out) });
    console.log(`wrote ${r.lessonDir}`);
    for (const g of r.regions) console.log(`  TODO [${g.ids.join(', ')}] ${g.title}  (${g.file}:${g.line})`);
    console.log(`\n${r.regions.length} TODOs. Check your work with:\n  npm run check -- ${lesson} --lessons ${r.lessonsRoot}`);
    return 0;
  } catch (err) {
    if (err instanceof HarnessError) {
      console.error(`error: ${err.message} [${err.code}]`);
      return 2;
    }
    throw err;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(REPO_ROOT, 'scripts', 'starter.ts')) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(2);
    },
  );
}
