// The process-contract check every day makes of its programs (CONVENTIONS.md §2), generated from a small table per
// program: `--help` exits 0 and lists the day's flags, each bad flag or value exits 2 with a stderr line naming it,
// the ready line announces the lesson and transport, and a program configured by LOGSTREAM_* alone ends with a done
// line. One copy for every day's dNN.1 (issue 22: "a generated process-contract check per program").
import path from 'node:path';
import { freePort } from '../../../shared/free-port.ts';
import { expectEqual, expectTrue, fail, show } from '../assert.ts';
import type { Check, CheckContext, ProgramName, RunningProgram, RunResult } from '../types.ts';
import { exitedWith, stderrNames } from './exit.ts';

/** A command line the program must refuse at start: exit 2, one stderr line naming `flag`. */
export interface BadFlagCase {
  /** The arguments after the row's `base`. */
  args: string[];
  /** The flag the stderr line must name. */
  flag: string;
  /** How failures name the command, e.g. `receiver --bogus`. */
  cmd: string;
  hint: string;
}

/**
 * A bad case in short: `[flag]` an unknown flag, `[flag, value]` a bad value (each with the contract's hint),
 * `[flag, value, hint]` a bad value with a hint of its own; or a whole BadFlagCase.
 */
export type BadFlag =
  [flag: string] | [flag: string, value: string] | [flag: string, value: string, hint: string] | BadFlagCase;

/** One program's row of the contract table. */
export interface ProgramContract {
  program: ProgramName;
  /** What every bad case starts with (a data dir, --port 0, …); a function gives each case its own (state dirs). */
  base?: string[] | (() => Promise<string[]>);
  /** The flags `--help` must list (on stdout or stderr). */
  usage: string[];
  bad: BadFlag[];
  /** The hint when `--help` does not exit 0; default: it prints usage and exits 0. */
  helpHint?: string;
  /** With this hint, a bad case must not print a ready line either (a server checks every flag before it listens). */
  noReady?: string;
}

export interface ContractRunOptions {
  /** Per run of the program. */
  timeoutMs: number;
  /** How much of stderr's end a wrong exit code shows (default 300). */
  tailChars?: number;
  /** A run still going after its ready line says it started anyway. */
  noteReady?: boolean;
}

export const HELP_HINT = '--help prints usage on stdout and exits 0';
export const UNKNOWN_FLAG_HINT = 'an unknown flag is an error: one stderr line naming it, exit 2';
export const BAD_VALUE_HINT = 'a bad value is an error: one stderr line naming the flag, exit 2';
export const ENV_FLAG_HINT = 'every flag also reads LOGSTREAM_<FLAG> from the environment (flag first)';

/** The whole case of a short one. */
export function badFlagCase(program: ProgramName, bad: BadFlag): BadFlagCase {
  if (!Array.isArray(bad)) return bad;
  const [flag, value, hint] = bad;
  if (value === undefined) return { args: [flag], flag, cmd: `${program} ${flag}`, hint: UNKNOWN_FLAG_HINT };
  return { args: [flag, value], flag, cmd: `${program} ${flag} ${value}`, hint: hint ?? BAD_VALUE_HINT };
}

/**
 * Runs each program's `--help` and its bad cases (one program's runs at once, the programs one after another) and
 * asserts, in table order: help exits 0, the usage names each flag, each bad case exits 2 naming its flag.
 */
export async function expectCliContract(
  ctx: CheckContext,
  table: readonly ProgramContract[],
  opts: ContractRunOptions,
): Promise<void> {
  const exit = {
    ...(opts.tailChars === undefined ? {} : { tailChars: opts.tailChars }),
    ...(opts.noteReady ? { noteReady: true } : {}),
  };
  for (const row of table) {
    const cases = row.bad.map((b) => badFlagCase(row.program, b));
    const base = async () => (typeof row.base === 'function' ? await row.base() : (row.base ?? []));
    const run = (args: string[]) => ctx.run(row.program, args, { timeoutMs: opts.timeoutMs });
    const [help, ...bad] = await Promise.all([
      run(['--help']),
      ...cases.map(async (c) => run([...(await base()), ...c.args])),
    ]);
    exitedWith(help, 0, `${row.program} --help`, row.helpHint ?? HELP_HINT, exit);
    expectUsage(help, row.program, row.usage);
    cases.forEach((c, i) => {
      exitedWith(bad[i]!, 2, c.cmd, c.hint, exit);
      stderrNames(bad[i]!, c.flag, c.cmd, row.noReady === undefined ? {} : { noReady: row.noReady });
    });
  }
}

/** The `--help` output of `program` names every flag of `flags`. */
export function expectUsage(help: RunResult, program: string, flags: readonly string[]): void {
  const usage = help.stdout + help.stderr;
  for (const flag of flags) {
    expectTrue(usage.includes(flag), {
      expected: `${program} usage naming ${flag}`,
      received: show(usage.slice(0, 400)),
      where: `${program} --help`,
      hint: 'list every flag in --help',
    });
  }
}

/** What a ready line must say (CONVENTIONS.md §2). */
export interface ReadyWant {
  /** Default `receiver`. */
  role?: string;
  lesson: string;
  transport: string;
  /** The port it was given through LOGSTREAM_PORT (checked when set). */
  port?: number;
  /** Check `"host"` is the default 127.0.0.1. */
  defaultHost?: boolean;
  /** Where failures point; default `receiver ready line`. */
  where?: string;
  /** The whole line, as the hint of a wrong role or lesson. */
  shape?: string;
  /** The hint of a wrong transport; default `shape`. */
  transportHint?: string;
  /** Failures show the ready line itself after `where`. */
  showLine?: boolean;
}

export function expectReadyLine(ready: Record<string, unknown>, want: ReadyWant): void {
  const where = `${want.where ?? 'receiver ready line'}${want.showLine ? ` ${JSON.stringify(ready)}` : ''}`;
  const shape = want.shape === undefined ? {} : { hint: want.shape };
  expectEqual(ready['role'], want.role ?? 'receiver', { what: 'ready line "role"', where, ...shape });
  expectEqual(ready['lesson'], want.lesson, { what: 'ready line "lesson"', where, ...shape });
  const transportHint = want.transportHint ?? want.shape;
  expectEqual(ready['transport'], want.transport, {
    what: 'ready line "transport"',
    where,
    ...(transportHint === undefined ? {} : { hint: transportHint }),
  });
  if (want.defaultHost)
    expectEqual(ready['host'], '127.0.0.1', {
      what: 'ready line "host" (default --host)',
      where,
      hint: 'the default host is 127.0.0.1',
    });
  if (want.port !== undefined)
    expectEqual(ready['port'], want.port, {
      what: 'ready line "port" when started with LOGSTREAM_PORT',
      where,
      hint: ENV_FLAG_HINT,
    });
}

/**
 * Runs `program` configured by `env` alone (no flags) to its end: it must exit 0 (else `hint`) and print a done line,
 * which is returned. `cmd` names the run in failures.
 */
export async function runByEnv(
  ctx: CheckContext,
  program: ProgramName,
  env: Record<string, string>,
  opts: { cmd: string; hint: string; timeoutMs: number; tailChars?: number },
): Promise<{ done: Record<string, unknown>; json: Record<string, unknown>[] }> {
  const res = await ctx.run(program, [], { env, timeoutMs: opts.timeoutMs });
  exitedWith(res, 0, opts.cmd, opts.hint, opts.tailChars === undefined ? {} : { tailChars: opts.tailChars });
  const done = res.json.filter((j) => j['event'] === 'done').pop();
  if (!done)
    fail({
      expected: `a {"event":"done",…} line on the stdout of \`${opts.cmd}\``,
      received: show(res.stdout.slice(-300) || '(empty stdout)'),
      where: `${program} stdout`,
    });
  return { done, json: res.json };
}

/** The directories of one run of a contract check, for its table's bases and its own steps. */
export interface ContractDirs {
  /** The receiver's data dir: one temp dir for the whole check. */
  dataDir: string;
  /** A new temp dir on each call (a shipper's state dir, say). */
  tmp: () => Promise<string>;
  /** `name` inside a temp dir of the check, not created: the same path on each call (certificates made on the first run). */
  fresh: (name: string) => Promise<string>;
}

/** A row of a contract check's table, the program being its key; its base may use the check's dirs. */
export type ContractRow = Omit<ProgramContract, 'program' | 'base'> & {
  base?: string[] | ((dirs: ContractDirs) => string[] | Promise<string[]>);
};

/** The base of most receiver rows: the check's data dir, any port. */
export const RECEIVER_BASE = ({ dataDir }: ContractDirs): string[] => ['--data-dir', dataDir, '--port', '0'];
/** The base of most shipper rows: one record, a state dir of its own per run. */
export const SHIPPER_BASE = async ({ tmp }: ContractDirs): Promise<string[]> => [
  '--generate',
  '1',
  '--state-dir',
  await tmp(),
];

export interface ContractCheckSpec {
  id: string;
  title: string;
  /** What the check earns; without it the check is given (0 points): the lesson hands the contract over. */
  points?: number;
  timeoutMs: number;
  /** The programs in the order they are run: program → its row (usage flags, bad cases). */
  programs: Partial<Record<ProgramName, ContractRow>>;
  /** How each run of the table goes (its timeout, how much stderr a failure shows). */
  runs: ContractRunOptions;
  /** The day's own steps after the table: LOGSTREAM_* runs, the ready line, a done line. */
  then?(ctx: CheckContext, dirs: ContractDirs): Promise<void>;
}

/**
 * The dNN.1 check of a day, generated from its table (issue 22): `--help` and the bad cases of every program
 * (expectCliContract), then the day's own steps. One copy of the opening every day's contract check shared.
 */
export function contractCheck(spec: ContractCheckSpec): Check {
  return {
    id: spec.id,
    title: spec.title,
    ...(spec.points === undefined ? { given: true } : {}),
    points: spec.points ?? 0,
    timeoutMs: spec.timeoutMs,
    async run(ctx) {
      const named = new Map<string, Promise<string>>();
      const dirs: ContractDirs = {
        dataDir: await ctx.tmp(),
        tmp: () => ctx.tmp(),
        fresh: (name) => {
          const dir = named.get(name) ?? ctx.tmp().then((d) => path.join(d, name));
          named.set(name, dir);
          return dir;
        },
      };
      const table = Object.entries(spec.programs).map(([program, { base, ...row }]): ProgramContract => ({
        program: program as ProgramName,
        ...row,
        ...(base === undefined ? {} : { base: Array.isArray(base) ? base : async () => base(dirs) }),
      }));
      await expectCliContract(ctx, table, spec.runs);
      await spec.then?.(ctx, dirs);
    },
  };
}

/** A receiver configured by LOGSTREAM_* (CONVENTIONS.md §2) and what its ready line must say. */
export interface EnvReceiverSpec {
  /** Flags beside `--data-dir` (the check's). */
  args?: string[];
  /** LOGSTREAM_* settings beside LOGSTREAM_PORT. */
  env?: Record<string, string>;
  /** LOGSTREAM_PORT: a free TCP or UDP port, which the ready line must announce; or 0, any port (not checked). */
  port: 'tcp' | 'udp' | 0;
  readyTimeoutMs?: number;
  ready: Omit<ReadyWant, 'port'>;
}

/**
 * Starts the receiver on `dataDir` with LOGSTREAM_PORT (and `spec.env`) and checks its ready line: every flag also
 * reads LOGSTREAM_<FLAG>, and the ready line announces the lesson, transport, host and port.
 */
export async function envReceiver(
  ctx: CheckContext,
  dataDir: string,
  spec: EnvReceiverSpec,
): Promise<{ rx: RunningProgram; port: number }> {
  const port = spec.port === 0 ? 0 : await freePort(spec.port);
  const env = { LOGSTREAM_PORT: String(port), ...spec.env };
  const rx = await ctx.start('receiver', ['--data-dir', dataDir, ...(spec.args ?? [])], {
    env,
    ...(spec.readyTimeoutMs === undefined ? {} : { readyTimeoutMs: spec.readyTimeoutMs }),
  });
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  ctx.log(`receiver started with ${vars.join(' ')}: ready ${JSON.stringify(rx.ready)}`);
  expectReadyLine(rx.ready, { ...spec.ready, ...(port === 0 ? {} : { port }) });
  return { rx, port };
}
