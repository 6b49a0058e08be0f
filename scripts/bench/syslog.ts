/**
 * Benchmark scenario: the syslog lane's TCP input against rsyslog (imptcp → omfile) on identical input —
 * ~1M pre-generated, seeded RFC 5424 messages with structured data, octet-counted (RFC 6587), sent over
 * one loopback TCP connection as fast as the server reads.
 *
 * Every contender is timed the same way: from connect until the last byte of its output is written, once
 * the output files hold one line per message (which is also the delivery check; see sendAndCount). rsyslog runs in the foreground from a config
 * in a temp dir and is stopped by its pid.
 *
 *   rsyslog imptcp → omfile             rsyslog's default file format (RSYSLOG_FileFormat): the baseline
 *   rsyslog imptcp → omfile (JSON)      a JSON template (option.jsonf) — output work closer to ours
 *   syslog lane (TCP, defaults)         lessons/stack/syslog-receiver.ts as it starts without flags: parse, map
 *                                       to an LSP/1 record, _rx; --parse-threads auto (1 worker on 2+ cores)
 *   syslog lane inline                  the same parsed on the main thread (--parse-threads 0), records written
 *                                       straight into the buffer the file write takes
 *
 * See NOTES below for what is the same for every contender and what is not (output format, fsync).
 * To profile the lane under this load: laneContender(name, [], ['--cpu-prof']) (see its doc).
 *
 * Registered in scripts/bench/scenarios.ts as `syslog`: `npm run bench -- syslog`.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../shared/free-port.ts';
import { autoParseThreads } from '../../shared/parse-pool.ts';
import { rsyslogVersion, startRsyslog } from '../../tests/support/rsyslog-peer.ts';
import { waitDrain } from '../../shared/net.ts';
import { seededRandom } from '../../shared/random.ts';
import { startProgram } from '../lib/launch.ts';
import { peakRssExtra, RSS_FIGURE } from './rss.ts';
import type { BenchContext, Contender, RunResult, Scenario } from './types.ts';
import { readyToTime, warmFreeMemory } from './warm-memory.ts';

const HOSTS = Array.from({ length: 16 }, (_, i) => `web-${String(i + 1).padStart(2, '0')}`);
const APPS = ['checkout', 'payments', 'search', 'auth', 'inventory', 'shipping', 'gateway', 'recommendations'];
const MSGIDS = ['REQ', 'REQ', 'REQ', 'AUDIT', 'DB', '-'];
const VERBS = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'];
const PATHS = ['/api/orders', '/api/cart', '/api/users', '/api/search', '/api/items', '/health', '/api/payments'];
const STATUS = ['200', '200', '200', '200', '201', '204', '304', '400', '404', '500'];
/** severities weighted like the record generator's levels: mostly info */
const SEVERITY_TABLE = [6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 5, 4, 4, 3, 2];

/**
 * `n` octet-counted RFC 5424 messages (seeded: the same seed gives the same bytes), joined into ~1 MiB
 * chunks. A message is ~170 bytes, e.g.
 * `<134>1 2026-11-26T00:00:00.000100Z web-03 checkout 4242 REQ [req@32473 id="s7-1" user="4711" region="eu-west-1"] GET /api/orders/17 200 12ms`
 */
export function syslogCorpus(n: number, seed = 7, chunkBytes = 1 << 20): { chunks: Buffer[]; bytes: number } {
  const r = seededRandom(seed);
  const base = Date.UTC(2026, 10, 26);
  const regions = ['eu-west-1', 'eu-central-1', 'us-east-1', 'us-west-2', 'ap-south-1'];
  const chunks: Buffer[] = [];
  let parts: string[] = [];
  let size = 0;
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const pri = (16 + r.int(8)) * 8 + SEVERITY_TABLE[r.int(SEVERITY_TABLE.length)]!;
    const ts = new Date(base + Math.floor(i / 10)).toISOString().slice(0, 23) + String(i % 10).padStart(3, '0') + 'Z';
    const latency = 1 + r.int(250);
    const msg = `<${pri}>1 ${ts} ${r.pick(HOSTS)} ${r.pick(APPS)} ${1000 + r.int(30_000)} ${r.pick(MSGIDS)} [req@32473 id="s${seed}-${i + 1}" user="${r.int(100_000)}" region="${r.pick(regions)}"] ${r.pick(VERBS)} ${r.pick(PATHS)}/${r.int(10_000)} ${r.pick(STATUS)} ${latency}ms`;
    const framed = `${msg.length} ${msg}`; // ASCII only: length in characters = bytes
    parts.push(framed);
    size += framed.length;
    if (size >= chunkBytes) {
      chunks.push(Buffer.from(parts.join(''), 'latin1'));
      bytes += size;
      parts = [];
      size = 0;
    }
  }
  if (parts.length) {
    chunks.push(Buffer.from(parts.join(''), 'latin1'));
    bytes += size;
  }
  return { chunks, bytes };
}

/** Counts LF-terminated lines in the files of `dir` matching `pattern`, incrementally as they grow. */
class LineCounter {
  private readonly offsets = new Map<string, number>();
  private readonly buf = Buffer.allocUnsafe(4 << 20);
  lines = 0;
  constructor(
    private readonly dir: string,
    private readonly pattern: RegExp,
  ) {}

  poll(): number {
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((n) => this.pattern.test(n));
    } catch {
      return this.lines;
    }
    for (const name of names) {
      let pos = this.offsets.get(name) ?? 0;
      let fd: number;
      try {
        fd = openSync(join(this.dir, name), 'r');
      } catch {
        continue; // rotated away between readdir and open: its lines were counted already
      }
      try {
        for (;;) {
          const n = readSync(fd, this.buf, 0, this.buf.length, pos);
          if (n === 0) break;
          // count only up to the last LF: a half-written line is counted next time
          const view = this.buf.subarray(0, n);
          const lastLf = view.lastIndexOf(0x0a);
          if (lastLf < 0) break;
          for (let i = view.indexOf(0x0a); i !== -1 && i <= lastLf; i = view.indexOf(0x0a, i + 1)) this.lines++;
          pos += lastLf + 1;
        }
      } finally {
        closeSync(fd);
      }
      this.offsets.set(name, pos);
    }
    return this.lines;
  }
}

/** Total size of the files in `dir` matching `pattern` (a cheap stat, polled while the output grows). */
function outputBytes(dir: string, pattern: RegExp): number {
  let total = 0;
  try {
    for (const name of readdirSync(dir)) {
      if (!pattern.test(name)) continue;
      try {
        total += statSync(join(dir, name)).size;
      } catch {
        // rotated away between readdir and stat
      }
    }
  } catch {
    return 0;
  }
  return total;
}

/** How long the output must stop growing before its lines are counted (never part of the time). */
const QUIET_MS = 100;

/**
 * Sends the chunks over one connection (respecting backpressure) and half-closes. The run ends when the
 * output holds `expected` lines: the output's size is polled (a stat every 5 ms, cheap); once it has
 * stopped growing for QUIET_MS its lines are counted, and when they are all there the time is taken at
 * the LAST GROWTH — so the quiet wait and the counting cost no contender anything, and neither server
 * has to tell us it is done (rsyslog cannot).
 */
export async function sendAndCount(
  port: number,
  chunks: readonly Buffer[],
  dir: string,
  pattern: RegExp,
  expected: number,
  timeoutMs = 300_000,
): Promise<{ ms: number; bytes: number }> {
  const counter = new LineCounter(dir, pattern);
  const t0 = performance.now();
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((res, rej) => socket.once('connect', res).once('error', rej));
  socket.on('error', () => {});
  let bytes = 0;
  for (const c of chunks) {
    bytes += c.length;
    if (!socket.write(c)) await waitDrain(socket);
  }
  socket.end();
  const deadline = t0 + timeoutMs;
  let size = -1;
  let grewAt = performance.now();
  let countedAt = -1;
  for (;;) {
    const now = performance.now();
    const s = outputBytes(dir, pattern);
    if (s !== size) {
      size = s;
      grewAt = now;
    } else if (now - grewAt >= QUIET_MS && countedAt !== size) {
      countedAt = size;
      if (counter.poll() >= expected) break;
    }
    if (now > deadline) throw new Error(`only ${counter.poll()} of ${expected} lines arrived within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
  socket.destroy();
  if (counter.lines !== expected) throw new Error(`${counter.lines} lines for ${expected} messages`);
  return { ms: grewAt - t0, bytes };
}

let clockTicks: number | undefined;
/** CPU time (user + system, all threads) a process has used so far, in ms; undefined where /proc is missing. */
function cpuMsOf(pid: number): number | undefined {
  try {
    clockTicks ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[11] = utime, fields[12] = stime (the 14th and 15th of the whole line)
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
  } catch {
    return undefined;
  }
}

/**
 * A run's result with the server's CPU time for it (a figure that shared machines disturb less than wall time)
 * and its peak RSS (`rss`: rss.ts peakRssExtra, read before the server is stopped).
 */
function result(
  ctx: BenchContext,
  r: { ms: number; bytes: number },
  cpuMs: number | undefined,
  rss: Record<string, number>,
): RunResult {
  if (cpuMs === undefined) return { records: ctx.records, bytes: r.bytes, ms: r.ms, extra: rss };
  const perCpuSec = Math.round(ctx.records / (cpuMs / 1000));
  return {
    records: ctx.records,
    bytes: r.bytes,
    ms: r.ms,
    note: `server cpu ${Math.round(cpuMs)} ms = ${perCpuSec.toLocaleString('en-US')} msg per cpu-s`,
    extra: { serverCpuMs: Math.round(cpuMs), msgPerCpuSec: perCpuSec, ...rss },
  };
}

const corpora = new WeakMap<BenchContext, { chunks: Buffer[] }>();

function setup(opts: { records: number }): BenchContext {
  // The rsyslog version goes into the notes (asked here, not when the scenario list is imported).
  syslogScenario.notes = `${rsyslogVersion() ?? 'rsyslogd not installed'}. ${NOTES}`;
  const { chunks, bytes } = syslogCorpus(opts.records);
  const ctx: BenchContext = { records: opts.records, recordBytes: Math.round(bytes / opts.records), chunks };
  corpora.set(ctx, { chunks });
  return ctx;
}

/** The syslog lane as a contender; `nodeArgs` e.g. ['--cpu-prof'] to profile it under the benchmark's load. */
export function laneContender(name: string, extra: string[], nodeArgs?: string[]): Contender {
  return {
    name,
    async run(ctx): Promise<RunResult> {
      const dir = await mkdtemp(join(os.tmpdir(), 'logstream-bench-syslog-'));
      const p = startProgram({
        name: 'syslog receiver',
        file: 'lessons/stack/syslog-receiver.ts',
        ...(nodeArgs ? { nodeArgs } : {}),
        args: [
          '--tcp-port',
          '0',
          '--udp-port',
          'off',
          '--tls-port',
          'off',
          '--data-dir',
          dir,
          '--fsync',
          'interval',
          ...extra,
        ],
      });
      try {
        const ready = await readyToTime(p);
        const ports = ready['ports'] as { tcp: number };
        const cpu0 = cpuMsOf(p.pid);
        const r = await sendAndCount(ports.tcp, ctx.chunks, dir, /^records-\d+\.ndjson$/, ctx.records);
        const cpu1 = cpuMsOf(p.pid);
        const cpuMs = cpu0 === undefined || cpu1 === undefined ? undefined : cpu1 - cpu0;
        return result(ctx, r, cpuMs, peakRssExtra(p.pid));
      } finally {
        await p.stop();
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

const JSON_TEMPLATE = `template(name="json" type="list" option.jsonf="on") {
  property(outname="ts" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="severity" name="syslogseverity-text" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
  property(outname="service" name="app-name" format="jsonf")
  property(outname="host" name="hostname" format="jsonf")
  property(outname="facility" name="syslogfacility-text" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="sd" name="structured-data" format="jsonf")
}`;

function rsyslogContender(name: string, template: string | undefined): Contender {
  return {
    name,
    async run(ctx): Promise<RunResult> {
      const dir = await mkdtemp(join(os.tmpdir(), 'logstream-bench-rsyslog-'));
      const port = await freePort();
      const out = join(dir, 'out.log');
      const rs = await startRsyslog({
        dir,
        readyPort: port,
        config: [
          'module(load="imptcp")',
          `input(type="imptcp" port="${port}" address="127.0.0.1" ruleset="bench")`,
          template ?? '',
          `ruleset(name="bench") { action(type="omfile" file="${out}"${template ? ' template="json"' : ''}) }`,
        ].join('\n'),
      });
      try {
        warmFreeMemory();
        const cpu0 = cpuMsOf(rs.pid);
        const r = await sendAndCount(port, ctx.chunks, dir, /^out\.log$/, ctx.records);
        const cpu1 = cpuMsOf(rs.pid);
        const cpuMs = cpu0 === undefined || cpu1 === undefined ? undefined : cpu1 - cpu0;
        return result(ctx, r, cpuMs, peakRssExtra(rs.pid));
      } finally {
        await rs.stop();
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

const NOTES = [
  'Fairness: every contender gets the same bytes (one seeded corpus of octet-counted RFC 5424 messages with structured data, built once per run and sent as the same ~1 MiB writes over one loopback TCP connection) and persists every message to a file in a fresh temp dir on the same filesystem.',
  'Each row times connect → the last growth of the output files, which must then hold exactly one line per message (the delivery check).',
  "The note of each run gives the server process's CPU time (all threads) for the run, and messages per CPU-second: on a shared machine that figure moves far less than wall time; compare ratios within one run.",
  'Output differs: rsyslog writes its default text format (RSYSLOG_FileFormat, ~0.5× the input bytes) or a flat JSON template (option.jsonf, structured data left as one string); the lane writes full LSP/1 records (SD parsed into attrs.sd, _rx added), ~2.5× the input bytes.',
  'Every contender, once its server is ready, starts its clock right after the bench wrote and removed a 512 MiB scratch file (warm-memory.ts: on this kind of VM memory left free for ~2 s goes back to the host, and writing into it again cost a contender that started slower up to 1 s per run).',
  "Server peak RSS (second table): the VmHWM of the server process (rsyslogd, or the lane's node process with its parse worker) read from /proc at the end of each run, before it is stopped; median over the runs.",
  "Durability differs in rsyslog's favour: omfile does not fsync by default; the lane runs --fsync interval (an fsync every 100 ms).",
  `rsyslog spreads the work over threads (imptcp input, queue worker, omfile); the lane by default parses on a worker thread where there is a second core (--parse-threads auto = ${autoParseThreads()} here: the main thread then only reads the socket and writes the file), or on its main thread with --parse-threads 0.`,
].join(' ');

export const syslogScenario: Scenario = {
  title: 'syslog lane vs rsyslog on identical octet-counted RFC 5424 over TCP (imptcp → omfile)',
  baseline: 'rsyslog imptcp → omfile',
  setup,
  figures: RSS_FIGURE,
  contenders: [
    rsyslogContender('rsyslog imptcp → omfile', undefined),
    rsyslogContender('rsyslog imptcp → omfile (JSON)', JSON_TEMPLATE),
    // The first row is the lane as it starts without flags (issue 21.1: judged with its defaults); the
    // summary (summary.ts) takes it by its name's prefix.
    laneContender('syslog lane (TCP, defaults)', []),
    laneContender('syslog lane inline (--parse-threads 0)', ['--parse-threads', '0']),
  ],
  notes: NOTES,
};
