// Starts the lesson's programs through the process contract (CONVENTIONS.md §2) and makes sure every one
// of them is gone (killed by pid) when the check ends.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { execa, type Options, type ResultPromise } from 'execa';
import { CheckFailure, show } from './assert.ts';
import { crashDetail } from './stderr.ts';
import type { DeadProgram, ProgramWatch } from './watchdog.ts';
import type {
  ProgramEvent,
  ProgramExit,
  ProgramName,
  RunningProgram,
  RunOptions,
  RunResult,
  StartOptions,
  StopResult,
  WatchedProgram,
  WatchOptions,
} from './types.ts';

export { firstErrorLine, tail } from './stderr.ts';

const STDERR_KEEP = 64 * 1024;
const DEFAULT_READY_MS = 15_000;
const DEFAULT_RUN_MS = 15_000;

/** The parent's environment without LOGSTREAM_* (so an env var set by the user cannot leak into a check). */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('LOGSTREAM_')) env[k] = v;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

export function parseJsonLines(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    try {
      const v: unknown = JSON.parse(t);
      if (v && typeof v === 'object' && !Array.isArray(v)) out.push(v as Record<string, unknown>);
    } catch {
      // not JSON: a human line
    }
  }
  return out;
}

interface ExitInfo {
  exitCode: number | null;
  signal: string | null;
  at: number;
}

/** What the tracker knows of each program a check started, for the early exit of its waits (watchdog.ts). */
interface Tracked {
  program: ProgramName;
  cmd: string;
  file: string;
  pid: number;
  startedAt: number;
  exit?: ExitInfo;
  /**
   * The check stopped it, killed it, waits for its exit or ran it to the end: its exit is the check's
   * business. Otherwise an exit (any exit of a server started with start(); a non-zero exit or a signal of
   * a watched program: a shipper that finished its input exits 0) ends every wait of the check at once.
   */
  expected: boolean;
  /** A watched program exiting 0 is finishing its work, not dying. */
  zeroIsFine: boolean;
  stderr: () => string;
}

export class ProcessTracker implements ProgramWatch {
  private readonly live = new Map<number, { exited: Promise<ExitInfo> }>();
  private readonly tracked: Tracked[] = [];

  deadProgram(graceMs: number): DeadProgram | undefined {
    const now = Date.now();
    for (const t of this.tracked) {
      const e = t.exit;
      if (!e || t.expected || now - e.at < graceMs) continue;
      if (t.zeroIsFine && e.exitCode === 0 && e.signal === null) continue;
      return {
        cmd: t.cmd,
        program: t.program,
        file: t.file,
        pid: t.pid,
        exitCode: e.exitCode,
        signal: e.signal,
        startedAt: t.startedAt,
        at: e.at,
        stderr: t.stderr(),
      };
    }
    return undefined;
  }

  private track(t: Omit<Tracked, 'expected' | 'exit'> & { expected?: boolean }, exited: Promise<ExitInfo>): Tracked {
    const entry: Tracked = { ...t, expected: t.expected ?? false };
    this.tracked.push(entry);
    void exited.then((e) => (entry.exit = e));
    return entry;
  }

  constructor(
    private readonly opts: {
      repoRoot: string;
      lessonDir: string;
      signal: AbortSignal;
      onProgram?: (file: string) => void;
    },
  ) {}

  /** The program's path; records that the check runs it. */
  programFile(program: ProgramName): string {
    this.opts.onProgram?.(`${program}.ts`);
    return path.join(this.opts.lessonDir, `${program}.ts`);
  }

  /** programFile, and a CheckFailure when the lesson does not have it (before anything is spawned). */
  private existingProgramFile(program: ProgramName): string {
    const file = this.programFile(program);
    if (!existsSync(file)) {
      throw new CheckFailure({
        expected: `the program ${program}.ts`,
        received: 'no such file',
        where: file,
        hint: `every lesson has ${program}.ts in its folder`,
      });
    }
    return file;
  }

  private spawn(
    program: ProgramName,
    args: string[],
    env: Record<string, string> | undefined,
    extra: Record<string, unknown>,
  ) {
    const file = this.existingProgramFile(program);
    const child = execa(process.execPath, ['--import', 'tsx', file, ...args], {
      cwd: this.opts.repoRoot,
      env: cleanEnv(env),
      extendEnv: false,
      reject: false,
      cleanup: true,
      forceKillAfterDelay: false,
      stripFinalNewline: false,
      ...extra,
    } as Options) as unknown as ResultPromise;
    const pid = child.pid;
    if (pid === undefined)
      throw new CheckFailure({ expected: `${program} to start`, received: 'no pid (spawn failed)', where: file });
    const exited = Promise.resolve(child).then(
      (r) => ({
        exitCode: typeof r.exitCode === 'number' ? r.exitCode : null,
        signal: r.signal ?? null,
        at: Date.now(),
      }),
      (err: { exitCode?: number; signal?: string }) => ({
        exitCode: typeof err.exitCode === 'number' ? err.exitCode : null,
        signal: err.signal ?? null,
        at: Date.now(),
      }),
    );
    this.live.set(pid, { exited });
    void exited.then(() => this.live.delete(pid));
    return { child, pid, exited, file };
  }

  async start(program: ProgramName, args: string[], opts: StartOptions = {}): Promise<RunningProgram> {
    const { child, pid, exited, file } = this.spawn(program, args, opts.env, {
      buffer: false,
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const stdoutLines: string[] = [];
    let stderr = '';
    let partial = '';
    let exitInfo: ExitInfo | undefined;
    void exited.then((e) => (exitInfo = e));
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => {
      stderr += s;
      if (stderr.length > STDERR_KEEP * 2) stderr = stderr.slice(-STDERR_KEEP);
    });
    const cmd = `${path.basename(file)} ${args.join(' ')}`.trim();
    const entry = this.track(
      { program, cmd, file, pid, startedAt: Date.now(), zeroIsFine: false, stderr: () => stderr },
      exited,
    );
    let onLine: ((line: string) => void) | undefined;
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (s: string) => {
      partial += s;
      let nl: number;
      while ((nl = partial.indexOf('\n')) !== -1) {
        const line = partial.slice(0, nl).replace(/\r$/, '');
        partial = partial.slice(nl + 1);
        stdoutLines.push(line);
        onLine?.(line);
      }
    });

    const readyTimeoutMs = opts.readyTimeoutMs ?? DEFAULT_READY_MS;
    const t0 = Date.now();
    const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const done = (err: CheckFailure | null, value?: Record<string, unknown>) => {
        clearTimeout(timer);
        this.opts.signal.removeEventListener('abort', onAbort);
        onLine = undefined;
        if (err) reject(err);
        else resolve(value as Record<string, unknown>);
      };
      const timer = setTimeout(() => {
        done(
          new CheckFailure({
            expected: `a ready line ({"event":"ready",...}) on stdout of \`${cmd}\` within ${readyTimeoutMs} ms`,
            received: `nothing after ${Date.now() - t0} ms${crashDetail(stderr)}`,
            where: file,
            hint: 'a server prints its ready line as the first stdout line once it accepts traffic',
          }),
        );
      }, readyTimeoutMs);
      const onAbort = () =>
        done(
          new CheckFailure({
            expected: `a ready line from \`${cmd}\``,
            received: 'the check ran out of time first',
            where: file,
          }),
        );
      this.opts.signal.addEventListener('abort', onAbort, { once: true });
      onLine = (line) => {
        let value: unknown;
        try {
          value = JSON.parse(line);
        } catch {
          value = undefined;
        }
        const obj =
          value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
        if (!obj || obj['event'] !== 'ready') {
          done(
            new CheckFailure({
              expected: `the first stdout line of \`${cmd}\` to be the ready JSON line`,
              received: show(line),
              where: `${file}, stdout line 1`,
              hint: 'human logs go to stderr; stdout starts with {"event":"ready",...}',
            }),
          );
        } else {
          done(null, obj);
        }
      };
      void exited.then((e) => {
        // Let stdout drain first: the ready line may be in the last chunk.
        setImmediate(() =>
          done(
            new CheckFailure({
              expected: `\`${cmd}\` to print its ready line and keep running`,
              received: `it exited (code ${e.exitCode}, signal ${e.signal}) after ${e.at - t0} ms${crashDetail(stderr)}`,
              where: file,
            }),
          ),
        );
      });
    });

    const host = typeof ready['host'] === 'string' ? ready['host'] : '127.0.0.1';
    const port = typeof ready['port'] === 'number' ? ready['port'] : Number(ready['port']);
    const waitExit = async (timeoutMs: number, sentAt = Date.now()): Promise<StopResult> => {
      entry.expected = true;
      let timer: NodeJS.Timeout | undefined;
      const r = await Promise.race([
        exited,
        new Promise<null>((res) => (timer = setTimeout(() => res(null), timeoutMs))),
      ]);
      clearTimeout(timer);
      if (r === null) {
        throw new CheckFailure({
          expected: `\`${cmd}\` to exit within ${timeoutMs} ms`,
          received: `still running after ${Date.now() - sentAt} ms`,
          where: file,
        });
      }
      return { exitCode: r.exitCode, signal: r.signal, ms: r.at - sentAt, timedOut: false };
    };
    const running: RunningProgram = {
      program,
      pid,
      ready,
      host,
      port,
      stdoutLines,
      stderrText: () => stderr,
      get exited() {
        return exitInfo !== undefined;
      },
      kill: (sig: NodeJS.Signals = 'SIGTERM') => {
        entry.expected = true;
        try {
          process.kill(pid, sig);
        } catch {
          // already gone
        }
      },
      stop: async (timeoutMs = 8000) => {
        entry.expected = true;
        const sentAt = Date.now();
        if (exitInfo) return { exitCode: exitInfo.exitCode, signal: exitInfo.signal, ms: 0, timedOut: false };
        running.kill('SIGTERM');
        try {
          return await waitExit(timeoutMs, sentAt);
        } catch {
          running.kill('SIGKILL');
          const e = await exited;
          return { exitCode: e.exitCode, signal: e.signal, ms: e.at - sentAt, timedOut: true };
        }
      },
      waitExit: (timeoutMs: number) => waitExit(timeoutMs),
    };
    return running;
  }

  async run(program: ProgramName, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_RUN_MS;
    const t0 = Date.now();
    const extra: Record<string, unknown> = {
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
      maxBuffer: 64 * 1024 * 1024,
      cancelSignal: this.opts.signal,
    };
    if (opts.input !== undefined) extra['input'] = opts.input;
    else extra['stdin'] = 'ignore';
    const { child, pid, exited, file } = this.spawn(program, args, opts.env, extra);
    this.track(
      {
        program,
        cmd: `${path.basename(file)} ${args.join(' ')}`.trim(),
        file,
        pid,
        startedAt: t0,
        zeroIsFine: true,
        expected: true,
        stderr: () => '',
      },
      exited,
    );
    const r = (await child) as unknown as {
      exitCode?: number;
      signal?: string;
      timedOut?: boolean;
      stdout?: unknown;
      stderr?: unknown;
    };
    const stdout = typeof r.stdout === 'string' ? r.stdout : '';
    const stderr = typeof r.stderr === 'string' ? r.stderr : '';
    return {
      exitCode: typeof r.exitCode === 'number' ? r.exitCode : null,
      signal: r.signal ?? null,
      timedOut: r.timedOut === true,
      ms: Date.now() - t0,
      stdout,
      stderr,
      json: parseJsonLines(stdout),
    };
  }

  /** Spawns a program (stdin optional) and collects its JSON stdout lines as they come. */
  watch(program: ProgramName, args: string[], opts: WatchOptions = {}): WatchedProgram {
    const file = this.existingProgramFile(program);
    const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
      cwd: this.opts.repoRoot,
      env: cleanEnv(opts.env),
      stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    const pid = child.pid;
    if (pid === undefined)
      throw new CheckFailure({ expected: `${program} to start`, received: 'no pid (spawn failed)', where: file });
    const cmd = `${program}.ts ${args.join(' ')}`;
    const events: ProgramEvent[] = [];
    let rest = '';
    let stdoutAll = '';
    let stderr = '';
    let exitInfo: ProgramExit | undefined;
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (s: string) => {
      const at = Date.now();
      stdoutAll = (stdoutAll + s).slice(-8192);
      rest += s;
      let nl: number;
      while ((nl = rest.indexOf('\n')) !== -1) {
        const line = rest.slice(0, nl).trim();
        rest = rest.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        try {
          const v: unknown = JSON.parse(line);
          if (v && typeof v === 'object' && !Array.isArray(v)) events.push({ at, json: v as Record<string, unknown> });
        } catch {
          // not JSON: a human line
        }
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      stderr += s;
      if (stderr.length > STDERR_KEEP * 2) stderr = stderr.slice(-STDERR_KEEP);
    });
    child.stdin?.on('error', () => {});
    const exit = new Promise<ProgramExit>((resolve) =>
      child.once('close', (code, signal) => resolve((exitInfo = { exitCode: code, signal, at: Date.now() }))),
    );
    this.live.set(pid, { exited: exit });
    void exit.then(() => this.live.delete(pid));
    const entry = this.track(
      { program, cmd, file, pid, startedAt: Date.now(), zeroIsFine: true, stderr: () => stderr },
      exit,
    );
    const kill = (sig: NodeJS.Signals = 'SIGTERM') => {
      entry.expected = true;
      if (exitInfo) return;
      try {
        process.kill(pid, sig);
      } catch {
        // already gone
      }
    };
    const stdinClosed = (why: string) =>
      new CheckFailure({ expected: `to write to the stdin of \`${cmd}\``, received: why, where: `pid ${pid}` });
    return {
      pid,
      cmd,
      events,
      // A check that awaits (or races) the exit handles it itself: the exit no longer ends its waits.
      get exit() {
        entry.expected = true;
        return exit;
      },
      exited: () => exitInfo,
      lastEvent: (kind) => {
        for (let i = events.length - 1; i >= 0; i--) if (events[i]!.json['event'] === kind) return events[i]!.json;
        return undefined;
      },
      write: (text) =>
        new Promise<void>((resolve, reject) => {
          if (!child.stdin || child.stdin.destroyed) return reject(stdinClosed('its stdin is closed (did it exit?)'));
          child.stdin.write(text, (err) => (err ? reject(stdinClosed(err.message)) : resolve()));
        }),
      endInput: () => child.stdin?.end(),
      kill,
      stderrText: () => stderr,
      stdoutTail: () => stdoutAll,
    };
  }

  /** SIGKILL every program still running, by pid, and wait for them to be gone. */
  async killAll(): Promise<void> {
    for (const t of this.tracked) t.expected = true;
    const waits: Promise<unknown>[] = [];
    for (const [pid, { exited }] of this.live) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
      waits.push(exited);
    }
    await Promise.all(waits);
  }
}
