/**
 * Seeded randomness for generators, checks and benchmarks: the same seed gives the same sequence on
 * every machine (xoroshiro128+ from pure-rand, a well-kept PRNG library).
 */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

export interface Random {
  /** uniform in [0, 1) */
  next(): number;
  /** uniform integer in [0, n) */
  int(n: number): number;
  /** one element of a non-empty array */
  pick<T>(items: readonly T[]): T;
  /** index drawn with the given (unnormalised) weights */
  weighted(weights: readonly number[]): number;
}

export function seededRandom(seed: number): Random {
  const rng = xoroshiro128plus(seed | 0);
  const next = () => uniformFloat64(rng);
  // For small ranges 32 random bits are plenty (bias < n / 2^32): one generator step instead of two.
  const int = (n: number) => (rng.next() >>> 0) % n;
  return {
    next,
    int,
    pick: (items) => items[int(items.length)]!,
    weighted: (weights) => {
      let total = 0;
      for (const w of weights) total += w;
      let x = next() * total;
      for (let i = 0; i < weights.length; i++) {
        x -= weights[i]!;
        if (x < 0) return i;
      }
      return weights.length - 1;
    },
  };
}
