/**
 * Starting lesson programs through the process contract (CONVENTIONS.md §2), for the launcher and the
 * benchmarks: spawn with tsx, wait for the ready line (never a fixed sleep), collect the done line.
 */
import { execa, type ResultPromise } from 'execa';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ProgramEvent {
  event: string;
  [k: string]: unknown;
}

export interface Program {
  name: string;
  proc: ResultPromise<{ reject: false; buffer: false; stdin: 'pipe' | 'ignore' }>;
  pid: number;
  /** resolves with the ready line; rejects if the program exits first or the deadline passes */
  ready: Promise<ProgramEvent & { host: string; port: number }>;
  /** resolves with the done line (shippers) or undefined when the program exits without one */
  done: Promise<ProgramEvent | undefined>;
  exit: Promise<{ exitCode: number | undefined; signal: string | undefined }>;
  stop(signal?: NodeJS.Signals): Promise<{ exitCode: number | undefined; signal: string | undefined }>;
}

export interface StartOptions {
  name: string;
  /** file to run: absolute, or relative to the repo root (e.g. lessons/day08/receiver.ts; see useLessonsRoot) */
  file: string;
  args: string[];
  env?: Record<string, string>;
  readyTimeoutMs?: number;
  /** every stdout line that is not JSON, and every stderr line */
  onLog?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** every JSON line on stdout */
  onEvent?: (ev: ProgramEvent) => void;
  stdin?: 'pipe' | 'ignore';
  /** extra node flags, e.g. ['--cpu-prof'] */
  nodeArgs?: string[];
}

/**
 * Node flags every program the launcher, the stack and the benchmarks start gets (issue 21.6). A young
 * generation of at most 8 MiB per semi-space (node's default grows to 16 MiB, ~34 MiB of new space in
 * all): under `loadgen --rate max` it held the acked receivers' peak RSS at 123–136 MB where the default
 * peaked at 127–174 MB, at the same records/s (side by side, day 09/11/12/13, quiet machine). Scavenges
 * come more often but stay short; nothing survives longer for it. Run by hand, a program gets the same
 * with `NODE_OPTIONS=--max-semi-space-size=8 npx tsx …` (COURSE.md, "Memory"); docker/Dockerfile sets it.
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8'];

/**
 * Environment every program the launcher starts gets (issue 21.6), after the caller's: glibc makes a malloc
 * arena per thread that allocates (up to 8 per core), and a receiver's threads (its parse worker, libuv's
 * file writes, V8's helpers) each kept freed buffers in their own. Two arenas took the syslog lane's peak
 * RSS in a 500k-message burst from 160 to 152 MB at the same messages/s (6 runs each, quiet machine).
 * The Docker image sets it too.
 */
export const NODE_ENV_VARS: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

let lessonsRoot: string | undefined;

/**
 * From now on, every `lessons/<day>/…` program startProgram runs comes from this lessons folder instead
 * of the repo's (a learner's copy): the experiments' `--lessons` (issue 16), so the benchmark lanes they
 * reuse (scripts/bench/) run the learner's receivers and shippers without knowing about copies.
 */
export function useLessonsRoot(root: string | undefined): void {
  lessonsRoot = root;
}

/** The absolute path startProgram runs for `file` (see useLessonsRoot). */
export function programFile(file: string): string {
  if (lessonsRoot && file.startsWith('lessons/')) return resolve(lessonsRoot, file.slice('lessons/'.length));
  return resolve(REPO_ROOT, file);
}

export function startProgram(opts: StartOptions): Program {
  const proc = execa(
    process.execPath,
    [...NODE_FLAGS, ...(opts.nodeArgs ?? []), '--import', 'tsx', programFile(opts.file), ...opts.args],
    {
      cwd: REPO_ROOT,
      env: { ...NODE_ENV_VARS, ...opts.env },
      reject: false,
      buffer: false,
      // Its own process group: a terminal's Ctrl-C reaches only the launcher, which then stops each
      // program once with SIGTERM (a second signal would mean "exit now" to the program).
      detached: true,
      stdin: opts.stdin ?? 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
    },
  );
  let readyResolve!: (ev: ProgramEvent & { host: string; port: number }) => void;
  let readyReject!: (err: Error) => void;
  const ready = new Promise<ProgramEvent & { host: string; port: number }>((res, rej) => {
    readyResolve = res;
    readyReject = rej;
  });
  ready.catch(() => {});
  let doneEvent: ProgramEvent | undefined;
  const stderrTail: string[] = [];
  createInterface({ input: proc.stdout }).on('line', (line) => {
    let ev: ProgramEvent | undefined;
    if (line.startsWith('{')) {
      try {
        ev = JSON.parse(line) as ProgramEvent;
      } catch {
        ev = undefined;
      }
    }
    if (!ev) return opts.onLog?.(line, 'stdout');
    if (ev.event === 'ready') readyResolve(ev as ProgramEvent & { host: string; port: number });
    if (ev.event === 'done') doneEvent = ev;
    opts.onEvent?.(ev);
  });
  createInterface({ input: proc.stderr }).on('line', (line) => {
    stderrTail.push(line);
    if (stderrTail.length > 20) stderrTail.shift();
    opts.onLog?.(line, 'stderr');
  });
  const exit = proc.then((r) => ({ exitCode: r.exitCode, signal: r.signal ?? undefined }));
  void exit.then((r) =>
    readyReject(
      new Error(
        `${opts.name} exited (code ${r.exitCode ?? r.signal}) before its ready line:\n${stderrTail.join('\n')}`,
      ),
    ),
  );
  const timer = setTimeout(
    () => readyReject(new Error(`${opts.name}: no ready line within ${opts.readyTimeoutMs ?? 15000} ms`)),
    opts.readyTimeoutMs ?? 15000,
  );
  void ready.then(
    () => clearTimeout(timer),
    () => clearTimeout(timer),
  );
  return {
    name: opts.name,
    proc: proc,
    pid: proc.pid!,
    ready,
    done: exit.then(() => doneEvent),
    exit,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && !proc.killed) proc.kill(signal);
      return exit;
    },
  };
}
