/** Small helpers the chaos run and the graceful checks share: waiting on conditions, stopping programs. */
import type { Program } from '../lib/launch.ts';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves true when `cond` holds, polling; false at the deadline. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 100,
): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() >= end) return false;
    await sleep(everyMs);
  }
}

/** pids the run signalled on purpose: any other exit of a program that should run is a finding */
export const signalled = new Set<number>();

/** SIGKILL now (a SIGCONT first, in case it is stopped); no error when it is gone already. */
export function killNow(pid: number): void {
  signalled.add(pid);
  try {
    process.kill(pid, 'SIGCONT');
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/** SIGKILLs whichever of `programs` still runs, and waits for them. */
export async function killAll(programs: Iterable<Program>): Promise<void> {
  for (const p of programs) {
    if (p.proc.exitCode !== null || p.proc.signalCode !== null) continue;
    killNow(p.pid);
    await p.exit;
  }
}

/** Sends `signal` and waits for the exit; SIGKILL after `hardMs` so a hang cannot hang the caller. */
export async function signalAndWait(
  p: Program,
  signal: NodeJS.Signals,
  hardMs: number,
): Promise<{ exitCode: number | null; signal: string | null; ms: number }> {
  const t = performance.now();
  signalled.add(p.pid);
  const killer = setTimeout(() => killNow(p.pid), hardMs);
  const r = await p.stop(signal);
  clearTimeout(killer);
  return { exitCode: r.exitCode ?? null, signal: r.signal ?? null, ms: Math.round(performance.now() - t) };
}
