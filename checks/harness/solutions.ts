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
  /** 1-based line of the @solution marker. */
  line: number;
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
      if (open) throw markerError(file, n, `@solution inside the region opened at line ${open.region.line} (regions do not nest)`);
      const ids = (o[2] ?? '').split(/[\s,]+/).filter(Boolean);
      if (ids.length === 0) throw markerError(file, n, '@solution needs at least one check id in brackets, e.g. // @solution [d08.5] title');
      open = { region: { ids, title: o[3] ?? '', line: n }, stubs: [], indent: o[1] ?? '' };
      continue;
    }
    if (END.test(l)) {
      if (!open) throw markerError(file, n, '@end-solution without an open @solution');
      out.push(`${open.indent}// TODO [${open.region.ids.join(', ')}]${open.region.title ? ` ${open.region.title}` : ''}`, ...open.stubs);
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
  }
  if (open) throw markerError(file, open.region.line, '@solution without @end-solution');
  return { text: out.join('\n'), regions };
}
