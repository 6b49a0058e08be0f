/**
 * How fast the dashboard answers its JSON endpoints (a benchmark, not a test: CONVENTIONS.md §5).
 *
 *   npx tsx scripts/bench/dashboard.ts [--duration-s 3] [--runs 3] [--connections 10] [--live]
 *
 * Builds three lanes in a temp dir (one with a ~43 MiB records file and 1,000 streams), starts
 * scripts/dashboard.ts as its own process, and drives each endpoint with autocannon for a few seconds,
 * the endpoints alternating, several runs; reports the median req/s and p99 latency (with min–max).
 * `--live` keeps appending records and rewriting stats.json during the run, so caches keyed on file
 * size keep missing (the worst case for /api/logs). Results: stdout and bench-results/dashboard.{md,json}.
 */
import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { opt, parseCli } from '../../shared/cli.ts';
import { recordLine, writeStats, type FakeStats } from '../../shared/dashboard/test-support.ts';
import { REPO_ROOT, startProgram } from '../lib/launch.ts';

/** The part of autocannon's result we read (the package ships no types). */
interface CannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  throughput: { average: number };
  errors: number;
  timeouts: number;
  non2xx: number;
}
type Autocannon = (opts: {
  url: string;
  connections: number;
  duration: number;
  pipelining?: number;
}) => Promise<CannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const args = parseCli({
  name: 'scripts/bench/dashboard.ts',
  summary: 'Benchmark the dashboard JSON endpoints with autocannon: req/s and p99 latency.',
  options: {
    durationS: opt.int('--duration-s <n>', 'seconds per endpoint per run', 3, { min: 1, max: 60 }),
    runs: opt.int('--runs <n>', 'runs (endpoints alternate within each run)', 3, { min: 1, max: 20 }),
    connections: opt.int('--connections <n>', 'concurrent HTTP connections', 10, { min: 1, max: 1000 }),
    live: opt.flag('--live', 'append records and rewrite stats.json during the run (caches keep missing)'),
    out: opt.string('--out <dir>', 'where results are written', 'bench-results'),
  },
});

const LEVELS = ['info', 'info', 'info', 'debug', 'warn', 'error'];
const SERVICES = ['api', 'db', 'web', 'auth', 'billing'];

// --- the data: three lanes, one of them big ---------------------------------------------------------
const root = await mkdtemp(join(os.tmpdir(), 'ls-bench-dash-'));
const dirs = { big: join(root, 'big'), small: join(root, 'small'), udp: join(root, 'udp') };
const streams = (n: number) =>
  Object.fromEntries(
    Array.from({ length: n }, (_, i) => [
      String(i + 1),
      { hwm: 10_000 + i, received: 10_000, gaps: i % 7, duplicates: i % 3, reordered: 0 },
    ]),
  );
const bigStats: FakeStats = {
  lane: 'big',
  received: 1_000_000,
  persisted: 999_000,
  rejected: 1000,
  wire: 200 << 20,
  decoded: 400 << 20,
  streams: streams(1000),
  rejects: { invalid_json: 600, missing_field: 400 },
};
await mkdir(dirs.big, { recursive: true });
let seq = 0;
const chunk = (n: number) => {
  let s = '';
  for (let i = 0; i < n; i++, seq++)
    s += recordLine(
      {
        seq,
        level: LEVELS[seq % LEVELS.length]!,
        service: SERVICES[seq % SERVICES.length]!,
        msg: `request ${seq} handled in ${seq % 97} ms`,
      },
      'big',
    );
  return s;
};
const bigFile = join(dirs.big, 'records-000001.ndjson');
while (seq < 220_000) await appendFile(bigFile, chunk(10_000)); // ~43 MiB
await writeFile(
  join(dirs.big, 'rejects.ndjson'),
  Array.from(
    { length: 1000 },
    (_, i) =>
      `${JSON.stringify({ ts: new Date().toISOString(), peer: '127.0.0.1:5000', reason: 'invalid_json', seq: i, sample: '{"oops' })}\n`,
  ).join(''),
);
await writeStats(dirs.big, bigStats);
await writeStats(dirs.small, { lane: 'small', received: 42, persisted: 42, streams: streams(4) });
await writeStats(dirs.udp, { lane: 'udp', transport: 'udp', received: 9000, persisted: 8800, streams: streams(16) });
await mkdir(dirs.small, { recursive: true });
await appendFile(
  join(dirs.small, 'records-000001.ndjson'),
  Array.from({ length: 42 }, (_, i) =>
    recordLine({ seq: i, level: 'info', msg: `hello ${i}`, service: 'api' }, 'small'),
  ).join(''),
);
const fileMiB = Math.round(((await import('node:fs')).statSync(bigFile).size / 2 ** 20) * 10) / 10;

// --- the dashboard as its own process ----------------------------------------------------------------
const dash = startProgram({
  name: 'dashboard',
  file: 'scripts/dashboard.ts',
  args: ['--port', '0', '--refresh-ms', '1000', ...Object.entries(dirs).flatMap(([n, d]) => ['--lane', `${n}=${d}`])],
});
const ready = await dash.ready;
const base = ready.url as string;

let live: NodeJS.Timeout | undefined;
if (args.live) {
  live = setInterval(() => {
    bigStats.received = (bigStats.received ?? 0) + 1000;
    void appendFile(bigFile, chunk(1000)).then(() => writeStats(dirs.big, bigStats));
  }, 100);
}

const endpoints = [
  '/api/health',
  '/api/stats',
  '/api/stats?lane=small',
  '/api/logs?lane=big&limit=100',
  '/api/logs?lane=big&level=error&service=db&limit=100',
  '/api/logs?limit=100',
  '/api/rejects?lane=big&limit=50',
  '/metrics',
];

const results = new Map<string, CannonResult[]>(endpoints.map((e) => [e, []]));
try {
  for (let run = 1; run <= args.runs; run++) {
    for (const ep of endpoints) {
      const r = await autocannon({
        url: new URL(ep, base).href,
        connections: args.connections,
        duration: args.durationS,
      });
      results.get(ep)!.push(r);
      process.stderr.write(
        `run ${run}/${args.runs} ${ep.padEnd(52)} ${Math.round(r.requests.average).toString().padStart(7)} req/s  p99 ${r.latency.p99} ms\n`,
      );
    }
  }
} finally {
  if (live) clearInterval(live);
  await dash.stop('SIGTERM');
  await rm(root, { recursive: true, force: true });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const machine = {
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.availableParallelism(),
  node: process.version,
  os: `${os.type()} ${os.release()}`,
  date: new Date().toISOString(),
};
const rows = endpoints.map((ep) => {
  const rs = results.get(ep)!;
  const rps = rs.map((r) => r.requests.average);
  const p99 = rs.map((r) => r.latency.p99);
  return {
    endpoint: ep,
    reqPerSec: {
      median: Math.round(median(rps)),
      min: Math.round(Math.min(...rps)),
      max: Math.round(Math.max(...rps)),
    },
    p99Ms: { median: median(p99), min: Math.min(...p99), max: Math.max(...p99) },
    kbPerSec: Math.round(median(rs.map((r) => r.throughput.average)) / 1024),
    errors: rs.reduce((a, r) => a + r.errors + r.timeouts + r.non2xx, 0),
  };
});
const lines = [
  `# Dashboard endpoints${args.live ? ' (live: records appended during the run)' : ''}`,
  '',
  `${args.runs} runs × ${args.durationS} s per endpoint, alternating; ${args.connections} connections; autocannon in this process, the dashboard in its own.`,
  `Lanes: big (${fileMiB} MiB records file, 1,000 streams), small, udp. ${machine.cores} cores (${machine.cpu}), Node ${machine.node}, ${machine.date.slice(0, 10)}.`,
  '',
  '| endpoint | req/s median (min–max) | p99 ms median (min–max) | KiB/s | errors |',
  '|---|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| \`${r.endpoint}\` | ${r.reqPerSec.median.toLocaleString('en-US')} (${r.reqPerSec.min.toLocaleString('en-US')}–${r.reqPerSec.max.toLocaleString('en-US')}) | ${r.p99Ms.median} (${r.p99Ms.min}–${r.p99Ms.max}) | ${r.kbPerSec.toLocaleString('en-US')} | ${r.errors} |`,
  ),
];
process.stdout.write(`${lines.join('\n')}\n`);
const outDir = join(REPO_ROOT, args.out);
await mkdir(outDir, { recursive: true });
const name = args.live ? 'dashboard-live' : 'dashboard';
await writeFile(join(outDir, `${name}.md`), `${lines.join('\n')}\n`);
await writeFile(
  join(outDir, `${name}.json`),
  `${JSON.stringify({ machine, runs: args.runs, durationS: args.durationS, connections: args.connections, live: args.live, fileMiB, rows }, null, 2)}\n`,
);
