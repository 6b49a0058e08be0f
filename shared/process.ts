/**
 * The process contract (CONVENTIONS.md §2): the ready line, the done line, and shutdown on SIGTERM/SIGINT with a
 * drain deadline. Checks, scripts and docker services drive programs through these alone.
 */
import type net from 'node:net';
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

/**
 * Listens on host:port (0 = any free port) and returns the port it got. A server error — the port in
 * use, an address this machine does not have, one later on — is logged and exits 1: a receiver that
 * cannot listen has nothing to do (CONVENTIONS.md §2).
 */
export async function listenOrExit(server: net.Server, host: string, port: number, log: Log): Promise<number> {
  server.on('error', (err) => {
    log.error('server error', { error: err.message });
    process.exit(1);
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return (server.address() as net.AddressInfo).port;
}
