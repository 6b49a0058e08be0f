// Grading one learner's copy (issue 16, Deliver 2): the status of each day and the points it earns, the
// copy staged beside the REFERENCE shared/ and node_modules/. The statuses, and what `npm run grade`
// (scripts/grade.ts) prints of them, are described there; the class grader (class.ts) and `npm run
// progress` build on these functions.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { build, transform } from 'esbuild';
import { HarnessError } from '../../checks/harness/errors.ts';
import { lessonFiles, stageLessons } from '../../checks/harness/lesson-copy.ts';
import { bold, checkLine, dim, failureBlock, red } from '../../checks/harness/report.ts';
import {
  REPO_ROOT,
  knownLessons,
  lessonDirOf,
  loadManifest,
  runChecks,
  summarize,
} from '../../checks/harness/runner.ts';
import { stubSolutions } from '../../checks/harness/solutions.ts';
import { rerunCommand } from '../../checks/run.ts';
import type { Check, CheckResult } from '../../checks/harness/types.ts';

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

/** The first error esbuild reports in what it threw (undefined when it threw something else). */
function firstEsbuildError(
  err: unknown,
): { text: string; location?: { file: string; line: number; column: number } | null } | undefined {
  return (err as { errors?: Array<{ text: string; location?: { file: string; line: number; column: number } | null }> })
    .errors?.[0];
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
      const e = firstEsbuildError(err);
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

/** How a day of a staged copy is graded: at once (absent, does not start, untouched), or by running its checks. */
export type DayPlan =
  | { kind: 'done'; grade: DayGrade }
  | {
      kind: 'run';
      lesson: string;
      /** The check ids to run (--only), empty for all. */
      ids: string[];
      reference: boolean;
      untouched: boolean;
      /** Results of the checks that will run, as not-run (the shape of the day before it ran). */
      notRun: CheckResult[];
    };

/** The day's row from its results. */
export function dayRow(
  lesson: string,
  status: DayStatus,
  results: CheckResult[],
  ids: string[],
  extra: Partial<DayGrade> = {},
): DayGrade {
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
}

/**
 * The first error of the day's programs and everything they import (earlier days, shared/) in the staged
 * copy, bundled by esbuild (packages left out): a day whose import of an earlier day does not compile, or
 * names an export that is not there, does not start either. `file:line:col message`, in the learner's paths.
 */
export async function firstImportError(
  stagedLessonDir: string,
  toLearner: (p: string) => string,
): Promise<string | undefined> {
  const entries = (await lessonFiles(stagedLessonDir))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.includes('/'))
    .map((f) => path.join(stagedLessonDir, f));
  if (entries.length === 0) return undefined;
  const stageRoot = path.dirname(path.dirname(stagedLessonDir));
  try {
    await build({
      entryPoints: entries,
      bundle: true,
      write: false,
      packages: 'external',
      platform: 'node',
      format: 'esm',
      outdir: path.join(stageRoot, '.bundle-check'),
      absWorkingDir: stageRoot,
      logLevel: 'silent',
    });
  } catch (err) {
    const e = firstEsbuildError(err);
    if (!e) return toLearner(`${stagedLessonDir}: ${(err as Error).message}`);
    return toLearner(
      e.location
        ? `${path.resolve(stageRoot, e.location.file)}:${e.location.line}:${e.location.column + 1}: ${e.text}`
        : `${stagedLessonDir}: ${e.text}`,
    );
  }
  return undefined;
}

/**
 * What to do with one day of a copy (no learner code runs here): absent, does not start (a compile error
 * of the day, or of what it imports in the staged copy), untouched; else run its checks.
 */
export async function planDay(o: {
  repoRoot: string;
  lessonsRoot: string;
  /** The staged lessons root (the copy beside the reference shared/). */
  staged: string;
  lesson: string;
  checks: Check[];
  only?: string[];
  runUntouched?: boolean;
  toLearner: (p: string) => string;
}): Promise<DayPlan> {
  const { lesson } = o;
  const ids = o.checks.map((c) => c.id).filter((id) => o.only?.includes(id));
  const selected = ids.length ? o.checks.filter((c) => ids.includes(c.id)) : o.checks;
  const notRun: CheckResult[] = selected.map((c) => ({
    id: c.id,
    title: c.title,
    points: c.points,
    earned: 0,
    ...(c.given ? { given: true } : {}),
    status: 'not-run',
    ms: 0,
  }));
  const dir = lessonDirOf(o.lessonsRoot, lesson);
  if (!existsSync(dir)) return { kind: 'done', grade: dayRow(lesson, 'absent', notRun, ids) };
  const cmp = await compareWithReference(path.join(o.repoRoot, 'lessons', lesson), dir);
  const ref = cmp.reference ? { reference: true } : {};
  const error = (await firstCompileError(dir)) ?? (await firstImportError(lessonDirOf(o.staged, lesson), o.toLearner));
  if (error) return { kind: 'done', grade: dayRow(lesson, 'does not start', notRun, ids, { error, ...ref }) };
  if (cmp.untouched && !o.runUntouched) return { kind: 'done', grade: dayRow(lesson, 'untouched', notRun, ids, ref) };
  return { kind: 'run', lesson, ids, reference: cmp.reference, untouched: cmp.untouched, notRun };
}

/** The day's row once its checks ran (results in the learner's paths). */
export function finishDay(plan: Extract<DayPlan, { kind: 'run' }>, results: CheckResult[]): DayGrade {
  const ref = plan.reference ? { reference: true } : {};
  const s = summarize(results);
  const allPass = results.every((r) => r.given || r.status === 'passed');
  const syntax = s.earned === 0 && !allPass ? syntaxErrorOf(results) : undefined;
  if (syntax) return dayRow(plan.lesson, 'does not start', results, plan.ids, { error: syntax, ...ref });
  return dayRow(plan.lesson, plan.untouched ? 'untouched' : allPass ? 'complete' : 'partial', results, plan.ids, ref);
}

/** Checks the days and check ids asked for; the manifests of the days. */
export async function manifestsFor(days: string[], only: string[] | undefined): Promise<Map<string, Check[]>> {
  const known = knownLessons();
  const unknown = days.filter((d) => !known.includes(d));
  if (unknown.length)
    throw new HarnessError(
      'LS_ERR_UNKNOWN_LESSON',
      `unknown lesson ${unknown.join(', ')} (known: ${known.join(', ')})`,
    );
  const manifests = new Map(await Promise.all(days.map(async (d) => [d, (await loadManifest(d)).checks] as const)));
  const badOnly = (only ?? []).filter((id) => !days.some((d) => manifests.get(d)?.some((c) => c.id === id)));
  if (badOnly.length)
    throw new HarnessError('LS_ERR_UNKNOWN_CHECK', `unknown check id ${badOnly.join(', ')} for ${days.join(', ')}`);
  return manifests;
}

/** Staged paths → the learner's, for any JSON-able value. */
export function learnerPaths(stageRoot: string, lessonsRoot: string, repoRoot: string): <T>(v: T) => T {
  return <T>(v: T) =>
    mapPaths(
      v,
      path.join(stageRoot, 'lessons'),
      lessonsRoot,
      path.join(stageRoot, 'shared'),
      path.join(repoRoot, 'shared'),
    );
}

export function totalOf(days: DayGrade[]): GradeReport['total'] {
  return days.reduce(
    (t, d) => ({
      earned: t.earned + d.earned,
      maxPoints: t.maxPoints + d.maxPoints,
      passed: t.passed + d.passed,
      total: t.total + d.total,
    }),
    { earned: 0, maxPoints: 0, passed: 0, total: 0 },
  );
}

/** A learner's copy made ready to grade: beside the reference shared/, its days planned one by one. */
export interface StagedCopy {
  /** how the copy's shared/ differs from the reference's (the copy is graded against ours) */
  sharedDiff: SharedDiff | undefined;
  /** the staged lessons root */
  staged: string;
  /** staged paths in results back to the learner's own */
  toLearner: <T>(v: T) => T;
  /** planDay for one of the copy's days */
  plan(lesson: string): Promise<DayPlan>;
}

/**
 * Stages every lesson a copy has (a later day imports the learner's earlier days) under `stageRoot`: the one way
 * `npm run grade` grades a copy and a class grades each learner's.
 */
export async function stageCopy(o: {
  repoRoot: string;
  lessonsRoot: string;
  stageRoot: string;
  manifests: Map<string, Check[]>;
  only?: string[] | undefined;
  runUntouched?: boolean | undefined;
}): Promise<StagedCopy> {
  const { repoRoot, lessonsRoot } = o;
  const sharedDiff = await diffShared(path.join(path.dirname(lessonsRoot), 'shared'), path.join(repoRoot, 'shared'));
  const staged = await stageLessons({
    repoRoot,
    sourceLessonsRoot: lessonsRoot,
    lessons: knownLessons().filter((d) => existsSync(lessonDirOf(lessonsRoot, d))),
    destRoot: o.stageRoot,
  });
  const toLearner = learnerPaths(o.stageRoot, lessonsRoot, repoRoot);
  const plan = (lesson: string) =>
    planDay({
      repoRoot,
      lessonsRoot,
      staged,
      lesson,
      checks: o.manifests.get(lesson)!,
      ...(o.only ? { only: o.only } : {}),
      ...(o.runUntouched ? { runUntouched: true } : {}),
      toLearner,
    });
  return { sharedDiff, staged, toLearner, plan };
}

export async function grade(opts: GradeOptions): Promise<GradeReport> {
  const repoRoot = opts.repoRoot ?? REPO_ROOT;
  const known = knownLessons();
  if (!existsSync(opts.lessonsRoot))
    throw new HarnessError('LS_ERR_LESSON_MISSING', `no lessons folder ${opts.lessonsRoot}`);
  const wanted = opts.days ?? known;
  const manifests = await manifestsFor(wanted, opts.only);
  const present = wanted.filter((d) => existsSync(lessonDirOf(opts.lessonsRoot, d)));
  if (present.length === 0 && !opts.days)
    throw new HarnessError(
      'LS_ERR_LESSON_MISSING',
      `no lesson folders (${known.join(', ')}) under ${opts.lessonsRoot}`,
    );

  const stageRoot = await mkdtemp(path.join(os.tmpdir(), 'logstream-grade-'));
  const days: DayGrade[] = [];
  let sharedDiff: SharedDiff | undefined;
  try {
    const copy = await stageCopy({
      repoRoot,
      lessonsRoot: opts.lessonsRoot,
      stageRoot,
      manifests,
      only: opts.only,
      runUntouched: opts.runUntouched,
    });
    const { staged, toLearner } = copy;
    sharedDiff = copy.sharedDiff;
    for (const lesson of wanted) {
      const plan = await copy.plan(lesson);
      if (plan.kind === 'done') {
        days.push(plan.grade);
        const g = plan.grade;
        if (opts.verbose)
          console.log(
            g.status === 'absent'
              ? `${bold(lesson)}  ${dim('absent: no folder')} ${dim(lessonDirOf(opts.lessonsRoot, lesson))}`
              : g.status === 'does not start'
                ? `${bold(lesson)}  ${red('does not start')}: ${g.error}`
                : `${bold(lesson)}  ${dim('untouched: the TODOs are as the starter wrote them (checks not run; --run-untouched runs them)')}`,
          );
        continue;
      }
      if (opts.verbose) console.log(bold(lesson) + (plan.reference ? dim('  (the reference lesson, unchanged)') : ''));
      const raw = await runChecks({
        lessonsRoot: staged,
        lesson,
        seed: opts.seed,
        stopOnFirstFailure: false,
        concurrency: opts.concurrency ?? 1,
        repoRoot,
        ...(plan.ids.length ? { only: plan.ids } : {}),
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
      days.push(finishDay(plan, toLearner(raw)));
    }
  } finally {
    await rm(stageRoot, { recursive: true, force: true });
  }
  return {
    lessonsRoot: opts.lessonsRoot,
    seed: opts.seed,
    reference: { commit: referenceCommit(repoRoot), shared: path.join(repoRoot, 'shared') },
    ...(sharedDiff ? { sharedDiff } : {}),
    days,
    total: totalOf(days),
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
