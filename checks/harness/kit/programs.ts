// Starting a day's programs the way every check does (CONVENTIONS.md §2): a receiver on 127.0.0.1 with an OS-picked
// port (checks always pass --port: a lane's default port may be taken by `npm start`), a temp data dir and stats
// every 100 ms; a shipper watched while it runs. One copy for every day (issue 22).
import { QUICK_SHIPPER_FLAGS } from '../../../tests/support/shipper-flags.ts';
import { fail, show } from '../assert.ts';
import type { CheckContext, RunningProgram, WatchedProgram } from '../types.ts';

export interface Receiver {
  rx: RunningProgram;
  dataDir: string;
  port: number;
  /** Date.now() just before the start. */
  startedAt: number;
}

export interface StartReceiverOptions {
  /** Default: a new `ctx.tmp()`. */
  dataDir?: string;
  /** Default 0: the OS picks one. */
  port?: number;
  /** Pass --host 127.0.0.1 (default true). */
  host?: boolean;
  /** Flags before --stats-interval-ms (day 13's --certs). */
  before?: string[];
  /** Flags after the standard ones. */
  extra?: string[];
  readyTimeoutMs?: number;
  /** Require a positive integer port in the ready line, with these words for the failure (default: none). */
  portCheck?: { what: string; where: string; hint: string };
  /** Words for the log line (`on udp 127.0.0.1:…`); default none. */
  transport?: string;
}

export async function startReceiver(ctx: CheckContext, opts: StartReceiverOptions = {}): Promise<Receiver> {
  const dataDir = opts.dataDir ?? (await ctx.tmp());
  const args = [
    ...(opts.host === false ? [] : ['--host', '127.0.0.1']),
    '--port',
    String(opts.port ?? 0),
    '--data-dir',
    dataDir,
    ...(opts.before ?? []),
    '--stats-interval-ms',
    '100',
    ...(opts.extra ?? []),
  ];
  const startedAt = Date.now();
  const rx = await ctx.start(
    'receiver',
    args,
    opts.readyTimeoutMs === undefined ? undefined : { readyTimeoutMs: opts.readyTimeoutMs },
  );
  const on = opts.transport ? `${opts.transport} ` : '';
  ctx.log(`receiver pid ${rx.pid} on ${on}${rx.host}:${rx.port}, data dir ${dataDir}, args ${args.join(' ')}`);
  if (opts.portCheck && (!Number.isInteger(rx.port) || rx.port <= 0)) {
    fail({
      expected: opts.portCheck.what,
      received: show(rx.ready['port']),
      where: opts.portCheck.where,
      hint: opts.portCheck.hint,
    });
  }
  return { rx, dataDir, port: rx.port, startedAt };
}

/** The ready-line port check of a TCP receiver (days 08, 09, 13). */
export const TCP_PORT_CHECK = {
  what: 'the ready line to carry the bound port (a positive integer)',
  where: 'receiver ready line',
  hint: 'with --port 0 the OS picks a port; announce the one you got',
};

/** An LSP/1 shipper's flags in the checks: its own state dir, progress lines every 100 ms, quick reconnects. */
export async function shipperFlags(
  ctx: CheckContext,
  target: string,
  extra: string[] = [],
  stateDir?: string,
): Promise<string[]> {
  return ['--target', target, '--state-dir', stateDir ?? (await ctx.tmp()), ...QUICK_SHIPPER_FLAGS, ...extra];
}

/** A shipper watched while it runs, its command logged. */
export function spawnShipper(
  ctx: CheckContext,
  args: string[],
  opts: { stdin?: boolean; env?: Record<string, string> } = {},
): WatchedProgram {
  const p = ctx.watch('shipper', args, opts);
  ctx.log(`shipper pid ${p.pid}: ${p.cmd}`);
  return p;
}

/**
 * The shipper's last `{"event":"done",…}` line; fails when there is none, showing the end of its stdout (or what
 * `opts.received` gives) and `opts.hint` (what a done line holds).
 */
export function doneOf(
  p: WatchedProgram,
  opts: { hint?: string; received?: () => string } = {},
): Record<string, unknown> {
  const d = p.lastEvent('done');
  if (!d)
    fail({
      expected: `a {"event":"done",…} line on the stdout of \`${p.cmd}\``,
      received: opts.received ? opts.received() : show(p.stdoutTail().slice(-400) || '(empty stdout)'),
      where: `pid ${p.pid} stdout`,
      ...(opts.hint === undefined ? {} : { hint: opts.hint }),
    });
  return d;
}
