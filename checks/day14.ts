// Graded checks for day 14: the load generator. It keeps an open-loop schedule (a rate, a ramp, steps),
// measures latency from when each record was due, counts what the receiver really persisted (not what
// was ACKed), reproduces its records from a seed, and documents its report.
// Black-box: the loadgen and the day 14 receiver are driven through the process contract (CONVENTIONS.md §2);
// every count the loadgen reports is recounted here from the receiver's files.
//
// What the learner writes (lessons/day14/README.md, "Your TODOs"): the schedule (schedule.ts), the open
// loop's turn (loadgen.ts), the latency report (latency.ts) and the verification (verify.ts). d14.1 (the
// process contract) and d14.4 (the seeded records) test code the lesson hands over: given, 0 points.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CheckFailure, expectEqual, expectTrue, fail, show, waitFor } from './harness/assert.ts';
import { readRecords, readStats, statNumber, type PersistedRecord } from './harness/persisted.ts';
import type { Check, CheckContext, ProgramExit, RunningProgram, RunResult, WatchedProgram } from './harness/types.ts';
import { freePort } from '../shared/free-port.ts';

export const lesson = 'day14';

type Json = Record<string, unknown>;

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
const at = (port: number) => `127.0.0.1:${port}`;

/** Where the learner's code for each idea lives (hints name the TODO, never code the learner does not write). */
const TODO_SCHEDULE = 'your TODO in lessons/day14/schedule.ts (dueAt, timeOf)';
const TODO_TURN = 'your TODO in lessons/day14/loadgen.ts (openLoopTurn)';
const TODO_LATENCY = 'your TODO in lessons/day14/latency.ts (latencyReport)';
const TODO_VERIFY = 'your TODO in lessons/day14/verify.ts (countPersisted)';

/**
 * Every field of the `--json` report, as the README documents it ([d14.5]): dotted path → type.
 * `streams.*` are the fields of each element of `streams`. "number|null" fields are null when the run
 * had nothing to measure (no ACKs on the lane, no --verify-dir).
 */
export const REPORT_FIELDS: ReadonlyArray<readonly [string, string]> = [
  ['lesson', 'string'],
  ['transport', 'string'],
  ['target', 'string'],
  ['dryRun', 'boolean'],
  ['seed', 'number'],
  ['idPrefix', 'string'],
  ['mode', 'string'],
  ['rate', 'number|string|null'],
  ['ramp', 'number'],
  ['steps', 'array|null'],
  ['connections', 'number'],
  ['batchRecords', 'number'],
  ['codec', 'string'],
  ['generated', 'number'],
  ['sent', 'number'],
  ['acked', 'number'],
  ['unacked', 'number|null'],
  ['dropped', 'number'],
  ['verified', 'boolean'],
  ['persisted', 'number|null'],
  ['lost', 'number|null'],
  ['duplicated', 'number|null'],
  ['errors', 'number'],
  ['lastError', 'string|null'],
  ['sendMs', 'number'],
  ['elapsedMs', 'number'],
  ['achievedRate', 'number'],
  ['bytes', 'number'],
  ['mbPerSec', 'number'],
  ['latencyMs.p50', 'number|null'],
  ['latencyMs.p90', 'number|null'],
  ['latencyMs.p99', 'number|null'],
  ['latencyMs.p999', 'number|null'],
  ['latencyMs.max', 'number|null'],
  ['latencyMs.mean', 'number|null'],
  ['latencyMs.n', 'number'],
  ['record.meanBytes', 'number'],
  ['record.minBytes', 'number'],
  ['record.maxBytes', 'number'],
  ['record.size', 'string'],
  ['cpu.userMs', 'number'],
  ['cpu.systemMs', 'number'],
  ['cpu.percent', 'number'],
  ['peakRssMb', 'number'],
  ['streams', 'array'],
  ['streams.*.stream', 'number'],
  ['streams.*.sent', 'number'],
  ['streams.*.acked', 'number'],
  ['streams.*.persisted', 'number|null'],
  ['streams.*.lost', 'number|null'],
  ['streams.*.duplicated', 'number|null'],
  ['verifyMs', 'number|null'],
];

// ---- helpers -------------------------------------------------------------------------------------

function exitedWith(r: RunResult, codes: number[], cmd: string, hint: string): void {
  if (r.timedOut)
    fail({
      expected: `\`${cmd}\` to exit (code ${codes.join(' or ')})`,
      received: `still running after ${r.ms} ms`,
      where: cmd,
      hint,
    });
  expectTrue(r.exitCode !== null && codes.includes(r.exitCode), {
    expected: `exit code of \`${cmd}\` = ${codes.join(' or ')}`,
    received: `${r.exitCode} (signal ${r.signal}); stderr: ${show(r.stderr.trim().slice(-400))}`,
    where: cmd,
    hint,
  });
}

function stderrNames(r: RunResult, flag: string, cmd: string): void {
  expectTrue(
    r.stderr.split('\n').some((l) => l.includes(flag)),
    {
      expected: `a stderr line naming ${flag} from \`${cmd}\``,
      received: show(r.stderr.trim().slice(0, 300) || '(empty stderr)'),
      where: 'stderr',
      hint: 'print one line on stderr that names the offending flag, then exit 2',
    },
  );
}

interface Receiver {
  rx: RunningProgram;
  dataDir: string;
  port: number;
}

async function startReceiver(ctx: CheckContext, extra: string[] = []): Promise<Receiver> {
  const dataDir = await ctx.tmp();
  const args = ['--port', '0', '--data-dir', dataDir, '--stats-interval-ms', '100', ...extra];
  const rx = await ctx.start('receiver', args, { readyTimeoutMs: 45_000 });
  ctx.log(`receiver pid ${rx.pid} on ${rx.host}:${rx.port}: ${args.join(' ')}`);
  return { rx, dataDir, port: rx.port };
}

/** Stops the receiver (SIGTERM: it flushes and writes its final stats) and checks it exited 0. */
async function stopReceiver(r: Receiver): Promise<void> {
  const s = await r.rx.stop(8000);
  expectTrue(s.exitCode === 0 && !s.timedOut, {
    expected: 'the receiver to exit 0 on SIGTERM',
    received: `exit ${s.exitCode}, signal ${s.signal}${s.timedOut ? ' (killed after 8 s)' : ''}`,
    where: 'receiver',
    hint: 'SIGTERM: stop accepting, flush, fsync, final stats, exit 0',
  });
}

/** Runs the loadgen; returns its result, its done line, and the --json report (when asked for). */
async function runLoadgen(
  ctx: CheckContext,
  args: string[],
  opts: { json?: boolean; timeoutMs?: number; codes?: number[] } = {},
): Promise<{ r: RunResult; done: Json; report: Json | undefined; cmd: string }> {
  const jsonFile = opts.json ? path.join(await ctx.tmp(), 'report.json') : undefined;
  const all = [...args, ...(jsonFile ? ['--json', jsonFile] : [])];
  const cmd = `loadgen.ts ${all.join(' ')}`;
  ctx.log(cmd);
  const r = await ctx.run('loadgen', all, { timeoutMs: opts.timeoutMs ?? 40_000 });
  exitedWith(
    r,
    opts.codes ?? [0],
    cmd,
    'the loadgen exits 0 when everything it sent was delivered as the lane promises, 1 when not',
  );
  const lines = r.stdout.trimEnd().split('\n');
  const lastLine = lines[lines.length - 1] ?? '';
  let done: Json | undefined;
  try {
    const v: unknown = JSON.parse(lastLine);
    if (v && typeof v === 'object' && (v as Json)['event'] === 'done') done = v as Json;
  } catch {
    done = undefined;
  }
  if (!done)
    fail({
      expected: 'stdout to end with the done line {"event":"done","sent":…,"acked":…,"dropped":…}',
      received: show(lastLine.slice(0, 300)),
      where: `${cmd}, last stdout line`,
      hint: 'CONVENTIONS.md §2: a load generator ends with one done JSON line on stdout; human logs go to stderr',
    });
  let report: Json | undefined;
  if (jsonFile) {
    const text = await readFile(jsonFile, 'utf8').catch(() => undefined);
    if (text === undefined)
      fail({ expected: `--json to write the report to ${jsonFile}`, received: 'no such file', where: cmd });
    try {
      report = JSON.parse(text) as Json;
    } catch (err) {
      fail({
        expected: 'the --json file to hold one JSON object',
        received: `${(err as Error).message}: ${show(text.slice(0, 200))}`,
        where: jsonFile,
      });
    }
  }
  ctx.log(`done: ${JSON.stringify(done).slice(0, 600)}`);
  return { r, done, report, cmd };
}

function num(v: Json, key: string, where: string): number {
  const x = v[key];
  if (typeof x !== 'number' || !Number.isFinite(x))
    fail({
      expected: `"${key}" to be a number`,
      received: show(x),
      where,
      hint: 'see the README: every report field and its type',
    });
  return x;
}

/** This run's records in the receiver's files (attrs.id = <prefix>-<n>). */
function ofRun(records: PersistedRecord[], prefix: string): Array<{ n: number; rec: PersistedRecord }> {
  const out: Array<{ n: number; rec: PersistedRecord }> = [];
  const head = `${prefix}-`;
  for (const rec of records) {
    const attrs = rec.record['attrs'] as Json | undefined;
    const id = attrs?.['id'];
    if (typeof id === 'string' && id.startsWith(head)) out.push({ n: Number(id.slice(head.length)), rec });
  }
  return out;
}

function withoutRx(rec: Json): string {
  const { _rx, ...rest } = rec;
  void _rx;
  return JSON.stringify(rest);
}

// ---- d14.1 -----------------------------------------------------------------------------------------

const d14_1: Check = {
  id: 'd14.1',
  title: 'Process contract: --help, bad flags exit 2 naming the flag, LOGSTREAM_* env, the receiver ready line',
  // the CLI and the receiver are handed over: no TODO asks for them
  given: true,
  points: 0,
  timeoutMs: 90_000,
  async run(ctx) {
    const dataDir = await ctx.tmp();
    const [lgHelp, lgBogus, lgRate, lgTransport, rxHelp, rxBogus, rxOverflow] = await Promise.all([
      ctx.run('loadgen', ['--help'], { timeoutMs: 40_000 }),
      ctx.run('loadgen', ['--dry-run', '--count', '1', '--bogus'], { timeoutMs: 40_000 }),
      ctx.run('loadgen', ['--dry-run', '--count', '1', '--rate', 'fast'], { timeoutMs: 40_000 }),
      ctx.run('loadgen', ['--dry-run', '--count', '1', '--transport', 'carrier-pigeon'], { timeoutMs: 40_000 }),
      ctx.run('receiver', ['--help'], { timeoutMs: 40_000 }),
      ctx.run('receiver', ['--port', '0', '--data-dir', dataDir, '--bogus'], { timeoutMs: 40_000 }),
      ctx.run('receiver', ['--port', '0', '--data-dir', dataDir, '--overflow', 'sometimes'], { timeoutMs: 40_000 }),
    ]);
    exitedWith(lgHelp, [0], 'loadgen --help', '--help prints usage on stdout and exits 0');
    const usage = lgHelp.stdout + lgHelp.stderr;
    for (const flag of [
      '--target',
      '--transport',
      '--rate',
      '--ramp',
      '--steps',
      '--connections',
      '--duration',
      '--count',
      '--batch-records',
      '--codec',
      '--ca',
      '--seed',
      '--record-size',
      '--dry-run',
      '--dump',
      '--verify-dir',
      '--json',
      '--progress',
    ]) {
      expectTrue(usage.includes(flag), {
        expected: `loadgen usage naming ${flag}`,
        received: show(usage.slice(0, 400)),
        where: 'loadgen --help',
        hint: 'list every flag in --help',
      });
    }
    exitedWith(lgBogus, [2], 'loadgen --bogus', 'an unknown flag is an error: one stderr line naming it, exit 2');
    stderrNames(lgBogus, '--bogus', 'loadgen --bogus');
    exitedWith(lgRate, [2], 'loadgen --rate fast', '--rate takes a number of records/s or max');
    stderrNames(lgRate, '--rate', 'loadgen --rate fast');
    exitedWith(
      lgTransport,
      [2],
      'loadgen --transport carrier-pigeon',
      '--transport takes ndjson | lsp | lsp-tls | udp | syslog-tcp | syslog-udp',
    );
    stderrNames(lgTransport, '--transport', 'loadgen --transport carrier-pigeon');
    exitedWith(rxHelp, [0], 'receiver --help', '--help prints usage on stdout and exits 0');
    for (const flag of ['--port', '--data-dir', '--queue', '--overflow', '--drain-rate', '--fsync']) {
      expectTrue((rxHelp.stdout + rxHelp.stderr).includes(flag), {
        expected: `receiver usage naming ${flag}`,
        received: show(rxHelp.stdout.slice(0, 400)),
        where: 'receiver --help',
        hint: 'list every flag in --help',
      });
    }
    exitedWith(rxBogus, [2], 'receiver --bogus', 'an unknown flag is an error: one stderr line naming it, exit 2');
    stderrNames(rxBogus, '--bogus', 'receiver --bogus');
    exitedWith(rxOverflow, [2], 'receiver --overflow sometimes', '--overflow takes block | drop-newest');
    stderrNames(rxOverflow, '--overflow', 'receiver --overflow sometimes');

    // LOGSTREAM_<FLAG> from the environment, and the ready line itself
    const port = await freePort();
    const rx = await ctx.start('receiver', ['--data-dir', dataDir], {
      env: { LOGSTREAM_PORT: String(port) },
      readyTimeoutMs: 45_000,
    });
    const r = rx.ready;
    const where = `receiver ready line ${JSON.stringify(r)}`;
    expectEqual(r['role'], 'receiver', { what: 'ready line "role"', where });
    expectEqual(r['lesson'], 'day14', { what: 'ready line "lesson"', where });
    expectEqual(r['transport'], 'lsp1-tcp', {
      what: 'ready line "transport"',
      where,
      hint: 'the day 14 lane speaks LSP/1 over TCP',
    });
    expectEqual(r['port'], port, {
      what: 'ready line "port" when started with LOGSTREAM_PORT',
      where,
      hint: 'every flag also reads LOGSTREAM_<FLAG> (flag first)',
    });
    // and the loadgen, configured by the environment alone
    const { done } = await runLoadgenEnv(ctx, port);
    expectEqual(done['sent'], 200, {
      what: 'done line "sent" with LOGSTREAM_COUNT=200',
      where: 'loadgen done line',
      hint: 'every flag also reads LOGSTREAM_<FLAG>',
    });
  },
};

/** The loadgen configured by LOGSTREAM_* alone (d14.1). */
async function runLoadgenEnv(ctx: CheckContext, port: number): Promise<{ done: Json }> {
  const env = { LOGSTREAM_TARGET: at(port), LOGSTREAM_COUNT: '200', LOGSTREAM_RATE: 'max' };
  const r = await ctx.run('loadgen', [], { env, timeoutMs: 40_000 });
  const cmd = `LOGSTREAM_TARGET=${at(port)} LOGSTREAM_COUNT=200 loadgen.ts`;
  exitedWith(
    r,
    [0],
    cmd,
    'the loadgen reads LOGSTREAM_TARGET, LOGSTREAM_COUNT, … and exits 0 once everything is ACKed',
  );
  const done = r.json.filter((j) => j['event'] === 'done').pop();
  if (!done) fail({ expected: 'a done line', received: show(r.stdout.slice(-300)), where: cmd });
  return { done };
}

// ---- d14.2 -----------------------------------------------------------------------------------------

const RATE = 20_000;
const SECONDS = 3;

const d14_2: Check = {
  id: 'd14.2',
  title: `Open loop at a fixed rate (${RATE} records/s for ${SECONDS} s): achieved within 5%, and the counts match what the receiver persisted`,
  points: 25,
  timeoutMs: 150_000,
  exclusive: true,
  async run(ctx) {
    // A machine so busy that the generator cannot run for a few hundred ms misses any rate: one more try
    // (with a fresh receiver) before a rate miss counts. Any other failure counts at once.
    try {
      await fixedRate(ctx);
    } catch (err) {
      if (!(err instanceof CheckFailure) || !RATE_MISS.test(err.expected)) throw err;
      ctx.log(`first try missed the rate (${err.received}); trying once more`);
      await fixedRate(ctx);
    }
  },
};

const RATE_MISS = /^achievedRate within|^about \d+ records sent/;

async function fixedRate(ctx: CheckContext): Promise<void> {
  {
    const rx = await startReceiver(ctx);
    const seed = 1 + Math.floor(ctx.rng() * 1e6);
    const prefix = `s${seed}`;
    const { done, report } = await runLoadgen(
      ctx,
      [
        '--target',
        at(rx.port),
        '--rate',
        String(RATE),
        '--duration',
        String(SECONDS),
        '--seed',
        String(seed),
        '--verify-dir',
        rx.dataDir,
      ],
      { json: true },
    );
    const rep = report!;
    const where = 'the --json report';
    const want = RATE * SECONDS;
    const sent = num(rep, 'sent', where);
    const achieved = num(rep, 'achievedRate', where);
    expectTrue(Math.abs(achieved - RATE) <= RATE * 0.05, {
      expected: `achievedRate within 5% of ${RATE} records/s`,
      received: `${achieved} (${((achieved / RATE - 1) * 100).toFixed(1)}%)`,
      where,
      hint: `${TODO_SCHEDULE} and ${TODO_TURN}: each turn sends what is due by now — dueAt(t) = rate × t, t read from the clock; counting timer ticks drifts (timers fire late)`,
    });
    expectTrue(Math.abs(sent - want) <= want * 0.05, {
      expected: `about ${want} records sent (${RATE}/s × ${SECONDS} s, ±5%)`,
      received: String(sent),
      where,
      hint: `${TODO_TURN}: the schedule decides how many records go (dueAt(t) − what you generated), not how fast the loop happens to turn`,
    });
    for (const k of ['sent', 'acked', 'dropped'])
      expectEqual(done[k], rep[k], { what: `done line "${k}" = the --json report's`, where: 'loadgen done line' });

    await stopReceiver(rx);
    const { records } = await readRecords(rx.dataDir);
    const mine = ofRun(records, prefix);
    const ids = new Set(mine.map((m) => m.n));
    const files = `${rx.dataDir}/*.ndjson`;
    expectEqual(mine.length, sent, {
      what: `records of this run (attrs.id ${prefix}-n) in the receiver's files = the report's "sent"`,
      where: files,
      hint: 'count what the receiver persisted; every record sent here should be there once',
    });
    expectEqual(ids.size, mine.length, { what: 'each record once in the files', where: files });
    expectEqual(rep['acked'], sent, { what: '"acked" (every record sent was ACKed by this receiver)', where });
    expectEqual(rep['persisted'], mine.length, {
      what: '"persisted" = what the check counts in the files',
      where,
      hint: `${TODO_VERIFY}: with --verify-dir, count this run's ids in the data dir`,
    });
    expectEqual(rep['lost'], 0, { what: '"lost"', where, hint: TODO_VERIFY });
    expectEqual(rep['duplicated'], 0, { what: '"duplicated"', where, hint: TODO_VERIFY });
    expectEqual(rep['dropped'], 0, { what: '"dropped" (the generator kept up)', where });

    // the receiver's view: the records arrived spread over the run, not in one burst (a slow machine
    // only stretches this span, so it is a lower bound)
    const times = mine
      .map((m) => Date.parse(String((m.rec.record['_rx'] as Json | undefined)?.['ts'])))
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    if (times.length > 1) {
      const spanS = (times[times.length - 1]! - times[0]!) / 1000;
      ctx.log(`the receiver saw ${times.length} records over ${spanS.toFixed(3)} s`);
      expectTrue(spanS >= SECONDS * 0.8, {
        expected: `the records to reach the receiver spread over about ${SECONDS} s (its _rx.ts span ≥ ${SECONDS * 0.8} s)`,
        received: `all within ${spanS.toFixed(2)} s`,
        where: files,
        hint: `${TODO_TURN}: each record leaves when it is due, not all at once`,
      });
    }
  }
}

// ---- d14.3 -----------------------------------------------------------------------------------------

interface Rx {
  stream?: unknown;
  seq?: unknown;
}

/** A record's `_rx` stream and seq, when the receiver stamped them. */
function rxOf(rec: PersistedRecord): { stream: number; seq: number } | undefined {
  const rx = rec.record['_rx'] as Rx | undefined;
  return typeof rx?.stream === 'number' && typeof rx.seq === 'number' ? { stream: rx.stream, seq: rx.seq } : undefined;
}

/** Persisted / lost / duplicated from how often each key was found, out of `sent`. */
function tally(found: Map<number, number>, sent: number): { persisted: number; lost: number; duplicated: number } {
  let all = 0;
  for (const n of found.values()) all += n;
  return { persisted: found.size, lost: sent - found.size, duplicated: all - found.size };
}

/**
 * What else a shared data dir holds before the run (d14.3): copies of records 1..`copies` of this run,
 * as the receiver would stamp them on the run's first stream (stream `stream`, seq n: what a receiver
 * that wrote a batch twice leaves), and records 1..`earlier` of an earlier run with the same seed on a
 * stream this run does not use.
 */
function plantedLines(prefix: string, stream: number, copies: number, foreign: number, earlier: number): string {
  const line = (n: number, s: number) =>
    JSON.stringify({
      ts: '2026-01-01T00:00:00.000Z',
      level: 'info',
      msg: 'written by an earlier run',
      service: 'checkout',
      attrs: { id: `${prefix}-${n}` },
      _rx: { ts: '2026-01-01T00:00:01.000Z', peer: '127.0.0.1:40000', lane: 'day14', stream: s, seq: n },
    });
  const out: string[] = [];
  for (let n = 1; n <= copies; n++) out.push(line(n, stream));
  for (let n = 1; n <= earlier; n++) out.push(line(n, foreign));
  return `${out.join('\n')}\n`;
}

const d14_3: Check = {
  id: 'd14.3',
  title:
    "Verification from the files: with a receiver that drops (a full drop-newest queue that still ACKs), copies and an earlier run's records in its data dir, the reported persisted / lost / duplicated, in total and per stream, equal what the check counts in the files",
  points: 25,
  timeoutMs: 90_000,
  async run(ctx) {
    const rx = await startReceiver(ctx, [
      '--queue',
      '1000',
      '--overflow',
      'drop-newest',
      '--drain-rate',
      '10000',
      '--fsync',
      'never',
    ]);
    const seed = 1 + Math.floor(ctx.rng() * 1e6);
    const prefix = `s${seed}`;
    const stream = 1000 + Math.floor(ctx.rng() * 1e6);
    const foreign = stream + 100;
    const COPIES = 40;
    const EARLIER = 300;
    // Before the run, what else the data dir holds (the receiver's own files are records-NNNNNN.ndjson)
    const planted = 'earlier-run.ndjson';
    await writeFile(path.join(rx.dataDir, planted), plantedLines(prefix, stream, COPIES, foreign, EARLIER));
    ctx.log(
      `planted ${planted}: ${COPIES} copies of records 1..${COPIES} on stream ${stream} (seq = n), records 1..${EARLIER} of an earlier run on stream ${foreign}`,
    );
    // Closed loop: 2 × 64 batches of 100 in flight flood a queue of 1000 at once, however fast this
    // machine is. The receiver ACKs past what it dropped (the next batch is a gap): only the files tell.
    const { report } = await runLoadgen(
      ctx,
      [
        '--target',
        at(rx.port),
        '--rate',
        'max',
        '--count',
        '30000',
        '--connections',
        '2',
        '--stream-id',
        String(stream),
        '--batch-records',
        '100',
        '--window',
        '64',
        '--seed',
        String(seed),
        '--verify-dir',
        rx.dataDir,
        '--ack-timeout-ms',
        '1000',
      ],
      { json: true, codes: [0, 1] },
    );
    const rep = report!;
    const where = 'the --json report';
    const sent = num(rep, 'sent', where);
    const streams = Array.isArray(rep['streams']) ? (rep['streams'] as Json[]) : [];
    expectEqual(
      streams.map((s) => s['stream']),
      [stream, stream + 1],
      { what: '"streams": one entry per connection, --stream-id and the next', where },
    );
    const sentBy = new Map(streams.map((s) => [Number(s['stream']), num(s, 'sent', `${where} streams[]`)]));

    await stopReceiver(rx);
    const stats = await readStats(rx.dataDir);
    const received = statNumber(stats, 'records.received');
    const droppedByRx = statNumber(stats, 'records.dropped');
    ctx.log(`receiver stats: received ${received}, dropped ${droppedByRx}`);
    expectEqual(received, sent, {
      what: `records the receiver saw arrive (stats.json records.received) = the report's "sent"`,
      where: `${rx.dataDir}/stats.json`,
      hint: '"sent" counts records handed to the socket',
    });

    // The check's own count, by the README's rules: this run's records are those with its id prefix on
    // one of its streams; by id, and per stream by seq (a fresh receiver: seq base 0).
    const { records } = await readRecords(rx.dataDir);
    const byId = new Map<number, number>();
    const realIds = new Set<number>();
    const bySeq = new Map<number, Map<number, number>>([...sentBy.keys()].map((s) => [s, new Map<number, number>()]));
    for (const { n, rec } of ofRun(records, prefix)) {
      const r = rxOf(rec);
      const seqs = r ? bySeq.get(r.stream) : undefined;
      if (!r || !seqs) continue; // an earlier run's stream: not this run's
      byId.set(n, (byId.get(n) ?? 0) + 1);
      if (rec.file !== planted) realIds.add(n);
      if (r.seq >= 1 && r.seq <= sentBy.get(r.stream)!) seqs.set(r.seq, (seqs.get(r.seq) ?? 0) + 1);
    }
    const total = tally(byId, sent);
    ctx.log(
      `the check counts: sent ${sent}, persisted ${total.persisted}, lost ${total.lost}, duplicated ${total.duplicated} (the receiver's own records alone: ${realIds.size} persisted)`,
    );
    expectTrue(sent - realIds.size > 0, {
      expected: 'this receiver to drop records (queue 1000, drained at 10,000/s, 12,800 records in flight)',
      received: `nothing lost (sent ${sent}, persisted ${realIds.size})`,
      where: rx.dataDir,
      hint: 'with --rate max the loadgen keeps --window batches in flight per connection',
    });
    expectEqual(droppedByRx, sent - realIds.size, {
      what: "the receiver's own drop count (records.dropped) = what is missing from its files",
      where: `${rx.dataDir}/stats.json`,
    });
    const hint = `${TODO_VERIFY}: count from the files, not from the ACKs (this receiver ACKs past what it dropped); only this run's records (its id prefix, on its own streams: stream ${foreign} in ${planted} is an earlier run's); a record found twice is persisted once and duplicated once`;
    expectEqual(rep['persisted'], total.persisted, {
      what: `"persisted" = this run's records found in the files (distinct ids)`,
      where,
      hint,
    });
    expectEqual(rep['lost'], total.lost, {
      what: `"lost" = sent − persisted (${sent} − ${total.persisted})`,
      where,
      hint,
    });
    expectEqual(rep['duplicated'], total.duplicated, {
      what: '"duplicated" = finds of this run\'s records beyond the first',
      where,
      hint,
    });
    for (const s of streams) {
      const id = Number(s['stream']);
      const want = tally(bySeq.get(id)!, sentBy.get(id)!);
      ctx.log(`stream ${id}: sent ${sentBy.get(id)}, the check counts ${JSON.stringify(want)}`);
      const got = { persisted: s['persisted'], lost: s['lost'], duplicated: s['duplicated'] };
      expectEqual(got, want, {
        what: `streams[] entry of stream ${id}: persisted / lost / duplicated by (stream, seq) as counted in the files`,
        where: `${where} streams`,
        hint: `${TODO_VERIFY}: per stream, classify each seq 1..sent of that stream (_rx.seq) as found once, more than once, never`,
      });
    }
  },
};

// ---- d14.4 -----------------------------------------------------------------------------------------

const d14_4: Check = {
  id: 'd14.4',
  title:
    'Seeded records: the same seed gives identical records (also those persisted by a real run), another seed different ones; realistic mix',
  // records.ts is handed over (a fast, seeded record writer): no TODO asks for it
  given: true,
  points: 0,
  timeoutMs: 90_000,
  async run(ctx) {
    const seed = 1 + Math.floor(ctx.rng() * 1e6);
    const dir = await ctx.tmp();
    const N = 3000;
    const dumpArgs = (s: number, file: string) => [
      '--dry-run',
      '--count',
      String(N),
      '--seed',
      String(s),
      '--dump',
      path.join(dir, file),
    ];
    const rx = await startReceiver(ctx);
    await Promise.all([
      runLoadgen(ctx, dumpArgs(seed, 'a1.ndjson')),
      runLoadgen(ctx, dumpArgs(seed, 'a2.ndjson')),
      runLoadgen(ctx, dumpArgs(seed + 1, 'b.ndjson')),
      runLoadgen(ctx, ['--target', at(rx.port), '--count', '2000', '--seed', String(seed), '--verify-dir', rx.dataDir]),
    ]);
    const read = async (f: string) =>
      (
        await readFile(path.join(dir, f), 'utf8').catch(() =>
          fail({ expected: `--dump to write ${f}`, received: 'no such file', where: dir }),
        )
      )
        .split('\n')
        .filter((l) => l.length > 0);
    const [a1, a2, b] = [await read('a1.ndjson'), await read('a2.ndjson'), await read('b.ndjson')];
    expectEqual(a1.length, N, {
      what: `records in the --dump of --dry-run --count ${N}`,
      where: path.join(dir, 'a1.ndjson'),
    });
    const firstDiff = a1.findIndex((l, i) => l !== a2[i]);
    expectTrue(firstDiff === -1 && a1.length === a2.length, {
      expected: `seed ${seed} twice: byte-identical records`,
      received: `they differ at record ${firstDiff + 1}: ${show(a1[firstDiff]?.slice(0, 150))} vs ${show(a2[firstDiff]?.slice(0, 150))}`,
      where: dir,
      hint: 'every random draw comes from one PRNG seeded by --seed; no Date.now() or Math.random() in the records',
    });

    // another seed: different records, and not just a different id
    const body = (line: string, i: number, file: string): Json => {
      let v: Json;
      try {
        v = JSON.parse(line) as Json;
      } catch (err) {
        fail({
          expected: 'each dumped line to be one JSON record',
          received: `${(err as Error).message}: ${show(line.slice(0, 200))}`,
          where: `${file} line ${i + 1}`,
        });
      }
      return v;
    };
    const noId = (v: Json) => {
      const attrs = { ...(v['attrs'] as Json) };
      delete attrs['id'];
      return JSON.stringify({ ...v, attrs });
    };
    const A = a1.map((l, i) => body(l, i, 'a1.ndjson'));
    const B = b.map((l, i) => body(l, i, 'b.ndjson'));
    const same = A.filter((v, i) => B[i] !== undefined && noId(v) === noId(B[i])).length;
    expectTrue(same < N * 0.1, {
      expected: `seeds ${seed} and ${seed + 1}: different records (ids aside)`,
      received: `${same} of ${N} records identical apart from attrs.id`,
      where: dir,
      hint: 'the seed must drive every draw (level, service, message, attrs, size)',
    });

    // realistic: valid records, several services, weighted levels, attrs
    const services = new Set<string>();
    const levels = new Map<string, number>();
    for (let i = 0; i < A.length; i++) {
      const v = A[i]!;
      const where = `a1.ndjson line ${i + 1}: ${show(a1[i]!.slice(0, 160))}`;
      expectTrue(typeof v['ts'] === 'string' && !Number.isNaN(Date.parse(v['ts'])), {
        expected: 'an RFC 3339 "ts"',
        received: show(v['ts']),
        where,
      });
      expectTrue(typeof v['msg'] === 'string' && LEVELS.includes(v['level'] as string), {
        expected: 'a "msg" string and a "level" of trace…fatal',
        received: show({ level: v['level'], msg: v['msg'] }),
        where,
      });
      expectTrue(typeof v['attrs'] === 'object' && v['attrs'] !== null, {
        expected: 'an "attrs" object',
        received: show(v['attrs']),
        where,
      });
      if (typeof v['service'] === 'string') services.add(v['service']);
      levels.set(v['level'] as string, (levels.get(v['level'] as string) ?? 0) + 1);
    }
    const byCount = [...levels.entries()].sort((x, y) => y[1] - x[1]);
    expectTrue(services.size >= 4, {
      expected: 'records from several services (≥ 4)',
      received: show([...services]),
      where: 'a1.ndjson',
    });
    expectTrue(levels.size >= 4 && byCount[0]?.[0] === 'info', {
      expected: 'weighted levels: ≥ 4 of them, info the most common',
      received: show(Object.fromEntries(byCount)),
      where: 'a1.ndjson',
    });

    // a real run with the same seed sent exactly those records
    await stopReceiver(rx);
    const { records } = await readRecords(rx.dataDir);
    const got = ofRun(records, `s${seed}`).sort((x, y) => x.n - y.n);
    expectEqual(got.length, 2000, { what: `records persisted by \`--count 2000 --seed ${seed}\``, where: rx.dataDir });
    for (let i = 0; i < got.length; i++) {
      const want = JSON.stringify(A[got[i]!.n - 1]);
      const have = withoutRx(got[i]!.rec.record);
      if (have !== want)
        fail({
          expected: `the persisted record ${got[i]!.n} (its _rx aside) = record ${got[i]!.n} of the --dry-run dump with the same seed: ${show(want.slice(0, 200))}`,
          received: show(have.slice(0, 200)),
          where: `${got[i]!.rec.file} line ${got[i]!.rec.lineNo}`,
          hint: 'a seed reproduces a run byte for byte, sent or dumped',
        });
    }
  },
};

// ---- d14.5 -----------------------------------------------------------------------------------------

function typeOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

function fieldAt(obj: Json, dotted: string): Array<{ path: string; value: unknown; present: boolean }> {
  const parts = dotted.split('.');
  let cur: Array<{ path: string; value: unknown; present: boolean }> = [{ path: '', value: obj, present: true }];
  for (const p of parts) {
    const next: typeof cur = [];
    for (const c of cur) {
      if (p === '*') {
        if (Array.isArray(c.value))
          c.value.forEach((v, i) => next.push({ path: `${c.path}[${i}]`, value: v, present: true }));
        continue;
      }
      const o = c.value as Json | null;
      const present = o !== null && typeof o === 'object' && p in o;
      next.push({ path: c.path ? `${c.path}.${p}` : p, value: present ? o[p] : undefined, present });
    }
    cur = next;
  }
  return cur;
}

const d14_5: Check = {
  id: 'd14.5',
  title:
    '--json writes every documented report field with its type; the done line agrees; latency percentiles are ordered',
  points: 15,
  timeoutMs: 90_000,
  async run(ctx) {
    const rx = await startReceiver(ctx);
    const { done, report } = await runLoadgen(
      ctx,
      ['--target', at(rx.port), '--count', '5000', '--connections', '2', '--verify-dir', rx.dataDir],
      { json: true },
    );
    const rep = report!;
    for (const [field, type] of REPORT_FIELDS) {
      for (const f of fieldAt(rep, field)) {
        const t = typeOf(f.value);
        expectTrue(f.present && type.split('|').includes(t), {
          expected: `report field "${f.path}" (${type})`,
          received: f.present ? `${t}: ${show(f.value)}` : 'missing',
          where: 'the --json report',
          hint: 'every field the README documents is in the report, null where there is nothing to measure',
        });
      }
    }
    for (const k of ['sent', 'acked', 'dropped', 'lost', 'duplicated', 'achievedRate'])
      expectEqual(done[k], rep[k], { what: `done line "${k}" = the --json report's`, where: 'loadgen done line' });
    expectEqual(rep['sent'], 5000, { what: '"sent" with --count 5000', where: 'the --json report' });
    expectEqual(rep['connections'], 2, { what: '"connections"', where: 'the --json report' });
    const streams = rep['streams'] as Json[];
    expectEqual(streams.length, 2, { what: 'one "streams" entry per connection', where: 'the --json report' });
    expectEqual(
      streams.reduce((n, s) => n + Number(s['sent']), 0),
      5000,
      { what: 'the streams\' "sent" adding up to "sent"', where: 'the --json report' },
    );
    const lat = rep['latencyMs'] as Json;
    const order = ['p50', 'p90', 'p99', 'p999', 'max'].map((k) => lat[k] as number);
    expectTrue(
      order.every((v) => typeof v === 'number' && v > 0) && order.every((v, i) => i === 0 || v >= order[i - 1]!),
      {
        expected: 'ACK latency p50 ≤ p90 ≤ p99 ≤ p999 ≤ max, all > 0 ms (an ACKed lane)',
        received: show(lat),
        where: 'the --json report latencyMs',
        hint: `${TODO_LATENCY}: the lanes' HDR histograms (the time from when a record was due to the ACK covering it) as one; percentiles in ms`,
      },
    );
    expectEqual(lat['n'], 5000, {
      what: 'latencyMs.n (records measured: every ACKed one, all lanes together)',
      where: 'the --json report',
      hint: `${TODO_LATENCY}: every lane's histogram counts`,
    });
    expectTrue((rep['peakRssMb'] as number) > 10 && ((rep['cpu'] as Json)['userMs'] as number) > 0, {
      expected: 'its own peak RSS (MB) and CPU time, measured',
      received: show({ peakRssMb: rep['peakRssMb'], cpu: rep['cpu'] }),
      where: 'the --json report',
    });
    await stopReceiver(rx);
  },
};

// ---- d14.6 -----------------------------------------------------------------------------------------

const d14_6: Check = {
  id: 'd14.6',
  title:
    'Ramp and steps: an open-loop run sends the integral of its rate profile (--ramp during and after the ramp, --steps cut short by --duration)',
  points: 15,
  timeoutMs: 90_000,
  async run(ctx) {
    const rx = await startReceiver(ctx);
    const seed = 1 + Math.floor(ctx.rng() * 1e6);
    // Each run's last turn counts up to --duration exactly, so "sent" is the integral however the
    // machine's timers behave: no timing tolerance needed, only rounding.
    const cases = [
      {
        args: ['--rate', '8000', '--ramp', '2', '--duration', '1'],
        want: 2000,
        why: '8000/s reached after a 2 s ramp, stopped after 1 s: 8000 × 1² / (2 × 2)',
      },
      {
        args: ['--rate', '6000', '--ramp', '2', '--duration', '3'],
        want: 12_000,
        why: '6000/s reached after a 2 s ramp, 3 s in all: 6000 × (3 − 2/2)',
      },
      {
        args: ['--steps', '3000,9000', '--step-duration', '1', '--duration', '1.5'],
        want: 7500,
        why: '3000/s for 1 s, then 9000/s for 0.5 s: 3000 + 4500',
      },
    ];
    const runs = await Promise.all(
      cases.map((c, i) =>
        runLoadgen(ctx, ['--target', at(rx.port), ...c.args, '--seed', String(seed + i)], { json: true }),
      ),
    );
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i]!;
      const rep = runs[i]!.report!;
      const where = `the --json report of \`${runs[i]!.cmd}\``;
      expectEqual(rep['mode'], 'open', { what: '"mode"', where });
      const sent = num(rep, 'sent', where);
      expectTrue(Math.abs(sent - c.want) <= c.want * 0.01, {
        expected: `"sent" = ${c.want} ± 1% (${c.why})`,
        received: String(sent),
        where,
        hint: `${TODO_SCHEDULE}: dueAt(t) is the area under the rate: a ramp's triangle rate·t²/(2·ramp) while it rises, then rate·(t − ramp/2); steps add rate_i × the part of step i before t. ${TODO_TURN} sends dueAt(t) − what was generated, the last turn at exactly --duration`,
      });
    }
    await stopReceiver(rx);
  },
};

// ---- d14.7 -----------------------------------------------------------------------------------------

const STALL_MS = 1500;

/** Waits for a watched program's exit; a CheckFailure if it takes longer than `timeoutMs`. */
async function exitOf(p: WatchedProgram, timeoutMs: number): Promise<ProgramExit> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), timeoutMs)));
  const exit = await Promise.race([p.exit, late]);
  clearTimeout(timer);
  if (!exit)
    fail({
      expected: `\`${p.cmd}\` to exit within ${timeoutMs} ms`,
      received: `still running; stderr tail: ${show(p.stderrText().slice(-400))}`,
      where: `pid ${p.pid}`,
    });
  return exit;
}

const d14_7: Check = {
  id: 'd14.7',
  title: `Latency counts from when a record was due: a loadgen stopped for ${STALL_MS / 1000} s mid-run (SIGSTOP) catches up, and the records due during the stall report it`,
  points: 20,
  timeoutMs: 120_000,
  // the stall is a measured pause: other checks' load would blur it
  exclusive: true,
  async run(ctx) {
    const rx = await startReceiver(ctx);
    const rate = 3000;
    const seconds = 6;
    const seed = 1 + Math.floor(ctx.rng() * 1e6);
    const jsonFile = path.join(await ctx.tmp(), 'report.json');
    const lg = ctx.watch('loadgen', [
      '--target',
      at(rx.port),
      '--rate',
      String(rate),
      '--duration',
      String(seconds),
      '--seed',
      String(seed),
      '--json',
      jsonFile,
    ]);
    ctx.log(`loadgen pid ${lg.pid}: ${lg.cmd}`);
    const received = async () => statNumber(await readStats(rx.dataDir).catch(() => null), 'records.received') ?? 0;
    // Once records arrive, the run is under way: stop the generator (the receiver keeps going)
    await waitFor(async () => lg.exited() !== undefined || (await received()) >= rate / 10, {
      timeoutMs: 45_000,
      what: `the first ${rate / 10} records to reach the receiver (stats.json records.received)`,
      where: `${rx.dataDir}/stats.json`,
      hint: `${TODO_TURN}: an open-loop run starts sending at once`,
    });
    if (lg.exited())
      fail({
        expected: `records reaching the receiver while the loadgen runs (${rate}/s for ${seconds} s)`,
        received: `the loadgen exited (code ${lg.exited()!.exitCode}) and the receiver got ${await received()} records; stdout tail ${show(lg.stdoutTail().slice(-300))}`,
        where: lg.cmd,
        hint: `${TODO_TURN}: an open-loop run of ${seconds} s sends what is due, from the start to the end`,
      });
    lg.kill('SIGSTOP');
    const before = await received();
    ctx.log(
      `SIGSTOP with ${before} records received (about ${(before / rate).toFixed(2)} s into the run); SIGCONT in ${STALL_MS} ms`,
    );
    await new Promise((r) => setTimeout(r, STALL_MS)); // the stall itself: nothing to wait for
    lg.kill('SIGCONT');
    const exit = await exitOf(lg, 60_000);
    expectTrue(exit.exitCode === 0, {
      expected: `\`${lg.cmd}\` to exit 0 (everything sent was ACKed)`,
      received: `exit ${exit.exitCode}, signal ${exit.signal}; stderr ${show(lg.stderrText().slice(-400))}`,
      where: lg.cmd,
    });
    const text = await readFile(jsonFile, 'utf8').catch(() =>
      fail({ expected: `--json to write the report to ${jsonFile}`, received: 'no such file', where: lg.cmd }),
    );
    const rep = JSON.parse(text) as Json;
    const where = 'the --json report';
    const want = rate * seconds;
    const sent = num(rep, 'sent', where);
    ctx.log(`report: sent ${sent}, latencyMs ${JSON.stringify(rep['latencyMs'])}`);
    expectTrue(Math.abs(sent - want) <= want * 0.05, {
      expected: `about ${want} records sent (${rate}/s × ${seconds} s, ±5%): the records due during the stall go after it`,
      received: String(sent),
      where,
      hint: `${TODO_TURN}: after a pause, what is due by now is more than one turn's worth — send all of it (the schedule catches up), never skip it`,
    });
    await stopReceiver(rx);

    const lat = (rep['latencyMs'] ?? {}) as Json;
    const [p50, p90, max] = [lat['p50'], lat['p90'], lat['max']];
    expectTrue(typeof p50 === 'number' && typeof p90 === 'number' && typeof max === 'number', {
      expected: 'latencyMs.p50, p90 and max as numbers (an ACKed lane)',
      received: show(lat),
      where,
      hint: TODO_LATENCY,
    });
    expectTrue(max >= STALL_MS * 0.8, {
      expected: `latencyMs.max ≥ ${STALL_MS * 0.8} ms (the generator was stopped for ${STALL_MS} ms)`,
      received: `${max} ms`,
      where,
      hint: `${TODO_LATENCY}: max is the largest value recorded`,
    });
    // About a quarter of the records were due during the stall, waiting up to its length: p90 must show it
    expectTrue(p90 >= STALL_MS * 0.4, {
      expected: `latencyMs.p90 ≥ ${STALL_MS * 0.4} ms: the ~${Math.round((STALL_MS / 1000 / seconds) * 100)}% of the records that were due during the ${STALL_MS} ms stall waited for it`,
      received: `p90 ${p90} ms (p50 ${p50}, max ${max})`,
      where,
      hint: `${TODO_TURN}: each piece enters its lane with the time its first record was DUE (start + schedule.timeOf(n)), not the time the loop got round to it — or the stall disappears from the latency ("coordinated omission")`,
    });
    // ...and the rest were sent on time: their clocks start at their own due time, not at the run's start
    expectTrue(p50 <= STALL_MS * 0.5, {
      expected: `latencyMs.p50 ≤ ${STALL_MS * 0.5} ms: most records were sent on time and waited only for their ACK`,
      received: `p50 ${p50} ms (p90 ${p90}, max ${max})`,
      where,
      hint: `${TODO_SCHEDULE}: timeOf(n) is when record n is due (seconds from the start: the smallest t with dueAt(t) ≥ n)`,
    });
  },
};

export const checks: Check[] = [d14_1, d14_2, d14_3, d14_4, d14_5, d14_6, d14_7];
