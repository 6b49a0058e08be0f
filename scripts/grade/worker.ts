// One learner-day of a class grade (issue 19): runs inside the sandbox (sandbox.ts) the day's checks
// against the staged copy, and talks to the grader over stdin/stdout, one JSON line each:
//   out  @grade {"t":"gate","n":1,"id":"d14.2","exclusive":true}   may check n start? (the class-wide lock)
//   in   {"go":1}                                                  yes
//   out  @grade {"t":"check","result":{…}}                          a check ended (kept if the budget runs out)
//   out  @grade {"t":"done"}                                        every check ran
// Lines without the prefix are not the protocol (the grader ignores them).
// Usage (the grader's): node --import tsx scripts/grade/worker.ts <base64 of a WorkerSpec as JSON>
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { runChecks } from '../../checks/harness/runner.ts';
import type { TodoRef } from '../../checks/harness/todos.ts';

export interface WorkerSpec {
  lessonsRoot: string;
  lesson: string;
  seed: number;
  only?: string[];
  concurrency: number;
  /** Every check takes the machine alone (the retry of failed checks, --retry-failed). */
  alone?: boolean;
  repoRoot: string;
  /** check id → the TODOs it depends on (the sandbox has no reference lessons to read them from). */
  todos: Array<[string, TodoRef[]]>;
}

export const PREFIX = '@grade ';

export function encodeSpec(spec: WorkerSpec): string {
  return Buffer.from(JSON.stringify(spec)).toString('base64');
}

async function main(): Promise<void> {
  const spec = JSON.parse(Buffer.from(process.argv[2] ?? '', 'base64').toString('utf8')) as WorkerSpec;
  const send = (msg: unknown) => process.stdout.write(`${PREFIX}${JSON.stringify(msg)}\n`);
  const waiting = new Map<number, () => void>();
  createInterface({ input: process.stdin }).on('line', (line) => {
    try {
      const n = (JSON.parse(line) as { go?: number }).go;
      if (typeof n === 'number') waiting.get(n)?.();
    } catch {
      // not for us
    }
  });
  let next = 0;
  await runChecks({
    lessonsRoot: spec.lessonsRoot,
    lesson: spec.lesson,
    seed: spec.seed,
    stopOnFirstFailure: false,
    concurrency: spec.concurrency,
    repoRoot: spec.repoRoot,
    todos: new Map(spec.todos),
    ...(spec.only?.length ? { only: spec.only } : {}),
    gate: (check) => {
      const n = ++next;
      return new Promise((resolve) => {
        waiting.set(n, () => {
          waiting.delete(n);
          resolve(() => send({ t: 'release', n }));
        });
        send({ t: 'gate', n, id: check.id, exclusive: spec.alone === true || check.exclusive === true });
      });
    },
    onCheckEnd: (result) => send({ t: 'check', result }),
  });
  send({ t: 'done' });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // A stray rejection inside a check must not end the run (as in checks/run.ts).
  process.on('unhandledRejection', (err) =>
    process.stderr.write(`(a check left an unhandled rejection: ${String(err)})\n`),
  );
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stdout.write(
        `${PREFIX}${JSON.stringify({ t: 'error', message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) })}\n`,
      );
      process.exit(2);
    },
  );
}
