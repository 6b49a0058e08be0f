/**
 * The chaos run (issue 10 parts 1 and 3): every acked lane (day 09, 11, 12, 13) ships a growing input
 * file through a FaultProxy while a seeded schedule breaks things — receiver kill -9 + restart (same port,
 * same data dir), shipper kill -9 + restart (same state dir: it resumes from its acknowledged read
 * position), connection cuts (FIN or RST) and stalls, receiver SIGSTOP/SIGCONT, a slow disk and a full
 * disk — then every stream's seqs are checked from the persisted files: lost, duplicated, reordered,
 * and re-read at the wrong seq. UDP (day 10) runs beside them and reports its measured loss per layer.
 * A second receiver is started on a running lane's data dir (second-receiver): the dir lock must refuse it.
 *
 * The other lanes (issue 18 item 6) run beside them through drivers of their own, on the same clock and
 * the same fault schedule (each lane takes its family's kinds, lanes.ts LANE_FAULTS): day 08 and syslog
 * TCP/TLS/UDP (stream-lanes.ts: no ACKs, loss by cause), day 14 (loadgen-lane.ts: segments, ACKed records
 * stored once) and the JetStream lane (jetstream-lane.ts: receiver, nats-server node, archiver kills).
 *
 * Full disk: where this process may mount a tmpfs (root on Linux), day 09 and day 13 keep their data on a
 * tmpfs of their own that is filled up (a real ENOSPC, partial write included); elsewhere, and on the
 * other lanes, the receiver is restarted with LOGSTREAM_FAULT_SINK=enospc-after:BYTES (shared/storage/
 * file-sink.ts). Either way the receiver stops ACKing, space comes back, and it is restarted.
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream, rmSync, type WriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, statfs, open } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { FaultProxy } from '../../shared/fault-proxy.ts';
import { startProgram, type Program, type ProgramEvent } from '../lib/launch.ts';
import {
  live,
  peakRssMb,
  probeSecondReceiver,
  track,
  type DirLockReport,
  type FaultRecord,
  type GracefulStop,
  type LossReport,
  type SegmentsReport,
} from './driver.ts';
import { JetStreamLane } from './jetstream-lane.ts';
import {
  ALL_LANES,
  CHAOS_LANES,
  FAMILY,
  LANE_FAULTS,
  type AckedLaneId,
  type LaneFamily,
  type LaneId,
  type StreamLaneId,
} from './lanes.ts';
import { LoadgenLane } from './loadgen-lane.ts';
import { FAULT_KINDS, planFaults, type FaultKind, type PlannedFault } from './schedule.ts';
import { StreamLane, SyslogUdpLane } from './stream-lanes.ts';
import { killAll, killNow, signalAndWait, signalled, sleep, waitFor } from './util.ts';
import { verifySeqs, type SeqVerdict } from './verify.ts';

export type { FaultRecord, GracefulStop } from './driver.ts';

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

function canMountTmpfs(dir: string): boolean {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'ignore' });
    execFileSync('umount', [dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** One acked or UDP lane: its programs, its proxy, its counters. */
class Lane {
  readonly def;
  readonly dataDir: string;
  readonly stateDir: string;
  readonly spoolDir: string;
  receiver: Program | undefined;
  shipper: Program | undefined;
  proxy: FaultProxy | undefined;
  port = 0;
  stream: number | undefined;
  receiverRestarts = 0;
  shipperRestarts = 0;
  readonly peak = { receiver: 0, shipper: 0 };
  readonly faultLog: FaultRecord[] = [];
  readonly gracefulStops: GracefulStop[] = [];
  readonly failures: string[] = [];
  readonly dirLock: DirLockReport = { tries: 0, refused: 0 };
  sinkFailed = false;
  tmpfs = false;
  converged = false;
  private busy: Promise<void> = Promise.resolve();
  private readonly tail: string[] = [];
  shipperDone: ProgramEvent | undefined;

  constructor(
    readonly id: AckedLaneId | 'day10',
    readonly root: string,
    readonly records: number,
    private readonly t0: number,
    readonly onLog?: (lane: string, line: string) => void,
  ) {
    this.def = CHAOS_LANES[id];
    this.dataDir = join(root, id, 'data');
    this.stateDir = join(root, id, 'shipper-state');
    this.spoolDir = join(root, id, 'spool');
  }

  get dirs() {
    return { dataDir: this.dataDir, stateDir: this.stateDir, spoolDir: this.spoolDir, records: this.records };
  }

  private log(who: string, line: string): void {
    if (/sink failed/.test(line)) this.sinkFailed = true;
    this.tail.push(`${who}: ${line}`);
    if (this.tail.length > 40) this.tail.shift();
    this.onLog?.(this.id, `${who}: ${line}`);
  }

  lastLines(n = 8): string {
    return this.tail.slice(-n).join('\n');
  }

  async startReceiver(env: Record<string, string> = {}): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const p = track(
        startProgram({
          name: `${this.id} receiver`,
          file: this.def.receiver,
          args: [
            '--port',
            String(this.port),
            '--data-dir',
            this.dataDir,
            '--stats-interval-ms',
            '250',
            ...this.def.receiverArgs(this.dirs),
          ],
          env,
          readyTimeoutMs: 30_000,
          onLog: (line) => this.log('receiver', line),
        }),
      );
      try {
        const ready = await p.ready;
        this.receiver = p;
        this.port = ready.port;
        this.sinkFailed = false;
        return;
      } catch (err) {
        await p.stop('SIGKILL');
        // The old socket's port may linger for a moment after a kill -9: try again, then give up.
        if (attempt >= 10)
          throw new Error(`${this.id}: the receiver did not restart on port ${this.port}: ${(err as Error).message}`);
        await sleep(300);
      }
    }
  }

  startShipper(target: string, extra: string[] = []): Program {
    return (this.shipper = track(
      startProgram({
        name: `${this.id} shipper`,
        file: this.def.shipper,
        args: ['--target', target, ...extra, ...this.def.shipperArgs(this.dirs)],
        onLog: (line) => this.log('shipper', line),
        onEvent: (ev) => {
          if (ev.event === 'done') this.shipperDone = ev;
        },
      }),
    ));
  }

  private ownExits = 0;

  startAckedShipper(input: string): void {
    const started = this.startShipper(`127.0.0.1:${this.proxy!.port}`, [
      '--input',
      input,
      '--follow',
      '--state-dir',
      this.stateDir,
      '--ack-timeout-ms',
      '1500',
      '--keepalive-ms',
      '500',
      '--backoff-base-ms',
      '50',
      '--backoff-cap-ms',
      '1000',
      '--progress-ms',
      '0',
    ]);
    // A followed-file shipper runs until we stop it: an exit of its own is a finding (and, up to 3 times,
    // it is restarted so the lane can still converge).
    void started.exit.then(async (r) => {
      if (signalled.has(started.pid) || this.shipper !== started) return;
      this.ownExits++;
      this.failures.push(`the shipper exited on its own (${r.exitCode ?? r.signal})\n${this.lastLines()}`);
      if (this.ownExits > 3) return;
      await sleep(1000);
      if (this.shipper === started) this.startAckedShipper(input);
    });
  }

  /** SIGTERM and wait (SIGKILL after 8 s); records the exit code and how long the drain took. */
  async stop(which: 'receiver' | 'shipper', mustBeClean: boolean): Promise<GracefulStop> {
    const p = which === 'receiver' ? this.receiver : this.shipper;
    if (!p) return { who: `${this.id} ${which}`, signal: 'SIGTERM', exitCode: null, ms: 0, mustBeClean: false };
    const r = await signalAndWait(p, 'SIGTERM', 8000);
    const stop: GracefulStop = {
      who: `${this.id} ${which}`,
      signal: 'SIGTERM',
      exitCode: r.exitCode,
      ...(r.signal ? { killedBy: r.signal } : {}),
      ms: r.ms,
      mustBeClean,
    };
    this.gracefulStops.push(stop);
    if (mustBeClean && stop.exitCode !== 0)
      this.failures.push(
        `${stop.who}: SIGTERM ended with ${r.exitCode ?? r.signal} after ${stop.ms} ms, expected exit 0\n${this.lastLines()}`,
      );
    return stop;
  }

  async kill9(which: 'receiver' | 'shipper'): Promise<void> {
    const p = which === 'receiver' ? this.receiver : this.shipper;
    if (!p) return;
    killNow(p.pid);
    await p.exit;
  }

  async samplePeaks(): Promise<void> {
    if (this.receiver) this.peak.receiver = Math.max(this.peak.receiver, await peakRssMb(this.receiver.pid));
    if (this.shipper) this.peak.shipper = Math.max(this.peak.shipper, await peakRssMb(this.shipper.pid));
  }

  /** The stream's durable mark from the receiver's stats.json (0 when not there yet). */
  async hwm(): Promise<number> {
    if (this.stream === undefined) return 0;
    try {
      const s = JSON.parse(await readFile(join(this.dataDir, 'stats.json'), 'utf8')) as {
        streams?: Record<string, { hwm?: number }>;
      };
      return s.streams?.[String(this.stream)]?.hwm ?? 0;
    } catch {
      return 0;
    }
  }

  /** Runs faults one after another on this lane. */
  enqueue(job: () => Promise<void>): Promise<void> {
    const next = this.busy.then(job, job);
    this.busy = next.catch(() => {});
    return next;
  }

  async idle(): Promise<void> {
    await this.busy;
  }

  now(): number {
    return Date.now() - this.t0;
  }
}

/** Appends `{"i":K,…}` lines 1..n to `path` over `durationMs`, in small chunks (a log that grows). */
async function feed(path: string, n: number, durationMs: number, stopped: () => boolean): Promise<void> {
  const out: WriteStream = createWriteStream(path, { flags: 'a' });
  const t0 = Date.now();
  let i = 0;
  while (i < n && !stopped()) {
    const due = Math.min(n, Math.ceil((n * (Date.now() - t0 + 50)) / durationMs));
    if (due > i) {
      const ts = new Date().toISOString();
      const parts: string[] = [];
      for (; i < due; i++)
        parts.push(
          `{"i":${i + 1},"ts":"${ts}","level":"${i % 10 === 0 ? 'warn' : 'info'}","msg":"chaos record ${i + 1}","service":"chaos"}\n`,
        );
      if (!out.write(parts.join(''))) await new Promise<void>((r) => out.once('drain', () => r()));
    }
    await sleep(50);
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

/** Fills a tmpfs to within `leaveBytes` of full; returns the filler path. */
async function fillDisk(dir: string, leaveBytes: number): Promise<string> {
  const path = join(dir, 'chaos-filler.bin');
  const st = await statfs(dir);
  let left = Math.max(0, st.bavail * st.bsize - leaveBytes);
  const chunk = Buffer.alloc(4 << 20);
  const fh = await open(path, 'w');
  try {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      const { bytesWritten } = await fh.write(chunk, 0, n);
      left -= bytesWritten;
    }
  } catch {
    // ENOSPC here is fine: the disk is as full as it gets
  } finally {
    await fh.close();
  }
  return path;
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const profile = PROFILES[opts.profile];
  const records = opts.records ?? profile.records;
  const faultsTotal = opts.faults ?? profile.faults;
  const seed = opts.seed ?? 1;
  const durationMs = opts.durationMs ?? profile.durationMs;
  const laneIds = opts.lanes ?? [...ALL_LANES];
  const classicIds = laneIds.filter((l): l is AckedLaneId | 'day10' => FAMILY[l] === 'acked' || l === 'day10');
  const withUdp = laneIds.includes('day10');
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

  const lanes = classicIds.map((id) => new Lane(id, root, records, started, opts.onLog));
  const input = join(root, 'input.ndjson');
  // the other families (issue 18 item 6): each lane a driver of its own
  const ctx = { root, records, t0: started, durationMs, seed, input, onLog: opts.onLog };
  const drivers: Driver[] = laneIds
    .filter((id) => !(classicIds as LaneId[]).includes(id))
    .map((id): Driver => {
      switch (FAMILY[id]) {
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
  const failures: string[] = [];
  const mounted: string[] = [];
  let stopFeed = false;
  const sampler = setInterval(
    () => void Promise.all([...lanes.map((l) => l.samplePeaks()), ...drivers.map((d) => d.samplePeaks())]),
    500,
  );
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
    // ---- start: receivers, proxies, shippers ------------------------------------------------------
    await (await open(input, 'a')).close();
    for (const lane of lanes) {
      await mkdir(lane.dataDir, { recursive: true });
      // Data on a tmpfs of its own (sized for the run): its full disk is a real one. Two lanes when mounting works.
      if (enospcMode === 'tmpfs' && (lane.id === 'day09' || lane.id === 'day13')) {
        const size = Math.ceil((records * 400 + (64 << 20)) / (1 << 20));
        execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}m`, 'tmpfs', lane.dataDir], { stdio: 'ignore' });
        mounted.push(lane.dataDir);
        live.mounts.add(lane.dataDir);
        lane.tmpfs = true;
      }
    }
    await Promise.all([
      ...lanes.map(async (lane) => {
        await lane.startReceiver();
        if (lane.id === 'day10') return;
        lane.proxy = new FaultProxy({ targetPort: lane.port, cutGraceMs: 200 });
        await lane.proxy.start();
        lane.startAckedShipper(input);
        const stateFile = join(lane.stateDir, 'state.json');
        const ok = await waitFor(async () => {
          try {
            lane.stream = (JSON.parse(await readFile(stateFile, 'utf8')) as { stream: number }).stream;
            return true;
          } catch {
            return false;
          }
        }, 30_000);
        if (!ok) throw new Error(`${lane.id}: the shipper wrote no ${stateFile}\n${lane.lastLines()}`);
      }),
      ...drivers.map((d) => d.start()),
    ]);

    progressTimer = setInterval(() => {
      void Promise.all([
        ...lanes.filter((l) => l.id !== 'day10').map(async (l) => `${l.id} ${(await l.hwm()).toLocaleString('en')}`),
        ...drivers.map((d) => d.status()),
      ]).then((parts) => {
        const t = ((Date.now() - started) / 1000).toFixed(0);
        progress(
          `chaos ${opts.profile} ${t}s | faults ${done.faults}/${plan.length} | ${parts.join(' | ')} (of ${records.toLocaleString('en')})`,
        );
      });
    }, 1000);

    // ---- the UDP lane: paced, with SIGSTOPs of its receiver ----------------------------------------
    const udp = lanes.find((l) => l.id === 'day10');
    const udpStream = 0x0c4a05 + (seed % 1000);
    let udpDone: Promise<unknown> = Promise.resolve();
    if (udp && withUdp) {
      const rate = Math.max(1000, Math.ceil(records / ((durationMs * 0.9) / 1000)));
      udp.stream = udpStream;
      udp.startShipper(`127.0.0.1:${udp.port}`, [
        '--generate',
        String(records),
        '--rate',
        String(rate),
        '--stream-id',
        String(udpStream),
        '--seed',
        String(seed),
      ]);
      const stops = Math.max(2, Math.round(faultsTotal / 10));
      udpDone = (async () => {
        for (let k = 0; k < stops; k++) {
          const at = (durationMs * 0.9 * (k + 1)) / (stops + 1);
          await sleep(Math.max(0, started + at - Date.now()));
          if (!udp.receiver || udp.shipperDone) break;
          const f: FaultRecord = {
            lane: 'day10',
            kind: 'sigstop',
            atMs: Math.round(at),
            holdMs: 300,
            param: 0,
            startedMs: udp.now(),
            tookMs: 0,
          };
          process.kill(udp.receiver.pid, 'SIGSTOP');
          await sleep(f.holdMs);
          process.kill(udp.receiver.pid, 'SIGCONT');
          f.tookMs = udp.now() - f.startedMs;
          udp.faultLog.push(f);
        }
        await udp.shipper!.exit;
      })();
    }

    // ---- the feed and the faults ------------------------------------------------------------------
    const feedT0 = Date.now();
    const fed = feed(input, records, durationMs, () => stopFeed);
    for (const d of drivers) d.run(feedT0);
    const byLane = new Map(lanes.map((l) => [l.id as string, l]));
    const byDriver = new Map(drivers.map((d) => [d.id as string, d]));
    const faultJobs = plan.map(async (f) => {
      // the schedule starts with the records (starting 30 programs on 2 cores takes a while)
      await sleep(Math.max(0, feedT0 + f.atMs - Date.now()));
      const driver = byDriver.get(f.lane);
      if (driver)
        return driver.fault(
          f,
          (x) => driver.inject(x),
          () => done.faults++,
        );
      const lane = byLane.get(f.lane)!;
      await lane.enqueue(async () => {
        const rec: FaultRecord = { ...f, startedMs: lane.now(), tookMs: 0 };
        try {
          rec.note = await inject(lane, f, input);
        } catch (err) {
          rec.note = `failed: ${(err as Error).message}`;
          lane.failures.push(`${f.kind} at ${rec.startedMs} ms: ${(err as Error).message}`);
        }
        rec.tookMs = lane.now() - rec.startedMs;
        lane.faultLog.push(rec);
        done.faults++;
      });
    });
    await fed;
    await Promise.all(faultJobs);
    await Promise.all([...lanes.map((l) => l.idle()), ...drivers.map((d) => d.idle())]);

    // ---- settle: every acked stream reaches `records`, then clean stops ------------------------------
    await Promise.all([
      ...lanes
        .filter((l) => l.id !== 'day10')
        .map(async (lane) => {
          const converged = await waitFor(async () => (await lane.hwm()) >= records, profile.settleMs, 250);
          if (!converged)
            lane.failures.push(
              `did not reach seq ${records} within ${profile.settleMs} ms after the faults (durable mark ${await lane.hwm()})\n${lane.lastLines()}`,
            );
          lane.converged = converged;
          await lane.stop('shipper', true);
          await lane.stop('receiver', true);
          await lane.proxy?.stop();
        }),
      ...drivers.map((d) => d.finish(profile.settleMs)),
    ]);
    await udpDone;
    if (udp) await udp.stop('receiver', true);
  } finally {
    stopFeed = true;
    clearInterval(sampler);
    if (progressTimer) clearInterval(progressTimer);
    await killAll([...live.programs]);
    for (const lane of lanes) await lane.proxy?.stop();
    for (const d of drivers) await d.close().catch(() => {});
  }

  // ---- verify from the files ------------------------------------------------------------------------
  const reports: LaneReport[] = [];
  try {
    for (const lane of lanes) {
      const isUdp = lane.id === 'day10';
      const verdict = await verifySeqs(lane.dataDir, records, {
        ...(lane.stream !== undefined ? { stream: lane.stream } : {}),
        numbered: !isUdp,
      });
      let rejects = 0;
      try {
        rejects = (await readFile(join(lane.dataDir, 'rejects.ndjson'), 'utf8')).split('\n').filter(Boolean).length;
      } catch {
        rejects = 0;
      }
      const faults: Partial<Record<FaultKind, number>> = {};
      for (const f of lane.faultLog) faults[f.kind] = (faults[f.kind] ?? 0) + 1;
      const r: LaneReport = {
        lane: lane.id,
        family: FAMILY[lane.id],
        dirLock: { ...lane.dirLock },
        transport: lane.def.transport,
        acked: !isUdp,
        notes: lane.def.notes + (lane.tmpfs ? '; data on its own tmpfs (real ENOSPC)' : ''),
        records,
        stream: lane.stream,
        faults,
        faultLog: lane.faultLog,
        receiverRestarts: lane.receiverRestarts,
        shipperRestarts: lane.shipperRestarts,
        shipperDone: lane.shipperDone
          ? Object.fromEntries(
              Object.entries(lane.shipperDone).filter(([k]) =>
                [
                  'sent',
                  'acked',
                  'resent',
                  'spooled',
                  'reconnects',
                  'read',
                  'unacked',
                  'dropped',
                  'lost',
                  'gaps',
                  'sendErrors',
                  'reason',
                ].includes(k),
              ),
            )
          : undefined,
        peakRssMb: { ...lane.peak },
        verdict,
        rejects,
        gracefulStops: lane.gracefulStops,
        converged: isUdp || lane.converged,
        failures: [...lane.failures],
        passed: false,
      };
      if (isUdp) {
        try {
          const s = JSON.parse(await readFile(join(lane.dataDir, 'stats.json'), 'utf8')) as {
            records?: { received?: number };
            streams?: Record<string, { gaps?: number }>;
            udp?: { kernelDrops?: number | null; appDrops?: number; rcvbuf?: number | null };
          };
          const d = lane.shipperDone as { sent?: number; sendErrors?: number } | undefined;
          r.udp = {
            sent: d?.sent ?? 0,
            received: s.records?.received ?? 0,
            gaps: s.streams?.[String(lane.stream)]?.gaps ?? 0,
            kernelDrops: s.udp?.kernelDrops ?? null,
            appDrops: s.udp?.appDrops ?? 0,
            sendErrors: d?.sendErrors ?? 0,
            rcvbuf: s.udp?.rcvbuf ?? null,
          };
        } catch (err) {
          r.failures.push(`stats.json unreadable: ${(err as Error).message}`);
        }
      } else {
        const v = verdict;
        if (v.lost) r.failures.push(`${v.lost} records lost (first: ${v.lostSample.join(', ')})`);
        if (v.duplicated)
          r.failures.push(`${v.duplicated} records duplicated (first: ${v.duplicatedSample.join(', ')})`);
        if (v.reordered) r.failures.push(`${v.reordered} records out of order`);
        if (v.mismatched) r.failures.push(`${v.mismatched} records persisted under another record's seq`);
        if (v.unexpected) r.failures.push(`${v.unexpected} lines with an unexpected seq or stream`);
        if (rejects) r.failures.push(`${rejects} records rejected`);
      }
      r.passed = r.failures.length === 0;
      reports.push(r);
    }
    for (const d of drivers) reports.push(await d.report());
    // the report lists lanes in the order they were asked for
    reports.sort((a, b) => laneIds.indexOf(a.lane) - laneIds.indexOf(b.lane));
  } finally {
    for (const dir of mounted) {
      try {
        execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
        live.mounts.delete(dir);
      } catch (err) {
        failures.push(`umount ${dir}: ${(err as Error).message}`);
      }
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

/** A lane of the newer families (stream, syslog-udp, loadgen, jetstream): see driver.ts. */
type Driver = StreamLane | SyslogUdpLane | LoadgenLane | JetStreamLane;

/** Carries out one fault on a lane; returns a short note for the report. */
async function inject(lane: Lane, f: PlannedFault, input: string): Promise<string> {
  const proxy = lane.proxy!;
  switch (f.kind) {
    case 'receiver-kill': {
      await lane.kill9('receiver');
      await lane.startReceiver();
      lane.receiverRestarts++;
      return `kill -9, back on port ${lane.port}`;
    }
    case 'shipper-kill': {
      await lane.kill9('shipper');
      lane.startAckedShipper(input);
      lane.shipperRestarts++;
      return 'kill -9, restarted with the same --state-dir';
    }
    case 'cut': {
      const n = f.param === 1 ? proxy.reset() : proxy.cut();
      return `${f.param === 1 ? 'RST' : 'FIN'} on ${n} connection(s)`;
    }
    case 'stall': {
      proxy.stall(true);
      await sleep(f.holdMs);
      proxy.stall(false);
      return `no bytes either way for ${f.holdMs} ms`;
    }
    case 'sigstop': {
      const pid = lane.receiver!.pid;
      process.kill(pid, 'SIGSTOP');
      await sleep(f.holdMs);
      process.kill(pid, 'SIGCONT');
      return `receiver stopped for ${f.holdMs} ms`;
    }
    case 'slow-disk': {
      await lane.stop('receiver', true);
      await lane.startReceiver({ LOGSTREAM_FAULT_SINK: `slow:${f.param}` });
      lane.receiverRestarts++;
      await sleep(f.holdMs + 1000);
      await lane.stop('receiver', true);
      await lane.startReceiver();
      lane.receiverRestarts++;
      return `every write ${f.param} ms late for ${f.holdMs + 1000} ms (two SIGTERM restarts)`;
    }
    case 'second-receiver':
      return probeSecondReceiver(
        lane,
        {
          file: lane.def.receiver,
          args: ['--port', '0', '--data-dir', lane.dataDir, ...lane.def.receiverArgs(lane.dirs)],
          onLog: (line) => lane.onLog?.(lane.id, `second receiver: ${line}`),
        },
        lane.receiver,
      );
    case 'nats-kill':
    case 'archiver-kill':
      return `${f.kind}: not a fault of this lane`;
    case 'full-disk': {
      let how: string;
      let filler: string | undefined;
      if (lane.tmpfs) {
        filler = await fillDisk(lane.dataDir, 64 * 1024);
        how = 'tmpfs filled';
      } else {
        await lane.stop('receiver', true);
        await lane.startReceiver({ LOGSTREAM_FAULT_SINK: `enospc-after:${f.param}` });
        lane.receiverRestarts++;
        how = `injected ENOSPC after ${f.param} bytes`;
      }
      const failed = await waitFor(() => lane.sinkFailed, 6000, 50);
      // The disk stays full a little longer: the receiver must ACK nothing meanwhile.
      await sleep(500);
      if (filler) await rm(filler, { force: true });
      // Space is back; the operator restarts the receiver (its sink failed for good: any exit code is fair).
      await lane.stop('receiver', false);
      await lane.startReceiver();
      lane.receiverRestarts++;
      return `${how}; ${failed ? 'the sink failed with ENOSPC' : 'no write failed within 6 s'}; receiver restarted`;
    }
  }
}

export { FAULT_KINDS };
