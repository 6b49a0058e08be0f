// The shapes every day's checks are written against (CONVENTIONS.md §3).
import type { FailureInfo } from './assert.ts';
import type { Rng } from './rng.ts';
import type { TcpClient } from './tcp.ts';
import type { TodoRef } from './todos.ts';

export type ProgramName = 'receiver' | 'shipper' | 'loadgen';

export interface StartOptions {
  /** Extra environment variables (the harness removes inherited LOGSTREAM_* ones). */
  env?: Record<string, string>;
  /** How long to wait for the ready line; default 15 s. */
  readyTimeoutMs?: number;
}

export interface RunOptions {
  input?: string | Buffer;
  /** Kill the program (SIGKILL) after this long; default 15 s. */
  timeoutMs?: number;
  env?: Record<string, string>;
}

export interface RunResult {
  exitCode: number | null;
  signal: string | null;
  /** True when the harness killed it at `timeoutMs`. */
  timedOut: boolean;
  ms: number;
  stdout: string;
  stderr: string;
  /** stdout lines that parse as JSON objects. */
  json: Record<string, unknown>[];
}

export interface WatchOptions {
  /** Give the program a stdin pipe (write()/endInput()); default: no stdin. */
  stdin?: boolean;
  /** Extra environment variables (the harness removes inherited LOGSTREAM_* ones). */
  env?: Record<string, string>;
}

export interface ProgramExit {
  exitCode: number | null;
  signal: string | null;
  /** Date.now() at the exit. */
  at: number;
}

/** One JSON object line of a watched program's stdout. */
export interface ProgramEvent {
  /** Date.now() when the line reached the check. */
  at: number;
  json: Record<string, unknown>;
}

/** A program watched while it runs (a shipper, which prints no ready line): its JSON lines as they come. */
export interface WatchedProgram {
  readonly pid: number;
  /** `shipper.ts --flag …`, for messages. */
  readonly cmd: string;
  readonly events: ProgramEvent[];
  /**
   * Resolves at the exit. Reading it tells the harness the check handles the exit itself: from then on the
   * exit no longer ends the check's waits (watchdog.ts); before, a non-zero exit ends them at once.
   */
  readonly exit: Promise<ProgramExit>;
  exited(): ProgramExit | undefined;
  /** The last JSON line with this "event" field. */
  lastEvent(kind: string): Record<string, unknown> | undefined;
  /** Writes to its stdin (fails with a CheckFailure when the stdin is closed). */
  write(text: string): Promise<void>;
  endInput(): void;
  kill(signal?: NodeJS.Signals): void;
  stderrText(): string;
  /** The last 8 KiB of stdout. */
  stdoutTail(): string;
}

export interface StopResult {
  exitCode: number | null;
  signal: string | null;
  /** From the signal being sent to the exit. */
  ms: number;
  /** True when it did not exit in time and the harness had to SIGKILL it. */
  timedOut: boolean;
}

export interface RunningProgram {
  readonly program: ProgramName;
  readonly pid: number;
  /** The parsed ready line. */
  readonly ready: Record<string, unknown>;
  readonly host: string;
  readonly port: number;
  /** Every stdout line so far, the ready line first. */
  readonly stdoutLines: string[];
  stderrText(): string;
  readonly exited: boolean;
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM, wait for the exit (SIGKILL after `timeoutMs`, default 8 s). */
  stop(timeoutMs?: number): Promise<StopResult>;
  /** Resolves with the exit; rejects with a CheckFailure if it does not exit within `timeoutMs`. */
  waitExit(timeoutMs: number): Promise<StopResult>;
}

export interface CheckContext {
  readonly lesson: string;
  /** Absolute folder of the lesson under test: `<lessonsRoot>/<lesson>`. */
  readonly lessonDir: string;
  readonly repoRoot: string;
  /** This check's seed (derived from the run seed and the check id). */
  readonly seed: number;
  /** Seeded, in [0, 1). */
  readonly rng: Rng;
  /** Aborted when the check's time is up. */
  readonly signal: AbortSignal;
  /** A fresh temporary folder, removed after the check (kept with --keep). */
  tmp(): Promise<string>;
  /**
   * The path of one of the lesson's programs (`<lessonDir>/<program>.ts`). Every way a check starts a
   * lesson program goes through here (start/run do), so the harness knows which programs a check ran:
   * a fixture that patches none of them cannot change the check's result (checks/suites.ts).
   */
  programFile(program: ProgramName): string;
  /** Spawns `node --import tsx <lessonDir>/<program>.ts ...args` and waits for its ready line. */
  start(program: ProgramName, args: string[], opts?: StartOptions): Promise<RunningProgram>;
  /** Spawns a program and watches it while it runs (no ready line awaited); killed when the check ends. */
  watch(program: ProgramName, args: string[], opts?: WatchOptions): WatchedProgram;
  /** Spawns a program and waits for it to exit. */
  run(program: ProgramName, args: string[], opts?: RunOptions): Promise<RunResult>;
  /** A TCP client, destroyed when the check ends. */
  connect(host: string, port: number): Promise<TcpClient>;
  /** A note shown with the check's failure. */
  log(...parts: unknown[]): void;
}

export interface Check {
  /** Heavy or timing-sensitive: never run at the same time as another check. */
  exclusive?: boolean;
  /** "d08.3": matches `[d08.3]` in the lesson's README. */
  id: string;
  title: string;
  /** Points for passing. A `given` check has 0: it is shown, never earned. */
  points: number;
  /**
   * True when no TODO of the day's starter asks for what this check tests (the plumbing the lesson hands
   * over: --help, the ready line, …). A given check has 0 points and is shown as "given" in a grade; every
   * other check must fail on the untouched starter (scripts/starter.test.ts proves it).
   */
  given?: boolean;
  timeoutMs: number;
  run(ctx: CheckContext): Promise<void>;
}

export interface DayManifest {
  lesson: string;
  checks: Check[];
}

export type CheckStatus = 'passed' | 'failed' | 'not-run';

export interface CheckResult {
  id: string;
  title: string;
  /** What the check is worth (0 for a given check). */
  points: number;
  /** What this run earned: `points` when passed and not given, else 0. */
  earned: number;
  /** A check no TODO asks for: shown as "given", never earned (Check.given). */
  given?: boolean;
  status: CheckStatus;
  ms: number;
  failure?: FailureInfo & { timedOut?: boolean; internal?: boolean };
  /** ctx.log() notes, kept for failures. */
  logs?: string[];
  /** Folders kept by --keep. */
  kept?: string[];
  /** For a failure: the TODOs of the lesson whose brackets name this check (checks/harness/todos.ts). */
  dependsOn?: TodoRef[];
  /** The lesson programs the check ran (file names relative to the lesson dir), see ctx.programFile. */
  programs?: string[];
}
