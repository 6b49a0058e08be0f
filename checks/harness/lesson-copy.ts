// Copies a lesson into a folder of its own that still runs: `<root>/lessons/<lesson>/` plus
// `<root>/shared` and `<root>/node_modules` symlinked to the repo's and a package.json (ESM), so `../../shared/…` imports
// and packages resolve. Used by the fixtures (a defect patched in) and the starter (solutions
// replaced by stubs).
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, symlink, writeFile, copyFile, lstat } from 'node:fs/promises';
import path from 'node:path';
import { HarnessError } from './errors.ts';

export interface CopyLessonOptions {
  repoRoot: string;
  lesson: string;
  /** Where the lesson comes from; default `<repoRoot>/lessons`. */
  sourceLessonsRoot?: string;
  /** The new root: gets `lessons/<lesson>/`, `shared`, `node_modules`. */
  destRoot: string;
  /** Rewrites a text file (path relative to the lesson dir); return the new text. */
  transform?: (relPath: string, text: string) => string;
  /** Leave a file out (path relative to the lesson dir). */
  skip?: (relPath: string) => boolean;
  /** Remove destRoot first. */
  clean?: boolean;
}

const TEXT = /\.(ts|js|mjs|cjs|json|md|txt|ndjson|yml|yaml)$/;

async function walk(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${d.name}` : d.name;
    if (d.name === 'node_modules' || d.name === 'data' || d.name.startsWith('.')) continue;
    if (d.isDirectory()) out.push(...(await walk(dir, r)));
    else if (d.isFile()) out.push(r);
  }
  return out.sort();
}

/** Returns the new lessons root (`<destRoot>/lessons`). */
export async function copyLesson(opts: CopyLessonOptions): Promise<string> {
  const source = path.join(opts.sourceLessonsRoot ?? path.join(opts.repoRoot, 'lessons'), opts.lesson);
  if (!existsSync(source)) throw new HarnessError('LS_ERR_LESSON_MISSING', `no lesson folder ${source}`);
  if (opts.clean) await rm(opts.destRoot, { recursive: true, force: true });
  const dest = path.join(opts.destRoot, 'lessons', opts.lesson);
  await mkdir(dest, { recursive: true });
  for (const rel of await walk(source)) {
    if (opts.skip?.(rel)) continue;
    const to = path.join(dest, rel);
    await mkdir(path.dirname(to), { recursive: true });
    if (opts.transform && TEXT.test(rel)) await writeFile(to, opts.transform(rel, await readFile(path.join(source, rel), 'utf8')));
    else await copyFile(path.join(source, rel), to);
  }
  // The other lessons come as they are (a later day builds on the earlier days' modules).
  const lessonsSrc = opts.sourceLessonsRoot ?? path.join(opts.repoRoot, 'lessons');
  for (const other of await readdir(lessonsSrc, { withFileTypes: true })) {
    if (!other.isDirectory() || other.name === opts.lesson || other.name.startsWith('.')) continue;
    const otherDest = path.join(opts.destRoot, 'lessons', other.name);
    if (existsSync(otherDest)) continue;
    for (const rel of await walk(path.join(lessonsSrc, other.name))) {
      const to = path.join(otherDest, rel);
      await mkdir(path.dirname(to), { recursive: true });
      await copyFile(path.join(lessonsSrc, other.name, rel), to);
    }
  }
  // The lesson's .ts files are ES modules: outside the repo they need a package.json that says so.
  const pkg = path.join(opts.destRoot, 'package.json');
  if (!existsSync(pkg)) await writeFile(pkg, `${JSON.stringify({ name: `logstream-lab-${opts.lesson}-copy`, private: true, type: 'module' }, null, 2)}\n`);
  for (const name of ['shared', 'node_modules']) {
    const link = path.join(opts.destRoot, name);
    const exists = await lstat(link).then(() => true, () => false);
    if (exists) await rm(link, { recursive: true, force: true });
    await symlink(path.join(opts.repoRoot, name), link, 'dir');
  }
  return path.join(opts.destRoot, 'lessons');
}
