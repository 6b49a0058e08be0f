// `npm run starter -- day09 --out <dir> [--from <your lessons folder>]`: a learner's sealed starting copy
// of a day (issue 16, goal 2): lessons/day09 with every solution region replaced by its TODO and stub
// (checks/harness/solutions.ts), the earlier days (the reference's, or with --from your own), no later
// day, no checks or fixtures, a real copy of shared/, package.json, tsconfig.json and node_modules
// (hardlinked): nothing leads back into the repository. The capstone lessons (stack, scale) have none.
//
// `npm run starter -- day09 --reveal --lessons <your lessons folder>`: once your day 09 passes every one of
// its checks, writes the reference solution beside it (<your lessons folder>/../solutions/day09/).
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { HarnessError } from '../checks/harness/errors.ts';
import { dayNumber, lessonFiles, writeSealedCopy, type SealedCopy } from '../checks/harness/lesson-copy.ts';
import { newSeed } from '../checks/harness/rng.ts';
import { REPO_ROOT, knownLessons, loadManifest, runChecks, userPath } from '../checks/harness/runner.ts';
import { stubSolutions, type SolutionRegion } from '../checks/harness/solutions.ts';
import { harnessFailure, runTool } from '../checks/run.ts';
import { opt, parseCliArgs } from '../shared/cli.ts';

export interface StarterResult extends SealedCopy {
  lessonDir: string;
  regions: Array<SolutionRegion & { file: string }>;
}

function checkDay(lesson: string): void {
  if (!knownLessons().includes(lesson))
    throw new HarnessError('LS_ERR_UNKNOWN_LESSON', `unknown lesson "${lesson}" (known: ${knownLessons().join(', ')})`);
  if (dayNumber(lesson) === undefined)
    throw new HarnessError(
      'LS_ERR_UNKNOWN_LESSON',
      `${lesson} is a capstone lesson: it has no starter (it builds on every day; start from the days' lessons)`,
    );
}

export async function writeStarter(opts: {
  lesson: string;
  out: string;
  repoRoot?: string;
  from?: string;
}): Promise<StarterResult> {
  checkDay(opts.lesson);
  const repoRoot = opts.repoRoot ?? REPO_ROOT;
  const regions: StarterResult['regions'] = [];
  const copy = await writeSealedCopy({
    repoRoot,
    lesson: opts.lesson,
    destRoot: path.resolve(opts.out),
    ...(opts.from ? { fromLessonsRoot: path.resolve(opts.from) } : {}),
    transform: (rel, text) => {
      if (!rel.endsWith('.ts')) return text;
      const r = stubSolutions(text, rel);
      regions.push(...r.regions.map((x) => ({ ...x, file: rel })));
      return r.text;
    },
  });
  return { ...copy, lessonDir: path.join(copy.lessonsRoot, opts.lesson), regions };
}

/**
 * The reference solution of a day, revealed only once the learner's copy of the day passes every check
 * (given ones included): writes `<dirname(lessonsRoot)>/solutions/<lesson>/`. Otherwise writes nothing
 * and returns the checks that do not pass yet.
 */
export async function revealSolution(opts: {
  lesson: string;
  lessonsRoot: string;
  repoRoot?: string;
  seed?: number;
}): Promise<{ dir: string; files: string[]; notPassed: string[] }> {
  checkDay(opts.lesson);
  const repoRoot = opts.repoRoot ?? REPO_ROOT;
  const manifest = await loadManifest(opts.lesson);
  const results = await runChecks({
    lessonsRoot: opts.lessonsRoot,
    lesson: opts.lesson,
    seed: opts.seed ?? newSeed(),
    stopOnFirstFailure: true,
    repoRoot,
    manifest,
  });
  const notPassed = results.filter((r) => r.status !== 'passed').map((r) => r.id);
  const dir = path.join(path.dirname(path.resolve(opts.lessonsRoot)), 'solutions', opts.lesson);
  if (notPassed.length) return { dir, files: [], notPassed };
  const src = path.join(repoRoot, 'lessons', opts.lesson);
  const files = (await lessonFiles(src)).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  for (const f of files) {
    await mkdir(path.dirname(path.join(dir, f)), { recursive: true });
    await writeFile(path.join(dir, f), await readFile(path.join(src, f)));
  }
  return { dir, files, notPassed };
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseCliArgs(
    {
      name: 'npm run starter --',
      summary:
        'Write a sealed starter copy of a day: its solution regions replaced by TODO stubs, the earlier days beside it.',
      positional: [{ name: 'lesson', description: 'a day, e.g. day08', required: true }],
      options: {
        out: opt.string(
          '--out <dir>',
          'a new folder to write the copy into (<dir>/lessons/<lesson>/, shared/, node_modules/, …)',
        ),
        from: opt.string(
          '--from <lessons dir>',
          'take the earlier days from your own lessons folder (the reference where you have none)',
        ),
        reveal: opt.flag(
          '--reveal',
          'write the reference solution beside your copy; only once your day passes all its checks',
        ),
        lessons: opt.string('--lessons <dir>', 'with --reveal: your lessons folder'),
      },
    },
    argv,
  );
  if (typeof parsed === 'number') return parsed;
  const o = parsed.values;
  const lesson = parsed.args[0]!;
  try {
    if (o.reveal) {
      if (!o.lessons) throw new HarnessError('LS_ERR_BAD_FLAG', '--reveal needs --lessons <your lessons folder>');
      const lessonsRoot = userPath(o.lessons);
      const r = await revealSolution({ lesson, lessonsRoot });
      if (r.notPassed.length) {
        console.log(
          `not yet: the solution of ${lesson} is revealed once your ${lesson} passes every check; these do not: ${r.notPassed.join(', ')}\n  npm run check -- ${lesson} --lessons ${lessonsRoot}`,
        );
        return 1;
      }
      console.log(`${lesson} passes every check: the reference solution is in ${r.dir} (${r.files.join(', ')})`);
      return 0;
    }
    if (!o.out) throw new HarnessError('LS_ERR_BAD_FLAG', 'missing --out <dir> (a new folder for the starter)');
    const from = o.from ? userPath(o.from) : undefined;
    if (from && !existsSync(from))
      throw new HarnessError('LS_ERR_LESSON_MISSING', `no lessons folder ${from} (--from)`);
    const r = await writeStarter({ lesson, out: userPath(o.out), ...(from ? { from } : {}) });
    console.log(`wrote ${r.lessonDir}`);
    for (const e of r.earlier)
      console.log(`  ${e.lesson}: ${e.from === 'yours' ? `yours (${e.dir})` : 'the reference'}`);
    console.log(`  shared/ copied, node_modules ${r.nodeModules}`);
    for (const g of r.regions)
      console.log(`  TODO [${g.ids.join(', ')}] ${g.title}  (lessons/${lesson}/${g.file}:${g.todoLine})`);
    console.log(
      `\n${r.regions.length} TODOs. Check your work with (from the repository):\n  npm run check -- ${lesson} --lessons ${r.lessonsRoot}`,
    );
    return 0;
  } catch (err) {
    if (err instanceof HarnessError) return harnessFailure(err);
    throw err;
  }
}

runTool(import.meta.url, main);
