// docker/: one Dockerfile and a compose file running the integrated stack (issue 9 §4). No Docker engine
// runs here, so this checks everything short of `docker compose up`:
//   - `docker-compose config` (Debian's docker-compose 1.29) accepts the file;
//   - every service runs the same build and image, has a healthcheck (one-shot init services excepted),
//     no host port is published twice, ports match COURSE.md (the scale profile: `npm run lesson --
//     scale`'s), receivers listen on 0.0.0.0, each profile's dashboard reads every lane data dir of that
//     profile from the same volume, the scale services run only under --profile scale and depend only
//     on services of their own profile;
//   - every service's entry point + command is a valid program: run from this checkout with --help → 0;
//   - the long-running services' commands really start (ports → 0, on loopback, in a temp dir standing
//     in for /app) and their own healthcheck commands report healthy, then unhealthy once stopped; the
//     scale profile too: 3 nats-server nodes from their compose flags, the receivers, the archiver and
//     its dashboard, records shipped through every receiver reaching the archive;
//   - the Dockerfile is multi-stage on a current Node LTS (node:24-slim): `npm ci --omit=dev` in a stage with
//     the compiler, only node_modules copied on (no g++/make/python3 in the final image), copies every file a
//     command names, and installs every other program a service runs (nats-server). tests/runtime-deps.test.ts
//     holds package.json to it (what runs imports only dependencies; the image copies every file it loads).
// Each checker is a pure function over the parsed file, and is shown to fail on a modified copy.
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../checks/harness/assert.ts';
import { REPO_ROOT } from '../scripts/lib/launch.ts';
import { readRxStreamSeq } from '../shared/storage/rx.ts';
import { freePort } from '../shared/free-port.ts';
import {
  COMPOSE_FILE,
  DOCKERFILE,
  COURSE_PORTS,
  SCALE_PORTS,
  coursePorts,
  composeConfig,
  asArgv,
  oneShotServices,
  sameImageProblems,
  healthcheckProblems,
  portProblems,
  PORT_FLAGS,
  flagValue,
  wiringProblems,
  profileProblems,
  parseDockerfile,
  serviceArgv,
  dockerfileProblems,
  localArgv,
  helpExit,
  limited,
  type Service,
  type Compose,
  type Dockerfile,
} from './support/docker-rules.ts';
import { needPeers } from './support/peers.ts';

// Debian's docker-compose validates the file; Debian's nats-server runs the scale profile's nodes. Either
// missing: the tests that need it are skipped outside CI (tests/support/peers.ts), fail under CI=true.
const composePeer = needPeers('docker-compose');
const natsPeer = needPeers('nats-server');
const HAVE_COMPOSE = composePeer.missing.length === 0;
/** Services whose program is nats-server: run only where nats-server is. */
const isNats = (s: Service) => serviceArgv(s, dockerfile)[0] === 'nats-server';

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
  it('has the ports table these checks hold the compose file to', async () => {
    expect(coursePorts(await readFile(join(REPO_ROOT, 'COURSE.md'), 'utf8'))).toEqual(COURSE_PORTS);
    expect(coursePorts('## Ports\n| day 08 NDJSON | 5150 | TCP |\n')).toEqual({ '5150/tcp': 'day08' });
  });
});

describe('docker/Dockerfile', () => {
  it('is multi-stage on a current Node LTS (node:24-slim): npm ci --omit=dev where the compiler is, only node_modules moves on, an entrypoint, and copies what the services run', () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(2);
    expect(dockerfileProblems(dockerfile, HAVE_COMPOSE ? compose : undefined)).toEqual([]);
  });

  it('the checker fails an end-of-life Node, a compiler in the final image, devDependencies in it, and build stages on another Node', () => {
    const oneStage = parseDockerfile(
      'FROM node:20-bookworm-slim\nRUN apt-get update && apt-get install -y --no-install-recommends python3 make g++\nRUN npm ci --no-audit\nENTRYPOINT ["node"]\n',
    );
    const p1 = dockerfileProblems(oneStage);
    expect(p1.some((p) => p.startsWith('FROM node:20-bookworm-slim: the final stage must be'))).toBe(true);
    expect(p1).toContain('the final stage installs python3, make, g++: a compiler belongs in a build stage');
    expect(p1).toContain(
      '`npm ci --no-audit`: the image gets devDependencies (test and bench packages); use --omit=dev',
    );
    const mixed = parseDockerfile(
      'FROM node:22-bookworm-slim AS deps\nRUN npm ci\nFROM node:24-bookworm-slim\nCOPY --from=deps /app/node_modules ./node_modules\nENTRYPOINT ["node"]\n',
    );
    const p2 = dockerfileProblems(mixed);
    expect(p2).toContain(
      "stage deps: FROM node:22-bookworm-slim is not the final stage's node:24-bookworm-slim (a native addon is built for the Node that runs it)",
    );
    expect(p2).toContain('`npm ci`: the image gets devDependencies (test and bench packages); use --omit=dev');
  });

  it('the checker fails a non-slim image, npm install, a service file the image lacks, and a program it does not install', () => {
    const bad = parseDockerfile(
      'FROM node:20\nRUN apt-get update && apt-get install -y python3\nRUN npm install\nCOPY shared ./shared\nENTRYPOINT ["node", "--import", "tsx"]\n',
    );
    const services: Record<string, Service> = {
      day08: { command: ['lessons/day08/receiver.ts'] },
      day09: { command: ['shared/no-such.ts'] },
      nats1: { entrypoint: ['nats-server'], command: ['-js'] },
    };
    const problems = dockerfileProblems(bad, { services });
    expect(problems).toContain('day09: shared/no-such.ts is not in this checkout');
    expect(problems.some((p) => p.startsWith('FROM node:20'))).toBe(true);
    expect(problems.some((p) => p.includes('npm install'))).toBe(true);
    expect(problems.some((p) => p.includes('no `npm ci`'))).toBe(true);
    expect(problems).toContain('day08: lessons/day08/receiver.ts is not copied into the image');
    expect(problems).toContain('nats1: runs nats-server, which no RUN apt-get install puts in the image');
    const withNats = parseDockerfile(readFileSync(DOCKERFILE, 'utf8'));
    expect(dockerfileProblems(withNats, { services: { nats1: services.nats1! } })).toEqual([]);
  });
});

describe.skipIf(composePeer.skip)('docker/docker-compose.yml', () => {
  beforeAll(() => composePeer.assert());
  it('is accepted by docker-compose config, with every lane, syslog, the dashboard, certs, the load generator and the scale topology', () => {
    expect(Object.keys(compose.services).sort()).toEqual([
      'certs',
      'dashboard',
      'day08',
      'day09',
      'day10',
      'day11',
      'day12',
      'day13',
      'day14',
      'loadgen',
      'nats1',
      'nats2',
      'nats3',
      'scale-archiver',
      'scale-dashboard',
      'scale-r1',
      'scale-r2',
      'scale-r3',
      'syslog',
    ]);
    expect(compose.services.loadgen?.profiles, 'the load generator starts only with --profile load').toEqual(['load']);
    expect(Object.keys(compose.volumes ?? {}).sort()).toEqual(['certs', 'data']);
  });

  it('runs the scale-out topology only under --profile scale, each service needing only services that run with it', () => {
    expect(profileProblems(compose)).toEqual([]);
    expect(
      Object.keys(compose.services)
        .filter((n) => compose.services[n]!.profiles?.includes('scale'))
        .sort(),
    ).toEqual(['nats1', 'nats2', 'nats3', 'scale-archiver', 'scale-dashboard', 'scale-r1', 'scale-r2', 'scale-r3']);
  });

  it('the scale profile: every node in one cluster, each receiver preferring its own node, the R3 stream of `npm run lesson -- scale`', () => {
    const nats = ['nats1', 'nats2', 'nats3'];
    for (const [i, name] of nats.entries()) {
      const argv = asArgv(compose.services[name]!.command);
      expect(compose.services[name]!.entrypoint).toEqual(['nats-server']);
      expect(argv[0], `${name}: JetStream on`).toBe('-js');
      expect(flagValue(argv, '--name'), `${name}: its own server name`).toBe(`n${i + 1}`);
      expect(flagValue(argv, '--store_dir'), `${name}: its own store`).toBe(`/app/data/scale/${name}`);
      expect(flagValue(argv, '--cluster_name')).toBe('lsp');
      expect(flagValue(argv, '--routes')?.split(',').sort(), `${name}: routes to every node`).toEqual(
        nats.map((n) => `nats://${n}:6222`),
      );
    }
    const everyNode = nats.map((n) => `nats://${n}:4222`);
    for (const [i, name] of ['scale-r1', 'scale-r2', 'scale-r3'].entries()) {
      const argv = asArgv(compose.services[name]!.command);
      const urls = flagValue(argv, '--nats')?.split(',') ?? [];
      expect([...urls].sort(), `${name}: --nats lists every node`).toEqual(everyNode);
      expect(urls[0], `${name}: its own node first`).toBe(everyNode[i]);
      expect([flagValue(argv, '--sink'), flagValue(argv, '--replicas'), flagValue(argv, '--lane')]).toEqual([
        'jetstream',
        '3',
        name,
      ]);
    }
    const archiver = asArgv(compose.services['scale-archiver']!.command);
    expect(flagValue(archiver, '--nats')?.split(',').sort()).toEqual(everyNode);
    expect(flagValue(archiver, '--replicas')).toBe('3');
  });

  it("the scale profile's ports are `npm run lesson -- scale`'s (its --help defaults)", async () => {
    const help = (
      await execa(process.execPath, ['--import', 'tsx', 'scripts/scale.ts', '--help'], { cwd: REPO_ROOT })
    ).stdout.replace(/\s+/g, ' ');
    const dflt = (flag: string) =>
      Number(new RegExp(`${flag} <n> [^(]*\\(([^)]*\\) )?[^(]*\\(default: (\\d+)`).exec(help)?.[2]);
    const first = dflt('--port');
    expect(Object.entries(SCALE_PORTS).sort()).toEqual(
      [
        [`${first}/tcp`, 'scale-r1'],
        [`${first + 1}/tcp`, 'scale-r2'],
        [`${first + 2}/tcp`, 'scale-r3'],
        [`${dflt('--dashboard-port')}/tcp`, 'scale-dashboard'],
      ].sort(),
    );
  });

  it('runs one build and one image everywhere', () => {
    expect(sameImageProblems(compose)).toEqual([]);
  });

  it('gives every service a healthcheck except the one-shot certs init', () => {
    expect([...oneShotServices(compose)]).toEqual(['certs']);
    expect(healthcheckProblems(compose)).toEqual([]);
  });

  it("publishes COURSE.md's ports (and the scale profile's), none twice, each one its command listens on", () => {
    expect(portProblems(compose)).toEqual([]);
  });

  it("binds receivers to 0.0.0.0 and points each profile's dashboard at every lane data dir of its profile on the shared volume", () => {
    expect(wiringProblems(compose)).toEqual([]);
  });

  const helpRuns = async (services: Array<[string, Service]>) => {
    const results = await limited(services, 3, async ([name, s]) => ({
      name,
      argv: serviceArgv(s, dockerfile),
      ...(await helpExit(serviceArgv(s, dockerfile))),
    }));
    const bad = results.filter((r) => r.exitCode !== 0 || !/usage/i.test(r.stdout));
    expect(
      bad.map(
        (r) =>
          `${r.name}: ${r.argv.join(' ')} --help → exit ${r.exitCode}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`,
      ),
    ).toEqual([]);
  };

  it('every service command is a valid entry point: run from this checkout with --help it exits 0', async () => {
    await helpRuns(Object.entries(compose.services).filter(([, s]) => !isNats(s)));
  }, 180_000);

  it.skipIf(natsPeer.skip)(
    "the NATS nodes' command is a valid entry point: nats-server --help exits 0",
    async () => {
      natsPeer.assert();
      const nats = Object.entries(compose.services).filter(([, s]) => isNats(s));
      expect(nats.length).toBe(3);
      await helpRuns(nats);
    },
    60_000,
  );

  describe('the checks fail on broken copies', () => {
    it('docker-compose config rejects an invalid file', async () => {
      await expect(modifiedCopy('invalid', '"127.0.0.1:5140:5140/tcp"', '"127.0.0.1:51x40:5140/tcp"')).rejects.toThrow(
        /docker-compose config rejected/,
      );
    });

    it('a service with a bogus command fails the --help run', async () => {
      const c = await modifiedCopy('bogus-command', 'lessons/day09/receiver.ts', 'lessons/day09/no-such-receiver.ts');
      const r = await helpExit(serviceArgv(c.services.day09!, dockerfile));
      expect(r.exitCode).not.toBe(0);
      expect(dockerfileProblems(dockerfile, c)).toContain(
        'day09: lessons/day09/no-such-receiver.ts is not in this checkout',
      );
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
      c.services.dashboard!.command = asArgv(c.services.dashboard!.command).map((a) =>
        a.replace('day13=data/day13,', ''),
      );
      expect(sameImageProblems(c).some((p) => p.startsWith('day10: build/image'))).toBe(true);
      expect(healthcheckProblems(c)).toEqual(['day11: no healthcheck']);
      const wiring = wiringProblems(c);
      expect(wiring).toContain('day12: publishes ports but its command does not say --host 0.0.0.0');
      expect(wiring).toContain('dashboard: lane day13 should read data/day13, has nothing');
    });

    it('a scale lane its dashboard misses, a lane no service writes, no dashboard for a profile, or a store off the volume is found', () => {
      const c = JSON.parse(JSON.stringify(compose)) as Compose;
      c.services['scale-dashboard']!.command = asArgv(c.services['scale-dashboard']!.command).map((a) =>
        a.replace(',scale-archive=data/scale/archive', ''),
      );
      c.services.dashboard!.command = asArgv(c.services.dashboard!.command).map((a) =>
        a.startsWith('day08=') ? `${a},day99=data/day99` : a,
      );
      c.services.nats2!.command = asArgv(c.services.nats2!.command).map((a) =>
        a === '/app/data/scale/nats2' ? '/tmp/nats2' : a,
      );
      delete c.services.nats3!.volumes;
      const wiring = wiringProblems(c);
      expect(wiring).toContain('scale-dashboard: lane scale-archive should read data/scale/archive, has nothing');
      expect(wiring).toContain('dashboard: lane day99 reads data/day99, which no service of its profile writes');
      expect(wiring).toContain('nats2: --store_dir /tmp/nats2 is outside /app/data');
      expect(wiring).toContain('nats3: --store_dir /app/data/scale/nats3 is not on the data volume (/app/data)');
      // the scale lanes on the default dashboard instead: there, and not under their own profile
      delete c.services['scale-dashboard'];
      const noDash = wiringProblems(c);
      expect(noDash).toContain('scale-r1: no dashboard of its profile (scale) shows lane scale-r1');
      expect(noDash).toContain('scale-archiver: no dashboard of its profile (scale) shows lane scale-archive');
    });

    it('a scale service outside its profile, or a default service needing a scale one, is found', async () => {
      const c = JSON.parse(JSON.stringify(compose)) as Compose;
      delete c.services['scale-r2']!.profiles;
      c.services.day14!.depends_on = { nats1: { condition: 'service_healthy' } };
      const problems = profileProblems(c);
      expect(problems).toContain('scale-r2: profiles none, expected scale');
      expect(problems).toContain('scale-r2: depends on nats1, which runs only under --profile scale');
      expect(problems).toContain('day14: depends on nats1, which runs only under --profile scale');
      const c2 = await modifiedCopy('scale-port-twice', '"127.0.0.1:5302:5302/tcp"', '"127.0.0.1:5301:5302/tcp"');
      const ports = portProblems(c2);
      expect(ports).toContain('host port 5301/tcp is published by both scale-r1 and scale-r2');
      expect(ports).toContain("`npm run lesson -- scale`'s port 5302/tcp (scale-r2) is not published");
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
    const forTest = (argv: string[]) =>
      argv.map((a, i) => (PORT_FLAGS.includes(argv[i - 1] ?? '') ? '0' : argv[i - 1] === '--host' ? '127.0.0.1' : a));

    function start(name: string, argv: string[]): Running {
      const [cmd, ...rest] = localArgv(forTest(argv), true);
      const proc = execa(cmd!, rest, { cwd: app, reject: false, buffer: false, stdin: 'ignore' });
      const stderr: string[] = [];
      createInterface({ input: proc.stderr }).on('line', (l) => stderr.push(l) > 30 && stderr.shift());
      const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
        createInterface({ input: proc.stdout }).on('line', (l) => {
          if (!l.startsWith('{')) return;
          const ev = JSON.parse(l) as Record<string, unknown>;
          if (ev.event === 'ready') resolve(ev);
        });
        void proc.then((r) =>
          reject(
            new Error(
              `${name} exited ${r.exitCode ?? r.signal} before its ready line: ${stderr.slice(-5).join(' | ')}`,
            ),
          ),
        );
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
    afterAll(() => {
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

      const lanes = Object.entries(compose.services).filter(
        ([name, s]) => !oneShot.has(name) && !s.profiles?.length && name !== 'dashboard',
      );
      for (const [name, s] of lanes) start(name, serviceArgv(s, dockerfile));
      const lanePorts = new Map(
        await Promise.all(running.map(async (r) => [r.name, Number((await r.ready).port)] as const)),
      );
      const dash = start('dashboard', serviceArgv(compose.services.dashboard!, dockerfile));
      const dashReady = await dash.ready;

      // Each service's own healthcheck command, against the running program.
      for (const [name, s] of lanes) {
        await waitFor(async () => (await healthcheck(s)).exitCode === 0, {
          timeoutMs: 20_000,
          intervalMs: 250,
          what: `${name}'s healthcheck to pass`,
          received: async () => (await healthcheck(s)).stderr,
        });
      }
      const dashHealth = await healthcheck(compose.services.dashboard!, Number(dashReady.port));
      expect(dashHealth.exitCode, dashHealth.stderr).toBe(0);
      // The dashboard found every lane's data dir: all alive.
      await waitFor(
        async () => {
          const h = (await (await fetch(`http://127.0.0.1:${Number(dashReady.port)}/api/health`)).json()) as {
            lanes: Array<{ name: string; alive: boolean }>;
          };
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

    it.skipIf(natsPeer.skip)(
      'the scale profile: 3 nats-server nodes from their flags form a cluster, receivers, archiver and dashboard come up healthy, records shipped through every receiver reach the archive once',
      async () => {
        const scale = Object.entries(compose.services).filter(([, s]) => s.profiles?.includes('scale'));
        const mine: Running[] = [];
        const byName = new Map<string, Running>();
        // A NATS node's container ports (-p clients, -m monitoring, the --cluster URL's routes) → free loopback ports.
        const natsPorts = new Map<string, Map<number, number>>();
        for (const [name, s] of scale) {
          if (serviceArgv(s, dockerfile)[0] !== 'nats-server') continue;
          const argv = asArgv(s.command);
          const inContainer = [
            flagValue(argv, '-p'),
            flagValue(argv, '-m'),
            /:(\d+)$/.exec(flagValue(argv, '--cluster') ?? '')?.[1],
          ].map(Number);
          expect(
            inContainer.every((p) => Number.isInteger(p) && p > 0),
            `${name}: -p, -m and --cluster name its ports`,
          ).toBe(true);
          natsPorts.set(name, new Map(await Promise.all(inContainer.map(async (p) => [p, await freePort()] as const))));
        }
        expect(natsPorts.size, 'the scale profile runs 3 NATS nodes').toBe(3);
        /** The compose argv run here: service names → loopback, their container ports → the local ones, /app → the temp app dir. */
        const localize = (self: string, argv: string[]) => {
          const out = argv.map((a, i) => {
            const local = natsPorts.get(self);
            if (local && (argv[i - 1] === '-p' || argv[i - 1] === '-m')) return String(local.get(Number(a)));
            return a
              .replace(/\bnats:\/\/([\w.-]+):(\d+)/g, (_m, host: string, port: string) => {
                const to = natsPorts.get(host === '0.0.0.0' ? self : host)?.get(Number(port));
                if (to === undefined) throw new Error(`${self}: ${a} names ${host}:${port}, no NATS node's port`);
                return `nats://127.0.0.1:${to}`;
              })
              .replace(/^\/app\//, `${app}/`);
          });
          // nats-server binds every interface by default: loopback only here.
          return natsPorts.has(self) ? [...out, '-a', '127.0.0.1'] : out;
        };
        const deps = (s: Service) =>
          s.depends_on === undefined ? [] : Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on);
        const healthy = async (name: string) => {
          const s = compose.services[name]!;
          const r = byName.get(name)!;
          const url = asArgv(s.healthcheck?.test).find((a) => a.startsWith('http://'));
          const port =
            url === undefined
              ? undefined
              : (natsPorts.get(name)?.get(Number(new URL(url).port)) ?? Number((await r.ready).port));
          return healthcheck(s, port);
        };

        // As compose starts them: each wave once every service it depends on is healthy (service_healthy).
        const waiting = new Map(scale);
        while (waiting.size) {
          const wave = [...waiting].filter(([, s]) => deps(s).every((d) => byName.has(d)));
          expect(
            wave.length,
            `one of ${[...waiting.keys()].join(', ')} can start: its depends_on are scale services`,
          ).toBeGreaterThan(0);
          for (const [name, s] of wave) {
            waiting.delete(name);
            for (const [dep, cond] of Object.entries(Array.isArray(s.depends_on) ? {} : (s.depends_on ?? {})))
              expect(cond.condition, `${name} waits for ${dep} to be healthy`).toBe('service_healthy');
            const r = start(name, localize(name, serviceArgv(s, dockerfile)));
            mine.push(r);
            byName.set(name, r);
          }
          for (const [name] of wave) {
            await waitFor(
              async () => {
                const r = byName.get(name)!;
                if (r.proc.exitCode !== null)
                  throw new Error(
                    `${name} exited ${r.proc.exitCode} before it was healthy: ${r.stderr.slice(-5).join(' | ')}`,
                  );
                return (await healthy(name)).exitCode === 0;
              },
              {
                timeoutMs: 30_000,
                intervalMs: 250,
                what: `${name}'s healthcheck to pass`,
                received: async () =>
                  `${(await healthy(name)).stderr.trim()}; its stderr: ${byName.get(name)!.stderr.slice(-5).join(' | ')}`,
              },
            );
          }
        }

        // Its dashboard shows every scale lane alive.
        const dashPort = Number((await byName.get('scale-dashboard')!.ready).port);
        await waitFor(
          async () => {
            const h = (await (await fetch(`http://127.0.0.1:${dashPort}/api/health`)).json()) as {
              lanes: Array<{ name: string; alive: boolean }>;
            };
            return (
              h.lanes
                .map((l) => l.name)
                .sort()
                .join() === 'scale-archive,scale-r1,scale-r2,scale-r3' && h.lanes.every((l) => l.alive)
            );
          },
          { timeoutMs: 20_000, intervalMs: 250, what: 'the scale dashboard to show every scale lane alive' },
        );

        // Three shippers spread over the three receivers (stream id mod 3), each stream's records in the archive exactly once.
        const receivers = ['scale-r1', 'scale-r2', 'scale-r3'];
        const targets = (
          await Promise.all(receivers.map(async (n) => `127.0.0.1:${Number((await byName.get(n)!.ready).port)}`))
        ).join(',');
        const n = 300;
        const streams = [1, 2, 3];
        const shipped = await Promise.all(
          streams.map((id) =>
            execa(
              process.execPath,
              [
                '--import',
                'tsx',
                join(REPO_ROOT, 'lessons/scale/shipper.ts'),
                '--target',
                targets,
                '--spread',
                '--stream-id',
                String(id),
                '--generate',
                String(n),
                '--state-dir',
                join(app, `scale-shipper${id}`),
                '--progress-ms',
                '0',
              ],
              { cwd: app, reject: false, timeout: 60_000 },
            ),
          ),
        );
        for (const r of shipped) expect(r.exitCode, `shipper: ${r.stderr.split('\n').slice(-5).join(' | ')}`).toBe(0);
        const archiveDir = join(app, flagValue(asArgv(compose.services['scale-archiver']!.command), '--data-dir')!);
        const archived = async () => {
          const seen = new Map<string, number>(); // "stream:seq" → copies
          const lanes = new Set<string>();
          for (const f of (await readdir(archiveDir).catch(() => [])).filter((f) => /^records-.*\.ndjson$/.test(f))) {
            for (const line of (await readFile(join(archiveDir, f), 'utf8')).split('\n')) {
              if (!line) continue;
              const rx = (JSON.parse(line) as { _rx?: { lane?: string } })._rx;
              if (rx?.lane) lanes.add(rx.lane);
              const buf = Buffer.from(line);
              readRxStreamSeq(buf, 0, buf.length, (stream, seq) =>
                seen.set(`${stream}:${seq}`, (seen.get(`${stream}:${seq}`) ?? 0) + 1),
              );
            }
          }
          return { seen, lanes };
        };
        const all = await waitFor(
          async () => {
            const a = await archived();
            return a.seen.size === n * streams.length ? a : undefined;
          },
          {
            timeoutMs: 30_000,
            intervalMs: 250,
            what: `the archive to hold ${n * streams.length} records`,
            received: async () => `${(await archived()).seen.size} records`,
          },
        );
        for (const id of streams)
          for (let seq = 1; seq <= n; seq++)
            expect(all.seen.get(`${id}:${seq}`), `stream ${id} seq ${seq} archived once`).toBe(1);
        expect([...all.lanes].sort(), 'every receiver carried some').toEqual(receivers);
        // The stream is replicated on the three nodes (the archiver's stats.json carries its cluster state).
        const cluster = await waitFor(
          async () => {
            const st = JSON.parse(await readFile(join(archiveDir, 'stats.json'), 'utf8')) as {
              jetstream?: {
                stream?: { replicas?: number; leader?: string; peers?: Array<{ name: string; current: boolean }> };
              };
            };
            const js = st.jetstream?.stream;
            return js?.leader && js.peers?.length === 2 && js.peers.every((p) => p.current) ? js : undefined;
          },
          {
            timeoutMs: 20_000,
            intervalMs: 250,
            what: "the archiver's stats.json to show the stream on a leader and 2 current replicas",
          },
        );
        expect(cluster.replicas).toBe(3);
        expect([cluster.leader, ...cluster.peers!.map((p) => p.name)].sort(), 'one replica per node (--name)').toEqual([
          'n1',
          'n2',
          'n3',
        ]);

        // docker compose stop: dependents first, each with its stop signal (nats: SIGINT) → exit 0; then unhealthy.
        const stopOrder = [...mine].reverse();
        for (const r of stopOrder) {
          r.proc.kill((compose.services[r.name]!.stop_signal ?? 'SIGTERM') as NodeJS.Signals);
          const exit = await r.proc;
          expect(
            exit.exitCode,
            `${r.name} after ${compose.services[r.name]!.stop_signal ?? 'SIGTERM'}: ${r.stderr.slice(-3).join(' | ')}`,
          ).toBe(0);
        }
        for (const name of ['scale-r1', 'nats1', 'scale-archiver'])
          expect((await healthy(name)).exitCode, `${name}'s healthcheck after it stopped`).toBe(1);
      },
      120_000,
    );
  });
});
