/**
 * Reconnect backoff: exponential with FULL jitter (day 09, [d09.10]).
 *
 *   delay(attempt) = random(0, min(cap, base · 2^attempt))
 *
 * Why jitter at all: when a receiver restarts, every shipper that lost it retries. Without jitter they
 * all retry at the same instants (base, 2·base, 4·base, …) and hit the fresh receiver as one wave each
 * time. "Full" jitter spreads each wave uniformly over the whole window, which is what the AWS
 * architecture blog's measurements ("Exponential Backoff And Jitter") found does the least total work.
 * The cap keeps a long outage from growing the delay without end; `reset()` after a successful
 * handshake starts the next outage from `base` again.
 */
export interface BackoffOptions {
  /** window of the first retry, ms */
  baseMs: number;
  /** largest window, ms */
  capMs: number;
  /** uniform in [0, 1); default Math.random (tests pass a seeded one) */
  random?: () => number;
}

export class Backoff {
  /** failed attempts since the last reset: the exponent of the next window */
  attempt = 0;
  /** uniform in [0, 1) */
  readonly random: () => number;

  constructor(private readonly opts: BackoffOptions) {
    if (!(opts.baseMs >= 0) || !(opts.capMs >= opts.baseMs)) {
      throw new RangeError(`backoff needs 0 <= base (${opts.baseMs}) <= cap (${opts.capMs})`);
    }
    this.random = opts.random ?? Math.random;
  }

  /**
   * ceiling(attempt): the window the delay of `attempt` is drawn from, min(cap, base · 2^attempt).
   * next(): the delay before the next retry, a whole number of ms in [0, ceiling()], drawn with
   * this.random; counts the attempt.
   */
  // @solution [d09.10] ceiling(): the window min(cap, base·2^attempt); next(): a delay drawn uniformly at random from the whole window (full jitter), counting the attempt
  // @stub ceiling(_attempt = this.attempt): number { return this.opts.baseMs; }
  // @stub next(): number { this.attempt++; return this.ceiling(); }
  ceiling(attempt = this.attempt): number {
    // 2^attempt overflows to Infinity for huge attempts; min() with the cap keeps it finite.
    return Math.min(this.opts.capMs, this.opts.baseMs * 2 ** attempt);
  }

  next(): number {
    const delay = Math.floor(this.random() * (this.ceiling() + 1));
    this.attempt++;
    return delay;
  }
  // @end-solution

  /** A handshake succeeded: the next outage starts from `base` again. */
  reset(): void {
    this.attempt = 0;
  }
}
