// Issue 18, item 1: every receiver locks its data dir (FileSink.open takes `<data-dir>/sink.lock`). A
// second receiver on the same --data-dir exits 2 with one line naming the flag; a lock left by a
// receiver killed with SIGKILL is taken over by the next one.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startProgram, type Program } from '../scripts/lib/launch.ts';

const running: Program[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop('SIGKILL')));
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

function receiver(dataDir: string): Program {
  let stderr = '';
  const p = startProgram({
    name: 'day08 receiver',
    file: 'lessons/day08/receiver.ts',
    args: ['--port', '0', '--data-dir', dataDir],
    onLog: (line, stream) => {
      if (stream === 'stderr') stderr += `${line}\n`;
    },
  });
  running.push(p);
  Object.defineProperty(p, 'stderr', { get: () => stderr });
  return p;
}

describe('one receiver per --data-dir', () => {
  it('a second receiver exits 2 naming --data-dir; after kill -9 the next one takes the lock over', async () => {
    const dataDir = await mkdtemp(join(os.tmpdir(), 'rx-lock-'));
    dirs.push(dataDir);
    const a = receiver(dataDir);
    await a.ready;
    const lock = JSON.parse(await readFile(join(dataDir, 'sink.lock'), 'utf8')) as { pid: number };
    const readyA = await a.ready;
    expect(lock.pid).toBe(readyA['pid']);

    const b = receiver(dataDir);
    const exitB = await b.exit;
    expect(exitB.exitCode).toBe(2);
    const stderrB = (b as unknown as { stderr: string }).stderr;
    expect(stderrB).toMatch(
      new RegExp(
        `^lessons/day08/receiver\\.ts: --data-dir: .* is in use by the process with pid ${lock.pid}: give each receiver its own --data-dir$`,
        'm',
      ),
    );

    process.kill(lock.pid, 'SIGKILL');
    await a.exit;
    const c = receiver(dataDir);
    const readyC = await c.ready;
    expect(JSON.parse(await readFile(join(dataDir, 'sink.lock'), 'utf8'))).toMatchObject({ pid: readyC['pid'] });
    const exitC = await c.stop('SIGTERM');
    expect(exitC.exitCode).toBe(0);
    await expect(readFile(join(dataDir, 'sink.lock'), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' }); // released at exit
  });
});
