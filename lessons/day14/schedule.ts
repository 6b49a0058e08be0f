/**
 * Day 14 — the open-loop schedule: WHEN each record is due.
 *
 * Logs are written when things happen, not when the receiver is ready for them. So an honest load test
 * fixes the schedule up front, from the clock alone: at `t` seconds into the run, `dueAt(t)` records are
 * due — the integral of the rate from 0 to t — whatever the lane is doing. The generator sends the
 * difference between that and what it has generated so far, every turn (loadgen.ts). If it falls behind
 * (a GC pause, a busy core, a stalled process) it catches up on the next turn, and the records keep the
 * time they were due (`timeOf(n)`), so the delay shows in the latency instead of disappearing
 * ("coordinated omission": a generator that waits for the lane measures only the lane's good moments).
 *
 * Three rate profiles ([d14.2], [d14.6]):
 *
 *   constant   rate(t) = R                                   dueAt(t) = R·t
 *   ramp       rate(t) = R·t/S while t < S, then R           dueAt(t) = R·t²/(2S), then R·(t − S/2)
 *   steps      rate(t) = r_i for t in [i·D, (i+1)·D)          dueAt(t) = Σ r_i · (the part of step i before t)
 *
 *     records
 *       ▲                                   ╱ steps: a slope per step
 *       │                  ramp ──▶   ____╱
 *       │  constant ──▶  ╱       ___╱
 *       │              ╱    __╱
 *       │            ╱  _╱
 *       └──────────┴────────────────────▶ t
 *
 * Pure arithmetic, no clock and no I/O here: the loadgen reads the clock and asks.
 */

/** One rate profile. Rates in records/s, times in seconds from the start of the run. */
export interface ScheduleOptions {
  /** the constant rate, or the rate the ramp rises to (ignored with `steps`) */
  rate: number;
  /** seconds to rise linearly from 0 to `rate` (0: no ramp) */
  rampS?: number;
  /** these rates one after the other, `stepS` seconds each (instead of `rate`) */
  steps?: readonly number[] | undefined;
  /** seconds per step */
  stepS?: number;
}

export class Schedule {
  readonly rate: number;
  readonly rampS: number;
  readonly steps: readonly number[] | undefined;
  readonly stepS: number;

  constructor(o: ScheduleOptions) {
    this.rate = o.rate;
    this.rampS = o.rampS ?? 0;
    this.steps = o.steps && o.steps.length > 0 ? o.steps : undefined;
    this.stepS = o.stepS ?? 5;
  }

  /** The offered rate at `t` (records/s): what the progress bar shows. The last step holds after the steps. */
  rateAt(t: number): number {
    if (this.steps) return this.steps[Math.max(0, Math.min(this.steps.length - 1, Math.floor(t / this.stepS)))]!;
    return this.rampS > 0 && t < this.rampS ? (this.rate * t) / this.rampS : this.rate;
  }

  // @solution [d14.2, d14.6, d14.7] the schedule: dueAt(t) = records due by t seconds (the integral of the rate: constant, ramp, steps, whole records), and timeOf(n) = when record n (1, 2, …) is due (dueAt's inverse: the smallest t with dueAt(t) ≥ n)
  // @stub /** Records due by `t` seconds into the run (whole records; 0 at t = 0, never decreasing). */
  // @stub dueAt(_t: number): number {
  // @stub   return 0;
  // @stub }
  // @stub
  // @stub /** When record `n` (1-based) is due, in seconds from the start of the run. */
  // @stub timeOf(_n: number): number {
  // @stub   return 0;
  // @stub }
  /** Records due by `t` seconds into the run (whole records; 0 at t = 0, never decreasing). */
  dueAt(t: number): number {
    if (t <= 0) return 0;
    if (this.steps) {
      // each step contributes its rate × the part of it that lies before t
      let n = 0;
      for (let i = 0; i < this.steps.length; i++) {
        const from = i * this.stepS;
        if (t <= from) break;
        n += this.steps[i]! * Math.min(this.stepS, t - from);
      }
      return Math.floor(n);
    }
    // the ramp's area is a triangle; after it, the constant rate minus the half ramp it did not run at R
    if (this.rampS > 0 && t < this.rampS) return Math.floor((this.rate * t * t) / (2 * this.rampS));
    return Math.floor(this.rate * (t - this.rampS / 2));
  }

  /** When record `n` (1-based) is due, in seconds from the start of the run. */
  timeOf(n: number): number {
    if (n <= 0) return 0;
    // dueAt never decreases: bisect for the first t at which n records are due (to a microsecond)
    let lo = 0;
    let hi = 1;
    while (this.dueAt(hi) < n) {
      if (hi > 1e9) return Number.POSITIVE_INFINITY; // never due (a rate of 0)
      hi *= 2;
    }
    while (hi - lo > 1e-6) {
      const mid = (lo + hi) / 2;
      if (this.dueAt(mid) >= n) hi = mid;
      else lo = mid;
    }
    return hi;
  }
  // @end-solution
}
