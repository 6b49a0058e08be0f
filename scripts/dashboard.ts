/**
 * The dashboard on its own, for any set of data dirs:
 *
 *   npx tsx scripts/dashboard.ts --lane day13=data/day13 --lane day12=data/day12 --port 0
 *
 * Follows the process contract (GUIDE §2): first stdout line `{"event":"ready","role":"dashboard",
 * …,"url"}`, `--help`, exit 2 on a bad flag, SIGTERM/SIGINT closes the server and exits 0.
 * The page and its API are described in shared/dashboard/server.ts.
 */
import { InvalidArgumentError } from 'commander';
import { basename } from 'node:path';
import { opt, parseCli, type OptionSpec } from '../shared/cli.ts';
import { startDashboard, type LaneConfig } from '../shared/dashboard/server.ts';
import { createLog } from '../shared/log.ts';
import { announceReady, onShutdown } from '../shared/process.ts';

/** `--lane` may be given many times; commander hands each occurrence to parse, so collect them here. */
function laneOption(): OptionSpec<LaneConfig[]> {
  const lanes: LaneConfig[] = [];
  return {
    flags: '--lane <name=dir>',
    description: 'a lane to show: name=data-dir (or just data-dir: named after it); repeat, or separate with commas',
    parse(raw: string) {
      for (const part of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
        const eq = part.indexOf('=');
        const name = eq > 0 ? part.slice(0, eq) : basename(part);
        const dataDir = eq > 0 ? part.slice(eq + 1) : part;
        if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) throw new InvalidArgumentError(`lane name '${name}' must be 1-64 of A-Z a-z 0-9 . _ -`);
        if (!dataDir) throw new InvalidArgumentError(`'${part}' has no data dir (name=dir)`);
        if (lanes.some((l) => l.name === name)) throw new InvalidArgumentError(`lane '${name}' given twice`);
        lanes.push({ name, dataDir });
      }
      return [...lanes];
    },
  };
}

const args = parseCli({
  name: 'scripts/dashboard.ts',
  summary: 'Live dashboard for one or more receivers, read from their data dirs (stats.json, records, rejects).',
  options: {
    host: opt.string('--host <addr>', 'address to listen on (keep it on loopback: the page shows log contents)', '127.0.0.1'),
    port: opt.int('--port <n>', 'port to listen on (0 = any free port)', 8080, { max: 65535 }),
    lane: laneOption(),
    refreshMs: opt.int('--refresh-ms <n>', 'how often data dirs are read and the page updated', 1000, { min: 50, max: 60_000 }),
    staleMs: opt.int('--stale-ms <n>', 'a lane whose stats.json is older than this shows as down', 3000, { min: 100, max: 600_000 }),
    tailBytes: opt.bytes('--tail-bytes <size>', 'how much of the newest records file is read for the latest records', 256 << 10, { min: 4096, max: 64 << 20 }),
    skipPidCheck: opt.flag('--skip-pid-check', 'do not check the pid in stats.json (receivers in other containers)'),
  },
  validate: (v) => (v.lane?.length ? undefined : 'give at least one --lane name=dir'),
  epilog: 'Example:\n  npx tsx scripts/dashboard.ts --lane tcp=data/day08 --lane tls=data/day13 --port 0\n\nEndpoints: / (page), /api/health, /api/stats, /api/logs, /api/rejects, /api/history, /api/events (SSE), /metrics',
});

const log = createLog('dashboard');
const dashboard = await startDashboard({
  host: args.host,
  port: args.port,
  lanes: args.lane ?? [],
  refreshMs: args.refreshMs,
  staleMs: args.staleMs,
  tailBytes: args.tailBytes,
  checkPid: !args.skipPidCheck,
});
onShutdown(async () => {
  await dashboard.close();
}, { log });
announceReady({ role: 'dashboard', lesson: 'dashboard', transport: 'http', host: dashboard.host, port: dashboard.port, url: dashboard.url, lanes: (args.lane ?? []).map((l) => l.name) });
log.info(`dashboard at ${dashboard.url}`, { lanes: (args.lane ?? []).map((l) => `${l.name}=${l.dataDir}`).join(',') });
