/**
 * `npm test`: everything that proves the lab works, with one closing line that sums it all up:
 *   1. the type check (tsc --noEmit), ESLint and Prettier's check, counted as one test each;
 *   2. vitest: unit tests, every day's graded checks against the reference lessons, the fixtures that
 *      prove each check can fail, and the starter copies.
 * It ends with `N passed, M failed` (`, K skipped` when any) and exits non-zero on any failure.
 * Under CI=true a skipped test counts as failed: CI must have everything the tests need.
 * Extra arguments go to vitest (e.g. `npm test -- shared/protocol`).
 *
 * The system peers (tests/support/peers.ts: rsyslog, chromium, nats-server, … from Debian) are
 * installed first when missing and possible (root with apt-get; one line says so; LOGSTREAM_NO_APT=1
 * turns it off). Otherwise the tests that need them are skipped, and one message at the end names the
 * command that installs them: a fresh machine with only Node and npm passes (issue 20.1).
 */
import { execa } from 'execa';
import { readFile, mkdir, rm } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { REPO_ROOT } from './lib/launch.ts';
import {
  installCommand,
  installPeers,
  missingPeers,
  PEER_IDS,
  packagesOf,
  searchDirs,
} from '../tests/support/peers.ts';

const extra = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
const failures: string[] = [];

const install = installPeers(PEER_IDS, (line) => process.stdout.write(`${line}\n`));
for (const line of install.did) process.stdout.write(`  ${line}\n`);
// Debian puts rsyslogd and nats-server in /usr/sbin, off a normal user's PATH: the tests find them there.
const env = { PATH: searchDirs().join(delimiter) };
// The local binaries through this node: no npx, nothing else needed on PATH.
const bin = (rel: string) => join(REPO_ROOT, 'node_modules', rel);

if (!extra.length) {
  process.stdout.write('▶ typecheck (tsc --noEmit)\n');
  const tsc = await execa(process.execPath, [bin('typescript/bin/tsc'), '--noEmit', '-p', '.'], {
    cwd: REPO_ROOT,
    env,
    reject: false,
    all: true,
  });
  if (tsc.exitCode === 0) {
    passed++;
    process.stdout.write('✓ typecheck clean\n');
  } else {
    failed++;
    failures.push('typecheck');
    process.stdout.write(`${tsc.all}\n✗ typecheck failed\n`);
  }
}

if (!extra.length) {
  // Lint and format (issue 20.6): typescript-eslint's type-checked rules and Prettier's check, one test each.
  const lints: Array<[string, string[]]> = [
    ['eslint', [bin('eslint/bin/eslint.js'), '.']],
    ['prettier --check', [bin('prettier/bin/prettier.cjs'), '--check', '--log-level', 'warn', '**/*.ts']],
  ];
  for (const [name, argv] of lints) {
    process.stdout.write(`▶ ${name}\n`);
    const run = await execa(process.execPath, argv, { cwd: REPO_ROOT, env, reject: false, all: true });
    if (run.exitCode === 0) {
      passed++;
      process.stdout.write(`✓ ${name} clean\n`);
    } else {
      failed++;
      failures.push(name);
      process.stdout.write(`${run.all}\n✗ ${name} found problems (npm run format fixes formatting)\n`);
    }
  }
}

await mkdir(join(REPO_ROOT, '.work'), { recursive: true });
// one report per run: two runs at once (a test of this script, say) must not read each other's
const report = join(REPO_ROOT, '.work', `vitest-report-${process.pid}.json`);
process.stdout.write('▶ vitest\n');
const vt = await execa(
  process.execPath,
  [bin('vitest/vitest.mjs'), 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...extra],
  {
    cwd: REPO_ROOT,
    env,
    reject: false,
    stdout: 'inherit',
    stderr: 'inherit',
  },
);
interface VitestJson {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numFailedTestSuites: number;
  testResults: Array<{
    name: string;
    status: string;
    message?: string;
    assertionResults: Array<{ fullName: string; status: string }>;
  }>;
}
let json: VitestJson | undefined;
try {
  json = JSON.parse(await readFile(report, 'utf8')) as VitestJson;
} catch {
  json = undefined;
}
await rm(report, { force: true });
if (!json) {
  failed++;
  failures.push(`vitest produced no report (exit ${vt.exitCode})`);
} else {
  passed += json.numPassedTests;
  failed += json.numFailedTests;
  skipped += json.numPendingTests + json.numTodoTests;
  for (const file of json.testResults) {
    for (const t of file.assertionResults) if (t.status === 'failed') failures.push(t.fullName);
    // A file that failed to load, or whose beforeAll threw (its tests then show as skipped), has no failed
    // assertion but must still count as a failure.
    if (file.status === 'failed' && !file.assertionResults.some((t) => t.status === 'failed')) {
      failed++;
      failures.push(`${file.name}: ${file.message ?? 'failed to run'}`);
    }
  }
  if (vt.exitCode !== 0 && json.numFailedTests === 0 && json.numFailedTestSuites === 0) {
    failed++;
    failures.push(`vitest exited ${vt.exitCode}`);
  }
}
const missing = missingPeers();
if (process.env.CI === 'true' && skipped > 0) {
  failures.push(
    `${skipped} skipped under CI=true (CI must have everything the tests need${missing.length ? `; missing: ${missing.join(', ')}: ${installCommand(missing)}` : ''})`,
  );
  failed += skipped;
  skipped = 0;
}
if (failures.length) {
  process.stdout.write('\nFailures:\n');
  for (const f of failures) process.stdout.write(`  ✗ ${f}\n`);
}
if (skipped > 0 && missing.length) {
  process.stdout.write(
    `\nSkipped: the tests that need ${missing.join(', ')} (Debian ${packagesOf(missing).join(', ')}), not on this machine. Install them: ${installCommand(missing)}` +
      `${process.env.LOGSTREAM_NO_APT === '1' ? ' (LOGSTREAM_NO_APT=1: npm test did not install them)' : ' (npm test does it itself when run as root)'}\n`,
  );
}
process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exit(failed > 0 ? 1 : 0);
