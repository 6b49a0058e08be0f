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
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { transform } from 'esbuild';
import { HarnessError } from '../checks/harness/errors.ts';
import { lessonFiles, stageLessons } from '../checks/harness/lesson-copy.ts';
import { bold, checkLine, dim, failureBlock, green, red } from '../checks/harness/report.ts';
import { newSeed } from '../checks/harness/rng.ts';
import {
  REPO_ROOT,
  knownLessons,
  lessonDirOf,
  loadManifest,
  runChecks,
  summarize,
  userPath,
} from '../checks/harness/runner.ts';
import { stubSolutions } from '../checks/harness/solutions.ts';
import { rerunCommand } from '../checks/run.ts';
import type { CheckResult } from '../checks/harness/types.ts';

export type DayStatus = 'absent' | 'does not start' | 'untouched' | 'partial' | 'complete';

export interface DayGrade {
  lesson: string;
  status: DayStatus;
  /** does not start: the first error, `file:line:col message`. */
  error?: string;
  /** Points earned (passed checks that are not given) of maxPoints (the points of the checks that are not given). */
  earned: number;
  maxPoints: number;
  /** Checks that are not given: passed of total. */
  passed: number;
  total: number;
  /** Given checks: passed of total (0 points, shown only). */
  givenPassed: number;
  given: number;
  /** Every .ts file of the day is the reference's, unchanged (a starter carries the earlier days so). */
  reference?: boolean;
  /** The checks were limited to these ids (--only). */
  only?: string[];
  results: CheckResult[];
}

export interface SharedDiff {
  /** The submission's shared/ that was compared (beside its lessons folder). */
  dir: string;
  /** Files that differ from the reference's, are missing, or are extra (paths relative to shared/). */
  changed: string[];
  missing: string[];
  extra: string[];
}

export interface GradeReport {
  lessonsRoot: string;
  seed: number;
  /** The reference the submission ran against: the commit (`+dirty` when the tree has changes) and its shared/. */
  reference: { commit: string; shared: string };
  /** The submission's shared/ when it differs from the reference (reported; never used). */
  sharedDiff?: SharedDiff;
  days: DayGrade[];
  total: { earned: number; maxPoints: number; passed: number; total: number };
}

export interface GradeOptions {
  lessonsRoot: string;
  seed: number;
  days?: string[];
  /** Check ids to run (others of their day are skipped; days with no id listed run every check). */
  only?: string[];
  verbose?: boolean;
  /** Checks run at once within a day (default 1). */
  concurrency?: number;
  /** Run the checks of an untouched day too (its status stays "untouched"). */
  runUntouched?: boolean;
  repoRoot?: string;
}

/** `git rev-parse HEAD`, plus "+dirty" when the tree has changes (tracked or untracked). */
export function referenceCommit(repoRoot: string): string {
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: repoRoot,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const dirty =
      execFileSync('git', ['status', '--porcelain'], {
        cwd: repoRoot,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim() !== '';
    return `${head}${dirty ? '+dirty' : ''}`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

/** The first compile error of the day's .ts files (not its tests), `file:line:col message`; undefined when all compile. */
export async function firstCompileError(lessonDir: string): Promise<string | undefined> {
  for (const rel of (await lessonFiles(lessonDir)).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))) {
    const file = path.join(lessonDir, rel);
    try {
      await transform(await readFile(file, 'utf8'), {
        loader: 'ts',
        format: 'esm',
        sourcefile: file,
        logLevel: 'silent',
      });
    } catch (err) {
      const e = (
        err as { errors?: Array<{ text: string; location?: { file: string; line: number; column: number } | null }> }
      ).errors?.[0];
      if (!e) return `${file}: ${(err as Error).message}`;
      // esbuild counts columns from 0; editors (file:line:col links) from 1
      return e.location
        ? `${e.location.file}:${e.location.line}:${e.location.column + 1}: ${e.text}`
        : `${file}: ${e.text}`;
    }
  }
  return undefined;
}

/** The .ts files of a lesson folder (not its tests) and their text. */
function tsTexts(dir: string, files: string[]): Map<string, string | undefined> {
  return new Map(
    files.map((f) => [f, existsSync(path.join(dir, f)) ? readFileSync(path.join(dir, f), 'utf8') : undefined]),
  );
}

/**
 * untouched: every reference file with solution regions is, in the submission, exactly what the starter
 * wrote (stubSolutions of the reference). reference: every .ts file is the reference's.
 */
export async function compareWithReference(
  refDir: string,
  dir: string,
): Promise<{ untouched: boolean; reference: boolean }> {
  const files = (await lessonFiles(refDir)).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  const mine = tsTexts(dir, files);
  let withRegions = 0;
  let untouched = true;
  let reference = true;
  for (const f of files) {
    const ref = readFileSync(path.join(refDir, f), 'utf8');
    const got = mine.get(f);
    if (got !== ref) reference = false;
    const stub = stubSolutions(ref, f);
    if (stub.regions.length === 0) continue;
    withRegions++;
    if (got !== stub.text) untouched = false;
  }
  return { untouched: withRegions > 0 && untouched, reference };
}

/** How the submission's shared/ differs from the reference's (undefined when it has none or the same). */
export async function diffShared(submissionShared: string, referenceShared: string): Promise<SharedDiff | undefined> {
  if (!existsSync(submissionShared)) return undefined;
  const [mine, ref] = await Promise.all([lessonFiles(submissionShared), lessonFiles(referenceShared)]);
  const changed: string[] = [];
  for (const f of ref.filter((x) => mine.includes(x))) {
    const [a, b] = await Promise.all([
      readFile(path.join(submissionShared, f)),
      readFile(path.join(referenceShared, f)),
    ]);
    if (!a.equals(b)) changed.push(f);
  }
  const missing = ref.filter((f) => !mine.includes(f));
  const extra = mine.filter((f) => !ref.includes(f));
  if (!changed.length && !missing.length && !extra.length) return undefined;
  return { dir: submissionShared, changed, missing, extra };
}

/** The line a failure shows when a day does not start because of a syntax error (runtime). */
function syntaxErrorOf(results: CheckResult[]): string | undefined {
  for (const r of results) {
    const m = /^error: (.*(?:SyntaxError|ERROR:|TransformError).*)$/m.exec(r.failure?.received ?? '');
    if (m) return m[1];
  }
  return undefined;
}

/** Staged paths → the submission's (diagnostics point at the learner's files, goal 4). */
function mapPaths<T>(value: T, from: string, to: string, sharedFrom: string, sharedTo: string): T {
  const text = JSON.stringify(value);
  const esc = (s: string) => JSON.stringify(s).slice(1, -1);
  return JSON.parse(text.split(esc(sharedFrom)).join(esc(sharedTo)).split(esc(from)).join(esc(to))) as T;
}

export async function grade(opts: GradeOptions): Promise<GradeReport> {
  const repoRoot = opts.repoRoot ?? REPO_ROOT;
  const known = knownLessons();
  const unknown = (opts.days ?? []).filter((d) => !known.includes(d));
  if (unknown.length)
    throw new HarnessError(
      'LS_ERR_UNKNOWN_LESSON',
      `unknown lesson ${unknown.join(', ')} (known: ${known.join(', ')})`,
    );
  if (!existsSync(opts.lessonsRoot))
    throw new HarnessError('LS_ERR_LESSON_MISSING', `no lessons folder ${opts.lessonsRoot}`);
  const wanted = opts.days ?? known;
  const present = wanted.filter((d) => existsSync(lessonDirOf(opts.lessonsRoot, d)));
  if (present.length === 0 && !opts.days)
    throw new HarnessError(
      'LS_ERR_LESSON_MISSING',
      `no lesson folders (${known.join(', ')}) under ${opts.lessonsRoot}`,
    );
  const manifests = new Map(await Promise.all(wanted.map(async (d) => [d, await loadManifest(d)] as const)));
  const badOnly = (opts.only ?? []).filter(
    (id) => !wanted.some((d) => manifests.get(d)?.checks.some((c) => c.id === id)),
  );
  if (badOnly.length)
    throw new HarnessError('LS_ERR_UNKNOWN_CHECK', `unknown check id ${badOnly.join(', ')} for ${wanted.join(', ')}`);

  const sharedDiff = await diffShared(
    path.join(path.dirname(opts.lessonsRoot), 'shared'),
    path.join(repoRoot, 'shared'),
  );
  // Every present lesson is staged (a later day imports the learner's earlier days).
  const stageRoot = await mkdtemp(path.join(os.tmpdir(), 'logstream-grade-'));
  const staged = await stageLessons({
    repoRoot,
    sourceLessonsRoot: opts.lessonsRoot,
    lessons: known.filter((d) => existsSync(lessonDirOf(opts.lessonsRoot, d))),
    destRoot: stageRoot,
  });
  const toLearner = <T>(v: T) =>
    mapPaths(v, staged, opts.lessonsRoot, path.join(stageRoot, 'shared'), path.join(repoRoot, 'shared'));
  const days: DayGrade[] = [];
  try {
    for (const lesson of wanted) {
      const checks = manifests.get(lesson)!.checks;
      const ids = checks.map((c) => c.id).filter((id) => opts.only?.includes(id));
      const selected = ids.length ? checks.filter((c) => ids.includes(c.id)) : checks;
      const notRun = (): CheckResult[] =>
        selected.map((c) => ({
          id: c.id,
          title: c.title,
          points: c.points,
          earned: 0,
          ...(c.given ? { given: true } : {}),
          status: 'not-run',
          ms: 0,
        }));
      const row = (status: DayStatus, results: CheckResult[], extra: Partial<DayGrade> = {}): DayGrade => {
        const s = summarize(results);
        return {
          lesson,
          status,
          earned: s.earned,
          maxPoints: s.maxPoints,
          passed: s.passed - s.givenPassed,
          total: s.total - s.given,
          givenPassed: s.givenPassed,
          given: s.given,
          ...(ids.length ? { only: ids } : {}),
          ...extra,
          results,
        };
      };
      const dir = lessonDirOf(opts.lessonsRoot, lesson);
      if (!existsSync(dir)) {
        days.push(row('absent', notRun()));
        if (opts.verbose) console.log(`${bold(lesson)}  ${dim('absent: no folder')} ${dim(dir)}`);
        continue;
      }
      const error = await firstCompileError(dir);
      const cmp = await compareWithReference(path.join(repoRoot, 'lessons', lesson), dir);
      const ref = cmp.reference ? { reference: true } : {};
      if (error) {
        days.push(row('does not start', notRun(), { error, ...ref }));
        if (opts.verbose) console.log(`${bold(lesson)}  ${red('does not start')}: ${error}`);
        continue;
      }
      if (cmp.untouched && !opts.runUntouched) {
        days.push(row('untouched', notRun(), ref));
        if (opts.verbose)
          console.log(
            `${bold(lesson)}  ${dim('untouched: the TODOs are as the starter wrote them (checks not run; --run-untouched runs them)')}`,
          );
        continue;
      }
      if (opts.verbose) console.log(bold(lesson) + (cmp.reference ? dim('  (the reference lesson, unchanged)') : ''));
      const raw = await runChecks({
        lessonsRoot: staged,
        lesson,
        seed: opts.seed,
        stopOnFirstFailure: false,
        concurrency: opts.concurrency ?? 1,
        repoRoot,
        ...(ids.length ? { only: ids } : {}),
        onCheckEnd: opts.verbose
          ? (r) => {
              const mine = toLearner(r);
              console.log(checkLine(mine));
              if (mine.status === 'failed')
                console.log(
                  `${failureBlock(mine)}\n${dim(`    rerun:    ${rerunCommand({ lesson, lessonsRoot: opts.lessonsRoot, seed: opts.seed, id: mine.id })}`)}`,
                );
            }
          : undefined,
      });
      const results = toLearner(raw);
      const s = summarize(results);
      const allPass = results.every((r) => r.given || r.status === 'passed');
      const syntax = s.earned === 0 && !allPass ? syntaxErrorOf(results) : undefined;
      if (syntax) days.push(row('does not start', results, { error: syntax, ...ref }));
      else days.push(row(cmp.untouched ? 'untouched' : allPass ? 'complete' : 'partial', results, ref));
    }
  } finally {
    await rm(stageRoot, { recursive: true, force: true });
  }
  const total = days.reduce(
    (t, d) => ({
      earned: t.earned + d.earned,
      maxPoints: t.maxPoints + d.maxPoints,
      passed: t.passed + d.passed,
      total: t.total + d.total,
    }),
    { earned: 0, maxPoints: 0, passed: 0, total: 0 },
  );
  return {
    lessonsRoot: opts.lessonsRoot,
    seed: opts.seed,
    reference: { commit: referenceCommit(repoRoot), shared: path.join(repoRoot, 'shared') },
    ...(sharedDiff ? { sharedDiff } : {}),
    days,
    total,
  };
}

export function formatTable(report: Pick<GradeReport, 'days' | 'total'>): string {
  const cell = (d: DayGrade) => [
    d.lesson,
    d.status + (d.reference ? ' (reference)' : ''),
    d.status === 'absent' ? '-' : `${d.passed}/${d.total}`,
    d.given ? (d.status === 'absent' ? '-' : `${d.givenPassed}/${d.given}`) : '',
    `${d.earned}/${d.maxPoints}`,
  ];
  const rows = [
    ['day', 'status', 'checks', 'given', 'points'],
    ...report.days.map(cell),
    [
      'total',
      '',
      `${report.total.passed}/${report.total.total}`,
      '',
      `${report.total.earned}/${report.total.maxPoints}`,
    ],
  ];
  const widths = [0, 1, 2, 3, 4].map((i) => Math.max(...rows.map((r) => (r[i] as string).length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (i < 2 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
      .join('  ')
      .trimEnd();
  const sep = widths.map((w) => '-'.repeat(w)).join('  ');
  return [
    fmt(rows[0] as string[]),
    sep,
    ...rows.slice(1, -1).map(fmt),
    sep,
    fmt(rows[rows.length - 1] as string[]),
  ].join('\n');
}

/** The lines under the table: why a day does not start, and a shared/ that was not used. */
export function formatNotes(report: GradeReport): string[] {
  const notes: string[] = [];
  for (const d of report.days) {
    if (d.error) notes.push(`${d.lesson} does not start: ${d.error}`);
    if (d.only) notes.push(dim(`${d.lesson}: only ${d.only.join(', ')} ran (--only)`));
  }
  const sd = report.sharedDiff;
  if (sd) {
    const list = [
      ...sd.changed.map((f) => `${f} (changed)`),
      ...sd.missing.map((f) => `${f} (missing)`),
      ...sd.extra.map((f) => `${f} (extra)`),
    ];
    notes.push(
      `${sd.dir} differs from the reference and was NOT used (graded against ${report.reference.shared}): ${list.slice(0, 12).join(', ')}${list.length > 12 ? `, … (${list.length} files)` : ''}`,
    );
  }
  return notes;
}

function parseSeed(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) > 0xffffffff)
    throw new InvalidArgumentError('--seed must be an integer 0..4294967295');
  return Number(v);
}

function parseConcurrency(v: string): number {
  if (!/^[1-9]\d?$/.test(v)) throw new InvalidArgumentError('--concurrency must be an integer 1..99');
  return Number(v);
}

const list = (v: string | undefined) =>
  v
    ?.split(',')
    .map((d) => d.trim())
    .filter(Boolean);

export async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name('npm run grade --')
    .description(
      "Grade a learner's copy: per day a status (absent, does not start, untouched, partial, complete) and the points earned.",
    )
    .requiredOption('--lessons <dir>', 'lessons root to grade (holds day08/, day09/, …)')
    .option('--json <file>', 'write the results as JSON')
    .option('--days <list>', 'only these days, comma-separated (e.g. day08,day09); a missing one is an absent row')
    .option('--only <ids>', 'only these check ids (e.g. d08.1,d08.3); days with none listed run every check')
    .option('--seed <n>', 'seed for the random traffic', parseSeed)
    .option('--concurrency <n>', 'checks run at once within a day', parseConcurrency, 1)
    .option('--run-untouched', 'run the checks of an untouched day too', false)
    .option('--quiet', 'print only the table', false)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError)
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.help' ? 0 : 2;
    throw err;
  }
  const o = program.opts<{
    lessons: string;
    json?: string;
    days?: string;
    only?: string;
    seed?: number;
    concurrency: number;
    runUntouched: boolean;
    quiet: boolean;
  }>();
  const seed = o.seed ?? newSeed();
  const lessonsRoot = userPath(o.lessons);
  try {
    const commit = referenceCommit(REPO_ROOT);
    console.log(dim(`grading ${lessonsRoot}  seed: ${seed}  reference: ${commit}`));
    const days = list(o.days);
    const only = list(o.only);
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
    if (err instanceof HarnessError) {
      console.error(`error: ${err.message} [${err.code}]`);
      return 2;
    }
    console.error(err);
    return 2;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
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
