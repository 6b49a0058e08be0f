/**
 * The integrated stack (the capstone; `npm start` = `npm run lesson -- stack`): every lane's receiver on
 * its own port, the dashboard over all of them, and a demo shipper per lane feeding gentle, steady traffic
 * (records written to each shipper's stdin). One table of lanes, ports and the dashboard URL; Ctrl-C stops
 * everything cleanly: shippers drain first, then receivers flush and exit, and no process is left behind.
 *
 * Config: lessons/stack/stack.config.json holds every default; `--config FILE` overrides any part of it
 * (deep merge), and flags override both. When everything is up it prints one JSON line on stdout:
 *   {"event":"ready","role":"stack","lanes":{"day08":{"host","port","dataDir","pid",…},…},"dashboard":URL}
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { chalk } from 'zx';
import { opt, parseCli } from '../shared/cli.ts';
import { RecordGenerator } from '../shared/generate.ts';
import { ensureCerts } from '../shared/tls/certs.ts';
import { REPO_ROOT, startProgram, type Program } from './lib/launch.ts';
import {
  LANES,
  laneAvailable,
  laneDirs,
  laneTablePorts,
  programPath,
  type LaneConfig,
  type LaneContext,
  type LaneDef,
  type StackConfig,
} from './lib/stack-lanes.ts';

const args = parseCli(
  {
    name: 'npm run lesson -- stack',
    summary: 'The integrated stack: every lane, the dashboard, and demo traffic.',
    options: {
      config: opt.string('--config <file>', 'JSON file overriding parts of lessons/stack/stack.config.json'),
      lessonsRoot: opt.string(
        '--lessons-root <dir>',
        "take the lanes' programs (and stack/stack.config.json) from this lessons folder when it has them, e.g. a learner's copy (default: this repo's lessons/)",
      ),
      dataDir: opt.string('--data-dir <dir>', 'parent of every lane data dir (default from the config: data/stack)'),
      lanes: opt.list('--lanes <ids>', 'run only these lanes, comma-separated (default: every enabled lane)'),
      dashboardPort: opt.int('--dashboard-port <n>', 'dashboard port (0 = any free port)', undefined, { max: 65535 }),
      anyPorts: opt.flag('--any-ports', 'every lane on a free port (tests, or when the defaults are taken)'),
      noDemo: opt.flag('--no-demo', 'no demo traffic'),
      quiet: opt.flag('--quiet', "hide the programs' own log lines"),
    },
    epilog: `Lanes: ${LANES.map((l) => l.id).join(', ')}. lessons/stack/README.md documents every config key.\n\nstdout: one ready line {"event":"ready","role":"stack","lanes":{…},"dashboard":URL} once every lane is up,\nthen {"event":"lane-exit","lane":…} whenever a lane's receiver exits on its own.`,
  },
  process.argv.filter((a) => a !== 'stack'),
);

function deepMerge<T>(base: T, over: unknown): T {
  if (typeof over !== 'object' || over === null || Array.isArray(over)) return (over === undefined ? base : over) as T;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(out[k], v);
  return out as T;
}

const lessonsRoot = args.lessonsRoot ? resolve(process.env.INIT_CWD ?? process.cwd(), args.lessonsRoot) : undefined;

/** What a config file may leave out (older copies of stack.config.json, test configs). */
const BUILT_IN = {
  laneExit: 'carry-on',
  dashboard: { enabled: true, port: 8080, refreshMs: 1000, staleMs: 3000 },
  lanes: laneTablePorts(), // the ports of shared/lanes.ts (issue 22.4)
};

function configError(msg: string): never {
  console.error(`npm run lesson -- stack: ${msg}`);
  process.exit(2);
}

function loadConfig(): StackConfig {
  const ownDefaults =
    lessonsRoot && existsSync(join(lessonsRoot, 'stack/stack.config.json'))
      ? join(lessonsRoot, 'stack/stack.config.json')
      : join(REPO_ROOT, 'lessons/stack/stack.config.json');
  let cfg = deepMerge(BUILT_IN, JSON.parse(readFileSync(ownDefaults, 'utf8'))) as StackConfig;
  if (args.config) {
    try {
      cfg = deepMerge(
        cfg,
        JSON.parse(readFileSync(resolve(process.env.INIT_CWD ?? process.cwd(), args.config), 'utf8')),
      );
    } catch (err) {
      configError(`--config ${args.config}: ${(err as Error).message}`);
    }
  }
  if (cfg.laneExit !== 'carry-on' && cfg.laneExit !== 'stop-stack')
    configError(`config laneExit: '${String(cfg.laneExit)}' is not carry-on or stop-stack`);
  for (const [id, lane] of Object.entries(cfg.lanes)) {
    if (!LANES.some((l) => l.id === id))
      configError(`config lanes.${id}: no such lane (have: ${LANES.map((l) => l.id).join(', ')})`);
    if (!Number.isInteger(lane.port) || lane.port < 0 || lane.port > 65535)
      configError(`config lanes.${id}.port: ${String(lane.port)} is not a port (0..65535)`);
    lane.receiverArgs ??= [];
    lane.shipperArgs ??= [];
  }
  if (args.dataDir) cfg.dataDir = args.dataDir;
  if (args.dashboardPort !== undefined) cfg.dashboard.port = args.dashboardPort;
  if (args.noDemo) cfg.demo.enabled = false;
  if (args.anyPorts) {
    for (const lane of Object.values(cfg.lanes)) {
      lane.port = 0;
      if (lane.tlsPort !== undefined) lane.tlsPort = 0;
    }
    cfg.dashboard.port = args.dashboardPort ?? 0;
  }
  return cfg;
}

const cfg = loadConfig();
const unknownLanes = (args.lanes ?? []).filter((id) => !LANES.some((l) => l.id === id));
if (unknownLanes.length) {
  console.error(
    `npm run lesson -- stack: --lanes: unknown lane ${unknownLanes.join(', ')} (have: ${LANES.map((l) => l.id).join(', ')})`,
  );
  process.exit(2);
}

interface RunningLane {
  def: LaneDef;
  ctx: LaneContext;
  receiver: Program;
  ready?: { host: string; port: number; [k: string]: unknown };
  shipper?: Program;
  /** the demo records written to the shipper's stdin */
  demo?: RecordGenerator;
}

let demoTimer: NodeJS.Timeout | undefined;
/** stdout events after the ready line (the process contract: the ready line comes first) */
let announced = false;
const pendingEvents: string[] = [];
function event(ev: Record<string, unknown>): void {
  const line = `${JSON.stringify(ev)}\n`;
  if (announced) process.stdout.write(line);
  else pendingEvents.push(line);
}
const COLORS = [chalk.cyan, chalk.magenta, chalk.yellow, chalk.green, chalk.blue, chalk.red, chalk.white, chalk.gray];
const lanes: RunningLane[] = [];
let dashboard: Program | undefined;
let stopping = false;

function tagged(name: string, i: number) {
  const tag = COLORS[i % COLORS.length]!(`[${name}]`.padEnd(18));
  return (line: string) => {
    if (!args.quiet) process.stderr.write(`${tag} ${line}\n`);
  };
}

async function stopAll(code: number): Promise<never> {
  if (stopping) return new Promise(() => {});
  stopping = true;
  clearInterval(demoTimer);
  console.error(chalk.bold('\nstopping: shippers drain first, then receivers flush'));
  // Shippers: end their stdin so they drain what they have and exit; SIGTERM those that do not.
  await Promise.all(
    lanes.map(async (l) => {
      if (!l.shipper) return;
      l.shipper.proc.stdin?.end();
      const t = setTimeout(() => void l.shipper?.stop(), 4000);
      await l.shipper.exit;
      clearTimeout(t);
    }),
  );
  const results = await Promise.all([
    ...lanes.map(async (l) => ({ name: `${l.def.id} receiver`, ...(await l.receiver.stop()) })),
    ...lanes.filter((l) => l.shipper).map(async (l) => ({ name: `${l.def.id} shipper`, ...(await l.shipper!.exit) })),
    ...(dashboard ? [(async () => ({ name: 'dashboard', ...(await dashboard.stop()) }))()] : []),
  ]);
  for (const r of results) {
    const ok = r.exitCode === 0;
    if (!ok) code = code || 1;
    console.error(`${ok ? chalk.green('✓') : chalk.red('✗')} ${r.name} exited ${r.exitCode ?? r.signal}`);
  }
  process.exit(code);
}
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

// ---- 1. receivers ---------------------------------------------------------------------------------
const wanted = LANES.filter((def) => {
  const lc = cfg.lanes[def.id];
  if (!lc?.enabled) return false;
  if (args.lanes && !args.lanes.includes(def.id)) return false;
  if (!laneAvailable(def, lessonsRoot)) {
    console.error(chalk.yellow(`lane ${def.id} skipped: ${def.receiver} is not in this checkout`));
    return false;
  }
  return true;
});
if (wanted.some((d) => d.id === 'day13' || d.id === 'syslog')) await ensureCerts(resolve(REPO_ROOT, cfg.certsDir));

for (const [i, def] of wanted.entries()) {
  const lane = cfg.lanes[def.id] as LaneConfig;
  const { dataDir, stateDir } = laneDirs(cfg.dataDir, def.id);
  const ctx: LaneContext = { cfg, lane, dataDir, stateDir };
  await mkdir(resolve(REPO_ROOT, dataDir), { recursive: true });
  const log = tagged(def.id, i);
  const receiver = startProgram({
    name: `${def.id} receiver`,
    file: programPath(def.receiver, lessonsRoot),
    args: [...def.receiverArgs(ctx), ...lane.receiverArgs],
    readyTimeoutMs: cfg.readyTimeoutMs,
    onLog: log,
  });
  lanes.push({ def, ctx, receiver });
}
const t0 = performance.now();
for (const l of lanes) {
  try {
    l.ready = await l.receiver.ready;
  } catch (err) {
    console.error(chalk.red(`lane ${l.def.id} did not start: ${(err as Error).message}`));
    if (/EADDRINUSE/.test((err as Error).message))
      console.error(`  a port is in use: change it in the config, or run with --any-ports`);
    await stopAll(1);
  }
  // A lane that dies does not take the others with it (unless the config says laneExit: stop-stack).
  void l.receiver.exit.then((r) => {
    if (stopping) return;
    const carryOn = cfg.laneExit === 'carry-on';
    console.error(
      chalk.red(
        `lane ${l.def.id}: receiver exited (${r.exitCode ?? r.signal}); ${carryOn ? 'the other lanes carry on' : 'stopping the stack (laneExit: stop-stack)'}`,
      ),
    );
    event({
      event: 'lane-exit',
      lane: l.def.id,
      pid: l.receiver.pid,
      exitCode: r.exitCode ?? null,
      signal: r.signal ?? null,
    });
    if (!carryOn) void stopAll(1);
  });
}

// ---- 2. the dashboard -----------------------------------------------------------------------------
let dashboardUrl: string | undefined;
if (cfg.dashboard.enabled) {
  dashboard = startProgram({
    name: 'dashboard',
    file: 'scripts/dashboard.ts',
    args: [
      '--host',
      cfg.host,
      '--port',
      String(cfg.dashboard.port),
      '--refresh-ms',
      String(cfg.dashboard.refreshMs),
      '--stale-ms',
      String(cfg.dashboard.staleMs),
      ...lanes.flatMap((l) => ['--lane', `${l.def.id}=${l.ctx.dataDir}`]),
    ],
    onLog: tagged('dashboard', lanes.length),
  });
  try {
    const r = await dashboard.ready;
    dashboardUrl = typeof r.url === 'string' ? r.url : `http://${r.host}:${r.port}/`;
  } catch (err) {
    console.error(chalk.red(`dashboard did not start: ${(err as Error).message}`));
    await stopAll(1);
  }
}

// ---- 3. demo shippers: gentle, steady traffic through every lane ---------------------------------
// Each lane has its own generator with real-time timestamps (issue 20.4): a record's ts is the clock when
// the stack writes it, so ts and the receiver's _rx.ts agree to within the lane's batching delay, however
// many lanes there are and however long the stack runs (one stepped generator shared by 8 lanes ran 8×
// faster than the clock). The ids (demo-<lane>-1, -2, …) count each lane's records without gaps.
// A lane's records start once its shipper runs (its first output line, or DEMO_START_GRACE_MS after the
// spawn): records written while a shipper is still loading wait in the pipe and arrive seconds old.
const DEMO_START_GRACE_MS = 5000;
const demoSeed = Date.now() % 1_000_000;
if (cfg.demo.enabled) {
  for (const [i, l] of lanes.entries()) {
    const target = `${l.ready!.host}:${l.ready!.port}`;
    const log = tagged(`${l.def.id}>`, i);
    const start = () =>
      (l.demo ??= new RecordGenerator({ seed: demoSeed + i, clock: Date.now, idPrefix: `demo-${l.def.id}` }));
    l.shipper = startProgram({
      name: `${l.def.id} shipper`,
      file: programPath(l.def.shipper, lessonsRoot),
      args: [...l.def.shipperArgs(l.ctx, target), ...(cfg.lanes[l.def.id]?.shipperArgs ?? [])],
      stdin: 'pipe',
      onLog: (line) => {
        start();
        log(line);
      },
      onEvent: start,
    });
    l.shipper.proc.stdin?.on('error', () => {});
    setTimeout(start, DEMO_START_GRACE_MS).unref();
  }
  demoTimer = setInterval(
    () => {
      for (const l of lanes) {
        const stdin = l.shipper?.proc.stdin;
        if (l.demo && stdin && !stdin.destroyed && stdin.writableLength < 1 << 20) stdin.write(`${l.demo.next()}\n`);
      }
    },
    1000 / Math.max(1, cfg.demo.recordsPerSecond),
  );
}

// ---- 4. one table --------------------------------------------------------------------------------
const readyMs = Math.round(performance.now() - t0);
console.error(chalk.bold(`\nLogStream Lab — the integrated stack (${lanes.length} lanes up in ${readyMs} ms)\n`));
const rows = lanes.map((l) => {
  const ports = l.ready!.ports as Record<string, number | null> | undefined;
  const addr = ports
    ? Object.entries(ports)
        .filter(([, v]) => v !== null)
        .map(([k, v]) => `${k}:${v}`)
        .join(' ')
    : `${l.ready!.host}:${l.ready!.port}`;
  const what = `${l.def.title}${l.ctx.lane.mtls ? ' (mutual TLS)' : ''}`;
  return [l.def.id, l.def.transport, addr, l.ctx.dataDir, what];
});
const head = ['lane', 'transport', 'address', 'data', 'what'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (r: string[]) => `  ${r.map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i]!) : c)).join('  ')}`;
console.error(chalk.dim(line(head)));
for (const r of rows) console.error(line(r));
if (dashboardUrl) console.error(`\n  dashboard  ${chalk.bold(dashboardUrl)}`);
console.error(
  `\n  demo traffic: ${cfg.demo.enabled ? `${cfg.demo.recordsPerSecond} records/s per lane` : 'off'}   Ctrl-C stops everything.\n`,
);
process.stdout.write(
  `${JSON.stringify({
    event: 'ready',
    role: 'stack',
    lesson: 'stack',
    transport: 'many',
    host: cfg.host,
    port: Number(dashboardUrl ? new URL(dashboardUrl).port : 0),
    dashboard: dashboardUrl,
    readyMs,
    lanes: Object.fromEntries(
      lanes.map((l) => [
        l.def.id,
        { ...l.ready, dataDir: l.ctx.dataDir, pid: l.receiver.pid, transport: l.def.transport },
      ]),
    ),
  })}\n`,
);
announced = true;
for (const line of pendingEvents.splice(0)) process.stdout.write(line);
