import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtures } from '../checks/fixtures/day08.ts';
import { materializeFixture } from '../checks/harness/fixtures.ts';
import { REPO_ROOT } from '../checks/harness/runner.ts';
import { formatTable, main, type GradeReport } from './grade.ts';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'grade-test-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('grade', () => {
  it('grades every check of a copy with one defect: exit 1, the points it lost, a JSON report', async () => {
    const fixture = fixtures.find((f) => f.name === 'wrong-ready-line');
    expect(fixture).toBeDefined();
    const lessonsRoot = await materializeFixture({ repoRoot: REPO_ROOT, lesson: 'day08', fixture: fixture!, outDir: path.join(tmp, 'fx') });
    const json = path.join(tmp, 'grade.json');
    expect(await main(['--lessons', lessonsRoot, '--json', json, '--seed', '5', '--quiet'])).toBe(1);
    const report = JSON.parse(readFileSync(json, 'utf8')) as GradeReport;
    expect(report.seed).toBe(5);
    expect(report.days.map((d) => [d.lesson, d.passed, d.total, d.points, d.maxPoints])).toEqual([['day08', 9, 10, 90, 100]]);
    expect(report.days[0]?.results.find((r) => r.status === 'failed')?.id).toBe('d08.1');
    expect(report.total).toEqual({ passed: 9, total: 10, points: 90, maxPoints: 100 });
  }, 240_000);

  it('exit 2 when it cannot run: unknown day, no lessons folder, no --lessons, bad flag', async () => {
    expect(await main(['--lessons', tmp, '--days', 'day99'])).toBe(2);
    expect(await main(['--lessons', path.join(tmp, 'nope')])).toBe(2);
    expect(await main(['--lessons', tmp])).toBe(2); // no day present
    expect(await main([])).toBe(2);
    expect(await main(['--lessons', tmp, '--frob'])).toBe(2);
  });

  it('formats a table with a total', () => {
    const table = formatTable({ lessonsRoot: '/x', seed: 1, absent: [], days: [{ lesson: 'day08', passed: 9, failed: 1, total: 10, points: 90, maxPoints: 100, results: [] }], total: { passed: 9, total: 10, points: 90, maxPoints: 100 } });
    expect(table.split('\n')).toEqual(['day    checks  points', '-----  ------  ------', 'day08    9/10  90/100', '-----  ------  ------', 'total    9/10  90/100']);
  });
});
