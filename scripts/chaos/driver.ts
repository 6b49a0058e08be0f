/**
 * What every lane driver of the chaos run shares (issue 18 item 6): the programs it started (so an
 * interrupted run can stop them), the fault log, a serial fault queue, log tails, peak RSS, clean stops,
 * restarting a receiver on its own port, and the shared-data-dir probe (a second receiver on a lane's data
 * dir must be refused by the dir lock while the first keeps running).
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FaultProxy } from '../../shared/fault-proxy.ts';
import { startProgram, type Program, type StartOptions } from '../lib/launch.ts';
import type { LaneFamily, LaneId } from './lanes.ts';
import type { FaultKind, PlannedFault } from './schedule.ts';
import { killNow, signalAndWait, signalled, sleep, waitFor } from './util.ts';

/** What a run has started and mounted, so an interrupted run can still clean up (see abortChaos). */
export const live = {
  programs: new Set<Program>(),
  mounts: new Set<string>(),
  cleanups: new Set<() => void>(),
  /** temp work dirs to remove on an interrupt */
  roots: new Set<string>(),
};

export function track(p: Program): Program {
  live.programs.add(p);
  void p.exit.then(() => live.programs.delete(p));
  return p;
}

/** Peak RSS of a process (VmHWM, kB → MB), 0 when it is gone. */
export async function peakRssMb(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /VmHWM:\s+(\d+) kB/.exec(status) ?? /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Math.round(Number(m[1]) / 102.4) / 10 : 0;
  } catch {
    return 0;
  }
}

export interface GracefulStop {
  who: string;
  signal: string;
  exitCode: number | null;
  ms: number;
  /** expected exit 0 (a clean SIGTERM); false for a receiver whose disk failed */
  mustBeClean: boolean;
  /** the signal that ended it, when one did */
  killedBy?: string;
}

export interface FaultRecord extends PlannedFault {
  /** ms after the start when it really began, and how long it took (restart included) */
  startedMs: number;
  tookMs: number;
  note?: string;
}

/** Loss on a lane without ACKs, split by what caused it (rsyslog's testbench: a budget per cause). */
export interface LossReport {
  sent: number;
  persisted: number;
  lost: number;
  duplicated: number;
  /** cause → records: a fault kind, or a layer (kernel receive buffer, receiver dropped) */
  byCause: Record<string, number>;
  /** lost records no fault and no counter explains (fails the lane) */
  unexplained: number;
  /** more figures for the report (kernel drops measured, send errors, connections) */
  detail: Record<string, number | null>;
  /** TCP lanes: each shipper incarnation, the records written to it, and what ended it (JSON only) */
  connections?: Array<{ first: number; last: number; startMs: number; endMs: number | null; cause: string }>;
  /** day 14: each loadgen segment (JSON only) */
  segments?: Array<Record<string, number | string | null>>;
}

/** Day 14's segments: ACKed records must all be stored; what was never ACKed is counted by cause. */
export interface SegmentsReport {
  runs: number;
  sent: number;
  acked: number;
  /** ACKed but not in the files: must be 0 */
  ackedLost: number;
  /** sent, never ACKed (the fault cut the segment short), not stored, by cause */
  unackedLostByCause: Record<string, number>;
  /** sent, never ACKed, stored anyway (the ACK was lost, not the record) */
  unackedStored: number;
  /** segments whose loadgen was killed (no done line: only holes and duplicates are checked) */
  killed: number;
}

/** The shared-data-dir probe's tally. */
export interface DirLockReport {
  tries: number;
  refused: number;
}

/** Common state of a lane driver; the families add their programs and their verdict. */
export abstract class DriverBase {
  readonly faultLog: FaultRecord[] = [];
  readonly gracefulStops: GracefulStop[] = [];
  readonly failures: string[] = [];
  readonly peak = { receiver: 0, shipper: 0 };
  readonly dirLock: DirLockReport = { tries: 0, refused: 0 };
  receiverRestarts = 0;
  shipperRestarts = 0;
  /** the fault being injected right now (a connection that ends meanwhile is its loss) */
  activeFault: FaultKind | undefined;
  private busy: Promise<void> = Promise.resolve();
  private readonly tail: string[] = [];

  constructor(
    readonly id: LaneId,
    readonly family: LaneFamily,
    protected readonly t0: number,
    private readonly onLog?: (lane: string, line: string) => void,
  ) {}

  protected log(who: string, line: string): void {
    this.tail.push(`${who}: ${line}`);
    if (this.tail.length > 40) this.tail.shift();
    this.onLog?.(this.id, `${who}: ${line}`);
  }

  lastLines(n = 8): string {
    return this.tail.slice(-n).join('\n');
  }

  now(): number {
    return Date.now() - this.t0;
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

  /** Injects one fault through the queue and logs it. */
  fault(f: PlannedFault, run: (f: PlannedFault) => Promise<string>, onDone: () => void): Promise<void> {
    return this.enqueue(async () => {
      const rec: FaultRecord = { ...f, startedMs: this.now(), tookMs: 0 };
      this.activeFault = f.kind;
      try {
        rec.note = await run(f);
      } catch (err) {
        rec.note = `failed: ${(err as Error).message}`;
        this.failures.push(`${f.kind} at ${rec.startedMs} ms: ${(err as Error).message}`);
      } finally {
        this.activeFault = undefined;
      }
      rec.tookMs = this.now() - rec.startedMs;
      this.faultLog.push(rec);
      onDone();
    });
  }

  /** The fault (kind) in progress, or the latest one that ended within `withinMs`. */
  recentFault(withinMs: number): FaultKind | undefined {
    if (this.activeFault) return this.activeFault;
    const t = this.now();
    for (let i = this.faultLog.length - 1; i >= 0; i--) {
      const f = this.faultLog[i]!;
      if (t - (f.startedMs + f.tookMs) <= withinMs) return f.kind;
      break;
    }
    return undefined;
  }

  /** The latest fault on this lane overlapping [fromMs, toMs]. */
  faultDuring(fromMs: number, toMs: number): FaultKind | undefined {
    for (let i = this.faultLog.length - 1; i >= 0; i--) {
      const f = this.faultLog[i]!;
      if (f.startedMs <= toMs && f.startedMs + f.tookMs >= fromMs) return f.kind;
    }
    return undefined;
  }

  faultCounts(): Partial<Record<FaultKind, number>> {
    const out: Partial<Record<FaultKind, number>> = {};
    for (const f of this.faultLog) out[f.kind] = (out[f.kind] ?? 0) + 1;
    return out;
  }

  async samplePeak(who: 'receiver' | 'shipper', p: Program | undefined): Promise<void> {
    if (p) this.peak[who] = Math.max(this.peak[who], await peakRssMb(p.pid));
  }

  /** SIGTERM and wait (SIGKILL after 8 s); records the exit code and how long the drain took. */
  async stopProgram(p: Program | undefined, who: string, mustBeClean: boolean): Promise<void> {
    if (!p) return;
    if (p.proc.exitCode !== null || p.proc.signalCode !== null) return;
    const r = await signalAndWait(p, 'SIGTERM', 8000);
    const stop: GracefulStop = {
      who: `${this.id} ${who}`,
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
  }

  private ownExits = 0;

  /**
   * A shipper that follows the input runs until we stop it: an exit of its own is a finding, and (up to 3
   * times) it is restarted so the lane can still converge. `isCurrent`: it is still the lane's shipper.
   */
  protected watchOwnExit(p: Program, isCurrent: () => boolean, restart: () => void): void {
    void p.exit.then(async (r) => {
      if (signalled.has(p.pid) || !isCurrent()) return;
      this.failures.push(`the shipper exited on its own (${r.exitCode ?? r.signal})\n${this.lastLines()}`);
      if (++this.ownExits > 3) return;
      await sleep(1000);
      if (isCurrent()) restart();
    });
  }

  /** A second receiver on this lane's data dir: see probeSecondReceiver. */
  secondReceiver(opts: Omit<StartOptions, 'name'>, first: Program | undefined): Promise<string> {
    return probeSecondReceiver(this, opts, first);
  }
}

/**
 * A second receiver on a lane's data dir (issue 18: the dir lock must refuse it): it must exit non-zero
 * before its ready line, and the first must still run. Two owners is a lane failure.
 */
export async function probeSecondReceiver(
  lane: { id: string; dirLock: DirLockReport; failures: string[] },
  opts: Omit<StartOptions, 'name'>,
  first: Program | undefined,
): Promise<string> {
  lane.dirLock.tries++;
  const p = track(startProgram({ ...opts, name: `${lane.id} second receiver`, readyTimeoutMs: 30_000 }));
  try {
    await p.ready;
    killNow(p.pid);
    await p.exit;
    lane.failures.push(`a second receiver on the same data dir started (two owners of ${opts.args.join(' ')})`);
    return 'a second receiver STARTED on the same data dir (two owners)';
  } catch (err) {
    const r = await p.exit;
    const refusedLine = ((err as Error).message.split('\n').find((l) => /lock|in use|LS_ERR/i.test(l)) ?? '').slice(
      0,
      160,
    );
    if (r.exitCode === 0 || r.exitCode === undefined) {
      lane.failures.push(`second receiver: ended with ${r.exitCode ?? r.signal} instead of a refusal`);
      return `second receiver ended with ${r.exitCode ?? r.signal}`;
    }
    if (first && (first.proc.exitCode !== null || first.proc.signalCode !== null))
      lane.failures.push('the first receiver died while a second one tried its data dir');
    lane.dirLock.refused++;
    return `second receiver refused (exit ${r.exitCode})${refusedLine ? `: ${refusedLine.trim()}` : ''}`;
  }
}

/**
 * Starts a receiver and waits for its ready line; on a port still held by a killed predecessor, tries
 * again (10 times, 300 ms apart). Returns the program and its ready line.
 */
export async function startReceiverOnPort(
  opts: StartOptions,
): Promise<{ program: Program; ready: Record<string, unknown> }> {
  for (let attempt = 1; ; attempt++) {
    const p = track(startProgram({ readyTimeoutMs: 30_000, ...opts }));
    try {
      const ready = await p.ready;
      return { program: p, ready };
    } catch (err) {
      killNow(p.pid);
      await p.exit;
      if (attempt >= 10) throw new Error(`${opts.name} did not (re)start: ${(err as Error).message}`);
      await sleep(300);
    }
  }
}

/** The flags of a shipper that follows the shared input file and resumes from its `--state-dir`. */
export function followArgs(input: string, stateDir: string, ackTimeoutMs: number): string[] {
  return [
    '--input',
    input,
    '--follow',
    '--state-dir',
    stateDir,
    '--ack-timeout-ms',
    String(ackTimeoutMs),
    '--keepalive-ms',
    '500',
    '--backoff-base-ms',
    '50',
    '--backoff-cap-ms',
    '1000',
    '--progress-ms',
    '0',
  ];
}

/** A stream's durable mark in the stats.json of `dir` (a receiver's data dir, the archive): 0 when not there yet. */
export async function durableMark(dir: string, stream: number | undefined): Promise<number> {
  if (stream === undefined) return 0;
  try {
    const s = JSON.parse(await readFile(join(dir, 'stats.json'), 'utf8')) as {
      streams?: Record<string, { hwm?: number }>;
    };
    return s.streams?.[String(stream)]?.hwm ?? 0;
  } catch {
    return 0;
  }
}

/** The stream id a following shipper chose, from the state.json in its `--state-dir`; throws after 30 s. */
export async function shipperStream(stateDir: string, lane: string, lastLines: () => string): Promise<number> {
  const stateFile = join(stateDir, 'state.json');
  let stream: number | undefined;
  const ok = await waitFor(async () => {
    try {
      stream = (JSON.parse(await readFile(stateFile, 'utf8')) as { stream: number }).stream;
      return true;
    } catch {
      return false;
    }
  }, 30_000);
  if (!ok || stream === undefined) throw new Error(`${lane}: the shipper wrote no ${stateFile}\n${lastLines()}`);
  return stream;
}

// The faults every lane behind a FaultProxy takes alike; each returns its note for the report.

/** FIN (param 0) or RST (param 1) on every connection through the proxy. */
export function cutConnections(proxy: FaultProxy, param: number): string {
  const n = param === 1 ? proxy.reset() : proxy.cut();
  return `${param === 1 ? 'RST' : 'FIN'} on ${n} connection(s)`;
}

/** Nothing forwarded either way for `holdMs`. */
export async function stallProxy(proxy: FaultProxy, holdMs: number): Promise<string> {
  proxy.stall(true);
  await sleep(holdMs);
  proxy.stall(false);
  return `no bytes either way for ${holdMs} ms`;
}

/** The receiver SIGSTOPped for `holdMs`, then SIGCONT. */
export async function stopReceiver(receiver: Program, holdMs: number): Promise<string> {
  process.kill(receiver.pid, 'SIGSTOP');
  await sleep(holdMs);
  process.kill(receiver.pid, 'SIGCONT');
  return `receiver stopped for ${holdMs} ms`;
}

/**
 * A lane whose receiver sits behind a FaultProxy and whose client (shipper, forwarder, loadgen) the lane
 * restarts itself (the stream lanes, day 14): its start, its progress line, peaks, the faults they all take
 * alike (receiver kill -9 + restart, cut, stall, SIGSTOP, a second receiver) — a lane adds its receiver's
 * command line and its own client kill.
 */
export abstract class ProxiedLane extends DriverBase {
  abstract readonly dataDir: string;
  receiver: Program | undefined;
  protected port = 0;
  protected proxy: FaultProxy | undefined;
  /** the receiver is killed and not back yet: the client's loss meanwhile is the fault's */
  protected receiverDown = false;
  /** the run is over (or interrupted): the lane feeds its client no more */
  protected stopFeed = false;

  /** The receiver program, relative to the repo root. */
  protected abstract readonly receiverFile: string;
  /** Its arguments (data dir included) to listen on `port` (0: any free port). */
  protected abstract receiverArgs(port: number): string[];
  /** The client running now (not ended), if any. */
  protected abstract client(): Program | undefined;
  /** kill -9 of the running client (the lane restarts it its own way); the fault's note. */
  protected abstract killClient(): Promise<string>;

  /** The port the receiver's ready line announces (the one the proxy forwards to). */
  protected readyPort(ready: Record<string, unknown>): number {
    return Number(ready['port']);
  }

  /** Starts the receiver on `port` (0 the first time) and sets `receiver` and `port`. */
  protected async startReceiver(): Promise<void> {
    const { program, ready } = await startReceiverOnPort({
      name: `${this.id} receiver`,
      file: this.receiverFile,
      args: this.receiverArgs(this.port),
      onLog: (line) => this.log('receiver', line),
    });
    this.receiver = program;
    this.port = this.readyPort(ready);
  }

  async start(): Promise<void> {
    await mkdir(this.dataDir, { recursive: true });
    await this.startReceiver();
    this.proxy = new FaultProxy({ targetPort: this.port, cutGraceMs: 200 });
    await this.proxy.start();
  }

  async inject(f: PlannedFault): Promise<string> {
    switch (f.kind) {
      case 'receiver-kill':
        return this.killReceiver();
      case 'shipper-kill':
        return this.killClient();
      case 'cut':
        return this.cutClient(f.param);
      case 'stall':
        return stallProxy(this.proxy!, f.holdMs);
      case 'sigstop':
        return stopReceiver(this.receiver!, f.holdMs);
      case 'second-receiver':
        return this.secondReceiver(
          { file: this.receiverFile, args: this.receiverArgs(0), onLog: (line) => this.log('second receiver', line) },
          this.receiver,
        );
      default:
        return `${f.kind}: not a fault of this lane`;
    }
  }

  async status(): Promise<string> {
    const v = await readStats(this.dataDir);
    return `${this.id} ${(v?.records?.persisted ?? 0).toLocaleString('en')}`;
  }

  async samplePeaks(): Promise<void> {
    await this.samplePeak('receiver', this.receiver);
    await this.samplePeak('shipper', this.client());
  }

  /** FIN or RST; the client notices on its next write, so the fault lasts until its connection ended (3 s at most). */
  protected async cutClient(param: number): Promise<string> {
    const note = cutConnections(this.proxy!, param);
    const running = this.client();
    if (running) await Promise.race([running.exit, sleep(3000)]);
    return note;
  }

  /** The end of the lane once its client is done: a clean stop of the receiver, the proxy closed. */
  protected async stopReceiverAndProxy(): Promise<void> {
    await this.stopProgram(this.receiver, 'receiver', true);
    await this.proxy?.stop();
  }

  async close(): Promise<void> {
    this.stopFeed = true;
    await this.proxy?.stop();
  }

  /** kill -9 of the receiver, then a restart on the same port. */
  protected async killReceiver(): Promise<string> {
    this.receiverDown = true;
    killNow(this.receiver!.pid);
    await this.receiver!.exit;
    await this.startReceiver();
    this.receiverDown = false;
    this.receiverRestarts++;
    return `kill -9, back on port ${this.port}`;
  }
}

export interface StatsView {
  records?: { persisted?: number; received?: number };
  streams?: Record<string, { hwm?: number }>;
  syslog?: { udp?: { messages?: number; dropped?: number } };
}

export async function readStats(dataDir: string): Promise<StatsView | undefined> {
  try {
    return JSON.parse(await readFile(join(dataDir, 'stats.json'), 'utf8')) as StatsView;
  } catch {
    return undefined;
  }
}
