// scripts/run-lesson.ts with real processes (issue 16): `--lessons` runs a learner's copy, a missing day
// is one line and exit 2, day 09's demo cuts the connection once and proves exactly-once storage from the
// receiver's files, and a lesson run never shares a data or state dir with the integrated stack.
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyLesson } from '../checks/harness/lesson-copy.ts';
import { REPO_ROOT } from './lib/launch.ts';
import { LESSONS, lessonRunDirs } from './lib/lessons.ts';
import { LANES, laneDirs } from './lib/stack-lanes.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ls-run-lesson-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** `npm run lesson -- …` as a learner types it, from `cwd` (INIT_CWD: paths are relative to it). */
const lesson = (args: string[], cwd = REPO_ROOT, timeout = 60_000) =>
  execa(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'scripts/run-lesson.ts'), ...args], {
    cwd: REPO_ROOT,
    env: { INIT_CWD: cwd },
    reject: false,
    timeout,
  });

/** A copy of a lesson in root/<dir> whose files `edit` changes (a mark in a program proves which file ran); its folder. */
async function copyOf(lesson: string, dir: string, edit?: (rel: string, text: string) => string): Promise<string> {
  const out = join(root, dir);
  await copyLesson({ repoRoot: REPO_ROOT, lesson, destRoot: out, ...(edit ? { transform: edit } : {}) });
  return out;
}

describe('npm run lesson -- dayNN --lessons DIR', () => {
  it("runs the copy's programs: its receiver and shipper, from DIR/day08", async () => {
    // A plain copy of the reference with a mark in each program: their log lines prove which files ran.
    await copyOf('day08', 'copy08', (rel, text) =>
      rel === 'receiver.ts' || rel === 'shipper.ts' ? `process.stderr.write('COPY-MARK ${rel}\\n');\n${text}` : text,
    );
    // a relative --lessons, as typed in the folder that holds the copy
    const r = await lesson(
      [
        'day08',
        '--once',
        '--port',
        '0',
        '--lessons',
        'copy08/lessons',
        '--data-dir',
        'run08',
        '--',
        '--generate',
        '2000',
      ],
      root,
    );
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain('COPY-MARK receiver.ts');
    expect(r.stderr).toContain('COPY-MARK shipper.ts');
    expect(r.stdout).toContain(`programs  ${join('copy08', 'lessons', 'day08')}`);
    expect(r.stdout).toMatch(/shipper: sent 2000 records/);
    expect(r.stdout).toMatch(/receiver: 2000 persisted/);
    // --data-dir is relative to where npm ran too, and the receiver wrote there
    const ready = JSON.parse(/\{"event":"ready".*\}/.exec(r.stdout)![0]) as { dataDir: string };
    expect(resolve(REPO_ROOT, ready.dataDir)).toBe(join(root, 'run08', 'receiver'));
    expect(
      (
        JSON.parse(await readFile(join(root, 'run08', 'receiver', 'stats.json'), 'utf8')) as {
          records: { persisted: number };
        }
      ).records.persisted,
    ).toBe(2000);
  }, 90_000);

  it('a day the folder does not have: one line naming it, exit 2, nothing started', async () => {
    const r = await lesson(['day09', '--once', '--port', '0', '--lessons', root]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`no day09 in ${root}`);
    expect(r.stdout).toBe('');
    const x = await lesson(['day10', '--experiment', '--lessons', root]);
    expect(x.exitCode).toBe(2);
    expect(x.stderr.trim().split('\n')).toHaveLength(1);
    expect(x.stderr).toContain(`no day10 in ${root}`);
  });

  it("--experiment takes the copy's programs too (day 10: a copy whose receiver exits at once fails the experiment)", async () => {
    const out = await copyOf('day10', 'copy10', (rel, text) =>
      rel === 'receiver.ts' ? "process.stderr.write('COPY-MARK broken receiver\\n');\nprocess.exit(3);\n" : text,
    );
    const tiny = ['--', '--records', '1000', '--rates', 'max', '--rcvbufs', '4MiB', '--udp-only'];
    const broken = await lesson(['day10', '--experiment', '--lessons', join(out, 'lessons'), ...tiny]);
    expect(broken.exitCode).not.toBe(0);
    expect(broken.stderr).toContain('COPY-MARK broken receiver');
    // day 11's experiment lives in its lesson folder: the copy's runs
    await copyOf('day11', 'copy11');
    const own = await lesson(['day11', '--experiment', '--lessons', 'copy11/lessons', '--', '--help'], root);
    expect(own.exitCode, own.stderr).toBe(0);
    expect(own.stderr).toContain(`experiment: npx tsx ${join('copy11', 'lessons', 'day11', 'experiment.ts')} --help`);
    const ok = await lesson(['day10', '--experiment', ...tiny]);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('UDP day 10');
  }, 90_000);
});

describe("day 09's demo: one cut, resend, dedup, stored exactly once", () => {
  it('prints the cut, the resend, duplicates > 0 and exactly-once storage verified from the files', async () => {
    const r = await lesson(
      ['day09', '--once', '--port', '0', '--quiet', '--data-dir', join(root, 'run09')],
      REPO_ROOT,
      90_000,
    );
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    const summary = r.stdout.slice(r.stdout.indexOf('\nsummary'));
    expect(summary).toMatch(
      /network: the proxy cut the connection once, at sent \d+ \/ acked \d+ \(1 connection broken\)/,
    );
    expect(Number(/shipper: (\d+) reconnect/.exec(summary)?.[1])).toBeGreaterThanOrEqual(1);
    expect(Number(/(\d+) records resent/.exec(summary)?.[1])).toBeGreaterThan(0);
    expect(summary).toMatch(/receiver: 200000 persisted/);
    expect(Number(/(\d+) duplicates dropped/.exec(summary)?.[1])).toBeGreaterThan(0);
    expect(summary).toMatch(/stored exactly once: seqs 1\.\.200000 of stream \d+, each once in /);
  }, 120_000);
});

describe('a lesson run and the integrated stack never share a dir', () => {
  const overlaps = (a: string, b: string) => {
    const rel = relative(resolve(REPO_ROOT, a), resolve(REPO_ROOT, b));
    return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
  };
  it("the defaults: data/lesson/<day>/{receiver,shipper} vs the stack config's <dataDir>/<lane>, <lane>-shipper, and the shippers' own data/<day>-shipper", () => {
    const cfg = JSON.parse(readFileSync(join(REPO_ROOT, 'lessons/stack/stack.config.json'), 'utf8')) as {
      dataDir: string;
    };
    const stackDirs = LANES.flatMap((l) => Object.values<string>(laneDirs(cfg.dataDir, l.id)));
    const lessonDirs = LESSONS.flatMap((l) => {
      const d = lessonRunDirs(l.id);
      return [d.run, d.receiver, d.shipper];
    });
    // a program run by hand keeps its own defaults (data/<day>, data/<day>-shipper): neither launcher uses them
    const byHand = LESSONS.flatMap((l) => [join('data', l.id), join('data', `${l.id}-shipper`)]);
    for (const s of stackDirs) {
      for (const d of [...lessonDirs, ...byHand]) expect(overlaps(s, d) || overlaps(d, s), `${s} vs ${d}`).toBe(false);
    }
    for (const d of lessonDirs) {
      for (const h of byHand) expect(overlaps(d, h) || overlaps(h, d), `${d} vs ${h}`).toBe(false);
    }
  });

  it('the stack names its lane dirs under data/stack in its ready line', async () => {
    // --help is enough to see the documented default without starting lanes in the repo's data/
    const r = await execa(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'scripts/stack.ts'), '--help'], {
      cwd: REPO_ROOT,
      reject: false,
    });
    expect(r.stdout).toContain('data/stack');
    // and a real stack run with a config's dataDir keeps <dataDir>/<lane> and the shipper's <dataDir>/<lane>-shipper
    const cfgFile = join(root, 'stack.json');
    await writeFile(cfgFile, JSON.stringify({ dataDir: join(root, 'stack-data'), dashboard: { enabled: false } }));
    const p = execa(
      process.execPath,
      [
        '--import',
        'tsx',
        join(REPO_ROOT, 'scripts/stack.ts'),
        '--config',
        cfgFile,
        '--lanes',
        'day09',
        '--any-ports',
        '--quiet',
      ],
      { cwd: REPO_ROOT, reject: false, timeout: 60_000 },
    );
    const readyLine = await new Promise<string>((res, rej) => {
      let buf = '';
      p.stdout.on('data', (b: Buffer) => {
        buf += b.toString();
        const line = buf.split('\n').find((l) => l.startsWith('{"event":"ready"'));
        if (line) res(line);
      });
      void p.then(() => rej(new Error(`stack exited before its ready line: ${buf}`)));
    });
    const ready = JSON.parse(readyLine) as { lanes: Record<string, { dataDir: string }> };
    expect(resolve(REPO_ROOT, ready.lanes.day09!.dataDir)).toBe(join(root, 'stack-data', 'day09'));
    // the demo shipper's state dir is the stack's own (its lock file holds the shipper's pid)
    await expect.poll(() => existsSync(join(root, 'stack-data', 'day09-shipper')), { timeout: 15_000 }).toBe(true);
    p.kill('SIGTERM');
    const exit = await p;
    expect(exit.exitCode).toBe(0);
  }, 90_000);
});
