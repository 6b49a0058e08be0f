/**
 * Day 14 in the benchmark: the load generator (lessons/day14/loadgen.ts) driving the day 14 receiver, and
 * the generator alone into a discarding sink (issue #8's aim: ≥ 2M records/s). Day 14 is written by its
 * own lesson; this file only drives it through the process contract (CONVENTIONS.md §2) and checks its `--help`
 * for the flags it uses, so a lesson that is absent or different is skipped with the reason, never a crash. Beside it, always: the shared RecordGenerator writing into the same discarding sink, in-process
 * (what generating and writing cost without any lane), so the summary has a generator figure regardless.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { RecordGenerator } from '../../shared/generate.ts';
import { waitDrain } from '../../shared/net.ts';
import { ensureCerts } from '../../shared/tls/certs.ts';
import { REPO_ROOT, startProgram } from '../lib/launch.ts';
import { tempDir } from './receivers.ts';
import { RSS_FIGURE, withPeakRss } from './rss.ts';
import type { BenchContext, Contender, RunResult, Scenario } from './types.ts';
import { readyToTime } from './warm-memory.ts';

/** A report field as text: strings and numbers as they are, anything else as JSON. */
const text = (v: unknown): string =>
  typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);

const LOADGEN = 'lessons/day14/loadgen.ts';
const RECEIVER = 'lessons/day14/receiver.ts';

let helpText: string | null | undefined;
/** `loadgen --help`, once (null when the lesson is absent or its --help fails). */
export function loadgenHelp(): string | null {
  if (helpText !== undefined) return helpText;
  if (!existsSync(join(REPO_ROOT, LOADGEN))) return (helpText = null);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, LOADGEN), '--help'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return (helpText = r.status === 0 ? `${r.stdout}\n${r.stderr}` : null);
}

const hasFlag = (flag: string) =>
  new RegExp(`(^|\\s|,)${flag.replace(/-/g, '\\-')}(\\s|=|,|$)`, 'm').test(loadgenHelp() ?? '');

export function day14Unavailable(needReceiver: boolean): string | undefined {
  if (!existsSync(join(REPO_ROOT, LOADGEN))) return `${LOADGEN} not present (day 14 not written yet)`;
  if (needReceiver && !existsSync(join(REPO_ROOT, RECEIVER))) return `${RECEIVER} not present`;
  if (loadgenHelp() === null) return `${LOADGEN} --help failed`;
  for (const f of ['--target', '--rate', '--count', '--transport'])
    if (!hasFlag(f)) return `${LOADGEN} --help shows no ${f}`;
  return undefined;
}

/**
 * Runs the loadgen closed-loop (--rate max) for `records` records; the result from its done line (or its
 * --json report). Delivered = what it verified persisted (--verify-dir), else what was ACKed, else (lanes
 * without ACKs, --dry-run) what it sent.
 */
async function runLoadgen(
  target: string,
  records: number,
  extra: string[],
  opts: { lossy?: boolean } = {},
): Promise<RunResult> {
  const dir = await tempDir('d14');
  const jsonFile = join(dir, 'report.json');
  const args = [
    '--target',
    target,
    '--rate',
    'max',
    '--count',
    String(records),
    '--seed',
    '42',
    ...(hasFlag('--json') ? ['--json', jsonFile] : []),
    ...extra,
  ];
  try {
    const p = startProgram({ name: 'day14 loadgen', file: LOADGEN, args });
    const done = await p.done;
    const exit = await p.exit;
    let rep: Record<string, unknown> = done ?? {};
    if (existsSync(jsonFile))
      rep = { ...rep, ...(JSON.parse(await readFile(jsonFile, 'utf8')) as Record<string, unknown>) };
    if (!done && !existsSync(jsonFile))
      throw new Error(`loadgen exited ${exit.exitCode ?? exit.signal} without a done line`);
    // exit 1 = not everything delivered: a failed run, except on a lane that may lose (UDP), where loss is the figure
    if (exit.exitCode !== 0 && !(opts.lossy && exit.exitCode === 1 && rep['errors'] === 0))
      throw new Error(
        `loadgen exited ${exit.exitCode ?? exit.signal}: lost ${String(rep['lost'])}, errors ${String(rep['errors'])}, ${text(rep['lastError'] ?? '')}`,
      );
    const n = (k: string) => (typeof rep[k] === 'number' ? rep[k] : undefined);
    const delivered = rep['verified'] === true ? n('persisted') : n('acked') ? n('acked') : n('sent');
    const ms = n('elapsedMs');
    if (delivered === undefined || ms === undefined)
      throw new Error('loadgen report has no sent/acked/persisted or elapsedMs');
    const p99 = (rep['latencyMs'] as Record<string, unknown> | undefined)?.['p99'];
    return {
      records: delivered,
      bytes: n('bytes') ?? 0,
      ms,
      note: `sent ${String(rep['sent'])}, acked ${String(rep['acked'])}, lost ${String(rep['lost'])}, duplicated ${String(rep['duplicated'])}${typeof p99 === 'number' ? `, ACK p99 ${p99} ms` : ''}, loadgen cpu ${text((rep['cpu'] as Record<string, unknown> | undefined)?.['percent'] ?? '?')} %`,
      extra: {
        sent: n('sent') ?? -1,
        acked: n('acked') ?? -1,
        lost: n('lost') ?? -1,
        duplicated: n('duplicated') ?? -1,
        ...(typeof p99 === 'number' ? { ackP99Ms: p99 } : {}),
        peakRssMb: n('peakRssMb') ?? -1,
      },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export const loadgenToReceiver: Contender = {
  name: 'day14 loadgen --rate max → day14 receiver',
  role: 'lane',
  unavailable: () => day14Unavailable(true),
  async run(ctx) {
    const dir = await tempDir('d14rx');
    const rx = startProgram({
      name: 'day14 receiver',
      file: RECEIVER,
      args: ['--port', '0', '--data-dir', dir, '--fsync', 'interval'],
    });
    try {
      const ready = await readyToTime(rx);
      // batches of 1000 like every other LSP/1 row; delivery verified from the receiver's files
      const r = await runLoadgen(`${ready.host}:${ready.port}`, ctx.records, [
        '--transport',
        'lsp',
        '--batch-records',
        '1000',
        '--verify-dir',
        dir,
      ]);
      return withPeakRss(r, rx.pid);
    } finally {
      await rx.stop();
      await rm(dir, { recursive: true, force: true });
    }
  },
};

/** setup's certificate dir per context */
const certDirs = new WeakMap<BenchContext, string>();
/** stands for the certificate dir in receiver and loadgen args; replaced at run time */
const CERTS = '<certs>';

/**
 * The loadgen at --rate max into one lesson's receiver (fresh data dir, --fsync interval), delivery verified
 * from the receiver's files (--verify-dir). The syslog receiver's ready line lists its TCP port in `ports`.
 */
function loadgenInto(
  name: string,
  file: string,
  rxArgs: string[],
  lgArgs: string[],
  opts: { lossy?: boolean } = {},
): Contender {
  return {
    name,
    ...(opts.lossy ? { lossy: true } : {}),
    unavailable: () =>
      day14Unavailable(false) ?? (existsSync(join(REPO_ROOT, file)) ? undefined : `${file} not present`),
    async run(ctx) {
      const certs = certDirs.get(ctx) ?? '';
      const sub = (a: string) => a.replace(CERTS, certs);
      const dir = await tempDir('d14lane');
      const portFlag = file.includes('syslog') ? '--tcp-port' : '--port';
      const rx = startProgram({
        name: file,
        file,
        args: [portFlag, '0', '--data-dir', dir, '--fsync', 'interval', ...rxArgs.map(sub)],
      });
      try {
        const ready = await readyToTime(rx);
        const port = (ready['ports'] as { tcp?: number } | undefined)?.tcp ?? ready.port;
        const r = await runLoadgen(
          `${ready.host}:${port}`,
          ctx.records,
          [...lgArgs.map(sub), '--verify-dir', dir],
          opts,
        );
        return withPeakRss(r, rx.pid);
      } finally {
        await rx.stop();
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

/** The figure issue #8 aims at (≥ 2M records/s): generating and writing NDJSON into a sink that discards. */
export const loadgenAlone: Contender = {
  name: 'day14 loadgen --transport ndjson → discarding sink',
  role: 'generator',
  unavailable: () => day14Unavailable(false),
  async run(ctx) {
    const sink = startProgram({ name: 'raw sink', file: 'scripts/bench/raw-sink.ts', args: ['--port', '0'] });
    try {
      const ready = await readyToTime(sink);
      return await runLoadgen(`${ready.host}:${ready.port}`, ctx.records, ['--transport', 'ndjson']);
    } finally {
      await sink.stop();
    }
  },
};

/** The generator with no socket at all (--dry-run): what generating alone costs. */
export const loadgenDryRun: Contender = {
  name: 'day14 loadgen --dry-run (generating only)',
  role: 'generator',
  unavailable: () =>
    day14Unavailable(false) ?? (hasFlag('--dry-run') ? undefined : `${LOADGEN} --help shows no --dry-run`),
  run: (ctx) => runLoadgen('127.0.0.1:9', ctx.records, ['--dry-run']),
};

/**
 * The shared generator in this process: N records generated (seeded) and written as NDJSON over loopback
 * TCP into the discarding sink, ~1 MiB writes, backpressure respected. Generating is inside the clock.
 */
export const sharedGeneratorAlone: Contender = {
  name: 'shared RecordGenerator → discarding sink (in-process)',
  role: 'generator',
  async run(ctx) {
    const sink = startProgram({ name: 'raw sink', file: 'scripts/bench/raw-sink.ts', args: ['--port', '0'] });
    try {
      const ready = await readyToTime(sink);
      const t0 = performance.now();
      const socket = net.connect({ host: ready.host, port: ready.port });
      await new Promise<void>((res, rej) => socket.once('connect', res).once('error', rej));
      const closed = new Promise<void>((res) => socket.once('close', () => res()));
      socket.on('error', () => {});
      const gen = new RecordGenerator({ seed: 42, baseTimeMs: Date.UTC(2026, 10, 26) });
      let bytes = 0;
      const BATCH = 4096;
      for (let done = 0; done < ctx.records;) {
        const n = Math.min(BATCH, ctx.records - done);
        const buf = Buffer.from(`${gen.take(n).join('\n')}\n`);
        done += n;
        bytes += buf.length;
        if (!socket.write(buf)) await waitDrain(socket);
      }
      socket.end();
      await closed;
      return { records: ctx.records, bytes, ms: performance.now() - t0 };
    } finally {
      await sink.stop();
    }
  },
};

export const day14Scenario: Scenario = {
  title: 'day 14 load generator --rate max into every lane (delivery verified from the files), and the generator alone',
  baseline: 'shared RecordGenerator → discarding sink (in-process)',
  defaultRecords: 500_000,
  figures: RSS_FIGURE,
  async setup(opts) {
    const root = await tempDir('d14-certs');
    const certs = await ensureCerts(join(root, 'certs'));
    const ctx: BenchContext = {
      records: opts.records,
      recordBytes: 202,
      chunks: [],
      teardown: () => rm(root, { recursive: true, force: true }),
    };
    certDirs.set(ctx, certs.dir);
    return ctx;
  },
  contenders: [
    loadgenToReceiver,
    loadgenInto(
      'day14 loadgen --transport ndjson → day08 receiver',
      'lessons/day08/receiver.ts',
      [],
      ['--transport', 'ndjson'],
    ),
    loadgenInto(
      'day14 loadgen --transport udp → day10 receiver',
      'lessons/day10/receiver.ts',
      ['--fsync', 'interval'],
      ['--transport', 'udp'],
      { lossy: true },
    ),
    loadgenInto(
      'day14 loadgen --transport lsp → day11 receiver',
      'lessons/day11/receiver.ts',
      [],
      ['--transport', 'lsp', '--batch-records', '1000'],
    ),
    loadgenInto(
      'day14 loadgen --transport lsp --codec lz4 → day12 receiver',
      'lessons/day12/receiver.ts',
      [],
      ['--transport', 'lsp', '--batch-records', '1000', '--codec', 'lz4'],
    ),
    loadgenInto(
      'day14 loadgen --transport lsp-tls → day13 receiver',
      'lessons/day13/receiver.ts',
      ['--certs', CERTS],
      ['--transport', 'lsp-tls', '--batch-records', '1000', '--ca', `${CERTS}/ca.crt`],
    ),
    loadgenInto(
      'day14 loadgen --transport syslog-tcp → syslog lane',
      'lessons/stack/syslog-receiver.ts',
      ['--udp-port', 'off', '--tls-port', 'off'],
      ['--transport', 'syslog-tcp'],
    ),
    loadgenAlone,
    loadgenDryRun,
    sharedGeneratorAlone,
  ],
  notes:
    "The loadgen rows run lessons/day14/loadgen.ts --rate max --count N --seed 42 (skipped with the reason when day 14 is absent); records/s = what its report says was delivered (persisted when it verified the receiver's files, else ACKed, else sent) per second of its own elapsed time. Into each lane's receiver (fresh data dir, --fsync interval): --verify-dir, so delivery is checked from the receiver's files; LSP/1 rows use --batch-records 1000; the UDP row may lose, and its loss is in the note. Alone: --transport ndjson into scripts/bench/raw-sink.ts, and --dry-run (no socket). The in-process row generates seeded ~200-byte records with shared/generate.ts and writes them into scripts/bench/raw-sink.ts over loopback: the cost of generating plus the loopback copy, nothing else. Server peak RSS (second table, issue 21.6): the receiver's VmHWM from /proc at the end of each run, before it is stopped (the loadgen's own peak is peakRssMb in the JSON).",
};
