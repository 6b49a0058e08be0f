// A check's waits stop as soon as a program they depend on is gone (issue 16, Deliver 2): a receiver that
// crashed with code 1 will never write the record waitFor polls for, so waiting out the deadline (20 s on a
// broken copy) only hides the crash. The runner runs each check inside `checkScope` with its
// ProcessTracker; waitFor asks it, on every poll, whether one of the check's programs exited on its own.
// No day check file has to do anything for it.
import { AsyncLocalStorage } from 'node:async_hooks';

export interface DeadProgram {
  /** `receiver.ts --port 0 …` */
  cmd: string;
  /** receiver, shipper, … */
  program: string;
  file: string;
  pid: number;
  exitCode: number | null;
  signal: string | null;
  /** Date.now() of the start and of the exit. */
  startedAt: number;
  at: number;
  stderr: string;
}

export interface ProgramWatch {
  /**
   * A program of the check that exited although the check did not stop it, wait for its exit or kill it
   * (see ProcessTracker), at least `graceMs` ago (its last output has had time to land); else undefined.
   */
  deadProgram(graceMs: number): DeadProgram | undefined;
}

export const checkScope = new AsyncLocalStorage<ProgramWatch>();

/** How long after such an exit a wait still polls (the last records it sent may still be landing). */
export const EXIT_GRACE_MS = 500;

export function deadProgramNow(graceMs = EXIT_GRACE_MS): DeadProgram | undefined {
  return checkScope.getStore()?.deadProgram(graceMs);
}
