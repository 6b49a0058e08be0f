// The grader's statuses and earned points on real copies (issue 16, Deliver 2): day 08 only, and only a
// check or two where checks must run, to keep npm test affordable.
import { readFileSync } from 'node:fs';
import { appendFile, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../checks/harness/runner.ts';
import { stubSolutions } from '../checks/harness/solutions.ts';
import { lessonRegions } from '../checks/harness/todos.ts';
import { needPeers } from '../tests/support/peers.ts';
import { formatTable, type DayGrade, type GradeReport } from './grade/copy.ts';
import type { ClassReport } from './grade/types.ts';
import { main } from './grade.ts';
import { writeStarter } from './starter.ts';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'grade-test-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const REF08 = path.join(REPO_ROOT, 'lessons', 'day08');

/** A learner's lessons folder holding a copy of the reference day 08. */
async function referenceCopy(name: string): Promise<string> {
  const lessons = path.join(tmp, name, 'lessons');
  await cp(REF08, path.join(lessons, 'day08'), { recursive: true });
  return lessons;
}

/** The reference text with only the regions naming `id` left as regions (the others' markers removed, their code kept). */
function keepOnlyRegionsOf(text: string, id: string): string {
  const out: string[] = [];
  let keep = true;
  for (const l of text.split('\n')) {
    const open = /^\s*\/\/\s*@solution\s+\[([^\]]*)\]/.exec(l);
    if (open) keep = open[1]!.split(/[\s,]+/).includes(id);
    const marker = open || /^\s*\/\/\s*@(stub|end-solution)\b/.test(l);
    if (keep || !marker) out.push(l);
    if (/^\s*\/\/\s*@end-solution/.test(l)) keep = true;
  }
  return out.join('\n');
}

async function gradeJson(args: string[]): Promise<{ code: number; report: GradeReport; day: (l: string) => DayGrade }> {
  const json = path.join(tmp, `grade-${Math.random().toString(36).slice(2)}.json`);
  const code = await main([...args, '--json', json, '--quiet', '--seed', '5']);
  const report = JSON.parse(readFileSync(json, 'utf8')) as GradeReport;
  return { code, report, day: (l) => report.days.find((d) => d.lesson === l) as DayGrade };
}

describe('grade: statuses and earned points', () => {
  it('untouched (the starter as written: 0, checks not run); a missing day is an absent 0 row; seed and reference commit recorded', async () => {
    const s = await writeStarter({ lesson: 'day08', out: path.join(tmp, 'starter') });
    const { code, report, day } = await gradeJson(['--lessons', s.lessonsRoot, '--days', 'day08,day09']);
    expect(code).toBe(1);
    expect(report.seed).toBe(5);
    expect(report.reference.commit).toMatch(/^[0-9a-f]{40}(\+dirty)?$/);
    expect(report.sharedDiff, 'the starter carries the reference shared/ unchanged').toBeUndefined();
    expect([day('day08').status, day('day08').earned, day('day08').maxPoints]).toEqual(['untouched', 0, 100]);
    expect(day('day08').results.every((r) => r.status === 'not-run' && r.earned === 0)).toBe(true);
    expect([day('day09').status, day('day09').earned, day('day09').maxPoints]).toEqual(['absent', 0, 100]);
    expect(report.total.earned).toBe(0);
  }, 120_000);

  it('does not start: a syntax error, reported as file:line:col message (checks not run)', async () => {
    const lessons = await referenceCopy('syntax');
    const file = path.join(lessons, 'day08', 'receiver.ts');
    await appendFile(file, '\nconst broken: number = ;\n');
    const lines = (await readFile(file, 'utf8')).split('\n').length - 1;
    const { code, day } = await gradeJson(['--lessons', lessons, '--days', 'day08']);
    expect(code).toBe(1);
    expect(day('day08').status).toBe('does not start');
    expect(day('day08').error).toBe(`${file}:${lines}:24: Unexpected ";"`);
    expect(day('day08').earned).toBe(0);
  }, 60_000);

  it('does not start: an import that does not exist (found before any program runs, in the staged copy)', async () => {
    const lessons = await referenceCopy('link');
    const file = path.join(lessons, 'day08', 'receiver.ts');
    await writeFile(
      file,
      `import { noSuchExport } from './line-decoder.ts';\nvoid noSuchExport;\n${await readFile(file, 'utf8')}`,
    );
    const { day } = await gradeJson(['--lessons', lessons, '--days', 'day08', '--only', 'd08.2']);
    expect(day('day08').status).toBe('does not start');
    expect(day('day08').error).toMatch(new RegExp(`^${file}:1:\\d+: No matching export .*noSuchExport`));
    expect(day('day08').results.every((r) => r.status === 'not-run')).toBe(true);
  }, 120_000);

  it("partial: earned points, the TODO a failure depends on in the learner's file; a changed shared/ is reported and not used", async () => {
    const lessons = await referenceCopy('partial');
    // d08.7's solution regions stubbed as the starter writes them (the rest of the reference intact)
    const regions = lessonRegions(REF08).filter((r) => r.ids.includes('d08.7'));
    expect(regions.length, 'day 08 has a TODO for d08.7').toBeGreaterThan(0);
    for (const file of new Set(regions.map((r) => r.file))) {
      const ref = readFileSync(path.join(REF08, file), 'utf8');
      const only7 = keepOnlyRegionsOf(ref, 'd08.7');
      await writeFile(path.join(lessons, 'day08', file), stubSolutions(only7, file).text);
    }
    // a learner's shared/ that would break everything if it were used
    const shared = path.join(tmp, 'partial', 'shared');
    await cp(path.join(REPO_ROOT, 'shared'), shared, { recursive: true });
    await writeFile(path.join(shared, 'cli.ts'), "throw new Error('the learner shared/ was used');\n");
    await mkdir(path.join(shared, 'mine'), { recursive: true });
    await writeFile(path.join(shared, 'mine', 'extra.ts'), '// extra\n');

    const { code, report, day } = await gradeJson(['--lessons', lessons, '--days', 'day08', '--only', 'd08.2,d08.7']);
    expect(code).toBe(1);
    const d = day('day08');
    const byId = Object.fromEntries(d.results.map((r) => [r.id, r]));
    expect(byId['d08.2']?.status, 'd08.2 passes: graded against the reference shared/').toBe('passed');
    expect([byId['d08.2']?.earned, byId['d08.7']?.status, byId['d08.7']?.earned]).toEqual([
      byId['d08.2']?.points,
      'failed',
      0,
    ]);
    expect([d.status, d.earned, d.maxPoints, d.only]).toEqual([
      'partial',
      byId['d08.2']?.points,
      (byId['d08.2']?.points ?? 0) + (byId['d08.7']?.points ?? 0),
      ['d08.2', 'd08.7'],
    ]);
    const dep = byId['d08.7']?.dependsOn ?? [];
    expect(dep.length).toBeGreaterThan(0);
    const learnerText = readFileSync(path.join(lessons, 'day08', regions[0]!.file), 'utf8').split('\n');
    expect(dep[0]?.file).toBe(`lessons/day08/${regions[0]!.file}`);
    expect(learnerText[(dep[0]?.line ?? 0) - 1]?.trim()).toMatch(/^\/\/ TODO \[.*d08\.7/);
    expect(JSON.stringify(d.results), 'no path of the staging folder leaks into the report').not.toMatch(
      /logstream-grade-/,
    );
    expect(report.sharedDiff).toEqual({ dir: shared, changed: ['cli.ts'], missing: [], extra: ['mine/extra.ts'] });
  }, 180_000);

  it('complete: every check that is not given passes', async () => {
    const lessons = await referenceCopy('complete');
    const { code, day } = await gradeJson(['--lessons', lessons, '--days', 'day08', '--only', 'd08.2']);
    expect([code, day('day08').status, day('day08').earned]).toEqual([0, 'complete', day('day08').maxPoints]);
  }, 120_000);
});

describe('grade CLI', () => {
  it('exit 2 when it cannot run: unknown day or check, no lessons folder, no day at all, no --lessons, bad flag', async () => {
    const empty = path.join(tmp, 'empty');
    await mkdir(empty, { recursive: true });
    expect(await main(['--lessons', empty, '--days', 'day99'])).toBe(2);
    expect(await main(['--lessons', empty, '--days', 'day08', '--only', 'd08.99'])).toBe(2);
    expect(await main(['--lessons', path.join(tmp, 'nope')])).toBe(2);
    expect(await main(['--lessons', empty])).toBe(2);
    expect(await main([])).toBe(2);
    expect(await main(['--lessons', empty, '--frob'])).toBe(2);
    expect(
      await main(['--lessons', empty, '--days', 'day08', '--quiet']),
      'a day asked for by --days and missing: an absent row',
    ).toBe(1);
  });

  it('formats a table: status, checks that are not given, given ones, points earned', () => {
    const day = (
      lesson: string,
      status: DayGrade['status'],
      passed: number,
      total: number,
      earned: number,
      given = 0,
      givenPassed = 0,
    ): DayGrade => ({ lesson, status, earned, maxPoints: 100, passed, total, given, givenPassed, results: [] });
    const table = formatTable({
      days: [
        day('day08', 'partial', 3, 9, 40, 1, 1),
        day('day09', 'untouched', 0, 9, 0, 2),
        day('day10', 'absent', 0, 10, 0),
      ],
      total: { earned: 40, maxPoints: 300, passed: 3, total: 28 },
    });
    expect(table.split('\n')).toEqual([
      'day    status     checks  given  points',
      '-----  ---------  ------  -----  ------',
      'day08  partial       3/9    1/1  40/100',
      'day09  untouched     0/9    0/2   0/100',
      'day10  absent          -          0/100',
      '-----  ---------  ------  -----  ------',
      'total               3/28         40/300',
    ]);
  });
});

describe('grade --class (issue 19)', () => {
  /** A class of three learners on day 08: the reference, the untouched starter, a syntax error. */
  async function makeClass(name: string): Promise<string> {
    const root = path.join(tmp, name);
    await cp(REF08, path.join(root, 'ref', 'lessons', 'day08'), { recursive: true });
    const starter = path.join(root, 'starter', 'lessons', 'day08');
    await cp(REF08, starter, { recursive: true });
    for (const r of new Set(lessonRegions(REF08).map((x) => x.file))) {
      const f = path.join(starter, r);
      await writeFile(f, stubSolutions(await readFile(f, 'utf8'), r).text);
    }
    // a clone of a repository holds lessons/; a bare lessons folder holds dayNN/
    await cp(REF08, path.join(root, 'syntax', 'day08'), { recursive: true });
    await appendFile(path.join(root, 'syntax', 'day08', 'validate.ts'), '\nexport const broken: number = ;\n');
    await mkdir(path.join(root, 'notes'), { recursive: true });
    return root;
  }

  it('grades a class into a table, class.csv, class.json and a feedback report each; a re-run comes from the cache', async () => {
    const root = await makeClass('class');
    const args = ['--class', root, '--days', 'day08', '--only', 'd08.2,d08.7', '--seed', '11', '--quiet'];
    const sandbox = needPeers('bwrap').skip ? ['--no-sandbox'] : [];
    expect(await main([...args, ...sandbox])).toBe(0);
    const out = path.join(root, '_grades');
    const report = JSON.parse(await readFile(path.join(out, 'class.json'), 'utf8')) as ClassReport;
    expect(report.seed).toBe(11);
    expect(report.reference.commit).toMatch(/^[0-9a-f]{40}(\+dirty)?$/);
    expect(report.skipped.map((s) => path.basename(s.dir))).toEqual(['notes']);
    const row = (n: string) => report.learners.find((l) => l.name === n)!.days[0]!;
    expect([row('ref').status, row('ref').earned, row('ref').cached]).toEqual([
      'complete',
      row('ref').maxPoints,
      undefined,
    ]);
    expect([row('starter').status, row('starter').earned]).toEqual(['untouched', 0]);
    expect([row('syntax').status, row('syntax').earned]).toEqual(['does not start', 0]);
    expect(row('syntax').error).toMatch(/syntax\/day08\/validate\.ts:\d+:\d+: Unexpected ";"/);
    const csv = (await readFile(path.join(out, 'class.csv'), 'utf8')).trim().split('\n');
    expect(csv[0]).toBe('learner,day08_status,day08_points,points,max_points,seed,reference');
    expect(csv.slice(1).map((l) => l.split(',').slice(0, 3).join(','))).toEqual([
      `ref,complete,${row('ref').maxPoints}`,
      'starter,untouched,0',
      'syntax,does not start,0',
    ]);
    const fb = await readFile(path.join(out, 'feedback', 'syntax.md'), 'utf8');
    expect(fb).toContain('# Feedback: syntax');
    expect(fb).toMatch(/day08\/validate\.ts:\d+:\d+: Unexpected ";"/);
    expect(await readFile(path.join(out, 'feedback', 'ref.md'), 'utf8')).toContain('Every graded check passes.');
    // the same copies, reference and seed (taken from the last grade): nothing is graded again
    expect(await main(['--class', root, '--days', 'day08', '--only', 'd08.2,d08.7', '--quiet', ...sandbox])).toBe(0);
    const again = JSON.parse(await readFile(path.join(out, 'class.json'), 'utf8')) as ClassReport;
    expect(again.seed).toBe(11);
    expect(again.learners.map((l) => l.days[0]!.cached)).toEqual([true, true, true]);
    expect(again.learners.map((l) => l.days[0]!.status)).toEqual(['complete', 'untouched', 'does not start']);
  }, 180_000);

  it("feedback: each failed check's expected, received, where, hint and TODO; a hanging copy runs out of its budget", async () => {
    const root = path.join(tmp, 'class-hang');
    // partial: d08.7's TODO stubbed (as in the test above); hang: a receiver that never prints its ready line
    const partial = path.join(root, 'partial', 'lessons', 'day08');
    await cp(REF08, partial, { recursive: true });
    for (const r of lessonRegions(REF08).filter((x) => x.ids.includes('d08.7'))) {
      const ref = readFileSync(path.join(REF08, r.file), 'utf8');
      await writeFile(path.join(partial, r.file), stubSolutions(keepOnlyRegionsOf(ref, 'd08.7'), r.file).text);
    }
    const hang = path.join(root, '..', 'class-hang-only', 'hang', 'lessons', 'day08');
    await cp(REF08, hang, { recursive: true });
    await writeFile(
      path.join(hang, 'receiver.ts'),
      `setInterval(() => undefined, 1000);\nawait new Promise(() => undefined);\n${await readFile(path.join(hang, 'receiver.ts'), 'utf8')}`,
    );
    const sandbox = needPeers('bwrap').skip ? ['--no-sandbox'] : [];
    const args = ['--days', 'day08', '--only', 'd08.2,d08.7', '--seed', '3', '--quiet', ...sandbox];
    // 4 s of checks for the hanging copy (its ready line would be awaited 15 s by each check)
    const hangRoot = path.dirname(path.dirname(path.dirname(hang)));
    expect(await main(['--class', hangRoot, '--budget', '4', ...args])).toBe(0);
    const hangReport = JSON.parse(await readFile(path.join(hangRoot, '_grades', 'class.json'), 'utf8')) as ClassReport;
    const hung = hangReport.learners.find((l) => l.name === 'hang')!.days[0]!;
    expect([hung.status, hung.outOfTime, hung.earned]).toEqual(['partial', true, 0]);
    expect(hung.results.map((r) => r.failure?.received)).toContain('the budget ran out before this check ended');
    expect(await main(['--class', root, '--retry-failed', ...args])).toBe(0);
    const report = JSON.parse(await readFile(path.join(root, '_grades', 'class.json'), 'utf8')) as ClassReport;
    const p = report.learners.find((l) => l.name === 'partial')!.days[0]!;
    expect(p.status).toBe('partial');
    const failed = p.results.find((r) => r.id === 'd08.7')!;
    expect(p.retried, 'the failed check ran once more, alone').toEqual(['d08.7']);
    const fb = await readFile(path.join(root, '_grades', 'feedback', 'partial.md'), 'utf8');
    expect(fb).toContain(`### ✗ d08.7 ${failed.title}`);
    for (const label of [
      '**Expected**',
      '**Received**',
      '**Depends on:** TODO [',
      'Replay it: `npm run check -- day08',
    ])
      expect(fb).toContain(label);
    if (failed.failure?.hint) expect(fb).toContain(`**Hint:** ${failed.failure.hint.split('\n')[0]}`);
    expect(fb, 'paths shown relative to the learner folder').not.toContain(root);
  }, 180_000);

  it('refuses --class when the sandbox cannot start (one line), unless --no-sandbox; flags of one mode refused in the other', async () => {
    const root = await makeClass('class-nosandbox');
    const errors: string[] = [];
    const err = console.error;
    const before = process.env['LOGSTREAM_BWRAP'];
    console.error = (...a: unknown[]) => void errors.push(a.join(' '));
    process.env['LOGSTREAM_BWRAP'] = path.join(tmp, 'no-such-bwrap');
    try {
      expect(await main(['--class', root, '--days', 'day08', '--quiet'])).toBe(2);
      expect(await main(['--lessons', root, '--jobs', '2'])).toBe(2);
      expect(await main(['--class', root, '--json', 'x.json'])).toBe(2);
      expect(await main(['--class', root, '--lessons', root])).toBe(2);
      expect(await main(['--class', root, '--jobs', '0'])).toBe(2);
      // --no-sandbox runs it anyway, and the report and each feedback say why it was not sandboxed
      expect(await main(['--class', root, '--days', 'day08', '--only', 'd08.2', '--quiet', '--no-sandbox'])).toBe(0);
    } finally {
      console.error = err;
      if (before === undefined) delete process.env['LOGSTREAM_BWRAP'];
      else process.env['LOGSTREAM_BWRAP'] = before;
    }
    expect(errors[0]).toMatch(/^error: the sandbox cannot start: .*no-such-bwrap is not installed.*--no-sandbox/);
    expect(errors[0]?.split('\n')).toHaveLength(1);
    expect(errors.slice(1, 4).every((e) => /\[LS_ERR_BAD_FLAG\]/.test(e))).toBe(true);
    const report = JSON.parse(await readFile(path.join(root, '_grades', 'class.json'), 'utf8')) as ClassReport;
    expect(report.sandbox.used).toBe(false);
    expect(report.sandbox.reason).toMatch(/^the sandbox cannot start \(/);
    expect(report.learners.find((l) => l.name === 'ref')?.days[0]?.status).toBe('complete');
    expect(await readFile(path.join(root, '_grades', 'feedback', 'ref.md'), 'utf8')).toMatch(
      /> Not sandboxed: the sandbox cannot start/,
    );
  }, 60_000);
});
