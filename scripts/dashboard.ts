/**
 * The dashboard on its own, for any set of data dirs:
 *
 *   npx tsx scripts/dashboard.ts --lane day13=data/day13 --lane day12=data/day12 --port 0
 *
 * Follows the process contract (CONVENTIONS.md §2): first stdout line `{"event":"ready","role":"dashboard",
 * …,"url","auth"}`, `--help`, exit 2 on a bad flag, SIGTERM/SIGINT closes the server and exits 0.
 * The page and its API are described in shared/dashboard/server.ts.
 *
 * Who may read (issue 17.2): on loopback, anyone on this host (as before). Off loopback (`--host` not
 * 127.x/::1/localhost) it serves only to a bearer token — `--token`, `--token-file`, or else one made on
 * the first start in `<state-dir>/dashboard-token` (mode 0600, printed once on stderr, reused after) — or,
 * with `--mtls`, to a client certificate from the lab's CA (HTTPS with `<certs>/server.crt`). Without
 * either it does not start. `--require-auth` asks for them on loopback too.
 */
import { InvalidArgumentError } from 'commander';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { MS_RANGE, opt, parseCli, type OptionSpec } from '../shared/cli.ts';
import {
  DashboardError,
  isLoopback,
  MIN_TOKEN_LENGTH,
  startDashboard,
  type DashboardOptions,
  type LaneConfig,
} from '../shared/dashboard/server.ts';
import { ensureCerts } from '../shared/tls/certs.ts';
import { createLog } from '../shared/log.ts';
import { announceReady, onShutdown } from '../shared/process.ts';

/** `--lane` may be given many times; commander hands each occurrence to parse, so collect them here. */
function laneOption(): OptionSpec<LaneConfig[]> {
  const lanes: LaneConfig[] = [];
  return {
    flags: '--lane <name=dir>',
    description: 'a lane to show: name=data-dir (or just data-dir: named after it); repeat, or separate with commas',
    parse(raw: string) {
      for (const part of raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)) {
        const eq = part.indexOf('=');
        const name = eq > 0 ? part.slice(0, eq) : basename(part);
        const dataDir = eq > 0 ? part.slice(eq + 1) : part;
        if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name))
          throw new InvalidArgumentError(`lane name '${name}' must be 1-64 of A-Z a-z 0-9 . _ -`);
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
    host: opt.string(
      '--host <addr>',
      'address to listen on (keep it on loopback: the page shows log contents)',
      '127.0.0.1',
    ),
    port: opt.int('--port <n>', 'port to listen on (0 = any free port)', 8080, { max: 65535 }),
    lane: laneOption(),
    refreshMs: opt.int('--refresh-ms <n>', 'how often data dirs are read and the page updated', 1000, {
      min: 50,
      max: 60_000,
    }),
    staleMs: opt.int(
      '--stale-ms <n>',
      'a lane whose stats.json is older than this shows as down',
      3000,
      MS_RANGE.patience,
    ),
    tailBytes: opt.bytes(
      '--tail-bytes <size>',
      'how much of the newest records file is read for the latest records',
      256 << 10,
      { min: 4096, max: 64 << 20 },
    ),
    skipPidCheck: opt.flag('--skip-pid-check', 'do not check the pid in stats.json (receivers in other containers)'),
    token: opt.string(
      '--token <token>',
      `off loopback: the bearer token every request must carry (at least ${MIN_TOKEN_LENGTH} characters; visible in ps: prefer --token-file or LOGSTREAM_TOKEN)`,
    ),
    tokenFile: opt.string('--token-file <file>', 'off loopback: read the bearer token from this file'),
    stateDir: opt.string(
      '--state-dir <dir>',
      "the dashboard's own files: off loopback without --token/--token-file/--mtls, a token is made here on the first start (dashboard-token, mode 0600, printed once) and reused after",
      'data/dashboard',
    ),
    requireAuth: opt.flag('--require-auth', 'ask for the token (or client certificate) on loopback too'),
    mtls: opt.flag(
      '--mtls',
      'serve HTTPS with <certs>/server.crt and accept a client certificate signed by <certs>/ca.crt in place of the token',
    ),
    certs: opt.string(
      '--certs <dir>',
      "with --mtls: the lab's certificates (made there on the first run when missing)",
      'certs',
    ),
  },
  validate: (v) => {
    if (!v.lane?.length) return 'give at least one --lane name=dir';
    if (v.token !== undefined && v.tokenFile !== undefined) return '--token and --token-file: give one';
    if (v.token !== undefined && v.token.length < MIN_TOKEN_LENGTH)
      return `--token is ${v.token.length} characters: give at least ${MIN_TOKEN_LENGTH}`;
    return undefined;
  },
  epilog:
    'Example:\n  npx tsx scripts/dashboard.ts --lane tcp=data/day08 --lane tls=data/day13 --port 0\n\nEndpoints: / (page), /api/health, /api/stats, /api/logs, /api/rejects, /api/history, /api/events (SSE), /metrics',
});

const log = createLog('dashboard');
const NAME = 'scripts/dashboard.ts';

/** One line on stderr naming what to do, exit 2 (the process contract's "bad value"). */
function refuse(message: string): never {
  process.stderr.write(`${NAME}: ${message}\n`);
  process.exit(2);
}

/** The token kept in the data dir: made on the first start (mode 0600, printed once), read after. */
async function keptToken(dir: string): Promise<{ token: string; file: string }> {
  const file = join(dir, 'dashboard-token');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    const fh = await open(file, 'wx', 0o600);
    const token = randomBytes(32).toString('base64url');
    try {
      await fh.writeFile(`${token}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    process.stderr.write(
      `${NAME}: dashboard token (made now, kept in ${file} with mode 0600; printed this once): ${token}\n`,
    );
    return { token, file };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const mode = (await stat(file)).mode & 0o777;
  if (mode & 0o077)
    refuse(
      `${file} has mode ${mode.toString(8).padStart(4, '0')}: a token others can read is no secret (chmod 600 ${file})`,
    );
  return { token: (await readFile(file, 'utf8')).trim(), file };
}

const offLoopback = !isLoopback(args.host);
const wantAuth = offLoopback || args.requireAuth;
let token = args.token;
let tokenFrom = token !== undefined ? '--token' : undefined;
if (args.tokenFile !== undefined) {
  token = (
    await readFile(args.tokenFile, 'utf8').catch((err: Error) =>
      refuse(`--token-file ${args.tokenFile}: ${err.message}`),
    )
  ).trim();
  if (token.length < MIN_TOKEN_LENGTH)
    refuse(
      `--token-file ${args.tokenFile}: the token is ${token.length} characters, give at least ${MIN_TOKEN_LENGTH}`,
    );
  tokenFrom = args.tokenFile;
} else if (wantAuth && token === undefined && !args.mtls) {
  const kept = await keptToken(args.stateDir).catch((err: Error) =>
    refuse(
      `cannot keep a token in --state-dir ${args.stateDir} (${err.message}): give --token-file, or a writable --state-dir; the dashboard never serves off loopback without one`,
    ),
  );
  token = kept.token;
  tokenFrom = kept.file;
}
const tlsOpts: DashboardOptions['tls'] = args.mtls
  ? await (async () => {
      const certs = await ensureCerts(args.certs);
      const [cert, key, clientCa] = await Promise.all([
        readFile(certs.server.cert),
        readFile(certs.server.key),
        readFile(certs.ca.cert),
      ]);
      return { cert, key, clientCa };
    })()
  : undefined;

let dashboard: Awaited<ReturnType<typeof startDashboard>>;
try {
  dashboard = await startDashboard({
    host: args.host,
    port: args.port,
    lanes: args.lane ?? [],
    refreshMs: args.refreshMs,
    staleMs: args.staleMs,
    tailBytes: args.tailBytes,
    checkPid: !args.skipPidCheck,
    ...(token !== undefined ? { token } : {}),
    requireAuth: wantAuth,
    ...(tlsOpts ? { tls: tlsOpts } : {}),
  });
} catch (err) {
  if (err instanceof DashboardError) refuse(err.message);
  throw err;
}
const d = dashboard;
onShutdown(
  async () => {
    await d.close();
  },
  { log },
);
const auth = !d.requireAuth
  ? 'none'
  : [token !== undefined ? 'token' : '', args.mtls ? 'client-certificate' : ''].filter(Boolean).join('+');
announceReady({
  role: 'dashboard',
  lesson: 'dashboard',
  transport: args.mtls ? 'https' : 'http',
  host: d.host,
  port: d.port,
  url: d.url,
  lanes: (args.lane ?? []).map((l) => l.name),
  auth,
  ...(tokenFrom && d.requireAuth ? { tokenFrom } : {}),
});
log.info(`dashboard at ${d.url}${d.requireAuth ? ` (asks who you are: ${auth})` : ''}`, {
  lanes: (args.lane ?? []).map((l) => `${l.name}=${l.dataDir}`).join(','),
});
