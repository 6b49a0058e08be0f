/**
 * The seeded fault schedule: which fault hits which lane, and when. The same seed gives the same
 * schedule (the report prints it), so a failing run can be replayed.
 */
import { seededRandom, type Random } from '../../shared/random.ts';

export const FAULT_KINDS = [
  'receiver-kill',
  'shipper-kill',
  'cut',
  'stall',
  'sigstop',
  'slow-disk',
  'full-disk',
  // issue 18 item 6: a second receiver on the same data dir (the dir lock must refuse it)
  'second-receiver',
  // the JetStream lane: kill -9 of a nats-server node, of the archiver
  'nats-kill',
  'archiver-kill',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface PlannedFault {
  lane: string;
  kind: FaultKind;
  /** ms after the start of the run */
  atMs: number;
  /** how long the fault lasts (stall, SIGSTOP, slow disk), ms */
  holdMs: number;
  /** kind-specific: slow disk ms per write; injected ENOSPC after this many bytes; cut 0 = FIN, 1 = RST */
  param: number;
}

export interface ScheduleOptions {
  lanes: readonly string[];
  /** faults in all, spread over the lanes (each lane gets every kind before any kind twice) */
  faults: number;
  /** faults fall in [startMs, endMs) */
  startMs: number;
  endMs: number;
  seed: number;
  /** the kinds a lane can take (default: every kind) */
  kindsOf?: (lane: string) => readonly FaultKind[];
}

function shuffled<T>(items: readonly T[], rnd: Random): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = rnd.int(i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** Per lane, faults at evenly spaced slots with seeded jitter, kinds in seeded rounds of every kind. */
export function planFaults(o: ScheduleOptions): PlannedFault[] {
  const rnd = seededRandom(o.seed);
  const out: PlannedFault[] = [];
  if (o.lanes.length === 0) return out;
  o.lanes.forEach((lane, li) => {
    const n = Math.floor(o.faults / o.lanes.length) + (li < o.faults % o.lanes.length ? 1 : 0);
    const kinds: FaultKind[] = [];
    const own = o.kindsOf?.(lane) ?? FAULT_KINDS;
    while (kinds.length < n) kinds.push(...shuffled(own, rnd));
    const slot = (o.endMs - o.startMs) / Math.max(1, n);
    for (let k = 0; k < n; k++) {
      const kind = kinds[k]!;
      const atMs = Math.round(o.startMs + slot * k + rnd.next() * slot * 0.5);
      const holdMs = 500 + rnd.int(2000);
      const param =
        kind === 'slow-disk'
          ? 20 + rnd.int(80)
          : kind === 'full-disk'
            ? 64 * 1024 + rnd.int(1 << 20)
            : kind === 'cut'
              ? rnd.int(2)
              : 0;
      out.push({ lane, kind, atMs, holdMs, param });
    }
  });
  return out.sort((a, b) => a.atMs - b.atMs);
}
