// Graded checks for day 14: the load generator. It keeps an open-loop rate, counts what the receiver
// really persisted (not what was ACKed), reproduces its records from a seed, and documents its report.
// Black-box: the loadgen and the day 14 receiver are driven through the process contract (GUIDE §2);
// every count the loadgen reports is recounted here from the receiver's files.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CheckFailure, expectEqual, expectTrue, fail, show } from './harness/assert.ts';
import { readRecords, readStats, statNumber, type PersistedRecord } from './harness/persisted.ts';
import type { Check, CheckContext, RunningProgram, RunResult } from './harness/types.ts';
import { freePort } from '../shared/free-port.ts';

export const lesson = 'day14';

type Json = Record<string, unknown>;

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
const at = (port: number) => `127.0.0.1:${port}`;

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
  if (r.timedOut) fail({ expected: `\`${cmd}\` to exit (code ${codes.join(' or ')})`, received: `still running after ${r.ms} ms`, where: cmd, hint });
  expectTrue(r.exitCode !== null && codes.includes(r.exitCode), { expected: `exit code of \`${cmd}\` = ${codes.join(' or ')}`, received: `${r.exitCode} (signal ${r.signal}); stderr: ${show(r.stderr.trim().slice(-400))}`, where: cmd, hint });
}

function stderrNames(r: RunResult, flag: string, cmd: string): void {
  expectTrue(r.stderr.split('\n').some((l) => l.includes(flag)), { expected: `a stderr line naming ${flag} from \`${cmd}\``, received: show(r.stderr.trim().slice(0, 300) || '(empty stderr)'), where: 'stderr', hint: 'print one line on stderr that names the offending flag, then exit 2' });
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
  expectTrue(s.exitCode === 0 && !s.timedOut, { expected: 'the receiver to exit 0 on SIGTERM', received: `exit ${s.exitCode}, signal ${s.signal}${s.timedOut ? ' (killed after 8 s)' : ''}`, where: 'receiver', hint: 'SIGTERM: stop accepting, flush, fsync, final stats, exit 0' });
}

/** Runs the loadgen; returns its result, its done line, and the --json report (when asked for). */
async function runLoadgen(ctx: CheckContext, args: string[], opts: { json?: boolean; timeoutMs?: number; codes?: number[] } = {}): Promise<{ r: RunResult; done: Json; report: Json | undefined; cmd: string }> {
  const jsonFile = opts.json ? path.join(await ctx.tmp(), 'report.json') : undefined;
  const all = [...args, ...(jsonFile ? ['--json', jsonFile] : [])];
  const cmd = `loadgen.ts ${all.join(' ')}`;
  ctx.log(cmd);
  const r = await ctx.run('loadgen', all, { timeoutMs: opts.timeoutMs ?? 40_000 });
  exitedWith(r, opts.codes ?? [0], cmd, 'the loadgen exits 0 when everything it sent was delivered as the lane promises, 1 when not');
  const lines = r.stdout.trimEnd().split('\n');
  const lastLine = lines[lines.length - 1] ?? '';
  let done: Json | undefined;
  try {
    const v: unknown = JSON.parse(lastLine);
    if (v && typeof v === 'object' && (v as Json)['event'] === 'done') done = v as Json;
  } catch {
    done = undefined;
  }
  if (!done) fail({ expected: 'stdout to end with the done line {"event":"done","sent":…,"acked":…,"dropped":…}', received: show(lastLine.slice(0, 300)), where: `${cmd}, last stdout line`, hint: 'GUIDE §2: a load generator ends with one done JSON line on stdout; human logs go to stderr' });
  let report: Json | undefined;
  if (jsonFile) {
    const text = await readFile(jsonFile, 'utf8').catch(() => undefined);
    if (text === undefined) fail({ expected: `--json to write the report to ${jsonFile}`, received: 'no such file', where: cmd });
    try {
      report = JSON.parse(text) as Json;
    } catch (err) {
      fail({ expected: 'the --json file to hold one JSON object', received: `${(err as Error).message}: ${show(text.slice(0, 200))}`, where: jsonFile });
    }
  }
  ctx.log(`done: ${JSON.stringify(done).slice(0, 600)}`);
  return { r, done, report, cmd };
}

function num(v: Json, key: string, where: string): number {
  const x = v[key];
  if (typeof x !== 'number' || !Number.isFinite(x)) fail({ expected: `"${key}" to be a number`, received: show(x), where, hint: 'see the README: every report field and its type' });
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
  points: 10,
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
    for (const flag of ['--target', '--transport', '--rate', '--ramp', '--steps', '--connections', '--duration', '--count', '--batch-records', '--codec', '--ca', '--seed', '--record-size', '--dry-run', '--dump', '--verify-dir', '--json', '--progress']) {
      expectTrue(usage.includes(flag), { expected: `loadgen usage naming ${flag}`, received: show(usage.slice(0, 400)), where: 'loadgen --help', hint: 'list every flag in --help' });
    }
    exitedWith(lgBogus, [2], 'loadgen --bogus', 'an unknown flag is an error: one stderr line naming it, exit 2');
    stderrNames(lgBogus, '--bogus', 'loadgen --bogus');
    exitedWith(lgRate, [2], 'loadgen --rate fast', '--rate takes a number of records/s or max');
    stderrNames(lgRate, '--rate', 'loadgen --rate fast');
    exitedWith(lgTransport, [2], 'loadgen --transport carrier-pigeon', '--transport takes ndjson | lsp | lsp-tls | udp | syslog-tcp | syslog-udp');
    stderrNames(lgTransport, '--transport', 'loadgen --transport carrier-pigeon');
    exitedWith(rxHelp, [0], 'receiver --help', '--help prints usage on stdout and exits 0');
    for (const flag of ['--port', '--data-dir', '--queue', '--overflow', '--drain-rate', '--fsync']) {
      expectTrue((rxHelp.stdout + rxHelp.stderr).includes(flag), { expected: `receiver usage naming ${flag}`, received: show(rxHelp.stdout.slice(0, 400)), where: 'receiver --help', hint: 'list every flag in --help' });
    }
    exitedWith(rxBogus, [2], 'receiver --bogus', 'an unknown flag is an error: one stderr line naming it, exit 2');
    stderrNames(rxBogus, '--bogus', 'receiver --bogus');
    exitedWith(rxOverflow, [2], 'receiver --overflow sometimes', '--overflow takes block | drop-newest');
    stderrNames(rxOverflow, '--overflow', 'receiver --overflow sometimes');

    // LOGSTREAM_<FLAG> from the environment, and the ready line itself
    const port = await freePort();
    const rx = await ctx.start('receiver', ['--data-dir', dataDir], { env: { LOGSTREAM_PORT: String(port) }, readyTimeoutMs: 45_000 });
    const r = rx.ready;
    const where = `receiver ready line ${JSON.stringify(r)}`;
    expectEqual(r['role'], 'receiver', { what: 'ready line "role"', where });
    expectEqual(r['lesson'], 'day14', { what: 'ready line "lesson"', where });
    expectEqual(r['transport'], 'lsp1-tcp', { what: 'ready line "transport"', where, hint: 'the day 14 lane speaks LSP/1 over TCP' });
    expectEqual(r['port'], port, { what: 'ready line "port" when started with LOGSTREAM_PORT', where, hint: 'every flag also reads LOGSTREAM_<FLAG> (flag first)' });
    // and the loadgen, configured by the environment alone
    const { done } = await runLoadgenEnv(ctx, port);
    expectEqual(done['sent'], 200, { what: 'done line "sent" with LOGSTREAM_COUNT=200', where: 'loadgen done line', hint: 'every flag also reads LOGSTREAM_<FLAG>' });
  },
};

/** The loadgen configured by LOGSTREAM_* alone (d14.1). */
async function runLoadgenEnv(ctx: CheckContext, port: number): Promise<{ done: Json }> {
  const env = { LOGSTREAM_TARGET: at(port), LOGSTREAM_COUNT: '200', LOGSTREAM_RATE: 'max' };
  const r = await ctx.run('loadgen', [], { env, timeoutMs: 40_000 });
  const cmd = `LOGSTREAM_TARGET=${at(port)} LOGSTREAM_COUNT=200 loadgen.ts`;
  exitedWith(r, [0], cmd, 'the loadgen reads LOGSTREAM_TARGET, LOGSTREAM_COUNT, … and exits 0 once everything is ACKed');
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
  points: 30,
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
    const { done, report } = await runLoadgen(ctx, ['--target', at(rx.port), '--rate', String(RATE), '--duration', String(SECONDS), '--seed', String(seed), '--verify-dir', rx.dataDir], { json: true });
    const rep = report!;
    const where = 'the --json report';
    const want = RATE * SECONDS;
    const sent = num(rep, 'sent', where);
    const achieved = num(rep, 'achievedRate', where);
    expectTrue(Math.abs(achieved - RATE) <= RATE * 0.05, { expected: `achievedRate within 5% of ${RATE} records/s`, received: `${achieved} (${((achieved / RATE - 1) * 100).toFixed(1)}%)`, where, hint: 'open loop: records due by time t = the rate × t, from the clock; counting timer ticks drifts (timers fire late)' });
    expectTrue(Math.abs(sent - want) <= want * 0.05, { expected: `about ${want} records sent (${RATE}/s × ${SECONDS} s, ±5%)`, received: String(sent), where, hint: 'the schedule decides how many records go, not how fast the loop happens to turn' });
    for (const k of ['sent', 'acked', 'dropped']) expectEqual(done[k], rep[k], { what: `done line "${k}" = the --json report's`, where: 'loadgen done line' });

    await stopReceiver(rx);
    const { records } = await readRecords(rx.dataDir);
    const mine = ofRun(records, prefix);
    const ids = new Set(mine.map((m) => m.n));
    const files = `${rx.dataDir}/*.ndjson`;
    expectEqual(mine.length, sent, { what: `records of this run (attrs.id ${prefix}-n) in the receiver's files = the report's "sent"`, where: files, hint: 'count what the receiver persisted; every record sent here should be there once' });
    expectEqual(ids.size, mine.length, { what: 'each record once in the files', where: files });
    expectEqual(rep['acked'], sent, { what: '"acked" (every record sent was ACKed by this receiver)', where });
    expectEqual(rep['persisted'], mine.length, { what: '"persisted" = what the check counts in the files', where, hint: 'with --verify-dir, count this run\'s ids in the data dir' });
    expectEqual(rep['lost'], 0, { what: '"lost"', where });
    expectEqual(rep['duplicated'], 0, { what: '"duplicated"', where });
    expectEqual(rep['dropped'], 0, { what: '"dropped" (the generator kept up)', where });

    // the receiver's view: the records arrived spread over the run, not in one burst (a slow machine
    // only stretches this span, so it is a lower bound)
    const times = mine.map((m) => Date.parse(String((m.rec.record['_rx'] as Json | undefined)?.['ts']))).filter(Number.isFinite).sort((a, b) => a - b);
    if (times.length > 1) {
      const spanS = (times[times.length - 1]! - times[0]!) / 1000;
      ctx.log(`the receiver saw ${times.length} records over ${spanS.toFixed(3)} s`);
      expectTrue(spanS >= SECONDS * 0.8, { expected: `the records to reach the receiver spread over about ${SECONDS} s (its _rx.ts span ≥ ${SECONDS * 0.8} s)`, received: `all within ${spanS.toFixed(2)} s`, where: files, hint: 'open loop: each record leaves when it is due, not all at once' });
    }
  }
}

// ---- d14.3 -----------------------------------------------------------------------------------------

const d14_3: Check = {
  id: 'd14.3',
  title: "When the receiver drops (a full drop-newest queue), the loadgen's reported loss equals the loss counted from the receiver's files",
  points: 25,
  timeoutMs: 90_000,
  async run(ctx) {
    const rx = await startReceiver(ctx, ['--queue', '1000', '--overflow', 'drop-newest', '--drain-rate', '10000', '--fsync', 'never']);
    const seed = 1 + Math.floor(ctx.rng() * 1e6);
    const prefix = `s${seed}`;
    // Closed loop: 64 batches of 100 in flight flood a queue of 1000 at once, however fast this machine
    // is. The receiver ACKs past what it dropped (the next batch is a gap): only the files tell.
    const { report } = await runLoadgen(ctx, ['--target', at(rx.port), '--rate', 'max', '--count', '30000', '--batch-records', '100', '--window', '64', '--seed', String(seed), '--verify-dir', rx.dataDir, '--ack-timeout-ms', '1000'], { json: true, codes: [0, 1] });
    const rep = report!;
    const where = 'the --json report';
    const sent = num(rep, 'sent', where);

    await stopReceiver(rx);
    const stats = await readStats(rx.dataDir);
    const received = statNumber(stats, 'records.received');
    const droppedByRx = statNumber(stats, 'records.dropped');
    ctx.log(`receiver stats: received ${received}, dropped ${droppedByRx}`);
    const { records } = await readRecords(rx.dataDir);
    const mine = ofRun(records, prefix);
    const unique = new Set(mine.map((m) => m.n)).size;
    const lost = sent - unique;
    const duplicated = mine.length - unique;
    ctx.log(`the check counts: sent ${sent}, persisted ${unique}, lost ${lost}, duplicated ${duplicated}`);
    expectEqual(received, sent, { what: `records the receiver saw arrive (stats.json records.received) = the report's "sent"`, where: `${rx.dataDir}/stats.json`, hint: '"sent" counts records handed to the socket' });
    expectTrue(lost > 0, { expected: 'this receiver to drop records (queue 1000, drained at 10,000/s, 6,400 records in flight)', received: `nothing lost (sent ${sent}, persisted ${unique})`, where: rx.dataDir, hint: 'with --rate max the loadgen keeps --window batches in flight' });
    expectEqual(droppedByRx, lost, { what: 'the receiver\'s own drop count (records.dropped) = what is missing from its files', where: `${rx.dataDir}/stats.json` });
    expectEqual(rep['lost'], lost, { what: `"lost" = sent − this run's records found in the files (${sent} − ${unique})`, where, hint: 'verify from the data dir: an ACK is not proof (this receiver ACKs past what it dropped)' });
    expectEqual(rep['duplicated'], duplicated, { what: '"duplicated" = records found more than once in the files', where });
    expectEqual(rep['persisted'], unique, { what: '"persisted" = this run\'s records found in the files', where });
  },
};

// ---- d14.4 -----------------------------------------------------------------------------------------

const d14_4: Check = {
  id: 'd14.4',
  title: 'Seeded records: the same seed gives identical records (also those persisted by a real run), another seed different ones; realistic mix',
  points: 20,
  timeoutMs: 90_000,
  async run(ctx) {
    const seed = 1 + Math.floor(ctx.rng() * 1e6);
    const dir = await ctx.tmp();
    const N = 3000;
    const dumpArgs = (s: number, file: string) => ['--dry-run', '--count', String(N), '--seed', String(s), '--dump', path.join(dir, file)];
    const rx = await startReceiver(ctx);
    await Promise.all([
      runLoadgen(ctx, dumpArgs(seed, 'a1.ndjson')),
      runLoadgen(ctx, dumpArgs(seed, 'a2.ndjson')),
      runLoadgen(ctx, dumpArgs(seed + 1, 'b.ndjson')),
      runLoadgen(ctx, ['--target', at(rx.port), '--count', '2000', '--seed', String(seed), '--verify-dir', rx.dataDir]),
    ]);
    const read = async (f: string) => (await readFile(path.join(dir, f), 'utf8').catch(() => fail({ expected: `--dump to write ${f}`, received: 'no such file', where: dir }))).split('\n').filter((l) => l.length > 0);
    const [a1, a2, b] = [await read('a1.ndjson'), await read('a2.ndjson'), await read('b.ndjson')];
    expectEqual(a1.length, N, { what: `records in the --dump of --dry-run --count ${N}`, where: path.join(dir, 'a1.ndjson') });
    const firstDiff = a1.findIndex((l, i) => l !== a2[i]);
    expectTrue(firstDiff === -1 && a1.length === a2.length, { expected: `seed ${seed} twice: byte-identical records`, received: `they differ at record ${firstDiff + 1}: ${show(a1[firstDiff]?.slice(0, 150))} vs ${show(a2[firstDiff]?.slice(0, 150))}`, where: dir, hint: 'every random draw comes from one PRNG seeded by --seed; no Date.now() or Math.random() in the records' });

    // another seed: different records, and not just a different id
    const body = (line: string, i: number, file: string): Json => {
      let v: Json;
      try {
        v = JSON.parse(line) as Json;
      } catch (err) {
        fail({ expected: 'each dumped line to be one JSON record', received: `${(err as Error).message}: ${show(line.slice(0, 200))}`, where: `${file} line ${i + 1}` });
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
    const same = A.filter((v, i) => B[i] !== undefined && noId(v) === noId(B[i]!)).length;
    expectTrue(same < N * 0.1, { expected: `seeds ${seed} and ${seed + 1}: different records (ids aside)`, received: `${same} of ${N} records identical apart from attrs.id`, where: dir, hint: 'the seed must drive every draw (level, service, message, attrs, size)' });

    // realistic: valid records, several services, weighted levels, attrs
    const services = new Set<string>();
    const levels = new Map<string, number>();
    for (let i = 0; i < A.length; i++) {
      const v = A[i]!;
      const where = `a1.ndjson line ${i + 1}: ${show(a1[i]!.slice(0, 160))}`;
      expectTrue(typeof v['ts'] === 'string' && !Number.isNaN(Date.parse(v['ts'] as string)), { expected: 'an RFC 3339 "ts"', received: show(v['ts']), where });
      expectTrue(typeof v['msg'] === 'string' && LEVELS.includes(v['level'] as string), { expected: 'a "msg" string and a "level" of trace…fatal', received: show({ level: v['level'], msg: v['msg'] }), where });
      expectTrue(typeof v['attrs'] === 'object' && v['attrs'] !== null, { expected: 'an "attrs" object', received: show(v['attrs']), where });
      if (typeof v['service'] === 'string') services.add(v['service']);
      levels.set(v['level'] as string, (levels.get(v['level'] as string) ?? 0) + 1);
    }
    const byCount = [...levels.entries()].sort((x, y) => y[1] - x[1]);
    expectTrue(services.size >= 4, { expected: 'records from several services (≥ 4)', received: show([...services]), where: 'a1.ndjson' });
    expectTrue(levels.size >= 4 && byCount[0]?.[0] === 'info', { expected: 'weighted levels: ≥ 4 of them, info the most common', received: show(Object.fromEntries(byCount)), where: 'a1.ndjson' });

    // a real run with the same seed sent exactly those records
    await stopReceiver(rx);
    const { records } = await readRecords(rx.dataDir);
    const got = ofRun(records, `s${seed}`).sort((x, y) => x.n - y.n);
    expectEqual(got.length, 2000, { what: `records persisted by \`--count 2000 --seed ${seed}\``, where: rx.dataDir });
    for (let i = 0; i < got.length; i++) {
      const want = JSON.stringify(A[got[i]!.n - 1]);
      const have = withoutRx(got[i]!.rec.record);
      if (have !== want) fail({ expected: `the persisted record ${got[i]!.n} (its _rx aside) = record ${got[i]!.n} of the --dry-run dump with the same seed: ${show(want.slice(0, 200))}`, received: show(have.slice(0, 200)), where: `${got[i]!.rec.file} line ${got[i]!.rec.lineNo}`, hint: 'a seed reproduces a run byte for byte, sent or dumped' });
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
        if (Array.isArray(c.value)) c.value.forEach((v, i) => next.push({ path: `${c.path}[${i}]`, value: v, present: true }));
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
  title: '--json writes every documented report field with its type; the done line agrees; latency percentiles are ordered',
  points: 15,
  timeoutMs: 90_000,
  async run(ctx) {
    const rx = await startReceiver(ctx);
    const { done, report } = await runLoadgen(ctx, ['--target', at(rx.port), '--count', '5000', '--connections', '2', '--verify-dir', rx.dataDir], { json: true });
    const rep = report!;
    for (const [field, type] of REPORT_FIELDS) {
      for (const f of fieldAt(rep, field)) {
        const t = typeOf(f.value);
        expectTrue(f.present && type.split('|').includes(t), { expected: `report field "${f.path}" (${type})`, received: f.present ? `${t}: ${show(f.value)}` : 'missing', where: 'the --json report', hint: 'every field the README documents is in the report, null where there is nothing to measure' });
      }
    }
    for (const k of ['sent', 'acked', 'dropped', 'lost', 'duplicated', 'achievedRate']) expectEqual(done[k], rep[k], { what: `done line "${k}" = the --json report's`, where: 'loadgen done line' });
    expectEqual(rep['sent'], 5000, { what: '"sent" with --count 5000', where: 'the --json report' });
    expectEqual(rep['connections'], 2, { what: '"connections"', where: 'the --json report' });
    const streams = rep['streams'] as Json[];
    expectEqual(streams.length, 2, { what: 'one "streams" entry per connection', where: 'the --json report' });
    expectEqual(streams.reduce((n, s) => n + Number(s['sent']), 0), 5000, { what: 'the streams\' "sent" adding up to "sent"', where: 'the --json report' });
    const lat = rep['latencyMs'] as Json;
    const order = ['p50', 'p90', 'p99', 'p999', 'max'].map((k) => lat[k] as number);
    expectTrue(order.every((v) => typeof v === 'number' && v > 0) && order.every((v, i) => i === 0 || v >= order[i - 1]!), { expected: 'ACK latency p50 ≤ p90 ≤ p99 ≤ p999 ≤ max, all > 0 ms (an ACKed lane)', received: show(lat), where: 'the --json report latencyMs', hint: 'an HDR histogram of the time from when a record was due to the ACK covering it' });
    expectEqual(lat['n'], 5000, { what: 'latencyMs.n (records measured: every ACKed one)', where: 'the --json report' });
    expectTrue((rep['peakRssMb'] as number) > 10 && (rep['cpu'] as Json)['userMs'] as number > 0, { expected: 'its own peak RSS (MB) and CPU time, measured', received: show({ peakRssMb: rep['peakRssMb'], cpu: rep['cpu'] }), where: 'the --json report' });
    await stopReceiver(rx);
  },
};

export const checks: Check[] = [d14_1, d14_2, d14_3, d14_4, d14_5];
