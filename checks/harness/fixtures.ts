// Fixtures prove each check can fail (CONVENTIONS.md §3): a copy of the reference lesson with a named
// defect patched in, which must fail exactly the checks listed in `mustFail`.
import path from 'node:path';
import { HarnessError } from './errors.ts';
import { copyLesson } from './lesson-copy.ts';

export interface Patch {
  /** Relative to the lesson dir, e.g. "receiver.ts". */
  file: string;
  /** Must occur exactly once in the file. */
  find: string;
  replace: string;
}

export interface Fixture {
  name: string;
  description: string;
  patches: Patch[];
  /** The check ids this defect must fail, and no others. */
  mustFail: string[];
}

/** Applies patches to one file's text; a `find` not found exactly once means the fixture is stale. */
export function applyPatches(relPath: string, text: string, patches: readonly Patch[], fixtureName: string): string {
  let out = text;
  for (const p of patches) {
    if (p.file !== relPath) continue;
    const first = out.indexOf(p.find);
    const count = first === -1 ? 0 : out.split(p.find).length - 1;
    if (count !== 1) {
      throw new HarnessError(
        'LS_ERR_FIXTURE_STALE',
        `fixture "${fixtureName}": the text to replace in ${p.file} was found ${count} times (expected exactly once): ${JSON.stringify(p.find.slice(0, 120))}`,
      );
    }
    out = out.slice(0, first) + p.replace + out.slice(first + p.find.length);
  }
  return out;
}

export interface MaterializeOptions {
  repoRoot: string;
  lesson: string;
  fixture: Fixture;
  /** Default `<repoRoot>/lessons`. */
  sourceLessonsRoot?: string;
  /** Default `<repoRoot>/.work/fixtures`. */
  outDir?: string;
}

/** Builds `<outDir>/<lesson>-<name>/lessons/<lesson>/` with the patches applied; returns its lessons root. */
export async function materializeFixture(opts: MaterializeOptions): Promise<string> {
  const { fixture } = opts;
  if (!/^[a-z0-9][a-z0-9-]*$/.test(fixture.name))
    throw new HarnessError('LS_ERR_HARNESS', `fixture name "${fixture.name}" must be kebab-case`);
  const destRoot = path.join(
    opts.outDir ?? path.join(opts.repoRoot, '.work', 'fixtures'),
    `${opts.lesson}-${fixture.name}`,
  );
  const files = new Set(fixture.patches.map((p) => p.file));
  const applied = new Set<string>();
  const root = await copyLesson({
    repoRoot: opts.repoRoot,
    lesson: opts.lesson,
    ...(opts.sourceLessonsRoot ? { sourceLessonsRoot: opts.sourceLessonsRoot } : {}),
    destRoot,
    clean: true,
    // The lesson's own unit tests are left out: a fixture is only run by the checks.
    skip: (rel) => rel.endsWith('.test.ts'),
    transform: (rel, text) => {
      if (!files.has(rel)) return text;
      applied.add(rel);
      return applyPatches(rel, text, fixture.patches, fixture.name);
    },
  });
  const missing = [...files].filter((f) => !applied.has(f));
  if (missing.length)
    throw new HarnessError(
      'LS_ERR_FIXTURE_STALE',
      `fixture "${fixture.name}": no file ${missing.join(', ')} in lesson ${opts.lesson}`,
    );
  return root;
}
