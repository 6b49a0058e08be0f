// The sealed starter of every day (issue 16, goals 2 and 3), with real files and real processes:
//   sealed: no symlink leads out of the copy, no repository path in its files, no later day, no checks or
//           fixtures, and no file outside lessons/dayNN holds the text of one of dayNN's solution regions;
//   earned: the untouched starter FAILS every check of the day that is not given (so each point is earned).
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dayNumber, lessonsBefore } from '../checks/harness/lesson-copy.ts';
import { REPO_ROOT, knownLessons, loadManifest, runChecks } from '../checks/harness/runner.ts';
import { lessonRegions } from '../checks/harness/todos.ts';
import { main, writeStarter } from './starter.ts';

const seed = Number(process.env['CHECKS_SEED'] ?? 20261126);
let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'starter-test-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Every entry under root (relative), symlinks not followed. */
function walkAll(root: string, rel = '', out: Array<{ rel: string; link: boolean; dir: boolean }> = []) {
  for (const d of readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${d.name}` : d.name;
    out.push({ rel: r, link: d.isSymbolicLink(), dir: d.isDirectory() });
    if (d.isDirectory()) walkAll(root, r, out);
  }
  return out;
}

const inside = (root: string, p: string) => p === root || p.startsWith(`${root}${path.sep}`);

/** Symlinks whose target (resolved from where the link sits) is outside the copy. */
function linksOut(root: string): string[] {
  return walkAll(root)
    .filter((e) => e.link)
    .map((e) => {
      const at = path.join(root, e.rel);
      return { at: e.rel, to: path.resolve(path.dirname(at), readlinkSync(at)) };
    })
    .filter((l) => !inside(root, l.to))
    .map((l) => `${l.at} -> ${l.to}`);
}

/**
 * Each solution region of a day with its lines worth searching for elsewhere: long enough to be specific
 * (≥ 30 characters trimmed) and not also left in the starter (a line the starter shows is no answer).
 */
/**
 * A line that is only one argument or one `key: value` of a call or literal split over lines
 * (`persisted: stats.records.persisted,`) says nothing about the answer: formatted code has many of them.
 */
const PLAIN_ITEM = /^[\w$.'"`[\]]+(\s*:\s*[\w$.'"`[\]()?]+)?,?$/;

function distinctiveRegions(lessonDir: string, starterDir: string): Array<{ where: string; lines: string[] }> {
  const starterText = readdirSync(starterDir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => readFileSync(path.join(starterDir, f), 'utf8'))
    .join('\n');
  return lessonRegions(lessonDir)
    .map((r) => ({
      where: `${r.file}:${r.line} [${r.ids.join(', ')}]`,
      lines: [
        ...new Set(
          r.body.map((l) => l.trim()).filter((t) => t.length >= 30 && !PLAIN_ITEM.test(t) && !starterText.includes(t)),
        ),
      ],
    }))
    .filter((r) => r.lines.length > 0);
}

/**
 * A file holds a region's text when it holds two of its distinctive lines, or the only one it has: a
 * single shared line is usually an idiom (`await new Promise((r) => setTimeout(r, ms))`), two are a copy.
 */
function holds(text: string, region: { lines: string[] }): string[] {
  const found = region.lines.filter((l) => text.includes(l));
  return found.length >= Math.min(2, region.lines.length) ? found : [];
}

const TEXT_FILE = /\.(ts|js|mjs|cjs|json|md|txt|ya?ml)$/;

for (const lesson of knownLessons().filter((l) => dayNumber(l) !== undefined)) {
  describe(`starter ${lesson}`, () => {
    let starter: Awaited<ReturnType<typeof writeStarter>>;
    let out: string;
    beforeAll(async () => {
      out = path.join(tmp, lesson);
      starter = await writeStarter({ lesson, out });
    }, 60_000);

    it('has TODOs naming real checks, and every check that is not given is named by a TODO', async () => {
      const manifest = await loadManifest(lesson);
      expect(starter.regions.length, 'solution regions in the lesson').toBeGreaterThan(0);
      const named = new Set(starter.regions.flatMap((r) => r.ids));
      expect(
        [...named].filter((id) => !manifest.checks.some((c) => c.id === id)),
        'TODOs naming unknown check ids',
      ).toEqual([]);
      const unnamed = manifest.checks.filter((c) => !c.given && !named.has(c.id)).map((c) => c.id);
      expect(unnamed, 'checks (not given) that no TODO names: the grader cannot say what they depend on').toEqual([]);
      for (const c of manifest.checks.filter((x) => x.given)) expect(c.points, `${c.id} is given: 0 points`).toBe(0);
      for (const f of readdirSync(starter.lessonDir, { recursive: true, encoding: 'utf8' }).filter((x) =>
        x.endsWith('.ts'),
      )) {
        expect(readFileSync(path.join(starter.lessonDir, f), 'utf8'), f).not.toMatch(/@solution|@end-solution|@stub/);
      }
    });

    it('is sealed: nothing leads back into the repository, no later day, no checks or fixtures', () => {
      const root = realpathSync(out);
      expect(inside(realpathSync(REPO_ROOT), root), 'the test copy lies outside the repository').toBe(false);
      for (const name of ['lessons', 'shared', 'node_modules']) {
        expect(lstatSync(path.join(out, name)).isDirectory(), `${name}/ is a real folder`).toBe(true);
      }
      for (const name of ['package.json', 'tsconfig.json'])
        expect(lstatSync(path.join(out, name)).isFile(), name).toBe(true);
      expect(JSON.parse(readFileSync(path.join(out, 'package.json'), 'utf8'))).toMatchObject({ type: 'module' });
      expect(linksOut(root), 'symlinks leading out of the copy').toEqual([]);
      const days = readdirSync(path.join(out, 'lessons')).sort();
      expect(days, 'the lessons in the copy: the earlier days and this one').toEqual(
        [...lessonsBefore(lesson, knownLessons()), lesson].sort(),
      );
      expect(
        existsSync(path.join(out, 'checks')) || existsSync(path.join(out, 'fixtures')),
        'checks or fixtures in the copy',
      ).toBe(false);
      const repoPaths = walkAll(out)
        .filter((e) => !e.dir && !e.link && !e.rel.startsWith('node_modules/') && TEXT_FILE.test(e.rel))
        .filter((e) => readFileSync(path.join(out, e.rel), 'utf8').includes(REPO_ROOT))
        .map((e) => e.rel);
      expect(repoPaths, `files naming the repository path ${REPO_ROOT}`).toEqual([]);
    });

    it(`no file outside lessons/${lesson} holds the text of one of its solution regions`, () => {
      const regions = distinctiveRegions(path.join(REPO_ROOT, 'lessons', lesson), starter.lessonDir);
      const files = walkAll(out).filter(
        (e) =>
          !e.dir &&
          !e.link &&
          TEXT_FILE.test(e.rel) &&
          !e.rel.startsWith('node_modules/') &&
          !e.rel.startsWith(`lessons/${lesson}/`),
      );
      const leaks: string[] = [];
      for (const f of files) {
        const text = readFileSync(path.join(out, f.rel), 'utf8');
        for (const r of regions) {
          const found = holds(text, r);
          if (found.length)
            leaks.push(`${f.rel} holds ${found.length} lines of the region at ${r.where}: ${found.join(' | ')}`);
        }
      }
      expect(leaks, 'the answer to a TODO found outside the day').toEqual([]);
    });

    // The reference passing every check is proven by checks/<day>.test.ts (referenceSuite); here the
    // other half: untouched, the starter earns nothing.
    it('the untouched starter fails every check that is not given', async () => {
      const manifest = await loadManifest(lesson);
      const graded = manifest.checks.filter((c) => !c.given).map((c) => c.id);
      const results = await runChecks({
        lessonsRoot: starter.lessonsRoot,
        lesson,
        seed,
        stopOnFirstFailure: false,
        only: graded,
        concurrency: 3,
      });
      const passed = results.filter((r) => r.status === 'passed');
      expect(
        passed.map((r) => `${r.id} (${r.points} pts) ${r.title}`),
        'checks the untouched starter passes (make them depend on a TODO, or mark them given with 0 points)',
      ).toEqual([]);
    }, 600_000);
  });
}

describe('starter CLI', () => {
  it('exit codes: 0 written; 2 for an unknown or capstone lesson, a missing --out, a folder that is not empty', async () => {
    expect(await main(['day08', '--out', path.join(tmp, 'cli')])).toBe(0);
    expect(existsSync(path.join(tmp, 'cli', 'lessons', 'day08'))).toBe(true);
    expect(await main(['day08', '--out', path.join(tmp, 'cli')])).toBe(2); // not empty: never overwrite work
    expect(await main(['day99', '--out', path.join(tmp, 'cli2')])).toBe(2);
    expect(await main(['stack', '--out', path.join(tmp, 'cli3')])).toBe(2);
    expect(await main(['day08'])).toBe(2);
  }, 60_000);

  it('--from carries the learner’s own earlier days (the reference where they have none)', async () => {
    const mine = path.join(tmp, 'mine', 'lessons');
    await mkdir(path.join(mine, 'day08'), { recursive: true });
    await writeFile(path.join(mine, 'day08', 'receiver.ts'), '// my own day 08\n');
    const r = await writeStarter({ lesson: 'day10', out: path.join(tmp, 'from'), from: mine });
    expect(r.earlier.map((e) => [e.lesson, e.from])).toEqual([
      ['day08', 'yours'],
      ['day09', 'reference'],
    ]);
    expect(readFileSync(path.join(r.lessonsRoot, 'day08', 'receiver.ts'), 'utf8')).toBe('// my own day 08\n');
    expect(existsSync(path.join(r.lessonsRoot, 'day09', 'receiver.ts'))).toBe(true);
    expect(existsSync(path.join(r.lessonsRoot, 'day11'))).toBe(false);
  }, 60_000);

  it('--reveal writes nothing while the day does not pass every check (exit 1)', async () => {
    const s = await writeStarter({ lesson: 'day08', out: path.join(tmp, 'reveal') });
    expect(await main(['day08', '--reveal', '--lessons', s.lessonsRoot])).toBe(1);
    expect(existsSync(path.join(tmp, 'reveal', 'solutions'))).toBe(false);
    expect(await main(['day08', '--reveal'])).toBe(2); // --lessons is needed
  }, 120_000);
});
