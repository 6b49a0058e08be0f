// The shape of the tree (issue 22, "Done when"): no source or test file over 800 lines, no import cycle,
// and no file that cites a document the repository does not hold. These hold for every tracked file, so a
// change that breaks one fails `npm test` with the file (and the cycle) named.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const MAX_LINES = 800;

/** Tracked files and the ones git would add (untracked, not ignored), as repo-relative paths. */
function repoFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return out.split('\0').filter((f) => f !== '');
}

const tsFiles = repoFiles().filter((f) => /\.(ts|mts)$/.test(f) && !f.endsWith('.d.ts'));
const read = (f: string) => {
  try {
    return readFileSync(path.join(ROOT, f), 'utf8');
  } catch {
    return undefined; // deleted in the working tree, not yet in the index
  }
};

/** Relative imports of one file (static, dynamic, `export … from`), resolved to repo-relative paths. */
function importsOf(file: string, text: string, known: Set<string>): string[] {
  const info = ts.preProcessFile(text, true, true);
  const deps: string[] = [];
  for (const ref of info.importedFiles) {
    if (!ref.fileName.startsWith('.')) continue;
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), ref.fileName));
    for (const cand of [target, `${target}.ts`, `${target}/index.ts`]) {
      if (known.has(cand)) {
        deps.push(cand);
        break;
      }
    }
  }
  return deps;
}

/** Every cycle found by a depth-first walk (each reported once, as the files in import order). */
function findCycles(graph: Map<string, string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (node: string) => {
    state.set(node, 'open');
    stack.push(node);
    for (const dep of graph.get(node) ?? []) {
      const s = state.get(dep);
      if (s === 'open') cycles.push([...stack.slice(stack.indexOf(dep)), dep]);
      else if (s === undefined) visit(dep);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return cycles;
}

describe('the tree', () => {
  it(`no source or test file has more than ${MAX_LINES} lines`, () => {
    const long = tsFiles
      .map((f) => ({ f, lines: (read(f) ?? '').split('\n').length - 1 }))
      .filter((x) => x.lines > MAX_LINES)
      .map((x) => `${x.f}: ${x.lines} lines`);
    expect(long, 'split these by idea (CONVENTIONS.md)').toEqual([]);
  });

  it('no import cycle among the TypeScript files', () => {
    const known = new Set(tsFiles);
    const graph = new Map<string, string[]>();
    for (const f of tsFiles) {
      const text = read(f);
      if (text !== undefined) graph.set(f, importsOf(f, text, known));
    }
    const cycles = findCycles(graph).map((c) => c.join(' → '));
    expect(cycles, 'move what both sides need into a module of its own').toEqual([]);
  });

  it('no file cites the founding documents that live outside the repository', () => {
    // The wire format is shared/protocol/README.md and the course rules CONVENTIONS.md; a clone holds nothing else.
    const outside = /\bGUIDE(\.md| ?§)|\bLSP1\.md\b/;
    const citing = repoFiles()
      .filter((f) => /\.(ts|mts|js|md|json|yml|yaml|sh|conf)$/.test(f) || f.startsWith('.ci/'))
      .filter((f) => f !== 'tests/structure.test.ts')
      .filter((f) => outside.test(read(f) ?? ''));
    expect(citing).toEqual([]);
  });

  it('the cycle finder finds a cycle and the import reader resolves .ts and index.ts (so the test can fail)', () => {
    const known = new Set(['a/x.ts', 'a/y.ts', 'b/index.ts']);
    expect(importsOf('a/x.ts', "import { y } from './y.ts';\nexport * from '../b';\nimport 'node:fs';", known)).toEqual(
      ['a/y.ts', 'b/index.ts'],
    );
    expect(importsOf('a/y.ts', "const m = await import('./x');", known)).toEqual(['a/x.ts']);
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
    ]);
    expect(findCycles(graph)).toEqual([['a', 'b', 'c', 'a']]);
    expect(
      findCycles(
        new Map([
          ['a', ['b']],
          ['b', []],
        ]),
      ),
    ).toEqual([]);
  });
});
