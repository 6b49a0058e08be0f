/**
 * The system peers: programs from Debian packages that some tests drive for real, because a tool nobody
 * here wrote is the honest judge (issue 20.1). Everything else the tests need comes from npm.
 *
 *   peer            Debian package    what needs it
 *   logger          bsdutils          the syslog lane's real clients (checks stack.2, stack.3, syslog tests)
 *   rsyslogd        rsyslog           rsyslog as a client and a server of the syslog lane (stack.3, bench)
 *   rsyslog-gnutls  rsyslog-gnutls    rsyslog's TLS driver (syslog over TLS)
 *   chromium        chromium          the dashboard's browser tests (playwright-core drives it)
 *   nats-server     nats-server       the JetStream cluster of the scale lesson (checks scale.*, the sink)
 *   docker-compose  docker-compose    validates docker/docker-compose.yml (no engine runs here)
 *   promtool        prometheus        Prometheus' own checker of the dashboard's /metrics
 *   bwrap           bubblewrap        the sandbox of the class grader (scripts/grade/sandbox.ts)
 *
 * `npm test` (scripts/test-all.ts) installs what is missing when it can (root with apt-get; promtool is
 * unpacked from Debian's prometheus package into .work/peers/, no root needed), unless LOGSTREAM_NO_APT=1.
 * A test that needs a missing peer is SKIPPED outside CI, with the command that installs it; under
 * CI=true it runs and fails (CI must have everything: `.ci/run`).
 *
 * A peer is looked for in the directories of PATH and their sbin siblings (/usr/bin → /usr/sbin: Debian
 * puts rsyslogd and nats-server there, off a normal user's PATH), so a PATH stripped of the system
 * directories hides every peer (tests/peers.test.ts proves the skip path that way). Overrides:
 * LOGSTREAM_CHROMIUM, NATS_SERVER, DOCKER_COMPOSE, LOGSTREAM_PROMTOOL (a path).
 *
 * Run it: `npx tsx tests/support/peers.ts` lists the peers; `-- --install` installs the missing ones.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { opt, parseCli } from '../../shared/cli.ts';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Where promtool is unpacked (git-ignored, like everything in .work/). */
export const PEERS_CACHE = join(REPO_ROOT, '.work', 'peers');
const CACHED_PROMTOOL = join(PEERS_CACHE, 'prometheus', 'usr', 'bin', 'promtool');

export type PeerId =
  'logger' | 'rsyslogd' | 'rsyslog-gnutls' | 'chromium' | 'nats-server' | 'docker-compose' | 'promtool' | 'bwrap';

export interface Peer {
  id: PeerId;
  /** the Debian package that provides it */
  pkg: string;
  /** what needs it (for messages) */
  usedBy: string;
}

export const PEERS: readonly Peer[] = [
  { id: 'logger', pkg: 'bsdutils', usedBy: 'the syslog lane with real clients' },
  { id: 'rsyslogd', pkg: 'rsyslog', usedBy: 'rsyslog as a syslog client and server' },
  { id: 'rsyslog-gnutls', pkg: 'rsyslog-gnutls', usedBy: 'rsyslog over TLS' },
  { id: 'chromium', pkg: 'chromium', usedBy: 'the dashboard in a browser' },
  { id: 'nats-server', pkg: 'nats-server', usedBy: 'the scale lesson (JetStream)' },
  { id: 'docker-compose', pkg: 'docker-compose', usedBy: 'the compose file checks' },
  { id: 'promtool', pkg: 'prometheus', usedBy: "Prometheus' check of /metrics" },
  { id: 'bwrap', pkg: 'bubblewrap', usedBy: "the class grader's sandbox (scripts/grade/sandbox.ts)" },
];
export const PEER_IDS: readonly PeerId[] = PEERS.map((p) => p.id);

const peer = (id: PeerId): Peer => PEERS.find((p) => p.id === id)!;

/** PATH's directories, each followed by its sbin sibling (/usr/bin → /usr/sbin, /bin → /sbin). */
export function searchDirs(path = process.env.PATH ?? ''): string[] {
  const out: string[] = [];
  for (const d of path.split(delimiter)) {
    if (!d || !isAbsolute(d)) continue;
    out.push(d);
    if (d.endsWith('/bin')) out.push(`${d.slice(0, -'bin'.length)}sbin`);
  }
  return [...new Set(out)];
}

function executable(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** An executable by name in the search dirs, or an override (a path, or a name to search). */
function program(name: string, override: string | undefined): string | undefined {
  if (override)
    return isAbsolute(override) ? (executable(override) ? override : undefined) : program(override, undefined);
  for (const d of searchDirs()) if (executable(join(d, name))) return join(d, name);
  return undefined;
}

/** rsyslog's module directories (Debian's multiarch one first). */
const RSYSLOG_MODULE_DIRS = [
  '/usr/lib/x86_64-linux-gnu/rsyslog',
  '/usr/lib/aarch64-linux-gnu/rsyslog',
  '/usr/lib/rsyslog',
  '/usr/lib64/rsyslog',
];

/** Where a peer is on this machine, or undefined. */
export function findPeer(id: PeerId): string | undefined {
  switch (id) {
    case 'logger':
      return program('logger', undefined);
    case 'rsyslogd':
      return program('rsyslogd', undefined);
    case 'rsyslog-gnutls':
      // a module of rsyslogd: only there when rsyslogd is
      if (!findPeer('rsyslogd')) return undefined;
      return RSYSLOG_MODULE_DIRS.map((d) => join(d, 'lmnsd_gtls.so')).find(existsSync);
    case 'chromium':
      return program('chromium', process.env.LOGSTREAM_CHROMIUM);
    case 'nats-server':
      return program('nats-server', process.env.NATS_SERVER);
    case 'docker-compose':
      return program('docker-compose', process.env.DOCKER_COMPOSE);
    case 'bwrap':
      return program('bwrap', undefined);
    case 'promtool':
      return (
        program('promtool', process.env.LOGSTREAM_PROMTOOL) ??
        (process.env.LOGSTREAM_PROMTOOL ? undefined : executable(CACHED_PROMTOOL) ? CACHED_PROMTOOL : undefined)
      );
  }
}

export function missingPeers(ids: readonly PeerId[] = PEER_IDS): PeerId[] {
  return ids.filter((id) => findPeer(id) === undefined);
}

/** The Debian packages of some peers, each once. */
export function packagesOf(ids: readonly PeerId[]): string[] {
  return [...new Set(ids.map((id) => peer(id).pkg))];
}

/** The one command that installs these peers (what a skipped test tells the user). */
export function installCommand(ids: readonly PeerId[]): string {
  const sudo = process.getuid?.() === 0 ? '' : 'sudo ';
  return `${sudo}apt-get install -y --no-install-recommends ${packagesOf(ids).join(' ')}`;
}

export const IN_CI = (): boolean => process.env.CI === 'true';

export interface PeerNeed {
  /** the peers that are missing */
  missing: PeerId[];
  /** skip: peers are missing and this is not CI (under CI=true a missing peer is a failure) */
  skip: boolean;
  /** "needs nats-server (Debian nats-server): apt-get install …" */
  reason: string;
  /** throws the reason when a peer is missing (the first line of a test or a beforeAll) */
  assert(): void;
}

/** What a test needs: `describe.skipIf(need.skip)(…)` and `need.assert()` in its beforeAll. */
export function needPeers(...ids: PeerId[]): PeerNeed {
  const missing = missingPeers(ids);
  const reason = missing.length
    ? `needs ${missing.join(', ')}, not on this machine: ${installCommand(missing)}${IN_CI() ? ' (CI=true: a missing peer is a failure)' : ''}`
    : '';
  return {
    missing,
    skip: missing.length > 0 && !IN_CI(),
    reason,
    assert() {
      if (missing.length) throw new Error(reason);
    },
  };
}

/**
 * For a check suite (checks/<lesson>.test.ts, whose tests referenceSuite and fixtureSuite name): skips,
 * outside CI, every test whose check ids need a missing peer. A reference test is named `<id> <title>`,
 * a fixture test `… → fails exactly <id>, <id>`; a fixture test in another mode than `named` may run
 * every check of the lesson, so it needs every peer of the map.
 */
export async function skipChecksNeeding(needs: Record<string, PeerId[]>): Promise<void> {
  const { beforeEach } = await import('vitest');
  const all = [...new Set(Object.values(needs).flat())];
  beforeEach((ctx) => {
    if (IN_CI()) return;
    const name = ctx.task.name;
    const fixture = / → fails exactly (.+)$/.exec(name);
    const named = (process.env.CHECKS_FIXTURES ?? 'named') === 'named' && process.env.CHECKS_FIXTURES_FULL !== '1';
    let ids: PeerId[];
    if (fixture) ids = named ? fixture[1]!.split(/,\s*/).flatMap((id) => needs[id] ?? []) : all;
    else ids = needs[name.split(' ')[0]!] ?? [];
    const need = needPeers(...new Set(ids));
    if (need.skip) ctx.skip(need.reason);
  });
}

/** `promtool check metrics` on an exposition (stdin): exit 0 and no output is Prometheus' clean bill. */
export function promtoolCheck(text: string): { status: number | null; output: string } {
  const bin = findPeer('promtool');
  if (!bin) throw new Error(needPeers('promtool').reason);
  const r = spawnSync(bin, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

// ---- installing ----------------------------------------------------------------------------------------

export interface InstallResult {
  /** what was tried, one line each */
  did: string[];
  /** still missing afterwards */
  missing: PeerId[];
}

/**
 * Installs missing peers where it can: as root with apt-get, `apt-get install` the packages; promtool is
 * unpacked from `apt-get download prometheus` into .work/peers/ (no root, no Prometheus server set up).
 * LOGSTREAM_NO_APT=1: nothing is installed. `say` gets one line before anything is run.
 */
export function installPeers(ids: readonly PeerId[], say: (line: string) => void): InstallResult {
  const did: string[] = [];
  let missing = missingPeers(ids);
  if (!missing.length || process.env.LOGSTREAM_NO_APT === '1') return { did, missing };
  const aptGet = program('apt-get', undefined);
  if (!aptGet) return { did, missing };
  const root = process.getuid?.() === 0;
  const viaApt = root ? missing.filter((id) => id !== 'promtool') : [];
  const unpack = missing.includes('promtool') && program('dpkg-deb', undefined) !== undefined;
  if (!viaApt.length && !unpack) return { did, missing };
  const pkgs = packagesOf(viaApt);
  say(
    `▶ installing the system peers the tests need: ${[pkgs.length ? `apt-get install ${pkgs.join(' ')}` : '', unpack ? "promtool from Debian's prometheus package into .work/peers/" : ''].filter(Boolean).join('; ')} (LOGSTREAM_NO_APT=1 turns this off)`,
  );
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const run = (args: string[], cwd?: string) =>
    spawnSync(aptGet, args, { stdio: ['ignore', 'ignore', 'pipe'], env, encoding: 'utf8', ...(cwd ? { cwd } : {}) });
  if (root) {
    const u = run(['update', '-qq']);
    did.push(`apt-get update: exit ${u.status}`);
  }
  if (pkgs.length) {
    const r = run(['install', '-y', '-qq', '--no-install-recommends', ...pkgs]);
    did.push(
      `apt-get install ${pkgs.join(' ')}: exit ${r.status}${r.status ? ` ${r.stderr.trim().split('\n').slice(-2).join(' ')}` : ''}`,
    );
  }
  if (unpack) did.push(unpackPromtool(run));
  missing = missingPeers(ids);
  return { did, missing };
}

/** `apt-get download prometheus`, then only ./usr/bin/promtool out of the .deb into the cache. */
function unpackPromtool(run: (args: string[], cwd?: string) => ReturnType<typeof spawnSync>): string {
  mkdirSync(PEERS_CACHE, { recursive: true });
  const tmp = mkdtempSync(join(PEERS_CACHE, 'dl-'));
  try {
    const dl = run(['download', '-qq', 'prometheus'], tmp);
    const deb = readdirSync(tmp).find((f) => f.endsWith('.deb'));
    if (dl.status !== 0 || !deb)
      return `apt-get download prometheus: exit ${dl.status} ${
        String(dl.stderr ?? '')
          .trim()
          .split('\n')
          .slice(-1)[0] ?? ''
      }`;
    const dest = dirname(dirname(dirname(CACHED_PROMTOOL)));
    mkdirSync(dest, { recursive: true });
    const x = spawnSync(
      'sh',
      ['-c', 'dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" ./usr/bin/promtool', 'sh', join(tmp, deb), dest],
      { encoding: 'utf8' },
    );
    return `promtool from ${deb}: ${x.status === 0 && executable(CACHED_PROMTOOL) ? CACHED_PROMTOOL : `failed (${x.stderr.trim()})`}`;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

// ---- CLI ---------------------------------------------------------------------------------------------

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  // the one CLI layer (issue 22.5): --help, an unknown flag exits 2, LOGSTREAM_INSTALL=1 works as --install
  const args = parseCli({
    name: 'tests/support/peers.ts',
    summary:
      'Lists the system peers the tests drive (found or missing, and what needs each); exit 1 if any is missing.',
    options: {
      install: opt.flag('--install', 'install the missing ones first (root with apt-get; promtool unpacked)'),
    },
  });
  if (args.install) {
    const r = installPeers(PEER_IDS, (l) => console.log(l));
    for (const d of r.did) console.log(`  ${d}`);
  }
  for (const p of PEERS)
    console.log(
      `${(findPeer(p.id) ? '✓' : '✗').padEnd(2)}${p.id.padEnd(16)}${(findPeer(p.id) ?? `missing (Debian ${p.pkg})`).padEnd(52)}${p.usedBy}`,
    );
  const missing = missingPeers();
  if (missing.length) console.log(`\nInstall: ${installCommand(missing)}`);
  process.exitCode = missing.length ? 1 : 0;
}
