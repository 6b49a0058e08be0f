// How results are printed: one line per check, and for a failure expected / received / where / hint.
import { formatTodoRef } from './todos.ts';
import type { Check, CheckResult } from './types.ts';

const useColor = process.stdout.isTTY && !process.env['NO_COLOR'];
const paint = (code: string, s: string) => (useColor ? `\x1b[${code}m${s}\x1b[0m` : s);
export const green = (s: string) => paint('32', s);
export const red = (s: string) => paint('31', s);
export const dim = (s: string) => paint('2', s);
export const bold = (s: string) => paint('1', s);

export function checkLine(r: CheckResult): string {
  const mark = r.status === 'passed' ? green('✓') : r.status === 'failed' ? red('✗') : dim('-');
  const pts = r.given ? 'given' : `${r.earned}/${r.points} pts`;
  const ms = r.status === 'not-run' ? 'not run' : `${r.ms} ms`;
  return `${mark} ${r.id.padEnd(7)} ${r.title} ${dim(`(${pts}, ${ms})`)}`;
}

export function startLine(c: Check): string {
  return dim(`… ${c.id.padEnd(7)} ${c.title}`);
}

const indent = (s: string, pad = '             ') => s.split('\n').join(`\n${pad}`);

export function failureBlock(r: CheckResult): string {
  const f = r.failure;
  if (!f) return '';
  const lines = [`    expected: ${indent(f.expected)}`, `    received: ${indent(f.received)}`];
  if (f.where) lines.push(`    where:    ${indent(f.where)}`);
  if (f.hint) lines.push(`    hint:     ${indent(f.hint)}`);
  for (const t of r.dependsOn ?? []) lines.push(`    depends on: ${formatTodoRef(t)}`);
  if (r.logs?.length) lines.push(`    log:\n${r.logs.map((l) => `      ${l}`).join('\n')}`);
  if (r.kept?.length) lines.push(`    kept:     ${r.kept.join(', ')}`);
  return lines.join('\n');
}
