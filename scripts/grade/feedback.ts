// One markdown report per learner (issue 19, Deliver 2): per day the status and points, and for each failed
// check what was expected, what came, where, the hint and the TODO it depends on — the text a learner can
// act on — with the command that replays it on their own machine.
import path from 'node:path';
import { formatTodoRef } from '../../checks/harness/todos.ts';
import type { CheckResult } from '../../checks/harness/types.ts';
import type { ClassReport, LearnerGrade } from './types.ts';

/** A path of the instructor's machine shown relative to the learner's folder (`lessons/day09/ingest.ts:57`). */
function relative(text: string, learnerDir: string): string {
  return text.split(`${learnerDir}${path.sep}`).join('');
}

const block = (s: string) => {
  const fence = s.includes('```') ? '~~~~' : '```';
  return `${fence}\n${s}\n${fence}`;
};

function failure(r: CheckResult, learnerDir: string, rerun: string): string {
  const f = r.failure;
  const out = [`### ✗ ${r.id} ${r.title} (${r.given ? 'given' : `0/${r.points} points`})`, ''];
  if (f) {
    out.push('**Expected**', '', block(relative(f.expected, learnerDir)), '');
    out.push('**Received**', '', block(relative(f.received, learnerDir)), '');
    if (f.where) out.push(`**Where:** \`${relative(f.where, learnerDir)}\``, '');
    if (f.hint) out.push(`**Hint:** ${relative(f.hint, learnerDir)}`, '');
  }
  for (const t of r.dependsOn ?? []) out.push(`**Depends on:** ${formatTodoRef(t)}`, '');
  if (r.logs?.length)
    out.push('<details><summary>log of the check</summary>', '', block(r.logs.join('\n')), '', '</details>', '');
  out.push(`Replay it: \`${rerun}\``, '');
  return out.join('\n');
}

export function feedbackMarkdown(report: ClassReport, learner: LearnerGrade): string {
  const out: string[] = [];
  out.push(`# Feedback: ${learner.name}`, '');
  out.push(
    `Graded ${report.gradedAt} against the reference ${report.reference.commit} with seed ${report.seed}` +
      ` (the same seed replays the same traffic). Points earned: **${learner.total.earned}/${learner.total.maxPoints}**.`,
    '',
  );
  if (!report.sandbox.used) out.push(`> Not sandboxed: ${report.sandbox.reason ?? '--no-sandbox'}`, '');
  if (learner.sharedDiff) {
    const sd = learner.sharedDiff;
    out.push(
      `> Your \`shared/\` differs from the course's (${[...sd.changed, ...sd.missing, ...sd.extra].length} files): it was NOT used — every copy runs against the course's \`shared/\`. Put your work in \`lessons/\`.`,
      '',
    );
  }
  for (const n of learner.notes ?? []) out.push(`> ${n}`, '');
  out.push('| day | status | checks | points |', '|---|---|---:|---:|');
  for (const d of learner.days)
    out.push(
      `| ${d.lesson} | ${d.status}${d.outOfTime ? ' (out of time)' : ''} | ${d.status === 'absent' ? '-' : `${d.passed}/${d.total}`} | ${d.earned}/${d.maxPoints} |`,
    );
  out.push('');
  for (const d of learner.days) {
    out.push(`## ${d.lesson}: ${d.status}, ${d.earned}/${d.maxPoints}`, '');
    if (d.status === 'absent') out.push(`No folder \`lessons/${d.lesson}/\` was handed in.`, '');
    else if (d.status === 'untouched')
      out.push(
        `The TODOs are exactly as the starter wrote them: the checks were not run. Start with the README of \`lessons/${d.lesson}/\` ("Your TODOs").`,
        '',
      );
    if (d.error) out.push('It does not start: the first error is', '', block(relative(d.error, learner.dir)), '');
    if (d.outOfTime)
      out.push(
        `The checks of this day ran out of the grading budget (${report.budgetS} s); the checks after that point count as failed. A program that never answers makes each check wait for its own timeout.`,
        '',
      );
    if (d.retried?.length)
      out.push(
        `${d.retried.join(', ')} failed and ran once more, alone on the machine: the second result is the one shown.`,
        '',
      );
    const failed = d.results.filter((r) => r.status === 'failed');
    if (d.status === 'complete') out.push('Every graded check passes.', '');
    for (const r of failed) {
      const rerun = `npm run check -- ${d.lesson} --lessons <your lessons folder> --seed ${report.seed} --only ${r.id}`;
      out.push(failure(r, learner.dir, rerun));
    }
  }
  return `${out.join('\n').trimEnd()}\n`;
}
