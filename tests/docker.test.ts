// docker/: one Dockerfile and a compose file running the integrated stack (issue 9 §4). No Docker engine
// runs here, so this checks everything short of `docker compose up`:
//   - `docker-compose config` (Debian's docker-compose 1.29) accepts the file;
//   - every service runs the same build and image, has a healthcheck (one-shot init services excepted),
//     no host port is published twice, ports match COURSE.md, receivers listen on 0.0.0.0, the
//     dashboard reads every lane's data dir from the same volume;
//   - every service's entry point + command is a valid program: run from this checkout with --help → 0;
//   - the long-running services' commands really start (ports → 0, on loopback, in a temp dir standing
//     in for /app) and their own healthcheck commands report healthy, then unhealthy once stopped;
//   - the Dockerfile is node:20/22-slim with `npm ci` and copies every file a command names.
// Each checker is a pure function over the parsed file, and is shown to fail on a modified copy.
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../checks/harness/assert.ts';
import { REPO_ROOT } from '../scripts/lib/launch.ts';

const COMPOSE_FILE = join(REPO_ROOT, 'docker/docker-compose.yml');
const DOCKERFILE = join(REPO_ROOT, 'docker/Dockerfile');
const DOCKER_COMPOSE = process.env.DOCKER_COMPOSE ?? '/usr/bin/docker-compose';
const HAVE_COMPOSE = existsSync(DOCKER_COMPOSE);
if (!HAVE_COMPOSE) {
  if (process.env.CI === 'true') throw new Error(`${DOCKER_COMPOSE} is missing: .ci/run installs Debian's docker-compose`);
  console.warn(`tests/docker.test.ts: skipping the compose checks: ${DOCKER_COMPOSE} is missing (apt-get install docker-compose)`);
}

/** COURSE.md's ports table: host port/protocol → the service that publishes it. */
const COURSE_PORTS: Record<string, string> = {
  '5140/tcp': 'day08',
  '5141/tcp': 'day09',
  '5142/udp': 'day10',
  '5143/tcp': 'day11',
  '5144/tcp': 'day12',
  '5145/tcp': 'day13',
  '5146/tcp': 'day14',
  '5514/udp': 'syslog',
  '5514/tcp': 'syslog',
  '6514/tcp': 'syslog',
  '8080/tcp': 'dashboard',
};

/** COURSE.md's "## Ports" table as the same map: `| day 08 NDJSON | 5140 | TCP |` → 5140/tcp: day08. */
function coursePorts(markdown: string): Record<string, string> {
  const section = markdown.split(/^## /m).find((s) => s.startsWith('Ports')) ?? '';
  const out: Record<string, string> = {};
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const [, lane = '', portsCell = '', transportCell = ''] = cells;
    if (!/^\d/.test(portsCell)) continue;
    const day = /^day (\d\d)/.exec(lane);
    const name = day ? `day${day[1]}` : lane.split(/\s/)[0]!;
    const transports = transportCell.split('/').map((t) => (/^\s*UDP/i.test(t) ? 'udp' : 'tcp'));
    portsCell.split('/').forEach((p, i) => (out[`${p.trim()}/${transports[i] ?? transports[0]}`] = name));
  }
  return out;
}

// ---- the compose file, as `docker-compose config` normalises it -------------------------------------

type PortSpec = string | number | { target: number; published?: number | string; protocol?: string; host_ip?: string };
interface Service {
  build?: { context?: string; dockerfile?: string } | string;
  image?: string;
  entrypoint?: string[] | string;
  command?: string[] | string;
  healthcheck?: { test?: string[] | string; disable?: boolean };
  ports?: PortSpec[];
  volumes?: Array<string | { source?: string; target?: string; read_only?: boolean }>;
  depends_on?: Record<string, { condition?: string }> | string[];
  profiles?: string[];
  restart?: string;
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

/** Runs `docker-compose config` on a file and returns it parsed; throws with compose's own message when it is invalid. */
async function composeConfig(file: string): Promise<Compose> {
  const r = await execa(DOCKER_COMPOSE, ['-f', file, '--profile', 'load', 'config'], { cwd: dirname(file), reject: false, env: { COMPOSE_PROJECT_NAME: 'logstream-test' } });
  if (r.exitCode !== 0) throw new Error(`docker-compose config rejected ${file} (exit ${r.exitCode}): ${r.stderr.trim()}`);
  // YAML → JSON with the interpreter docker-compose itself runs on: it always has PyYAML.
  const python = /^#!\s*(\S+)/.exec(readFileSync(DOCKER_COMPOSE, 'utf8').slice(0, 200))?.[1] ?? 'python3';
  const j = await execa(python, ['-c', 'import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], { input: r.stdout });
  return JSON.parse(j.stdout) as Compose;
}

const asArgv = (v: string[] | string | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : v.split(/\s+/).filter(Boolean));

/** Services another service waits for with `service_completed_successfully`: one-shot init jobs. */
function oneShotServices(c: Compose): Set<string> {
  const out = new Set<string>();
  for (const s of Object.values(c.services)) {
    if (s.depends_on && !Array.isArray(s.depends_on)) {
      for (const [dep, cond] of Object.entries(s.depends_on)) if (cond.condition === 'service_completed_successfully') out.add(dep);
    }
  }
  return out;
}

function sameImageProblems(c: Compose): string[] {
  const problems: string[] = [];
  const key = (s: Service) => JSON.stringify({ build: s.build ?? null, image: s.image ?? null });
  const entries = Object.entries(c.services);
  const first = entries[0];
  if (!first) return ['no services'];
  for (const [name, s] of entries) {
    if (!s.build) problems.push(`${name}: no build (every service builds docker/Dockerfile)`);
    if (!s.image) problems.push(`${name}: no image name`);
    if (key(s) !== key(first[1])) problems.push(`${name}: build/image ${key(s)} differs from ${first[0]}'s ${key(first[1])}`);
  }
  const dockerfile = typeof first[1].build === 'object' ? first[1].build.dockerfile : undefined;
  if (dockerfile !== 'docker/Dockerfile') problems.push(`build.dockerfile is ${dockerfile}, expected docker/Dockerfile`);
  return problems;
}

function healthcheckProblems(c: Compose): string[] {
  const oneShot = oneShotServices(c);
  const problems: string[] = [];
  for (const [name, s] of Object.entries(c.services)) {
    if (oneShot.has(name)) continue;
    const test = asArgv(s.healthcheck?.test);
    if (!s.healthcheck || s.healthcheck.disable || test.length === 0 || test[0] === 'NONE') problems.push(`${name}: no healthcheck`);
    else if (/\bcurl\b|\bwget\b/.test(test.join(' '))) problems.push(`${name}: the healthcheck uses curl/wget, which node:*-slim does not have`);
  }
  return problems;
}

interface Published {
  service: string;
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: string;
}

function publishedPorts(c: Compose): Published[] {
  const out: Published[] = [];
  for (const [service, s] of Object.entries(c.services)) {
    for (const p of s.ports ?? []) {
      if (typeof p === 'object') {
        out.push({ service, hostIp: p.host_ip ?? '', hostPort: Number(p.published ?? p.target), containerPort: p.target, protocol: p.protocol ?? 'tcp' });
        continue;
      }
      const [spec, protocol = 'tcp'] = String(p).split('/');
      const parts = spec!.split(':');
      const containerPort = Number(parts.pop());
      const hostPort = parts.length ? Number(parts.pop()) : NaN;
      out.push({ service, hostIp: parts.join(':'), hostPort, containerPort, protocol });
    }
  }
  return out;
}

function portProblems(c: Compose): string[] {
  const problems: string[] = [];
  const ports = publishedPorts(c);
  for (const p of ports) if (!Number.isInteger(p.hostPort)) problems.push(`${p.service}: container port ${p.containerPort}/${p.protocol} has no fixed host port`);
  for (const [i, a] of ports.entries()) {
    for (const b of ports.slice(i + 1)) {
      const ipsOverlap = a.hostIp === b.hostIp || ['', '0.0.0.0'].includes(a.hostIp) || ['', '0.0.0.0'].includes(b.hostIp);
      if (a.hostPort === b.hostPort && a.protocol === b.protocol && ipsOverlap) problems.push(`host port ${a.hostPort}/${a.protocol} is published by both ${a.service} and ${b.service}`);
    }
  }
  // The same ports as COURSE.md and `npm start`, each container port one the command listens on.
  const seen = new Map(ports.map((p) => [`${p.hostPort}/${p.protocol}`, p]));
  for (const [port, service] of Object.entries(COURSE_PORTS)) {
    const p = seen.get(port);
    if (!p) problems.push(`COURSE.md's port ${port} (${service}) is not published`);
    else if (p.service !== service) problems.push(`port ${port} is published by ${p.service}, COURSE.md gives it to ${service}`);
  }
  for (const p of ports) {
    const listens = listenPorts(asArgv(c.services[p.service]?.command));
    if (!listens.includes(p.containerPort)) problems.push(`${p.service}: publishes container port ${p.containerPort} but its command listens on ${listens.join(', ') || 'no fixed port'}`);
  }
  return problems;
}

const PORT_FLAGS = ['--port', '--udp-port', '--tcp-port', '--tls-port'];
function listenPorts(argv: string[]): number[] {
  return argv.flatMap((a, i) => (PORT_FLAGS.includes(a) ? [Number(argv[i + 1])] : []));
}

const flagValue = (argv: string[], flag: string) => {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
};

/** Receivers listen on every interface inside their container; the dashboard reads each lane's dir from the same volume. */
function wiringProblems(c: Compose): string[] {
  const problems: string[] = [];
  const mountOf = (s: Service, target: string) =>
    (s.volumes ?? []).map((v) => (typeof v === 'string' ? { source: v.split(':')[0], target: v.split(':')[1] } : v)).find((v) => v.target === target);
  const dash = c.services.dashboard;
  const dashArgv = asArgv(dash?.command);
  const dashLanes = new Map(
    dashArgv
      .flatMap((a, i) => (dashArgv[i - 1] === '--lane' ? a.split(',') : []))
      .map((part) => [part.slice(0, part.indexOf('=')), part.slice(part.indexOf('=') + 1)] as const),
  );
  if (!dash) problems.push('no dashboard service');
  else if (!dashArgv.includes('--skip-pid-check')) problems.push('dashboard: receivers run in other containers, so it needs --skip-pid-check');
  for (const [name, s] of Object.entries(c.services)) {
    const argv = asArgv(s.command);
    if (s.ports?.length && flagValue(argv, '--host') !== '0.0.0.0') problems.push(`${name}: publishes ports but its command does not say --host 0.0.0.0`);
    const dataDir = flagValue(argv, '--data-dir');
    if (!dataDir) continue;
    const mount = mountOf(s, '/app/data');
    if (!mount) problems.push(`${name}: --data-dir ${dataDir} is not on the data volume (/app/data)`);
    if (!dataDir.startsWith('data/')) problems.push(`${name}: --data-dir ${dataDir} is outside /app/data`);
    if (dashLanes.get(name) !== dataDir) problems.push(`dashboard: lane ${name} should read ${dataDir}, has ${dashLanes.get(name) ?? 'nothing'}`);
    if (dash && mount && mountOf(dash, '/app/data')?.source !== mount.source) problems.push(`dashboard: does not mount ${name}'s data volume at /app/data`);
  }
  return problems;
}

// ---- the Dockerfile -----------------------------------------------------------------------------------

interface Dockerfile {
  from: string[];
  runs: string[];
  copies: string[];
  entrypoint: string[];
}

function parseDockerfile(text: string): Dockerfile {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const args = (kw: string) => lines.filter((l) => l.toUpperCase().startsWith(`${kw} `)).map((l) => l.slice(kw.length + 1).trim());
  const ep = args('ENTRYPOINT').at(-1);
  return {
    from: args('FROM'),
    runs: args('RUN'),
    copies: args('COPY').flatMap((c) => c.split(/\s+/).filter((w) => !w.startsWith('--')).slice(0, -1)),
    entrypoint: ep === undefined ? [] : ep.startsWith('[') ? (JSON.parse(ep) as string[]) : ['/bin/sh', '-c', ep],
  };
}

/** What each service runs: its entrypoint (or the image's) followed by its command. */
function serviceArgv(s: Service, image: Dockerfile): string[] {
  return [...(s.entrypoint !== undefined ? asArgv(s.entrypoint) : image.entrypoint), ...asArgv(s.command)];
}

function dockerfileProblems(d: Dockerfile, c?: Compose): string[] {
  const problems: string[] = [];
  if (d.from.length !== 1 || !/^node:(20|22)(\.[\d.]+)?-(bookworm-|bullseye-|trixie-)?slim$/.test(d.from[0]!.split(/\s+/)[0]!)) problems.push(`FROM ${d.from.join(' / ')}: expected one node:20-slim or node:22-slim stage`);
  if (!d.runs.some((r) => /\bnpm ci\b/.test(r))) problems.push('no `npm ci` (the lockfile decides what is installed)');
  if (d.runs.some((r) => /\bnpm (install|i)\b/.test(r))) problems.push('`npm install` may change the lockfile: use `npm ci`');
  if (!d.entrypoint.length) problems.push('no ENTRYPOINT: services name only the program to run');
  // Every file a service or healthcheck runs must be inside what the image copies.
  for (const [name, s] of Object.entries(c?.services ?? {})) {
    const files = [...serviceArgv(s, d), ...asArgv(s.healthcheck?.test)].filter((a) => /^(lessons|scripts|shared|docker|checks)\/.*\.(ts|mjs|js)$/.test(a));
    for (const f of files) {
      if (!existsSync(join(REPO_ROOT, f))) problems.push(`${name}: ${f} is not in this checkout`);
      else if (!d.copies.some((src) => f === src || f.startsWith(`${src.replace(/\/$/, '')}/`))) problems.push(`${name}: ${f} is not copied into the image`);
    }
  }
  return problems;
}

// ---- running a service's command from this checkout -------------------------------------------------

/** The container's argv as a local one: `node` is this node; with `inDir`, programs resolve from the repo. */
function localArgv(argv: string[], inDir = false): string[] {
  return argv.map((a, i) => {
    if (i === 0 && a === 'node') return process.execPath;
    if (inDir && /^(lessons|scripts|shared|docker)\//.test(a) && existsSync(join(REPO_ROOT, a))) return join(REPO_ROOT, a);
    return a;
  });
}

async function helpExit(argv: string[]): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }> {
  const [cmd, ...rest] = localArgv(argv);
  const r = await execa(cmd!, [...rest, '--help'], { cwd: REPO_ROOT, reject: false, timeout: 60_000 });
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

/** Runs n at a time (2 cores, shared). */
async function limited<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

// ---- the tests ------------------------------------------------------------------------------------------

let compose: Compose;
let dockerfile: Dockerfile;
let composeText: string;
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'ls-docker-'));
  composeText = await readFile(COMPOSE_FILE, 'utf8');
  dockerfile = parseDockerfile(await readFile(DOCKERFILE, 'utf8'));
  if (HAVE_COMPOSE) compose = await composeConfig(COMPOSE_FILE);
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** A modified copy of the compose file, validated by docker-compose like the real one. */
async function modifiedCopy(name: string, from: string, to: string): Promise<Compose> {
  expect(composeText, `the text to modify (${from}) is in the compose file`).toContain(from);
  const file = join(scratch, `${name}.yml`);
  await writeFile(file, composeText.replace(from, to).replace('context: ..', `context: ${REPO_ROOT}`));
  return composeConfig(file);
}

describe('COURSE.md', () => {
  it("has the ports table these checks hold the compose file to", async () => {
    expect(coursePorts(await readFile(join(REPO_ROOT, 'COURSE.md'), 'utf8'))).toEqual(COURSE_PORTS);
    expect(coursePorts('## Ports\n| day 08 NDJSON | 5150 | TCP |\n')).toEqual({ '5150/tcp': 'day08' });
  });
});

describe('docker/Dockerfile', () => {
  it('is one node:20-slim (or 22) stage with npm ci, an entrypoint, and copies what the services run', () => {
    expect(dockerfileProblems(dockerfile, HAVE_COMPOSE ? compose : undefined)).toEqual([]);
  });

  it('the checker fails a non-slim image, npm install, and a service file the image lacks', () => {
    const bad = parseDockerfile('FROM node:20\nRUN npm install\nCOPY shared ./shared\nENTRYPOINT ["node", "--import", "tsx"]\n');
    const problems = dockerfileProblems(bad, { services: { day08: { command: ['lessons/day08/receiver.ts'] }, day09: { command: ['shared/no-such.ts'] } } });
    expect(problems).toContain('day09: shared/no-such.ts is not in this checkout');
    expect(problems.some((p) => p.startsWith('FROM node:20'))).toBe(true);
    expect(problems.some((p) => p.includes('npm install'))).toBe(true);
    expect(problems.some((p) => p.includes('no `npm ci`'))).toBe(true);
    expect(problems).toContain('day08: lessons/day08/receiver.ts is not copied into the image');
  });
});

describe.skipIf(!HAVE_COMPOSE)('docker/docker-compose.yml', () => {
  it('is accepted by docker-compose config, with every lane, syslog, the dashboard, certs and the load generator', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['certs', 'dashboard', 'day08', 'day09', 'day10', 'day11', 'day12', 'day13', 'day14', 'loadgen', 'syslog']);
    expect(compose.services.loadgen?.profiles, 'the load generator starts only with --profile load').toEqual(['load']);
    expect(Object.keys(compose.volumes ?? {}).sort()).toEqual(['certs', 'data']);
  });

  it('runs one build and one image everywhere', () => {
    expect(sameImageProblems(compose)).toEqual([]);
  });

  it('gives every service a healthcheck except the one-shot certs init', () => {
    expect([...oneShotServices(compose)]).toEqual(['certs']);
    expect(healthcheckProblems(compose)).toEqual([]);
  });

  it("publishes COURSE.md's ports, none twice, each one its command listens on", () => {
    expect(portProblems(compose)).toEqual([]);
  });

  it('binds receivers to 0.0.0.0 and points the dashboard at every lane data dir on the shared volume', () => {
    expect(wiringProblems(compose)).toEqual([]);
  });

  it('every service command is a valid entry point: run from this checkout with --help it exits 0', async () => {
    const results = await limited(Object.entries(compose.services), 3, async ([name, s]) => ({ name, argv: serviceArgv(s, dockerfile), ...(await helpExit(serviceArgv(s, dockerfile))) }));
    const bad = results.filter((r) => r.exitCode !== 0 || !/usage/i.test(r.stdout));
    expect(bad.map((r) => `${r.name}: ${r.argv.join(' ')} --help → exit ${r.exitCode}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`)).toEqual([]);
  }, 180_000);

  describe('the checks fail on broken copies', () => {
    it('docker-compose config rejects an invalid file', async () => {
      await expect(modifiedCopy('invalid', '"127.0.0.1:5140:5140/tcp"', '"127.0.0.1:51x40:5140/tcp"')).rejects.toThrow(/docker-compose config rejected/);
    });

    it('a service with a bogus command fails the --help run', async () => {
      const c = await modifiedCopy('bogus-command', 'lessons/day09/receiver.ts', 'lessons/day09/no-such-receiver.ts');
      const r = await helpExit(serviceArgv(c.services.day09!, dockerfile));
      expect(r.exitCode).not.toBe(0);
      expect(dockerfileProblems(dockerfile, c)).toContain('day09: lessons/day09/no-such-receiver.ts is not in this checkout');
    });

    it('a host port published twice, or one the command does not listen on, is found', async () => {
      const c = await modifiedCopy('port-twice', '"127.0.0.1:5141:5141/tcp"', '"127.0.0.1:5140:5141/tcp"');
      const problems = portProblems(c);
      expect(problems).toContain('host port 5140/tcp is published by both day08 and day09');
      expect(problems).toContain("COURSE.md's port 5141/tcp (day09) is not published");
      const c2 = await modifiedCopy('port-mismatch', '"127.0.0.1:5143:5143/tcp"', '"127.0.0.1:5143:5999/tcp"');
      expect(portProblems(c2)).toContain('day11: publishes container port 5999 but its command listens on 5143');
    });

    it('another image, a missing healthcheck, a loopback bind or a lane the dashboard misses is found', () => {
      const c = JSON.parse(JSON.stringify(compose)) as Compose;
      c.services.day10!.image = 'something-else:latest';
      delete c.services.day11!.healthcheck;
      c.services.day12!.command = asArgv(c.services.day12!.command).map((a) => (a === '0.0.0.0' ? '127.0.0.1' : a));
      c.services.dashboard!.command = asArgv(c.services.dashboard!.command).map((a) => a.replace('day13=data/day13,', ''));
      expect(sameImageProblems(c).some((p) => p.startsWith('day10: build/image'))).toBe(true);
      expect(healthcheckProblems(c)).toEqual(['day11: no healthcheck']);
      const wiring = wiringProblems(c);
      expect(wiring).toContain('day12: publishes ports but its command does not say --host 0.0.0.0');
      expect(wiring).toContain('dashboard: lane day13 should read data/day13, has nothing');
    });
  });

  describe('the long-running services start for real and their healthchecks tell', () => {
    interface Running {
      name: string;
      proc: ReturnType<typeof execa>;
      ready: Promise<Record<string, unknown>>;
      stderr: string[];
    }
    const running: Running[] = [];
    let app: string;

    /** Ports → 0 and host → loopback: tests never take fixed ports or leave loopback. */
    const forTest = (argv: string[]) => argv.map((a, i) => (PORT_FLAGS.includes(argv[i - 1] ?? '') ? '0' : argv[i - 1] === '--host' ? '127.0.0.1' : a));

    function start(name: string, argv: string[]): Running {
      const [cmd, ...rest] = localArgv(forTest(argv), true);
      const proc = execa(cmd!, rest, { cwd: app, reject: false, buffer: false, stdin: 'ignore' });
      const stderr: string[] = [];
      createInterface({ input: proc.stderr! }).on('line', (l) => stderr.push(l) > 30 && stderr.shift());
      const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
        createInterface({ input: proc.stdout! }).on('line', (l) => {
          if (!l.startsWith('{')) return;
          const ev = JSON.parse(l) as Record<string, unknown>;
          if (ev.event === 'ready') resolve(ev);
        });
        void proc.then((r) => reject(new Error(`${name} exited ${r.exitCode ?? r.signal} before its ready line: ${stderr.slice(-5).join(' | ')}`)));
      });
      ready.catch(() => {});
      const r = { name, proc, ready, stderr };
      running.push(r);
      return r;
    }

    async function healthcheck(s: Service, urlPort?: number) {
      const test = asArgv(s.healthcheck?.test).filter((a, i) => !(i === 0 && (a === 'CMD' || a === 'CMD-SHELL')));
      const argv = urlPort === undefined ? test : test.map((a) => a.replace(/:\d+\//, `:${urlPort}/`));
      const [cmd, ...rest] = localArgv(argv, true);
      return execa(cmd!, rest, { cwd: app, reject: false, timeout: 10_000 });
    }

    beforeAll(async () => {
      app = join(scratch, 'app'); // stands in for the image's WORKDIR /app
      await execa('mkdir', ['-p', app]);
      await symlink(join(REPO_ROOT, 'node_modules'), join(app, 'node_modules'));
    });
    afterAll(async () => {
      for (const r of running) if (r.proc.exitCode === null) r.proc.kill('SIGKILL');
    });

    it('certs runs once and exits 0; every lane and the dashboard come up, healthy, then stop cleanly and show unhealthy', async () => {
      const oneShot = oneShotServices(compose);
      for (const name of oneShot) {
        const [cmd, ...rest] = localArgv(serviceArgv(compose.services[name]!, dockerfile), true);
        const r = await execa(cmd!, rest, { cwd: app, reject: false, timeout: 60_000 });
        expect(r.exitCode, `${name}: ${r.stderr}`).toBe(0);
      }
      expect(existsSync(join(app, 'certs', 'ca.crt'))).toBe(true);

      const lanes = Object.entries(compose.services).filter(([name, s]) => !oneShot.has(name) && !s.profiles?.length && name !== 'dashboard');
      for (const [name, s] of lanes) start(name, serviceArgv(s, dockerfile));
      const lanePorts = new Map((await Promise.all(running.map(async (r) => [r.name, Number((await r.ready).port)] as const))));
      const dash = start('dashboard', serviceArgv(compose.services.dashboard!, dockerfile));
      const dashReady = await dash.ready;

      // Each service's own healthcheck command, against the running program.
      for (const [name, s] of lanes) {
        await waitFor(async () => (await healthcheck(s)).exitCode === 0, { timeoutMs: 20_000, intervalMs: 250, what: `${name}'s healthcheck to pass`, received: async () => (await healthcheck(s)).stderr });
      }
      const dashHealth = await healthcheck(compose.services.dashboard!, Number(dashReady.port));
      expect(dashHealth.exitCode, dashHealth.stderr).toBe(0);
      // The dashboard found every lane's data dir: all alive.
      await waitFor(
        async () => {
          const h = (await (await fetch(`http://127.0.0.1:${Number(dashReady.port)}/api/health`)).json()) as { lanes: Array<{ name: string; alive: boolean }> };
          return h.lanes.length === lanes.length && h.lanes.every((l) => l.alive);
        },
        { timeoutMs: 20_000, intervalMs: 250, what: 'the dashboard to show every lane alive' },
      );

      // The load generator (profile "load") against the day 14 service it targets, briefly: its
      // delivery verification reads that lane's data dir on the shared volume.
      const lg = compose.services.loadgen!;
      const lgArgv = serviceArgv(lg, dockerfile).map((a, i, all) => {
        const flag = all[i - 1];
        if (flag === '--target') {
          const [svc] = a.split(':');
          const port = lanePorts.get(svc!);
          expect(port, `loadgen targets ${a}, a service that runs`).toBeDefined();
          return `127.0.0.1:${port}`;
        }
        if (flag === '--duration') return '1';
        if (flag === '--rate') return '2000';
        return a;
      });
      const [lgCmd, ...lgRest] = localArgv(lgArgv, true);
      const lgRun = await execa(lgCmd!, lgRest, { cwd: app, reject: false, timeout: 90_000 });
      expect(lgRun.exitCode, `loadgen: ${lgRun.stderr.split('\n').slice(-5).join(' | ')}`).toBe(0);
      const reportFile = flagValue(lgArgv, '--json');
      if (reportFile) expect(existsSync(join(app, reportFile)), `loadgen wrote ${reportFile}`).toBe(true);

      // SIGTERM → exit 0 (what `docker compose stop` sends), then the healthcheck reports the lane down.
      for (const r of running) r.proc.kill('SIGTERM');
      const exits = await Promise.all(running.map(async (r) => ({ name: r.name, code: (await r.proc).exitCode })));
      expect(exits.filter((e) => e.code !== 0)).toEqual([]);
      const [firstName, first] = lanes[0]!;
      const after = await healthcheck(first);
      expect(after.exitCode, `${firstName}'s healthcheck after it stopped`).toBe(1);
      const dashAfter = await healthcheck(compose.services.dashboard!, Number(dashReady.port));
      expect(dashAfter.exitCode).toBe(1);
    }, 240_000);
  });
});
