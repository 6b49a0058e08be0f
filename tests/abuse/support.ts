/**
 * Tools for the network abuse suite (tests/abuse/*.abuse.test.ts): receivers started as real child
 * processes through the process contract (scripts/lib/launch.ts), an RSS sampler reading
 * /proc/<pid>/status, a well-behaved LSP/1 client (HELLO → BATCH → ACK), the suite harness (abuseSuite: a
 * receiver per suite, its attacks under a good client, its stats.json counters), the attacks every receiver
 * gets, and the summary written to tests/abuse/last-run.json (git-ignored).
 */
import { mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { startProgram, type Program } from '../../scripts/lib/launch.ts';
import { encodeBatch } from '../../shared/protocol/batch.ts';
import { encodeHello, FrameDecoder, FrameType, parseNack, type Frame } from '../../shared/protocol/frame.ts';

export const HOST = '127.0.0.1';

/** Polls `cond` until it returns a truthy value or the deadline passes (never a fixed sleep). */
export async function waitFor<T>(
  what: string,
  cond: () => T | Promise<T>,
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** VmRSS of a process in bytes, or undefined when it is gone. */
export function rssOf(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Open file descriptors of a process (sockets included), or undefined when it is gone. */
export function fdsOf(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Samples a process's RSS every `everyMs` (20 ms default) and keeps the peak. */
export class RssSampler {
  peak = 0;
  last = 0;
  private readonly timer: NodeJS.Timeout;
  constructor(
    readonly pid: number,
    everyMs = 20,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }
  sample(): number {
    const r = rssOf(this.pid);
    if (r !== undefined) {
      this.last = r;
      if (r > this.peak) this.peak = r;
    }
    return this.last;
  }
  /** Starts a new window: the peak is the current RSS. */
  reset(): void {
    this.peak = 0;
    this.sample();
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

export const MiB = 1024 * 1024;
export const mib = (b: number) => Math.round((b / MiB) * 10) / 10;

export interface RunningReceiver {
  name: string;
  program: Program;
  pid: number;
  port: number;
  ports: Record<string, number | null>;
  dataDir: string;
  rss: RssSampler;
  stderr: string[];
  stop(): Promise<{ exitCode: number | undefined; signal: string | undefined }>;
}

/** Starts `file` with a fresh data dir and --port 0; resolves once it printed its ready line. */
export async function startReceiver(name: string, file: string, args: string[] = []): Promise<RunningReceiver> {
  const dataDir = await mkdtemp(join(tmpdir(), `ls-abuse-${name}-`));
  const stderr: string[] = [];
  const program = startProgram({
    name,
    file,
    args: ['--host', HOST, '--data-dir', dataDir, ...(args.includes('--port') ? [] : ['--port', '0']), ...args],
    env: { LOGSTREAM_LOG: 'warn' },
    onLog: (line, stream) => {
      if (stream === 'stderr') {
        stderr.push(line);
        if (stderr.length > 200) stderr.shift();
      }
    },
    readyTimeoutMs: 30_000,
  });
  // A receiver runs in its own process group (detached): make sure it does not outlive this test file.
  const reap = (): void => {
    if (alive(program.pid)) process.kill(program.pid, 'SIGKILL');
  };
  process.once('exit', reap);
  const ready = await program.ready.catch((err: unknown) => {
    reap();
    throw err;
  });
  const rss = new RssSampler(program.pid);
  return {
    name,
    program,
    pid: program.pid,
    port: ready.port,
    ports: (ready['ports'] as Record<string, number | null> | undefined) ?? { tcp: ready.port },
    dataDir,
    rss,
    stderr,
    async stop() {
      rss.stop();
      const r = await program.stop('SIGTERM');
      process.off('exit', reap);
      await rm(dataDir, { recursive: true, force: true });
      return r;
    },
  };
}

/** A socket that ignores errors (abuse clients get reset a lot), connected. */
export function rawConnect(port: number, host = HOST): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    s.on('error', () => {});
    s.once('connect', () => resolve(s));
    s.once('close', () => reject(new Error(`connection to ${host}:${port} closed before connect`)));
  });
}

/** Resolves when the socket closes (at once if it already has). */
export function closed(s: net.Socket): Promise<void> {
  if (s.destroyed && s.closed) return Promise.resolve();
  return new Promise((r) => s.once('close', () => r()));
}

/** An LSP/1 session on a socket: frames received, with waits on them. */
export class LspSession {
  readonly frames: Frame[] = [];
  private readonly decoder = new FrameDecoder();
  private waiters: Array<() => void> = [];
  closed = false;
  constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => {
      try {
        this.decoder.push(c, this.frames);
      } catch {
        socket.destroy();
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }
  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  /** Waits until `pred` holds on the frames so far (or the socket closes: then returns what is there). */
  async until(pred: (frames: Frame[]) => boolean, timeoutMs = 10_000): Promise<Frame[]> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.frames)) {
      if (this.closed) return this.frames;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `no matching frame within ${timeoutMs} ms (got ${this.frames.map((f) => FrameType[f.type]).join(',') || 'nothing'})`,
        );
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.frames;
  }
  /** The NACK code, once the receiver sent one and closed. */
  async nackCode(timeoutMs = 10_000): Promise<string | undefined> {
    await this.until((fs) => fs.some((f) => f.type === FrameType.NACK), timeoutMs).catch(() => undefined);
    const nack = this.frames.find((f) => f.type === FrameType.NACK);
    return nack ? parseNack(nack).code : undefined;
  }
}

export function record(i: number, extra = ''): string {
  return `{"ts":"2026-11-26T14:13:48.${String(i % 1000).padStart(3, '0')}Z","level":"info","service":"good-client","msg":"good record ${i}${extra}"}`;
}

/** Counts persisted records of a stream (COURSE.md (what a receiver writes): *.ndjson lines with _rx.stream). */
export function persistedOfStream(dataDir: string, stream: number): Promise<number> {
  return persistedWith(dataDir, `"stream":${stream},`);
}

export async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

// ---- the run summary -----------------------------------------------------------------------------

export interface AttackResult {
  receiver: string;
  attack: string;
  /** RSS when the attack started, and the peak while it ran and the good client ran (MiB) */
  rssBeforeMiB: number;
  rssPeakMiB: number;
  receiverUp: boolean;
  goodClientOk: boolean;
  ms: number;
  detail?: Record<string, unknown>;
}

/** RSS growth allowed during one attack, over the RSS before it (every attack here stays far below it). */
export const RSS_BUDGET = 160 * MiB;

/**
 * Records one attack's outcome in `results` and asserts what every attack must leave: the receiver up,
 * the good client served, and the peak RSS within `budget` of the RSS before the attack.
 */
export function settleAttack(
  results: AttackResult[],
  rx: RunningReceiver,
  a: {
    attack: string;
    t0: number;
    rssBefore: number;
    goodClientOk: boolean;
    detail: Record<string, unknown>;
    budget?: number;
  },
): AttackResult {
  rx.rss.sample();
  const result: AttackResult = {
    receiver: rx.name,
    attack: a.attack,
    rssBeforeMiB: mib(a.rssBefore),
    rssPeakMiB: mib(rx.rss.peak),
    receiverUp: alive(rx.pid),
    goodClientOk: a.goodClientOk,
    ms: Date.now() - a.t0,
    detail: a.detail,
  };
  results.push(result);
  expect(result.receiverUp, `${rx.name} is still running`).toBe(true);
  expect(result.goodClientOk, 'the good client on another connection was served').toBe(true);
  expect(rx.rss.peak - a.rssBefore, `peak RSS ${mib(rx.rss.peak)} MiB vs ${mib(a.rssBefore)} MiB before`).toBeLessThan(
    a.budget ?? RSS_BUDGET,
  );
  return result;
}

export const SUMMARY_FILE = new URL('./last-run.json', import.meta.url).pathname;

/** Merges this file's results into last-run.json (write to a temp file, then rename). */
export async function writeSummary(
  suite: string,
  results: AttackResult[],
  extra: Record<string, unknown> = {},
): Promise<void> {
  const prev = (await readJson(SUMMARY_FILE)) ?? {};
  const suites = (prev['suites'] as Record<string, unknown> | undefined) ?? {};
  suites[suite] = { at: new Date().toISOString(), results, ...extra };
  const out = { updatedAt: new Date().toISOString(), suites };
  const tmp = `${SUMMARY_FILE}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(out, null, 2)}\n`);
  await rename(tmp, SUMMARY_FILE);
  for (const r of results) {
    console.log(
      `[abuse ${suite}] ${r.receiver} · ${r.attack}: RSS ${r.rssBeforeMiB} → peak ${r.rssPeakMiB} MiB, up=${r.receiverUp}, good client ok=${r.goodClientOk}, ${r.ms} ms${r.detail ? ` ${JSON.stringify(r.detail)}` : ''}`,
    );
  }
}

/** A good client whose connection is opened (and HELLO ACKed) before an attack starts. */
export class GoodLspSession {
  private seq = 0;
  private constructor(
    readonly session: LspSession,
    readonly stream: number,
  ) {}

  static async open(port: number, opts: { stream?: number; tls?: { ca: Buffer } } = {}): Promise<GoodLspSession> {
    const stream = opts.stream ?? 1 + Math.floor(Math.random() * 1_000_000);
    const socket = opts.tls
      ? await new Promise<net.Socket>((resolve, reject) => {
          const s = tls.connect({ host: HOST, port, ca: opts.tls!.ca, servername: 'localhost' });
          s.once('secureConnect', () => resolve(s));
          s.once('error', reject);
        })
      : await rawConnect(port);
    const session = new LspSession(socket);
    socket.write(encodeHello(stream, { name: 'abuse-good-client' }));
    const [hello] = await session.until((fs) => fs.length > 0, 15_000);
    if (hello?.type !== FrameType.ACK)
      throw new Error(`HELLO answered with ${hello ? FrameType[hello.type] : 'nothing'}`);
    const g = new GoodLspSession(session, stream);
    g.seq = hello.seq;
    return g;
  }

  /** Sends `batches` × `perBatch` records and waits for the ACK of the last one. */
  async ship(batches = 3, perBatch = 100, codec = 0, timeoutMs = 15_000): Promise<number> {
    const socket = this.session.socket;
    for (let b = 0; b < batches; b++) {
      const first = this.seq + 1;
      socket.write(
        encodeBatch({
          stream: this.stream,
          seq: first,
          records: Array.from({ length: perBatch }, (_, i) => record(first + i)),
          codec,
        }),
      );
      this.seq += perBatch;
    }
    const last = this.seq;
    await this.session.until(
      (fs) => fs.some((f) => f.type === FrameType.ACK && f.stream === this.stream && f.seq >= last),
      timeoutMs,
    );
    if (this.session.closed) throw new Error('the good client was disconnected');
    return last;
  }

  close(): void {
    this.session.socket.destroy();
  }
}

// ---- one attack: a good client served while it runs -----------------------------------------------

/** `--max-connections N --idle-timeout-ms N` (and the handshake timeout of the TLS ports), as receiver args. */
export function limitArgs(l: { maxConnections: number; idleMs: number; handshakeMs?: number }): string[] {
  return [
    '--max-connections',
    String(l.maxConnections),
    '--idle-timeout-ms',
    String(l.idleMs),
    ...(l.handshakeMs === undefined ? [] : ['--handshake-timeout-ms', String(l.handshakeMs)]),
  ];
}

/**
 * The well-behaved client of one attack (opened before it starts): it keeps delivering while the attack
 * runs; `stop` ends the traffic, `finish` resolves once what it sent is persisted (ok) or not (after a wait).
 */
export interface GoodClient {
  stop(): void;
  finish(): Promise<{ ok: boolean; detail: Record<string, unknown> }>;
  close(): void;
}

/**
 * Calls `round` back to back until stopped: the traffic of a client that waits for its own ACKs (no
 * timer). `done` resolves after the round running when `stop` was called.
 */
export function roundsUntilStopped(round: () => Promise<void>): { stop: () => void; done: Promise<void> } {
  let going = true;
  const done = (async () => {
    do await round();
    while (going);
  })();
  done.catch(() => {}); // awaited by finish(); this only keeps an attack failure from leaving it unhandled
  return { stop: () => (going = false), done };
}

/** A GoodLspSession shipping 50-record batches, each ACKed, for as long as the attack runs, then once more. */
export async function goodLspClient(rx: RunningReceiver, tlsCa?: Buffer): Promise<GoodClient> {
  const good = await GoodLspSession.open(rx.port, tlsCa ? { tls: { ca: tlsCa } } : {});
  let acked = 0;
  const rounds = roundsUntilStopped(async () => {
    acked = await good.ship(1, 50);
  });
  return {
    stop: rounds.stop,
    async finish() {
      await rounds.done;
      acked = await good.ship(1, 50);
      const ok = await waitFor(
        'good records persisted',
        async () => (await persistedOfStream(rx.dataDir, good.stream)) >= acked,
        10_000,
      );
      return { ok, detail: { goodRecordsAcked: acked } };
    },
    close: () => good.close(),
  };
}

/**
 * Runs `attackFn` while `good` delivers on another connection, then records the outcome with
 * settleAttack (receiver up, good client served, peak RSS within budget).
 */
export async function underAttack(
  results: AttackResult[],
  rx: RunningReceiver,
  attack: string,
  good: GoodClient,
  attackFn: () => Promise<Record<string, unknown> | void>,
  opts: { budget?: number } = {},
): Promise<AttackResult> {
  const t0 = Date.now();
  rx.rss.reset();
  const before = rx.rss.last;
  let detail: Record<string, unknown> | undefined;
  let outcome: Awaited<ReturnType<GoodClient['finish']>>;
  try {
    try {
      detail = (await attackFn()) ?? undefined;
    } finally {
      good.stop();
    }
    outcome = await good.finish();
  } finally {
    good.close();
  }
  return settleAttack(results, rx, {
    attack,
    t0,
    rssBefore: before,
    goodClientOk: outcome.ok,
    detail: { ...detail, ...outcome.detail },
    ...(opts.budget ? { budget: opts.budget } : {}),
  });
}

/** Opens up to `n` raw connections, 100 at a time (the ones refused are left out). */
export async function openMany(n: number, port: number): Promise<net.Socket[]> {
  const out: net.Socket[] = [];
  for (let i = 0; i < n; i += 100) {
    const batch = await Promise.allSettled(Array.from({ length: Math.min(100, n - i) }, () => rawConnect(port)));
    for (const r of batch) if (r.status === 'fulfilled') out.push(r.value);
  }
  return out;
}

/** Persisted lines (*.ndjson but the rejects) that contain `marker`. */
export async function persistedWith(dataDir: string, marker: string): Promise<number> {
  let n = 0;
  for (const f of await readdir(dataDir)) {
    if (!f.endsWith('.ndjson') || f === 'rejects.ndjson') continue;
    for (const line of (await readFile(join(dataDir, f), 'utf8')).split('\n')) if (line.includes(marker)) n++;
  }
  return n;
}

/** A fresh marker for the good client's records, so they are told apart from everything else on disk. */
export const goodMarker = (): string => `good-${Math.random().toString(36).slice(2)}`;

// ---- one suite: its receiver, its attacks, its summary ----------------------------------------------

/** The limits of an abuse suite's receiver unless it sets its own: low enough to reach within a test. */
export const ABUSE_LIMITS = { maxConnections: 300, idleMs: 1500 };

/** One abuse suite (abuseSuite): the receiver it attacks and what it measured. */
export interface AbuseSuite {
  /** the receiver, once the suite's beforeAll has started it */
  readonly rx: RunningReceiver;
  readonly results: AttackResult[];
  /** One attack while the suite's good client keeps delivering on another connection (underAttack). */
  attacked(
    attack: string,
    attackFn: () => Promise<Record<string, unknown> | void>,
    opts?: { budget?: number },
  ): Promise<AttackResult>;
  /** The receiver's stats.json as last written (undefined before the first write). */
  stats(): Promise<Record<string, unknown> | undefined>;
  /**
   * Rejects as stats.json counts them (records.rejected, and by reason): every one, whereas rejects.ndjson
   * holds a sample (--rejects-per-second).
   */
  rejects(): Promise<{ total: number; byReason: Record<string, number> }>;
  /** Waits until stats.json counts `n` open connections (the good client's once an attack's are gone). */
  untilOpen(n: number): Promise<void>;
}

/**
 * Registers one abuse suite: its receiver starts before its tests (startReceiver; its arguments are `limits`,
 * default ABUSE_LIMITS, then `args()`, read at start); after them it is stopped and the results go to
 * last-run.json under `suite`, with its exit and the stats.json sections named in `keep`. Each attack's good
 * client comes from `good`.
 */
export function abuseSuite(spec: {
  suite: string;
  receiver: { name: string; file: string; limits?: Parameters<typeof limitArgs>[0]; args?: () => string[] };
  good: (rx: RunningReceiver) => GoodClient | Promise<GoodClient>;
  keep: string[];
}): AbuseSuite {
  let started: RunningReceiver | undefined;
  const results: AttackResult[] = [];
  beforeAll(async () => {
    const { name, file, limits, args } = spec.receiver;
    started = await startReceiver(name, file, [...limitArgs(limits ?? ABUSE_LIMITS), ...(args?.() ?? [])]);
  }, 60_000);
  afterAll(async () => {
    if (!started) return;
    const stats = await readJson(`${started.dataDir}/stats.json`);
    const exit = await started.stop();
    await writeSummary(spec.suite, results, {
      exit,
      ...Object.fromEntries(spec.keep.map((k) => [k, stats?.[k] ?? null])),
    });
  });
  const suite: AbuseSuite = {
    get rx() {
      if (!started) throw new Error(`abuse suite ${spec.suite}: its receiver is not running`);
      return started;
    },
    results,
    attacked: async (attack, attackFn, opts = {}) =>
      underAttack(results, suite.rx, attack, await spec.good(suite.rx), attackFn, opts),
    stats: () => readJson(`${suite.rx.dataDir}/stats.json`),
    async rejects() {
      const stats = await suite.stats();
      const total = (stats?.['records'] as { rejected?: number } | undefined)?.rejected ?? 0;
      return { total, byReason: (stats?.['rejects'] as Record<string, number> | undefined) ?? {} };
    },
    async untilOpen(n) {
      await waitFor(
        `connections.open back to ${n}`,
        async () => ((await suite.stats())?.['connections'] as { open?: number } | undefined)?.open === n,
      );
    },
  };
  return suite;
}

// ---- attacks every receiver gets ---------------------------------------------------------------------

/** Slowloris: `n` connections each sent one more byte (`byte(i)`, the i-th) every 100 ms, until all are cut. */
export async function slowloris(
  port: number,
  n: number,
  byte: (i: number) => string | Buffer,
): Promise<Record<string, unknown>> {
  const socks = await openMany(n, port);
  let i = 0;
  const timer = setInterval(() => {
    const b = byte(i++);
    for (const s of socks) if (!s.destroyed) s.write(b);
  }, 100);
  try {
    const t0 = Date.now();
    await Promise.all(socks.map(closed)); // all cut by the idle timeout, though bytes kept coming
    return { connections: socks.length, cutAfterMs: Date.now() - t0, bytesEach: i };
  } finally {
    clearInterval(timer);
  }
}

/** `n` idle connections against a limit of `limit`: at most `limit` held, the rest refused at once. */
export async function idleFlood(port: number, n: number, limit: number): Promise<Record<string, unknown>> {
  const socks = await openMany(n, port);
  // the refused ones are closed by the receiver at once, the held ones by its idle timeout
  const heldAtMost = await waitFor('refusals', () => {
    const open = socks.filter((s) => !s.destroyed).length;
    return open <= limit ? open : 0;
  });
  await Promise.all(socks.map(closed));
  return { attempted: socks.length, heldAtMost };
}

/** 2 000 connections, 100 at a time, reset at once; every second one after sending `partial` (half a message). */
export async function resetStorm(port: number, partial: string | Buffer): Promise<Record<string, unknown>> {
  let resets = 0;
  for (let round = 0; round < 20; round++) {
    const socks = await openMany(100, port);
    for (const [i, s] of socks.entries()) {
      if (i % 2) s.write(partial);
      s.resetAndDestroy();
    }
    resets += socks.length;
  }
  return { resets };
}
