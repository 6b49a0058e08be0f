/**
 * `npm test`: everything that proves the lab works, with one closing line that sums it all up:
 *   1. the type check (tsc --noEmit), counted as one test;
 *   2. vitest: unit tests, every day's graded checks against the reference lessons, the fixtures that
 *      prove each check can fail, and the starter copies.
 * It ends with `N passed, M failed` (`, K skipped` when any) and exits non-zero on any failure.
 * Under CI=true a skipped test counts as failed: CI must have everything the tests need.
 * Extra arguments go to vitest (e.g. `npm test -- shared/protocol`).
 */
import { execa } from 'execa';
import { readFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from './lib/launch.ts';

const extra = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
const failures: string[] = [];

if (!extra.length) {
  process.stdout.write('▶ typecheck (tsc --noEmit)\n');
  const tsc = await execa('npx', ['tsc', '--noEmit', '-p', '.'], { cwd: REPO_ROOT, reject: false, all: true });
  if (tsc.exitCode === 0) {
    passed++;
    process.stdout.write('✓ typecheck clean\n');
  } else {
    failed++;
    failures.push('typecheck');
    process.stdout.write(`${tsc.all}\n✗ typecheck failed\n`);
  }
}

await mkdir(join(REPO_ROOT, '.work'), { recursive: true });
const report = join(REPO_ROOT, '.work', 'vitest-report.json');
process.stdout.write('▶ vitest\n');
const vt = await execa('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...extra], {
  cwd: REPO_ROOT,
  reject: false,
  stdout: 'inherit',
  stderr: 'inherit',
});
interface VitestJson {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numFailedTestSuites: number;
  testResults: Array<{ name: string; status: string; message?: string; assertionResults: Array<{ fullName: string; status: string }> }>;
}
let json: VitestJson | undefined;
try {
  json = JSON.parse(await readFile(report, 'utf8')) as VitestJson;
} catch {
  json = undefined;
}
if (!json) {
  failed++;
  failures.push(`vitest produced no report (exit ${vt.exitCode})`);
} else {
  passed += json.numPassedTests;
  failed += json.numFailedTests;
  skipped += json.numPendingTests + json.numTodoTests;
  for (const file of json.testResults) {
    for (const t of file.assertionResults) if (t.status === 'failed') failures.push(t.fullName);
    // A file that failed to load has no assertion results but must still count as a failure.
    if (file.status === 'failed' && file.assertionResults.length === 0) {
      failed++;
      failures.push(`${file.name}: ${file.message ?? 'failed to run'}`);
    }
  }
  if (vt.exitCode !== 0 && json.numFailedTests === 0 && json.numFailedTestSuites === 0) {
    failed++;
    failures.push(`vitest exited ${vt.exitCode}`);
  }
}
if (process.env.CI === 'true' && skipped > 0) {
  failures.push(`${skipped} skipped under CI=true (CI must have everything the tests need)`);
  failed += skipped;
  skipped = 0;
}
if (failures.length) {
  process.stdout.write('\nFailures:\n');
  for (const f of failures) process.stdout.write(`  ✗ ${f}\n`);
}
process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exit(failed > 0 ? 1 : 0);
