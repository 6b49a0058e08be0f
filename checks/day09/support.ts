// What several of day09's checks use (split out of checks/day09.ts, issue 22).
import { FaultProxy } from '../../shared/fault-proxy.ts';
import { FrameDecoder, FrameType, type Frame } from '../../shared/protocol/frame.ts';
import { expectEqual, expectTrue, fail, failNow, show, waitUntil } from '../harness/assert.ts';
import {
  formatRanges,
  readRecords,
  readStats,
  statNumber,
  verifySeqs,
  type PersistedRecord,
} from '../harness/persisted.ts';
import { tail } from '../harness/process.ts';
import { pick } from '../harness/rng.ts';
import type { TcpClient } from '../harness/tcp.ts';
import type { CheckContext, ProgramExit, WatchedProgram } from '../harness/types.ts';
import {
  doneOf as kitDoneOf,
  startReceiver as startKitReceiver,
  TCP_PORT_CHECK,
  type StartReceiverOptions,
} from '../harness/kit/programs.ts';
import { sleep } from '../harness/kit/records.ts';

export type Rec = Record<string, unknown>;

export type Json = Record<string, unknown>;

export const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

/** The receiver on an OS-picked port (or `opts.port`), stats every 100 ms. */
export const startReceiver = (ctx: CheckContext, opts: Pick<StartReceiverOptions, 'dataDir' | 'port' | 'extra'> = {}) =>
  startKitReceiver(ctx, { ...opts, portCheck: TCP_PORT_CHECK });

/**
 * Waits for the process to exit; fails (saying how long it waited) if it does not within `timeoutMs`,
 * or as soon as its progress lines show no new ACK for `stuckMs` (a shipper that will never finish).
 */
export async function waitExit(
  p: WatchedProgram,
  timeoutMs: number,
  hint: string,
  stuckMs = 10_000,
): Promise<ProgramExit> {
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

export const doneOf = (p: WatchedProgram): Json =>
  kitDoneOf(p, {
    hint: 'a shipper ends with one done line: {"event":"done","sent","acked","dropped","spooled","reconnects","stream",…}',
  });

/** The shipper exited 0 and its done line says every one of `n` records was acknowledged. */
export function expectDelivered(p: WatchedProgram, exit: ProgramExit, n: number, extraHint = ''): Json {
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

export function streamOf(done: Json, p: WatchedProgram): number {
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
export async function waitProgress(
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

export function rec(id: string, rng: () => number, fields: Rec = {}): Rec {
  return {
    ts: '2026-11-26T14:13:48.123Z',
    level: pick(rng, LEVELS),
    msg: `record ${id} ${Math.floor(rng() * 1e9)}`,
    service: 'checks',
    ...fields,
    attrs: { id },
  };
}

/** A stream id for the check's own frames: a seeded u32, never 0. */
export const streamId = (rng: () => number) => 1 + Math.floor(rng() * 0xffff_fffe);

/** Every frame the peer sent on this connection so far (a framing error in its output is a failure). */
export function framesFrom(c: TcpClient): Frame[] {
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
export async function waitAck(
  c: TcpClient,
  stream: number,
  want: number,
  timeoutMs: number,
  hint: string,
): Promise<number[]> {
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
export async function recordsOf(dataDir: string, stream: number): Promise<PersistedRecord[]> {
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
export async function expectSeqs(dataDir: string, stream: number, n: number, hint: string): Promise<PersistedRecord[]> {
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
export async function waitStat(
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

export async function withProxy<T>(targetPort: number, fn: (proxy: FaultProxy) => Promise<T>): Promise<T> {
  const proxy = new FaultProxy({ targetHost: '127.0.0.1', targetPort });
  await proxy.start();
  try {
    return await fn(proxy);
  } finally {
    await proxy.stop();
  }
}

/** Shipper flags every check uses: its own state dir, progress lines, quick reconnects. */
export async function shipperBase(
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
