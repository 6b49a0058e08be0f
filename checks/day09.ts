// Graded checks for day 09: acknowledged delivery over LSP/1 binary frames (shared/protocol/README.md §3, §4): HELLO/ACK,
// dedup by (stream, seq), ACK only what is durable, resend after reconnect, bounded memory with a
// spool and an overflow policy, --follow that survives kill -9, half-open detection, NACK on bad
// frames, and reconnect backoff with full jitter.
// Black-box: the programs are driven through the process contract (COURSE.md); faults come from
// shared/fault-proxy.ts placed between the shipper and the receiver.
// The learner's TODOs (lessons/day09/README.md, "Your TODOs"): ingest.ts (HELLO's answer, dedup and gaps,
// ACK once durable), outbox.ts (ack/rewind), policies.ts (resume after HELLO, dead connection, admit,
// overflow, follow position) and backoff.ts (window and full jitter); the hints below name them.
// d09.9 (a broken frame: NACK + close that connection) is the connection machinery the lesson hands over:
// given, 0 points.
import { appendFile, readdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { FaultProxy } from '../shared/fault-proxy.ts';
import { encodeBatch, encodeBatchPayload } from '../shared/protocol/batch.ts';
import { encodeFrame, encodeHello, FrameDecoder, FrameType, parseNack, type Frame } from '../shared/protocol/frame.ts';
import { expectEqual, expectTrue, fail, failNow, show, waitUntil } from './harness/assert.ts';
import {
  formatRanges,
  readRecords,
  readStats,
  statNumber,
  verifySeqs,
  type PersistedRecord,
} from './harness/persisted.ts';
import { tail } from './harness/process.ts';
import { pick, randInt } from './harness/rng.ts';
import type { TcpClient } from './harness/tcp.ts';
import type {
  Check,
  CheckContext,
  ProgramEvent,
  ProgramExit,
  RunningProgram,
  RunResult,
  WatchedProgram,
} from './harness/types.ts';
import { freePort } from '../shared/free-port.ts';

export const lesson = 'day09';

type Rec = Record<string, unknown>;
type Json = Record<string, unknown>;

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---- the receiver ----------------------------------------------------------------------------

interface Receiver {
  rx: RunningProgram;
  dataDir: string;
  port: number;
}

/** Starts the receiver (stats every 100 ms so checks can wait on them); `dataDir` to restart on the same data. */
async function startReceiver(
  ctx: CheckContext,
  opts: { dataDir?: string; port?: number; extra?: string[] } = {},
): Promise<Receiver> {
  const dataDir = opts.dataDir ?? (await ctx.tmp());
  const args = [
    '--host',
    '127.0.0.1',
    '--port',
    String(opts.port ?? 0),
    '--data-dir',
    dataDir,
    '--stats-interval-ms',
    '100',
    ...(opts.extra ?? []),
  ];
  const rx = await ctx.start('receiver', args);
  ctx.log(`receiver pid ${rx.pid} on ${rx.host}:${rx.port}, args ${args.join(' ')}`);
  if (!Number.isInteger(rx.port) || rx.port <= 0) {
    fail({
      expected: 'the ready line to carry the bound port (a positive integer)',
      received: show(rx.ready['port']),
      where: 'receiver ready line',
      hint: 'with --port 0 the OS picks a port; announce the one you got',
    });
  }
  return { rx, dataDir, port: rx.port };
}

// ---- the shipper, watched while it runs (ctx.watch: no ready line, every JSON line kept with its time) ----

function spawnShipper(
  ctx: CheckContext,
  args: string[],
  opts: { stdin?: boolean; env?: Record<string, string> } = {},
): WatchedProgram {
  const p = ctx.watch('shipper', args, opts);
  ctx.log(`shipper pid ${p.pid}: ${p.cmd}`);
  return p;
}

/**
 * Waits for the process to exit; fails (saying how long it waited) if it does not within `timeoutMs`,
 * or as soon as its progress lines show no new ACK for `stuckMs` (a shipper that will never finish).
 */
async function waitExit(p: WatchedProgram, timeoutMs: number, hint: string, stuckMs = 10_000): Promise<ProgramExit> {
  const t0 = Date.now();
  let acked: unknown;
  let changedAt = t0;
  const failNow = (why: string): never => {
    const last = p.lastEvent('progress') ?? p.lastEvent('state');
    return fail({
      expected: `\`${p.cmd}\` to finish within ${timeoutMs} ms`,
      received: `${why}; last line ${show(last ?? '(none)', 300)}; stderr tail:\n${tail(p.stderrText(), 5, 10) || '(empty)'}`,
      where: `pid ${p.pid}`,
      hint,
    });
  };
  for (;;) {
    const ex = p.exited();
    if (ex) return ex;
    const now = Date.now();
    const a = p.lastEvent('progress')?.['acked'];
    if (a !== acked) {
      acked = a;
      changedAt = now;
    }
    if (now - t0 >= timeoutMs) failNow(`still running after ${now - t0} ms`);
    if (now - changedAt >= stuckMs)
      failNow(`still running, and no new ACK for ${now - changedAt} ms (acked = ${show(acked)})`);
    await Promise.race([p.exit, sleep(50)]);
  }
}

function doneOf(p: WatchedProgram): Json {
  const d = p.lastEvent('done');
  if (!d)
    fail({
      expected: `a {"event":"done",…} line on the stdout of \`${p.cmd}\``,
      received: show(p.stdoutTail().slice(-400) || '(empty stdout)'),
      where: `pid ${p.pid} stdout`,
      hint: 'a shipper ends with one done line: {"event":"done","sent","acked","dropped","spooled","reconnects","stream",…}',
    });
  return d;
}

/** The shipper exited 0 and its done line says every one of `n` records was acknowledged. */
function expectDelivered(p: WatchedProgram, exit: ProgramExit, n: number, extraHint = ''): Json {
  expectTrue(exit.exitCode === 0, {
    expected: `\`${p.cmd}\` to exit 0 (everything acknowledged)`,
    received: `exit code ${exit.exitCode}, signal ${exit.signal}; stderr tail:\n${tail(p.stderrText(), 5, 10) || '(empty)'}`,
    where: `pid ${p.pid}`,
    hint: `exit 0 when acked + dropped == records read${extraHint}`,
  });
  const done = doneOf(p);
  expectEqual(done['acked'], n, {
    what: 'done line "acked"',
    where: `shipper done line ${show(done, 300)}`,
    hint: 'acked counts records the receiver ACKed, each once (a resend is not a second ack): your Outbox.ack (lessons/day09/outbox.ts) returns how many records an ACK newly covers, a partly covered batch included',
  });
  return done;
}

function streamOf(done: Json, p: WatchedProgram): number {
  const s = done['stream'];
  if (typeof s !== 'number' || !Number.isInteger(s) || s < 0)
    fail({
      expected: 'the done line to carry the stream id ("stream": a u32)',
      received: show(s),
      where: `shipper done line of pid ${p.pid}`,
      hint: 'report the stream id used in HELLO/BATCH',
    });
  return s;
}

/**
 * Waits for a progress line that satisfies `cond`. Fails when the shipper exits first, when the deadline
 * passes, or (with `stuckOn`) as soon as that progress field has not moved for `stuckMs`.
 */
async function waitProgress(
  p: WatchedProgram,
  what: string,
  cond: (j: Json) => boolean,
  timeoutMs: number,
  hint?: string,
  stuck?: { on: string; ms: number },
): Promise<Json> {
  let value: unknown;
  let changedAt = Date.now();
  return waitUntil(
    () => {
      const ex = p.exited();
      const hit = p.events.find((e) => e.json['event'] === 'progress' && cond(e.json));
      if (hit) return hit.json;
      const last = p.lastEvent('progress');
      if (ex)
        failNow({
          expected: `${what} (a progress line of \`${p.cmd}\`)`,
          received: `it exited first (code ${ex.exitCode}, signal ${ex.signal}); last progress ${show(last ?? '(none)', 300)}; stderr tail:\n${tail(p.stderrText(), 5, 10) || '(empty)'}`,
          where: `pid ${p.pid}`,
          hint,
        });
      if (stuck && last) {
        if (last[stuck.on] !== value) {
          value = last[stuck.on];
          changedAt = Date.now();
        } else if (Date.now() - changedAt >= stuck.ms) {
          failNow({
            expected: `${what} (a progress line of \`${p.cmd}\`)`,
            received: `"${stuck.on}" stuck at ${show(value)} for ${Date.now() - changedAt} ms; last progress ${show(last, 300)}`,
            where: `pid ${p.pid}`,
            hint,
          });
        }
      }
      return undefined;
    },
    {
      timeoutMs,
      what,
      where: `shipper pid ${p.pid} stdout`,
      hint:
        hint ??
        '--progress-ms N prints {"event":"progress","read","sent","acked","dropped","spooled","queued","state"} every N ms',
      received: () => `last progress line ${show(p.lastEvent('progress') ?? '(none)', 300)}`,
    },
  );
}

// ---- records, frames, persisted data ---------------------------------------------------------

function rec(id: string, rng: () => number, fields: Rec = {}): Rec {
  return {
    ts: '2026-11-26T14:13:48.123Z',
    level: pick(rng, LEVELS),
    msg: `record ${id} ${Math.floor(rng() * 1e9)}`,
    service: 'checks',
    ...fields,
    attrs: { id },
  };
}

function idOf(r: Rec): string | undefined {
  const attrs = r['attrs'];
  if (attrs && typeof attrs === 'object') {
    const id = (attrs as Rec)['id'];
    if (typeof id === 'string') return id;
  }
  return undefined;
}

function withoutRx(r: Rec): Rec {
  const { _rx: _ignored, ...rest } = r;
  return rest;
}

const where = (p: PersistedRecord) => `${p.file} line ${p.lineNo}`;

/** A stream id for the check's own frames: a seeded u32, never 0. */
const streamId = (rng: () => number) => 1 + Math.floor(rng() * 0xffff_fffe);

/** Every frame the peer sent on this connection so far (a framing error in its output is a failure). */
function framesFrom(c: TcpClient): Frame[] {
  const bytes = Buffer.from(c.received());
  try {
    return new FrameDecoder({ maxPayloadBytes: 1 << 20 }).push(bytes);
  } catch (err) {
    failNow({
      expected: 'the receiver to send well-formed LSP/1 frames',
      received: `${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message} at byte ${(err as { offset?: number }).offset ?? '?'}`,
      where: `bytes received on the connection from ${c.localPeer}`,
      hint: 'the receiver answers with ACK and NACK frames only',
    });
  }
}

/** Waits for an ACK of `stream` with seq ≥ `want`; returns every ACK seq seen. */
async function waitAck(c: TcpClient, stream: number, want: number, timeoutMs: number, hint: string): Promise<number[]> {
  let acks: number[] = [];
  await waitUntil(
    () => {
      const frames = framesFrom(c);
      const nack = frames.find((f) => f.type === FrameType.NACK);
      if (nack)
        failNow({
          expected: `an ACK of stream ${stream} with seq ${want}`,
          received: `a NACK ${show(nack.payload.toString('utf8'))}`,
          where: `connection from ${c.localPeer}`,
          hint,
        });
      acks = frames.filter((f) => f.type === FrameType.ACK && f.stream === stream).map((f) => f.seq);
      return acks.some((s) => s >= want);
    },
    {
      timeoutMs,
      what: `an ACK of stream ${stream} with seq ${want}`,
      where: `connection from ${c.localPeer}`,
      hint,
      received: () =>
        acks.length
          ? `ACK seqs ${show(acks.slice(-10))}`
          : `no ACK${c.destroyed || c.peerEnded ? ' (the receiver closed the connection)' : ''}`,
    },
  );
  return acks;
}

/** Persisted records whose `_rx.stream` is `stream`; fails on lines that are not JSON objects. */
async function recordsOf(dataDir: string, stream: number): Promise<PersistedRecord[]> {
  const read = await readRecords(dataDir);
  if (read.invalid.length > 0) {
    const bad = read.invalid[0]!;
    fail({
      expected: 'every complete line of *.ndjson to be a JSON record',
      received: `${read.invalid.length} bad lines; first: ${show(bad.text.slice(0, 120))} (${bad.problem})`,
      where: `${bad.file} line ${bad.lineNo}`,
      hint: 'after a kill -9 a file may end in half a line: on restart, cut it off (or start a new file) before appending',
    });
  }
  return read.records.filter((p) => String((p.record['_rx'] as Rec | undefined)?.['stream']) === String(stream));
}

/** Every seq 1..n of `stream` persisted exactly once, in order. */
async function expectSeqs(dataDir: string, stream: number, n: number, hint: string): Promise<PersistedRecord[]> {
  const records = await recordsOf(dataDir, stream);
  const r = verifySeqs(records, { stream });
  const problems: string[] = [];
  if (r.lost.length) problems.push(`${r.lost.length} lost (seqs ${formatRanges(r.lost)})`);
  if (r.duplicated.length) problems.push(`${r.duplicated.length} duplicated (seqs ${formatRanges(r.duplicated)})`);
  if (r.reordered) problems.push(`${r.reordered} out of order`);
  if (r.maxSeq !== n) problems.push(`highest seq ${r.maxSeq}`);
  if (r.count !== n) problems.push(`${r.count} records in all`);
  if (problems.length)
    fail({
      expected: `seqs 1..${n} of stream ${stream}, each persisted exactly once, in order`,
      received: problems.join('; '),
      where: dataDir,
      hint,
    });
  return records;
}

/** Waits for a stats.json value; with `alive`, fails at once if that program exits meanwhile. */
async function waitStat(
  dataDir: string,
  dotted: string,
  pred: (v: number | undefined) => boolean,
  want: string,
  timeoutMs: number,
  hint: string,
  alive?: WatchedProgram,
): Promise<void> {
  let last: number | undefined;
  let exists = false;
  await waitUntil(
    async () => {
      const ex = alive?.exited();
      if (alive && ex)
        failNow({
          expected: `stats.json ${dotted} ${want} while \`${alive.cmd}\` runs`,
          received: `it exited (code ${ex.exitCode}, signal ${ex.signal}) with ${dotted} = ${show(last)}; stderr tail:\n${tail(alive.stderrText(), 5, 10) || '(empty)'}`,
          where: `pid ${alive.pid}`,
          hint,
        });
      const stats = await readStats(dataDir).catch(() => null);
      exists = stats !== null;
      last = statNumber(stats, dotted);
      return pred(last);
    },
    {
      timeoutMs,
      what: `stats.json ${dotted} ${want}`,
      where: `${dataDir}/stats.json`,
      hint,
      received: () => (exists ? `${dotted} = ${show(last)}` : 'no stats.json'),
    },
  );
}

async function withProxy<T>(targetPort: number, fn: (proxy: FaultProxy) => Promise<T>): Promise<T> {
  const proxy = new FaultProxy({ targetHost: '127.0.0.1', targetPort });
  await proxy.start();
  try {
    return await fn(proxy);
  } finally {
    await proxy.stop();
  }
}

function exitedWith(r: RunResult, code: number, cmd: string, hint: string): void {
  if (r.timedOut)
    fail({
      expected: `\`${cmd}\` to exit with code ${code}`,
      received: `still running after ${r.ms} ms`,
      where: cmd,
      hint,
    });
  expectEqual(r.exitCode, code, {
    what: `exit code of \`${cmd}\``,
    where: `stderr: ${show(r.stderr.trim().slice(-300))}`,
    hint,
  });
}

function stderrNames(r: RunResult, flag: string, cmd: string): void {
  const lines = r.stderr.split('\n').filter((l) => l.trim().length > 0);
  expectTrue(
    lines.some((l) => l.includes(flag)),
    {
      expected: `a stderr line naming ${flag} from \`${cmd}\``,
      received: show(r.stderr.trim().slice(0, 300) || '(empty stderr)'),
      where: 'stderr',
      hint: 'print one line on stderr that names the offending flag, then exit 2',
    },
  );
}

/** Shipper flags every check uses: its own state dir, progress lines, quick reconnects. */
async function shipperBase(
  ctx: CheckContext,
  target: string,
  extra: string[] = [],
  stateDir?: string,
): Promise<string[]> {
  return [
    '--target',
    target,
    '--state-dir',
    stateDir ?? (await ctx.tmp()),
    '--progress-ms',
    '100',
    '--backoff-base-ms',
    '20',
    '--backoff-cap-ms',
    '200',
    ...extra,
  ];
}

/** Waits until a progress line satisfies `cond` or the program exits; true for the former. */
async function progressOrExit(
  p: WatchedProgram,
  what: string,
  cond: (j: Json) => boolean,
  timeoutMs: number,
  hint = '--progress-ms N prints {"event":"progress",…} every N ms',
): Promise<boolean> {
  const hit = await waitUntil(
    () =>
      p.events.some((e) => e.json['event'] === 'progress' && cond(e.json)) ? 'hit' : p.exited() ? 'exited' : undefined,
    {
      timeoutMs,
      what: `${what} (or the shipper to finish)`,
      where: `shipper pid ${p.pid} stdout`,
      hint,
      received: () => `last progress line ${show(p.lastEvent('progress') ?? '(none)', 300)}`,
    },
  );
  return hit === 'hit';
}

const at = (port: number) => `127.0.0.1:${port}`;

// ---- the checks ----------------------------------------------------------------------------

const d09_1: Check = {
  id: 'd09.1',
  title:
    'Process contract (ready line, --help, bad flag exit 2, LOGSTREAM_* env) for receiver and shipper; 100 records delivered by a shipper configured from the environment',
  points: 5,
  timeoutMs: 90_000,
  async run(ctx) {
    const dataDir = await ctx.tmp();
    const base = ['--data-dir', dataDir, '--port', '0'];
    const [rxHelp, rxBogus, rxBadSize, rxBadFsync] = await Promise.all([
      ctx.run('receiver', ['--help'], { timeoutMs: 30_000 }),
      ctx.run('receiver', [...base, '--bogus'], { timeoutMs: 30_000 }),
      ctx.run('receiver', [...base, '--max-payload-bytes', 'lots'], { timeoutMs: 30_000 }),
      ctx.run('receiver', [...base, '--fsync', 'sometimes'], { timeoutMs: 30_000 }),
    ]);
    exitedWith(rxHelp, 0, 'receiver --help', '--help prints usage on stdout and exits 0');
    const usage = rxHelp.stdout + rxHelp.stderr;
    for (const flag of ['--port', '--data-dir', '--max-payload-bytes', '--max-decoded-bytes', '--fsync']) {
      expectTrue(usage.includes(flag), {
        expected: `receiver usage naming ${flag}`,
        received: show(usage.slice(0, 400)),
        where: 'receiver --help',
        hint: 'list every flag in --help',
      });
    }
    exitedWith(rxBogus, 2, 'receiver --bogus', 'an unknown flag is an error: one stderr line naming it, exit 2');
    stderrNames(rxBogus, '--bogus', 'receiver --bogus');
    exitedWith(
      rxBadSize,
      2,
      'receiver --max-payload-bytes lots',
      'a bad value is an error: one stderr line naming the flag, exit 2',
    );
    stderrNames(rxBadSize, '--max-payload-bytes', 'receiver --max-payload-bytes lots');
    exitedWith(rxBadFsync, 2, 'receiver --fsync sometimes', '--fsync takes always | interval | never');
    stderrNames(rxBadFsync, '--fsync', 'receiver --fsync sometimes');

    const [st1, st2, st3] = [await ctx.tmp(), await ctx.tmp(), await ctx.tmp()];
    const [shHelp, shBogus, shOverflow, shAckTimeout] = await Promise.all([
      ctx.run('shipper', ['--help'], { timeoutMs: 30_000 }),
      ctx.run('shipper', ['--generate', '1', '--state-dir', st1, '--bogus'], { timeoutMs: 30_000 }),
      ctx.run('shipper', ['--generate', '1', '--state-dir', st2, '--overflow', 'sometimes'], { timeoutMs: 30_000 }),
      ctx.run('shipper', ['--generate', '1', '--state-dir', st3, '--ack-timeout-ms', 'soon'], { timeoutMs: 30_000 }),
    ]);
    exitedWith(shHelp, 0, 'shipper --help', '--help prints usage on stdout and exits 0');
    const shUsage = shHelp.stdout + shHelp.stderr;
    for (const flag of [
      '--target',
      '--state-dir',
      '--window-batches',
      '--queue-records',
      '--overflow',
      '--spool',
      '--backoff-base-ms',
      '--backoff-cap-ms',
      '--max-attempts',
      '--ack-timeout-ms',
      '--follow',
      '--progress-ms',
    ]) {
      expectTrue(shUsage.includes(flag), {
        expected: `shipper usage naming ${flag}`,
        received: show(shUsage.slice(0, 400)),
        where: 'shipper --help',
        hint: 'list every flag in --help',
      });
    }
    exitedWith(shBogus, 2, 'shipper --bogus', 'an unknown flag is an error: one stderr line naming it, exit 2');
    stderrNames(shBogus, '--bogus', 'shipper --bogus');
    exitedWith(shOverflow, 2, 'shipper --overflow sometimes', '--overflow takes block | drop-oldest | drop-newest');
    stderrNames(shOverflow, '--overflow', 'shipper --overflow sometimes');
    exitedWith(
      shAckTimeout,
      2,
      'shipper --ack-timeout-ms soon',
      'a bad value is an error: one stderr line naming the flag, exit 2',
    );
    stderrNames(shAckTimeout, '--ack-timeout-ms', 'shipper --ack-timeout-ms soon');

    // LOGSTREAM_<FLAG> from the environment, and the ready line itself.
    const port = await freePort();
    const rx = await ctx.start('receiver', ['--data-dir', dataDir, '--stats-interval-ms', '100'], {
      env: { LOGSTREAM_PORT: String(port) },
    });
    ctx.log(`receiver started with LOGSTREAM_PORT=${port}: ready ${JSON.stringify(rx.ready)}`);
    const r = rx.ready;
    expectEqual(r['role'], 'receiver', {
      what: 'ready line "role"',
      where: 'receiver ready line',
      hint: '{"event":"ready","role":"receiver","lesson":"day09","transport":"lsp1-tcp","host":…,"port":…}',
    });
    expectEqual(r['lesson'], 'day09', { what: 'ready line "lesson"', where: 'receiver ready line' });
    expectEqual(r['transport'], 'lsp1-tcp', {
      what: 'ready line "transport"',
      where: 'receiver ready line',
      hint: 'day 09 speaks LSP/1 binary frames over TCP: "lsp1-tcp"',
    });
    expectEqual(r['host'], '127.0.0.1', { what: 'ready line "host" (default --host)', where: 'receiver ready line' });
    expectEqual(r['port'], port, {
      what: 'ready line "port" when started with LOGSTREAM_PORT',
      where: 'receiver ready line',
      hint: 'every flag also reads LOGSTREAM_<FLAG> from the environment (flag first)',
    });

    // The shipper, configured by environment alone.
    const N = 100;
    const env = { LOGSTREAM_TARGET: at(port), LOGSTREAM_GENERATE: String(N), LOGSTREAM_STATE_DIR: await ctx.tmp() };
    const res = await ctx.run('shipper', [], { env, timeoutMs: 30_000 });
    const cmd = `LOGSTREAM_TARGET=${at(port)} LOGSTREAM_GENERATE=${N} LOGSTREAM_STATE_DIR=… shipper.ts`;
    exitedWith(
      res,
      0,
      cmd,
      'the shipper reads LOGSTREAM_TARGET, LOGSTREAM_GENERATE, … and exits 0 once everything is ACKed; it can only finish when each ACK frees what it covers: your Outbox.ack (lessons/day09/outbox.ts)',
    );
    const done = res.json.find((j) => j['event'] === 'done');
    if (!done)
      fail({
        expected: `a {"event":"done",…} line on the stdout of \`${cmd}\``,
        received: show(res.stdout.slice(-300) || '(empty stdout)'),
        where: 'shipper stdout',
      });
    expectEqual(done['acked'], N, { what: 'done line "acked"', where: `done line ${show(done, 300)}` });
    for (const k of ['sent', 'dropped', 'spooled', 'reconnects', 'stream']) {
      expectTrue(typeof done[k] === 'number', {
        expected: `done line field "${k}" (a number)`,
        received: show(done, 300),
        where: 'shipper done line',
        hint: '{"event":"done","sent","acked","dropped","spooled","reconnects","stream",…}',
      });
    }
    const states = res.json.filter((j) => j['event'] === 'state');
    const bad = states.find(
      (s) =>
        typeof s['from'] !== 'string' ||
        typeof s['to'] !== 'string' ||
        typeof s['reason'] !== 'string' ||
        typeof s['t'] !== 'number',
    );
    expectTrue(states.length > 0 && !bad, {
      expected: 'a {"event":"state","from","to","reason","t"} line on every state transition',
      received: states.length ? `a malformed one: ${show(bad)}` : 'no state lines',
      where: 'shipper stdout',
      hint: 'states: connecting, handshaking, streaming, backoff, draining, closed',
    });
    const seen = new Set(states.map((s) => s['to']));
    for (const s of ['connecting', 'handshaking', 'streaming|draining', 'closed']) {
      expectTrue(
        s.split('|').some((x) => seen.has(x)),
        {
          expected: `a state event into "${s.replace('|', '" or "')}" on a clean run`,
          received: `states reached: ${show([...seen])}`,
          where: 'shipper stdout',
          hint: 'connecting → handshaking → streaming → draining → closed (a source that is already exhausted may go straight to draining)',
        },
      );
    }
  },
};

const d09_2: Check = {
  id: 'd09.2',
  title: 'Handshake: HELLO on a fresh receiver → ACK 0; after 1,000 records → ACK 1000',
  points: 10,
  timeoutMs: 30_000,
  async run(ctx) {
    const { rx, dataDir } = await startReceiver(ctx);
    const S = streamId(ctx.rng);
    const c = await ctx.connect(rx.host, rx.port);
    await c.write(encodeHello(S, { name: 'check-d09.2' }));
    const first = await waitAck(
      c,
      S,
      0,
      5000,
      'a HELLO is answered with an ACK (type 3) holding the highest durable seq of that stream: 0 for a new one (your onHello TODO in lessons/day09/ingest.ts)',
    );
    expectEqual(first[0], 0, {
      what: `the ACK to the HELLO of a new stream ${S}`,
      where: `connection from ${c.localPeer}`,
      hint: 'a stream never seen has nothing durable: ACK seq 0 (your onHello TODO in lessons/day09/ingest.ts)',
    });

    // 1,000 records in batches of seeded sizes, written in pieces split at random offsets.
    const N = 1000;
    const sent: Rec[] = [];
    const frames: Buffer[] = [];
    for (let seq = 1; seq <= N;) {
      const n = Math.min(N - seq + 1, randInt(ctx.rng, 1, 150));
      const records: string[] = [];
      for (let i = 0; i < n; i++) {
        const r = rec(`hs-${seq + i}`, ctx.rng);
        sent.push(r);
        records.push(JSON.stringify(r));
      }
      frames.push(encodeBatch({ stream: S, seq, records }));
      seq += n;
    }
    const all = Buffer.concat(frames);
    const cuts: number[] = [];
    for (let p = randInt(ctx.rng, 1, 3000); p < all.length; p += randInt(ctx.rng, 1, 6000)) cuts.push(p);
    await c.writeSplit(all, cuts);
    ctx.log(`${frames.length} BATCH frames (${all.length} bytes) sent in ${cuts.length + 1} writes`);
    const acks = await waitAck(
      c,
      S,
      N,
      10_000,
      'your ACK TODO in lessons/day09/ingest.ts: ACK (cumulative) each batch once it is durable; the last ACK covers seq 1000',
    );
    expectTrue(acks.every((s, i) => i === 0 || s >= acks[i - 1]!) && acks.every((s) => s <= N), {
      expected: `ACK seqs that never go back and never pass ${N}`,
      received: show(acks.slice(0, 30)),
      where: `connection from ${c.localPeer}`,
      hint: 'an ACK is cumulative: the highest S such that 1..S are durable (your ACK TODO in lessons/day09/ingest.ts: conn.ack(stream, marks.durable) once durable)',
    });

    const records = await expectSeqs(
      dataDir,
      S,
      N,
      'persist each record of a BATCH with _rx.stream and _rx.seq = frame seq + index',
    );
    const p0 = records.find((p) => idOf(p.record) === 'hs-1');
    if (!p0) fail({ expected: 'the record with attrs.id "hs-1" persisted', received: 'not found', where: dataDir });
    expectEqual(withoutRx(p0.record), sent[0], {
      what: 'the first record without _rx',
      where: where(p0),
      hint: 'keep every field of the record as it came; only add _rx',
    });
    const meta = p0.record['_rx'] as Rec;
    expectEqual(meta['seq'], 1, { what: '_rx.seq of the first record', where: where(p0) });
    expectEqual(meta['stream'], S, {
      what: '_rx.stream',
      where: where(p0),
      hint: "_rx.stream is the frame's stream id, a number",
    });

    // A new connection, the same stream: the receiver says where to resume.
    const c2 = await ctx.connect(rx.host, rx.port);
    await c2.write(encodeHello(S, { name: 'check-d09.2' })); // the same name: on a plaintext lane it is the stream's owner (issue 17)
    const again = await waitAck(c2, S, 0, 5000, 'answer every HELLO with an ACK');
    expectEqual(again[0], N, {
      what: `the ACK to a second HELLO of stream ${S}`,
      where: `connection from ${c2.localPeer}`,
      hint: "the HELLO's ACK holds the stream's durable high-water mark, so a shipper resumes after it: your onHello TODO in lessons/day09/ingest.ts answers marks.durable, and your ACK TODO raises it (hwm.markDurable) once a batch is durable",
    });
    await waitStat(
      dataDir,
      `streams.${S}.hwm`,
      (v) => v === N,
      `= ${N}`,
      5000,
      "stats.json streams[<id>].hwm is the stream's durable mark: hwm.markDurable(marks, upTo) in your ACK TODO (lessons/day09/ingest.ts) raises it",
    );
  },
};

const d09_3: Check = {
  id: 'd09.3',
  exclusive: true,
  title:
    '200,000 records through a fault proxy that cuts every ~0.5 s: every seq 1..N persisted exactly once, in order',
  points: 20,
  timeoutMs: 90_000,
  async run(ctx) {
    const N = 200_000;
    const { rx, dataDir } = await startReceiver(ctx);
    await withProxy(rx.port, async (proxy) => {
      proxy.schedule({ action: 'cut', everyMs: 500 });
      const sh = spawnShipper(
        ctx,
        await shipperBase(ctx, at(proxy.port), ['--generate', String(N), '--seed', String(ctx.seed % 1_000_000)]),
      );
      // Also cut at fixed points of the run, so even a very fast shipper meets a few cuts mid-stream.
      const marks = [0.2, 0.5, 0.8].map((f) => Math.floor(N * f));
      for (const m of marks) {
        if (
          !(await progressOrExit(
            sh,
            `progress with sent ≥ ${m}`,
            (j) => Number(j['sent']) >= m,
            30_000,
            'the window only lets more go out once ACKs free it: your Outbox.ack (lessons/day09/outbox.ts) forgets what an ACK covers',
          ))
        )
          break;
        proxy.cut();
      }
      const exit = await waitExit(
        sh,
        60_000,
        'after a cut: reconnect (with backoff), HELLO, and resend what was not ACKed: your resumeAfterHello (lessons/day09/policies.ts) and Outbox.rewind/ack (lessons/day09/outbox.ts)',
      );
      ctx.log(`shipper exit ${exit.exitCode}; proxy ${JSON.stringify(proxy.counters)}`);
      const done = expectDelivered(
        sh,
        exit,
        N,
        '; after each cut resend everything not yet ACKed (your resumeAfterHello in lessons/day09/policies.ts)',
      );
      ctx.log(`done ${JSON.stringify(done)}`);
      expectTrue(proxy.counters.connectionsBroken >= 2, {
        expected: 'the proxy to have cut at least 2 live connections (harness self-test)',
        received: `${proxy.counters.connectionsBroken} cut`,
        where: 'FaultProxy counters',
      });
      await expectSeqs(
        dataDir,
        streamOf(done, sh),
        N,
        "lost: resend every unacknowledged batch after reconnecting, starting after the HELLO's ACK (your resumeAfterHello in lessons/day09/policies.ts, Outbox.rewind in outbox.ts); duplicated: drop what the receiver already accepted (your dedup TODO in lessons/day09/ingest.ts)",
      );
    });
  },
};

const d09_4: Check = {
  id: 'd09.4',
  exclusive: true,
  title: 'Receiver kill -9 three times during 200,000 records: nothing lost or duplicated',
  points: 15,
  timeoutMs: 120_000,
  async run(ctx) {
    const N = 200_000;
    // --fsync always (group commit): an ACK means written and fsynced, and what arrives during an fsync
    // waits in memory, which is what a kill -9 loses, and exactly what must not have been ACKed yet.
    const FSYNC = ['--fsync', 'always'];
    let recv = await startReceiver(ctx, { extra: FSYNC });
    const dataDir = recv.dataDir;
    await withProxy(recv.port, async (proxy) => {
      const sh = spawnShipper(
        ctx,
        await shipperBase(ctx, at(proxy.port), ['--generate', String(N), '--seed', String(ctx.seed % 1_000_000)]),
      );
      // Kill 1 at 15% acked; kills 2 and 3 once the restarted receiver has ACKed 10,000 more, so all
      // three land while records are streaming, however fast the shipper is.
      const STEP = 10_000;
      let killAt = Math.floor(N * 0.15);
      for (let k = 1; k <= 3; k++) {
        const since = sh.events.length;
        await waitUntil(
          () => {
            const ex = sh.exited();
            if (ex)
              failNow({
                expected: `the shipper still streaming at kill ${k} (acked ≥ ${killAt} of ${N})`,
                received: `it exited (code ${ex.exitCode}); last progress ${show(sh.lastEvent('progress') ?? '(none)', 300)}`,
                where: `pid ${sh.pid}`,
                hint: 'harness pacing: the shipper finished before the receiver could be killed three times',
              });
            return sh.events
              .slice(since)
              .some((e) => e.json['event'] === 'progress' && Number(e.json['acked']) >= killAt);
          },
          {
            timeoutMs: 30_000,
            what: `progress with acked ≥ ${killAt}`,
            where: `shipper pid ${sh.pid} stdout`,
            hint: 'acked moves when an ACK frees what it covers (your Outbox.ack, lessons/day09/outbox.ts); after a receiver restart: reconnect, HELLO, resend after its ACK (your resumeAfterHello, lessons/day09/policies.ts)',
            received: () => `last progress ${show(sh.lastEvent('progress') ?? '(none)', 300)}`,
          },
        );
        // Kill it the moment an ACK leaves it: whatever that ACK covers must already be on disk.
        const victim = recv.rx;
        await new Promise<void>((resolve) => {
          const onForward = (dir: string) => {
            if (dir !== 'down') return;
            victim.kill('SIGKILL');
            done();
          };
          const timer = setTimeout(() => {
            victim.kill('SIGKILL');
            done();
          }, 2000);
          const done = () => {
            clearTimeout(timer);
            proxy.off('forward', onForward);
            resolve();
          };
          proxy.on('forward', onForward);
        });
        await victim.waitExit(5000);
        const acked = Number(sh.lastEvent('progress')?.['acked'] ?? 0);
        ctx.log(`kill ${k}: receiver pid ${victim.pid} killed (-9) just after it sent an ACK, around acked ${acked}`);
        recv = await startReceiver(ctx, { dataDir, extra: FSYNC });
        proxy.retarget(recv.port);
        killAt = acked + STEP;
      }
      const exit = await waitExit(
        sh,
        60_000,
        'after the receiver comes back: reconnect, HELLO, resend after its ACK (your resumeAfterHello, lessons/day09/policies.ts)',
      );
      ctx.log(`shipper exit ${exit.exitCode}; proxy ${JSON.stringify(proxy.counters)}`);
      const done = expectDelivered(sh, exit, N);
      await expectSeqs(
        dataDir,
        streamOf(done, sh),
        N,
        'lost: ACK only what is durable — your ACK TODO in lessons/day09/ingest.ts waits for whenStored() (a kill -9 loses what is only in memory); duplicated: dedup against the accepted mark (your dedup TODO there; the marks come back from disk at restart)',
      );
    });
  },
};

const d09_5: Check = {
  id: 'd09.5',
  title: 'Shipper kill -9 while following a file, restarted: resumes, nothing lost or duplicated',
  points: 10,
  timeoutMs: 90_000,
  async run(ctx) {
    const { rx, dataDir } = await startReceiver(ctx);
    const file = path.join(await ctx.tmp(), 'app.log');
    const stateDir = await ctx.tmp();
    const ids: string[] = [];
    const lines = (from: number, n: number) => {
      let text = '';
      for (let i = from; i < from + n; i++) {
        const id = `fl-${i}`;
        ids.push(id);
        text += `${JSON.stringify(rec(id, ctx.rng))}\n`;
      }
      return text;
    };
    /** appends in a few writes, as a logging process would */
    const append = async (text: string) => {
      const cuts = [
        0,
        ...[1, 2, 3]
          .map(() => text.indexOf('\n', randInt(ctx.rng, 0, text.length - 1)) + 1)
          .filter((x) => x > 0)
          .sort((a, b) => a - b),
        text.length,
      ];
      for (let i = 1; i < cuts.length; i++)
        if (cuts[i]! > cuts[i - 1]!) await appendFile(file, text.slice(cuts[i - 1], cuts[i]));
    };
    await writeFile(file, lines(0, 3000));
    const args = await shipperBase(ctx, at(rx.port), ['--input', file, '--follow'], stateDir);
    const first = spawnShipper(ctx, args);
    await waitStat(
      dataDir,
      'records.persisted',
      (v) => (v ?? 0) >= 1000,
      '≥ 1000',
      20_000,
      'with --follow the shipper ships the lines already in the file, then what is appended',
      first,
    );
    await append(lines(3000, 6000));
    await waitProgress(
      first,
      'progress with read > 3000 (the appended lines are being read)',
      (j) => Number(j['read']) > 3000,
      20_000,
      '--follow keeps reading lines appended to the file',
    );
    first.kill('SIGKILL');
    await waitExit(first, 5000, 'SIGKILL');
    const persistedAtKill = statNumber(await readStats(dataDir).catch(() => null), 'records.persisted');
    ctx.log(`shipper killed (-9) with ~${persistedAtKill} records persisted`);
    // While it is down: more lines, the last one only half written.
    const whileDown = lines(9000, 2000);
    const half = JSON.stringify(rec('fl-split', ctx.rng));
    ids.push('fl-split');
    await append(whileDown);
    await appendFile(file, half.slice(0, 40));
    const second = spawnShipper(ctx, args);
    await appendFile(file, `${half.slice(40)}\n`);
    await append(lines(11_000, 2000));
    const total = ids.length;
    await waitStat(
      dataDir,
      'records.persisted',
      (v) => (v ?? 0) >= total,
      `≥ ${total}`,
      30_000,
      'the restarted shipper resumes after its last ACKed line (kept in --state-dir by your advanceFollow, lessons/day09/policies.ts) and follows the file on',
      second,
    );
    // Stop the shipper before counting: whatever it still had to send (a duplicate, say) is in by then.
    const stopped = Date.now();
    second.kill('SIGTERM');
    const exit = await waitExit(second, 6000, 'SIGTERM: stop reading, drain, done line, exit 0 within 5 s');
    expectTrue(exit.exitCode === 0, {
      expected: 'exit 0 after SIGTERM (everything read was ACKed)',
      received: `exit code ${exit.exitCode}, signal ${exit.signal} after ${exit.at - stopped} ms; stderr tail:\n${tail(second.stderrText(), 5, 10)}`,
      where: `pid ${second.pid}`,
    });
    doneOf(second);
    const read = await readRecords(dataDir);
    const count = new Map<string, number>();
    for (const p of read.records) {
      const id = idOf(p.record);
      if (id !== undefined) count.set(id, (count.get(id) ?? 0) + 1);
    }
    const missing = ids.filter((id) => !count.has(id));
    const dups = [...count].filter(([, n]) => n > 1).map(([id]) => id);
    const foreign = read.records.filter((p) => {
      const id = idOf(p.record);
      return id === undefined || !id.startsWith('fl-');
    });
    if (missing.length || dups.length || foreign.length || read.invalid.length) {
      fail({
        expected: `each of the ${total} appended lines persisted exactly once`,
        received: `${read.records.length} records: ${missing.length} missing${missing.length ? ` (e.g. ${missing.slice(0, 3).join(', ')})` : ''}, ${dups.length} duplicated${dups.length ? ` (e.g. ${dups.slice(0, 3).join(', ')})` : ''}, ${foreign.length} not lines of the file${foreign.length ? ` (e.g. ${show(foreign[0]!.raw.slice(0, 120))} — a half-written line shipped early?)` : ''}, ${read.invalid.length} invalid lines`,
        where: dataDir,
        hint: "duplicated: the stored read position must move only over lines whose records are ACKed (your advanceFollow, lessons/day09/policies.ts), and a restart resumes after the HELLO's ACK (your resumeAfterHello); missing: every line after the stored position is read again with the same seqs",
      });
    }
    const stream = (read.records[0]!.record['_rx'] as Rec)['stream'] as number;
    const r = verifySeqs(read.records, { stream });
    expectTrue(r.lost.length === 0 && r.duplicated.length === 0 && r.count === total && r.maxSeq === total, {
      expected: `seqs 1..${total} of stream ${stream}, each once`,
      received: `lost ${formatRanges(r.lost)}; duplicated ${formatRanges(r.duplicated)}; ${r.count} records; highest seq ${r.maxSeq}`,
      where: dataDir,
      hint: 'a restarted shipper keeps its stream id and numbers each line as before',
    });
  },
};

const d09_6: Check = {
  id: 'd09.6',
  title: 'Receiver down for a while with --spool: everything delivered once it is back',
  points: 10,
  timeoutMs: 60_000,
  async run(ctx) {
    const N = 20_000;
    const spool = path.join(await ctx.tmp(), 'spool');
    // The proxy's port stays the receiver's address; it refuses until the receiver runs.
    await withProxy(1, async (proxy) => {
      proxy.refuse(true);
      const sh = spawnShipper(
        ctx,
        await shipperBase(ctx, at(proxy.port), [
          '--generate',
          String(N),
          '--spool',
          spool,
          '--queue-records',
          '500',
          '--batch-records',
          '100',
        ]),
      );
      const p = await waitProgress(
        sh,
        `progress with read = ${N} while the receiver is down`,
        (j) => Number(j['read']) >= N,
        20_000,
        'past --queue-records in memory, records go to the --spool dir instead of blocking the source: your admit TODO in lessons/day09/policies.ts (q.room(), q.toMemory, q.toSpool)',
        { on: 'read', ms: 3000 },
      );
      const files = await readdir(spool).catch(() => [] as string[]);
      ctx.log(`all ${N} read while refused: progress ${JSON.stringify(p)}; spool dir holds ${files.length} files`);
      expectTrue(Number(p['spooled']) > 0 || files.length > 0, {
        expected: 'records spooled to disk (progress "spooled" > 0, or files in the --spool dir)',
        received: `progress ${show(p)}; spool dir ${show(files)}`,
        where: spool,
        hint: 'memory holds --queue-records at most; the rest goes to the spool (your admit TODO in lessons/day09/policies.ts)',
      });
      expectTrue(Number(p['queued']) <= 500, {
        expected: 'at most --queue-records 500 records in memory ("queued")',
        received: show(p),
        where: `shipper pid ${sh.pid} progress`,
        hint: 'queued = records held in memory (open batch + outbox): admit takes at most q.room() into memory (lessons/day09/policies.ts)',
      });
      expectEqual(p['acked'], 0, { what: 'acked while the receiver is down', where: `shipper pid ${sh.pid} progress` });
      // fsync every 20 ms: with 500 records in memory at most, each ACK round trip waits for one fsync.
      const recv = await startReceiver(ctx, { extra: ['--fsync-interval-ms', '20'] });
      proxy.retarget(recv.port);
      proxy.refuse(false);
      const exit = await waitExit(
        sh,
        40_000,
        'once the receiver is up, reconnect and send the spool in seq order (behind a non-empty spool, new records go to the spool too: your admit TODO in lessons/day09/policies.ts)',
      );
      const done = expectDelivered(sh, exit, N);
      expectTrue(Number(done['spooled']) > 0, {
        expected: 'done line "spooled" > 0',
        received: show(done['spooled']),
        where: 'shipper done line',
        hint: 'count records that went through the spool',
      });
      await expectSeqs(
        recv.dataDir,
        streamOf(done, sh),
        N,
        'spooled records keep their seqs and go out in order, before what came after them: while the spool holds anything, admit sends new records to the spool (lessons/day09/policies.ts)',
      );
    });
  },
};

const d09_7: Check = {
  id: 'd09.7',
  title: 'Overflow: drop-newest / drop-oldest drop exactly what they report; the receiver counts the gap',
  points: 10,
  timeoutMs: 60_000,
  async run(ctx) {
    const N = 5000;
    const Q = 1000;
    for (const policy of ['drop-newest', 'drop-oldest'] as const) {
      await withProxy(1, async (proxy) => {
        proxy.refuse(true);
        const sh = spawnShipper(
          ctx,
          await shipperBase(ctx, at(proxy.port), [
            '--generate',
            String(N),
            '--queue-records',
            String(Q),
            '--overflow',
            policy,
            '--batch-records',
            '100',
          ]),
        );
        const p = await waitProgress(
          sh,
          `progress with read = ${N} (--overflow ${policy}, receiver unreachable)`,
          (j) => Number(j['read']) >= N,
          20_000,
          `with --overflow ${policy} the source is never blocked: past --queue-records, records are dropped and counted (your overflow TODO in lessons/day09/policies.ts: q.skip, q.discardOldestUnsent, q.dropped)`,
          { on: 'read', ms: 3000 },
        );
        ctx.log(`${policy}: all read while refused: ${JSON.stringify(p)}`);
        const recv = await startReceiver(ctx);
        proxy.retarget(recv.port);
        proxy.refuse(false);
        const exit = await waitExit(sh, 30_000, 'once the receiver is up, send what was kept');
        const done = doneOf(sh);
        ctx.log(`${policy}: done ${JSON.stringify(done)}`);
        expectEqual(done['dropped'], N - Q, {
          what: `done line "dropped" with --overflow ${policy}, --queue-records ${Q}, --generate ${N}`,
          where: `shipper done line ${show(done, 300)}`,
          hint: `memory holds ${Q} records; the other ${N - Q} are dropped, and your overflow TODO (lessons/day09/policies.ts) counts each dropped record once with q.dropped(k, …)`,
        });
        expectTrue(exit.exitCode === 0, {
          expected: 'exit 0 (acked + dropped == read)',
          received: `exit code ${exit.exitCode}; stderr tail:\n${tail(sh.stderrText(), 5, 10)}`,
          where: `pid ${sh.pid}`,
        });
        const stream = streamOf(done, sh);
        const records = await recordsOf(recv.dataDir, stream);
        const seqs = records.map((r) => (r.record['_rx'] as Rec)['seq'] as number);
        const want = policy === 'drop-newest' ? [1, Q] : [N - Q + 1, N];
        const wrong = seqs.filter((s) => s < want[0]! || s > want[1]!);
        const ok =
          seqs.length === Q &&
          wrong.length === 0 &&
          new Set(seqs).size === Q &&
          seqs.every((s, i) => i === 0 || s > seqs[i - 1]!);
        expectTrue(ok, {
          expected: `persisted seqs exactly ${want[0]}..${want[1]} of stream ${stream} (--overflow ${policy}), in order`,
          received: `${seqs.length} records, seqs ${formatRanges([...new Set(seqs)].sort((a, b) => a - b))}`,
          where: recv.dataDir,
          hint:
            policy === 'drop-newest'
              ? 'your overflow TODO (lessons/day09/policies.ts): drop-newest keeps what is held and drops what arrives; a dropped record still uses up its seq (q.skip)'
              : 'your overflow TODO (lessons/day09/policies.ts): drop-oldest throws away the oldest held, never sent records (q.discardOldestUnsent) to make room for new ones; seqs are assigned when read, so the survivors are the last 1000',
        });
        if (policy === 'drop-oldest') {
          await waitStat(
            recv.dataDir,
            `streams.${stream}.gaps`,
            (v) => v === N - Q,
            `= ${N - Q}`,
            5000,
            'a first seq above the accepted mark + 1 is a gap: your dedup/gap TODO in lessons/day09/ingest.ts counts the missing seqs in marks.stats.gaps (stats.json streams[<id>].gaps)',
          );
        }
      });
    }
  },
};

const d09_8: Check = {
  id: 'd09.8',
  exclusive: true,
  title: 'A stalled (half-open) receiver is detected by the ack timeout and the shipper reconnects',
  points: 10,
  timeoutMs: 60_000,
  async run(ctx) {
    const ACK_TIMEOUT = 1000;
    const BOUND = ACK_TIMEOUT + 2000;
    const { rx, dataDir } = await startReceiver(ctx);
    await withProxy(rx.port, async (proxy) => {
      const sh = spawnShipper(
        ctx,
        await shipperBase(ctx, at(proxy.port), [
          '--input',
          '-',
          '--ack-timeout-ms',
          String(ACK_TIMEOUT),
          '--keepalive-ms',
          '500',
          '--batch-delay-ms',
          '5',
        ]),
        { stdin: true },
      );
      let next = 0;
      const feed = async (n: number) => {
        let text = '';
        for (let i = 0; i < n; i++) text += `${JSON.stringify(rec(`st-${next++}`, ctx.rng))}\n`;
        await sh.write(text);
      };
      await feed(2000);
      await waitProgress(
        sh,
        'progress with acked = 2000 (streaming through the proxy)',
        (j) => Number(j['acked']) >= 2000,
        20_000,
        'the shipper ships stdin lines as they come and reports acked (each ACK frees what it covers: your Outbox.ack, lessons/day09/outbox.ts)',
      );
      const stallAt = Date.now();
      proxy.stall(true);
      const from = sh.events.length;
      await feed(2000); // in flight, never ACKed while stalled
      ctx.log('proxy stalled; 2000 more records written to the shipper');
      let left: ProgramEvent | undefined;
      try {
        left = await waitUntil(
          () =>
            sh.events
              .slice(from)
              .find(
                (e) =>
                  e.json['event'] === 'state' &&
                  e.json['from'] === 'streaming' &&
                  (e.json['to'] === 'backoff' || e.json['to'] === 'connecting'),
              ),
          {
            timeoutMs: BOUND,
            what: 'a state event from "streaming" to "backoff" (or "connecting")',
            where: `shipper pid ${sh.pid} stdout`,
            hint: 'a half-open peer never answers and TCP does not notice: your deadConnection TODO (lessons/day09/policies.ts) says the connection is dead when batches are in flight with no ACK progress (or a PING has no PONG) for --ack-timeout-ms',
            received: () =>
              `state events since the stall: ${show(
                sh.events
                  .slice(from)
                  .filter((e) => e.json['event'] === 'state')
                  .map((e) => `${e.json['from']}→${e.json['to']}`),
              )}`,
          },
        );
      } finally {
        // A half-open peer never comes back: its connections die with what they held, then the path heals.
        proxy.cut();
        proxy.stall(false);
      }
      ctx.log(`left streaming ${left.at - stallAt} ms after the stall: ${JSON.stringify(left.json)}`);
      await feed(1000);
      sh.endInput();
      const exit = await waitExit(
        sh,
        30_000,
        'after the stall ends: reconnect, HELLO, resend what was not ACKed, finish (your resumeAfterHello, lessons/day09/policies.ts)',
      );
      const done = expectDelivered(sh, exit, next);
      await expectSeqs(
        dataDir,
        streamOf(done, sh),
        next,
        'resend what a dead connection swallowed (your resumeAfterHello and Outbox.rewind); the receiver drops what it already had (your dedup TODO in lessons/day09/ingest.ts)',
      );
    });
  },
};

const d09_9: Check = {
  id: 'd09.9',
  title:
    'Bad frames (magic, CRC, length over limit, count mismatch) → NACK with the right code, only that connection closed',
  // The connection machinery (shared/lsp-receiver.ts) and the decoders do this for every receiver: no TODO asks for it.
  given: true,
  points: 0,
  timeoutMs: 40_000,
  async run(ctx) {
    const MAX = 65_536;
    const { rx, dataDir } = await startReceiver(ctx, { extra: ['--max-payload-bytes', String(MAX)] });
    const G = streamId(ctx.rng);
    const good = await ctx.connect(rx.host, rx.port);
    await good.write(encodeHello(G, { name: 'check-d09.9-good' }));
    await waitAck(good, G, 0, 5000, 'answer a HELLO with an ACK');
    let goodSeq = 0;
    let stop = false;
    const streaming = (async () => {
      while (!stop) {
        const n = randInt(ctx.rng, 1, 50);
        const records = Array.from({ length: n }, (_, i) => JSON.stringify(rec(`good-${goodSeq + 1 + i}`, ctx.rng)));
        await good.write(encodeBatch({ stream: G, seq: goodSeq + 1, records }));
        goodSeq += n;
        await sleep(5); // traffic shaping only: a steady trickle while the bad frames go in
      }
    })().then(
      () => undefined,
      (err: unknown) => err,
    );

    const badStream = streamId(ctx.rng);
    const two = [JSON.stringify(rec('bad-1', ctx.rng)), JSON.stringify(rec('bad-2', ctx.rng))];
    const batch = () => encodeBatch({ stream: badStream, seq: 1, records: two });
    const cases: Array<{ name: string; code: string; bytes: Buffer }> = [
      {
        name: 'wrong magic',
        code: 'LS_ERR_MAGIC',
        bytes: (() => {
          const b = batch();
          b[0] = 0x58;
          b[1] = 0x58;
          return b;
        })(),
      },
      {
        name: 'bad CRC',
        code: 'LS_ERR_CRC',
        bytes: (() => {
          const b = batch();
          b[24] = b[24]! ^ 0xff;
          return b;
        })(),
      },
      {
        name: `declared length ${MAX + 1} over --max-payload-bytes ${MAX} (header only)`,
        code: 'LS_ERR_TOO_LARGE',
        bytes: (() => {
          const b = Buffer.from(batch().subarray(0, 28));
          b.writeUInt32BE(MAX + 1, 20);
          return b;
        })(),
      },
      {
        name: 'count 3 with 2 records in the payload',
        code: 'LS_ERR_COUNT',
        bytes: encodeFrame({
          type: FrameType.BATCH,
          count: 3,
          stream: badStream,
          seq: 1,
          payload: encodeBatchPayload(two),
        }),
      },
    ];
    for (const k of cases) {
      const c = await ctx.connect(rx.host, rx.port);
      await c.write(encodeHello(badStream, { name: 'check-d09.9-bad' })); // one writer of badStream (issue 17: the first name owns it)
      await waitAck(c, badStream, 0, 5000, 'answer a HELLO with an ACK');
      await c.write(k.bytes).catch(() => undefined); // the receiver may close before all of it is written
      const nack = await waitUntil(
        () => {
          const f = framesFrom(c).find((x) => x.type === FrameType.NACK);
          if (!f && c.closedState)
            failNow({
              expected: `a NACK {"code":"${k.code}"} before the close (${k.name})`,
              received: 'the connection closed without a NACK',
              where: `connection from ${c.localPeer}`,
              hint: 'a fatal framing error: send NACK {code, message}, then close that connection',
            });
          return f;
        },
        {
          timeoutMs: 3000,
          what: `a NACK after a frame with ${k.name}`,
          where: `connection from ${c.localPeer}`,
          hint: 'a fatal framing error: send NACK {code, message}, then close that connection',
          received: () => `frames received: ${show(framesFrom(c).map((f) => FrameType[f.type]))}`,
        },
      );
      let payload: { code: string; message: string };
      try {
        payload = parseNack(nack);
      } catch (err) {
        fail({
          expected: 'a NACK payload {"code": "LS_ERR_…", "message": "…"}',
          received: `${show(nack.payload.toString('utf8'))} (${(err as Error).message})`,
          where: `connection from ${c.localPeer}`,
          hint: 'encodeNack(stream, code, message)',
        });
      }
      expectEqual(payload.code, k.code, {
        what: `the NACK code for a frame with ${k.name}`,
        where: `connection from ${c.localPeer}`,
        hint: 'the code is the LsError the decoder raised: the decode step in lessons/day09/ingest.ts lets it through unchanged (never catch and re-throw it)',
      });
      await c.waitClosed(3000, `the receiver to close the connection after its NACK (${k.name})`);
      ctx.log(`${k.name}: NACK ${payload.code}, connection closed`);
    }
    stop = true;
    const err = await streaming;
    if (err) throw err;
    expectTrue(!good.destroyed && !good.peerEnded, {
      expected: 'the good connection to stay open',
      received: 'the receiver closed it',
      where: `connection from ${good.localPeer}`,
      hint: 'a framing error is fatal for its own connection only',
    });
    await waitAck(good, G, goodSeq, 10_000, "the good client's batches are all ACKed");
    await expectSeqs(
      dataDir,
      G,
      goodSeq,
      "the good client's records are all persisted, whatever other connections send",
    );
    const leaked = await recordsOf(dataDir, badStream);
    expectTrue(leaked.length === 0, {
      expected: 'nothing persisted from the bad frames',
      received: `${leaked.length} records of stream ${badStream} at ${leaked.map(where).join(', ')}`,
      where: dataDir,
      hint: 'a BATCH whose count does not match its payload is refused whole: nothing of it is appended (decode before your dedup TODO touches the marks)',
    });
  },
};

const d09_10: Check = {
  id: 'd09.10',
  exclusive: true,
  title: 'Reconnect backoff is exponential with full jitter, bounded by the cap',
  points: 10,
  timeoutMs: 40_000,
  async run(ctx) {
    const BASE = 50;
    const CAP = 400;
    const ATTEMPTS = 8;
    const TOL = 300; // a busy machine only ever makes a delay longer
    // Two servers of our own that accept and at once close every connection: each attempt fails.
    const servers = await Promise.all([0, 1].map(() => closingServer()));
    try {
      const runs = await Promise.all(
        servers.map(async (srv) =>
          ctx.run(
            'shipper',
            [
              '--target',
              at(srv.port),
              '--generate',
              '10',
              '--state-dir',
              await ctx.tmp(),
              '--backoff-base-ms',
              String(BASE),
              '--backoff-cap-ms',
              String(CAP),
              '--max-attempts',
              String(ATTEMPTS),
              '--ack-timeout-ms',
              '2000',
            ],
            { timeoutMs: 25_000 },
          ),
        ),
      );
      const seqs: number[][] = [];
      for (const [i, r] of runs.entries()) {
        const srv = servers[i]!;
        const cmd = `shipper --target ${at(srv.port)} --max-attempts ${ATTEMPTS} (shipper ${i + 1})`;
        if (r.timedOut)
          fail({
            expected: `\`${cmd}\` to give up after ${ATTEMPTS} failed connects`,
            received: `still running after ${r.ms} ms (${srv.accepts.length} connections so far)`,
            where: cmd,
            hint: 'a connection closed before the HELLO is answered is a failed attempt; --max-attempts N gives up after N in a row',
          });
        const done = r.json.find((j) => j['event'] === 'done');
        expectTrue(done !== undefined, {
          expected: `a done line from \`${cmd}\` when it gives up`,
          received: show(r.stdout.slice(-300) || '(empty stdout)'),
          where: 'shipper stdout',
        });
        expectTrue(r.exitCode !== 0, {
          expected: `a non-zero exit from \`${cmd}\` (it gave up with nothing delivered)`,
          received: `exit code ${r.exitCode}`,
          where: cmd,
          hint: 'exit 0 only when acked + dropped == records read',
        });
        const n = srv.accepts.length;
        expectTrue(n >= ATTEMPTS && n <= ATTEMPTS + 1, {
          expected: `${ATTEMPTS} connection attempts (--max-attempts ${ATTEMPTS})`,
          received: `${n}`,
          where: `server on ${at(srv.port)}`,
          hint: 'count failed connects in a row; give up after --max-attempts of them',
        });
        const delays = srv.accepts.slice(1).map((t, k) => t - srv.accepts[k]!);
        ctx.log(`shipper ${i + 1}: delays between attempts ${JSON.stringify(delays)} ms`);
        const over = delays.findIndex((d) => d > CAP + TOL);
        expectTrue(over === -1, {
          expected: `every delay between attempts ≤ --backoff-cap-ms ${CAP} (+${TOL} ms tolerance)`,
          received: `delay ${over + 1} was ${delays[over]} ms (all: ${show(delays)})`,
          where: `server on ${at(srv.port)}`,
          hint: 'your Backoff TODO (lessons/day09/backoff.ts): ceiling() = min(cap, base·2^attempt), next() draws from [0, ceiling()]',
        });
        // No jitter: each delay sits at (or, on a busy machine, above) the top of its window. Full jitter
        // draws uniformly below it, so all seven landing in the top 20% has odds of 0.2^7 ≈ 1e-5. The
        // windows are taken from base·2^0; a schedule counting attempts from 1 is above them too.
        const windows = delays.map((_, k) => Math.min(CAP, BASE * 2 ** k));
        expectTrue(!delays.every((d, k) => d >= 0.8 * windows[k]!), {
          expected: 'random delays (full jitter): random(0, min(cap, base·2^attempt))',
          received: `every delay at the top of its window: ${show(delays)} vs windows ${show(windows)}`,
          where: `server on ${at(srv.port)}`,
          hint: 'without jitter every client retries in lockstep (a thundering herd): your Backoff.next() (lessons/day09/backoff.ts) draws each delay with this.random() from the whole window',
        });
        const sorted = [...delays].sort((x, y) => x - y);
        const median = sorted[sorted.length >> 1] ?? 0;
        expectTrue(!delays.every((d) => Math.abs(d - median) <= 25), {
          expected: 'random delays (full jitter)',
          received: `one fixed delay: ${show(delays)}`,
          where: `server on ${at(srv.port)}`,
          hint: 'your Backoff TODO (lessons/day09/backoff.ts): delay = random(0, min(cap, base·2^attempt)), not a constant',
        });
        seqs.push(delays);
      }
      const [a, b] = seqs as [number[], number[]];
      // Exponential: past the first attempts the window is 4–8× base, so some later delay exceeds 1.5× base.
      // (Full jitter may draw small delays: only both shippers staying under it fails, odds ≈ 1e-7.)
      const grows = (d: number[]) => d.slice(2).some((x) => x > BASE * 1.5);
      expectTrue(grows(a) || grows(b), {
        expected: `the windows to grow past --backoff-base-ms ${BASE} (some delay after the second > ${BASE * 1.5} ms)`,
        received: `shipper 1 ${show(a)}, shipper 2 ${show(b)}`,
        where: 'the two servers',
        hint: 'exponential: your Backoff.ceiling() (lessons/day09/backoff.ts) doubles the window per failed attempt up to the cap',
      });
      const k = Math.min(a.length, b.length);
      // Two independent full-jitter sequences all within max(20 ms, 10% of the window) of each other: odds ≈ 6e-5.
      const same = a
        .slice(0, k)
        .every((d, i) => Math.abs(d - b[i]!) <= Math.max(20, 0.1 * Math.min(CAP, BASE * 2 ** i)));
      expectTrue(!same, {
        expected: 'the two shippers to wait different delays',
        received: `shipper 1 ${show(a)}, shipper 2 ${show(b)}`,
        where: 'the two servers',
        hint: 'each shipper draws its own random delays (Backoff uses this.random, Math.random by default: do not seed it with a shared constant such as --seed)',
      });
    } finally {
      await Promise.all(servers.map((s) => s.close()));
    }
  },
};

interface ClosingServer {
  port: number;
  accepts: number[];
  close(): Promise<void>;
}

async function closingServer(): Promise<ClosingServer> {
  const accepts: number[] = [];
  const server = net.createServer((s) => {
    accepts.push(Date.now());
    s.on('error', () => {});
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    accepts,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export const checks: Check[] = [d09_1, d09_2, d09_3, d09_4, d09_5, d09_6, d09_7, d09_8, d09_9, d09_10];
