// The capstone's graded checks (lessons/stack/README.md, [stack.N]): the integrated stack as a whole,
// driven through its launcher (scripts/stack.ts) with a test config — free ports, a temp data dir, no demo
// traffic — and, for the syslog lane, through clients nobody here wrote: util-linux `logger` and rsyslog.
//
// Black-box like every check (CONVENTIONS.md §3): the launcher's ready line, real sockets, the persisted files and
// the dashboard's HTTP API. The lanes' programs come from the lessons root under test (--lessons-root);
// lanes that root does not have (a fixture holds only stack/) come from this repo.
//
// Each check starts the stack once, with only the lanes it needs.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { createInterface } from 'node:readline';
import { encodeBatch } from '../shared/protocol/batch.ts';
import { encodeHello } from '../shared/protocol/frame.ts';
import { findProgram, startRsyslog, type Rsyslog } from '../lessons/stack/rsyslog-peer.ts';
import { LANES, laneAvailable } from '../scripts/lib/stack-lanes.ts';
import { CheckFailure, expectTrue, fail, show, waitFor } from './harness/assert.ts';
import { readRecords, readRejects, type PersistedRecord } from './harness/persisted.ts';
import { cleanEnv, tail } from './harness/process.ts';
import { randInt } from './harness/rng.ts';
import type { Check, CheckContext } from './harness/types.ts';

export const lesson = 'stack';

/** [stack.1] the stated bound: every lane's ready line within this, on a busy 2-core machine. */
export const STACK_READY_MS = 60_000;
/** [stack.6] a lane whose process is gone shows as down on the dashboard API within this. */
export const DOWN_WITHIN_MS = 5_000;
/** how long a record may take from the socket to the data dir (receivers flush at least every second) */
const PERSIST_MS = 10_000;
const HOST = os.hostname();
const SHORT_HOST = HOST.split('.')[0]!;

// ---- the stack under test --------------------------------------------------------------------------------

interface LaneInfo {
  id: string;
  host: string;
  port: number;
  ports?: { udp: number | null; tcp: number | null; tls: number | null };
  dataDir: string;
  pid: number;
  transport: string;
}

interface Stack {
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

interface StackOptions {
  lanes: readonly string[];
  dashboard?: boolean;
  /** merged over the test config (lanes.<id>.receiverArgs and the like) */
  config?: Record<string, unknown>;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};
const kill = (pid: number, sig: NodeJS.Signals) => {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
};

/** The lanes this checkout can run (a day still being written is skipped by the launcher too). */
export function availableLanes(lessonsRoot: string): string[] {
  return LANES.filter((l) => laneAvailable(l, lessonsRoot)).map((l) => l.id);
}

async function startStack(ctx: CheckContext, opts: StackOptions): Promise<Stack> {
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
      .join(' ')}${ready.dashboard ? ` dashboard ${String(ready.dashboard)}` : ''}`,
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
const stacks = new WeakMap<CheckContext, Array<() => Promise<unknown>>>();

function withStacks(body: (ctx: CheckContext) => Promise<void>): (ctx: CheckContext) => Promise<void> {
  return async (ctx) => {
    stacks.set(ctx, []);
    try {
      await body(ctx);
    } finally {
      await Promise.all((stacks.get(ctx) ?? []).map((stop) => stop()));
    }
  };
}

function laneOf(stack: Stack, id: string): LaneInfo {
  const lane = stack.lanes[id];
  if (!lane)
    fail({
      expected: `lane ${id} in the stack's ready line`,
      received: show(Object.keys(stack.lanes)),
      hint: 'the ready line lists every lane that runs: {"lanes":{"<id>":{host,port,dataDir,pid,…}}}',
    });
  return lane;
}

function syslogPorts(stack: Stack): { tcp: number; udp: number; tls: number | null; host: string } {
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

// ---- HTTP (the dashboard) -----------------------------------------------------------------------------

async function getJson<T>(base: string, route: string): Promise<T> {
  const url = new URL(route, base);
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (err) {
    fail({
      expected: `GET ${url} to answer`,
      received: String((err as Error).cause ?? err),
      hint: 'the dashboard runs as long as the stack does',
    });
  }
  if (!res.ok) fail({ expected: `GET ${url} → 200`, received: `${res.status} ${(await res.text()).slice(0, 200)}` });
  return (await res.json()) as T;
}

async function getText(base: string, route: string): Promise<string> {
  const res = await fetch(new URL(route, base), { signal: AbortSignal.timeout(5000) });
  if (!res.ok) fail({ expected: `GET ${route} → 200`, received: String(res.status) });
  return res.text();
}

type Health = { lanes: Array<{ name: string; alive: boolean; reason?: string }> };

// ---- sending one record into each kind of lane ----------------------------------------------------------

function connectTcp(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port }, () => resolve(s));
    s.once('error', reject);
  });
}

function connectTls(host: string, port: number, ca: Buffer): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host, port, ca, servername: 'localhost' }, () => resolve(s));
    s.once('error', reject);
  });
}

function write(s: net.Socket, data: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => s.write(data, (err) => (err ? reject(err) : resolve())));
}

/** Sends `record` (one JSON line) into a lane the way its own clients do; returns the socket to close later. */
async function sendRecord(
  stack: Stack,
  lane: LaneInfo,
  record: string,
  msg: string,
  stream: number,
): Promise<{ close(): void }> {
  const none = { close() {} };
  if (lane.transport === 'syslog') {
    const p = syslogPorts(stack);
    const s = await connectTcp(p.host, p.tcp);
    await write(s, `<14>1 ${new Date().toISOString()} stack-check stack-check - - - ${msg}\n`);
    return { close: () => s.destroy() };
  }
  if (lane.transport === 'tcp') {
    const s = await connectTcp(lane.host, lane.port);
    await write(s, `${record}\n`);
    return { close: () => s.destroy() };
  }
  const frames = Buffer.concat([
    encodeHello(stream, { name: `check-${lane.id}` }),
    encodeBatch({ stream, seq: 1, records: [record] }),
  ]);
  if (lane.transport === 'lsp1-udp') {
    const u = dgram.createSocket(net.isIPv6(lane.host) ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) =>
      u.send(encodeBatch({ stream, seq: 1, records: [record] }), lane.port, lane.host, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    u.close();
    return none;
  }
  if (lane.transport === 'lsp1-tls') {
    const s = await connectTls(lane.host, lane.port, readFileSync(path.join(stack.certsDir, 'ca.crt')));
    await write(s, frames);
    return { close: () => s.destroy() };
  }
  const s = await connectTcp(lane.host, lane.port);
  await write(s, frames);
  return { close: () => s.destroy() };
}

async function recordsIn(dataDir: string): Promise<PersistedRecord[]> {
  return (await readRecords(dataDir)).records;
}

const msgOf = (r: PersistedRecord) => (typeof r.record.msg === 'string' ? r.record.msg.trim() : undefined);

/** Waits until every text in `msgs` is the msg of exactly one persisted record of the lane; returns them by text. */
async function waitForMsgs(
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

function expectFields(r: PersistedRecord, want: Record<string, unknown>, what: string): void {
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

function run(cmd: string, args: string[]): Promise<void> {
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

function needProgram(name: string, pkg: string): string {
  const p = findProgram(name);
  if (!p)
    fail({
      expected: `the program ${name} on this machine`,
      received: 'not found in PATH, /usr/sbin or /sbin',
      hint: `install it: apt-get install ${pkg} (.ci/run does)`,
    });
  return p;
}

const octet = (m: string) => `${Buffer.byteLength(m)} ${m}`;

// ---- the checks -------------------------------------------------------------------------------------------

export const checks: Check[] = [
  {
    id: 'stack.1',
    title:
      'the stack comes up with every lane ready and shown up; each lane takes a record into its data dir and onto the dashboard API',
    points: 30,
    timeoutMs: STACK_READY_MS + 60_000,
    exclusive: true,
    run: withStacks(async (ctx) => {
      const want = availableLanes(path.dirname(ctx.lessonDir));
      const stack = await startStack(ctx, { lanes: want, dashboard: true });
      const missing = want.filter((id) => !stack.lanes[id]);
      expectTrue(missing.length === 0, {
        expected: `every lane in the ready line: ${want.join(', ')}`,
        received: `missing ${missing.join(', ')}`,
        hint: 'the launcher prints its ready line once every lane is up',
      });
      for (const l of Object.values(stack.lanes)) {
        expectTrue(Number.isInteger(l.port) && l.port > 0 && alive(l.pid), {
          expected: `lane ${l.id}: a bound port and a running pid`,
          received: show(l),
        });
      }
      const dash = stack.dashboard;
      if (!dash) fail({ expected: 'the dashboard URL in the ready line ("dashboard")', received: 'none' });
      // every lane up on the dashboard: stats.json fresh and its pid alive
      let health: Health | undefined;
      await waitFor(
        async () =>
          (health = await getJson<Health>(dash, 'api/health')).lanes.length === want.length &&
          health.lanes.every((l) => l.alive),
        {
          timeoutMs: 10_000,
          what: 'every lane up on /api/health',
          signal: ctx.signal,
          received: () => show(health?.lanes),
          hint: 'a lane is up when its stats.json is rewritten (at least every second, COURSE.md (what a receiver writes)) and names a running pid',
        },
      );
      const metrics = await getText(dash, 'metrics');
      for (const id of want) {
        expectTrue(metrics.includes(`logstream_lane_up{lane="${id}"} 1`), {
          expected: `logstream_lane_up{lane="${id}"} 1 in /metrics`,
          received:
            metrics
              .split('\n')
              .filter((l) => l.startsWith('logstream_lane_up'))
              .join('\n') || '(none)',
        });
      }

      // one record into each lane, the way its clients send it
      const nonce = randInt(ctx.rng, 1e6, 1e7 - 1);
      const sent = new Map<string, string>();
      const open: Array<{ close(): void }> = [];
      try {
        for (const id of want) {
          const lane = laneOf(stack, id);
          const msg = `stack check ${id} ${nonce}`;
          const record = JSON.stringify({ ts: new Date().toISOString(), level: 'info', service: 'stack-check', msg });
          open.push(await sendRecord(stack, lane, record, msg, randInt(ctx.rng, 1, 0x7fffffff)));
          sent.set(id, msg);
        }
        for (const [id, msg] of sent)
          await waitForMsgs(ctx, laneOf(stack, id).dataDir, [msg], `lane ${id}: the record in its data dir`);
      } finally {
        for (const s of open) s.close();
      }
      for (const [id, msg] of sent) {
        let got: unknown;
        await waitFor(
          async () => {
            const body = await getJson<{ records: Array<{ record: { msg?: unknown } }> }>(
              dash,
              `api/logs?lane=${id}&limit=100`,
            );
            got = body.records.map((r) => r.record.msg).slice(0, 5);
            return body.records.some((r) => r.record.msg === msg);
          },
          {
            timeoutMs: 5000,
            what: `lane ${id}: the record on /api/logs?lane=${id}`,
            signal: ctx.signal,
            received: () => show(got),
            hint: 'the dashboard reads the newest records files of the lane',
          },
        );
      }
      // Ctrl-C: everything stops, cleanly
      const exit = await stack.stop();
      expectTrue(exit.exitCode === 0, {
        expected: 'the stack to exit 0 on SIGTERM (every lane flushed and exited 0)',
        received: `exit ${exit.exitCode ?? exit.signal} after ${exit.ms} ms`,
        where: tail(stack.stderr()),
      });
      const left = Object.values(stack.lanes).filter((l) => alive(l.pid));
      expectTrue(left.length === 0, {
        expected: 'no lane process left after the stack exits',
        received: show(left.map((l) => `${l.id} pid ${l.pid}`)),
      });
    }),
  },
  {
    id: 'stack.2',
    title:
      'util-linux logger over UDP, TCP and TCP octet-counted, RFC 5424 and 3164: every message a record with the right level, host, service, msg and attrs',
    points: 20,
    timeoutMs: 60_000,
    run: withStacks(async (ctx) => {
      const logger = needProgram('logger', 'bsdutils');
      const stack = await startStack(ctx, { lanes: ['syslog'] });
      const { tcp, udp, host } = syslogPorts(stack);
      const n = randInt(ctx.rng, 1000, 9999);
      const sd = ['--sd-id', 'zoo@32473', '--sd-param', 'tiger="hungry"', '--sd-param', `n="${n}"`];
      const cases = [
        {
          args: ['--udp', '--port', String(udp), '--rfc5424', ...sd, '--msgid', 'M1'],
          msg: `udp 5424 ${n}`,
          transport: 'udp',
          rfc: 5424,
        },
        { args: ['--udp', '--port', String(udp), '--rfc3164'], msg: `udp 3164 ${n}`, transport: 'udp', rfc: 3164 },
        {
          args: ['--tcp', '--port', String(tcp), '--rfc5424', ...sd, '--msgid', 'M2'],
          msg: `tcp lf 5424 ${n}`,
          transport: 'tcp',
          rfc: 5424,
        },
        { args: ['--tcp', '--port', String(tcp), '--rfc3164'], msg: `tcp lf 3164 ${n}`, transport: 'tcp', rfc: 3164 },
        {
          args: ['--tcp', '--octet-count', '--port', String(tcp), '--rfc5424', ...sd, '--msgid', 'M3'],
          msg: `tcp octet 5424 ${n}`,
          transport: 'tcp',
          rfc: 5424,
        },
        {
          args: ['--tcp', '--octet-count', '--port', String(tcp), '--rfc3164'],
          msg: `tcp octet 3164 ${n}`,
          transport: 'tcp',
          rfc: 3164,
        },
      ];
      for (const c of cases)
        await run(logger, ['--server', host, ...c.args, '-t', 'lab-app', '--id=4242', '-p', 'local0.err', c.msg]);
      const got = await waitForMsgs(
        ctx,
        laneOf(stack, 'syslog').dataDir,
        cases.map((c) => c.msg),
        'one record per logger message',
      );
      for (const c of cases) {
        const r = got.get(c.msg)!;
        const what = `logger ${c.args.filter((a) => a.startsWith('--') && a !== '--port' && !a.startsWith('--sd')).join(' ')}`;
        expectFields(
          r,
          {
            level: 'error',
            service: 'lab-app',
            msg: c.msg,
            host: c.rfc === 5424 ? HOST : SHORT_HOST,
            'attrs.facility': 'local0',
            'attrs.severity': 'err',
            'attrs.procid': '4242',
            '_rx.transport': c.transport,
          },
          what,
        );
        if (c.rfc === 5424)
          expectFields(r, { 'attrs.sd.zoo@32473': { tiger: 'hungry', n: String(n) } }, `${what} (structured data)`);
      }
    }),
  },
  {
    id: 'stack.3',
    title:
      'rsyslog forwarding with omfwd over TCP (octet-counted RFC 5424 and LF-framed traditional): every message a record with the right fields',
    points: 15,
    timeoutMs: 60_000,
    run: withStacks(async (ctx) => {
      needProgram('rsyslogd', 'rsyslog');
      const logger = needProgram('logger', 'bsdutils');
      const stack = await startStack(ctx, { lanes: ['syslog'] });
      const { tcp } = syslogPorts(stack);
      const dir = await ctx.tmp();
      const sock = path.join(dir, 'log.sock');
      let rsyslog: Rsyslog | undefined;
      try {
        rsyslog = await startRsyslog({
          dir,
          readyPath: sock,
          config: `
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="${sock}" ruleset="fwd" UseSpecialParser="off" ParseHostname="on")
ruleset(name="fwd") {
  action(type="omfwd" target="127.0.0.1" port="${tcp}" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
  action(type="omfwd" target="127.0.0.1" port="${tcp}" protocol="tcp" template="RSYSLOG_TraditionalForwardFormat")
}`,
        });
      } catch (err) {
        fail({
          expected: 'rsyslogd -n -f <conf> to start',
          received: (err as Error).message,
          hint: 'apt-get install rsyslog',
        });
      }
      try {
        const n = randInt(ctx.rng, 1000, 9999);
        const msgs = [1, 2, 3].map((i) => `via rsyslog ${n}-${i}`);
        for (const [i, m] of msgs.entries())
          await run(logger, [
            '-u',
            sock,
            '--rfc5424',
            '--sd-id',
            'req@32473',
            '--sd-param',
            `n="${i + 1}"`,
            '--msgid',
            'RQ',
            '-t',
            'rs-app',
            '-p',
            'local3.warning',
            m,
          ]);
        const dataDir = laneOf(stack, 'syslog').dataDir;
        let last: PersistedRecord[] = [];
        await waitFor(
          async () => {
            last = await recordsIn(dataDir);
            return msgs.every((m) => last.filter((r) => msgOf(r) === m).length === 2);
          },
          {
            timeoutMs: 15_000,
            what: 'each message twice (omfwd octet-counted RFC 5424 and omfwd LF traditional)',
            where: dataDir,
            signal: ctx.signal,
            received: () =>
              `${last.length} records: ${show(last.slice(-4).map((r) => r.raw))}; rsyslogd said: ${rsyslog?.output.join('').slice(-400) ?? ''}`,
            hint: 'rsyslog sends octet-counted and LF-framed messages to the same port: tell them apart per message (RFC 6587)',
          },
        );
        for (const [i, m] of msgs.entries()) {
          const got = last.filter((r) => msgOf(r) === m);
          for (const r of got) {
            expectFields(
              r,
              { level: 'warn', service: 'rs-app', 'attrs.facility': 'local3', 'attrs.severity': 'warning' },
              `rsyslog ${m}`,
            );
            expectTrue(r.record.host === HOST || r.record.host === SHORT_HOST, {
              expected: `host ${HOST} (or ${SHORT_HOST})`,
              received: show(r.record.host),
              where: `${r.file} line ${r.lineNo}`,
            });
          }
          const with5424 = got.filter((r) => (r.record.attrs as Record<string, unknown> | undefined)?.sd !== undefined);
          expectTrue(with5424.length === 1, {
            expected: `the RFC 5424 copy of ${show(m)} with its structured data in attrs.sd`,
            received: show(got.map((r) => r.raw)),
            hint: 'RSYSLOG_SyslogProtocol23Format carries [req@32473 n="…"]',
          });
          expectFields(
            with5424[0]!,
            { 'attrs.sd.req@32473': { n: String(i + 1) }, 'attrs.msgid': 'RQ' },
            `rsyslog RFC 5424 ${m}`,
          );
        }
      } finally {
        await rsyslog?.stop();
      }
    }),
  },
  {
    id: 'stack.4',
    title:
      'octet-counted and LF-framed syslog on the same TCP port, on separate connections and mixed on one, all parse',
    points: 10,
    timeoutMs: 45_000,
    run: withStacks(async (ctx) => {
      const stack = await startStack(ctx, { lanes: ['syslog'] });
      const { tcp, host } = syslogPorts(stack);
      const n = randInt(ctx.rng, 1000, 9999);
      const msg = (kind: string, i: number) =>
        `<134>1 2026-11-26T10:00:0${i}.000Z web-${i} framing-app - - - ${kind} ${n} #${i}`;
      const octetConn = await connectTcp(host, tcp);
      const lfConn = await connectTcp(host, tcp);
      const mixedConn = await connectTcp(host, tcp);
      const texts: string[] = [];
      try {
        let o = '';
        let l = '';
        let m = '';
        for (let i = 1; i <= 5; i++) {
          o += octet(msg('octet', i));
          l += `${msg('lf', i)}\n`;
          m += i % 2 ? octet(msg('mixed', i)) : `${msg('mixed', i)}\n`;
          for (const k of ['octet', 'lf', 'mixed']) texts.push(`${k} ${n} #${i}`);
        }
        // written in seeded pieces: a frame may be split anywhere
        const pieces = async (s: net.Socket, text: string) => {
          const buf = Buffer.from(text);
          for (let at = 0; at < buf.length;) {
            const len = randInt(ctx.rng, 1, 40);
            await write(s, buf.subarray(at, at + len));
            at += len;
          }
        };
        await Promise.all([pieces(octetConn, o), pieces(lfConn, l), pieces(mixedConn, m)]);
        const got = await waitForMsgs(
          ctx,
          laneOf(stack, 'syslog').dataDir,
          texts,
          'every message of the three connections',
        );
        for (const t of texts) {
          const i = Number(t.slice(t.indexOf('#') + 1));
          expectFields(
            got.get(t)!,
            {
              level: 'info',
              service: 'framing-app',
              host: `web-${i}`,
              'attrs.facility': 'local0',
              ts: `2026-11-26T10:00:0${i}.000Z`,
            },
            t,
          );
        }
        const rejects = (await readRejects(laneOf(stack, 'syslog').dataDir)).rejects;
        expectTrue(rejects.length === 0, {
          expected: 'no rejects',
          received: show(rejects.map((r) => r.reject)),
          hint: 'a message that starts with a digit is octet-counted, one that starts with < is LF-framed (RFC 6587 §3.4)',
        });
      } finally {
        for (const s of [octetConn, lfConn, mixedConn]) s.destroy();
      }
    }),
  },
  {
    id: 'stack.5',
    title:
      'malformed syslog (bad PRI, a count over the limit, a truncated octet-counted message) is rejected per message with its reason; the connection and the lane carry on',
    points: 15,
    timeoutMs: 45_000,
    run: withStacks(async (ctx) => {
      const stack = await startStack(ctx, {
        lanes: ['syslog'],
        config: { lanes: { syslog: { receiverArgs: ['--max-message-bytes', '1024'] } } },
      });
      const { tcp, host } = syslogPorts(stack);
      const dataDir = laneOf(stack, 'syslog').dataDir;
      const n = randInt(ctx.rng, 1000, 9999);
      const good = (i: number) => `<13>1 - h bad-input-app - - - good ${n} ${i}`;
      const a = await connectTcp(host, tcp);
      const b = await connectTcp(host, tcp);
      try {
        // connection A: bad ones between good ones, each framing the way it must be resynchronised
        await write(a, `<999>1 - h bad-input-app - - - bad pri ${n}\n`); // LF framing: resync at the LF
        await write(a, octet(good(1)));
        await write(a, `2000 ${'x'.repeat(2000)}`); // a count over the 1024 limit: skipped, exactly
        await write(a, octet(good(2)));
        await write(a, `${good(3)}\n`);
        await waitForMsgs(
          ctx,
          dataDir,
          [1, 2, 3].map((i) => `good ${n} ${i}`),
          'the good messages around the bad ones, on the same connection',
        );
        // connection B: a message, then an octet-counted one cut by the end of the stream
        await write(b, octet(good(4)));
        b.end(`90 ${good(99)}`);
        await waitForMsgs(ctx, dataDir, [`good ${n} 4`], 'the message before the truncated one');
        // A is still read after all that, and a new connection works: the lane carries on
        await write(a, `${good(5)}\n`);
        const c = await connectTcp(host, tcp);
        await write(c, octet(good(6)));
        c.end();
        await waitForMsgs(
          ctx,
          dataDir,
          [`good ${n} 5`, `good ${n} 6`],
          'a message on the first connection after the errors, and one on a new connection',
        );
        const want = ['syslog_bad_pri', 'syslog_count_too_large', 'syslog_truncated'];
        let rejects: Array<Record<string, unknown>> = [];
        await waitFor(
          async () => (rejects = (await readRejects(dataDir)).rejects.map((r) => r.reject)).length >= want.length,
          {
            timeoutMs: PERSIST_MS,
            what: `${want.length} rejects in rejects.ndjson`,
            where: dataDir,
            signal: ctx.signal,
            received: () => show(rejects),
            hint: 'every message that cannot be read is one line in rejects.ndjson: {ts, peer, reason, sample}',
          },
        );
        const reasons = rejects.map((r) => r.reason).sort();
        expectTrue(JSON.stringify(reasons) === JSON.stringify(want), {
          expected: `one reject per bad message, reasons ${want.join(', ')}`,
          received: show(rejects),
          where: `${dataDir}/rejects.ndjson`,
          hint: "reasons are the syslog codec's names (shared/protocol/syslog/errors.ts, lessons/stack/syslog-framing.ts)",
        });
        for (const r of rejects)
          expectTrue(typeof r.sample === 'string' && typeof r.peer === 'string', {
            expected: 'each reject with its peer and a sample of the bytes',
            received: show(r),
          });
        expectTrue(String(rejects.find((r) => r.reason === 'syslog_bad_pri')?.sample).includes(`bad pri ${n}`), {
          expected: 'the bad-PRI reject to sample that message',
          received: show(rejects.find((r) => r.reason === 'syslog_bad_pri')),
        });
        const recs = await recordsIn(dataDir);
        expectTrue(recs.length === 6, {
          expected: '6 records (the good messages only)',
          received: `${recs.length}: ${show(recs.map((r) => r.record.msg))}`,
          where: dataDir,
        });
      } finally {
        a.destroy();
        b.destroy();
      }
    }),
  },
  {
    id: 'stack.6',
    title:
      "killing one lane's process leaves the others running and taking records; the dashboard API reports that lane down within seconds",
    points: 10,
    timeoutMs: 60_000,
    run: withStacks(async (ctx) => {
      const stack = await startStack(ctx, { lanes: ['day08', 'syslog'], dashboard: true });
      const dash = stack.dashboard;
      if (!dash) fail({ expected: 'the dashboard URL in the ready line', received: 'none' });
      let health: Health | undefined;
      const status = (h: Health | undefined, id: string) => h?.lanes.find((l) => l.name === id);
      await waitFor(
        async () => {
          health = await getJson<Health>(dash, 'api/health');
          return ['day08', 'syslog'].every((id) => status(health, id)?.alive);
        },
        {
          timeoutMs: 10_000,
          what: 'both lanes up on /api/health',
          signal: ctx.signal,
          received: () => show(health?.lanes),
          hint: 'a lane is up when its stats.json is fresh and names a running pid',
        },
      );
      const victim = laneOf(stack, 'day08');
      process.kill(victim.pid, 'SIGKILL');
      const killedAt = Date.now();
      await waitFor(
        async () => status((health = await getJson<Health>(dash, 'api/health')), 'day08')?.alive === false,
        {
          timeoutMs: DOWN_WITHIN_MS,
          what: 'the killed lane (day08) reported down on /api/health',
          signal: ctx.signal,
          received: () => show(health?.lanes),
          hint: 'the dashboard checks the pid stats.json names, and marks a lane whose stats are stale as down',
        },
      );
      ctx.log(`day08 shown down ${Date.now() - killedAt} ms after the kill`);
      expectTrue(!stack.exited(), {
        expected: 'the stack to keep running after one lane died',
        received: `it exited; stderr:\n${tail(stack.stderr())}`,
        hint: 'laneExit: carry-on (stack.config.json)',
      });
      const s = status(await getJson<Health>(dash, 'api/health'), 'syslog');
      expectTrue(s?.alive === true && alive(laneOf(stack, 'syslog').pid), {
        expected: 'the syslog lane still up',
        received: show(s),
      });
      const metrics = await getText(dash, 'metrics');
      expectTrue(
        metrics.includes('logstream_lane_up{lane="day08"} 0') && metrics.includes('logstream_lane_up{lane="syslog"} 1'),
        {
          expected: '/metrics: logstream_lane_up 0 for day08 and 1 for syslog',
          received: metrics
            .split('\n')
            .filter((l) => l.startsWith('logstream_lane_up'))
            .join('\n'),
        },
      );
      // and the survivor still takes records (a datagram: this check is about isolation, not framing)
      const msg = `after the kill ${randInt(ctx.rng, 1000, 9999)}`;
      const { udp, host } = syslogPorts(stack);
      const u = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
      try {
        await new Promise<void>((resolve, reject) =>
          u.send(`<14>1 - stack-check stack-check - - - ${msg}`, udp, host, (err) => (err ? reject(err) : resolve())),
        );
        await waitForMsgs(ctx, laneOf(stack, 'syslog').dataDir, [msg], 'a record on the surviving lane');
      } finally {
        u.close();
      }
    }),
  },
];
