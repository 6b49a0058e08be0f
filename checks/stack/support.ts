// What several of stack's checks use (split out of checks/stack.ts, issue 22).
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { findProgram } from '../../tests/support/rsyslog-peer.ts';
import { LANE_TABLE, laneAvailable } from '../../shared/lanes.ts';
import { CheckFailure, fail, show, waitFor } from '../harness/assert.ts';
import { readRecords, type PersistedRecord } from '../harness/persisted.ts';
import { cleanEnv, tail } from '../harness/process.ts';
import type { CheckContext } from '../harness/types.ts';

/** [stack.1] the stated bound: every lane's ready line within this, on a busy 2-core machine. */
export const STACK_READY_MS = 60_000;

/** [stack.6] a lane whose process is gone shows as down on the dashboard API within this. */
export const DOWN_WITHIN_MS = 5_000;

/** how long a record may take from the socket to the data dir (receivers flush at least every second) */
export const PERSIST_MS = 10_000;

export const HOST = os.hostname();

export const SHORT_HOST = HOST.split('.')[0]!;

export interface LaneInfo {
  id: string;
  host: string;
  port: number;
  ports?: { udp: number | null; tcp: number | null; tls: number | null };
  dataDir: string;
  pid: number;
  transport: string;
}

export interface Stack {
  lanes: Record<string, LaneInfo>;
  /** the dashboard's base URL (ends in /), when it runs */
  dashboard?: string;
  certsDir: string;
  pid: number;
  events: Array<Record<string, unknown>>;
  readyMs: number;
  exited(): boolean;
  stderr(): string;
  /** SIGTERM, then the exit (SIGKILL of everything after `timeoutMs`) */
  stop(timeoutMs?: number): Promise<{ exitCode: number | null; signal: string | null; ms: number }>;
}

export interface StackOptions {
  lanes: readonly string[];
  dashboard?: boolean;
  /** merged over the test config (lanes.<id>.receiverArgs and the like) */
  config?: Record<string, unknown>;
}

export const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

export const kill = (pid: number, sig: NodeJS.Signals) => {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
};

/** The lanes this checkout can run (a day still being written is skipped by the launcher too). */
export function availableLanes(lessonsRoot: string): string[] {
  return LANE_TABLE.filter((l) => laneAvailable(l, lessonsRoot)).map((l) => l.id);
}

export async function startStack(ctx: CheckContext, opts: StackOptions): Promise<Stack> {
  const dir = await ctx.tmp();
  const certsDir = path.join(dir, 'certs');
  const lanesCfg: Record<string, unknown> = {};
  for (const id of opts.lanes)
    lanesCfg[id] = {
      enabled: true,
      port: 0,
      ...(id === 'syslog' ? { tlsPort: 0 } : {}),
      ...((opts.config?.lanes as Record<string, object> | undefined)?.[id] ?? {}),
    };
  const config = {
    dataDir: path.join(dir, 'data'),
    certsDir,
    readyTimeoutMs: STACK_READY_MS,
    dashboard: { enabled: opts.dashboard ?? false, port: 0, refreshMs: 250, staleMs: 3000 },
    demo: { enabled: false },
    lanes: lanesCfg,
  };
  const configFile = path.join(dir, 'stack-test.json');
  await writeFile(configFile, `${JSON.stringify(config, null, 2)}\n`);
  await mkdir(config.dataDir, { recursive: true });
  const args = [
    '--config',
    configFile,
    '--lessons-root',
    path.dirname(ctx.lessonDir),
    '--lanes',
    opts.lanes.join(','),
    '--any-ports',
    '--no-demo',
  ];
  ctx.log(`npx tsx scripts/stack.ts ${args.join(' ')}`);
  const t0 = Date.now();
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(ctx.repoRoot, 'scripts/stack.ts'), ...args],
    {
      cwd: ctx.repoRoot,
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const pid = child.pid!;
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.length > 256 << 10) stderr = stderr.slice(-128 << 10);
  });
  const events: Array<Record<string, unknown>> = [];
  let exitInfo: { exitCode: number | null; signal: string | null; at: number } | undefined;
  const exited = new Promise<NonNullable<typeof exitInfo>>((resolve) =>
    child.once('exit', (code, signal) => resolve((exitInfo = { exitCode: code, signal, at: Date.now() }))),
  );
  let lanePids: number[] = [];
  // Whatever happens to the check (a failure, its timeout), nothing it started outlives it.
  const hardStop = () => {
    if (exitInfo) return; // stopped cleanly: its lanes are gone with it
    kill(pid, 'SIGTERM');
    setTimeout(() => {
      if (exitInfo) return;
      kill(pid, 'SIGKILL');
      for (const p of lanePids) kill(p, 'SIGKILL');
    }, 6000).unref();
  };
  ctx.signal.addEventListener('abort', hardStop, { once: true });
  const stop = async (timeoutMs = 10_000) => {
    const at = Date.now();
    if (!exitInfo) kill(pid, 'SIGTERM');
    const t = setTimeout(() => {
      kill(pid, 'SIGKILL');
      for (const p of lanePids) kill(p, 'SIGKILL');
    }, timeoutMs);
    const e = await exited;
    clearTimeout(t);
    return { exitCode: e.exitCode, signal: e.signal, ms: Math.max(0, e.at - at) };
  };
  stacks.get(ctx)?.push(stop);

  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new CheckFailure({
            expected: `the stack's ready line (every lane up) within ${STACK_READY_MS} ms`,
            received: `no ready line after ${Date.now() - t0} ms`,
            where: `scripts/stack.ts stderr:\n${tail(stderr)}`,
            hint: 'a lane that never prints its ready line holds the whole stack; its log lines above say which',
          }),
        ),
      STACK_READY_MS,
    );
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      let ev: Record<string, unknown>;
      try {
        ev = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      events.push(ev);
      if (ev.event === 'ready') {
        clearTimeout(timer);
        resolve(ev);
      }
    });
    void exited.then((e) => {
      clearTimeout(timer);
      reject(
        new CheckFailure({
          expected: "the stack's ready line",
          received: `scripts/stack.ts exited (code ${e.exitCode ?? e.signal}) after ${e.at - t0} ms without one`,
          where: `its stderr:\n${tail(stderr)}`,
          hint: "a lane that cannot start stops the stack at startup: read that lane's lines above",
        }),
      );
    });
  });
  const readyMs = Date.now() - t0;
  const lanes: Record<string, LaneInfo> = {};
  for (const [id, v] of Object.entries((ready.lanes ?? {}) as Record<string, Omit<LaneInfo, 'id'>>))
    lanes[id] = { id, ...v };
  lanePids = Object.values(lanes)
    .map((l) => l.pid)
    .filter((p) => Number.isInteger(p));
  ctx.log(
    `stack ready in ${readyMs} ms: ${Object.values(lanes)
      .map((l) => `${l.id}=${l.port}`)
      .join(' ')}${ready.dashboard ? ` dashboard ${JSON.stringify(ready.dashboard)}` : ''}`,
  );
  return {
    lanes,
    ...(typeof ready.dashboard === 'string' ? { dashboard: ready.dashboard } : {}),
    certsDir,
    pid,
    events,
    readyMs,
    exited: () => exitInfo !== undefined,
    stderr: () => stderr,
    stop,
  };
}

/** The stacks a check started: stopped (and waited for) when it ends, before its temp dirs go. */
export const stacks = new WeakMap<CheckContext, Array<() => Promise<unknown>>>();

export function withStacks(body: (ctx: CheckContext) => Promise<void>): (ctx: CheckContext) => Promise<void> {
  return async (ctx) => {
    stacks.set(ctx, []);
    try {
      await body(ctx);
    } finally {
      await Promise.all((stacks.get(ctx) ?? []).map((stop) => stop()));
    }
  };
}

export function laneOf(stack: Stack, id: string): LaneInfo {
  const lane = stack.lanes[id];
  if (!lane)
    fail({
      expected: `lane ${id} in the stack's ready line`,
      received: show(Object.keys(stack.lanes)),
      hint: 'the ready line lists every lane that runs: {"lanes":{"<id>":{host,port,dataDir,pid,…}}}',
    });
  return lane;
}

export function syslogPorts(stack: Stack): { tcp: number; udp: number; tls: number | null; host: string } {
  const lane = laneOf(stack, 'syslog');
  const p = lane.ports;
  if (!p?.tcp || !p.udp)
    fail({
      expected: 'the syslog lane with a TCP and a UDP port in the ready line ("ports":{"udp","tcp","tls"})',
      received: show(lane),
      hint: 'the syslog receiver announces every transport it listens on',
    });
  return { tcp: p.tcp, udp: p.udp, tls: p.tls, host: lane.host };
}

export interface SyslogLane {
  stack: Stack;
  tcp: number;
  udp: number;
  tls: number | null;
  host: string;
  dataDir: string;
}

/** A stack of the syslog lane alone (`receiverArgs`: more flags for its receiver), with its ports and data dir. */
export async function startSyslogLane(ctx: CheckContext, receiverArgs?: string[]): Promise<SyslogLane> {
  const config = receiverArgs ? { config: { lanes: { syslog: { receiverArgs } } } } : {};
  const stack = await startStack(ctx, { lanes: ['syslog'], ...config });
  return { stack, ...syslogPorts(stack), dataDir: laneOf(stack, 'syslog').dataDir };
}

export async function getJson<T>(base: string, route: string): Promise<T> {
  const url = new URL(route, base);
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (err) {
    fail({
      expected: `GET ${url.href} to answer`,
      received: String((err as Error).cause ?? err),
      hint: 'the dashboard runs as long as the stack does',
    });
  }
  if (!res.ok)
    fail({ expected: `GET ${url.href} → 200`, received: `${res.status} ${(await res.text()).slice(0, 200)}` });
  return (await res.json()) as T;
}

export async function getText(base: string, route: string): Promise<string> {
  const res = await fetch(new URL(route, base), { signal: AbortSignal.timeout(5000) });
  if (!res.ok) fail({ expected: `GET ${route} → 200`, received: String(res.status) });
  return res.text();
}

export type Health = { lanes: Array<{ name: string; alive: boolean; reason?: string }> };

/** What stack.1 and stack.6 ask the dashboard of a stack started with `dashboard: true` (scripts/dashboard.ts). */
export interface Dashboard {
  url: string;
  health(): Promise<Health>;
  /** Waits until /api/health satisfies `cond`; returns that answer. */
  waitHealth(
    ctx: CheckContext,
    what: string,
    cond: (h: Health) => boolean,
    timeoutMs: number,
    hint: string,
  ): Promise<Health>;
  /** The logstream_lane_up lines of /metrics ('(none)' when there are none). */
  laneUp(): Promise<string>;
}

export function dashboardOf(stack: Stack): Dashboard {
  const url = stack.dashboard;
  if (!url) fail({ expected: 'the dashboard URL in the ready line ("dashboard")', received: 'none' });
  const health = () => getJson<Health>(url, 'api/health');
  return {
    url,
    health,
    async waitHealth(ctx, what, cond, timeoutMs, hint) {
      let last: Health | undefined;
      await waitFor(async () => cond((last = await health())), {
        timeoutMs,
        what,
        signal: ctx.signal,
        received: () => show(last?.lanes),
        hint,
      });
      return last!;
    },
    async laneUp() {
      const lines = (await getText(url, 'metrics')).split('\n').filter((l) => l.startsWith('logstream_lane_up'));
      return lines.join('\n') || '(none)';
    },
  };
}

export function connectTcp(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port }, () => resolve(s));
    s.once('error', reject);
  });
}

export function write(s: net.Socket, data: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => s.write(data, (err) => (err ? reject(err) : resolve())));
}

export async function recordsIn(dataDir: string): Promise<PersistedRecord[]> {
  return (await readRecords(dataDir)).records;
}

export const msgOf = (r: PersistedRecord) => (typeof r.record.msg === 'string' ? r.record.msg.trim() : undefined);

/** Waits until every text in `msgs` is the msg of exactly one persisted record of the lane; returns them by text. */
export async function waitForMsgs(
  ctx: CheckContext,
  dataDir: string,
  msgs: readonly string[],
  what: string,
): Promise<Map<string, PersistedRecord>> {
  let last: PersistedRecord[] = [];
  await waitFor(
    async () => {
      last = await recordsIn(dataDir);
      return msgs.every((m) => last.some((r) => msgOf(r) === m));
    },
    {
      timeoutMs: PERSIST_MS,
      what,
      where: dataDir,
      signal: ctx.signal,
      received: () =>
        `${last.length} records; missing: ${show(msgs.filter((m) => !last.some((r) => msgOf(r) === m)))}; the last: ${show(last.slice(-3).map((r) => r.raw))}`,
      hint: 'each message becomes one record in a records-*.ndjson file of the lane (shared/protocol/README.md §7)',
    },
  );
  const out = new Map<string, PersistedRecord>();
  for (const m of msgs) {
    const hits = last.filter((r) => msgOf(r) === m);
    if (hits.length !== 1)
      fail({
        expected: `exactly one record with msg ${show(m)}`,
        received: `${hits.length}: ${show(hits.map((h) => h.raw))}`,
        where: dataDir,
        hint: 'a message is stored once',
      });
    out.set(m, hits[0]!);
  }
  return out;
}

export function expectFields(r: PersistedRecord, want: Record<string, unknown>, what: string): void {
  for (const [k, v] of Object.entries(want)) {
    const got = k.includes('.')
      ? k
          .split('.')
          .reduce<unknown>(
            (o, key) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[key] : undefined),
            r.record,
          )
      : r.record[k];
    if (JSON.stringify(got) !== JSON.stringify(v)) {
      fail({
        expected: `${what}: ${k} = ${show(v)}`,
        received: `${show(got)} in ${r.raw.slice(0, 400)}`,
        where: `${r.file} line ${r.lineNo}`,
        hint: 'shared/protocol/README.md §7: severity → level, HOSTNAME → host, APP-NAME → service, MSG → msg; facility, PROCID, MSGID and structured data → attrs',
      });
    }
  }
}

export function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 10_000 }, (err, _stdout, stderr) => {
      if (err)
        reject(
          new CheckFailure({
            expected: `${path.basename(cmd)} ${args.join(' ')} to succeed`,
            received: `${err.message} ${stderr}`.trim(),
            hint: 'the lane must accept the connection',
          }),
        );
      else resolve();
    });
  });
}

export function needProgram(name: string, pkg: string): string {
  const p = findProgram(name);
  if (!p)
    fail({
      expected: `the program ${name} on this machine`,
      received: 'not found in PATH, /usr/sbin or /sbin',
      hint: `install it: apt-get install ${pkg} (.ci/run does)`,
    });
  return p;
}

export const octet = (m: string) => `${Buffer.byteLength(m)} ${m}`;
