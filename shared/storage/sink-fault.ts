/**
 * The file sink's fault injection for the hardening suite (scripts/chaos.ts, tests/sink-kill.test.ts,
 * tests/heavy/restart.test.ts): LOGSTREAM_FAULT_SINK, parsed once at startup. FileSink (file-sink.ts) reads
 * SINK_FAULT and passes its kill points; other code on the receiver's path to disk (the marks checkpoint,
 * lessons/day09/hwm-store.ts) calls sinkFaultPoint. Kept apart from FileSink so the sink stays readable.
 */

/**
 * Fault injection for the hardening suite (scripts/chaos.ts), off unless the environment variable is set;
 * read once at startup, and when unset it costs one comparison per write:
 *   LOGSTREAM_FAULT_SINK=slow:MS             every write waits MS ms first (a slow disk)
 *   LOGSTREAM_FAULT_SINK=enospc-after:BYTES  once a sink has written BYTES bytes of records, the next write
 *                                            writes what fits and then fails with ENOSPC (a full disk)
 */
export interface SinkFault {
  slowMs?: number;
  enospcAfterBytes?: number;
  /** SIGKILL this process the `nth` time it reaches `point` */
  killAt?: { point: KillPoint; nth: number };
}

/**
 * Named points where LOGSTREAM_FAULT_SINK=kill-at:POINT[:N] kills the process (SIGKILL, as kill -9 would)
 * the Nth time (default 1st) it gets there — the restart tests (tests/heavy/restart.test.ts) stop a real
 * receiver at each one and prove it starts again with nothing acknowledged lost or duplicated:
 *   write       mid-write: half of a write is on disk (a partial last line)
 *   rotate      the old file closed and a new empty one opened, the old one not yet compressed
 *   compress    a compressed `.tmp` complete and fsynced, not yet renamed over (beside its source)
 *   compressed  the compressed file renamed into place, its source not yet removed
 *   checkpoint  the receiver's marks checkpoint temp file written, not yet renamed (lessons/day09/hwm-store.ts)
 */
export const KILL_POINTS = ['write', 'rotate', 'compress', 'compressed', 'checkpoint'] as const;
export type KillPoint = (typeof KILL_POINTS)[number];

/** Parses LOGSTREAM_FAULT_SINK: one fault, or several separated by commas. */
export function parseSinkFault(raw: string | undefined): SinkFault {
  const fault: SinkFault = {};
  if (raw === undefined || raw.trim() === '') return fault;
  for (const part of raw.split(',')) {
    const m = /^(slow|enospc-after):(\d+)$/.exec(part.trim());
    const k = /^kill-at:([a-z]+)(?::(\d+))?$/.exec(part.trim());
    if (m) {
      if (m[1] === 'slow') fault.slowMs = Number(m[2]);
      else fault.enospcAfterBytes = Number(m[2]);
    } else if (k && (KILL_POINTS as readonly string[]).includes(k[1]!) && (k[2] === undefined || Number(k[2]) >= 1)) {
      fault.killAt = { point: k[1] as KillPoint, nth: k[2] === undefined ? 1 : Number(k[2]) };
    } else {
      throw new Error(
        `LOGSTREAM_FAULT_SINK: '${raw}' is not slow:MS, enospc-after:BYTES or kill-at:${KILL_POINTS.join('|')}[:N] (comma-separated)`,
      );
    }
  }
  return fault;
}

/** the faults this process runs with (LOGSTREAM_FAULT_SINK, read once at startup) */
export const SINK_FAULT = parseSinkFault(process.env.LOGSTREAM_FAULT_SINK);
let killPointHits = 0;

/**
 * A named kill point (see KILL_POINTS): with LOGSTREAM_FAULT_SINK=kill-at:POINT[:N], the Nth call with
 * that point kills this process with SIGKILL. Unset, it costs one comparison.
 */
export function sinkFaultPoint(point: KillPoint): void {
  if (killPointReached(point)) process.kill(process.pid, 'SIGKILL');
}

/** Counts a pass through `point`; true when this is the pass LOGSTREAM_FAULT_SINK=kill-at names. */
export function killPointReached(point: KillPoint): boolean {
  if (SINK_FAULT.killAt?.point !== point) return false;
  return ++killPointHits === SINK_FAULT.killAt.nth;
}
