// Which TODO a check depends on (issue 16, goal 4: diagnostics point at the learner's code). The
// reference lesson's @solution regions name check ids in brackets; a failing check lists the TODOs whose
// brackets hold its id: "depends on: TODO [d09.3] <title> — lessons/day09/ingest.ts:57".
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { stubSolutions, todoText, type SolutionRegion } from './solutions.ts';

export interface TodoRef {
  ids: string[];
  title: string;
  /** For display: `lessons/day09/ingest.ts` (the lessons folder's name, the lesson, the file). */
  file: string;
  /** 1-based line of the `// TODO` in the learner's file when found there, else in the starter. */
  line: number;
}

function tsFiles(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const d of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${d.name}` : d.name;
    if (d.name === 'node_modules' || d.name.startsWith('.')) continue;
    if (d.isDirectory()) out.push(...tsFiles(dir, r));
    else if (d.isFile() && r.endsWith('.ts') && !r.endsWith('.test.ts')) out.push(r);
  }
  return out.sort();
}

/** Every solution region of a lesson folder, with the file it is in (relative to the folder). */
export function lessonRegions(lessonDir: string): Array<SolutionRegion & { file: string }> {
  if (!existsSync(lessonDir)) return [];
  const out: Array<SolutionRegion & { file: string }> = [];
  for (const rel of tsFiles(lessonDir)) {
    for (const r of stubSolutions(readFileSync(path.join(lessonDir, rel), 'utf8'), rel).regions)
      out.push({ ...r, file: rel });
  }
  return out;
}

/**
 * check id → the TODOs of the REFERENCE lesson that name it. With `learnerLessonDir`, each TODO's line is
 * looked up in the learner's file (the TODO line as the starter wrote it), so the pointer follows their edits.
 */
export function todoMap(referenceLessonDir: string, learnerLessonDir?: string): Map<string, TodoRef[]> {
  const map = new Map<string, TodoRef[]>();
  const shownDir = learnerLessonDir ?? referenceLessonDir;
  const prefix = path.join(path.basename(path.dirname(shownDir)), path.basename(shownDir));
  const cache = new Map<string, string[] | undefined>();
  const learnerLines = (rel: string) => {
    if (!cache.has(rel)) {
      const f = learnerLessonDir ? path.join(learnerLessonDir, rel) : undefined;
      cache.set(rel, f && existsSync(f) ? readFileSync(f, 'utf8').split('\n') : undefined);
    }
    return cache.get(rel);
  };
  for (const r of lessonRegions(referenceLessonDir)) {
    const idx = learnerLines(r.file)?.findIndex((l) => l.trim() === todoText(r)) ?? -1;
    const ref: TodoRef = {
      ids: r.ids,
      title: r.title,
      file: `${prefix}/${r.file}`,
      line: idx >= 0 ? idx + 1 : r.todoLine,
    };
    for (const id of r.ids) map.set(id, [...(map.get(id) ?? []), ref]);
  }
  return map;
}

/** "TODO [d09.3] title — lessons/day09/ingest.ts:57" */
export function formatTodoRef(t: TodoRef): string {
  return `${todoText(t).replace(/^\/\/ /, '')} — ${t.file}:${t.line}`;
}
