/**
 * The process contract (CONVENTIONS.md §2): the ready line, the done line, and shutdown on SIGTERM/SIGINT with a
 * drain deadline. Checks, scripts and docker services drive programs through these alone.
 */
import type dgram from 'node:dgram';
import type net from 'node:net';
import { relative } from 'node:path';
import { EXIT_USAGE } from './cli.ts';
import type { Log } from './log.ts';

export interface ReadyInfo {
  /** 'receiver', 'shipper', 'loadgen', 'dashboard', 'proxy', … */
  role: string;
  lesson: string;
  transport: string;
  host: string;
  port: number;
  [extra: string]: unknown;
}

/** Set once onShutdown() is registered; until then a held signal waits for it (see holdSignals). */
let shutdownRun: ((reason: string) => Promise<never>) | undefined;
let held: { signal: NodeJS.Signals | undefined; release: () => void } | undefined;

/**
 * A supervisor may send SIGTERM the instant it reads the ready line, and a program registers onShutdown()
 * a few statements later: under load the signal landed in between and killed it undrained (found by the
 * chaos suite, issue 10). So from the ready line until onShutdown() registers, a SIGTERM/SIGINT is held
 * and handed to it; a program that never registers gets the signal's default action back within 1 s.
 */
function holdSignals(): void {
  if (shutdownRun || held) return;
  const onSignal = (sig: NodeJS.Signals) => {
    if (held) held.signal ??= sig;
  };
  const timer = setTimeout(() => {
    const sig = held?.signal;
    held?.release();
    if (sig && !shutdownRun) process.kill(process.pid, sig); // nobody took it over: the default action now
  }, 1000);
  timer.unref();
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  held = {
    signal: undefined,
    release: () => {
      clearTimeout(timer);
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      held = undefined;
    },
  };
}

/** First stdout line of a server, printed once it accepts traffic. */
export function announceReady(info: ReadyInfo): void {
  holdSignals();
  process.stdout.write(`${JSON.stringify({ event: 'ready', ...info, pid: process.pid })}\n`);
}

export interface DoneInfo {
  sent: number;
  acked: number;
  dropped: number;
  [extra: string]: unknown;
}

/** Last stdout line of a shipper or load generator. */
export function announceDone(info: DoneInfo): void {
  process.stdout.write(`${JSON.stringify({ event: 'done', ...info })}\n`);
}

export interface ShutdownOptions {
  /** how long the handler may take before the process gives up (the contract says exit within 5 s) */
  deadlineMs?: number;
  log?: Log;
}

/**
 * Runs `handler` once on the first SIGTERM or SIGINT, then exits 0. A second signal, or the deadline
 * passing, exits 1 at once: an operator pressing Ctrl-C twice means "now".
 * Returns a function that triggers the same shutdown from code (e.g. when a shipper has finished).
 */
export function onShutdown(
  handler: (reason: string) => Promise<void>,
  opts: ShutdownOptions = {},
): (reason: string) => Promise<never> {
  const deadlineMs = opts.deadlineMs ?? 4500;
  let running: Promise<never> | undefined;
  const run = (reason: string): Promise<never> => {
    if (running) return running;
    running = (async () => {
      const timer = setTimeout(() => {
        opts.log?.error('shutdown deadline passed; exiting without a clean drain', { deadlineMs, reason });
        process.exit(1);
      }, deadlineMs);
      timer.unref();
      try {
        await handler(reason);
      } catch (err) {
        opts.log?.error('shutdown failed', { error: String(err) });
        process.exit(1);
      }
      process.exit(0);
    })();
    return running;
  };
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      if (running) {
        opts.log?.warn(`second ${sig}: exiting now`);
        process.exit(1);
      }
      opts.log?.info(`${sig} received: draining`, { deadlineMs });
      void run(sig);
    });
  }
  shutdownRun = run;
  if (held) {
    // a signal that arrived between the ready line and now is served as if it came just now
    const sig = held.signal;
    held.release();
    if (sig) {
      opts.log?.info(`${sig} received: draining`, { deadlineMs });
      void run(sig);
    }
  }
  return run;
}

/** Where a receiver listens: its --host, its --port (0 = any free port) and the lane the port belongs to. */
export interface ListenArgs {
  host: string;
  port: number;
  lane: string;
}

/**
 * The port is taken (EADDRINUSE) or this machine has no such address: one line naming the flag, the lane and
 * what to do, exit 2 — a value the user can change, reported as the process contract reports a bad value
 * (CONVENTIONS.md §2), the way a --data-dir held by another receiver is (shared/storage/file-sink.ts). Issue
 * 22.4: every receiver defaults to its lane's port, so a second run of a lane (or `npm start` beside
 * `npm run lesson`) lands here.
 */
function cannotListen(err: NodeJS.ErrnoException, where: ListenArgs, flag: string): never {
  const program = process.argv[1] ? relative(process.cwd(), process.argv[1]) : 'receiver';
  const why =
    err.code === 'EADDRINUSE'
      ? `${where.host}:${where.port} (lane ${where.lane}) is in use by another program: use ${flag} 0 (any free port) or another`
      : `cannot listen on ${where.host}:${where.port} (lane ${where.lane}): ${err.message}`;
  process.stderr.write(`${program}: ${flag}: ${why}\n`);
  process.exit(EXIT_USAGE);
}

/**
 * Listens on host:port (0 = any free port) and returns the port it got. A port in use or an address this
 * machine does not have is a usage error (cannotListen); a server error later on is logged and exits 1: a
 * receiver that cannot listen has nothing to do (CONVENTIONS.md §2).
 */
export async function listenOrExit(server: net.Server, where: ListenArgs, log: Log, flag = '--port'): Promise<number> {
  const failed = (err: NodeJS.ErrnoException) => cannotListen(err, where, flag);
  server.once('error', failed);
  await new Promise<void>((resolve) => server.listen(where.port, where.host, resolve));
  server.off('error', failed);
  server.on('error', (err) => {
    log.error('server error', { error: err.message });
    process.exit(1);
  });
  return (server.address() as net.AddressInfo).port;
}

/** listenOrExit for a UDP socket: binds host:port and returns the port it got. */
export async function bindOrExit(socket: dgram.Socket, where: ListenArgs, log: Log, flag = '--port'): Promise<number> {
  const failed = (err: NodeJS.ErrnoException) => cannotListen(err, where, flag);
  socket.once('error', failed);
  await new Promise<void>((resolve) => socket.bind(where.port, where.host, resolve));
  socket.off('error', failed);
  socket.on('error', (err) => {
    log.error('socket error', { error: err.message });
    process.exit(1);
  });
  return socket.address().port;
}

/** What every receiver's ready line, 'listening' and 'stopped' log lines and SIGTERM handling share. */
export interface ServeReceiver {
  lesson: string;
  /** the ready line's transport (COURSE.md's ports table) */
  transport: string;
  args: { host: string; lane: string; dataDir: string; fsync?: string };
  /** the port it got (listenOrExit, bindOrExit) */
  port: number;
  log: Log;
  /** more fields for the ready line */
  ready?: Record<string, unknown>;
  /** more fields for the 'listening' log line */
  listening?: Record<string, unknown>;
  /** the stats.json writer: stopped after the drain, so the last stats.json holds everything */
  statsWriter: { stop(): Promise<void> };
  /** the receiver's counters: the last log line says what was persisted, dropped as a duplicate, rejected */
  stats: { records: { persisted: number; duplicates: number; rejected: number } };
  /** more fields for the last log line */
  stopped?: () => Record<string, unknown>;
}

/**
 * The tail of every receiver (issue 22.2: it stood in each one): on SIGTERM/SIGINT `drain` (stop accepting,
 * read what is on the wire, flush, fsync, close) and the final stats; then the ready line — the receiver
 * takes traffic from here on — and the 'listening' log line.
 */
export function serveReceiver(r: ServeReceiver, drain: () => Promise<void>): void {
  const { host, lane, dataDir, fsync } = r.args;
  onShutdown(
    async () => {
      await drain();
      await r.statsWriter.stop();
      const { persisted, duplicates, rejected } = r.stats.records;
      r.log.info('stopped', { persisted, duplicates, rejected, ...r.stopped?.() });
    },
    { log: r.log },
  );
  announceReady({
    role: 'receiver',
    lesson: r.lesson,
    transport: r.transport,
    host,
    port: r.port,
    lane,
    dataDir,
    ...r.ready,
  });
  r.log.info('listening', { host, port: r.port, dataDir, fsync, ...r.listening });
}
