// scripts/dashboard.ts keeps the process contract (CONVENTIONS.md §2): --help, exit 2 on a bad flag, a ready
// line with role "dashboard" and the URL, SIGTERM → exit 0. Also scripts/certs.ts as a command.
import { execa } from 'execa';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeStats } from '../shared/dashboard/test-support.ts';
import { REPO_ROOT, startProgram } from './lib/launch.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ls-dash-cli-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const tsx = (file: string, args: string[], env: Record<string, string> = {}) =>
  execa(process.execPath, ['--import', 'tsx', join(REPO_ROOT, file), ...args], { cwd: REPO_ROOT, reject: false, env });

describe('scripts/dashboard.ts', () => {
  it('prints usage for --help and exits 0', async () => {
    const r = await tsx('scripts/dashboard.ts', ['--help']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('--lane <name=dir>');
  });

  it.each([
    [[], 'no lane'],
    [['--lane', 'a=/tmp/x', '--bogus'], 'an unknown flag'],
    [['--lane', 'a=/tmp/x', '--port', 'http'], 'a bad port'],
    [['--lane', 'a=/tmp/x', '--lane', 'a=/tmp/y'], 'a lane twice'],
    [['--lane', '../up=/tmp/x'], 'a bad lane name'],
  ])('exits 2 with one line on stderr for %j (%s)', async (args) => {
    const r = await tsx('scripts/dashboard.ts', args);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toBe('');
  });

  it('announces itself, serves several lanes (flags and LOGSTREAM_LANE), and exits 0 on SIGTERM', async () => {
    await writeStats(join(root, 'one'), { lane: 'one', received: 11 });
    await writeStats(join(root, 'two'), { lane: 'two', received: 22 });
    const p = startProgram({
      name: 'dashboard',
      file: 'scripts/dashboard.ts',
      args: [
        '--lane',
        `one=${join(root, 'one')}`,
        '--lane',
        `two=${join(root, 'two')}`,
        '--port',
        '0',
        '--refresh-ms',
        '100',
      ],
    });
    try {
      const ready = await p.ready;
      expect(ready).toMatchObject({ event: 'ready', role: 'dashboard', transport: 'http', host: '127.0.0.1' });
      expect(ready.url).toBe(`http://127.0.0.1:${ready.port}/`);
      const stats = (await (await fetch(new URL('/api/stats', ready.url as string))).json()) as {
        lanes: Array<{ name: string; totals: { received: number } }>;
      };
      expect(stats.lanes.map((l) => [l.name, l.totals.received])).toEqual([
        ['one', 11],
        ['two', 22],
      ]);
    } finally {
      const exit = await p.stop('SIGTERM');
      expect(exit.exitCode).toBe(0);
    }
    const env = startProgram({
      name: 'dashboard-env',
      file: 'scripts/dashboard.ts',
      args: [],
      env: { LOGSTREAM_LANE: `one=${join(root, 'one')},two=${join(root, 'two')}`, LOGSTREAM_PORT: '0' },
    });
    try {
      const ready = await env.ready;
      expect(ready.lanes).toEqual(['one', 'two']);
    } finally {
      expect((await env.stop('SIGTERM')).exitCode).toBe(0);
    }
  });
});

describe('scripts/certs.ts', () => {
  it('creates the set under --out, keys 0600, and rotates the server certificate on demand', async () => {
    const out = join(root, 'certs');
    const first = await tsx('scripts/certs.ts', ['--out', out, '--json']);
    expect(first.exitCode, first.stderr).toBe(0);
    const a = JSON.parse(first.stdout) as {
      certs: Array<{ what: string; serial: string; signature: string; expired: boolean }>;
    };
    expect(a.certs.map((c) => c.what)).toEqual([
      'dev CA',
      'server',
      'client shipper-1',
      'other CA',
      'other-CA client',
      'expired server',
      'wrong-host server',
    ]);
    expect(a.certs.every((c) => c.signature === 'ecdsa-with-SHA256')).toBe(true);
    expect(a.certs.filter((c) => c.expired).map((c) => c.what)).toEqual(['expired server']);
    expect((await stat(join(out, 'server.key'))).mode & 0o777).toBe(0o600);
    const again = JSON.parse((await tsx('scripts/certs.ts', ['--out', out, '--json'])).stdout) as typeof a;
    expect(again.certs.map((c) => c.serial)).toEqual(a.certs.map((c) => c.serial));
    const rotated = JSON.parse(
      (await tsx('scripts/certs.ts', ['--out', out, '--json', '--rotate-server'])).stdout,
    ) as typeof a;
    const serial = (x: typeof a, what: string) => x.certs.find((c) => c.what === what)!.serial;
    expect(serial(rotated, 'server')).not.toBe(serial(a, 'server'));
    expect(serial(rotated, 'dev CA')).toBe(serial(a, 'dev CA'));
    expect((await tsx('scripts/certs.ts', ['--nope'])).exitCode).toBe(2);
  });
});
