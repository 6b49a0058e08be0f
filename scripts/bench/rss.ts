/**
 * A server's peak resident memory for the benchmark's rows (issue 21.6: "Receiver RSS stays ≤ 150 MB at
 * saturation; no guarantee weakens"), so every run reports it beside records/s instead of someone sampling
 * /proc by hand.
 *
 * The figure is VmHWM from /proc/<pid>/status: the kernel's high-water mark of the process's resident set
 * over its whole life (all threads: a parse worker counts), in kB. It only ever grows, so one read at the END
 * of the timed run, while the process still runs, gives its peak — no sampling, nothing missed between
 * samples. Read it before the program is stopped: after exit /proc/<pid> is gone (or, reaped, another's).
 */
import { readFileSync } from 'node:fs';
import type { RunResult } from './types.ts';

/** The `extra` key every receiver row uses (the day 14 loadgen's own report already has a `peakRssMb`: its own). */
export const SERVER_PEAK_RSS = 'serverPeakRssMb';

/** The column a scenario's `figures` shows it under (report.ts: medians over the runs, "–" where missing). */
export const RSS_FIGURE: Record<string, string> = { [SERVER_PEAK_RSS]: 'server peak RSS (MiB)' };

/** Peak RSS of process `pid` in MiB (VmHWM, one decimal); undefined where /proc is missing (macOS) or it is gone. */
export function peakRssMb(pid: number): number | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  return m ? Math.round(Number(m[1]) / 102.4) / 10 : undefined;
}

/** `{ serverPeakRssMb }` for a run's `extra`, or nothing when it cannot be read (the report then shows "–"). */
export function peakRssExtra(pid: number): Record<string, number> {
  const mb = peakRssMb(pid);
  return mb === undefined ? {} : { [SERVER_PEAK_RSS]: mb };
}

/** `r` with the peak RSS of its server `pid` added to its `extra` (read now: call it before the server stops). */
export function withPeakRss(r: RunResult, pid: number): RunResult {
  return { ...r, extra: { ...r.extra, ...peakRssExtra(pid) } };
}
