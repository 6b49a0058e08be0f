// Assertions for graded checks (CONVENTIONS.md §3): every failure says what was expected, what was
// received, where, and a hint; every wait says how long it waited and for what.
import { inspect, isDeepStrictEqual } from 'node:util';
import { CodedError } from '../../shared/errors.ts';
import { crashDetail } from './stderr.ts';
import { deadProgramNow, type DeadProgram } from './watchdog.ts';

export interface FailureInfo {
  expected: string;
  received: string;
  where?: string | undefined;
  hint?: string | undefined;
}

/** A check failed: the lesson under test did not do what the contract says. */
export class CheckFailure extends CodedError {
  readonly code = 'LS_ERR_CHECK_FAILED';
  readonly expected: string;
  readonly received: string;
  readonly where: string | undefined;
  readonly hint: string | undefined;

  constructor(info: FailureInfo, options?: { cause?: unknown }) {
    super(`expected ${info.expected}, received ${info.received}`, options);
    this.name = 'CheckFailure';
    this.expected = info.expected;
    this.received = info.received;
    this.where = info.where;
    this.hint = info.hint;
  }

  info(): FailureInfo {
    return { expected: this.expected, received: this.received, where: this.where, hint: this.hint };
  }
}

/** Show a value the way a failure message should: short, one line where possible. */
export function show(value: unknown, maxLen = 400): string {
  const text =
    typeof value === 'string'
      ? JSON.stringify(value)
      : inspect(value, { depth: 4, breakLength: Infinity, maxArrayLength: 20, maxStringLength: 300 });
  return text.length > maxLen ? `${text.slice(0, maxLen)}… (${text.length} chars)` : text;
}

export function fail(info: FailureInfo): never {
  throw new CheckFailure(info);
}

export interface ExpectOptions {
  /** What is being compared, e.g. "exit code of `receiver --help`". */
  what: string;
  where?: string | undefined;
  hint?: string | undefined;
}

/** Deep, strict equality. */
export function expectEqual<T>(received: unknown, expected: T, opts: ExpectOptions): asserts received is T {
  if (!isDeepStrictEqual(received, expected)) {
    fail({
      expected: `${opts.what} = ${show(expected)}`,
      received: show(received),
      where: opts.where,
      hint: opts.hint,
    });
  }
}

export function expectTrue(cond: unknown, info: FailureInfo): asserts cond {
  if (!cond) fail(info);
}

export interface WaitForOptions {
  timeoutMs: number;
  /** What we wait for, phrased for "waited N ms for <what>". */
  what: string;
  intervalMs?: number;
  where?: string;
  hint?: string;
  /** Describes what was observed last, for the failure message. */
  received?: () => unknown;
  signal?: AbortSignal;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/**
 * Polls `cond` until it returns a truthy value (returned) or the deadline passes. `cond` may also
 * throw a CheckFailure: it is retried, and the last one is reported (with the time waited) at the
 * deadline, so an assertion can be polled as it is. Any other error is thrown at once.
 */
export async function waitFor<T>(cond: () => T | Promise<T>, opts: WaitForOptions): Promise<NonNullable<T>> {
  const start = Date.now();
  const deadline = start + opts.timeoutMs;
  let interval = Math.min(opts.intervalMs ?? 10, 50);
  const maxInterval = opts.intervalMs ?? 50;
  let lastFailure: CheckFailure | undefined;
  for (;;) {
    try {
      const value = await cond();
      if (value) return value;
      lastFailure = undefined;
    } catch (err) {
      if (!(err instanceof CheckFailure)) throw err;
      lastFailure = err;
    }
    // A program the check depends on exited on its own: what we wait for cannot come (watchdog.ts).
    const dead = deadProgramNow();
    if (dead) throw deadFailure(dead, opts, Date.now() - start, lastFailure);
    const now = Date.now();
    if (now >= deadline || opts.signal?.aborted) break;
    await sleep(Math.min(interval, deadline - now), opts.signal);
    interval = Math.min(interval * 2, maxInterval);
  }
  const waited = Date.now() - start;
  if (lastFailure) {
    throw new CheckFailure({
      expected: `${lastFailure.expected} (waited ${waited} ms for ${opts.what})`,
      received: lastFailure.received,
      where: lastFailure.where ?? opts.where,
      hint: lastFailure.hint ?? opts.hint,
    });
  }
  let received = 'the condition was still false';
  if (opts.received) {
    try {
      const r = await opts.received();
      received = typeof r === 'string' ? r : show(r);
    } catch (err) {
      received = `(could not observe: ${(err as Error).message})`;
    }
  }
  throw new CheckFailure({
    expected: `${opts.what} within ${opts.timeoutMs} ms (waited ${waited} ms)`,
    received,
    where: opts.where,
    hint: opts.hint,
  });
}

function deadFailure(
  dead: DeadProgram,
  opts: WaitForOptions,
  waited: number,
  last: CheckFailure | undefined,
): CheckFailure {
  const how = dead.signal ? `was killed by ${dead.signal}` : `exited with code ${dead.exitCode}`;
  return new CheckFailure({
    expected: last ? `${last.expected} (waited ${waited} ms for ${opts.what})` : `${opts.what} (waited ${waited} ms)`,
    received: `the ${dead.program} (\`${dead.cmd}\`, pid ${dead.pid}) ${how} ${dead.at - dead.startedAt} ms after it started, before that happened${last ? `; last seen: ${last.received}` : ''}${crashDetail(dead.stderr)}`,
    where: last?.where ?? opts.where ?? dead.file,
    hint: `the ${dead.program} stopped on its own while the check waited: its error above says where${opts.hint ? `. ${opts.hint}` : ''}`,
  });
}

/** Thrown by failNow() inside a waitUntil() condition. */
class StopWaiting extends Error {
  constructor(readonly failure: CheckFailure) {
    super(failure.message);
  }
}

/**
 * Inside a waitUntil() condition: something was seen that cannot get better (the program exited, a NACK
 * came), so fail at once instead of retrying until the deadline.
 */
export function failNow(info: FailureInfo): never {
  throw new StopWaiting(new CheckFailure(info));
}

/** waitFor, where the condition may call failNow() to stop waiting and report at once. */
export async function waitUntil<T>(cond: () => T | Promise<T>, opts: WaitForOptions): Promise<NonNullable<T>> {
  try {
    return await waitFor(cond, opts);
  } catch (err) {
    if (err instanceof StopWaiting) throw err.failure;
    throw err;
  }
}
