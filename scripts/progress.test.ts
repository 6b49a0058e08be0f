// `npm run progress` (issue 19, Deliver 4): a learner's copy day by day, with the next thing to do. Only
// days whose checks do not run here (untouched, does not start, absent), and the format of a partial day.
import { appendFile, cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../checks/harness/runner.ts';
import { stubSolutions } from '../checks/harness/solutions.ts';
import { lessonRegions } from '../checks/harness/todos.ts';
import type { DayGrade } from './grade/copy.ts';
import { formatDay, main, nextStep } from './progress.ts';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'progress-test-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function capture(argv: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.join(' '));
  try {
    const code = await main(argv);
    return { code, out: lines.join('\n') };
  } finally {
    console.log = log;
  }
}

describe('npm run progress', () => {
  it('day by day: untouched with its first TODO, does not start with the error, absent with the starter command', async () => {
    const lessons = path.join(tmp, 'mine', 'lessons');
    const ref = (d: string) => path.join(REPO_ROOT, 'lessons', d);
    await cp(ref('day08'), path.join(lessons, 'day08'), { recursive: true });
    for (const f of new Set(lessonRegions(ref('day08')).map((r) => r.file))) {
      const file = path.join(lessons, 'day08', f);
      await writeFile(file, stubSolutions(await readFile(file, 'utf8'), f).text);
    }
    await cp(ref('day09'), path.join(lessons, 'day09'), { recursive: true });
    await appendFile(path.join(lessons, 'day09', 'outbox.ts'), '\nexport const broken: number = ;\n');
    const { code, out } = await capture(['--lessons', lessons, '--days', 'day08,day09,day10', '--seed', '4']);
    expect(code).toBe(1);
    const lines = out.split('\n');
    expect(lines.find((l) => l.startsWith('day08'))).toMatch(/^day08 +untouched +0\/100 +next: d08\.\d+ /);
    expect(out).toMatch(/depends on: TODO \[d08\.[^\]]*\] .* — lessons\/day08\/[\w-]+\.ts:\d+/);
    expect(out).toContain(`rerun: npm run check -- day08 --lessons ${lessons} --seed 4 --only d08.`);
    expect(lines.find((l) => l.startsWith('day09'))).toMatch(
      new RegExp(
        `^day09 +does not start +0/100 +fix the first error: ${path.join(lessons, 'day09', 'outbox.ts')}:\\d+:\\d+: Unexpected ";"`,
      ),
    );
    expect(lines.find((l) => l.startsWith('day10'))).toMatch(
      /^day10 +absent +0\/100 +not started: `npm run starter -- day10 /,
    );
    expect(lines.at(-1)).toBe('0/3 days complete, 0/300 points');
  }, 120_000);

  it('a partial day shows its first failing check: hint, expected, received, the TODO, the rerun line', async () => {
    const d: DayGrade = {
      lesson: 'day09',
      status: 'partial',
      earned: 40,
      maxPoints: 100,
      passed: 4,
      total: 9,
      given: 1,
      givenPassed: 1,
      results: [
        { id: 'd09.1', title: 'given', points: 0, earned: 0, given: true, status: 'passed', ms: 1 },
        {
          id: 'd09.3',
          title: 'dedup',
          points: 10,
          earned: 0,
          status: 'failed',
          ms: 1,
          failure: { expected: 'seqs 1..10 once', received: '3 duplicated', hint: 'drop what is at or below the mark' },
          dependsOn: [{ ids: ['d09.3'], title: 'dedup and gaps', file: 'lessons/day09/ingest.ts', line: 57 }],
        },
      ],
    };
    const text = formatDay(d, await nextStep(d, '/x/lessons', 9));
    expect(text.split('\n')).toEqual([
      'day09  partial          40/100  next: d09.3 dedup',
      '        drop what is at or below the mark',
      '        expected: seqs 1..10 once',
      '        received: 3 duplicated',
      '        depends on: TODO [d09.3] dedup and gaps — lessons/day09/ingest.ts:57',
      '        rerun: npm run check -- day09 --lessons /x/lessons --seed 9 --only d09.3',
    ]);
    const done = { ...d, status: 'complete' as const, earned: 100, results: [] };
    expect(formatDay(done, await nextStep(done, '/x', 1))).toBe(
      'day09  complete        100/100  every graded check passes',
    );
  });

  it('exit 2: no --lessons, a bad flag, a lessons folder that is not there', async () => {
    expect(await main([])).toBe(2);
    expect(await main(['--lessons', tmp, '--frob'])).toBe(2);
    expect((await capture(['--lessons', path.join(tmp, 'nope'), '--days', 'day08'])).code).toBe(2);
  });
});
