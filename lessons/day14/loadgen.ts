/**
 * Day 14 — Load testing: the load generator.
 *
 * A load test answers "how much can this lane take, and what breaks first?" — and it is easy to get a
 * comfortable, wrong answer. Three pieces make this one honest, each in its own file:
 *
 * 1. OPEN LOOP (schedule.ts, and `openLoopTurn` below). Real shippers do not wait for the receiver before
 *    producing the next log line: logs are written when things happen. So `--rate N` (or `--ramp`,
 *    `--steps`) puts every record on a schedule — record n is due at the instant the rate's integral
 *    reaches n — and each turn of the loop sends whatever is due by now, from the clock, never "so many
 *    per tick" (timers fire late: a generator that counts ticks drifts below its rate) [d14.2, d14.6].
 *    A closed-loop generator (`--rate max`: send when the lane has room) measures the maximum
 *    throughput, but it slows down with the receiver and hides the queueing delay ("coordinated
 *    omission").
 *
 * 2. LATENCY FROM THE DUE TIME (latency.ts). Each record's clock starts when it was DUE, not when the
 *    loop got round to it, and stops at the ACK that covers it; the report gives percentiles from an HDR
 *    histogram [d14.5, d14.7].
 *
 * 3. VERIFY FROM THE FILES (verify.ts). "No connection error" is not delivery, and neither is an ACK from
 *    a receiver that drops under load. With `--verify-dir` the generator reads the receiver's data dir
 *    after the run and counts this run's records, by id and per stream by seq: found once, more than
 *    once (duplicated), never (lost) [d14.3].
 *
 * The rest is plumbing, handed over: the CLI, seeded records written straight into big Buffers
 * (records.ts: the generator must be far faster than the lane it measures), one lane per connection
 * for every transport (lanes.ts), the closed loop, the dry run, the progress bar and the report.
 *
 * Run: npx tsx lessons/day14/loadgen.ts --target 127.0.0.1:5146 --rate 20000 --duration 10 --verify-dir data/day14
 *      npx tsx lessons/day14/loadgen.ts --dry-run --count 1000000          # the generator alone
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import cliProgress from 'cli-progress';
import { InvalidArgumentError } from 'commander';
import { formatHostPort, MS_RANGE, opt, parseCli, parseInteger, type OptionSpec } from '../../shared/cli.ts';
import { lanePort } from '../../shared/lanes.ts';
import { createLog } from '../../shared/log.ts';
import { announceDone } from '../../shared/process.ts';
import { CODEC_NAMES, codecByName } from '../../shared/protocol/codecs.ts';
import { HEADER_SIZE } from '../../shared/protocol/frame.ts';
import { createLane, TRANSPORTS, type Lane, type Transport } from './lanes.ts';
import { waitHistogram } from '../day09/wait-times.ts';
import { latencyReport, NO_LATENCY } from './latency.ts';
import { parseSizeSpec, RecordWriter, type RecordFraming } from './records.ts';
import { Schedule } from './schedule.ts';
import { verify } from './verify.ts';

type Rate = number | 'max';

const seconds = (flags: string, description: string, max = 86_400): OptionSpec<number, false> => ({
  flags,
  description,
  parse: (raw) => {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || n <= 0 || n > max)
      throw new InvalidArgumentError(`'${raw}' is not a number of seconds in (0, ${max}]`);
    return n;
  },
});

const args = parseCli({
  name: 'lessons/day14/loadgen.ts',
  summary:
    "Day 14 load generator: seeded records at an open-loop rate (or closed-loop max) into any lane; verifies delivery from the receiver's files; reports rate, loss, ACK latency percentiles, its own CPU and memory.",
  options: {
    // the day 14 lane's port (shared/lanes.ts), where its receiver listens by default (issue 22.4)
    target: opt.hostPort('--target <host:port>', 'the lane under test', { host: '127.0.0.1', port: lanePort('day14') }),
    transport: opt.choice('--transport <t>', `${TRANSPORTS.join(' | ')}`, TRANSPORTS, 'lsp'),
    rate: {
      flags: '--rate <n|max>',
      description: 'records/s on an open-loop schedule, or max (closed loop: as fast as the lane takes them)',
      defaultValue: 'max',
      parse: (raw: string): Rate => (raw.trim() === 'max' ? 'max' : parseInteger(raw, 1, 100_000_000)),
    },
    ramp: {
      flags: '--ramp <s>',
      description: 'open loop: rise linearly from 0 to --rate over this many seconds',
      defaultValue: 0,
      parse: (raw: string) => (raw === '0' ? 0 : seconds('--ramp', '').parse!(raw)),
    },
    steps: {
      flags: '--steps <r1,r2,…>',
      description: 'open loop: these rates (records/s) one after the other, --step-duration each (instead of --rate)',
      parse: (raw: string) => raw.split(',').map((s) => parseInteger(s, 1, 100_000_000)),
    },
    stepDuration: { ...seconds('--step-duration <s>', 'seconds per --steps rate'), defaultValue: 5 } as OptionSpec<
      number,
      true
    >,
    duration: seconds(
      '--duration <s>',
      'stop after this many seconds (default: 10 s, or the steps, when --count is not given)',
    ),
    warmup: {
      flags: '--warmup <s>',
      description:
        'open loop: the first seconds of --duration are sent, ACKed and verified but not measured (latency, lateness, loop delay)',
      defaultValue: 0,
      parse: (raw: string) => (raw === '0' ? 0 : seconds('--warmup', '').parse!(raw)),
    },
    count: opt.int('--count <n>', 'stop after this many records', undefined, { min: 1 }),
    connections: opt.int(
      '--connections <n>',
      'connections (UDP: sockets), each its own stream; records are dealt round-robin',
      1,
      { min: 1, max: 1024 },
    ),
    batchRecords: opt.int(
      '--batch-records <n>',
      'lsp, udp: records per BATCH at most (udp: also limited by --max-datagram)',
      100,
      { min: 1, max: 65535 },
    ),
    batchDelayMs: opt.int(
      '--batch-delay-ms <n>',
      'lsp: a batch that is not full leaves this long after its first record was due',
      5,
      MS_RANGE.delay,
    ),
    window: opt.int('--window <n>', 'lsp: batches in flight (sent, not ACKed) per connection with --rate max', 64, {
      min: 1,
      max: 100_000,
    }),
    codec: opt.choice('--codec <name>', `lsp: BATCH payload codec: ${CODEC_NAMES.join(' | ')}`, CODEC_NAMES, 'none'),
    level: opt.int('--level <n>', "compression level (default: the codec's own)", undefined, { min: -131072, max: 22 }),
    maxDatagram: opt.int('--max-datagram <n>', 'udp, syslog-udp: largest datagram in bytes', 1472, {
      min: 512,
      max: 65507,
    }),
    ca: opt.string('--ca <file>', 'lsp-tls: CA certificate to verify the receiver with (default: the system store)'),
    cert: opt.string('--cert <file>', 'lsp-tls: client certificate (mutual TLS)'),
    key: opt.string('--key <file>', 'lsp-tls: client key (mutual TLS)'),
    servername: opt.string(
      '--servername <name>',
      'lsp-tls: name to verify in the receiver certificate (default: the --target host)',
    ),
    seed: opt.int('--seed <n>', 'seed of the records: the same seed gives the same bytes', 1),
    recordSize: {
      flags: '--record-size <spec>',
      description: 'record sizes: natural (~200 B) | N | MIN-MAX (uniform) | lognormal:MEDIAN[:SIGMA]',
      defaultValue: 'natural',
      parse: (raw: string) => {
        try {
          parseSizeSpec(raw);
          return raw;
        } catch (err) {
          throw new InvalidArgumentError((err as Error).message);
        }
      },
    },
    idPrefix: opt.string(
      '--id-prefix <p>',
      'attrs.id of record n is <p>-n (default s<seed>); verification looks for these ids',
    ),
    streamId: opt.int(
      '--stream-id <n>',
      'stream id of the first connection (the next ones count up; default random)',
      undefined,
      { min: 0, max: 0xffff_ffff },
    ),
    name: opt.string('--name <name>', 'name sent in HELLO', `${hostname()}/day14-loadgen`),
    dryRun: opt.flag(
      '--dry-run',
      "generate the records without sending them (with --dump: write them; alone: the generator's own speed)",
    ),
    dump: opt.string(
      '--dump <file>',
      'also write every generated record to this file, as framed for the lane (NDJSON for ndjson/lsp/udp)',
    ),
    verifyDir: opt.string(
      '--verify-dir <dir>',
      "the receiver's --data-dir: after the run, count what was persisted (lost, duplicated)",
    ),
    verifyTimeoutMs: opt.int(
      '--verify-timeout-ms <n>',
      'how long verification waits for the receiver to persist everything',
      10_000,
      { min: 0 },
    ),
    ackTimeoutMs: opt.int(
      '--ack-timeout-ms <n>',
      'after the last send, how long to wait for the kernel to take the rest and for the last ACKs',
      5000,
      { min: 0 },
    ),
    maxBacklog: opt.int(
      '--max-backlog <n>',
      'open loop: records due but not yet written, per connection, before new ones are dropped (counted)',
      1_000_000,
      { min: 1 },
    ),
    json: opt.string('--json <file>', 'write the final report here (the fields are documented in the README)'),
    progress: opt.flag('--progress', 'show the progress bar even when stderr is not a terminal'),
  },
  validate: (v) => {
    if (v.steps && v.rate !== 'max') return '--steps replaces --rate: give one of them';
    if (v.steps && v.ramp > 0) return '--ramp applies to --rate, not to --steps';
    if (v.ramp > 0 && v.rate === 'max') return '--ramp needs a numeric --rate';
    if (v.warmup > 0 && (v.duration === undefined || v.warmup >= v.duration || (v.rate === 'max' && !v.steps)))
      return '--warmup needs an open loop (--rate N or --steps) and a longer --duration';
    if (v.transport !== 'lsp-tls' && (v.ca || v.cert || v.key))
      return '--ca, --cert and --key are for --transport lsp-tls';
    if ((v.cert === undefined) !== (v.key === undefined)) return '--cert and --key go together';
    if (v.dryRun && v.count === undefined) return '--dry-run needs --count';
    return undefined;
  },
});

const log = createLog('day14/loadgen');
const cpu0 = process.cpuUsage();

// ---- the records -------------------------------------------------------------------------------------
const FRAMING: Record<Transport, RecordFraming> = {
  ndjson: 'ndjson',
  lsp: 'ndjson',
  'lsp-tls': 'ndjson',
  udp: 'ndjson',
  'syslog-tcp': 'syslog-octet',
  'syslog-udp': 'syslog-lf',
};
const idPrefix = args.idPrefix ?? `s${args.seed}`;
const maxRecordBytes =
  args.transport === 'udp'
    ? args.maxDatagram - HEADER_SIZE - 1
    : args.transport === 'syslog-udp'
      ? args.maxDatagram
      : undefined;
const writer = new RecordWriter({
  seed: args.seed,
  framing: FRAMING[args.transport],
  size: parseSizeSpec(args.recordSize),
  idPrefix,
  ...(maxRecordBytes ? { maxRecordBytes } : {}),
});
let dumpStream: WriteStream | undefined;
if (args.dump) dumpStream = createWriteStream(args.dump);
const tap = dumpStream ? (b: Buffer) => void dumpStream.write(b) : undefined;

// ---- the schedule: when is record n due? (schedule.ts) ------------------------------------------------
const open = args.rate !== 'max' || args.steps !== undefined;
const schedule = new Schedule({
  rate: typeof args.rate === 'number' ? args.rate : 0,
  rampS: args.ramp,
  steps: args.steps,
  stepS: args.stepDuration,
});
const durationS =
  args.duration ?? (args.count !== undefined ? undefined : args.steps ? args.steps.length * args.stepDuration : 10);
const countLimit = args.count ?? Number.POSITIVE_INFINITY;

// SIGTERM/SIGINT: stop generating, flush, wait briefly for the last ACKs, count once, report, exit
// (CONVENTIONS.md §2: within 5 s). A second signal exits at once.
let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (stopping) process.exit(1);
    stopping = true;
    wake();
  });
}

let wakeUp: (() => void) | undefined;
const wake = () => {
  const w = wakeUp;
  wakeUp = undefined;
  w?.();
};

// ---- the lanes -----------------------------------------------------------------------------------------
const firstStream = args.streamId ?? randomInt(1, 0x7fff_ffff);
const lanes: Lane[] = [];
if (!args.dryRun) {
  const tlsOptions =
    args.transport === 'lsp-tls'
      ? {
          ...(args.ca ? { ca: readFileSync(args.ca) } : {}),
          ...(args.cert && args.key ? { cert: readFileSync(args.cert), key: readFileSync(args.key) } : {}),
          servername: args.servername ?? args.target.host,
          rejectUnauthorized: true,
        }
      : undefined;
  for (let i = 0; i < args.connections; i++) {
    lanes.push(
      createLane(args.transport, {
        index: i,
        host: args.target.host,
        port: args.target.port,
        writer,
        tap,
        stream: (firstStream + i) >>> 0,
        batchRecords: args.batchRecords,
        batchDelayMs: args.batchDelayMs,
        windowBatches: args.window,
        codec: args.codec === 'none' ? undefined : codecByName(args.codec),
        level: args.level,
        maxDatagram: args.maxDatagram,
        tls: tlsOptions,
        helloName: args.name,
      }),
    );
  }
  try {
    await Promise.all(lanes.map((l) => l.connect()));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    log.error('could not connect', {
      target: formatHostPort(args.target),
      transport: args.transport,
      error: `${e.code ?? ''} ${e.message}`.trim(),
    });
    process.exit(1);
  }
}

// ---- the run ------------------------------------------------------------------------------------------
for (const l of lanes) l.wake = wake;
const nextTick = () => new Promise<void>((r) => setImmediate(r));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const waitWake = (ms: number) =>
  new Promise<void>((r) => {
    const t = setTimeout(r, ms);
    wakeUp = () => {
      clearTimeout(t);
      r();
    };
  });

let generated = 0;
/**
 * --warmup (issue 21.4): a fresh generator spends its first second or two compiling its hot path and growing
 * its heap, and records due meanwhile wait for that; so does a fresh receiver. Both are start-up costs, not the
 * lane's steady state: the first --warmup seconds are sent, ACKed and verified like the rest, but the latency
 * figures (ACKs from then on), the lateness and the loop delay start at its end.
 */
let warming = args.warmup > 0;
function startMeasuring(): void {
  warming = false;
  for (const l of lanes) l.waits.histogram.reset();
  sendLag.reset();
  loopDelay.reset();
}
let dropped = 0;
const bar =
  process.stderr.isTTY || args.progress
    ? new cliProgress.SingleBar(
        {
          stream: process.stderr,
          noTTYOutput: args.progress && !process.stderr.isTTY,
          notTTYSchedule: 1000,
          hideCursor: true,
          format:
            '{bar} {percentage}% | {value}/{total} | {rate} rec/s{offered} | acked {acked} | dropped {dropped} | errors {errors}',
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
const barTotal = Number.isFinite(countLimit) ? countLimit : Math.round((durationS ?? 10) * 10);
bar?.start(barTotal, 0, { rate: 0, offered: '', acked: 0, dropped: 0, errors: 0 });

const dryRunBuf = Buffer.allocUnsafe(1 << 20);
/**
 * The generator's own share of the ACK latency (issue 21.4): how late each record was handed to its lane
 * (open loop: now − its due time, at the turn that handed it over), and this process's event-loop delay
 * (an ACK read late is a latency the receiver did not cause). Next to `latencyMs`, they say whether a tail
 * came from the lane or from the generator sharing its cores.
 */
const sendLag = waitHistogram();
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();
const start = performance.now();
let lastBar = start;
let barGenerated = 0;
let rr = 0;
const chunkRecords = Math.max(args.batchRecords, 256);

/**
 * One turn of the open loop, `t` seconds into the run: every record the schedule says is due by now goes
 * to a lane now — however many turns were missed (a timer that fired late, a GC pause, a stopped process).
 * Latency is measured from when each record was due, so falling behind shows instead of hiding.
 */
function openLoopTurn(t: number): void {
  // @solution [d14.2, d14.6, d14.7] the open loop's turn: hand the lanes every record due by `t` (the schedule, from the clock: never "so many per turn"), in pieces of at most --batch-records, round-robin over the lanes, each piece with the time its first record was DUE (performance.now() ms); a lane that failed or whose backlog reached --max-backlog gets none: count those records dropped
  // @stub void t; // nothing is handed to a lane: nothing is sent
  const due = Math.min(countLimit, schedule.dueAt(t));
  let want = due - generated;
  while (want > 0) {
    const k = Math.min(want, args.batchRecords);
    const lane = lanes[rr++ % lanes.length]!;
    if (lane.failed || lane.backlog >= args.maxBacklog) {
      dropped += k; // the lane cannot keep up (or is gone): counted, never silently skipped
    } else {
      // the clock of these records started when the first was DUE, not now
      lane.push(k, start + schedule.timeOf(generated + 1) * 1000);
    }
    generated += k;
    want -= k;
  }
  // @end-solution
}

while (!stopping && generated < countLimit) {
  const now = performance.now();
  const elapsedS = (now - start) / 1000;
  const over = durationS !== undefined && elapsedS >= durationS;
  if (over && (!open || args.dryRun)) break;
  /** seconds into the run (an open-loop run's last turn counts up to --duration exactly) */
  const t = over ? durationS : elapsedS;
  if (warming && t >= args.warmup) startMeasuring();

  if (args.dryRun) {
    // the generator alone: records into Buffers (and the dump file), nothing sent
    const n = Math.min(countLimit - generated, 65_536);
    dryRunFill(n);
    generated += n;
    if ((generated & 0x3ffff) < n) await nextTick();
  } else if (!open) {
    // closed loop: give every lane what it can take now; wait for room when none has any
    let took = 0;
    for (const lane of lanes) {
      const k = Math.min(lane.room(), countLimit - generated, chunkRecords);
      if (k <= 0) continue;
      lane.push(k, now);
      generated += k;
      took += k;
    }
    for (const lane of lanes) lane.flush(now, took === 0);
    if (took === 0 || lanes.every((l) => l.failed)) {
      if (lanes.every((l) => l.failed)) break;
      await waitWake(50);
    } else if ((rr++ & 7) === 0) await nextTick(); // let the sockets' events run
  } else {
    // open loop: whatever is due by now goes, whatever the lane is doing
    const from = generated;
    openLoopTurn(t);
    noteSendLag(now, from, generated);
    for (const lane of lanes) lane.flush(now, false);
    if (over || lanes.every((l) => l.failed)) break;
    await sleep(1);
  }

  if (bar && now - lastBar >= 250) {
    const rate = Math.round(((generated - barGenerated) * 1000) / (now - lastBar));
    lastBar = now;
    barGenerated = generated;
    // open loop: what the schedule offers now, next to what went (a ramp or a step shows here)
    const offered = open ? ` (offered ${Math.round(schedule.rateAt(t))})` : '';
    bar.update(Number.isFinite(countLimit) ? generated : Math.min(barTotal, Math.round(t * 10)), {
      rate,
      offered,
      acked: sum((l) => l.acked),
      dropped,
      errors: sum((l) => l.errors),
    });
  }
}
const sendEnd = performance.now();
for (const lane of lanes) lane.flush(sendEnd, true);
await Promise.all(lanes.map((l) => l.finish(stopping ? Math.min(args.ackTimeoutMs, 2000) : args.ackTimeoutMs)));
bar?.update(Number.isFinite(countLimit) ? generated : barTotal, {
  acked: sum((l) => l.acked),
  dropped,
  errors: sum((l) => l.errors),
});
bar?.stop();
if (dumpStream) await new Promise<void>((r) => dumpStream.end(() => r()));
const runEnd = performance.now();

function dryRunFill(n: number): void {
  while (n > 0) {
    const k = writer.fill(dryRunBuf, 0, n);
    if (tap) tap(Buffer.from(dryRunBuf.subarray(0, writer.end)));
    n -= k;
  }
}

/** Records from+1..to were handed over at `now`: each piece of --batch-records by how late its first one was. */
function noteSendLag(now: number, from: number, to: number): void {
  for (let i = from; i < to; i += args.batchRecords) {
    const lateUs = Math.round((now - start - schedule.timeOf(i + 1) * 1000) * 1000);
    sendLag.recordValueWithCount(Math.max(1, lateUs), Math.min(args.batchRecords, to - i));
  }
}

function sum(f: (l: Lane) => number): number {
  let n = 0;
  for (const l of lanes) n += f(l);
  return n;
}

// ---- verification: what did the receiver really persist? (verify.ts) ------------------------------------
const sent = args.dryRun ? generated : sum((l) => l.sent);
const streams = lanes
  .filter((l) => l.stream !== undefined)
  .map((l) => ({ stream: l.stream!, sent: l.sent, seqBase: l.seqBase }));
const verified =
  args.verifyDir && !args.dryRun
    ? await verify(
        args.verifyDir,
        { idPrefix, ids: writer.count, sent, streams },
        { timeoutMs: args.verifyTimeoutMs, stopped: () => stopping },
      )
    : undefined;

// ---- the report -----------------------------------------------------------------------------------------
const acks = lanes.length > 0 && lanes[0]!.acks;
// ACK latency (latency.ts): from when each record was due to the ACK that covered it, all lanes together
const latencyMs = acks ? latencyReport(lanes.map((l) => l.waits.histogram)) : { ...NO_LATENCY };
const cpu = process.cpuUsage(cpu0);
const sendS = (sendEnd - start) / 1000;
const bytes = args.dryRun ? Math.round(writer.recordBytes + generated) : sum((l) => l.bytes);
const acked = sum((l) => l.acked);
const errors = sum((l) => l.errors);
const report = {
  lesson: 'day14',
  transport: args.transport,
  target: formatHostPort(args.target),
  dryRun: args.dryRun,
  seed: args.seed,
  idPrefix,
  mode: open ? 'open' : 'closed',
  rate: args.steps ? null : args.rate,
  ramp: args.ramp,
  warmupS: args.warmup,
  steps: args.steps ?? null,
  connections: args.dryRun ? 0 : args.connections,
  batchRecords: args.batchRecords,
  codec: args.codec,
  generated,
  sent,
  acked,
  unacked: acks ? sent - acked : null,
  dropped,
  verified: verified !== undefined,
  persisted: verified ? verified.persisted : null,
  lost: verified ? verified.lost : null,
  duplicated: verified ? verified.duplicated : null,
  errors,
  lastError: lanes.find((l) => l.lastError)?.lastError ?? null,
  sendMs: Math.round(sendEnd - start),
  elapsedMs: Math.round(runEnd - start),
  achievedRate: sendS > 0 ? Math.round(sent / sendS) : 0,
  bytes,
  mbPerSec: sendS > 0 ? Math.round((bytes / sendS / 1e6) * 100) / 100 : 0,
  latencyMs,
  record: {
    meanBytes: Math.round(writer.meanRecordBytes * 10) / 10,
    minBytes: writer.count ? writer.minRecord : 0,
    maxBytes: writer.maxRecord,
    size: args.recordSize,
  },
  cpu: {
    userMs: Math.round(cpu.user / 1000),
    systemMs: Math.round(cpu.system / 1000),
    percent: Math.round(((cpu.user + cpu.system) / 1000 / (runEnd - start)) * 1000) / 10,
  },
  peakRssMb: Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10,
  sendLagMs: open && !args.dryRun ? latencyReport([sendLag]) : { ...NO_LATENCY },
  eventLoopDelayMs: {
    p50: Math.round(loopDelay.percentile(50) / 1e3) / 1e3,
    p99: Math.round(loopDelay.percentile(99) / 1e3) / 1e3,
    max: Math.round(loopDelay.max / 1e3) / 1e3,
  },
  streams: lanes
    .filter((l) => l.stream !== undefined)
    .map((l) => {
      const v = verified?.perStream.get(l.stream!);
      return {
        stream: l.stream!,
        sent: l.sent,
        acked: l.acked,
        persisted: v ? v.persisted : null,
        lost: v ? v.lost : null,
        duplicated: v ? v.duplicated : null,
      };
    }),
  verifyMs: verified ? verified.ms : null,
};
if (args.json) {
  await mkdir(dirname(args.json), { recursive: true });
  await writeFile(args.json, `${JSON.stringify(report, null, 2)}\n`);
}
log.info('done', { sent, acked, dropped, lost: report.lost, achievedRate: report.achievedRate, p99Ms: latencyMs.p99 });
announceDone({ ...report });
// Exit 0 only when everything sent got where the lane promises: ACKed (acked lanes), and found in the
// receiver's files when we looked; nothing dropped by the generator, no connection failed.
const delivered =
  (!acks || acked === sent) &&
  (!verified || (verified.lost === 0 && verified.duplicated === 0)) &&
  dropped === 0 &&
  errors === 0;
process.exit(delivered ? 0 : 1);
