// What the image needs (issue 20.5): the Docker image installs `dependencies` only (`npm ci --omit=dev`),
// so every package a runtime file imports must be one of them, and the test/bench-only packages
// (playwright-core, vega, vega-lite, fast-check, …) must not be. Runtime files: every lesson and shared
// module (not tests and their helpers), the launcher (`npm start`, `npm run lesson`), the dashboard and
// certs scripts the compose services run, and docker/'s healthcheck. esbuild follows their imports.
import { build } from 'esbuild';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../scripts/lib/launch.ts';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** Test files and test helpers: never loaded by a program. */
const isTestOnly = (f: string) => /\.test\.ts$|(^|\/)test-support\.ts$|(^|\/)fixtures?\//.test(f);

function walk(dir: string): string[] {
  return readdirSync(join(REPO_ROOT, dir), { withFileTypes: true }).flatMap((d) => {
    const rel = `${dir}/${d.name}`;
    if (d.isDirectory()) return d.name === 'node_modules' ? [] : walk(rel);
    return /\.(ts|mjs)$/.test(d.name) && !isTestOnly(rel) ? [rel] : [];
  });
}

const ENTRY_POINTS = [
  ...walk('lessons'),
  ...walk('shared'),
  'scripts/run-lesson.ts',
  'scripts/stack.ts',
  'scripts/scale.ts',
  'scripts/dashboard.ts',
  'scripts/certs.ts',
  'docker/healthcheck.mjs',
];

/** `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
const packageOf = (spec: string) =>
  spec
    .split('/')
    .slice(0, spec.startsWith('@') ? 2 : 1)
    .join('/');

/** Every bare import of the runtime files, with a file that imports it; and every repo file they load. */
async function runtimeClosure(): Promise<{ imports: Map<string, string>; files: string[] }> {
  const r = await build({
    absWorkingDir: REPO_ROOT,
    entryPoints: ENTRY_POINTS,
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outdir: join(REPO_ROOT, '.work', 'runtime-deps'),
    logLevel: 'silent',
  });
  const out = new Map<string, string>();
  const files = Object.keys(r.metafile.inputs).filter((f) => !f.startsWith('node_modules/'));
  for (const [file, input] of Object.entries(r.metafile.inputs)) {
    for (const imp of input.imports) {
      if (!imp.external || imp.path.startsWith('node:') || imp.path.startsWith('.') || imp.path.startsWith('/'))
        continue;
      if (!out.has(packageOf(imp.path))) out.set(packageOf(imp.path), relative(REPO_ROOT, join(REPO_ROOT, file)));
    }
  }
  return { imports: out, files };
}

/** The COPY sources of the Dockerfile's final stage (not COPY --from: what a build stage made). */
function imageCopies(): string[] {
  const text = readFileSync(join(REPO_ROOT, 'docker/Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const final = text.split(/^FROM /m).at(-1)!;
  return final
    .split('\n')
    .filter((l) => /^COPY\s/i.test(l.trim()) && !/--from=/.test(l))
    .flatMap((l) =>
      l
        .trim()
        .split(/\s+/)
        .slice(1)
        .filter((w) => !w.startsWith('--'))
        .slice(0, -1),
    );
}

describe('the packages the running lab needs are its dependencies', () => {
  it('every package a runtime file imports is in dependencies (the image has no devDependencies)', async () => {
    const { imports } = await runtimeClosure();
    expect(imports.size, 'esbuild found the imports').toBeGreaterThan(5);
    const notRuntime = [...imports]
      .filter(([p]) => !(p in pkg.dependencies))
      .map(([p, f]) => `${p} (imported by ${f})`);
    expect(notRuntime).toEqual([]);
  }, 60_000);

  it('every repo file the runtime files load is copied into the image (a launcher importing checks/ would crash there)', async () => {
    const { files } = await runtimeClosure();
    const copies = imageCopies();
    expect(copies).toEqual(expect.arrayContaining(['shared', 'lessons', 'scripts']));
    const missing = files.filter((f) => !copies.some((c) => f === c || f.startsWith(`${c.replace(/\/$/, '')}/`)));
    expect(missing).toEqual([]);
  }, 60_000);

  it('the test- and bench-only packages are devDependencies, out of the image', () => {
    for (const p of [
      'playwright-core',
      'vega',
      'vega-lite',
      'fast-check',
      'vitest',
      'autocannon',
      'clinic',
      'c8',
      'typescript',
    ]) {
      expect(pkg.devDependencies, p).toHaveProperty([p]);
      expect(pkg.dependencies, p).not.toHaveProperty([p]);
    }
  });
});
