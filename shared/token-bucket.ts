/**
 * A token bucket: `rate` tokens per second flow in, at most `burst` are kept. Used to pace a sender
 * (the day 10 shipper's `--rate`, in records/s) and to rate-limit work a flood could multiply (the
 * day 10 receiver's reject samples).
 *
 * Two ways to spend:
 * - `take(n)` always takes and may leave the bucket in debt; it returns how long the caller should wait
 *   for the debt to be paid. A sender takes per datagram and sleeps only when the debt is worth a timer,
 *   so pacing costs one subtraction per datagram, not a timer per record.
 * - `tryTake(n)` takes only when the tokens are there (no debt): "may I write another sample?".
 *
 * A rate of 0 means unlimited: `take` never asks to wait and `tryTake` always succeeds.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    /** tokens per second; 0 = unlimited */
    readonly rate: number,
    /** most tokens kept (the largest burst) */
    readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(rate >= 0) || !Number.isFinite(rate))
      throw new RangeError(`TokenBucket: rate must be 0 or more, got ${rate}`);
    if (!(burst > 0) || !Number.isFinite(burst))
      throw new RangeError(`TokenBucket: burst must be more than 0, got ${burst}`);
    this.tokens = burst;
    this.last = now();
  }

  get unlimited(): boolean {
    return this.rate === 0;
  }

  /** Tokens now (negative while in debt). */
  available(): number {
    this.refill();
    return this.tokens;
  }

  /** Takes `n` tokens, going into debt if need be; returns the ms until the debt is paid (0 if none). */
  take(n: number): number {
    if (this.rate === 0) return 0;
    this.refill();
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.rate) * 1000;
  }

  /** Takes `n` tokens if they are all there; otherwise takes nothing and returns false. */
  tryTake(n = 1): boolean {
    if (this.rate === 0) return true;
    this.refill();
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  private refill(): void {
    const t = this.now();
    const elapsed = t - this.last;
    this.last = t;
    if (elapsed > 0) this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.rate) / 1000);
  }
}
