/**
 * Day 14 — ACK latency: how long a record waited, from when it was DUE to the ACK that covers it.
 *
 * Recording is day 09's: every lane keeps a `WaitTimes` (lessons/day09/wait-times.ts). A batch enters
 * it with a start time, and each ACK stops the clock of every record it covers, one HDR-histogram entry per
 * record (microseconds, 3 significant digits: ~0.1 % error at any magnitude, fixed memory however many
 * records). What day 14 changes is the start time: the loadgen enters each batch with the time its first
 * record was DUE on the schedule (schedule.ts `timeOf`), not the time the loop got round to it — so a
 * generator that fell behind, a full socket buffer or a receiver's queue all show up as latency [d14.7].
 *
 * This file turns the lanes' histograms into the report's `latencyMs` [d14.5]: a mean hides the tail,
 * so the report gives percentiles — p50 (the typical record), p90, p99, p99.9 (the tail a user hits
 * sooner or later) — and the max.
 */
import type { Histogram } from 'hdr-histogram-js';

/** The report's `latencyMs`: milliseconds (3 decimals); all null when nothing was measured (no ACKs). */
export interface LatencyMs {
  p50: number | null;
  p90: number | null;
  p99: number | null;
  p999: number | null;
  max: number | null;
  mean: number | null;
  /** records measured */
  n: number;
}

export const NO_LATENCY: Readonly<LatencyMs> = {
  p50: null,
  p90: null,
  p99: null,
  p999: null,
  max: null,
  mean: null,
  n: 0,
};

/** The run's ACK latency from the lanes' histograms (values in µs; one per lane, some may be empty). */
export function latencyReport(histograms: readonly Histogram[]): LatencyMs {
  // @solution [d14.5, d14.7] the run's latency: all lanes' histograms as one, then p50, p90, p99, p99.9, max and mean in ms, and n (records measured); NO_LATENCY when nothing was measured
  // @stub void histograms;
  // @stub return { ...NO_LATENCY };
  const measured = histograms.filter((h) => h.totalCount > 0);
  if (measured.length === 0) return { ...NO_LATENCY };
  // one histogram for the run: the first lane's, with the others added (HDR histograms add bucket by bucket)
  const all = measured[0]!;
  for (const h of measured.slice(1)) all.add(h);
  const ms = (us: number) => Math.round(us) / 1000;
  // a percentile is reported as the top of its HDR bucket, which can lie above the largest value: cap it
  const at = (p: number) => ms(Math.min(all.maxValue, all.getValueAtPercentile(p)));
  return {
    p50: at(50),
    p90: at(90),
    p99: at(99),
    p999: at(99.9),
    max: ms(all.maxValue),
    mean: ms(all.mean),
    n: all.totalCount,
  };
  // @end-solution
}
