/**
 * Day 09 shipper: `--generate N --rate R` — N seeded records created at R per second, in chunks (a token
 * bucket topped up every millisecond or so: no timer per record). Stops early when `stopped()` says so.
 */
import { RecordGenerator } from '../../shared/generate.ts';
import { TokenBucket } from '../../shared/token-bucket.ts';

export async function* generatePaced(
  n: number,
  rate: number,
  seed: number,
  stopped: () => boolean = () => false,
): AsyncGenerator<string[]> {
  const gen = new RecordGenerator({ seed, baseTimeMs: Date.now() });
  const bucket = new TokenBucket(rate, Math.max(1, Math.ceil(rate / 100))); // at most 10 ms worth at once
  let left = n;
  while (left > 0 && !stopped()) {
    const k = Math.min(left, Math.floor(bucket.available()));
    if (k > 0) {
      bucket.take(k);
      left -= k;
      yield gen.take(k);
    }
    if (left > 0) await new Promise((r) => setTimeout(r, 1));
  }
}
