/**
 * The one CLI layer every program uses (CONVENTIONS.md §2): flags first, then `LOGSTREAM_<FLAG>` environment
 * variables, then defaults; `--help` prints usage and exits 0; an unknown flag or a bad value prints ONE
 * line naming it on stderr and exits 2.
 *
 * Built on commander (a well-kept parser) so lessons declare options as data:
 *
 *   const args = parseCli({ name: 'day08 receiver', summary: '…', options: {
 *     ...serverOptions(),
 *     maxLineBytes: opt.bytes('--max-line-bytes <n>', 'longest accepted line', 65536),
 *   } });
 *   args.port // number
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { lanePort } from './lanes.ts';
import type { FileSinkOptions } from './storage/file-sink.ts';
import { DEFAULT_REJECTS_PER_SECOND, parseDuration, storageLimits, type StorageLimits } from './storage/limits.ts';

/** `R` records whether the value is always there (a default, or required): then it is not optional. */
export interface OptionSpec<T, R extends boolean = boolean> {
  /** type-level only */
  readonly __always?: R;
  /** commander flags, e.g. `--port <n>` or `--follow` */
  readonly flags: string;
  readonly description: string;
  readonly defaultValue?: T;
  /** turns the raw text (flag or env) into a value; throws InvalidArgumentError with a reason */
  readonly parse?: (raw: string) => T;
  readonly choices?: readonly string[];
  /** env variable name; default LOGSTREAM_<FLAG_NAME>; false for none */
  readonly env?: string | false;
  /** the option must be given (by flag or env) */
  readonly required?: boolean;
}

export type CliValues<O extends Record<string, OptionSpec<unknown>>> = {
  [K in keyof O]: O[K] extends OptionSpec<infer T, true> ? T : O[K] extends OptionSpec<infer T> ? T | undefined : never;
};
type Always<D> = [D] extends [undefined] ? false : true;

export interface CliDefinition<O extends Record<string, OptionSpec<unknown>>> {
  /** program name shown in usage and error lines, e.g. `lessons/day08/receiver.ts` */
  readonly name: string;
  readonly summary: string;
  readonly options: O;
  /** extra text after the option list (examples, notes) */
  readonly epilog?: string;
  /** cross-option validation; return an error line naming the flag, or undefined */
  readonly validate?: (values: CliValues<O>) => string | undefined;
  /** positional arguments, in order (issue 22.5: `npm run check -- day09` goes through parseCli too) */
  readonly positional?: readonly PositionalSpec[];
}

/** A positional argument: shown in usage as `<name>` (required) or `[name]`; it has no env variable. */
export interface PositionalSpec {
  readonly name: string;
  readonly description: string;
  readonly required?: boolean;
}

/** Exit code for usage errors (CONVENTIONS.md §2). */
export const EXIT_USAGE = 2;

function flagName(flags: string): string {
  const m = /--([a-z0-9-]+)/.exec(flags);
  if (!m?.[1]) throw new Error(`option flags need a long name: ${flags}`);
  return m[1];
}

export function envName(flags: string): string {
  return `LOGSTREAM_${flagName(flags).replace(/-/g, '_').toUpperCase()}`;
}

/** Parses argv (default process.argv) or exits: 0 after --help, 2 on a usage error. */
export function parseCli<O extends Record<string, OptionSpec<unknown>>>(
  def: CliDefinition<O>,
  argv: readonly string[] = process.argv,
): CliValues<O> {
  const result = parseCliArgs(def, argv.slice(2));
  if (typeof result === 'number') process.exit(result);
  return result.values;
}

/**
 * parseCli for a `main(argv)` that returns its exit code (a tool its tests run in-process): `argv` is the
 * user's arguments only; prints the usage or the one error line as parseCli does and returns 0 or 2, or the
 * values and the positional arguments.
 */
export function parseCliArgs<O extends Record<string, OptionSpec<unknown>>>(
  def: CliDefinition<O>,
  argv: readonly string[],
): { values: CliValues<O>; args: string[] } | 0 | typeof EXIT_USAGE {
  const result = tryParseCli(def, ['node', def.name, ...argv]);
  if (result.ok) return { values: result.values, args: result.args };
  if (result.exitCode === 0) {
    process.stdout.write(result.output);
  } else {
    process.stderr.write(`${def.name}: ${result.message}\n`);
  }
  return result.exitCode;
}

export type ParseResult<V> =
  | { ok: true; values: V; args: string[] }
  | { ok: false; exitCode: 0; output: string }
  | { ok: false; exitCode: typeof EXIT_USAGE; message: string };

/** The testable core of parseCli: never exits, never prints. */
export function tryParseCli<O extends Record<string, OptionSpec<unknown>>>(
  def: CliDefinition<O>,
  argv: readonly string[],
): ParseResult<CliValues<O>> {
  let helpText = '';
  const cmd = new Command()
    .name(def.name)
    .description(def.summary)
    .exitOverride()
    .allowExcessArguments(false)
    .configureOutput({ writeOut: (s) => (helpText += s), writeErr: () => {}, outputError: () => {} });
  const attr = new Map<string, string>();
  // a `--no-x` flag: commander stores it as x (true unless given); the program's key (noX) reads it inverted
  const negated = new Set<string>();
  for (const [key, spec] of Object.entries(def.options)) {
    const o = new Option(spec.flags, spec.description);
    if (o.negate && spec.defaultValue === false) negated.add(key);
    if (spec.env !== false) o.env(spec.env ?? envName(spec.flags));
    if (spec.choices) o.choices(spec.choices);
    if (spec.parse) {
      const parse = spec.parse;
      o.argParser((raw: string) => parse(raw));
    }
    if (spec.defaultValue !== undefined && !negated.has(key)) {
      const d = spec.defaultValue as unknown;
      const shown = Array.isArray(d) ? d.join(',') : isHostPort(d) ? formatHostPort(d) : String(d);
      o.default(spec.defaultValue, shown === '' ? '""' : shown);
    }
    if (spec.required) o.makeOptionMandatory(true);
    cmd.addOption(o);
    attr.set(key, o.attributeName());
  }
  for (const p of def.positional ?? []) cmd.argument(p.required ? `<${p.name}>` : `[${p.name}]`, p.description);
  if (def.epilog) cmd.addHelpText('after', `\n${def.epilog}`);
  try {
    cmd.parse(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') {
        return { ok: false, exitCode: 0, output: helpText };
      }
      return {
        ok: false,
        exitCode: EXIT_USAGE,
        message: err.message.replace(/^error: /, '').split('\n')[0] ?? err.message,
      };
    }
    throw err;
  }
  const raw = cmd.opts();
  const values: Record<string, unknown> = {};
  for (const [key, name] of attr) values[key] = negated.has(key) ? raw[name] === false : raw[name];
  const typed = values as CliValues<O>;
  const problem = def.validate?.(typed);
  if (problem) return { ok: false, exitCode: EXIT_USAGE, message: problem };
  return { ok: true, values: typed, args: cmd.args };
}

// ---------------------------------------------------------------------------------------------
// Option builders: each returns an OptionSpec whose parse names what is wrong.

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1 << 20,
  mb: 1 << 20,
  mib: 1 << 20,
  g: 1 << 30,
  gb: 1 << 30,
  gib: 1 << 30,
};

export function parseInteger(raw: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(raw.trim())) throw new InvalidArgumentError(`'${raw}' is not a whole number`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new InvalidArgumentError(`${raw} is out of range ${min}..${max}`);
  return n;
}

export function parseSize(raw: string, min: number, max: number): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(raw);
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new InvalidArgumentError(`'${raw}' is not a size (e.g. 65536, 64KiB, 4MiB)`);
  const n = Math.round(Number(m[1]) * unit);
  if (n < min || n > max) throw new InvalidArgumentError(`${raw} is out of range ${min}..${max} bytes`);
  return n;
}

export interface HostPort {
  host: string;
  port: number;
}

export function parseHostPort(raw: string): HostPort {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(raw) ?? /^([^:]+):(\d+)$/.exec(raw);
  if (!m) throw new InvalidArgumentError(`'${raw}' is not host:port (IPv6 as [::1]:port)`);
  return { host: m[1]!, port: parseInteger(m[2]!, 1, 65535) };
}

function isHostPort(v: unknown): v is HostPort {
  return typeof v === 'object' && v !== null && 'host' in v && 'port' in v;
}

export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

type RangedArgs<D> = [flags: string, description: string, defaultValue: D, range?: { min?: number; max?: number }];

/** A number option whose text `parse` reads and holds to [min, max] (opt.int, opt.bytes). */
function ranged<D extends number | undefined>(
  parse: (raw: string, min: number, max: number) => number,
  ...[flags, description, defaultValue, range = {}]: RangedArgs<D>
): OptionSpec<number, Always<D>> {
  const min = range.min ?? 0;
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  return { flags, description, defaultValue, parse: (raw) => parse(raw, min, max) };
}

export const opt = {
  string<D extends string | undefined = undefined>(
    flags: string,
    description: string,
    defaultValue?: D,
  ): OptionSpec<string, Always<D>> {
    return { flags, description, defaultValue };
  },
  requiredString(flags: string, description: string): OptionSpec<string, true> {
    return { flags, description, required: true };
  },
  /** a whole number within range (default 0 .. MAX_SAFE_INTEGER) */
  int<D extends number | undefined>(...a: RangedArgs<D>): OptionSpec<number, Always<D>> {
    return ranged(parseInteger, ...a);
  },
  /** a size in bytes, with or without a unit (64KiB, 4MiB), within range */
  bytes<D extends number | undefined>(...a: RangedArgs<D>): OptionSpec<number, Always<D>> {
    return ranged(parseSize, ...a);
  },
  choice<T extends string>(
    flags: string,
    description: string,
    choices: readonly T[],
    defaultValue: T,
  ): OptionSpec<T, true> {
    return { flags, description, choices, defaultValue };
  },
  flag(flags: string, description: string): OptionSpec<boolean, true> {
    return {
      flags,
      description,
      defaultValue: false,
    };
  },
  hostPort<D extends HostPort | undefined = undefined>(
    flags: string,
    description: string,
    defaultValue?: D,
  ): OptionSpec<HostPort, Always<D>> {
    return { flags, description, defaultValue, parse: parseHostPort };
  },
  list<D extends string[] | undefined = undefined>(
    flags: string,
    description: string,
    defaultValue?: D,
  ): OptionSpec<string[], Always<D>> {
    return {
      flags,
      description,
      defaultValue,
      parse: (raw) =>
        raw
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
    };
  },
};

/**
 * The ranges millisecond options share, named for what the time is (issue 22: one table, not the same literals in
 * each option); give one as opt.int's range.
 */
export const MS_RANGE = {
  /** how often a file is rewritten (stats.json, checkpoints): 10 ms to a minute */
  rewrite: { min: 10, max: 60_000 },
  /** how long something may wait before it leaves (a batch that is not full): at once to a minute */
  delay: { min: 0, max: 60_000 },
  /** how long a peer is given (a TLS handshake) or may stay silent: 100 ms to 10 minutes */
  patience: { min: 100, max: 600_000 },
  /** a reconnect window: 1 ms to an hour */
  backoff: { min: 1, max: 3_600_000 },
} as const;

// ---------------------------------------------------------------------------------------------
// Option groups shared by every lesson (CONVENTIONS.md §2).

/**
 * `--host`, `--port`, `--data-dir`, `--lane`, stats, fsync and storage settings: what every receiver takes.
 * `--port` defaults to the lane's port (shared/lanes.ts), where its shipper sends by default (issue 22.4).
 * `--fsync` defaults to group commit, what an acknowledged lane wants (issue 21.4: an ACK waits for one or
 * two fsyncs, never a timer); a lane without ACKs may pass `{ fsync: 'interval' }` (nobody waits on it, so
 * fewer fsyncs cost less).
 */
export function receiverOptions(lane: string, defaults: { fsync?: 'group' | 'always' | 'interval' | 'never' } = {}) {
  return {
    host: opt.string('--host <addr>', 'address to listen on', '127.0.0.1'),
    port: opt.int('--port <n>', `port to listen on (default: the ${lane} lane's; 0 = any free port)`, lanePort(lane), {
      max: 65535,
    }),
    dataDir: opt.string(
      '--data-dir <dir>',
      'where records, rejects.ndjson and stats.json are written (one receiver per dir: sink.lock)',
      `data/${lane}`,
    ),
    lane: opt.string('--lane <name>', 'lane name recorded in _rx.lane and stats.json', lane),
    fsync: opt.choice(
      '--fsync <policy>',
      'when data is fsynced: group (the next fsync starts as the last one ends) | always (after each write) | interval | never',
      ['group', 'always', 'interval', 'never'] as const,
      defaults.fsync ?? 'group',
    ),
    fsyncIntervalMs: opt.int('--fsync-interval-ms <n>', 'fsync period with --fsync interval', 100, {
      min: 1,
      max: 60_000,
    }),
    rotateBytes: opt.bytes(
      '--rotate-bytes <size>',
      'records files hold at most this size (rotated before a write would pass it; a single longer record gets a file of its own)',
      256 << 20,
      { min: 4096 },
    ),
    // issue 18.4: the disk bounded (shared/storage/file-sink.ts, retention.ts); `...storageLimits(args)` passes them on
    rejectsPerSecond: opt.int(
      '--rejects-per-second <n>',
      'rejects.ndjson lines written per second at most; the rest are counted (0 = all)',
      DEFAULT_REJECTS_PER_SECOND,
    ),
    retainBytes: opt.bytes(
      '--retain-bytes <size>',
      'remove the oldest rotated records files past this total (0 = keep all)',
      0,
    ),
    retainAgeMs: {
      flags: '--retain-age <duration>',
      description: 'remove rotated records files older than this, e.g. 7d, 12h (0 = keep all)',
      defaultValue: 0,
      parse: parseDuration,
    } as OptionSpec<number, true>,
    statsIntervalMs: opt.int('--stats-interval-ms <n>', 'how often stats.json is rewritten', 1000, MS_RANGE.rewrite),
    maxConnections: opt.int('--max-connections <n>', 'open connections accepted at once; more are refused', 1024, {
      min: 1,
      max: 1_000_000,
    }),
    idleTimeoutMs: opt.int(
      '--idle-timeout-ms <n>',
      'cut a connection that completes no line/frame for this long',
      60_000,
      { min: 10 },
    ),
    maxRecordBytes: opt.bytes('--max-record-bytes <size>', 'largest accepted record', 64 << 10, {
      min: 64,
      max: 64 << 20,
    }),
  };
}

/** What a receiver's FileSink is opened with, from its receiverOptions() values. */
export function receiverSinkOptions(
  args: {
    dataDir: string;
    fsync: FileSinkOptions['fsync'];
    fsyncIntervalMs: number;
    rotateBytes: number;
  } & StorageLimits,
): FileSinkOptions {
  return {
    dir: args.dataDir,
    fsync: args.fsync,
    fsyncIntervalMs: args.fsyncIntervalMs,
    rotateBytes: args.rotateBytes,
    ...storageLimits(args),
  };
}

/**
 * `--target`, `--input`, `--generate`, `--seed`: what every shipper takes. `--target` defaults to the port of
 * `lane` (shared/lanes.ts), where its receiver listens by default (issue 22.4), or to `defaultPort`.
 */
export function shipperOptions(lane: string, defaultPort = lanePort(lane)) {
  return {
    target: opt.hostPort('--target <host:port>', 'receiver to ship to', { host: '127.0.0.1', port: defaultPort }),
    input: opt.string('--input <file>', 'NDJSON records or plain text lines to ship; - for stdin'),
    format: opt.choice(
      '--format <fmt>',
      'input lines: auto (a line starting with { is a record, any other line is wrapped) | ndjson | text',
      ['auto', 'ndjson', 'text'] as const,
      'auto',
    ),
    generate: opt.int('--generate <n>', 'ship N synthetic records instead of --input', undefined, { min: 0 }),
    seed: opt.int('--seed <n>', 'seed for --generate', 1),
    service: opt.string('--service <name>', 'service name put on wrapped text lines', 'shipper'),
  };
}

/** Shippers need exactly one source. */
export function requireOneSource(v: { input?: string; generate?: number }): string | undefined {
  if (v.input === undefined && v.generate === undefined) return 'give --input FILE (or -) or --generate N';
  if (v.input !== undefined && v.generate !== undefined) return '--input and --generate exclude each other';
  return undefined;
}
