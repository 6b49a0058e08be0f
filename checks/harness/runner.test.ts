// The runner against tiny programs written for the test (not a lesson): timeouts, cleanup by pid,
// stop at the first failure, ready-line handling.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckFailure, expectEqual, waitFor } from './assert.ts';
import { REPO_ROOT, runChecks } from './runner.ts';
import type { Check, DayManifest } from './types.ts';

let root: string;
const LESSON = 'day00';

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'runner-test-'));
  const dir = path.join(root, LESSON);
  await mkdir(dir, { recursive: true });
  // A "receiver" that announces itself and then runs until killed; `--exit N` exits at once.
  await writeFile(
    path.join(dir, 'receiver.ts'),
    `const i = process.argv.indexOf('--exit');
if (i > 0) { process.stderr.write('bad flag --exit\\n'); process.exit(Number(process.argv[i + 1])); }
if (process.argv.includes('--no-ready')) { process.stdout.write('hello, not json\\n'); }
process.on('SIGTERM', () => { process.stdout.write(JSON.stringify({ event: 'bye' }) + '\\n'); process.exit(0); });
process.stdout.write(JSON.stringify({ event: 'ready', role: 'receiver', host: '127.0.0.1', port: 1234 }) + '\\n');
const d = process.argv.indexOf('--die-after');
if (d > 0) setTimeout(() => { throw new Error('died on purpose'); }, Number(process.argv[d + 1]));
setInterval(() => {}, 1000);
`,
  );
  // A "shipper" watched while it runs: exits with the code it is given after a short while.
  await writeFile(path.join(dir, 'loadgen.ts'), `setTimeout(() => process.exit(Number(process.argv[2] ?? 0)), 100);\n`);
  await mkdir(path.join(root, 'day01'), { recursive: true });
  await writeFile(path.join(root, 'day01', 'receiver.ts'), 'const x: number = ;\n');
  await writeFile(
    path.join(dir, 'shipper.ts'),
    `process.stdin.setEncoding('utf8'); let s = ''; process.stdin.on('data', (d) => (s += d)); process.stdin.on('end', () => { process.stdout.write('log line\\n' + JSON.stringify({ event: 'done', sent: s.split('\\n').filter(Boolean).length }) + '\\n'); });\n`,
  );
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const manifest = (checks: Check[]): DayManifest => ({ lesson: LESSON, checks });
/** runChecks on the test lesson: these checks, seed 1, stopping at the first failure unless `opts` say otherwise. */
const runTest = (checks: Check[], opts: { seed?: number; stopOnFirstFailure?: boolean; only?: string[] } = {}) =>
  runChecks({
    lessonsRoot: root,
    lesson: LESSON,
    seed: 1,
    stopOnFirstFailure: true,
    manifest: manifest(checks),
    ...opts,
  });
const check = (id: string, run: Check['run'], timeoutMs = 20_000): Check => ({
  id,
  title: `title ${id}`,
  points: 5,
  timeoutMs,
  run,
});
const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('runChecks', () => {
  it('start() waits for the ready line; stop() sends SIGTERM and reports the exit; run() collects output', async () => {
    const results = await runTest([
      check('t.1', async (ctx) => {
        const rx = await ctx.start('receiver', []);
        expectEqual(rx.port, 1234, { what: 'port' });
        expectEqual(rx.stdoutLines.length, 1, { what: 'lines' });
        const r = await rx.stop();
        expectEqual([r.exitCode, r.signal, r.timedOut], [0, null, false], { what: 'stop' });
        expectEqual(rx.stdoutLines[1], '{"event":"bye"}', { what: 'bye' });
        const s = await ctx.run('shipper', [], { input: 'a\nb\n' });
        expectEqual(s.exitCode, 0, { what: 'shipper exit' });
        expectEqual(s.json, [{ event: 'done', sent: 2 }], { what: 'json lines' });
        const e = await ctx.run('receiver', ['--exit', '2']);
        expectEqual(e.exitCode, 2, { what: 'exit code' });
        expectEqual(e.stderr, 'bad flag --exit\n', { what: 'stderr' });
      }),
    ]);
    expect(results[0]?.failure).toBeUndefined();
    expect(results[0]?.status).toBe('passed');
  }, 60_000);

  it('a program that exits before its ready line, or prints something else first, is a CheckFailure', async () => {
    const seen: CheckFailure[] = [];
    const results = await runTest(
      [
        check('t.1', async (ctx) => {
          await ctx.start('receiver', ['--exit', '3']).catch((e: CheckFailure) => {
            seen.push(e);
          });
          await ctx.start('receiver', ['--no-ready']);
        }),
      ],
      { stopOnFirstFailure: false },
    );
    expect(seen[0]).toBeInstanceOf(CheckFailure);
    expect(seen[0]?.received).toMatch(/exited \(code 3/);
    expect(seen[0]?.received).toContain('bad flag --exit');
    expect(results[0]?.status).toBe('failed');
    expect(results[0]?.failure?.received).toBe('"hello, not json"');
  }, 60_000);

  it('a check that runs out of time fails, and every process it started is killed', async () => {
    let pid = 0;
    const results = await runTest([
      check(
        't.1',
        async (ctx) => {
          const rx = await ctx.start('receiver', []);
          pid = rx.pid;
          await new Promise(() => undefined); // never finishes
        },
        4000,
      ),
      check('t.2', () => Promise.resolve()),
    ]);
    expect(results.map((r) => r.status)).toEqual(['failed', 'not-run']);
    expect(results[0]?.failure?.timedOut).toBe(true);
    expect(results[0]?.failure?.expected).toContain('4000 ms');
    expect(pid).toBeGreaterThan(0);
    expect(isAlive(pid)).toBe(false);
  }, 60_000);

  it('a failing check stops the run unless told not to; seeds are per check and reproducible', async () => {
    const draws: number[] = [];
    const checks = [
      check('t.1', (ctx) => {
        draws.push(ctx.rng());
        return Promise.reject(new CheckFailure({ expected: 'e', received: 'r', where: 'w', hint: 'h' }));
      }),
      check('t.2', (ctx) => {
        draws.push(ctx.rng());
        return Promise.resolve();
      }),
    ];
    const a = await runTest(checks, { seed: 42 });
    expect(a.map((r) => r.status)).toEqual(['failed', 'not-run']);
    expect(a[0]?.failure).toEqual({ expected: 'e', received: 'r', where: 'w', hint: 'h' });
    const b = await runTest(checks, { seed: 42, stopOnFirstFailure: false });
    expect(b.map((r) => r.status)).toEqual(['failed', 'passed']);
    const c = await runTest(checks, { seed: 42, stopOnFirstFailure: false, only: ['t.2'] });
    expect(c.map((r) => r.id)).toEqual(['t.2']);
    expect(draws[0]).toBe(draws[1]);
    expect(draws[2]).toBe(draws[3]);
    expect(draws[0]).not.toBe(draws[2]);
  });

  it('an unknown lesson, a missing lesson dir or an unknown check id is a HarnessError', async () => {
    await expect(
      runChecks({ lessonsRoot: root, lesson: 'day99', seed: 1, stopOnFirstFailure: true }),
    ).rejects.toMatchObject({ code: 'LS_ERR_UNKNOWN_LESSON' });
    await expect(
      runChecks({ lessonsRoot: path.join(root, 'nope'), lesson: 'day08', seed: 1, stopOnFirstFailure: true }),
    ).rejects.toMatchObject({ code: 'LS_ERR_LESSON_MISSING' });
    await expect(
      runChecks({
        lessonsRoot: path.join(REPO_ROOT, 'lessons'),
        lesson: 'day08',
        seed: 1,
        stopOnFirstFailure: true,
        only: ['d08.99'],
      }),
    ).rejects.toMatchObject({ code: 'LS_ERR_UNKNOWN_CHECK' });
  });

  it('tmp() dirs are removed after the check', async () => {
    let dir = '';
    await runTest([
      check('t.1', async (ctx) => {
        dir = await ctx.tmp();
        await writeFile(path.join(dir, 'f'), 'x');
      }),
    ]);
    const { existsSync } = await import('node:fs');
    expect(dir).not.toBe('');
    expect(existsSync(dir)).toBe(false);
  });
});

describe('a wait ends as soon as a program it depends on exited on its own (watchdog)', () => {
  const never = { timeoutMs: 20_000, what: 'something that never comes', where: 'nowhere' };

  it('a receiver that crashes ends the wait at once, with its exit code and the error line', async () => {
    const t0 = Date.now();
    const [r] = await runTest([
      check('t.1', async (ctx) => {
        await ctx.start('receiver', ['--die-after', '100']);
        await waitFor(() => false, never);
      }),
    ]);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(r?.status).toBe('failed');
    expect(r?.failure?.expected).toContain('something that never comes');
    expect(r?.failure?.received).toMatch(/the receiver \(`receiver.ts --die-after 100`, pid \d+\) exited with code 1/);
    expect(r?.failure?.received).toMatch(/error: \S+receiver.ts:\d+:\d+ Error: died on purpose/);
  }, 60_000);

  it('a program the check stopped, or a watched one that finished (exit 0), does not end a wait; a watched one exiting 1 does', async () => {
    const results = await runTest(
      [
        check('t.1', async (ctx) => {
          const rx = await ctx.start('receiver', []);
          await rx.stop();
          const w = ctx.watch('loadgen', ['0']);
          await waitFor(() => w.exited(), { timeoutMs: 5000, what: 'the exit' });
          await waitFor(() => false, { ...never, timeoutMs: 1500 });
        }),
        check('t.2', async (ctx) => {
          ctx.watch('loadgen', ['1']);
          await waitFor(() => false, never);
        }),
      ],
      { stopOnFirstFailure: false },
    );
    expect(results[0]?.failure?.expected).toMatch(/within 1500 ms/);
    expect(results[1]?.failure?.received).toMatch(/the loadgen \(`loadgen.ts 1`, pid \d+\) exited with code 1/);
    expect(results[1]?.ms).toBeLessThan(10_000);
  }, 60_000);

  it('a program that does not compile: the ready-line failure shows the file:line:col line whole', async () => {
    const [r] = await runChecks({
      lessonsRoot: root,
      lesson: 'day01',
      seed: 1,
      stopOnFirstFailure: true,
      manifest: { lesson: 'day01', checks: [check('t.1', async (ctx) => void (await ctx.start('receiver', [])))] },
    });
    expect(r?.failure?.received).toContain(
      `error: ${path.join(root, 'day01', 'receiver.ts')}:1:18: ERROR: Unexpected ";"`,
    );
  }, 60_000);
});
