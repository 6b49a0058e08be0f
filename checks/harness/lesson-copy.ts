// Copies of lessons outside lessons/, three kinds (issue 16):
//   copyLesson      (fixtures, internal, cheap): the lesson copied (a defect patched in), the lessons it
//                   imports (the earlier days) and the repo's shared/ and node_modules/ SYMLINKED.
//   writeSealedCopy (the learner's starter): nothing leads back into the repository. Earlier days copied
//                   (the reference's, or the learner's own with --from), day N transformed (solutions
//                   stubbed), no later day, no checks or fixtures, a real copy of shared/, a package.json
//                   and tsconfig.json, node_modules hardlinked (`cp -al`) or copied.
//   stageLessons    (the grader, internal): the learner's days COPIED beside links to the reference
//                   shared/ and node_modules/. Copied, not linked: Node resolves a module's imports from
//                   its real path, so a linked lesson would import the learner's shared/, not the reference.
import { execFile } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { copyFile, lstat, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { HarnessError } from './errors.ts';

const run = promisify(execFile);

const DAY = /^day(\d+)$/;

/** 8 for "day08"; undefined for a lesson that is not a day (stack, scale). */
export function dayNumber(lesson: string): number | undefined {
  const m = DAY.exec(lesson);
  return m ? Number(m[1]) : undefined;
}

/**
 * The lessons a copy of `lesson` needs beside it, in course order: the earlier days (by number from the
 * name: day08 < day09 < … < day14) for a day, and every day for a capstone lesson (stack, scale may
 * import any day). A later lesson imports earlier ones, never the reverse (issue 16, goal 1).
 */
export function lessonsBefore(lesson: string, available: readonly string[]): string[] {
  const n = dayNumber(lesson);
  return available
    .filter((l) => l !== lesson && dayNumber(l) !== undefined && (n === undefined || (dayNumber(l) as number) < n))
    .sort((a, b) => (dayNumber(a) as number) - (dayNumber(b) as number));
}

/** The lesson folders under a lessons root (names only). */
export async function listLessons(lessonsRoot: string): Promise<string[]> {
  if (!existsSync(lessonsRoot)) return [];
  return (await readdir(lessonsRoot, { withFileTypes: true }))
    .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
    .map((d) => d.name)
    .sort();
}

const TEXT = /\.(ts|js|mjs|cjs|json|md|txt|ndjson|yml|yaml)$/;

/** Every file of a folder (relative paths, sorted), without node_modules, data/ and dot entries. */
export async function lessonFiles(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${d.name}` : d.name;
    if (d.name === 'node_modules' || d.name === 'data' || d.name.startsWith('.')) continue;
    if (d.isDirectory()) out.push(...(await lessonFiles(dir, r)));
    else if (d.isFile()) out.push(r);
  }
  return out.sort();
}

async function copyTree(
  from: string,
  to: string,
  opts: { transform?: (rel: string, text: string) => string; skip?: (rel: string) => boolean } = {},
): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const rel of await lessonFiles(from)) {
    if (opts.skip?.(rel)) continue;
    const dest = path.join(to, rel);
    await mkdir(path.dirname(dest), { recursive: true });
    if (opts.transform && TEXT.test(rel))
      await writeFile(dest, opts.transform(rel, await readFile(path.join(from, rel), 'utf8')));
    else await copyFile(path.join(from, rel), dest);
  }
}

async function replaceWithLink(target: string, link: string): Promise<void> {
  if (
    await lstat(link).then(
      () => true,
      () => false,
    )
  )
    await rm(link, { recursive: true, force: true });
  await mkdir(path.dirname(link), { recursive: true });
  await symlink(target, link, 'dir');
}

async function writeEsmPackageJson(destRoot: string, name: string, extra: Record<string, unknown> = {}): Promise<void> {
  const pkg = path.join(destRoot, 'package.json');
  // The lesson's .ts files are ES modules: outside the repo they need a package.json that says so.
  if (!existsSync(pkg))
    await writeFile(pkg, `${JSON.stringify({ name, private: true, type: 'module', ...extra }, null, 2)}\n`);
}

export interface CopyLessonOptions {
  repoRoot: string;
  lesson: string;
  /** Where the lessons come from; default `<repoRoot>/lessons`. */
  sourceLessonsRoot?: string;
  /** The new root: gets `lessons/<lesson>/`, the earlier lessons, `shared`, `node_modules`. */
  destRoot: string;
  /** Rewrites a text file (path relative to the lesson dir); return the new text. */
  transform?: (relPath: string, text: string) => string;
  /** Leave a file out (path relative to the lesson dir). */
  skip?: (relPath: string) => boolean;
  /** Remove destRoot first. */
  clean?: boolean;
}

/**
 * The fixtures' copy (internal): the lesson copied, the lessons it may import (lessonsBefore) and the
 * repo's shared/ and node_modules/ symlinked. Returns the new lessons root (`<destRoot>/lessons`).
 */
export async function copyLesson(opts: CopyLessonOptions): Promise<string> {
  const lessonsSrc = opts.sourceLessonsRoot ?? path.join(opts.repoRoot, 'lessons');
  const source = path.join(lessonsSrc, opts.lesson);
  if (!existsSync(source)) throw new HarnessError('LS_ERR_LESSON_MISSING', `no lesson folder ${source}`);
  if (opts.clean) await rm(opts.destRoot, { recursive: true, force: true });
  const lessonsRoot = path.join(opts.destRoot, 'lessons');
  await copyTree(source, path.join(lessonsRoot, opts.lesson), {
    ...(opts.transform ? { transform: opts.transform } : {}),
    ...(opts.skip ? { skip: opts.skip } : {}),
  });
  for (const other of lessonsBefore(opts.lesson, await listLessons(lessonsSrc))) {
    await replaceWithLink(path.join(lessonsSrc, other), path.join(lessonsRoot, other));
  }
  await writeEsmPackageJson(opts.destRoot, `logstream-lab-${opts.lesson}-copy`);
  for (const name of ['shared', 'node_modules'])
    await replaceWithLink(path.join(opts.repoRoot, name), path.join(opts.destRoot, name));
  return lessonsRoot;
}

export interface SealedCopyOptions {
  repoRoot: string;
  lesson: string;
  /** An empty or absent folder: gets lessons/, shared/, node_modules/, package.json, tsconfig.json. */
  destRoot: string;
  /** Rewrites a text file of the lesson itself (day N); path relative to its folder. */
  transform?: (relPath: string, text: string) => string;
  /** The learner's lessons root: earlier days are taken from here when present (`--from`). */
  fromLessonsRoot?: string;
}

export interface SealedCopy {
  lessonsRoot: string;
  /** The earlier days in the copy and where each came from. */
  earlier: Array<{ lesson: string; from: 'reference' | 'yours'; dir: string }>;
  /** How node_modules was made. */
  nodeModules: 'hardlinked' | 'copied';
}

/** Real paths: is `p` (which may not exist yet) `root` or inside it? */
export function isInside(root: string, p: string): boolean {
  let probe = path.resolve(p);
  const rest: string[] = [];
  while (!existsSync(probe) && path.dirname(probe) !== probe) {
    rest.unshift(path.basename(probe));
    probe = path.dirname(probe);
  }
  const real = path.join(realpathSync(probe), ...rest);
  const r = realpathSync(root);
  return real === r || real.startsWith(`${r}${path.sep}`);
}

/** The folders node_modules may hold that a copy does not need (tool caches with absolute paths). */
const NODE_MODULES_CACHES = ['.vite', '.vite-temp', '.cache'];

/** A copy of the repo's node_modules: hardlinks (`cp -al`, instant, no extra space) or, across filesystems, a plain copy. */
export async function copyNodeModules(repoRoot: string, dest: string): Promise<'hardlinked' | 'copied'> {
  const src = path.join(repoRoot, 'node_modules');
  if (!existsSync(src)) throw new HarnessError('LS_ERR_HARNESS', `no ${src}: run npm ci in the repository first`);
  let how: 'hardlinked' | 'copied' = 'hardlinked';
  try {
    await run('cp', ['-al', src, dest]);
  } catch {
    // EXDEV (another filesystem) or a cp without -l: a plain copy.
    await rm(dest, { recursive: true, force: true });
    await run('cp', ['-a', src, dest]);
    how = 'copied';
  }
  for (const c of NODE_MODULES_CACHES) await rm(path.join(dest, c), { recursive: true, force: true });
  return how;
}

/**
 * The learner's starter (issue 16, goal 2): a folder that holds everything day N needs and nothing that
 * leads back into the repository (no symlink, no path), and no answer to day N's TODOs.
 */
export async function writeSealedCopy(opts: SealedCopyOptions): Promise<SealedCopy> {
  const refLessons = path.join(opts.repoRoot, 'lessons');
  const source = path.join(refLessons, opts.lesson);
  if (!existsSync(source)) throw new HarnessError('LS_ERR_LESSON_MISSING', `no lesson folder ${source}`);
  if (isInside(opts.repoRoot, opts.destRoot)) {
    throw new HarnessError(
      'LS_ERR_BAD_FLAG',
      `${opts.destRoot} is inside the repository: a starter goes into a folder of its own, outside ${opts.repoRoot}`,
    );
  }
  if (existsSync(opts.destRoot) && (await readdir(opts.destRoot)).length > 0) {
    throw new HarnessError(
      'LS_ERR_BAD_FLAG',
      `${opts.destRoot} is not empty: a starter goes into a new folder (carry your earlier days over with --from <your lessons folder>)`,
    );
  }
  if (opts.fromLessonsRoot && !existsSync(opts.fromLessonsRoot))
    throw new HarnessError('LS_ERR_LESSON_MISSING', `no lessons folder ${opts.fromLessonsRoot} (--from)`);
  const lessonsRoot = path.join(opts.destRoot, 'lessons');
  await copyTree(source, path.join(lessonsRoot, opts.lesson), opts.transform ? { transform: opts.transform } : {});
  const earlier: SealedCopy['earlier'] = [];
  for (const day of lessonsBefore(opts.lesson, await listLessons(refLessons))) {
    const mine = opts.fromLessonsRoot ? path.join(opts.fromLessonsRoot, day) : undefined;
    const from = mine && existsSync(mine) ? mine : path.join(refLessons, day);
    await copyTree(from, path.join(lessonsRoot, day));
    earlier.push({ lesson: day, from: from === mine ? 'yours' : 'reference', dir: from });
  }
  await copyTree(path.join(opts.repoRoot, 'shared'), path.join(opts.destRoot, 'shared'));
  const repoPkg = JSON.parse(await readFile(path.join(opts.repoRoot, 'package.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  await writeEsmPackageJson(opts.destRoot, `logstream-lab-${opts.lesson}-starter`, {
    description: `LogStream Lab: the starter of ${opts.lesson}`,
    ...(repoPkg['engines'] ? { engines: repoPkg['engines'] } : {}),
    ...(repoPkg['dependencies'] ? { dependencies: repoPkg['dependencies'] } : {}),
    ...(repoPkg['devDependencies'] ? { devDependencies: repoPkg['devDependencies'] } : {}),
  });
  const repoTs = JSON.parse(await readFile(path.join(opts.repoRoot, 'tsconfig.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  await writeFile(
    path.join(opts.destRoot, 'tsconfig.json'),
    `${JSON.stringify({ compilerOptions: repoTs['compilerOptions'], include: ['shared/**/*.ts', 'lessons/**/*.ts'], exclude: ['node_modules'] }, null, 2)}\n`,
  );
  const nodeModules = await copyNodeModules(opts.repoRoot, path.join(opts.destRoot, 'node_modules'));
  return { lessonsRoot, earlier, nodeModules };
}

/**
 * The grader's staging root (internal): copies of the learner's lessons (`lessons` of them) beside links
 * to the REFERENCE shared/ and node_modules/, so a submission always runs against the reference shared/.
 */
export async function stageLessons(opts: {
  repoRoot: string;
  sourceLessonsRoot: string;
  lessons: readonly string[];
  destRoot: string;
}): Promise<string> {
  const lessonsRoot = path.join(opts.destRoot, 'lessons');
  await rm(opts.destRoot, { recursive: true, force: true });
  await mkdir(lessonsRoot, { recursive: true });
  for (const l of opts.lessons) {
    const from = path.join(opts.sourceLessonsRoot, l);
    if (existsSync(from)) await copyTree(from, path.join(lessonsRoot, l));
  }
  await writeEsmPackageJson(opts.destRoot, 'logstream-lab-graded-copy');
  for (const name of ['shared', 'node_modules'])
    await replaceWithLink(path.join(opts.repoRoot, name), path.join(opts.destRoot, name));
  return lessonsRoot;
}
