// Runs a day's checks against a lessons folder: the engine behind `npm run check`, `npm run grade`
// and the test suite.
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { format } from 'node:util';
import { registry } from '../registry.ts';
import { CheckFailure } from './assert.ts';
import { HarnessError } from './errors.ts';
import { ProcessTracker } from './process.ts';
import { deriveSeed, mulberry32 } from './rng.ts';
import { TcpClient } from './tcp.ts';
import { todoMap, type TodoRef } from './todos.ts';
import { checkScope } from './watchdog.ts';
import type { Check, CheckContext, CheckResult, DayManifest } from './types.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface RunChecksOptions {
  lessonsRoot: string;
  lesson: string;
  seed: number;
  stopOnFirstFailure: boolean;
  /** Run only these check ids. */
  only?: string[];
  /** Keep temp folders. */
  keep?: boolean;
  repoRoot?: string;
  /** Use these checks instead of the registry's (tests of the harness itself). */
  manifest?: DayManifest;
  onCheckStart?: (check: Check) => void;
  onCheckEnd?: (result: CheckResult) => void;
  /** With stopOnFirstFailure false: how many checks run at once (checks marked `exclusive` run alone). */
  concurrency?: number;
  /**
   * Awaited before each check starts; the function it resolves to is called when the check ends. The class
   * grader (issue 19) holds a lock across every copy it grades at once here, so an `exclusive` check runs
   * alone on the machine, not only alone within its day.
   */
  gate?: (check: Check) => Promise<() => void>;
  /**
   * check id → the TODOs it depends on, worked out by the caller. The class grader passes it into its
   * sandbox, which does not hold the reference lessons (their solutions); without it they are read here.
   */
  todos?: Map<string, TodoRef[]>;
}

/** A path the user typed: relative to where they ran `npm run` (INIT_CWD), not to the repo. */
export function userPath(p: string): string {
  return path.resolve(process.env['INIT_CWD'] ?? process.cwd(), p);
}

export function knownLessons(): string[] {
  return Object.keys(registry).sort();
}

export async function loadManifest(lesson: string): Promise<DayManifest> {
  const load = registry[lesson];
  if (!load)
    throw new HarnessError('LS_ERR_UNKNOWN_LESSON', `unknown lesson "${lesson}" (known: ${knownLessons().join(', ')})`);
  const mod = await load();
  return { lesson: mod.lesson, checks: mod.checks };
}

export function lessonDirOf(lessonsRoot: string, lesson: string): string {
  return path.resolve(lessonsRoot, lesson);
}

/** Runs the checks of one lesson. Throws HarnessError when they cannot run at all. */
export async function runChecks(opts: RunChecksOptions): Promise<CheckResult[]> {
  const manifest = opts.manifest ?? (await loadManifest(opts.lesson));
  const lessonDir = lessonDirOf(opts.lessonsRoot, opts.lesson);
  if (!existsSync(lessonDir) || !statSync(lessonDir).isDirectory()) {
    throw new HarnessError('LS_ERR_LESSON_MISSING', `no lesson folder ${lessonDir}`);
  }
  let checks = manifest.checks;
  if (opts.only && opts.only.length > 0) {
    const unknown = opts.only.filter((id) => !checks.some((c) => c.id === id));
    if (unknown.length > 0)
      throw new HarnessError(
        'LS_ERR_UNKNOWN_CHECK',
        `unknown check id ${unknown.join(', ')} for ${opts.lesson} (known: ${checks.map((c) => c.id).join(', ')})`,
      );
    checks = checks.filter((c) => opts.only?.includes(c.id));
  }
  const repoRoot = opts.repoRoot ?? REPO_ROOT;
  // check id → the TODOs of the reference lesson that name it, pointed at in the copy under test (goal 4).
  let todos: Map<string, TodoRef[]>;
  try {
    todos = opts.todos ?? todoMap(path.join(repoRoot, 'lessons', opts.lesson), lessonDir);
  } catch {
    todos = new Map(); // bad markers are the starter's error to report (LS_ERR_SOLUTION_MARKERS), not the run's
  }
  const full = { ...opts, lessonDir, repoRoot, todos };
  // Checks are independent (own temp dirs, own ports), so a full run (no stop at the first failure) may
  // run several at once; results keep manifest order. A learner's `npm run check` runs them one by one.
  const concurrency = opts.stopOnFirstFailure ? 1 : Math.max(1, opts.concurrency ?? 1);
  if (concurrency > 1) {
    const results = new Array<CheckResult>(checks.length);
    const runAt = async (i: number) => {
      const check = checks[i]!;
      const release = await opts.gate?.(check);
      opts.onCheckStart?.(check);
      try {
        results[i] = await runOne(check, full);
      } finally {
        release?.();
      }
      opts.onCheckEnd?.(results[i]);
    };
    const shared = checks.map((c, i) => (c.exclusive ? -1 : i)).filter((i) => i >= 0);
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(concurrency, shared.length) }, async () => {
        while (next < shared.length) await runAt(shared[next++]!);
      }),
    );
    // Heavy or timing-sensitive checks run alone, after the rest.
    for (let i = 0; i < checks.length; i++) if (checks[i]!.exclusive) await runAt(i);
    return results;
  }
  const results: CheckResult[] = [];
  let stopped = false;
  for (const check of checks) {
    if (stopped) {
      results.push({
        id: check.id,
        title: check.title,
        points: check.points,
        earned: 0,
        ...(check.given ? { given: true } : {}),
        status: 'not-run',
        ms: 0,
      });
      continue;
    }
    const release = await opts.gate?.(check);
    opts.onCheckStart?.(check);
    let result: CheckResult;
    try {
      result = await runOne(check, full);
    } finally {
      release?.();
    }
    results.push(result);
    opts.onCheckEnd?.(result);
    if (result.status === 'failed' && opts.stopOnFirstFailure) stopped = true;
  }
  return results;
}

async function runOne(
  check: Check,
  opts: RunChecksOptions & { lessonDir: string; repoRoot: string; todos: Map<string, TodoRef[]> },
): Promise<CheckResult> {
  const controller = new AbortController();
  const logs: string[] = [];
  const tmps: string[] = [];
  const clients: TcpClient[] = [];
  const programs = new Set<string>();
  const tracker = new ProcessTracker({
    repoRoot: opts.repoRoot,
    lessonDir: opts.lessonDir,
    signal: controller.signal,
    onProgram: (f) => programs.add(f),
  });
  const seed = deriveSeed(opts.seed, check.id);
  const t0 = Date.now();
  const ctx: CheckContext = {
    lesson: opts.lesson,
    lessonDir: opts.lessonDir,
    repoRoot: opts.repoRoot,
    seed,
    rng: mulberry32(seed),
    signal: controller.signal,
    tmp: async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), `logstream-${check.id}-`));
      tmps.push(dir);
      return dir;
    },
    programFile: (program) => tracker.programFile(program),
    start: (program, args, o) => tracker.start(program, args, o),
    watch: (program, args, o) => tracker.watch(program, args, o),
    run: (program, args, o) => tracker.run(program, args, o),
    connect: async (host, port) => {
      const c = await TcpClient.connect(host, port);
      clients.push(c);
      return c;
    },
    log: (...parts) => {
      logs.push(`+${Date.now() - t0}ms ${format(...parts)}`);
    },
  };

  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), check.timeoutMs);
  });
  // Inside the scope, every waitFor of the check stops as soon as one of its programs dies (watchdog.ts).
  const running = checkScope
    .run(tracker, () => check.run(ctx))
    .then(
      () => null,
      (err: unknown) => err ?? new Error('check rejected without a reason'),
    );
  const outcome = await Promise.race([running, timedOut]);
  clearTimeout(timer);
  controller.abort();
  for (const c of clients) c.destroy();
  await tracker.killAll();
  // Let a timed-out check wind down now that its processes and sockets are gone (bounded).
  if (outcome === 'timeout') await Promise.race([running, new Promise((r) => setTimeout(r, 2000).unref())]);
  const ms = Date.now() - t0;
  const kept = opts.keep ? tmps : undefined;
  if (!opts.keep) await Promise.all(tmps.map((d) => rm(d, { recursive: true, force: true })));

  const base = {
    id: check.id,
    title: check.title,
    points: check.points,
    earned: 0,
    ...(check.given ? { given: true } : {}),
    ms,
    programs: [...programs].sort(),
  };
  const dependsOn = opts.todos.get(check.id);
  const extras = {
    ...(logs.length ? { logs } : {}),
    ...(kept?.length ? { kept } : {}),
    ...(dependsOn?.length ? { dependsOn } : {}),
  };
  if (outcome === null)
    return { ...base, earned: check.given ? 0 : check.points, status: 'passed', ...(kept?.length ? { kept } : {}) };
  if (outcome === 'timeout') {
    return {
      ...base,
      status: 'failed',
      ...extras,
      failure: {
        expected: `the check to finish within ${check.timeoutMs} ms`,
        received: `still running after ${ms} ms`,
        hint: 'the lesson probably never answered; the log below shows the last step reached',
        timedOut: true,
      },
    };
  }
  if (outcome instanceof CheckFailure) return { ...base, status: 'failed', ...extras, failure: outcome.info() };
  const err = outcome as Error;
  return {
    ...base,
    status: 'failed',
    ...extras,
    failure: {
      expected: 'the check to run without an unexpected error',
      received: `${err?.name ?? 'Error'}: ${err?.message ?? String(err)}`,
      where: err?.stack?.split('\n').slice(1, 3).join(' ').trim(),
      internal: true,
    },
  };
}

export interface Summary {
  /** Over every check, given ones included. */
  passed: number;
  failed: number;
  notRun: number;
  total: number;
  /** The given checks (0 points, shown, never earned) and how many of them passed. */
  given: number;
  givenPassed: number;
  /** Points earned: the points of the passed checks that are not given. */
  earned: number;
  /** The points of the checks that are not given (100 for a whole day). */
  maxPoints: number;
}

export function summarize(results: CheckResult[]): Summary {
  const s: Summary = {
    passed: 0,
    failed: 0,
    notRun: 0,
    total: results.length,
    given: 0,
    givenPassed: 0,
    earned: 0,
    maxPoints: 0,
  };
  for (const r of results) {
    if (r.given) s.given++;
    else s.maxPoints += r.points;
    if (r.status === 'passed') {
      s.passed++;
      if (r.given) s.givenPassed++;
      else s.earned += r.points;
    } else if (r.status === 'failed') s.failed++;
    else s.notRun++;
  }
  return s;
}
