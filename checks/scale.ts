// Graded checks for the scale-out lesson (issue 11): LSP/1 receivers storing into a replicated NATS
// JetStream stream, shippers failing over between receivers, an archiver writing the records files.
// Black-box: the programs run through the process contract (CONVENTIONS.md §2); the NATS cluster is started by the
// check (lessons/scale/jetstream/cluster.ts: 3 nats-server nodes on loopback, killed by pid at the end), and the
// verdict is read from the archiver's files: every seq of every stream exactly once.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { readRxStreamSeq } from '../shared/storage/rx.ts';
import { NatsCluster } from '../lessons/scale/jetstream/cluster.ts';
import { expectTrue, fail, failNow, waitFor, waitUntil } from './harness/assert.ts';
import { formatRanges, readStats, statNumber } from './harness/persisted.ts';
import type { Check, CheckContext, ProgramName, RunningProgram, WatchedProgram } from './harness/types.ts';
import { sleep } from './harness/kit/records.ts';

export const lesson = 'scale';

const JS_STREAM = 'LSP';
/** the archiver prints a ready line like a server (ProgramName lists the days' programs only) */
const ARCHIVER = 'archiver' as ProgramName;

// ---- the cluster, the receivers, the archiver, the shippers ------------------------------------------

async function startCluster(ctx: CheckContext): Promise<NatsCluster> {
  const c = new NatsCluster({ size: 3, dir: path.join(await ctx.tmp(), 'nats'), baseHttpPort: -1 });
  const stop = () => void c.stop(200);
  ctx.signal.addEventListener('abort', stop, { once: true });
  try {
    await c.start(20_000);
  } catch (err) {
    await c.stop(200);
    fail({
      expected: 'a 3-node nats-server cluster on loopback',
      received: (err as Error).message,
      hint: 'is nats-server installed (apt-get install nats-server)? `.ci/run` installs it',
    });
  }
  ctx.log(`nats cluster ${c.urls.join(',')} pids ${c.pids.join(',')}`);
  return c;
}

/** A fresh cluster and temp dir for `body`; the cluster is stopped whatever happens. */
async function withCluster(ctx: CheckContext, body: (c: NatsCluster, tmp: string) => Promise<void>): Promise<void> {
  const c = await startCluster(ctx);
  try {
    await body(c, await ctx.tmp());
  } finally {
    await c.stop(500);
  }
}

function natsArgs(c: NatsCluster, order: number[] = [0, 1, 2]): string[] {
  return ['--nats', order.map((i) => c.urls[i]).join(','), '--js-stream', JS_STREAM, '--replicas', '3'];
}

async function startReceiver(
  ctx: CheckContext,
  c: NatsCluster,
  dataDir: string,
  lane: string,
  port = 0,
  publishTimeoutMs = 5000,
): Promise<RunningProgram> {
  return ctx.start(
    'receiver',
    [
      '--port',
      String(port),
      '--data-dir',
      dataDir,
      '--lane',
      lane,
      '--sink',
      'jetstream',
      '--stats-interval-ms',
      '200',
      '--publish-timeout-ms',
      String(publishTimeoutMs),
      ...natsArgs(c),
    ],
    { readyTimeoutMs: 20_000 },
  );
}

interface ThreeReceivers {
  c: NatsCluster;
  tmp: string;
  /** r1, r2, r3: their data dirs are tmp/r1 … tmp/r3 */
  rs: RunningProgram[];
  /** the archiver's data dir (the check starts the archiver) */
  archive: string;
}

/** A check's run on a fresh cluster with three receivers (scale.2, scale.4); everything is stopped whatever happens. */
function onThreeReceivers(
  body: (ctx: CheckContext, t: ThreeReceivers) => Promise<void>,
): (ctx: CheckContext) => Promise<void> {
  return (ctx) =>
    withCluster(ctx, async (c, tmp) => {
      const rs = await Promise.all([1, 2, 3].map((i) => startReceiver(ctx, c, path.join(tmp, `r${i}`), `scale-r${i}`)));
      await body(ctx, { c, tmp, rs, archive: path.join(tmp, 'archive') });
    });
}

/** Shipper i of three (state dir tmp/s<i>) lists every receiver, starting at receiver i: all three carry load. */
const shipperAt = (ctx: CheckContext, t: ThreeReceivers, i: number, n: number, extra: string[]) =>
  ship(
    ctx,
    [0, 1, 2].map((k) => t.rs[(i + k) % 3]!),
    path.join(t.tmp, `s${i}`),
    n,
    extra,
  );

/** The JetStream stream as the cluster sees it. */
async function streamInfo(c: NatsCluster) {
  const nc = await connect({ servers: c.urls, timeout: 2000 });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    return await jsm.streams.info(JS_STREAM);
  } finally {
    await nc.close();
  }
}

async function expectReplicas(c: NatsCluster, want: number, hint: string): Promise<void> {
  const si = await streamInfo(c);
  const current = 1 + (si.cluster?.replicas ?? []).length;
  expectTrue(si.config.num_replicas === want && current === want, {
    expected: `JetStream stream ${JS_STREAM} with ${want} replicas (--replicas ${want})`,
    received: `num_replicas ${si.config.num_replicas}, leader ${si.cluster?.leader} + ${current - 1} replicas`,
    hint,
  });
}

async function startArchiver(
  ctx: CheckContext,
  c: NatsCluster,
  dataDir: string,
  extra: string[] = [],
): Promise<RunningProgram> {
  return ctx.start(ARCHIVER, ['--data-dir', dataDir, '--stats-interval-ms', '200', ...natsArgs(c), ...extra], {
    readyTimeoutMs: 20_000,
  });
}

function ship(
  ctx: CheckContext,
  targets: RunningProgram[],
  stateDir: string,
  n: number,
  extra: string[] = [],
): WatchedProgram {
  const list = targets.map((r) => `127.0.0.1:${r.port}`).join(',');
  return ctx.watch('shipper', [
    '--target',
    list,
    '--generate',
    String(n),
    '--state-dir',
    stateDir,
    '--progress-ms',
    '200',
    '--backoff-base-ms',
    '50',
    '--backoff-cap-ms',
    '500',
    '--ack-timeout-ms',
    '15000',
    ...extra,
  ]);
}

/** The shipper's done line once it exited 0 with everything acknowledged, or a CheckFailure. */
async function shipped(
  p: WatchedProgram,
  n: number,
  timeoutMs: number,
  hint: string,
): Promise<Record<string, unknown>> {
  const exit = await Promise.race([p.exit, sleep(timeoutMs).then(() => undefined)]);
  if (!exit) {
    const prog = p.lastEvent('progress');
    fail({
      expected: `the shipper to deliver its ${n} records and exit within ${timeoutMs} ms`,
      received: `still running; last progress ${JSON.stringify(prog)}`,
      where: p.cmd,
      hint,
    });
  }
  const done = p.lastEvent('done');
  if (exit.exitCode !== 0 || !done || done['acked'] !== n) {
    fail({
      expected: `exit 0 and a done line with acked ${n}`,
      received: `exit ${exit.exitCode ?? exit.signal}, done ${JSON.stringify(done)}; stderr …${p.stderrText().slice(-600)}`,
      where: p.cmd,
      hint,
    });
  }
  return done;
}

// ---- reading the archive: every (stream, seq) counted without parsing 500k JSON objects ---------------

interface StreamCount {
  counts: Uint8Array;
  lines: number;
}

async function scanArchive(
  dir: string,
): Promise<{ streams: Map<number, StreamCount>; lines: number; unreadable: string[] }> {
  const streams = new Map<number, StreamCount>();
  const unreadable: string[] = [];
  let lines = 0;
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => /^records-\d+\.ndjson$/.test(n)).sort();
  const add = (stream: number, seq: number) => {
    let s = streams.get(stream);
    if (!s) streams.set(stream, (s = { counts: new Uint8Array(1024), lines: 0 }));
    if (seq >= s.counts.length) {
      const bigger = new Uint8Array(Math.max(seq + 1, s.counts.length * 2));
      bigger.set(s.counts);
      s.counts = bigger;
    }
    if (s.counts[seq]! < 255) s.counts[seq]!++;
    s.lines++;
  };
  for (const name of names) {
    const buf = await readFile(path.join(dir, name));
    let start = 0;
    while (start < buf.length) {
      let end = buf.indexOf(10, start);
      if (end < 0) end = buf.length; // a partial last line: the archiver is still writing it
      if (end === buf.length) break;
      lines++;
      if (!readRxStreamSeq(buf, start, end, add)) {
        // not in the receivers' byte layout: read it as JSON
        try {
          const rx = (JSON.parse(buf.toString('utf8', start, end)) as { _rx?: { stream?: unknown; seq?: unknown } })
            ._rx;
          if (typeof rx?.stream === 'number' && typeof rx.seq === 'number') add(rx.stream, rx.seq);
          else if (unreadable.length < 5)
            unreadable.push(`${name}: ${buf.toString('utf8', start, Math.min(end, start + 160))}`);
        } catch {
          if (unreadable.length < 5)
            unreadable.push(`${name}: ${buf.toString('utf8', start, Math.min(end, start + 160))}`);
        }
      }
      start = end + 1;
    }
  }
  return { streams, lines, unreadable };
}

interface ArchiveReport {
  lost: Map<number, number[]>;
  dup: Map<number, number[]>;
  beyond: Map<number, number>;
  extraStreams: number[];
  unreadable: string[];
  lines: number;
}

async function archiveReport(dir: string, want: Map<number, number>): Promise<ArchiveReport> {
  const scan = await scanArchive(dir);
  const r: ArchiveReport = {
    lost: new Map(),
    dup: new Map(),
    beyond: new Map(),
    extraStreams: [],
    unreadable: scan.unreadable,
    lines: scan.lines,
  };
  for (const [stream, n] of want) {
    const s = scan.streams.get(stream);
    const lost: number[] = [];
    const dup: number[] = [];
    let inRange = 0;
    for (let q = 1; q <= n; q++) {
      const k = s && q < s.counts.length ? s.counts[q]! : 0;
      inRange += k;
      if (k === 0) lost.push(q);
      else if (k > 1) dup.push(q);
    }
    if (lost.length) r.lost.set(stream, lost);
    if (dup.length) r.dup.set(stream, dup);
    if (s && s.lines > inRange) r.beyond.set(stream, s.lines - inRange);
  }
  r.extraStreams = [...scan.streams.keys()].filter((k) => !want.has(k));
  return r;
}

function describe(r: ArchiveReport): string {
  const parts: string[] = [`${r.lines} lines`];
  for (const [s, l] of r.lost) parts.push(`stream ${s}: ${l.length} lost (${formatRanges(l)})`);
  for (const [s, d] of r.dup) parts.push(`stream ${s}: ${d.length} duplicated (${formatRanges(d)})`);
  for (const [s, b] of r.beyond) parts.push(`stream ${s}: ${b} records beyond the seqs shipped`);
  if (r.extraStreams.length) parts.push(`streams never shipped: ${r.extraStreams.join(', ')}`);
  if (r.unreadable.length) parts.push(`lines without _rx.stream/_rx.seq: ${r.unreadable.join(' | ')}`);
  return parts.join('; ');
}

/** Waits until the archive holds every seq 1..n of every stream, then asserts each exactly once. */
async function verifyArchive(
  ctx: CheckContext,
  dir: string,
  want: Map<number, number>,
  timeoutMs: number,
  hint: string,
): Promise<void> {
  let last: ArchiveReport | undefined;
  await waitFor(
    async () => {
      last = await archiveReport(dir, want);
      return last.lost.size === 0 || last.dup.size > 0;
    },
    {
      timeoutMs,
      intervalMs: 1000,
      signal: ctx.signal,
      what: `the archive to hold ${[...want].map(([s, n]) => `stream ${s} seqs 1..${n}`).join(', ')}`,
      where: dir,
      received: () => (last ? describe(last) : 'nothing read yet'),
      hint,
    },
  );
  const r = last!;
  if (r.lost.size || r.dup.size || r.beyond.size || r.extraStreams.length || r.unreadable.length) {
    fail({
      expected: `every seq of every stream exactly once (${[...want].map(([s, n]) => `${s}: 1..${n}`).join(', ')})`,
      received: describe(r),
      where: dir,
      hint,
    });
  }
}

function streamOf(done: Record<string, unknown>): number {
  return Number(done['stream']);
}

// ---- the checks ---------------------------------------------------------------------------------------

const scale1: Check = {
  id: 'scale.1',
  title:
    'the process contract (--help; a bad --sink, --subject-prefix, --fetch or --target exits 2 naming the flag), and the stream a receiver creates is the one configured',
  points: 10,
  timeoutMs: 60_000,
  async run(ctx) {
    const bad: Array<[ProgramName, string[], string]> = [
      ['receiver', ['--sink', 'kafka'], '--sink'],
      ['receiver', ['--sink', 'jetstream', '--subject-prefix', 'a..b'], '--subject-prefix'],
      [ARCHIVER, ['--fetch', '0'], '--fetch'],
      ['shipper', ['--generate', '1', '--target', '127.0.0.1:1,nohost'], '--target'],
    ];
    const [helps, bads] = await Promise.all([
      Promise.all(
        (['receiver', ARCHIVER, 'shipper'] as ProgramName[]).map(
          async (program) => [program, await ctx.run(program, ['--help'], { timeoutMs: 30_000 })] as const,
        ),
      ),
      Promise.all(
        bad.map(
          async ([program, args, flag]) =>
            [program, args, flag, await ctx.run(program, args, { timeoutMs: 30_000 })] as const,
        ),
      ),
    ]);
    for (const [program, r] of helps) {
      expectTrue(r.exitCode === 0 && r.stdout.includes('--nats') === (program !== 'shipper'), {
        expected: `${program} --help: exit 0${program !== 'shipper' ? ', usage naming --nats' : ''}`,
        received: `exit ${r.exitCode}, stdout ${r.stdout.slice(0, 200)}`,
        hint: 'parseCli with jetstreamSinkOptions() (lessons/scale/jetstream/options.ts)',
      });
    }
    for (const [program, args, flag, r] of bads) {
      expectTrue(r.exitCode === 2 && r.stderr.includes(flag), {
        expected: `${program} ${args.join(' ')}: exit 2, stderr naming ${flag}`,
        received: `exit ${r.exitCode}, stderr ${r.stderr.slice(0, 300)}`,
        hint: 'CONVENTIONS.md §2: a bad value prints one line naming the flag and exits 2',
      });
    }
    // the first receiver creates the stream: replicas, subjects and duplicate window as its flags say
    await withCluster(ctx, async (c, tmp) => {
      await ctx.start(
        'receiver',
        [
          '--port',
          '0',
          '--data-dir',
          path.join(tmp, 'r1'),
          '--sink',
          'jetstream',
          '--nats',
          c.urls.join(','),
          '--js-stream',
          JS_STREAM,
          '--replicas',
          '3',
          '--subject-prefix',
          'acme.logs',
          '--duplicate-window-ms',
          '90000',
        ],
        { readyTimeoutMs: 20_000 },
      );
      const si = await streamInfo(c);
      const got = {
        replicas: si.config.num_replicas,
        subjects: si.config.subjects,
        duplicateWindowMs: si.config.duplicate_window / 1e6,
      };
      expectTrue(
        got.replicas === 3 &&
          got.subjects.length === 1 &&
          got.subjects[0] === 'acme.logs.>' &&
          got.duplicateWindowMs === 90_000,
        {
          expected: `stream ${JS_STREAM}: replicas 3, subjects ["acme.logs.>"], duplicate window 90000 ms`,
          received: JSON.stringify(got),
          hint: 'the receiver creates the stream from --replicas, --subject-prefix and --duplicate-window-ms',
        },
      );
    });
  },
};

const scale2: Check = {
  id: 'scale.2',
  title:
    '500,000 records through 3 receivers into a 3-replica JetStream stream: the archive holds every seq exactly once',
  points: 30,
  timeoutMs: 150_000,
  exclusive: true,
  run: onThreeReceivers(async (ctx, t) => {
    const { c, tmp, rs, archive } = t;
    await startArchiver(ctx, c, archive);
    const per = [166_667, 166_667, 166_666];
    const hint = 'ACK after the PubAck, dedup by the HWM JetStream holds, archiver: skip seq ≤ the mark of its files';
    const shippers = per.map((n, i) => shipperAt(ctx, t, i, n, ['--batch-records', '1000']));
    const dones = await Promise.all(shippers.map((p, i) => shipped(p, per[i]!, 100_000, hint)));
    for (const [i, r] of rs.entries()) {
      const persisted = statNumber(await readStats(path.join(tmp, `r${i + 1}`)), 'records.persisted') ?? 0;
      ctx.log(`receiver r${i + 1} (pid ${r.pid}) persisted ${persisted}`);
      expectTrue(persisted > 0, {
        expected: `receiver r${i + 1} to carry records (stats.json records.persisted > 0)`,
        received: `${persisted}`,
        where: path.join(tmp, `r${i + 1}`),
      });
    }
    await expectReplicas(c, 3, 'the receivers create the stream with --replicas 3: every record on 3 nodes');
    await verifyArchive(ctx, archive, new Map(dones.map((d, i) => [streamOf(d), per[i]!])), 60_000, hint);
  }),
};

const scale3: Check = {
  id: 'scale.3',
  title:
    'the whole NATS cluster down: receivers stop acknowledging (the shipper holds its records), and everything flows once it is back',
  points: 30,
  timeoutMs: 120_000,
  exclusive: true,
  async run(ctx) {
    await withCluster(ctx, async (c, tmp) => {
      const rx = await startReceiver(ctx, c, path.join(tmp, 'r1'), 'scale-r1', 0, 1500);
      const n = 30_000;
      const hint =
        'an ACK promises the records are stored: only after JetStream acknowledged the publish, never after a failed one';
      const s = ship(ctx, [rx], path.join(tmp, 's1'), n, [
        '--rate',
        '10000',
        '--queue-records',
        '100000',
        '--ack-timeout-ms',
        '3000',
      ]);
      const acked = () => Number(s.lastEvent('progress')?.['acked'] ?? 0);
      await waitFor(() => acked() >= 10_000 || s.exited(), {
        timeoutMs: 30_000,
        intervalMs: 100,
        signal: ctx.signal,
        what: 'the shipper to get 10,000 records acknowledged',
        where: s.cmd,
        received: () => s.lastEvent('progress'),
      });
      for (let i = 0; i < 3; i++) await c.kill(i, 'SIGKILL');
      const ackedAtKill = acked();
      ctx.log(`cluster killed with ${ackedAtKill} acked`);
      // the source runs out while the cluster is down; then the shipper must still be waiting for ACKs
      await waitFor(() => Number(s.lastEvent('progress')?.['read'] ?? 0) >= n || s.exited(), {
        timeoutMs: 20_000,
        intervalMs: 100,
        signal: ctx.signal,
        what: `the shipper to read its ${n} records`,
        where: s.cmd,
        received: () => s.lastEvent('progress'),
      });
      // nothing may be acknowledged for 2.5 s while every node is down: watched until that time has passed
      const until = Date.now() + 2500;
      await waitUntil(
        () => {
          const ex = s.exited();
          if (ex || acked() >= n)
            failNow({
              expected: 'no acknowledgement of the records that arrived while every NATS node was down',
              received: `the shipper ${ex ? `exited (${ex.exitCode}) with done ${JSON.stringify(s.lastEvent('done'))}` : `had ${acked()} of ${n} acknowledged`} while the cluster was down (acked ${ackedAtKill} when it went down)`,
              where: s.cmd,
              hint,
            });
          return Date.now() >= until;
        },
        {
          timeoutMs: 10_000,
          intervalMs: 100,
          signal: ctx.signal,
          what: 'the 2.5 s with the cluster down to pass',
          where: s.cmd,
        },
      );
      ctx.log(`while down: acked ${acked()}`);
      for (let i = 0; i < 3; i++) c.startNode(i);
      await c.waitReady(30_000);
      const done = await shipped(
        s,
        n,
        60_000,
        'after the cluster is back the receiver stores again: the shipper resends what was not ACKed',
      );
      const archive = path.join(tmp, 'archive');
      await startArchiver(ctx, c, archive);
      await verifyArchive(ctx, archive, new Map([[streamOf(done), n]]), 30_000, hint);
    });
  },
};

/** The node to kill: not the stream's leader and not the receivers' first server (node 0). */
async function followerNode(c: NatsCluster): Promise<number> {
  const nc = await connect({ servers: c.urls[0], timeout: 2000 });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    const si = await jsm.streams.info(JS_STREAM);
    const leader = si.cluster?.leader;
    return c.nodes.findIndex((n, i) => i > 0 && n.name !== leader);
  } finally {
    await nc.close();
  }
}

const scale4: Check = {
  id: 'scale.4',
  title:
    'kill -9 one receiver, one nats-server node and the archiver mid-run (then restart them): nothing lost, nothing duplicated',
  points: 30,
  timeoutMs: 150_000,
  exclusive: true,
  run: onThreeReceivers(async (ctx, t) => {
    const { c, tmp, rs, archive } = t;
    const archiverArgs = ['--fsync-interval-ms', '1000'];
    let archiver = await startArchiver(ctx, c, archive, archiverArgs);
    const n = 40_000;
    const hint =
      'receiver: ACK after the PubAck; shipper: move to the next --target when the connection is lost; archiver: skip seq ≤ the mark of its files';
    const shippers = [0, 1, 2].map((i) => shipperAt(ctx, t, i, n, ['--rate', '10000']));
    await waitFor(async () => (statNumber(await readStats(archive), 'records.persisted') ?? 0) >= 20_000, {
      timeoutMs: 40_000,
      intervalMs: 100,
      signal: ctx.signal,
      what: 'the archive to reach 20,000 records',
      where: archive,
      received: async () => `records.persisted ${statNumber(await readStats(archive), 'records.persisted')}`,
    });
    const node = await followerNode(c);
    const r1Port = rs[0]!.port;
    rs[0]!.kill('SIGKILL');
    archiver.kill('SIGKILL');
    await c.kill(node, 'SIGKILL');
    ctx.log(`killed receiver r1 (port ${r1Port}), the archiver and nats node ${c.nodes[node]!.name}`);
    // the two survivors keep a quorum: they elect a meta leader and answer JetStream's API
    await c.waitReady(
      20_000,
      c.nodes.map((_, i) => i).filter((i) => i !== node),
    );
    c.startNode(node);
    archiver = await startArchiver(ctx, c, archive, archiverArgs);
    // r1 stays down until the shippers are done: the one that started there must fail over
    const dones = await Promise.all(shippers.map((p) => shipped(p, n, 25_000, hint)));
    // r1 comes back knowing nothing itself: a shipper resuming stream 1 there continues where the cluster is
    const r1 = await startReceiver(ctx, c, path.join(tmp, 'r1'), 'scale-r1', r1Port);
    const more = ship(ctx, [r1], path.join(tmp, 's0'), 1000);
    const moreDone = await shipped(
      more,
      1000,
      30_000,
      'a HELLO is answered with what JetStream holds of the stream, whichever receiver stored it',
    );
    const want = new Map(dones.map((d) => [streamOf(d), n]));
    want.set(streamOf(moreDone), n + 1000);
    await verifyArchive(ctx, archive, want, 60_000, hint);
  }),
};

export const checks: Check[] = [scale1, scale2, scale3, scale4];
