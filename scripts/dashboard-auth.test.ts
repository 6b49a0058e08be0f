// scripts/dashboard.ts asks who you are off loopback (issue 17.2): a token from --token / --token-file,
// or made on the first start in --state-dir (mode 0600, printed once, reused after); without one it never
// serves there. Traffic stays on loopback: --require-auth makes loopback behave like "off loopback".
import { execa } from 'execa';
import { mkdtemp, rm, stat, writeFile, chmod, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeStats } from '../shared/dashboard/test-support.ts';
import { REPO_ROOT, startProgram } from './lib/launch.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ls-dash-auth-cli-'));
  await writeStats(join(root, 'lane'), { lane: 'lane', received: 3 });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const tsx = (args: string[]) =>
  execa(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'scripts/dashboard.ts'), ...args], {
    cwd: REPO_ROOT,
    reject: false,
    timeout: 30_000,
  });
const base = () => ['--lane', `lane=${join(root, 'lane')}`, '--port', '0', '--refresh-ms', '100'];

describe('scripts/dashboard.ts: who may read', () => {
  it('a token it cannot keep or read, or one too short: one line, exit 2, never serving', async () => {
    await writeFile(join(root, 'a-file'), 'not a directory');
    for (const [args, says] of [
      [['--host', '0.0.0.0', '--token-file', join(root, 'missing')], '--token-file'],
      [['--host', '0.0.0.0', '--token', 'short'], '--token'],
      [['--host', '0.0.0.0', '--state-dir', join(root, 'a-file', 'dash')], 'never serves off loopback'],
    ] as const) {
      const r = await tsx([...base(), ...args]);
      expect(r.exitCode, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).toContain(says);
      expect(r.stdout).toBe('');
    }
  });

  it('makes a token on the first start (mode 0600, printed once on stderr), reuses it after; 401 without it, 200 with it', async () => {
    const dataDir = join(root, 'dash');
    const file = join(dataDir, 'dashboard-token');
    const run = async (name: string, check: (url: string) => Promise<void>): Promise<string[]> => {
      const stderr: string[] = [];
      const p = startProgram({
        name,
        file: 'scripts/dashboard.ts',
        args: [...base(), '--require-auth', '--state-dir', dataDir],
        onLog: (line, stream) => void (stream === 'stderr' && stderr.push(line)),
      });
      try {
        const ready = await p.ready;
        expect(ready).toMatchObject({ role: 'dashboard', auth: 'token', tokenFrom: file });
        await check(ready['url'] as string);
      } finally {
        expect((await p.stop('SIGTERM')).exitCode).toBe(0);
      }
      return stderr;
    };
    let token = '';
    const first = await run('dashboard', async (url) => {
      token = (await readFile(file, 'utf8')).trim();
      expect(token.length).toBeGreaterThanOrEqual(40);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect((await fetch(new URL('/api/stats', url))).status).toBe(401);
      expect((await fetch(new URL('/api/stats', url), { headers: { authorization: `Bearer ${token}` } })).status).toBe(
        200,
      );
    });
    expect(first.filter((l) => l.includes(token))).toHaveLength(1);
    const second = await run('dashboard-again', async (url) => {
      expect((await fetch(new URL('/api/health', url), { headers: { authorization: `Bearer ${token}` } })).status).toBe(
        200,
      );
    });
    expect(second.filter((l) => l.includes(token))).toEqual([]); // printed once: the first start only
    // a token file others can read is no secret: refused
    await chmod(file, 0o644);
    const r = await tsx([...base(), '--require-auth', '--state-dir', dataDir]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('chmod 600');
  });

  it('--token-file and loopback without --require-auth: as given', async () => {
    const file = join(root, 'tok');
    await writeFile(file, 'from-a-file-0123456789abcdef\n', { mode: 0o600 });
    const p = startProgram({
      name: 'dashboard-file',
      file: 'scripts/dashboard.ts',
      args: [...base(), '--require-auth', '--token-file', file],
    });
    try {
      const ready = await p.ready;
      expect(ready).toMatchObject({ auth: 'token', tokenFrom: file });
      expect(
        (
          await fetch(new URL('/metrics', ready['url'] as string), {
            headers: { authorization: 'Bearer from-a-file-0123456789abcdef' },
          })
        ).status,
      ).toBe(200);
    } finally {
      await p.stop('SIGTERM');
    }
    const open = startProgram({ name: 'dashboard-loopback', file: 'scripts/dashboard.ts', args: base() });
    try {
      const ready = await open.ready;
      expect(ready).toMatchObject({ auth: 'none' });
      expect((await fetch(new URL('/api/health', ready['url'] as string))).status).toBe(200);
    } finally {
      await open.stop('SIGTERM');
    }
  });
});
