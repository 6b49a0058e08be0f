// scripts/stack.ts keeps the process contract (CONVENTIONS.md §2): --help, exit 2 with one line naming what is
// wrong (a flag, a config key), before anything is started. The running stack is tested by the capstone
// checks (checks/stack.ts) and in a browser (scripts/stack.browser.test.ts).
import { execa } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './lib/launch.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ls-stack-cli-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const stack = (args: string[]) =>
  execa(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'scripts/stack.ts'), ...args], {
    cwd: REPO_ROOT,
    reject: false,
    timeout: 30_000,
  });

describe('scripts/stack.ts', () => {
  it('--help documents the flags and the ready line, exit 0', async () => {
    const r = await stack(['--help']);
    expect(r.exitCode).toBe(0);
    for (const flag of ['--config', '--lessons-root', '--data-dir', '--lanes', '--any-ports', '--no-demo'])
      expect(r.stdout).toContain(flag);
    expect(r.stdout).toContain('"event":"lane-exit"');
  });

  it.each([
    ['an unknown flag', ['--bogus'], {}],
    ['an unknown lane', ['--lanes', 'day99'], {}],
    ['an unknown lane in the config', [], { lanes: { day99: { enabled: true, port: 1 } } }],
    ['a bad port in the config', [], { lanes: { day08: { port: 70000 } } }],
    ['a bad laneExit', [], { laneExit: 'explode' }],
  ])('exits 2 with one line on stderr for %s', async (_what, args, config) => {
    const file = join(root, `cfg-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(file, JSON.stringify(config));
    const r = await stack(['--config', file, '--no-demo', ...args]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toBe('');
  });
});
