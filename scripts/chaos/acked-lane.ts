/**
 * The acknowledged lanes under chaos (issue 10 parts 1 and 3; day 09, 11, 12, 13) and day 10 beside them.
 * An acked lane follows the shared input file (`--follow --state-dir`) through a FaultProxy; its faults:
 * receiver kill -9 + restart (same port, same data dir), shipper kill -9 + restart (it resumes from its
 * acknowledged read position), connection cuts (FIN or RST) and stalls, receiver SIGSTOP/SIGCONT, a slow
 * disk, a full disk, a second receiver on its data dir. Its verdict: every seq of its stream once, in order,
 * under its own record (verify.ts). Day 10 (UDP) ships generated records, its receiver SIGSTOPped now and
 * then, and reports its measured loss per layer.
 *
 * Full disk: where this process may mount a tmpfs (root on Linux), day 09 and day 13 keep their data on a
 * tmpfs of their own that is filled up (a real ENOSPC, partial write included); elsewhere, and on the
 * other lanes, the receiver is restarted with LOGSTREAM_FAULT_SINK=enospc-after:BYTES (shared/storage/
 * file-sink.ts). Either way the receiver stops ACKing, space comes back, and it is restarted.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, open, readFile, rm, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { FaultProxy } from '../../shared/fault-proxy.ts';
import { startProgram, type Program, type ProgramEvent } from '../lib/launch.ts';
import {
  cutConnections,
  DriverBase,
  durableMark,
  followArgs,
  live,
  stallProxy,
  stopReceiver,
  shipperStream,
  startReceiverOnPort,
  track,
  type FaultRecord,
} from './driver.ts';
import { CHAOS_LANES, FAMILY, type AckedLaneId, type ChaosLaneDef } from './lanes.ts';
import type { PlannedFault } from './schedule.ts';
import { countLines, laneReportOf } from './lane-report.ts';
import type { LaneReport } from './types.ts';
import { killNow, sleep, waitFor } from './util.ts';
import { seqFailures, verifySeqs } from './verify.ts';

/** What the run gives every acked lane. */
export interface AckedLaneContext {
  root: string;
  records: number;
  t0: number;
  durationMs: number;
  seed: number;
  /** the followed input file (fed by the run) */
  input: string;
  /** faults in all: day 10 takes a tenth of them as SIGSTOPs */
  faults: number;
  enospcMode: 'tmpfs' | 'inject';
  onLog?: ((lane: string, line: string) => void) | undefined;
}

/** The done line's counters the report keeps. */
const DONE_FIELDS = [
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
];

/** Whether this process can mount a tmpfs (root on Linux): the full disk is then a real one. */
export function canMountTmpfs(dir: string): boolean {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'ignore' });
    execFileSync('umount', [dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
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

/** One acked lane (or day 10): its programs, its proxy, its counters. */
export class AckedLane extends DriverBase {
  readonly def: ChaosLaneDef;
  readonly dataDir: string;
  readonly stateDir: string;
  readonly spoolDir: string;
  receiver: Program | undefined;
  shipper: Program | undefined;
  proxy: FaultProxy | undefined;
  port = 0;
  stream: number | undefined;
  sinkFailed = false;
  tmpfs = false;
  converged = false;
  shipperDone: ProgramEvent | undefined;
  /** day 10: its shipper and SIGSTOPs, until the shipper ends */
  private udpDone: Promise<unknown> = Promise.resolve();

  constructor(
    override readonly id: AckedLaneId | 'day10',
    private readonly ctx: AckedLaneContext,
  ) {
    super(id, FAMILY[id], ctx.t0, ctx.onLog);
    this.def = CHAOS_LANES[id];
    this.dataDir = join(ctx.root, id, 'data');
    this.stateDir = join(ctx.root, id, 'shipper-state');
    this.spoolDir = join(ctx.root, id, 'spool');
  }

  get dirs() {
    return { dataDir: this.dataDir, stateDir: this.stateDir, spoolDir: this.spoolDir, records: this.ctx.records };
  }

  private get isUdp(): boolean {
    return this.id === 'day10';
  }

  protected override log(who: string, line: string): void {
    if (/sink failed/.test(line)) this.sinkFailed = true;
    super.log(who, line);
  }

  async startReceiver(env: Record<string, string> = {}): Promise<void> {
    const { program, ready } = await startReceiverOnPort({
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
      onLog: (line) => this.log('receiver', line),
    });
    this.receiver = program;
    this.port = Number(ready['port']);
    this.sinkFailed = false;
  }

  private startShipper(target: string, extra: string[]): Program {
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

  private startAckedShipper(): void {
    const started = this.startShipper(`127.0.0.1:${this.proxy!.port}`, followArgs(this.ctx.input, this.stateDir, 1500));
    this.watchOwnExit(
      started,
      () => this.shipper === started,
      () => this.startAckedShipper(),
    );
  }

  /** Data dir (on a tmpfs of its own for day 09 and day 13 when mounting works), receiver, proxy, shipper. */
  async start(): Promise<void> {
    await mkdir(this.dataDir, { recursive: true });
    if (this.ctx.enospcMode === 'tmpfs' && (this.id === 'day09' || this.id === 'day13')) {
      const size = Math.ceil((this.ctx.records * 400 + (64 << 20)) / (1 << 20));
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}m`, 'tmpfs', this.dataDir], { stdio: 'ignore' });
      live.mounts.add(this.dataDir);
      this.tmpfs = true;
    }
    await this.startReceiver();
    if (this.isUdp) return;
    this.proxy = new FaultProxy({ targetPort: this.port, cutGraceMs: 200 });
    await this.proxy.start();
    this.startAckedShipper();
    this.stream = await shipperStream(this.stateDir, this.id, () => this.lastLines());
  }

  /** Day 10 starts shipping with the feed, paced over the run, and its receiver is SIGSTOPped now and then. */
  run(feedT0: number): void {
    if (!this.isUdp) return;
    const { records, durationMs, seed } = this.ctx;
    const rate = Math.max(1000, Math.ceil(records / ((durationMs * 0.9) / 1000)));
    this.stream = 0x0c4a05 + (seed % 1000);
    const shipper = this.startShipper(`127.0.0.1:${this.port}`, [
      '--generate',
      String(records),
      '--rate',
      String(rate),
      '--stream-id',
      String(this.stream),
      '--seed',
      String(seed),
    ]);
    const stops = Math.max(2, Math.round(this.ctx.faults / 10));
    this.udpDone = (async () => {
      for (let k = 0; k < stops; k++) {
        const at = (durationMs * 0.9 * (k + 1)) / (stops + 1);
        await sleep(Math.max(0, feedT0 + at - Date.now()));
        if (!this.receiver || this.shipperDone) break;
        const f: FaultRecord = {
          lane: 'day10',
          kind: 'sigstop',
          atMs: Math.round(at),
          holdMs: 300,
          param: 0,
          startedMs: this.now(),
          tookMs: 0,
        };
        await stopReceiver(this.receiver, f.holdMs);
        f.tookMs = this.now() - f.startedMs;
        this.faultLog.push(f);
      }
      await shipper.exit;
    })();
  }

  /** The stream's durable mark from the receiver's stats.json (0 when not there yet). */
  hwm(): Promise<number> {
    return durableMark(this.dataDir, this.stream);
  }

  async status(): Promise<string> {
    return this.isUdp ? '' : `${this.id} ${(await this.hwm()).toLocaleString('en')}`;
  }

  async samplePeaks(): Promise<void> {
    await this.samplePeak('receiver', this.receiver);
    await this.samplePeak('shipper', this.shipper);
  }

  private stop(which: 'receiver' | 'shipper', mustBeClean: boolean): Promise<void> {
    return this.stopProgram(which === 'receiver' ? this.receiver : this.shipper, which, mustBeClean);
  }

  private async kill9(which: 'receiver' | 'shipper'): Promise<void> {
    const p = which === 'receiver' ? this.receiver : this.shipper;
    if (!p) return;
    killNow(p.pid);
    await p.exit;
  }

  /** A restart of the receiver with a sink fault (LOGSTREAM_FAULT_SINK), or without one. */
  private async restartReceiver(sinkFault?: string): Promise<void> {
    await this.stop('receiver', true);
    await this.startReceiver(sinkFault ? { LOGSTREAM_FAULT_SINK: sinkFault } : {});
    this.receiverRestarts++;
  }

  /** Carries out one fault on this lane; returns a short note for the report. */
  async inject(f: PlannedFault): Promise<string> {
    const proxy = this.proxy!;
    switch (f.kind) {
      case 'receiver-kill': {
        await this.kill9('receiver');
        await this.startReceiver();
        this.receiverRestarts++;
        return `kill -9, back on port ${this.port}`;
      }
      case 'shipper-kill': {
        await this.kill9('shipper');
        this.startAckedShipper();
        this.shipperRestarts++;
        return 'kill -9, restarted with the same --state-dir';
      }
      case 'cut':
        return cutConnections(proxy, f.param);
      case 'stall':
        return stallProxy(proxy, f.holdMs);
      case 'sigstop':
        return stopReceiver(this.receiver!, f.holdMs);
      case 'slow-disk': {
        await this.restartReceiver(`slow:${f.param}`);
        await sleep(f.holdMs + 1000);
        await this.restartReceiver();
        return `every write ${f.param} ms late for ${f.holdMs + 1000} ms (two SIGTERM restarts)`;
      }
      case 'second-receiver':
        return this.secondReceiver(
          {
            file: this.def.receiver,
            args: ['--port', '0', '--data-dir', this.dataDir, ...this.def.receiverArgs(this.dirs)],
            onLog: (line) => this.log('second receiver', line),
          },
          this.receiver,
        );
      case 'full-disk': {
        let how: string;
        let filler: string | undefined;
        if (this.tmpfs) {
          filler = await fillDisk(this.dataDir, 64 * 1024);
          how = 'tmpfs filled';
        } else {
          await this.restartReceiver(`enospc-after:${f.param}`);
          how = `injected ENOSPC after ${f.param} bytes`;
        }
        const failed = await waitFor(() => this.sinkFailed, 6000, 50);
        // The disk stays full a little longer: the receiver must ACK nothing meanwhile.
        await sleep(500);
        if (filler) await rm(filler, { force: true });
        // Space is back; the operator restarts the receiver (its sink failed for good: any exit code is fair).
        await this.stop('receiver', false);
        await this.startReceiver();
        this.receiverRestarts++;
        return `${how}; ${failed ? 'the sink failed with ENOSPC' : 'no write failed within 6 s'}; receiver restarted`;
      }
      default:
        return `${f.kind}: not a fault of this lane`;
    }
  }

  /** Settle: the stream reaches every record (day 10: its shipper ends), then clean stops. */
  async finish(settleMs: number): Promise<void> {
    if (this.isUdp) {
      await this.udpDone;
      await this.stop('receiver', true);
      return;
    }
    const n = this.ctx.records;
    this.converged = await waitFor(async () => (await this.hwm()) >= n, settleMs, 250);
    if (!this.converged)
      this.failures.push(
        `did not reach seq ${n} within ${settleMs} ms after the faults (durable mark ${await this.hwm()})\n${this.lastLines()}`,
      );
    await this.stop('shipper', true);
    await this.stop('receiver', true);
    await this.proxy?.stop();
  }

  async close(): Promise<void> {
    await this.proxy?.stop();
  }

  /** Unmounts the lane's tmpfs (if it has one); an error line when that fails. */
  unmount(): string | undefined {
    if (!this.tmpfs) return undefined;
    try {
      execFileSync('umount', ['-l', this.dataDir], { stdio: 'ignore' });
      live.mounts.delete(this.dataDir);
      return undefined;
    } catch (err) {
      return `umount ${this.dataDir}: ${(err as Error).message}`;
    }
  }

  /** The verdict from the files: every seq once (acked), or the loss per layer (day 10). */
  async report(): Promise<LaneReport> {
    const n = this.ctx.records;
    const verdict = await verifySeqs(this.dataDir, n, {
      ...(this.stream !== undefined ? { stream: this.stream } : {}),
      numbered: !this.isUdp,
    });
    const rejects = await countLines(join(this.dataDir, 'rejects.ndjson'));
    const failures = [...this.failures];
    const done = this.shipperDone;
    const r = laneReportOf(this, {
      transport: this.def.transport,
      notes: this.def.notes + (this.tmpfs ? '; data on its own tmpfs (real ENOSPC)' : ''),
      records: n,
      stream: this.stream,
      verdict,
      rejects,
      failures,
    });
    r.converged = this.isUdp || this.converged;
    r.shipperDone = done
      ? Object.fromEntries(Object.entries(done).filter(([k]) => DONE_FIELDS.includes(k)))
      : undefined;
    if (this.isUdp) {
      try {
        const s = JSON.parse(await readFile(join(this.dataDir, 'stats.json'), 'utf8')) as {
          records?: { received?: number };
          streams?: Record<string, { gaps?: number }>;
          udp?: { kernelDrops?: number | null; appDrops?: number; rcvbuf?: number | null };
        };
        const d = done as { sent?: number; sendErrors?: number } | undefined;
        r.udp = {
          sent: d?.sent ?? 0,
          received: s.records?.received ?? 0,
          gaps: s.streams?.[String(this.stream)]?.gaps ?? 0,
          kernelDrops: s.udp?.kernelDrops ?? null,
          appDrops: s.udp?.appDrops ?? 0,
          sendErrors: d?.sendErrors ?? 0,
          rcvbuf: s.udp?.rcvbuf ?? null,
        };
      } catch (err) {
        failures.push(`stats.json unreadable: ${(err as Error).message}`);
      }
    } else {
      failures.push(...seqFailures(verdict));
      if (rejects) failures.push(`${rejects} records rejected`);
    }
    r.passed = failures.length === 0;
    return r;
  }
}
