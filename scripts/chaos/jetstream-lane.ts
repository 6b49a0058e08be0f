/**
 * The scale-out lane under chaos (issue 18 item 6; lessons/scale): a 3-node nats-server cluster, 3
 * receivers storing into an R3 JetStream stream (`--sink jetstream`), the archiver (a durable consumer
 * writing records files), and the scale shipper following the shared input file with `--target r1,r2,r3`
 * (it fails over when its receiver goes). Faults: kill -9 of a receiver (it stays down for a while, then
 * comes back on its port knowing nothing), of a nats-server node (the other two keep the quorum), of the
 * archiver (it resumes from its files' marks), of the shipper (it resumes from its acknowledged position).
 * The archive must then hold every seq of the stream exactly once, under its own record.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { NatsCluster } from '../../lessons/scale/jetstream/cluster.ts';
import { startProgram, type Program } from '../lib/launch.ts';
import { DriverBase, durableMark, followArgs, live, shipperStream, startReceiverOnPort, track } from './driver.ts';
import { rotate, TRANSPORT } from './lanes.ts';
import type { PlannedFault } from './schedule.ts';
import { countLines, laneReportOf } from './lane-report.ts';
import { killNow, sleep, waitFor } from './util.ts';
import type { LaneReport } from './types.ts';
import { seqFailures, verifySeqs } from './verify.ts';

const JS_STREAM = 'CHAOS';

export class JetStreamLane extends DriverBase {
  readonly archiveDir: string;
  private readonly stateDir: string;
  private cluster: NatsCluster | undefined;
  private readonly receivers: Array<Program | undefined> = [undefined, undefined, undefined];
  private readonly ports = [0, 0, 0];
  private archiver: Program | undefined;
  private shipper: Program | undefined;
  stream: number | undefined;
  private nextVictim = 0;
  private nextNode = 0;
  private converged = false;

  constructor(
    private readonly ctx: {
      root: string;
      records: number;
      t0: number;
      input: string;
      onLog?: ((lane: string, line: string) => void) | undefined;
    },
  ) {
    super('scale', 'jetstream', ctx.t0, ctx.onLog);
    this.archiveDir = join(ctx.root, 'scale', 'archive');
    this.stateDir = join(ctx.root, 'scale', 'shipper-state');
  }

  private natsArgs(): string[] {
    return ['--nats', this.cluster!.urls.join(','), '--js-stream', JS_STREAM, '--replicas', '3'];
  }

  private async startReceiver(i: number): Promise<void> {
    const { program, ready } = await startReceiverOnPort({
      name: `scale receiver r${i + 1}`,
      file: 'lessons/scale/receiver.ts',
      args: [
        '--port',
        String(this.ports[i]),
        '--data-dir',
        join(this.ctx.root, 'scale', `r${i + 1}`),
        '--lane',
        `chaos-r${i + 1}`,
        '--sink',
        'jetstream',
        '--stats-interval-ms',
        '250',
        '--publish-timeout-ms',
        '5000',
        ...this.natsArgs(),
      ],
      onLog: (line) => this.log(`r${i + 1}`, line),
    });
    this.receivers[i] = program;
    this.ports[i] = Number(ready['port']);
  }

  private async startArchiver(): Promise<void> {
    const { program } = await startReceiverOnPort({
      name: 'scale archiver',
      file: 'lessons/scale/archiver.ts',
      args: [
        '--data-dir',
        this.archiveDir,
        '--stats-interval-ms',
        '250',
        '--rotate-bytes',
        rotate(this.ctx),
        ...this.natsArgs(),
      ],
      onLog: (line) => this.log('archiver', line),
    });
    this.archiver = program;
  }

  private startShipper(): void {
    const p = (this.shipper = track(
      startProgram({
        name: 'scale shipper',
        file: 'lessons/scale/shipper.ts',
        args: [
          '--target',
          this.ports.map((p) => `127.0.0.1:${p}`).join(','),
          ...followArgs(this.ctx.input, this.stateDir, 6000),
        ],
        onLog: (line) => this.log('shipper', line),
      }),
    ));
    this.watchOwnExit(
      p,
      () => this.shipper === p,
      () => this.startShipper(),
    );
  }

  async start(): Promise<void> {
    await mkdir(this.archiveDir, { recursive: true });
    this.cluster = new NatsCluster({ size: 3, dir: join(this.ctx.root, 'scale', 'nats'), baseHttpPort: -1 });
    const cluster = this.cluster;
    const stopCluster = () => void cluster.stop(0);
    live.cleanups.add(stopCluster);
    await cluster.start(30_000);
    for (let i = 0; i < 3; i++) await this.startReceiver(i);
    await this.startArchiver();
    this.startShipper();
    this.stream = await shipperStream(this.stateDir, 'scale', () => this.lastLines());
  }

  run(_feedT0: number): void {
    // the shipper follows the shared input file, fed with the acked lanes'
  }

  /** The archive's durable mark for the stream (its stats.json). */
  hwm(): Promise<number> {
    return durableMark(this.archiveDir, this.stream);
  }

  async status(): Promise<string> {
    return `scale ${(await this.hwm()).toLocaleString('en')}`;
  }

  async samplePeaks(): Promise<void> {
    for (const r of this.receivers) await this.samplePeak('receiver', r);
    await this.samplePeak('shipper', this.shipper);
  }

  async inject(f: PlannedFault): Promise<string> {
    switch (f.kind) {
      case 'receiver-kill': {
        const i = this.nextVictim++ % 3;
        killNow(this.receivers[i]!.pid);
        await this.receivers[i]!.exit;
        // down a while: the shipper there fails over to the next --target
        await sleep(f.holdMs);
        await this.startReceiver(i);
        this.receiverRestarts++;
        return `kill -9 of r${i + 1}, down ${f.holdMs} ms, back on port ${this.ports[i]} knowing nothing`;
      }
      case 'nats-kill': {
        const c = this.cluster!;
        const i = this.nextNode++ % 3;
        await c.kill(i, 'SIGKILL');
        await sleep(f.holdMs);
        c.startNode(i);
        await c.waitReady(30_000);
        return `kill -9 of nats-server ${c.nodes[i]!.name}, down ${f.holdMs} ms, restarted on its store`;
      }
      case 'archiver-kill': {
        killNow(this.archiver!.pid);
        await this.archiver!.exit;
        await sleep(Math.min(f.holdMs, 1000));
        await this.startArchiver();
        return 'kill -9 of the archiver, restarted on its files';
      }
      case 'shipper-kill': {
        killNow(this.shipper!.pid);
        await this.shipper!.exit;
        this.startShipper();
        this.shipperRestarts++;
        return 'kill -9, restarted with the same --state-dir';
      }
      default:
        return `${f.kind}: not a fault of this lane`;
    }
  }

  async finish(settleMs: number): Promise<void> {
    const n = this.ctx.records;
    this.converged = await waitFor(async () => (await this.hwm()) >= n, settleMs, 250);
    if (!this.converged)
      this.failures.push(
        `the archive did not reach seq ${n} within ${settleMs} ms after the faults (mark ${await this.hwm()})\n${this.lastLines()}`,
      );
    await this.stopProgram(this.shipper, 'shipper', true);
    for (let i = 0; i < 3; i++) await this.stopProgram(this.receivers[i], `receiver r${i + 1}`, true);
    await this.stopProgram(this.archiver, 'archiver', true);
    await this.cluster?.stop(3000);
  }

  async close(): Promise<void> {
    await this.cluster?.stop(0).catch(() => {});
  }

  async report(): Promise<LaneReport> {
    const n = this.ctx.records;
    const v = await verifySeqs(this.archiveDir, n, {
      ...(this.stream !== undefined ? { stream: this.stream } : {}),
      numbered: true,
    });
    const failures = [...this.failures, ...seqFailures(v)];
    const rejects = await countLines(join(this.archiveDir, 'rejects.ndjson'));
    if (rejects) failures.push(`${rejects} records rejected`);
    const r = laneReportOf(this, {
      transport: TRANSPORT.scale,
      notes: '3 nats-server nodes, 3 receivers (--sink jetstream, R3), archiver; shipper fails over between receivers',
      records: n,
      stream: this.stream,
      verdict: v,
      rejects,
      failures,
    });
    r.converged = this.converged;
    return r;
  }
}
