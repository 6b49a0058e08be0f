// Reading a persisted record the way every day's checks do (CONVENTIONS.md §3): its attrs.id, its _rx, where it is.
import { CheckFailure, waitFor, type WaitForOptions } from '../assert.ts';
import type { PersistedRecord } from '../persisted.ts';

type Rec = Record<string, unknown>;

/** The record's `attrs.id` (what the checks tag records with), or undefined. */
export function idOf(r: Rec): string | undefined {
  const attrs = r['attrs'];
  if (attrs && typeof attrs === 'object') {
    const id = (attrs as Rec)['id'];
    if (typeof id === 'string') return id;
  }
  return undefined;
}

/** The record without the `_rx` the receiver added: what the sender sent. */
export function withoutRx(r: Rec): Rec {
  const { _rx: _ignored, ...rest } = r;
  return rest;
}

/** The receiver's `_rx` object of a persisted record ({} when absent). */
export function rxOf(p: PersistedRecord): Rec {
  const rx = p.record['_rx'];
  return rx && typeof rx === 'object' ? (rx as Rec) : {};
}

/** `file line N`, for failure messages. */
export const where = (p: PersistedRecord) => `${p.file} line ${p.lineNo}`;

/** `127.0.0.1:port`, for --receiver and friends. */
export const at = (port: number) => `127.0.0.1:${port}`;

/** A pause between actions whose effect cannot be awaited (a gap in a stream, a slow sender). */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * waitFor, where the time running out is an answer (false), not a failure: for a wait the check has a fallback for.
 * A failure thrown by the condition, or a program of the check dying (the watchdog), still fails.
 */
export async function waitOrGiveUp(cond: () => boolean | Promise<boolean>, opts: WaitForOptions): Promise<boolean> {
  const deadline = Date.now() + opts.timeoutMs;
  try {
    await waitFor(cond, opts);
    return true;
  } catch (err) {
    if (err instanceof CheckFailure && Date.now() >= deadline) return false;
    throw err;
  }
}
