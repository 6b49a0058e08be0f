// The rules tests/docker.test.ts holds docker/ to (issue 9 §4), as pure functions over the parsed files: the
// compose file (profiles, ports, images, healthchecks, wiring) and the Dockerfile (stages, Node, what the final
// image holds). Split out of the test (issue 22) so each stays under 800 lines.
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '../../scripts/lib/launch.ts';
import { NATS_SERVER } from '../../lessons/scale/jetstream/cluster.ts';
import { LANE_TABLE } from '../../shared/lanes.ts';
import { findPeer } from './peers.ts';

export const COMPOSE_FILE = join(REPO_ROOT, 'docker/docker-compose.yml');
export const DOCKERFILE = join(REPO_ROOT, 'docker/Dockerfile');
export const DOCKER_COMPOSE = findPeer('docker-compose') ?? '/usr/bin/docker-compose';

/**
 * COURSE.md's ports table: host port/protocol → the service that publishes it. The lanes' rows come from the
 * lane table (shared/lanes.ts, issue 22.4): a UDP lane's port is UDP, the syslog lane's port both; the
 * dashboard is no lane.
 */
export const COURSE_PORTS: Record<string, string> = {
  ...Object.fromEntries(
    LANE_TABLE.flatMap((l): Array<[string, string]> => {
      const protocols = l.transport === 'lsp1-udp' ? ['udp'] : l.transport === 'syslog' ? ['udp', 'tcp'] : ['tcp'];
      const ports = protocols.map((p): [string, string] => [`${l.port}/${p}`, l.id]);
      return l.tlsPort ? [...ports, [`${l.tlsPort}/tcp`, l.id]] : ports;
    }),
  ),
  '8080/tcp': 'dashboard',
};

/** The scale profile's ports: those of `npm run lesson -- scale` (scripts/scale.ts: receivers from --port, --dashboard-port). */
export const SCALE_PORTS: Record<string, string> = {
  '5301/tcp': 'scale-r1',
  '5302/tcp': 'scale-r2',
  '5303/tcp': 'scale-r3',
  '8090/tcp': 'scale-dashboard',
};

/** The profile each service runs under: the scale-out topology only with --profile scale, the load generator with load, the rest always. */
export const expectedProfiles = (service: string): string[] =>
  /^(nats\d+|scale-.+)$/.test(service) ? ['scale'] : service === 'loadgen' ? ['load'] : [];

/** COURSE.md's "## Ports" table as the same map: `| day 08 NDJSON | 5140 | TCP |` → 5140/tcp: day08. */
export function coursePorts(markdown: string): Record<string, string> {
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

export type PortSpec =
  string | number | { target: number; published?: number | string; protocol?: string; host_ip?: string };
export interface Service {
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
  stop_signal?: string;
}
export interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

/** Runs `docker-compose config` on a file and returns it parsed; throws with compose's own message when it is invalid. */
export async function composeConfig(file: string): Promise<Compose> {
  const r = await execa(DOCKER_COMPOSE, ['-f', file, '--profile', 'load', '--profile', 'scale', 'config'], {
    cwd: dirname(file),
    reject: false,
    env: { COMPOSE_PROJECT_NAME: 'logstream-test' },
  });
  if (r.exitCode !== 0)
    throw new Error(`docker-compose config rejected ${file} (exit ${r.exitCode}): ${r.stderr.trim()}`);
  // YAML → JSON with the interpreter docker-compose itself runs on: it always has PyYAML.
  const python = /^#!\s*(\S+)/.exec(readFileSync(DOCKER_COMPOSE, 'utf8').slice(0, 200))?.[1] ?? 'python3';
  const j = await execa(python, ['-c', 'import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], {
    input: r.stdout,
  });
  return JSON.parse(j.stdout) as Compose;
}

export const asArgv = (v: string[] | string | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v.map(String) : v.split(/\s+/).filter(Boolean);

/** Services another service waits for with `service_completed_successfully`: one-shot init jobs. */
export function oneShotServices(c: Compose): Set<string> {
  const out = new Set<string>();
  for (const s of Object.values(c.services)) {
    if (s.depends_on && !Array.isArray(s.depends_on)) {
      for (const [dep, cond] of Object.entries(s.depends_on))
        if (cond.condition === 'service_completed_successfully') out.add(dep);
    }
  }
  return out;
}

export function sameImageProblems(c: Compose): string[] {
  const problems: string[] = [];
  const key = (s: Service) => JSON.stringify({ build: s.build ?? null, image: s.image ?? null });
  const entries = Object.entries(c.services);
  const first = entries[0];
  if (!first) return ['no services'];
  for (const [name, s] of entries) {
    if (!s.build) problems.push(`${name}: no build (every service builds docker/Dockerfile)`);
    if (!s.image) problems.push(`${name}: no image name`);
    if (key(s) !== key(first[1]))
      problems.push(`${name}: build/image ${key(s)} differs from ${first[0]}'s ${key(first[1])}`);
  }
  const dockerfile = typeof first[1].build === 'object' ? first[1].build.dockerfile : undefined;
  if (dockerfile !== 'docker/Dockerfile')
    problems.push(`build.dockerfile is ${dockerfile}, expected docker/Dockerfile`);
  return problems;
}

export function healthcheckProblems(c: Compose): string[] {
  const oneShot = oneShotServices(c);
  const problems: string[] = [];
  for (const [name, s] of Object.entries(c.services)) {
    if (oneShot.has(name)) continue;
    const test = asArgv(s.healthcheck?.test);
    if (!s.healthcheck || s.healthcheck.disable || test.length === 0 || test[0] === 'NONE')
      problems.push(`${name}: no healthcheck`);
    else if (/\bcurl\b|\bwget\b/.test(test.join(' ')))
      problems.push(`${name}: the healthcheck uses curl/wget, which node:*-slim does not have`);
  }
  return problems;
}

export interface Published {
  service: string;
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: string;
}

export function publishedPorts(c: Compose): Published[] {
  const out: Published[] = [];
  for (const [service, s] of Object.entries(c.services)) {
    for (const p of s.ports ?? []) {
      if (typeof p === 'object') {
        out.push({
          service,
          hostIp: p.host_ip ?? '',
          hostPort: Number(p.published ?? p.target),
          containerPort: p.target,
          protocol: p.protocol ?? 'tcp',
        });
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

export function portProblems(c: Compose): string[] {
  const problems: string[] = [];
  const ports = publishedPorts(c);
  for (const p of ports)
    if (!Number.isInteger(p.hostPort))
      problems.push(`${p.service}: container port ${p.containerPort}/${p.protocol} has no fixed host port`);
  for (const [i, a] of ports.entries()) {
    for (const b of ports.slice(i + 1)) {
      const ipsOverlap =
        a.hostIp === b.hostIp || ['', '0.0.0.0'].includes(a.hostIp) || ['', '0.0.0.0'].includes(b.hostIp);
      if (a.hostPort === b.hostPort && a.protocol === b.protocol && ipsOverlap)
        problems.push(`host port ${a.hostPort}/${a.protocol} is published by both ${a.service} and ${b.service}`);
    }
  }
  // The same ports as COURSE.md and `npm start` (the scale profile: as `npm run lesson -- scale`), each
  // container port one the command listens on.
  const seen = new Map(ports.map((p) => [`${p.hostPort}/${p.protocol}`, p]));
  for (const [table, source] of [
    [COURSE_PORTS, 'COURSE.md'],
    [SCALE_PORTS, '`npm run lesson -- scale`'],
  ] as const) {
    for (const [port, service] of Object.entries(table)) {
      const p = seen.get(port);
      if (!p) problems.push(`${source}'s port ${port} (${service}) is not published`);
      else if (p.service !== service)
        problems.push(`port ${port} is published by ${p.service}, ${source} gives it to ${service}`);
    }
  }
  for (const p of ports) {
    const listens = listenPorts(asArgv(c.services[p.service]?.command));
    if (!listens.includes(p.containerPort))
      problems.push(
        `${p.service}: publishes container port ${p.containerPort} but its command listens on ${listens.join(', ') || 'no fixed port'}`,
      );
  }
  return problems;
}

export const PORT_FLAGS = ['--port', '--udp-port', '--tcp-port', '--tls-port'];
export function listenPorts(argv: string[]): number[] {
  return argv.flatMap((a, i) => (PORT_FLAGS.includes(a) ? [Number(argv[i + 1])] : []));
}

export const flagValue = (argv: string[], flag: string) => {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
};

export const profileKey = (s: Service) => [...(s.profiles ?? [])].sort().join(',');
export const isDashboard = (s: Service) => asArgv(s.command).includes('scripts/dashboard.ts');
/** The lane a service's stats.json names: its --lane, else the service's name. */
export const laneOf = (name: string, s: Service) => flagValue(asArgv(s.command), '--lane') ?? name;

/**
 * Receivers listen on every interface inside their container; each profile's dashboard (the default
 * `dashboard`, `scale-dashboard` under --profile scale) shows every lane data dir of its profile, from
 * the same volume, and no lane that no service of its profile writes.
 */
export function wiringProblems(c: Compose): string[] {
  const problems: string[] = [];
  const mountOf = (s: Service, target: string) =>
    (s.volumes ?? [])
      .map((v) => (typeof v === 'string' ? { source: v.split(':')[0], target: v.split(':')[1] } : v))
      .find((v) => v.target === target);
  const dashboards = Object.entries(c.services)
    .filter(([, s]) => isDashboard(s))
    .map(([name, s]) => {
      const argv = asArgv(s.command);
      const lanes = new Map(
        argv
          .flatMap((a, i) => (argv[i - 1] === '--lane' ? a.split(',') : []))
          .map((part) => [part.slice(0, part.indexOf('=')), part.slice(part.indexOf('=') + 1)] as const),
      );
      return { name, s, argv, lanes, profile: profileKey(s) };
    });
  if (!c.services.dashboard) problems.push('no dashboard service');
  for (const d of dashboards)
    if (!d.argv.includes('--skip-pid-check'))
      problems.push(`${d.name}: receivers run in other containers, so it needs --skip-pid-check`);
  const lanesWritten = new Set<string>();
  for (const [name, s] of Object.entries(c.services)) {
    const argv = asArgv(s.command);
    if (s.ports?.length && flagValue(argv, '--host') !== '0.0.0.0')
      problems.push(`${name}: publishes ports but its command does not say --host 0.0.0.0`);
    const dataDir = flagValue(argv, '--data-dir');
    if (!dataDir) continue;
    const mount = mountOf(s, '/app/data');
    if (!mount) problems.push(`${name}: --data-dir ${dataDir} is not on the data volume (/app/data)`);
    if (!dataDir.startsWith('data/')) problems.push(`${name}: --data-dir ${dataDir} is outside /app/data`);
    const lane = laneOf(name, s);
    lanesWritten.add(`${profileKey(s)}|${lane}=${dataDir}`);
    const dash = dashboards.find((d) => d.profile === profileKey(s));
    if (!dash) {
      problems.push(`${name}: no dashboard of its profile (${profileKey(s) || 'none'}) shows lane ${lane}`);
      continue;
    }
    if (dash.lanes.get(lane) !== dataDir)
      problems.push(`${dash.name}: lane ${lane} should read ${dataDir}, has ${dash.lanes.get(lane) ?? 'nothing'}`);
    if (mount && mountOf(dash.s, '/app/data')?.source !== mount.source)
      problems.push(`${dash.name}: does not mount ${name}'s data volume at /app/data`);
  }
  for (const d of dashboards) {
    for (const [lane, dir] of d.lanes)
      if (!lanesWritten.has(`${d.profile}|${lane}=${dir}`))
        problems.push(`${d.name}: lane ${lane} reads ${dir}, which no service of its profile writes`);
  }
  // A NATS node's JetStream store on the data volume too (`down -v` drops it with the rest).
  for (const [name, s] of Object.entries(c.services)) {
    const store = flagValue(asArgv(s.command), '--store_dir') ?? flagValue(asArgv(s.command), '-sd');
    if (store === undefined) continue;
    if (!store.startsWith('/app/data/')) problems.push(`${name}: --store_dir ${store} is outside /app/data`);
    if (!mountOf(s, '/app/data')) problems.push(`${name}: --store_dir ${store} is not on the data volume (/app/data)`);
  }
  return problems;
}

/**
 * Each service under the profile it belongs to (expectedProfiles), and depending only on services that
 * run whenever it does (no profile, or its own): `up` without --profile scale must not need a NATS node.
 */
export function profileProblems(c: Compose): string[] {
  const problems: string[] = [];
  for (const [name, s] of Object.entries(c.services)) {
    const want = expectedProfiles(name).join(',');
    if (profileKey(s) !== want)
      problems.push(`${name}: profiles ${profileKey(s) || 'none'}, expected ${want || 'none'}`);
    const deps =
      s.depends_on === undefined ? [] : Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on);
    for (const dep of deps) {
      const d = c.services[dep];
      if (!d) problems.push(`${name}: depends on ${dep}, which is no service`);
      else if (profileKey(d) && profileKey(d) !== profileKey(s))
        problems.push(`${name}: depends on ${dep}, which runs only under --profile ${profileKey(d)}`);
    }
  }
  return problems;
}

// ---- the Dockerfile -----------------------------------------------------------------------------------

export interface Stage {
  /** the image it starts from (`node:24-bookworm-slim`) and its name (`AS deps`) */
  image: string;
  name?: string;
  runs: string[];
  /** COPY sources from the build context */
  copies: string[];
  /** COPY --from=<stage> sources */
  copiesFrom: Array<{ stage: string; src: string }>;
}

/** The Dockerfile: every stage, and the final one's RUNs, COPY sources and entrypoint (what the services get). */
export interface Dockerfile {
  stages: Stage[];
  from: string[];
  runs: string[];
  copies: string[];
  entrypoint: string[];
}

export function parseDockerfile(text: string): Dockerfile {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: Stage[] = [];
  let entry: string | undefined;
  for (const line of lines) {
    const [kw = '', ...rest] = line.split(/\s+/);
    const arg = line.slice(kw.length).trim();
    const words = rest.filter((w) => !w.startsWith('--'));
    if (kw.toUpperCase() === 'FROM') {
      stages.push({
        image: rest[0] ?? '',
        ...(/^as$/i.test(rest[1] ?? '') && rest[2] ? { name: rest[2] } : {}),
        runs: [],
        copies: [],
        copiesFrom: [],
      });
      continue;
    }
    const st = stages.at(-1);
    if (!st) continue;
    if (kw.toUpperCase() === 'RUN') st.runs.push(arg);
    if (kw.toUpperCase() === 'COPY') {
      const from = /--from=(\S+)/.exec(arg)?.[1];
      if (from) st.copiesFrom.push(...words.slice(0, -1).map((src) => ({ stage: from, src })));
      else st.copies.push(...words.slice(0, -1));
    }
    if (kw.toUpperCase() === 'ENTRYPOINT' && st === stages.at(-1)) entry = arg;
  }
  const final = stages.at(-1) ?? { image: '', runs: [], copies: [], copiesFrom: [] };
  return {
    stages,
    from: stages.map((x) => x.image),
    runs: final.runs,
    copies: final.copies,
    entrypoint:
      entry === undefined ? [] : entry.startsWith('[') ? (JSON.parse(entry) as string[]) : ['/bin/sh', '-c', entry],
  };
}

/** What each service runs: its entrypoint (or the image's) followed by its command. */
export function serviceArgv(s: Service, image: Dockerfile): string[] {
  return [...(s.entrypoint !== undefined ? asArgv(s.entrypoint) : image.entrypoint), ...asArgv(s.command)];
}

/** A current Node LTS, slim (issue 20.5: Node 20 is past its end of life). */
export const NODE_IMAGE = /^node:(22|24)(\.[\d.]+)?-(bookworm-|trixie-)?slim$/;
export const COMPILERS = ['g++', 'gcc', 'make', 'python3', 'build-essential'];

export function dockerfileProblems(d: Dockerfile, c?: Compose): string[] {
  const problems: string[] = [];
  const final = d.stages.at(-1);
  if (!final || !NODE_IMAGE.test(final.image))
    problems.push(`FROM ${d.from.join(' / ')}: the final stage must be node:24-slim or node:22-slim (a current LTS)`);
  // a native addon built in one stage runs in the final one: the same Node
  for (const st of d.stages.slice(0, -1))
    if (final && st.image !== final.image)
      problems.push(
        `stage ${st.name ?? st.image}: FROM ${st.image} is not the final stage's ${final.image} (a native addon is built for the Node that runs it)`,
      );
  if (!d.stages.some((st) => st.runs.some((r) => /\bnpm ci\b/.test(r))))
    problems.push('no `npm ci` (the lockfile decides what is installed)');
  if (d.stages.some((st) => st.runs.some((r) => /\bnpm (install|i)\b/.test(r))))
    problems.push('`npm install` may change the lockfile: use `npm ci`');
  // what the final image has in node_modules: its own `npm ci`, or a stage's it copies
  const ciOf = (st: Stage) => st.runs.find((r) => /\bnpm ci\b/.test(r));
  const modulesFrom = final?.copiesFrom.find((x) => /node_modules\/?$/.test(x.src));
  const installer = modulesFrom ? d.stages.find((st) => st.name === modulesFrom.stage) : final;
  const ci = installer ? ciOf(installer) : undefined;
  if (ci !== undefined && !/--omit=dev\b/.test(ci))
    problems.push(`\`${ci}\`: the image gets devDependencies (test and bench packages); use --omit=dev`);
  if (modulesFrom && !installer) problems.push(`COPY --from=${modulesFrom.stage}: no such stage`);
  for (const r of final?.runs ?? []) {
    const installed = /\bapt-get install\b/.test(r) ? r.split(/\s+/).filter((w) => COMPILERS.includes(w)) : [];
    if (installed.length)
      problems.push(`the final stage installs ${installed.join(', ')}: a compiler belongs in a build stage`);
  }
  if (!d.entrypoint.length) problems.push('no ENTRYPOINT: services name only the program to run');
  // A service running another program than the image's (nats-server): a package the image installs.
  for (const [name, s] of Object.entries(c?.services ?? {})) {
    const program = serviceArgv(s, d)[0];
    if (program === undefined || program === d.entrypoint[0]) continue;
    const installed = d.runs.some(
      (r) => /\bapt-get install\b/.test(r) && r.split(/\s+/).includes(program.split('/').at(-1)!),
    );
    if (!installed) problems.push(`${name}: runs ${program}, which no RUN apt-get install puts in the image`);
  }
  // Every file a service or healthcheck runs must be inside what the image copies.
  for (const [name, s] of Object.entries(c?.services ?? {})) {
    const files = [...serviceArgv(s, d), ...asArgv(s.healthcheck?.test)].filter((a) =>
      /^(lessons|scripts|shared|docker|checks)\/.*\.(ts|mjs|js)$/.test(a),
    );
    for (const f of files) {
      if (!existsSync(join(REPO_ROOT, f))) problems.push(`${name}: ${f} is not in this checkout`);
      else if (!d.copies.some((src) => f === src || f.startsWith(`${src.replace(/\/$/, '')}/`)))
        problems.push(`${name}: ${f} is not copied into the image`);
    }
  }
  return problems;
}

// ---- running a service's command from this checkout -------------------------------------------------

/** The container's argv as a local one: `node` is this node; with `inDir`, programs resolve from the repo. */
export function localArgv(argv: string[], inDir = false): string[] {
  return argv.map((a, i) => {
    if (i === 0 && a === 'node') return process.execPath;
    if (i === 0 && a === 'nats-server') return findPeer('nats-server') ?? NATS_SERVER; // Debian's (env NATS_SERVER: another)
    if (inDir && /^(lessons|scripts|shared|docker)\//.test(a) && existsSync(join(REPO_ROOT, a)))
      return join(REPO_ROOT, a);
    return a;
  });
}

export async function helpExit(
  argv: string[],
): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }> {
  const [cmd, ...rest] = localArgv(argv);
  const r = await execa(cmd!, [...rest, '--help'], { cwd: REPO_ROOT, reject: false, timeout: 60_000 });
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

/** Runs n at a time (2 cores, shared). */
export async function limited<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
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
