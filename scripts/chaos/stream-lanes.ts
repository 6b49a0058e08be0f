/**
 * The lanes without ACKs (issue 18 item 6): day 08 (NDJSON over TCP), syslog over TCP (octet counting)
 * and over TLS — each a receiver, a FaultProxy, and a shipper/forwarder fed on its stdin — and syslog over
 * UDP, whose datagrams the harness sends itself.
 *
 * Nothing here can promise delivery, so nothing is hidden either: every record carries its number
 * (`msg: "chaos record K"`), the files are read back, and every missing number is attributed to a cause,
 * the way rsyslog's testbench budgets loss. A TCP record travels on one shipper incarnation (the harness
 * knows which numbers it wrote into which one); when the fault that ended that incarnation is known
 * (receiver kill -9, forwarder kill -9, a cut), its lost records are that fault's. A UDP record is
 * attributed by when it was sent: inside a fault window (receiver down, receiver stopped) to the fault,
 * outside to the kernel's receive buffer when /proc/net/udp counted that many drops for the socket.
 * Anything left is `unexplained` and fails the lane; so does a duplicate (the harness never resends).
 */
import dgram from 'node:dgram';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeSyslog5424 } from '../../shared/protocol/syslog/encode.ts';
import { startProgram, type Program } from '../lib/launch.ts';
import { chaosLine, dueBy } from './feed.ts';
import {
  DriverBase,
  ProxiedLane,
  readStats,
  stopReceiver,
  startReceiverOnPort,
  track,
  type LossReport,
} from './driver.ts';
import { FAMILY, SYSLOG_UDP, STREAM_LANE_DEFS, TRANSPORT, type StreamLaneId } from './lanes.ts';
import type { LaneReport } from './types.ts';
import type { PlannedFault } from './schedule.ts';
import { killNow, sleep, waitFor } from './util.ts';
import { countLines, laneReportOf } from './lane-report.ts';
import { verifyNumbered, type NumberedVerdict } from './verify.ts';

interface Incarnation {
  program: Program;
  first: number;
  last: number;
  startMs: number;
  endMs: number | undefined;
  /** a fault kind, 'clean' (EOF, exit 0), or what else ended it */
  cause: string | undefined;
  /** the harness closed its stdin (the end of the run) */
  eof: boolean;
}

interface LaneContext {
  root: string;
  records: number;
  t0: number;
  durationMs: number;
  onLog?: ((lane: string, line: string) => void) | undefined;
}

/** A numbered lane's loss: what was sent, stored, lost (by cause, and what no cause explains), stored twice. */
function lossOf(
  v: NumberedVerdict,
  sent: number,
  byCause: Record<string, number>,
  unexplained: number,
): Omit<LossReport, 'detail'> {
  return { sent, persisted: v.unique, lost: v.lost, duplicated: v.duplicated, byCause, unexplained };
}

/** Attribution window: a connection that ends within this long after a fault ended is that fault's. */
const AFTERMATH_MS = 5000;

export class StreamLane extends ProxiedLane {
  readonly def;
  readonly dataDir: string;
  private readonly incs: Incarnation[] = [];
  private current: Incarnation | undefined;
  private next = 1;
  private feeding: Promise<void> = Promise.resolve();

  constructor(
    id: StreamLaneId,
    private readonly ctx: LaneContext,
  ) {
    super(id, 'stream', ctx.t0, ctx.onLog);
    this.def = STREAM_LANE_DEFS[id];
    this.dataDir = join(ctx.root, id, 'data');
  }

  protected get receiverFile(): string {
    return this.def.receiver;
  }

  protected receiverArgs(port: number): string[] {
    const lane = { dataDir: this.dataDir, records: this.ctx.records };
    return ['--data-dir', this.dataDir, '--stats-interval-ms', '250', ...this.def.receiverArgs(port, lane)];
  }

  protected override readyPort(ready: Record<string, unknown>): number {
    return this.def.readyPort(ready);
  }

  /** Starts feeding; resolves when every record has been written to some incarnation (or the feed stopped). */
  private feedT0 = 0;

  /** Starts feeding on the schedule that begins at `feedT0` (the acked lanes' feed starts then too). */
  run(feedT0: number): void {
    this.feedT0 = feedT0;
    this.feeding = this.feed();
  }

  private startIncarnation(): Incarnation {
    const program = track(
      startProgram({
        name: `${this.id} shipper`,
        file: this.def.shipper,
        args: this.def.shipperArgs(`127.0.0.1:${this.proxy!.port}`),
        stdin: 'pipe',
        onLog: (line) => this.log('shipper', line),
      }),
    );
    program.proc.stdin?.on('error', () => {}); // EPIPE after a kill: the incarnation's exit says why
    const inc: Incarnation = {
      program,
      first: this.next,
      last: this.next - 1,
      startMs: this.now(),
      endMs: undefined,
      cause: undefined,
      eof: false,
    };
    void program.exit.then((r) => {
      inc.endMs = this.now();
      const fault = inc.eof && r.exitCode === 0 ? undefined : this.recentFault(AFTERMATH_MS);
      inc.cause = fault ?? (r.exitCode === 0 ? 'clean' : `shipper exit ${r.exitCode ?? r.signal}`);
      if (this.current === inc) this.current = undefined;
    });
    this.incs.push(inc);
    return inc;
  }

  private alive(inc: Incarnation | undefined): inc is Incarnation {
    return !!inc && inc.endMs === undefined;
  }

  private async feed(): Promise<void> {
    const n = this.ctx.records;
    while (this.next <= n && !this.stopFeed) {
      if (!this.alive(this.current)) {
        if (this.receiverDown) {
          await sleep(50);
          continue;
        }
        this.current = this.startIncarnation();
        this.shipperRestarts += this.incs.length > 1 ? 1 : 0;
      }
      const inc = this.current;
      const due = dueBy(n, this.feedT0, this.ctx.durationMs);
      if (due >= this.next) {
        const ts = new Date().toISOString();
        const parts: string[] = [];
        for (let k = this.next; k <= due; k++) parts.push(chaosLine(k, ts));
        inc.last = due;
        this.next = due + 1;
        const stdin = inc.program.proc.stdin!;
        if (!stdin.write(parts.join(''))) {
          // the shipper's backpressure is ours: a stall or a stopped receiver holds the feed back, and a
          // shipper that stops reading for 60 s is hung (a failure, not a loss to attribute)
          const drained = await Promise.race([
            new Promise<boolean>((r) => stdin.once('drain', () => r(true))),
            inc.program.exit.then(() => true),
            sleep(60_000).then(() => false),
          ]);
          if (!drained) {
            this.failures.push(`the shipper stopped reading its input for 60 s (records ${inc.first}–${inc.last})`);
            killNow(inc.program.pid);
            await inc.program.exit;
          }
        }
      }
      await sleep(50);
    }
  }

  protected client(): Program | undefined {
    return this.alive(this.current) ? this.current.program : undefined;
  }

  protected async killClient(): Promise<string> {
    const inc = this.current;
    if (!this.alive(inc)) return 'no shipper running';
    killNow(inc.program.pid);
    await inc.program.exit;
    return `kill -9 of the ${this.id === 'day08' ? 'shipper' : 'forwarder'} (records ${inc.first}–${inc.last} on that connection), restarted`;
  }

  /** The feed ends; the last shipper gets EOF, delivers and exits; then the receiver stops cleanly. */
  async finish(settleMs: number): Promise<void> {
    await this.feeding;
    const inc = this.current;
    if (this.alive(inc)) {
      inc.eof = true;
      inc.program.proc.stdin?.end();
      const r = await Promise.race([inc.program.exit, sleep(settleMs).then(() => undefined)]);
      if (!r) this.failures.push(`the last shipper did not finish within ${settleMs} ms\n${this.lastLines()}`);
      else if (r.exitCode !== 0)
        this.failures.push(`the last shipper ended with ${r.exitCode ?? r.signal} after EOF\n${this.lastLines()}`);
    }
    await this.stopReceiverAndProxy();
  }

  async report(): Promise<LaneReport> {
    const n = this.ctx.records;
    const v = await verifyNumbered(this.dataDir, n);
    const byCause: Record<string, number> = {};
    let unexplained = 0;
    let ii = 0;
    for (const k of v.lostNumbers) {
      while (ii < this.incs.length && this.incs[ii]!.last < k) ii++;
      const inc = this.incs[ii];
      let cause: string | undefined;
      // a record is the loss of the fault that ended the connection it travelled on; a connection that
      // ended cleanly (EOF, delivered) or for no fault has no excuse: unexplained
      if (inc && inc.first <= k && inc.cause && inc.cause !== 'clean' && !inc.cause.startsWith('shipper exit'))
        cause = inc.cause;
      if (cause) byCause[cause] = (byCause[cause] ?? 0) + 1;
      else unexplained++;
    }
    const rejects = await countLines(join(this.dataDir, 'rejects.ndjson'));
    const loss: LossReport = {
      ...lossOf(v, n, byCause, unexplained),
      detail: { connections: this.incs.length, rejects },
      connections: this.incs.map((i) => ({
        first: i.first,
        last: i.last,
        startMs: i.startMs,
        endMs: i.endMs ?? null,
        cause: i.cause ?? 'running',
      })),
    };
    const failures = [...this.failures];
    if (unexplained)
      failures.push(`${unexplained} records lost that no fault explains (first: ${firstUnexplained(v)})`);
    if (v.duplicated) failures.push(`${v.duplicated} records stored twice (first: ${v.duplicatedSample.join(', ')})`);
    if (v.unexpected) failures.push(`${v.unexpected} lines that are no chaos record`);
    if (rejects) failures.push(`${rejects} records rejected`);
    return laneReportOf(this, {
      transport: TRANSPORT[this.id],
      notes: this.def.notes,
      records: n,
      loss,
      failures,
      verdictLines: v.lines,
    });
  }
}

const firstUnexplained = (v: NumberedVerdict) => v.lostNumbers.slice(0, 5).join(', ');

/** Syslog over UDP: the harness sends RFC 5424 datagrams on a schedule; loss by cause. */
export class SyslogUdpLane extends DriverBase {
  readonly dataDir: string;
  receiver: Program | undefined;
  private port = 0;
  private socket: dgram.Socket | undefined;
  private stopFeed = false;
  private feeding: Promise<void> = Promise.resolve();
  /** (first record of a send burst, ms) checkpoints: when each record left */
  private readonly sentAt: Array<[number, number]> = [];
  private sendErrors = 0;
  /** kernel drop counter samples: [ms, cumulative drops over every receiver incarnation] */
  private readonly dropSamples: Array<[number, number]> = [];
  private dropsBefore = 0;
  private dropsNow = 0;
  private sampler: NodeJS.Timeout | undefined;

  constructor(private readonly ctx: LaneContext) {
    super('syslog-udp', FAMILY['syslog-udp'], ctx.t0, ctx.onLog);
    this.dataDir = join(ctx.root, 'syslog-udp', 'data');
  }

  private async startReceiver(): Promise<void> {
    const { program, ready } = await startReceiverOnPort({
      name: 'syslog-udp receiver',
      file: SYSLOG_UDP.receiver,
      args: [
        '--data-dir',
        this.dataDir,
        '--stats-interval-ms',
        '250',
        ...SYSLOG_UDP.receiverArgs(this.port, { records: this.ctx.records }),
      ],
      onLog: (line) => this.log('receiver', line),
    });
    this.receiver = program;
    this.port = SYSLOG_UDP.readyPort(ready);
  }

  /** The socket's drop counter in /proc/net/udp (the kernel's count for a full receive buffer). */
  private async sampleDrops(): Promise<void> {
    const port = this.port.toString(16).toUpperCase().padStart(4, '0');
    try {
      const text = await readFile('/proc/net/udp', 'utf8');
      for (const row of text.split('\n').slice(1)) {
        const f = row.trim().split(/\s+/);
        if (f.length < 13 || !f[1]!.endsWith(`:${port}`)) continue;
        const drops = Number(f[12]);
        if (Number.isFinite(drops)) this.dropsNow = this.dropsBefore + drops;
      }
    } catch {
      return;
    }
    this.dropSamples.push([this.now(), this.dropsNow]);
  }

  async start(): Promise<void> {
    await mkdir(this.dataDir, { recursive: true });
    await this.startReceiver();
    this.socket = dgram.createSocket('udp4');
    this.socket.on('error', () => this.sendErrors++);
    this.sampler = setInterval(() => void this.sampleDrops(), 250);
  }

  private feedT0 = 0;

  /** Starts feeding on the schedule that begins at `feedT0` (the acked lanes' feed starts then too). */
  run(feedT0: number): void {
    this.feedT0 = feedT0;
    this.feeding = this.feed();
  }

  private async feed(): Promise<void> {
    const n = this.ctx.records;
    let next = 1;
    while (next <= n && !this.stopFeed) {
      const due = dueBy(n, this.feedT0, this.ctx.durationMs);
      if (due >= next) {
        this.sentAt.push([next, this.now()]);
        const ts = new Date().toISOString();
        for (; next <= due; next++) {
          const msg = encodeSyslog5424({
            ts,
            level: next % 10 === 0 ? 'warn' : 'info',
            msg: `chaos record ${next}`,
            service: 'chaos',
          });
          this.socket!.send(msg, this.port, '127.0.0.1', (err) => {
            if (err) this.sendErrors++;
          });
        }
      }
      await sleep(10);
    }
  }

  async status(): Promise<string> {
    const v = await readStats(this.dataDir);
    return `syslog-udp ${(v?.records?.persisted ?? 0).toLocaleString('en')}`;
  }

  async samplePeaks(): Promise<void> {
    await this.samplePeak('receiver', this.receiver);
  }

  async inject(f: PlannedFault): Promise<string> {
    switch (f.kind) {
      case 'receiver-kill': {
        await this.sampleDrops();
        killNow(this.receiver!.pid);
        await this.receiver!.exit;
        this.dropsBefore = this.dropsNow; // the socket and its counter are gone: keep what it had counted
        await this.startReceiver();
        this.receiverRestarts++;
        return `kill -9, back on port ${this.port}: datagrams meanwhile had no socket`;
      }
      case 'sigstop':
        return `${await stopReceiver(this.receiver!, f.holdMs)} (its receive buffer fills)`;
      default:
        return `${f.kind}: not a fault of this lane`;
    }
  }

  async finish(): Promise<void> {
    await this.feeding;
    // what the kernel holds is read before the receiver stops (its SIGTERM drain reads until quiet, too)
    await waitFor(
      async () => ((await readStats(this.dataDir))?.syslog?.udp?.messages ?? 0) > 0 && (await this.quiet()),
      10_000,
      250,
    );
    await this.sampleDrops();
    if (this.sampler) clearInterval(this.sampler);
    await this.stopProgram(this.receiver, 'receiver', true);
    this.socket?.close();
  }

  private lastSeen = -1;
  private async quiet(): Promise<boolean> {
    const m = (await readStats(this.dataDir))?.syslog?.udp?.messages ?? 0;
    const same = m === this.lastSeen;
    this.lastSeen = m;
    return same;
  }

  close(): Promise<void> {
    this.stopFeed = true;
    if (this.sampler) clearInterval(this.sampler);
    try {
      this.socket?.close();
    } catch {
      // closed
    }
    return Promise.resolve();
  }

  /** When record k was sent (ms after the start). */
  private sentMs(k: number): number {
    let lo = 0;
    let hi = this.sentAt.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.sentAt[mid]![0] <= k) lo = mid;
      else hi = mid - 1;
    }
    return this.sentAt[lo]?.[1] ?? 0;
  }

  /** The fault whose window holds `ms` (a stopped receiver drains its buffer after SIGCONT; 2 s of slack on a loaded machine). */
  private windowOf(ms: number): string | undefined {
    for (const f of this.faultLog) if (ms >= f.startedMs - 100 && ms <= f.startedMs + f.tookMs + 2000) return f.kind;
    return undefined;
  }

  async report(): Promise<LaneReport> {
    const n = this.ctx.records;
    const v = await verifyNumbered(this.dataDir, n);
    const byCause: Record<string, number> = {};
    let outside = 0;
    for (const k of v.lostNumbers) {
      const cause = this.windowOf(this.sentMs(k));
      if (cause) byCause[cause] = (byCause[cause] ?? 0) + 1;
      else outside++;
    }
    // kernel drops counted outside the fault windows explain loss outside them
    let kernelOutside = 0;
    for (let i = 1; i < this.dropSamples.length; i++) {
      const [t, d] = this.dropSamples[i]!;
      const delta = d - this.dropSamples[i - 1]![1];
      if (delta > 0 && !this.windowOf(t) && !this.windowOf(this.dropSamples[i - 1]![0])) kernelOutside += delta;
    }
    const stats = await readStats(this.dataDir);
    const appDrops = stats?.syslog?.udp?.dropped ?? 0;
    const kernel = Math.min(outside, kernelOutside);
    if (kernel) byCause['kernel receive buffer'] = kernel;
    const app = Math.min(outside - kernel, appDrops);
    if (app) byCause['receiver dropped (counted)'] = app;
    const unexplained = outside - kernel - app;
    const rejects = await countLines(join(this.dataDir, 'rejects.ndjson'));
    const failures = [...this.failures];
    if (unexplained)
      failures.push(`${unexplained} datagrams lost outside every fault window beyond the kernel's count`);
    if (v.duplicated) failures.push(`${v.duplicated} records stored twice`);
    if (v.unexpected) failures.push(`${v.unexpected} lines that are no chaos record`);
    if (rejects) failures.push(`${rejects} records rejected`);
    return laneReportOf(this, {
      transport: TRANSPORT['syslog-udp'],
      notes: SYSLOG_UDP.notes,
      records: n,
      loss: {
        ...lossOf(v, n, byCause, unexplained),
        detail: {
          kernelDrops: this.dropsNow,
          kernelDropsOutsideFaults: kernelOutside,
          appDrops,
          sendErrors: this.sendErrors,
        },
      },
      failures,
      verdictLines: v.lines,
    });
  }
}
