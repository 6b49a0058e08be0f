/**
 * Shared settings for the fuzz suite (tests/fuzz/*.fuzz.test.ts).
 *
 * - Seeded: FUZZ_SEED=<n> replays a run; otherwise a fresh seed per process, always printed.
 * - Bounded: every property runs at most FUZZ_RUNS cases (default below) and at most FUZZ_MS
 *   milliseconds (default 1000; fast-check stops early and the property counts as passed). A long run:
 *   FUZZ_RUNS=200000 FUZZ_MS=600000 npx vitest run tests/fuzz
 * - A failure prints fast-check's counterexample and the seed/path to replay it; keep the shrunk input
 *   as a case in tests/fuzz/corpus/*.json (replayed by corpus.test.ts).
 */
import fc from 'fast-check';
import { LS_ERR, LsError } from '../../shared/protocol/errors.ts';
import { cutAt } from '../../shared/protocol/test-support.ts';

function envInt(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${raw}`);
  return n;
}

export const FUZZ_SEED = envInt('FUZZ_SEED') ?? Math.floor(Math.random() * 0x7fffffff);
const RUNS = envInt('FUZZ_RUNS');
const MS = envInt('FUZZ_MS') ?? (RUNS !== undefined ? 600_000 : 1000);

/** fast-check parameters for one property: seeded, bounded in runs and time. */
export function params<T>(defaultRuns: number): fc.Parameters<T> {
  return { seed: FUZZ_SEED, numRuns: RUNS ?? defaultRuns, interruptAfterTimeLimit: MS, markInterruptAsFailure: false };
}

/** Logs the seed once per test file (CONVENTIONS.md §3: randomness is seeded and the seed is printed). */
export function announceSeed(file: string): void {
  console.log(
    `[fuzz ${file}] seed ${FUZZ_SEED} runs ${RUNS ?? 'default'} limit ${MS} ms (replay: FUZZ_SEED=${FUZZ_SEED})`,
  );
}

const CODES: ReadonlySet<string> = new Set(Object.values(LS_ERR));

/** Rethrows anything that is not an LsError with a known code; returns the LsError. */
export function asLsError(err: unknown): LsError {
  if (!(err instanceof LsError) || !CODES.has(err.code)) {
    throw new Error(`expected an LsError with a stable code, got ${String(err)}`, { cause: err });
  }
  return err;
}

/** Random cut positions, as fractions of the input so they land inside inputs of any size. */
export const cutsArb = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 10 });
export const cutsFor = (data: Buffer, fractions: readonly number[]): Buffer[] =>
  cutAt(
    data,
    fractions.map((f) => Math.floor(f * data.length)),
  );

/** One edit a mutation fuzzer applies to a valid input. */
export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; n: number }
  | { kind: 'u32'; at: number; value: number };

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 8 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
  fc.record({
    kind: fc.constant('u32' as const),
    at: fc.nat(),
    value: fc.oneof(
      fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe),
      fc.integer({ min: 0, max: 0xffffffff }),
    ),
  }),
);

/** Applies mutations in order (positions taken modulo the current length). */
export function mutate(input: Buffer, muts: readonly Mutation[]): Buffer {
  let b = Buffer.from(input);
  for (const m of muts) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    switch (m.kind) {
      case 'flip':
        b[at] = b[at]! ^ (1 << m.bit);
        break;
      case 'set':
        b[at] = m.byte;
        break;
      case 'truncate':
        b = b.subarray(0, at);
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.n)]);
        break;
      case 'u32':
        if (at + 4 <= b.length) b.writeUInt32BE(m.value, at);
        break;
    }
  }
  return b;
}

export const mutationsArb = fc.array(mutationArb, { minLength: 1, maxLength: 4 });
