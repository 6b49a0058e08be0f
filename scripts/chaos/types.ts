/**
 * What a chaos run takes and what it reports (issue 10, issue 18 item 6): the profiles, the options, and the
 * report of each lane and of the run. Its own module so that the lanes (acked-lane.ts, stream-lanes.ts,
 * loadgen-lane.ts, jetstream-lane.ts) and the report writer read these types without importing the run
 * that drives them (issue 22: no import cycle).
 */
import type { DirLockReport, FaultRecord, GracefulStop, LossReport, SegmentsReport } from './driver.ts';
import type { LaneFamily, LaneId } from './lanes.ts';
import type { FaultKind } from './schedule.ts';
import type { SeqVerdict } from './verify.ts';

export type Profile = 'short' | 'long';

export interface ChaosOptions {
  profile: Profile;
  lanes?: LaneId[];
  /** records per acked lane (the UDP lane sends as many) */
  records?: number;
  /** faults in all over the acked lanes (plus a few SIGSTOPs on UDP) */
  faults?: number;
  seed?: number;
  /** how long records flow and faults fall, ms */
  durationMs?: number;
  /** full disk by tmpfs (auto: when mounting works), or by the injected sink fault only */
  enospc?: 'auto' | 'tmpfs' | 'inject';
  /** work dir (default a fresh temp dir, removed afterwards unless keep) */
  workDir?: string;
  keep?: boolean;
  /** a progress line every second (stderr in the CLI) */
  onProgress?: (line: string) => void;
  /** every program log line (verbose) */
  onLog?: (lane: string, line: string) => void;
}

export const PROFILES: Record<Profile, { records: number; faults: number; durationMs: number; settleMs: number }> = {
  // issue 18 item 6: 11 lanes. short: ~2 min, every lane and every fault kind; long: ≥ 30M records
  // (11 × 2.8M), ≥ 100 faults, records flowing for 17.5 min, ≤ 25 min in all on the 2-core course machine
  short: { records: 40_000, faults: 64, durationMs: 50_000, settleMs: 60_000 },
  long: { records: 2_800_000, faults: 130, durationMs: 1_050_000, settleMs: 240_000 },
};

export interface LaneReport {
  lane: LaneId;
  family: LaneFamily;
  transport: string;
  acked: boolean;
  notes: string;
  records: number;
  stream: number | undefined;
  faults: Partial<Record<FaultKind, number>>;
  faultLog: FaultRecord[];
  receiverRestarts: number;
  shipperRestarts: number;
  /** the last shipper's done line (earlier ones died by kill -9): resent, spooled, reconnects, … */
  shipperDone?: Record<string, unknown> | undefined;
  peakRssMb: { receiver: number; shipper: number };
  verdict: SeqVerdict | undefined;
  /** rejects.ndjson lines (0 expected: every record is valid) */
  rejects: number;
  gracefulStops: GracefulStop[];
  /** day 10: where the loss happened */
  udp?: {
    sent: number;
    received: number;
    gaps: number;
    kernelDrops: number | null;
    appDrops: number;
    sendErrors: number;
    rcvbuf: number | null;
  };
  /** the shared-data-dir probe: second receivers tried, refused by the dir lock */
  dirLock: DirLockReport;
  /** lanes without ACKs (and day 14's never-ACKed records): loss by cause */
  loss?: LossReport;
  /** day 14: the loadgen's segments */
  segments?: SegmentsReport;
  converged: boolean;
  failures: string[];
  passed: boolean;
}

export interface ChaosReport {
  profile: Profile;
  seed: number;
  startedAt: string;
  elapsedMs: number;
  durationMs: number;
  recordsPerLane: number;
  recordsTotal: number;
  enospcMode: 'tmpfs' | 'inject';
  machine: { cpus: number; node: string; platform: string };
  faults: Partial<Record<FaultKind, number>>;
  faultsTotal: number;
  lanes: LaneReport[];
  failures: string[];
  passed: boolean;
  command: string;
}
