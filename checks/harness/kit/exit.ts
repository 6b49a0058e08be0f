// Exit and stderr assertions every day's process-contract checks make (CONVENTIONS.md §2: --help exits 0, an
// unknown flag or a bad value prints one line naming it and exits 2). One copy for every day (issue 22).
import { expectEqual, expectTrue, fail, show } from '../assert.ts';
import type { RunResult } from '../types.ts';

export interface ExitedWithOptions {
  /** How much of stderr's end a wrong exit code shows; default 300 characters. */
  tailChars?: number;
  /** A program still running after printing its ready line says so (it started anyway). */
  noteReady?: boolean;
}

/**
 * `r` exited with `code` (or with one of `codes`): fails with what came instead, the stderr tail and `hint`.
 */
export function exitedWith(
  r: RunResult,
  code: number | readonly number[],
  cmd: string,
  hint: string,
  opts: ExitedWithOptions = {},
): void {
  const tailChars = opts.tailChars ?? 300;
  if (typeof code !== 'number') {
    const codes = code;
    if (r.timedOut)
      fail({
        expected: `\`${cmd}\` to exit (code ${codes.join(' or ')})`,
        received: `still running after ${r.ms} ms`,
        where: cmd,
        hint,
      });
    expectTrue(r.exitCode !== null && codes.includes(r.exitCode), {
      expected: `exit code of \`${cmd}\` = ${codes.join(' or ')}`,
      received: `${r.exitCode} (signal ${r.signal}); stderr: ${show(r.stderr.trim().slice(-tailChars))}`,
      where: cmd,
      hint,
    });
    return;
  }
  if (r.timedOut) {
    const started =
      opts.noteReady && r.stdout.includes('"ready"') ? ' (it printed its ready line: it started anyway)' : '';
    fail({
      expected: `\`${cmd}\` to exit with code ${code}`,
      received: `still running after ${r.ms} ms${started}`,
      where: cmd,
      hint,
    });
  }
  expectEqual(r.exitCode, code, {
    what: `exit code of \`${cmd}\``,
    where: `stderr: ${show(r.stderr.trim().slice(-tailChars))}`,
    hint,
  });
}

/**
 * A stderr line of `r` names `flag`. With `noReady` (the hint to show) the program must also not have printed its
 * ready line: a server validates every flag before it listens.
 */
export function stderrNames(r: RunResult, flag: string, cmd: string, opts: { noReady?: string } = {}): void {
  const lines = r.stderr.split('\n').filter((l) => l.trim().length > 0);
  expectTrue(
    lines.some((l) => l.includes(flag)),
    {
      expected: `a stderr line naming ${flag} from \`${cmd}\``,
      received: show(r.stderr.trim().slice(0, 300) || '(empty stderr)'),
      where: 'stderr',
      hint: 'print one line on stderr that names the offending flag, then exit 2',
    },
  );
  if (opts.noReady === undefined) return;
  expectTrue(!r.json.some((j) => j['event'] === 'ready'), {
    expected: `no ready line from \`${cmd}\``,
    received: 'a ready line on stdout',
    where: 'stdout',
    hint: opts.noReady,
  });
}
