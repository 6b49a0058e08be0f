// The three kinds of lesson copies on a small fake repository: the fixtures' (linked), the starter's
// (sealed: nothing leads back), the grader's staging (the learner's lessons beside the reference shared/).
import { existsSync, lstatSync, readFileSync, readlinkSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyLesson, dayNumber, lessonsBefore, stageLessons, writeSealedCopy } from './lesson-copy.ts';

let tmp: string;
let repo: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lesson-copy-test-'));
  repo = path.join(tmp, 'repo');
  for (const d of ['day08', 'day09', 'day10', 'stack']) {
    await mkdir(path.join(repo, 'lessons', d), { recursive: true });
    await writeFile(path.join(repo, 'lessons', d, 'receiver.ts'), `// ${d}\n`);
  }
  await mkdir(path.join(repo, 'lessons', 'day09', 'data'), { recursive: true });
  await writeFile(path.join(repo, 'lessons', 'day09', 'data', 'x.ndjson'), '{}\n');
  await mkdir(path.join(repo, 'shared', 'protocol'), { recursive: true });
  await writeFile(path.join(repo, 'shared', 'protocol', 'codec.ts'), 'export const x = 1;\n');
  await mkdir(path.join(repo, 'node_modules', 'pkg', 'bin'), { recursive: true });
  await writeFile(path.join(repo, 'node_modules', 'pkg', 'index.js'), 'module.exports = 1;\n');
  await writeFile(path.join(repo, 'node_modules', 'pkg', 'bin', 'cli.js'), '#!/usr/bin/env node\n');
  await mkdir(path.join(repo, 'node_modules', '.bin'), { recursive: true });
  await symlink('../pkg/bin/cli.js', path.join(repo, 'node_modules', '.bin', 'pkg'));
  await mkdir(path.join(repo, 'node_modules', '.vite'), { recursive: true });
  await writeFile(
    path.join(repo, 'package.json'),
    JSON.stringify({ name: 'x', type: 'module', dependencies: { pkg: '1.0.0' } }),
  );
  await writeFile(
    path.join(repo, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { strict: true }, include: ['checks/**/*.ts'] }),
  );
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('course order', () => {
  it('a day needs the earlier days (by number, from the name); a capstone lesson needs every day', () => {
    const all = ['day10', 'day08', 'scale', 'day09', 'stack', 'day14'];
    expect(lessonsBefore('day08', all)).toEqual([]);
    expect(lessonsBefore('day10', all)).toEqual(['day08', 'day09']);
    expect(lessonsBefore('day14', all)).toEqual(['day08', 'day09', 'day10']);
    expect(lessonsBefore('stack', all)).toEqual(['day08', 'day09', 'day10', 'day14']);
    expect([dayNumber('day09'), dayNumber('stack')]).toEqual([9, undefined]);
  });
});

describe('copyLesson (fixtures: internal, linked)', () => {
  it('copies the lesson, links the earlier days, shared and node_modules, and leaves later days out', async () => {
    const dest = path.join(tmp, 'fx');
    const root = await copyLesson({
      repoRoot: repo,
      lesson: 'day09',
      destRoot: dest,
      transform: (_r, t) => t.replace('day09', 'patched'),
    });
    expect(readFileSync(path.join(root, 'day09', 'receiver.ts'), 'utf8')).toBe('// patched\n');
    expect(readlinkSync(path.join(root, 'day08'))).toBe(path.join(repo, 'lessons', 'day08'));
    expect(existsSync(path.join(root, 'day10')) || existsSync(path.join(root, 'stack'))).toBe(false);
    expect(readlinkSync(path.join(dest, 'shared'))).toBe(path.join(repo, 'shared'));
    const stack = await copyLesson({ repoRoot: repo, lesson: 'stack', destRoot: path.join(tmp, 'fx-stack') });
    expect(readdirSync(stack).sort()).toEqual(['day08', 'day09', 'day10', 'stack']);
  });
});

describe('writeSealedCopy (the starter)', () => {
  it('holds copies of everything it needs, and no link or path back into the repository', async () => {
    const dest = path.join(tmp, 'sealed');
    const r = await writeSealedCopy({
      repoRoot: repo,
      lesson: 'day10',
      destRoot: dest,
      transform: (_r, t) => t.replace('day10', 'stubbed'),
    });
    expect(readdirSync(r.lessonsRoot).sort()).toEqual(['day08', 'day09', 'day10']);
    expect(readFileSync(path.join(r.lessonsRoot, 'day10', 'receiver.ts'), 'utf8')).toBe('// stubbed\n');
    expect(existsSync(path.join(r.lessonsRoot, 'day09', 'data')), 'data/ folders are not copied').toBe(false);
    expect(r.earlier.map((e) => e.from)).toEqual(['reference', 'reference']);
    for (const name of ['lessons', 'shared', 'node_modules'])
      expect(lstatSync(path.join(dest, name)).isDirectory()).toBe(true);
    expect(readFileSync(path.join(dest, 'shared', 'protocol', 'codec.ts'), 'utf8')).toBe('export const x = 1;\n');
    expect(r.nodeModules).toBe('hardlinked');
    expect(lstatSync(path.join(dest, 'node_modules', 'pkg', 'index.js')).nlink).toBe(2);
    expect(
      readlinkSync(path.join(dest, 'node_modules', '.bin', 'pkg')),
      'relative links inside node_modules stay relative',
    ).toBe('../pkg/bin/cli.js');
    expect(existsSync(path.join(dest, 'node_modules', '.vite')), 'tool caches left out').toBe(false);
    expect(JSON.parse(readFileSync(path.join(dest, 'package.json'), 'utf8'))).toMatchObject({
      type: 'module',
      dependencies: { pkg: '1.0.0' },
    });
    expect(JSON.parse(readFileSync(path.join(dest, 'tsconfig.json'), 'utf8'))).toMatchObject({
      compilerOptions: { strict: true },
      include: ['shared/**/*.ts', 'lessons/**/*.ts'],
    });
    for (const f of ['package.json', 'tsconfig.json'])
      expect(readFileSync(path.join(dest, f), 'utf8')).not.toContain(repo);
  });

  it('takes the earlier days from --from where the learner has them; refuses a folder that is not empty', async () => {
    const mine = path.join(tmp, 'mine', 'lessons');
    await mkdir(path.join(mine, 'day09'), { recursive: true });
    await writeFile(path.join(mine, 'day09', 'receiver.ts'), '// mine\n');
    const dest = path.join(tmp, 'sealed-from');
    const r = await writeSealedCopy({ repoRoot: repo, lesson: 'day10', destRoot: dest, fromLessonsRoot: mine });
    expect(r.earlier.map((e) => [e.lesson, e.from])).toEqual([
      ['day08', 'reference'],
      ['day09', 'yours'],
    ]);
    expect(readFileSync(path.join(r.lessonsRoot, 'day09', 'receiver.ts'), 'utf8')).toBe('// mine\n');
    await expect(writeSealedCopy({ repoRoot: repo, lesson: 'day10', destRoot: dest })).rejects.toMatchObject({
      code: 'LS_ERR_BAD_FLAG',
    });
    await expect(
      writeSealedCopy({ repoRoot: repo, lesson: 'day10', destRoot: path.join(repo, 'my-course', 'x') }),
      'inside the repository',
    ).rejects.toMatchObject({ code: 'LS_ERR_BAD_FLAG' });
  });
});

describe('stageLessons (the grader)', () => {
  it("copies the learner's lessons (never links them) beside links to the reference shared and node_modules", async () => {
    const learner = path.join(tmp, 'learner', 'lessons');
    await mkdir(path.join(learner, 'day08'), { recursive: true });
    await writeFile(path.join(learner, 'day08', 'receiver.ts'), '// learner\n');
    await mkdir(path.join(tmp, 'learner', 'shared'), { recursive: true });
    const dest = path.join(tmp, 'stage');
    const root = await stageLessons({
      repoRoot: repo,
      sourceLessonsRoot: learner,
      lessons: ['day08', 'day09'],
      destRoot: dest,
    });
    expect(lstatSync(path.join(root, 'day08')).isSymbolicLink()).toBe(false);
    expect(readFileSync(path.join(root, 'day08', 'receiver.ts'), 'utf8')).toBe('// learner\n');
    expect(existsSync(path.join(root, 'day09'))).toBe(false);
    expect(readlinkSync(path.join(dest, 'shared'))).toBe(path.join(repo, 'shared'));
    expect(readlinkSync(path.join(dest, 'node_modules'))).toBe(path.join(repo, 'node_modules'));
  });
});
