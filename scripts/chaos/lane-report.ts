/**
 * The part of a lane's report every driver fills the same way (issue 18 item 6): its faults, restarts,
 * peaks, clean stops and dir-lock probes; each family adds its verdict (seqs, loss by cause, segments).
 */
import { readFile } from 'node:fs/promises';
import type { DriverBase, LossReport } from './driver.ts';
import type { LaneReport } from './types.ts';

export async function countLines(path: string): Promise<number> {
  try {
    return (await readFile(path, 'utf8')).split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}

/** The common LaneReport of a driver (loss lanes and segment lanes fill their own part). */
export function laneReportOf(
  d: DriverBase,
  x: {
    transport: string;
    notes: string;
    records: number;
    stream?: number | undefined;
    loss?: LossReport;
    segments?: LaneReport['segments'];
    verdict?: LaneReport['verdict'];
    failures: string[];
    verdictLines?: number;
    rejects?: number;
  },
): LaneReport {
  return {
    lane: d.id,
    family: d.family,
    transport: x.transport,
    acked: d.family === 'loadgen' || d.family === 'jetstream' || d.family === 'acked',
    notes: x.notes,
    records: x.records,
    stream: x.stream,
    faults: d.faultCounts(),
    faultLog: d.faultLog,
    receiverRestarts: d.receiverRestarts,
    shipperRestarts: d.shipperRestarts,
    peakRssMb: { ...d.peak },
    verdict: x.verdict,
    rejects: x.rejects ?? 0,
    gracefulStops: d.gracefulStops,
    converged: true,
    dirLock: { ...d.dirLock },
    ...(x.loss ? { loss: x.loss } : {}),
    ...(x.segments ? { segments: x.segments } : {}),
    failures: x.failures,
    passed: x.failures.length === 0,
  };
}
