/**
 * The chaos run (issue 10 parts 1 and 3, issue 18 item 6): every lane runs beside the others on one clock
 * and one seeded fault schedule (each lane takes its family's kinds, lanes.ts LANE_FAULTS), through a
 * driver of its family: the acked lanes and day 10 (acked-lane.ts: a followed input file, seqs checked
 * from the persisted files), day 08 and syslog TCP/TLS/UDP (stream-lanes.ts: no ACKs, loss by cause),
 * day 14 (loadgen-lane.ts: segments, ACKed records stored once) and the JetStream lane (jetstream-lane.ts:
 * receiver, nats-server node, archiver kills). Here: start every lane, feed the shared input file, let the
 * faults fall, settle, and gather the lanes' reports (types.ts) into the run's.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { AckedLane, canMountTmpfs } from './acked-lane.ts';
import { live } from './driver.ts';
import { feed } from './feed.ts';
import { JetStreamLane } from './jetstream-lane.ts';
import { ALL_LANES, FAMILY, LANE_FAULTS, type LaneId, type StreamLaneId } from './lanes.ts';
import { LoadgenLane } from './loadgen-lane.ts';
import { planFaults, type FaultKind } from './schedule.ts';
import { StreamLane, SyslogUdpLane } from './stream-lanes.ts';
import { PROFILES, type ChaosOptions, type ChaosReport, type LaneReport } from './types.ts';
import { killAll, killNow, sleep } from './util.ts';

/**
 * Ctrl-C during a run: the programs run in process groups of their own (the terminal's SIGINT does not
 * reach them) and the tmpfs mounts outlive us, so both are undone here, synchronously. For the CLI.
 */
export function abortChaos(): void {
  for (const p of live.programs) killNow(p.pid);
  for (const cleanup of live.cleanups) cleanup();
  for (const dir of live.mounts) {
    try {
      execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
    } catch {
      // not mounted
    }
  }
  for (const dir of live.roots) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // still mounted or busy: leave it
    }
  }
}

/** A lane of any family: see driver.ts. */
type Driver = AckedLane | StreamLane | SyslogUdpLane | LoadgenLane | JetStreamLane;

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const profile = PROFILES[opts.profile];
  const records = opts.records ?? profile.records;
  const faultsTotal = opts.faults ?? profile.faults;
  const seed = opts.seed ?? 1;
  const durationMs = opts.durationMs ?? profile.durationMs;
  const laneIds = opts.lanes ?? [...ALL_LANES];
  const root = opts.workDir ?? (await mkdtemp(join(os.tmpdir(), 'logstream-chaos-')));
  if (!opts.workDir) live.roots.add(root);
  await mkdir(root, { recursive: true });
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  const progress = opts.onProgress ?? (() => {});

  const probe = join(root, '.tmpfs-probe');
  await mkdir(probe, { recursive: true });
  const enospcMode: 'tmpfs' | 'inject' =
    opts.enospc === 'inject' ? 'inject' : canMountTmpfs(probe) ? 'tmpfs' : 'inject';
  if (opts.enospc === 'tmpfs' && enospcMode !== 'tmpfs')
    throw new Error('--enospc tmpfs: this process cannot mount a tmpfs (needs root on Linux)');

  const input = join(root, 'input.ndjson');
  const ctx = {
    root,
    records,
    t0: started,
    durationMs,
    seed,
    input,
    faults: faultsTotal,
    enospcMode,
    onLog: opts.onLog,
  };
  const drivers: Driver[] = laneIds.map((id): Driver => {
    switch (FAMILY[id]) {
      case 'acked':
      case 'udp':
        return new AckedLane(id as AckedLane['id'], ctx);
      case 'stream':
        return new StreamLane(id as StreamLaneId, ctx);
      case 'syslog-udp':
        return new SyslogUdpLane(ctx);
      case 'loadgen':
        return new LoadgenLane(ctx);
      default:
        return new JetStreamLane(ctx);
    }
  });
  const acked = drivers.filter((d): d is AckedLane => d instanceof AckedLane);
  const failures: string[] = [];
  let stopFeed = false;
  const sampler = setInterval(() => void Promise.all(drivers.map((d) => d.samplePeaks())), 500);
  let progressTimer: NodeJS.Timeout | undefined;
  const plan = planFaults({
    lanes: laneIds.filter((l) => l !== 'day10'),
    kindsOf: (l) => LANE_FAULTS[FAMILY[l as LaneId]],
    faults: faultsTotal,
    startMs: Math.round(durationMs * 0.05),
    endMs: Math.round(durationMs * 0.9),
    seed,
  });
  const done = { faults: 0 };

  try {
    await (await open(input, 'a')).close();
    await Promise.all(drivers.map((d) => d.start()));

    progressTimer = setInterval(() => {
      void Promise.all(drivers.map((d) => d.status())).then((parts) => {
        const t = ((Date.now() - started) / 1000).toFixed(0);
        progress(
          `chaos ${opts.profile} ${t}s | faults ${done.faults}/${plan.length} | ${parts.filter(Boolean).join(' | ')} (of ${records.toLocaleString('en')})`,
        );
      });
    }, 1000);

    // ---- the feed and the faults ------------------------------------------------------------------
    const feedT0 = Date.now();
    const fed = feed(input, records, durationMs, () => stopFeed);
    for (const d of drivers) d.run(feedT0);
    const byLane = new Map(drivers.map((d) => [d.id as string, d]));
    const faultJobs = plan.map(async (f) => {
      // the schedule starts with the records (starting 30 programs on 2 cores takes a while)
      await sleep(Math.max(0, feedT0 + f.atMs - Date.now()));
      const driver = byLane.get(f.lane)!;
      return driver.fault(
        f,
        (x) => driver.inject(x),
        () => done.faults++,
      );
    });
    await fed;
    await Promise.all(faultJobs);
    await Promise.all(drivers.map((d) => d.idle()));

    // ---- settle: every lane reaches its records, then clean stops ----------------------------------
    await Promise.all(drivers.map((d) => d.finish(profile.settleMs)));
  } finally {
    stopFeed = true;
    clearInterval(sampler);
    if (progressTimer) clearInterval(progressTimer);
    await killAll([...live.programs]);
    for (const d of drivers) await d.close().catch(() => {});
  }

  // ---- verify from the files ------------------------------------------------------------------------
  const reports: LaneReport[] = [];
  try {
    // the report lists lanes in the order they were asked for
    for (const d of drivers) reports.push(await d.report());
  } finally {
    for (const lane of acked) {
      const problem = lane.unmount();
      if (problem) failures.push(problem);
    }
    if (!opts.keep && !opts.workDir) await rm(root, { recursive: true, force: true }).catch(() => {});
    live.roots.delete(root);
  }

  const faults: Partial<Record<FaultKind, number>> = {};
  for (const r of reports)
    for (const [k, n] of Object.entries(r.faults)) faults[k as FaultKind] = (faults[k as FaultKind] ?? 0) + n;
  for (const r of reports) for (const f of r.failures) failures.push(`${r.lane}: ${f}`);
  const cmd = ['npm run chaos --', '--profile', opts.profile, '--seed', String(seed)];
  if (opts.records !== undefined) cmd.push('--records', String(records));
  if (opts.faults !== undefined) cmd.push('--faults', String(faultsTotal));
  if (opts.lanes && laneIds.join(',') !== ALL_LANES.join(',')) cmd.push('--lanes', laneIds.join(','));
  return {
    profile: opts.profile,
    seed,
    startedAt,
    elapsedMs: Date.now() - started,
    durationMs,
    recordsPerLane: records,
    recordsTotal: reports.reduce((a, r) => a + r.records, 0),
    enospcMode,
    machine: { cpus: os.cpus().length, node: process.version, platform: `${process.platform} ${os.release()}` },
    faults,
    faultsTotal: Object.values(faults).reduce((a, b) => a + b, 0),
    lanes: reports,
    failures,
    passed: failures.length === 0,
    command: cmd.join(' '),
  };
}
