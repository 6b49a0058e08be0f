/**
 * Day 14 under chaos (issue 18 item 6): day 14's load generator into day 14's receiver (a bounded queue
 * with the blocking overflow policy), through a FaultProxy. The loadgen is a load generator, not a
 * resumable shipper: it keeps no state, so a fault ends its run. The lane therefore runs in segments, one
 * fresh LSP/1 stream each (records `c<k>-n` at seq n), back to back over the run, and holds the promise
 * ACKs make: every record the loadgen saw ACKed is stored exactly once (0 lost, 0 duplicated), what a
 * stream holds has no hole, and what was sent but never ACKed when a fault cut a segment short is counted
 * by that fault (stored anyway, or not).
 */
import { join } from 'node:path';
import { startProgram, type Program } from '../lib/launch.ts';
import { ProxiedLane, readStats, track, type SegmentsReport } from './driver.ts';
import { programs, rotate, TRANSPORT } from './lanes.ts';
import type { LaneReport } from './types.ts';
import { countLines, laneReportOf } from './lane-report.ts';
import { killNow, sleep } from './util.ts';
import { verifyStreams } from './verify.ts';

interface Segment {
  k: number;
  stream: number;
  prefix: string;
  count: number;
  program: Program;
  startMs: number;
  endMs?: number;
  /** the done line's sent/acked (undefined: killed, no done line) */
  sent?: number;
  acked?: number;
  cause?: string;
}

const LOADGEN = 'lessons/day14/loadgen.ts';

export class LoadgenLane extends ProxiedLane {
  readonly dataDir: string;
  private readonly segments: Segment[] = [];
  private current: Segment | undefined;
  private feeding: Promise<void> = Promise.resolve();
  private readonly streamBase: number;

  constructor(
    private readonly ctx: {
      root: string;
      records: number;
      t0: number;
      durationMs: number;
      seed: number;
      onLog?: ((lane: string, line: string) => void) | undefined;
    },
  ) {
    super('day14', 'loadgen', ctx.t0, ctx.onLog);
    this.dataDir = join(ctx.root, 'day14', 'data');
    this.streamBase = 0x14c400 + (ctx.seed % 1000) * 1000;
  }

  protected readonly receiverFile = programs('day14').receiver;

  protected receiverArgs(port: number): string[] {
    return [
      '--port',
      String(port),
      '--data-dir',
      this.dataDir,
      '--stats-interval-ms',
      '250',
      '--fsync',
      'interval',
      '--rotate-bytes',
      rotate(this.ctx),
      '--queue',
      '20000',
      '--overflow',
      'block',
    ];
  }

  run(_feedT0: number): void {
    this.feeding = this.feed();
  }

  /** Segments of ~30 s (at least 3), each at the lane's share of the schedule's rate. */
  private async feed(): Promise<void> {
    const n = this.ctx.records;
    const segs = Math.max(3, Math.round(this.ctx.durationMs / 30_000));
    const per = Math.ceil(n / segs);
    const rate = Math.max(100, Math.ceil(n / ((this.ctx.durationMs * 0.9) / 1000)));
    let planned = 0;
    let k = 0;
    while (planned < n && !this.stopFeed) {
      if (this.receiverDown) {
        await sleep(50);
        continue;
      }
      k++;
      const count = Math.min(per, n - planned);
      const seg = this.startSegment(k, count, rate);
      const r = await seg.program.exit;
      // a segment that sent nothing (its receiver was down) is tried again, not counted
      if (seg.sent === 0 && r.exitCode !== 0) {
        this.segments.pop();
        k--;
        await sleep(300);
        continue;
      }
      // what a fault kept the segment from sending goes to the next one (a killed loadgen says nothing:
      // what the receiver holds of its stream is what it got out)
      planned += seg.sent ?? (await readStats(this.dataDir))?.streams?.[String(seg.stream)]?.hwm ?? 0;
      await sleep(100);
    }
  }

  private startSegment(k: number, count: number, rate: number): Segment {
    const stream = this.streamBase + k;
    const prefix = `c${k}`;
    const seg: Segment = {
      k,
      stream,
      prefix,
      count,
      startMs: this.now(),
      program: track(
        startProgram({
          name: `day14 loadgen ${k}`,
          file: LOADGEN,
          args: [
            '--target',
            `127.0.0.1:${this.proxy!.port}`,
            '--transport',
            'lsp',
            '--count',
            String(count),
            '--rate',
            String(rate),
            '--stream-id',
            String(stream),
            '--id-prefix',
            prefix,
            '--seed',
            String(this.ctx.seed * 1000 + k),
            '--ack-timeout-ms',
            '10000',
          ],
          onLog: (line) => this.log('loadgen', line),
          onEvent: (ev) => {
            if (ev.event !== 'done') return;
            seg.sent = Number(ev['sent'] ?? 0);
            seg.acked = Number(ev['acked'] ?? 0);
          },
        }),
      ),
    };
    void seg.program.exit.then((r) => {
      seg.endMs = this.now();
      const fault = this.recentFault(5000);
      seg.cause = fault ?? (r.exitCode === 0 ? 'clean' : `loadgen exit ${r.exitCode ?? r.signal}`);
    });
    this.current = seg;
    this.segments.push(seg);
    return seg;
  }

  protected client(): Program | undefined {
    return this.current?.endMs === undefined ? this.current?.program : undefined;
  }

  protected async killClient(): Promise<string> {
    const seg = this.current;
    if (!seg || seg.endMs !== undefined) return 'no loadgen running';
    killNow(seg.program.pid);
    await seg.program.exit;
    this.shipperRestarts++;
    return `kill -9 of loadgen segment ${seg.k}; the next segment starts on a fresh stream`;
  }

  async finish(settleMs: number): Promise<void> {
    const done = await Promise.race([this.feeding.then(() => true), sleep(settleMs).then(() => false)]);
    if (!done) {
      this.stopFeed = true;
      this.failures.push(`the last loadgen segment did not finish within ${settleMs} ms\n${this.lastLines()}`);
      const seg = this.current;
      if (seg && seg.endMs === undefined) killNow(seg.program.pid);
    }
    await this.stopReceiverAndProxy();
  }

  async report(): Promise<LaneReport> {
    const byStream = new Map(this.segments.map((s) => [s.stream, s]));
    const held = await verifyStreams(this.dataDir, (stream) => byStream.get(stream)?.prefix);
    const failures = [...this.failures];
    const seg: SegmentsReport = {
      runs: this.segments.length,
      sent: 0,
      acked: 0,
      ackedLost: 0,
      unackedLostByCause: {},
      unackedStored: 0,
      killed: 0,
    };
    let duplicated = 0;
    let stored = 0;
    for (const s of this.segments) {
      const h = held.streams.get(s.stream);
      const max = h?.max ?? 0;
      stored += h?.unique ?? 0;
      duplicated += h?.duplicated ?? 0;
      if (h?.holes) failures.push(`segment ${s.k} (stream ${s.stream}): ${h.holes} holes below seq ${max}`);
      if (h?.mismatched) failures.push(`segment ${s.k}: ${h.mismatched} records stored under another record's seq`);
      if (h?.reordered) failures.push(`segment ${s.k}: ${h.reordered} records out of order`);
      if (s.sent === undefined) {
        // killed: no done line; what it sent is at least what is stored
        seg.killed++;
        seg.sent += max;
        continue;
      }
      seg.sent += s.sent;
      seg.acked += s.acked ?? 0;
      const ackedHeld = h ? h.heldUpTo(s.acked ?? 0) : 0;
      seg.ackedLost += (s.acked ?? 0) - ackedHeld;
      const unacked = s.sent - (s.acked ?? 0);
      const unackedStored = Math.max(0, Math.min(unacked, max - (s.acked ?? 0)));
      seg.unackedStored += unackedStored;
      const unackedLost = unacked - unackedStored;
      if (unackedLost > 0) {
        const cause =
          s.cause && s.cause !== 'clean' && !s.cause.startsWith('loadgen exit')
            ? s.cause
            : (this.faultDuring(s.startMs, (s.endMs ?? this.now()) + 3000) ?? 'unexplained');
        seg.unackedLostByCause[cause] = (seg.unackedLostByCause[cause] ?? 0) + unackedLost;
        if (cause === 'unexplained')
          failures.push(
            `segment ${s.k}: ${unackedLost} records never ACKed and not stored, with no fault to explain it`,
          );
      }
    }
    if (seg.ackedLost) failures.push(`${seg.ackedLost} ACKed records not in the files`);
    if (duplicated) failures.push(`${duplicated} records stored twice`);
    if (held.unexpected) failures.push(`${held.unexpected} lines of no segment's stream`);
    const rejects = await countLines(join(this.dataDir, 'rejects.ndjson'));
    if (rejects) failures.push(`${rejects} records rejected`);
    const unackedLost = Object.values(seg.unackedLostByCause).reduce((a, b) => a + b, 0);
    return laneReportOf(this, {
      transport: TRANSPORT.day14,
      notes: 'day 14 loadgen (open loop) → day 14 receiver (queue 20,000, overflow block); a segment per stream',
      records: seg.sent,
      segments: seg,
      verdict: {
        expected: seg.sent,
        lines: held.lines,
        unique: stored,
        lost: seg.ackedLost,
        duplicated,
        reordered: 0,
        mismatched: 0,
        unexpected: held.unexpected,
        streams: [...held.streams.keys()],
        lostSample: [],
        duplicatedSample: [],
      },
      loss: {
        sent: seg.sent,
        persisted: stored,
        lost: seg.ackedLost + unackedLost,
        duplicated,
        byCause: Object.fromEntries(Object.entries(seg.unackedLostByCause).map(([k, v]) => [`${k} (never ACKed)`, v])),
        unexplained: seg.unackedLostByCause['unexplained'] ?? 0,
        detail: { segments: seg.runs, acked: seg.acked, unackedStored: seg.unackedStored, killed: seg.killed },
        segments: this.segments.map((x) => ({
          k: x.k,
          stream: x.stream,
          count: x.count,
          sent: x.sent ?? null,
          acked: x.acked ?? null,
          stored: held.streams.get(x.stream)?.unique ?? 0,
          startMs: x.startMs,
          endMs: x.endMs ?? null,
          cause: x.cause ?? 'running',
        })),
      },
      rejects,
      failures,
    });
  }
}
