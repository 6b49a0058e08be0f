// `npm run progress -- --lessons <dir>` (issue 19, Deliver 4): a learner's own copy, day by day: its
// status, the points it earns, and the next thing to do: the first check that fails (with its hint and the
// TODO it depends on, and the command that replays it), or for an untouched day the first TODO to write.
// The same grading as `npm run grade` (scripts/grade.ts: the reference shared/, statuses, earned points),
// run on your own machine without a sandbox: it is your code.
// Exit 0 every day complete, 1 otherwise, 2 it could not run.
import path from 'node:path';
import { bold, dim, green, red } from '../checks/harness/report.ts';
import { newSeed } from '../checks/harness/rng.ts';
import { REPO_ROOT, knownLessons, loadManifest, userPath } from '../checks/harness/runner.ts';
import { formatTodoRef, todoMap } from '../checks/harness/todos.ts';
import { harnessFailure, rerunCommand, runTool, seedOption } from '../checks/run.ts';
import { opt, parseCliArgs } from '../shared/cli.ts';
import { grade, type DayGrade } from './grade/copy.ts';

export interface NextStep {
  /** The check to make pass next, when there is one. */
  id?: string;
  title?: string;
  /** What to do, one line: the hint of the failure, or the TODO to write. */
  text: string;
  /** The failure's expected / received (one line each, shortened). */
  expected?: string;
  received?: string;
  dependsOn?: string[];
  rerun?: string;
}

const oneLine = (s: string, max = 160) => {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
};

/** The next step of one day of a copy. */
export async function nextStep(d: DayGrade, lessonsRoot: string, seed: number): Promise<NextStep | undefined> {
  switch (d.status) {
    case 'complete':
      return undefined;
    case 'absent':
      return {
        text: `not started: \`npm run starter -- ${d.lesson} --out <new folder> --from ${lessonsRoot}\` writes it`,
      };
    case 'does not start':
      return { text: `fix the first error: ${d.error ?? '(unknown)'}` };
    case 'untouched': {
      // The first check that is not given, and the TODO it depends on (the checks did not run).
      const checks = (await loadManifest(d.lesson)).checks.filter((c) => !c.given);
      const todos = todoMap(path.join(REPO_ROOT, 'lessons', d.lesson), path.join(lessonsRoot, d.lesson));
      const first = checks.find((c) => todos.has(c.id)) ?? checks[0];
      const deps = first ? (todos.get(first.id) ?? []).map(formatTodoRef) : [];
      return {
        ...(first ? { id: first.id, title: first.title } : {}),
        text: `untouched: start with the TODOs (lessons/${d.lesson}/README.md, "Your TODOs")`,
        ...(deps.length ? { dependsOn: deps } : {}),
        ...(first ? { rerun: rerunCommand({ lesson: d.lesson, lessonsRoot, seed, id: first.id }) } : {}),
      };
    }
    case 'partial': {
      const r =
        d.results.find((x) => !x.given && x.status === 'failed') ?? d.results.find((x) => x.status === 'failed');
      if (!r) return undefined;
      const f = r.failure;
      return {
        id: r.id,
        title: r.title,
        text: f?.hint ? oneLine(f.hint, 400) : oneLine(f?.expected ?? 'see the check'),
        ...(f ? { expected: oneLine(f.expected), received: oneLine(f.received) } : {}),
        ...(r.dependsOn?.length ? { dependsOn: r.dependsOn.map(formatTodoRef) } : {}),
        rerun: rerunCommand({ lesson: d.lesson, lessonsRoot, seed, id: r.id }),
      };
    }
  }
}

/** One day's lines: `day08  partial  45/100  next: d08.4 title` and the step below it. */
export function formatDay(d: DayGrade, next: NextStep | undefined): string {
  const paint = d.status === 'complete' ? green : d.status === 'partial' ? (x: string) => x : red;
  const head = `${bold(d.lesson)}  ${paint(d.status.padEnd(14))}  ${`${d.earned}/${d.maxPoints}`.padStart(7)}`;
  if (!next) return `${head}  ${dim('every graded check passes')}`;
  const lines = [`${head}  ${next.id ? `next: ${next.id} ${next.title ?? ''}`.trimEnd() : next.text}`];
  const pad = '        ';
  if (next.id) lines.push(`${pad}${next.text}`);
  if (next.expected) lines.push(dim(`${pad}expected: ${next.expected}`));
  if (next.received) lines.push(dim(`${pad}received: ${next.received}`));
  for (const t of next.dependsOn ?? []) lines.push(`${pad}depends on: ${t}`);
  if (next.rerun) lines.push(dim(`${pad}rerun: ${next.rerun}`));
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const days = knownLessons().filter((l) => /^day\d+$/.test(l));
  const parsed = parseCliArgs(
    {
      name: 'npm run progress --',
      summary:
        'Your copy day by day: status (absent, does not start, untouched, partial, complete), the points it earns, and the next failing check with its hint and the TODO it depends on.',
      options: {
        lessons: opt.requiredString('--lessons <dir>', 'your lessons folder (holds day08/, day09/, …)'),
        days: opt.list('--days <list>', `only these days, comma-separated (default: ${days.join(',')})`),
        seed: seedOption('seed for the random traffic (printed; the rerun lines keep it)'),
      },
      epilog:
        'Every check of each present day runs (about 20 s a day that passes, up to a minute one that does not);\nan untouched day (the TODOs as the starter wrote them) and one that does not compile run none.\nExit 0 every day complete, 1 otherwise, 2 it could not run.',
    },
    argv,
  );
  if (typeof parsed === 'number') return parsed;
  const o = parsed.values;
  const lessonsRoot = userPath(o.lessons);
  const seed = o.seed ?? newSeed();
  const wanted = o.days ?? days;
  console.log(dim(`progress of ${lessonsRoot}  seed: ${seed}`));
  try {
    let earned = 0;
    let max = 0;
    let complete = 0;
    for (const day of wanted) {
      if (process.stderr.isTTY) process.stderr.write(dim(`… ${day}\r`));
      const report = await grade({ lessonsRoot, seed, days: [day] });
      const d = report.days[0]!;
      earned += d.earned;
      max += d.maxPoints;
      if (d.status === 'complete') complete++;
      console.log(formatDay(d, await nextStep(d, lessonsRoot, seed)));
    }
    const line = `${complete}/${wanted.length} days complete, ${earned}/${max} points`;
    console.log(complete === wanted.length ? green(line) : line);
    return complete === wanted.length ? 0 : 1;
  } catch (err) {
    return harnessFailure(err);
  }
}

runTool(import.meta.url, main);
