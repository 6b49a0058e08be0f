// `npm run grade -- --class <dir>` (issue 19): every learner folder of a class, graded in one command.
//   - A learner folder is a clone of the learner's repository or a starter (it holds `lessons/`), or a
//     lessons folder itself (it holds `dayNN/`). Names starting with `_` or `.` are not learners (the
//     output goes to `<dir>/_grades` by default).
//   - Each learner-day runs in its own sandbox (sandbox.ts): its own loopback (ports), /tmp (temp and data
//     dirs), pid namespace. `--jobs` of them at once; a check marked `exclusive` runs alone on the machine
//     (lock.ts), across the whole class.
//   - A time budget per learner-day counts the time its checks run (not the time it waits for the machine):
//     when it runs out the sandbox is killed, the checks that ended keep their results, the rest fail.
//   - A cache: a learner-day whose copy (every file of its lessons/ and shared/), reference (commit and the
//     content of checks/, shared/, lessons/, the grader) and seed are unchanged is not graded again.
//   - Out: the table learner × day on stdout, class.csv, class.json, feedback/<learner>.md.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { SingleBar } from 'cli-progress';
import { HarnessError } from '../../checks/harness/errors.ts';
import { lessonFiles } from '../../checks/harness/lesson-copy.ts';
import { dim } from '../../checks/harness/report.ts';
import { REPO_ROOT, knownLessons, lessonDirOf } from '../../checks/harness/runner.ts';
import { todoMap } from '../../checks/harness/todos.ts';
import type { CheckResult } from '../../checks/harness/types.ts';
import { finishDay, learnerPaths, manifestsFor, stageCopy, referenceCommit, totalOf, type DayPlan } from './copy.ts';
import { feedbackMarkdown } from './feedback.ts';
import { MachineLock } from './lock.ts';
import { bwrapPath, probeSandbox, sandboxArgs } from './sandbox.ts';
import type { ClassDayGrade, ClassOptions, ClassReport, LearnerGrade } from './types.ts';
import { PREFIX, encodeSpec, type WorkerSpec } from './worker.ts';

/** Bumped when what the grader does changes, so old cache entries are not used. */
const GRADER_VERSION = 1;
/** How long a worker may take to load (tsx, the checks) before its first check: not the learner's time. */
const STARTUP_MS = 120_000;

export const OUT_NAME = '_grades';

/**
 * The default --jobs: one learner-day per core, 2 on the course machine. Measured there (2 cores, shared,
 * COURSE.md "Grading a class"): with each learner's tsx cache --jobs 2 graded the reference 700/700 in
 * 356 s under the heaviest outside load of those runs (--jobs 1: 551 s, d12.2 failed); 3 and 4 passed
 * whole only once the outside load had fallen, and 4 failed reference checks at a load of 41 before the
 * cache. d12.2 (exclusive) failed under heavy outside load at 1, 2 and 3 jobs alike: its own timeout.
 */
export function defaultJobs(cores = os.availableParallelism()): number {
  return Math.max(1, cores);
}

/** The learner folders of a class: `<dir>/<name>/lessons/` or `<dir>/<name>/dayNN/`. */
export async function discoverLearners(
  classDir: string,
  outDir: string,
): Promise<{ learners: Array<{ name: string; dir: string; lessonsRoot: string }>; skipped: ClassReport['skipped'] }> {
  if (!existsSync(classDir)) throw new HarnessError('LS_ERR_LESSON_MISSING', `no class folder ${classDir}`);
  const learners: Array<{ name: string; dir: string; lessonsRoot: string }> = [];
  const skipped: ClassReport['skipped'] = [];
  const known = knownLessons();
  for (const e of (await readdir(classDir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const dir = path.join(classDir, e.name);
    if (!e.isDirectory() || e.name.startsWith('.') || e.name.startsWith('_') || path.resolve(dir) === outDir) continue;
    const hasDays = async (d: string) =>
      existsSync(d) && (await readdir(d)).some((n) => known.includes(n) || /^day\d+$/.test(n));
    if (await hasDays(path.join(dir, 'lessons')))
      learners.push({ name: e.name, dir, lessonsRoot: path.join(dir, 'lessons') });
    else if (await hasDays(dir)) learners.push({ name: e.name, dir, lessonsRoot: dir });
    else skipped.push({ dir, reason: 'no lessons/ and no dayNN/ folder in it' });
  }
  return { learners, skipped };
}

async function hashFiles(h: ReturnType<typeof createHash>, root: string, label: string): Promise<void> {
  if (!existsSync(root)) return;
  for (const f of await lessonFiles(root)) {
    h.update(`${label}/${f}\0`);
    h.update(await readFile(path.join(root, f)));
    h.update('\0');
  }
}

/** The copy's hash: every file of its lessons/ and, beside it, shared/ (names and bytes). */
export async function copyHash(lessonsRoot: string): Promise<string> {
  const h = createHash('sha256');
  await hashFiles(h, lessonsRoot, 'lessons');
  await hashFiles(h, path.join(path.dirname(lessonsRoot), 'shared'), 'shared');
  return h.digest('hex');
}

/** The reference's hash: what decides a grade besides the copy (also when the tree has uncommitted changes). */
export async function referenceHash(repoRoot: string): Promise<string> {
  const h = createHash('sha256');
  for (const part of ['checks', 'shared', 'lessons', 'scripts/grade'])
    await hashFiles(h, path.join(repoRoot, part), part);
  for (const f of ['scripts/grade.ts', 'package-lock.json', 'tsconfig.json'])
    if (existsSync(path.join(repoRoot, f))) h.update(await readFile(path.join(repoRoot, f)));
  return h.digest('hex');
}

interface Job {
  learner: LearnerGrade;
  stageRoot: string;
  plan: Extract<DayPlan, { kind: 'run' }>;
  cacheFile: string;
  index: number;
  /** The learner's own tsx compile cache (sandbox.ts): their days after the first start warm. */
  tsxCache: string;
}

/** Runs one learner-day's checks in a worker (in the sandbox unless `sandbox` is undefined). */
async function runJob(
  job: Job,
  o: {
    repoRoot: string;
    seed: number;
    concurrency: number;
    budgetMs: number;
    lock: MachineLock;
    sandbox: { userNamespace: boolean } | undefined;
    workRoot: string;
    onCheck: (id: string | undefined) => void;
    /** Only these checks, each alone on the machine (a retry). */
    retry?: string[];
  },
): Promise<{ results: CheckResult[]; outOfTime: boolean; ms: number }> {
  const lessonsStaged = path.join(job.stageRoot, 'lessons');
  const lesson = job.plan.lesson;
  const privateTmp = await mkdtemp(path.join(o.workRoot, `tmp-${lesson}-`));
  const spec: WorkerSpec = {
    lessonsRoot: lessonsStaged,
    lesson,
    seed: o.seed,
    ...(o.retry ? { only: o.retry, alone: true } : job.plan.ids.length ? { only: job.plan.ids } : {}),
    concurrency: o.concurrency,
    repoRoot: o.repoRoot,
    todos: [...todoMap(path.join(o.repoRoot, 'lessons', lesson), lessonDirOf(lessonsStaged, lesson))],
  };
  const node = [process.execPath, '--import', 'tsx', path.join(o.repoRoot, 'scripts', 'grade', 'worker.ts')];
  const child = o.sandbox
    ? spawn(
        bwrapPath(),
        [
          ...sandboxArgs({
            repoRoot: o.repoRoot,
            stageRoot: job.stageRoot,
            privateTmp,
            userNamespace: o.sandbox.userNamespace,
            tsxCache: job.tsxCache,
          }),
          ...node,
          encodeSpec(spec),
        ],
        { stdio: ['pipe', 'pipe', 'pipe'], detached: true },
      )
    : spawn(node[0]!, [...node.slice(1), encodeSpec(spec)], {
        cwd: o.repoRoot,
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
        env: { ...cleanEnvForWorker(), TMPDIR: privateTmp },
      });
  const results = new Map<string, CheckResult>();
  const held = new Map<number, () => void>();
  let pending = 0;
  let done = false;
  let outOfTime = false;
  let stderr = '';
  let workerError: string | undefined;
  const t0 = Date.now();
  // The budget's clock starts at the first check (the worker has loaded) and runs except while the worker
  // only waits for the machine (lock.ts). Loading has a bound of its own.
  let used = 0;
  let since: number | undefined;
  let started = false;
  let timer: NodeJS.Timeout | undefined;
  const startTimer = setTimeout(() => {
    if (started) return;
    workerError = `the grader's worker did not reach its first check within ${STARTUP_MS / 1000} s`;
    killAll();
  }, STARTUP_MS);
  const killAll = () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // gone already
    }
  };
  const clock = () => {
    if (!started) return;
    const now = Date.now();
    const runs = held.size > 0 || pending === 0;
    if (since !== undefined) used += now - since;
    since = runs ? now : undefined;
    clearTimeout(timer);
    if (runs && !done)
      timer = setTimeout(
        () => {
          outOfTime = true;
          killAll();
        },
        Math.max(0, o.budgetMs - used),
      );
  };
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    stderr = (stderr + s).slice(-8192);
  });
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    if (!line.startsWith(PREFIX)) return;
    let msg: {
      t: string;
      n?: number;
      id?: string;
      exclusive?: boolean;
      result?: CheckResult;
      message?: string;
    };
    try {
      msg = JSON.parse(line.slice(PREFIX.length)) as typeof msg;
    } catch {
      return;
    }
    if (msg.t === 'gate' && typeof msg.n === 'number') {
      const n = msg.n;
      pending++;
      if (!started) {
        started = true;
        clearTimeout(startTimer);
      }
      clock();
      void o.lock.acquire(msg.exclusive === true).then((release) => {
        pending--;
        if (outOfTime || child.exitCode !== null || child.signalCode !== null) {
          release();
          return;
        }
        held.set(n, release);
        clock();
        o.onCheck(msg.id);
        child.stdin.write(`${JSON.stringify({ go: n })}\n`);
      });
    } else if (msg.t === 'release' && typeof msg.n === 'number') {
      held.get(msg.n)?.();
      held.delete(msg.n);
      clock();
      o.onCheck(undefined);
    } else if (msg.t === 'check' && msg.result) results.set(msg.result.id, msg.result);
    else if (msg.t === 'done') done = true;
    else if (msg.t === 'error') workerError = msg.message;
  });
  child.stdin.on('error', () => undefined); // the worker died: its exit says so
  await new Promise<void>((resolve) => child.on('close', () => resolve()));
  clearTimeout(timer);
  clearTimeout(startTimer);
  for (const release of held.values()) release();
  held.clear();
  killAll(); // anything the worker left behind (without the sandbox: its process group)
  await rm(privateTmp, { recursive: true, force: true });
  const ms = Date.now() - t0;
  const out = job.plan.notRun
    .filter((n) => !o.retry || o.retry.includes(n.id))
    .map((n): CheckResult => {
      const r = results.get(n.id);
      if (r) return r;
      if (outOfTime)
        return {
          ...n,
          status: 'failed',
          failure: {
            expected: `the day's checks to finish within the grading budget (${Math.round(o.budgetMs / 1000)} s of checks)`,
            received: 'the budget ran out before this check ended',
            hint: `a program that never answers or never exits makes each check wait for its own timeout: \`npm run check -- ${lesson}\` shows which one hangs`,
            timedOut: true,
          },
        };
      return {
        ...n,
        status: 'failed',
        failure: {
          expected: "the grader's worker to run this check",
          received:
            workerError ?? (stderr.trim().split('\n').slice(-6).join('\n') || `the worker exited (${child.exitCode})`),
          hint: done
            ? undefined
            : 'the sandbox or the harness failed, not necessarily the learner: see checks/README.md',
          internal: true,
        },
      };
    });
  return { results: out, outOfTime, ms };
}

function cleanEnvForWorker(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('LOGSTREAM_')) env[k] = v;
  return { ...env, NO_COLOR: '1', TSX_TSCONFIG_PATH: path.join(REPO_ROOT, 'tsconfig.json') };
}

const safeName = (s: string) => s.replace(/[^\w.-]+/g, '_');

export async function gradeClass(o: ClassOptions): Promise<ClassReport> {
  const repoRoot = o.repoRoot ?? REPO_ROOT;
  const t0 = Date.now();
  const manifests = await manifestsFor(o.days, o.only);
  const { learners: found, skipped } = await discoverLearners(o.classDir, o.outDir);
  if (found.length === 0)
    throw new HarnessError(
      'LS_ERR_LESSON_MISSING',
      `no learner folder in ${o.classDir} (each holds lessons/ with day08/, … or is such a folder)`,
    );
  const workRoot = await mkdtemp(path.join(os.tmpdir(), 'logstream-class-'));
  let sandbox: { userNamespace: boolean } | undefined;
  let sandboxReason: string | undefined;
  if (o.sandbox) {
    const probe = await probeSandbox(repoRoot, workRoot);
    if (!probe.ok) {
      await rm(workRoot, { recursive: true, force: true });
      throw new HarnessError(
        'LS_ERR_NO_SANDBOX',
        `the sandbox cannot start: ${probe.reason}; refusing to run learner code with your rights (--no-sandbox runs it anyway)`,
      );
    }
    sandbox = { userNamespace: probe.userNamespace };
  } else {
    const probe = await probeSandbox(repoRoot, workRoot);
    sandboxReason = probe.ok
      ? '--no-sandbox: learner code ran with the grader’s rights'
      : `the sandbox cannot start (${probe.reason}); --no-sandbox: learner code ran with the grader’s rights`;
  }
  const commit = referenceCommit(repoRoot);
  const refHash = await referenceHash(repoRoot);
  const cacheDir = path.join(o.outDir, 'cache');
  await mkdir(cacheDir, { recursive: true });
  const lock = new MachineLock();
  const learners: LearnerGrade[] = [];
  const jobs: Job[] = [];
  const total = found.length * o.days.length;
  let finished = 0;
  const running = new Map<string, string>();
  const bar =
    o.progress && process.stderr.isTTY
      ? new SingleBar({
          format: 'grading [{bar}] {value}/{total} learner-days | {eta_formatted} left | {running}',
          stream: process.stderr,
          hideCursor: true,
          etaBuffer: 8,
        })
      : undefined;
  bar?.start(total, 0, { running: 'staging' });
  const runningText = () => [...running.values()].join(', ') || '…';
  const dayDone = (learner: string, d: ClassDayGrade) => {
    finished++;
    if (bar) bar.update(finished, { running: runningText() });
    else if (o.progress)
      process.stderr.write(
        `${dim(`[${finished}/${total}]`)} ${learner} ${d.lesson}: ${d.status}${d.outOfTime ? ' (out of time)' : ''} ${d.earned}/${d.maxPoints}${d.cached ? dim(' (cached)') : d.ms ? dim(` (${(d.ms / 1000).toFixed(1)} s)`) : ''}\n`,
      );
  };

  try {
    // Plan every learner-day (no learner code runs in the grader itself).
    for (const [i, f] of found.entries()) {
      const hash = await copyHash(f.lessonsRoot);
      const stageRoot = path.join(workRoot, `stage-${i}-${safeName(f.name)}`);
      const copy = await stageCopy({
        repoRoot,
        lessonsRoot: f.lessonsRoot,
        stageRoot,
        manifests,
        only: o.only,
        runUntouched: o.runUntouched,
      });
      const { sharedDiff } = copy;
      const learner: LearnerGrade = {
        name: f.name,
        dir: f.dir,
        lessonsRoot: f.lessonsRoot,
        hash,
        ...(sharedDiff ? { sharedDiff } : {}),
        days: [],
        total: { earned: 0, maxPoints: 0, passed: 0, total: 0 },
      };
      learners.push(learner);
      for (const [di, lesson] of o.days.entries()) {
        const key = createHash('sha256')
          .update(
            JSON.stringify({
              v: GRADER_VERSION,
              copy: hash,
              commit,
              refHash,
              seed: o.seed,
              lesson,
              only: o.only ?? [],
              runUntouched: o.runUntouched,
              sandbox: o.sandbox,
              retryFailed: o.retryFailed === true,
            }),
          )
          .digest('hex')
          .slice(0, 32);
        const cacheFile = path.join(cacheDir, `${key}.json`);
        if (!o.fresh && existsSync(cacheFile)) {
          try {
            const g = JSON.parse(await readFile(cacheFile, 'utf8')) as ClassDayGrade;
            learner.days[di] = { ...g, cached: true };
            dayDone(f.name, learner.days[di]);
            continue;
          } catch {
            // a broken entry: grade again
          }
        }
        const plan = await copy.plan(lesson);
        if (plan.kind === 'done') {
          learner.days[di] = plan.grade;
          await writeFile(cacheFile, JSON.stringify(plan.grade));
          dayDone(f.name, plan.grade);
        } else {
          const tsxCache = path.join(workRoot, `tsx-cache-${i}`);
          await mkdir(tsxCache, { recursive: true });
          jobs.push({ learner, stageRoot, plan, cacheFile, index: di, tsxCache });
        }
      }
    }
    bar?.update(finished, { running: runningText() });

    // Run the learner-days that need their checks, --jobs at a time.
    let next = 0;
    const budgetMs = o.budgetS * 1000;
    await Promise.all(
      Array.from({ length: Math.min(o.jobs, jobs.length) }, async () => {
        while (next < jobs.length) {
          const job = jobs[next++]!;
          const label = `${job.learner.name} ${job.plan.lesson}`;
          running.set(label, label);
          bar?.update(finished, { running: runningText() });
          const jobOpts = {
            repoRoot,
            seed: o.seed,
            concurrency: o.concurrency,
            budgetMs,
            lock,
            sandbox,
            workRoot,
            onCheck: (id: string | undefined) => {
              running.set(label, id ? `${label} ${id}` : label);
              bar?.update(finished, { running: runningText() });
            },
          };
          const r = await runJob(job, jobOpts);
          // A check that failed while other copies shared the machine may have failed for want of it (a
          // connect within 5 s under load): once more, alone, and the second result is the grade.
          const again = r.results
            .filter((x) => x.status === 'failed' && !x.failure?.internal && !x.failure?.timedOut)
            .map((x) => x.id);
          let retried: string[] | undefined;
          if (o.retryFailed && again.length && !r.outOfTime) {
            const second = await runJob(job, { ...jobOpts, retry: again });
            if (!second.outOfTime && !second.results.some((x) => x.failure?.internal)) {
              retried = again;
              r.results = r.results.map((x) => second.results.find((y) => y.id === x.id) ?? x);
              r.ms += second.ms;
            }
          }
          running.delete(label);
          const toLearner = learnerPaths(job.stageRoot, job.learner.lessonsRoot, repoRoot);
          const g: ClassDayGrade = {
            ...finishDay(job.plan, toLearner(r.results)),
            ...(r.outOfTime ? { outOfTime: true } : {}),
            ...(retried ? { retried } : {}),
            ms: r.ms,
          };
          job.learner.days[job.index] = g;
          // An internal failure (the sandbox, the harness) is not a grade to keep.
          if (!r.results.some((x) => x.failure?.internal)) await writeFile(job.cacheFile, JSON.stringify(g));
          dayDone(job.learner.name, g);
        }
      }),
    );
  } finally {
    bar?.stop();
    await rm(workRoot, { recursive: true, force: true });
  }
  for (const l of learners) {
    l.total = totalOf(l.days);
    if (l.sharedDiff)
      (l.notes ??= []).push(
        `shared/ differs from the reference (${l.sharedDiff.changed.length} changed, ${l.sharedDiff.missing.length} missing, ${l.sharedDiff.extra.length} extra): not used`,
      );
  }
  return {
    classDir: o.classDir,
    outDir: o.outDir,
    gradedAt: new Date().toISOString(),
    seed: o.seed,
    reference: { commit, hash: refHash, shared: path.join(repoRoot, 'shared') },
    sandbox: sandbox ? { used: true } : { used: false, ...(sandboxReason ? { reason: sandboxReason } : {}) },
    jobs: o.jobs,
    budgetS: o.budgetS,
    days: o.days,
    ...(o.only ? { only: o.only } : {}),
    wallMs: Date.now() - t0,
    learners,
    skipped,
  };
}

/** The table learner × day: `points status` per cell, and the total. */
export function formatClassTable(report: Pick<ClassReport, 'learners' | 'days'>): string {
  const head = ['learner', ...report.days, 'total'];
  const rows = report.learners.map((l) => [
    l.name,
    ...report.days.map((d) => {
      const g = l.days.find((x) => x.lesson === d);
      return g ? `${String(g.earned).padStart(3)} ${g.status}${g.outOfTime ? ' (out of time)' : ''}` : '-';
    }),
    `${l.total.earned}/${l.total.maxPoints}`,
  ]);
  const all = [head, ...rows];
  const widths = head.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [fmt(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}

const csvCell = (v: string | number) => (/[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v));

/** class.csv: one row per learner, per day its status and points, the total, the seed and the reference. */
export function classCsv(report: ClassReport): string {
  const head = [
    'learner',
    ...report.days.flatMap((d) => [`${d}_status`, `${d}_points`]),
    'points',
    'max_points',
    'seed',
    'reference',
  ];
  const rows = report.learners.map((l) => [
    l.name,
    ...report.days.flatMap((d) => {
      const g = l.days.find((x) => x.lesson === d);
      return g ? [g.status + (g.outOfTime ? ' (out of time)' : ''), g.earned] : ['', ''];
    }),
    l.total.earned,
    l.total.maxPoints,
    report.seed,
    report.reference.commit,
  ]);
  return `${[head, ...rows].map((r) => r.map(csvCell).join(',')).join('\n')}\n`;
}

/** Writes class.json, class.csv and feedback/<learner>.md under the report's outDir; returns their paths. */
export async function writeClassOutputs(
  report: ClassReport,
): Promise<{ json: string; csv: string; feedback: string[] }> {
  await mkdir(path.join(report.outDir, 'feedback'), { recursive: true });
  const json = path.join(report.outDir, 'class.json');
  const csv = path.join(report.outDir, 'class.csv');
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(csv, classCsv(report));
  const feedback: string[] = [];
  for (const l of report.learners) {
    const f = path.join(report.outDir, 'feedback', `${safeName(l.name)}.md`);
    await writeFile(f, feedbackMarkdown(report, l));
    feedback.push(f);
  }
  return { json, csv, feedback };
}

/** The seed of the last class grade in outDir (so a re-run hits the cache), if any. */
export async function lastSeed(outDir: string): Promise<number | undefined> {
  try {
    const j = JSON.parse(await readFile(path.join(outDir, 'class.json'), 'utf8')) as { seed?: unknown };
    return typeof j.seed === 'number' ? j.seed : undefined;
  } catch {
    return undefined;
  }
}
