// Solution regions in lesson source, and the stubs that replace them in a starter copy:
//
//   // @solution [d08.5] enforce the line limit
//   // @stub return;
//   ...reference code...
//   // @end-solution
//
// becomes `// TODO [d08.5] enforce the line limit` followed by the @stub lines, uncommented.
import { HarnessError } from './errors.ts';

export interface SolutionRegion {
  /** Check ids named in the brackets, e.g. ["d08.5"]. */
  ids: string[];
  title: string;
  /** 1-based line of the @solution marker (in the reference). */
  line: number;
  /** 1-based line of the `// TODO` that replaces it in the starter. */
  todoLine: number;
  /** The reference code of the region (between the markers, @stub lines left out). */
  body: string[];
}

const OPEN = /^(\s*)\/\/\s*@solution\s+\[([^\]]*)\]\s*(.*?)\s*$/;
const STUB = /^(\s*)\/\/\s*@stub(?: (.*))?$/;
const END = /^\s*\/\/\s*@end-solution\s*$/;
const ANY_MARKER = /\/\/\s*@(solution|stub|end-solution)\b/;

function markerError(file: string, line: number, what: string): HarnessError {
  return new HarnessError('LS_ERR_SOLUTION_MARKERS', `${file}:${line}: ${what}`);
}

/** Replaces every solution region by its TODO line and stub lines. Throws on unbalanced markers. */
export function stubSolutions(text: string, file = '<source>'): { text: string; regions: SolutionRegion[] } {
  const lines = text.split('\n');
  const out: string[] = [];
  const regions: SolutionRegion[] = [];
  let open: { region: SolutionRegion; stubs: string[]; indent: string } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] as string;
    const n = i + 1;
    const o = OPEN.exec(l);
    if (o) {
      if (open)
        throw markerError(
          file,
          n,
          `@solution inside the region opened at line ${open.region.line} (regions do not nest)`,
        );
      const ids = (o[2] ?? '').split(/[\s,]+/).filter(Boolean);
      if (ids.length === 0)
        throw markerError(
          file,
          n,
          '@solution needs at least one check id in brackets, e.g. // @solution [d08.5] title',
        );
      open = { region: { ids, title: o[3] ?? '', line: n, todoLine: 0, body: [] }, stubs: [], indent: o[1] ?? '' };
      continue;
    }
    if (END.test(l)) {
      if (!open) throw markerError(file, n, '@end-solution without an open @solution');
      open.region.todoLine = out.length + 1;
      out.push(`${open.indent}${todoText(open.region)}`, ...open.stubs);
      regions.push(open.region);
      open = undefined;
      continue;
    }
    const s = STUB.exec(l);
    if (s) {
      if (!open) throw markerError(file, n, '@stub outside a @solution region');
      open.stubs.push(`${s[1] ?? ''}${s[2] ?? ''}`);
      continue;
    }
    if (ANY_MARKER.test(l)) throw markerError(file, n, `malformed marker: ${l.trim()}`);
    if (!open) out.push(l);
    else open.region.body.push(l);
  }
  if (open) throw markerError(file, open.region.line, '@solution without @end-solution');
  return { text: out.join('\n'), regions };
}

/** The `// TODO [ids] title` line a region becomes (without its indentation). */
export function todoText(region: Pick<SolutionRegion, 'ids' | 'title'>): string {
  return `// TODO [${region.ids.join(', ')}]${region.title ? ` ${region.title}` : ''}`;
}
