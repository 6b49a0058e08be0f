/**
 * `npm run lesson -- scale`: the scale-out topology on one machine (issue 11, lessons/scale/README.md).
 *
 *   3 nats-server nodes (JetStream, R3 stream, routes between them; configs generated under --data-dir/nats)
 *   3 receivers  (--sink jetstream; each prefers another NATS node)      ports --port, +1, +2
 *   1 archiver   (durable consumer → --data-dir/archive/records-*.ndjson)
 *   load         shippers with every receiver as --target (--spread), --rate records/s each, forever
 *   dashboard    a lane per receiver + the archive (its stats.json carries the stream and consumer state)
 *
 * One table of what runs where; Ctrl-C stops everything this launcher started (by pid) and exits 0.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { opt, parseCli } from '../shared/cli.ts';
import { NatsCluster } from '../lessons/scale/jetstream/cluster.ts';
import { startProgram, type Program } from './lib/launch.ts';

const args = parseCli(
  {
    name: 'npm run lesson -- scale',
    summary:
      'Scale-out: a 3-node NATS JetStream cluster, 3 receivers, the archiver, load and the dashboard on loopback.',
    options: {
      dataDir: opt.string('--data-dir <dir>', 'everything goes under here (nats/, r1..r3/, archive/)', 'data/scale'),
      port: opt.int('--port <n>', 'first receiver port (the others follow)', 5301, { min: 1, max: 65530 }),
      natsPort: opt.int(
        '--nats-port <n>',
        'first NATS client port (cluster routes at +2000, monitoring at +4000)',
        4301,
        { min: 1, max: 60000 },
      ),
      dashboardPort: opt.int('--dashboard-port <n>', 'dashboard port (0 = any free port)', 8090, { max: 65535 }),
      shippers: opt.int('--shippers <n>', 'load: shippers (spread over the receivers)', 3, { min: 0, max: 64 }),
      rate: opt.int('--rate <n>', 'load: records/s per shipper', 2000, { min: 1 }),
      replicas: opt.int('--replicas <n>', 'replicas of the JetStream stream', 3, { min: 1, max: 3 }),
      fresh: opt.flag('--fresh', 'delete --data-dir first (a new stream, new archive)'),
      once: opt.flag('--once', 'stop after the first 10 s of load (a smoke run)'),
      quiet: opt.flag('--quiet', "hide the programs' own log lines"),
    },
  },
  process.argv.filter((a) => a !== 'scale'),
);

const root = path.resolve(args.dataDir);
if (args.fresh) await rm(root, { recursive: true, force: true });
await mkdir(root, { recursive: true });

const programs: Program[] = [];
const log = (tag: string) => (line: string) => {
  if (!args.quiet) process.stderr.write(`[scale ${tag}] ${line}\n`);
};
const cluster = new NatsCluster({
  size: 3,
  dir: path.join(root, 'nats'),
  basePort: args.natsPort,
  baseClusterPort: args.natsPort + 2000,
  baseHttpPort: args.natsPort + 4000,
});

let stopping = false;
async function stopAll(code: number): Promise<never> {
  if (stopping) process.exit(1);
  stopping = true;
  // shippers first (their done lines), then receivers and the archiver, then the cluster
  const order = [...programs].reverse();
  for (const p of order) {
    const r = await p.stop();
    console.log(`${r.exitCode === 0 ? '✓' : '✗'} ${p.name} exited ${r.exitCode ?? r.signal}`);
  }
  await cluster.stop();
  console.log('✓ nats cluster stopped');
  process.exit(code);
}
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

try {
  await cluster.start(30_000);
} catch (err) {
  console.error(
    `scale: the NATS cluster did not come up: ${(err as Error).message}\n  (nats-server installed? ports ${args.natsPort}.. free?)`,
  );
  await cluster.stop();
  process.exit(1);
}
const urls = cluster.urls;
const js = ['--js-stream', 'LSP', '--subject-prefix', 'lsp.logs', '--replicas', String(args.replicas)];
/** node i first, then the others: each program prefers another node */
const natsFor = (i: number) => ['--nats', [0, 1, 2].map((k) => urls[(i + k) % 3]).join(',')];

function start(name: string, file: string, programArgs: string[]): Program {
  const p = startProgram({ name, file, args: programArgs, onLog: log(name), readyTimeoutMs: 30_000 });
  programs.push(p);
  void p.exit.then((e) => {
    if (!stopping) console.log(`! ${name} exited ${e.exitCode ?? e.signal}`);
  });
  return p;
}

const receivers = [0, 1, 2].map((i) =>
  start(`r${i + 1}`, 'lessons/scale/receiver.ts', [
    '--port',
    String(args.port + i),
    '--data-dir',
    path.join(root, `r${i + 1}`),
    '--lane',
    `scale-r${i + 1}`,
    '--sink',
    'jetstream',
    ...natsFor(i),
    ...js,
  ]),
);
const ready = await Promise.all(receivers.map((r) => r.ready));
const archiver = start('archiver', 'lessons/scale/archiver.ts', [
  '--data-dir',
  path.join(root, 'archive'),
  ...natsFor(0),
  ...js,
]);
await archiver.ready;
const targets = ready.map((r) => `127.0.0.1:${r.port}`).join(',');
const dashboard = start('dashboard', 'scripts/dashboard.ts', [
  '--port',
  String(args.dashboardPort),
  ...[0, 1, 2].flatMap((i) => ['--lane', `scale-r${i + 1}=${path.join(root, `r${i + 1}`)}`]),
  '--lane',
  `scale-archive=${path.join(root, 'archive')}`,
]);
const dash = await dashboard.ready;
for (let i = 0; i < args.shippers; i++) {
  start(`load${i + 1}`, 'lessons/scale/shipper.ts', [
    '--target',
    targets,
    '--spread',
    '--generate',
    String(Number.MAX_SAFE_INTEGER),
    '--rate',
    String(args.rate),
    '--state-dir',
    path.join(root, `shipper${i + 1}`),
    '--progress-ms',
    '0',
  ]);
}

const rows: Array<[string, string, string]> = [
  ...cluster.nodes.map((n, i): [string, string, string] => [
    `nats ${n.name}`,
    urls[i]!,
    `routes :${n.clusterPort}, http :${n.httpPort}, store ${path.relative(process.cwd(), n.storeDir)}`,
  ]),
  ...ready.map((r, i): [string, string, string] => [
    `receiver r${i + 1}`,
    `127.0.0.1:${r.port}`,
    `--sink jetstream, prefers ${urls[i]}`,
  ]),
  ['archiver', '-', `durable "archiver" → ${path.relative(process.cwd(), path.join(root, 'archive'))}`],
  ['load', `${args.shippers} shippers`, `${args.rate} records/s each, --target ${targets} --spread`],
  [
    'dashboard',
    typeof dash['url'] === 'string' ? dash['url'] : `http://127.0.0.1:${dash.port}`,
    'a lane per receiver + scale-archive (stream + consumer state in its stats)',
  ],
];
const w0 = Math.max(...rows.map((r) => r[0].length));
const w1 = Math.max(...rows.map((r) => r[1].length));
console.log(rows.map(([a, b, c]) => `${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`).join('\n'));
console.log(
  `${JSON.stringify({ event: 'ready', role: 'scale', receivers: ready.map((r) => r.port), nats: urls, dashboard: dash['url'] ?? dash.port })}`,
);
console.log('Ctrl-C stops everything.');
if (args.once) setTimeout(() => void stopAll(0), 10_000);
