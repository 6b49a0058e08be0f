// What several of day09's checks use (split out of checks/day09.ts, issue 22).
import { FaultProxy } from '../../shared/fault-proxy.ts';
import { expectEqual, expectTrue, fail, failNow, show, waitUntil } from '../harness/assert.ts';
import { readStats, statNumber } from '../harness/persisted.ts';
import { tail } from '../harness/process.ts';
import { pick } from '../harness/rng.ts';
import type { CheckContext, ProgramExit, WatchedProgram } from '../harness/types.ts';
import {
  doneOf as kitDoneOf,
  shipperFlags,
  spawnShipper,
  startReceiver as startKitReceiver,
  TCP_PORT_CHECK,
  type StartReceiverOptions,
} from '../harness/kit/programs.ts';
import { at, sleep } from '../harness/kit/records.ts';
import { expectStreamSeqs, recordsOfStream } from '../harness/kit/lsp.ts';

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

export { framesFrom, streamId, waitAck } from '../harness/kit/lsp.ts';

/** After a kill -9 a records file may end in half a line, which the restarted receiver must cut off. */
const HALF_LINE_HINT =
  'after a kill -9 a file may end in half a line: on restart, cut it off (or start a new file) before appending';

/** Persisted records whose `_rx.stream` is `stream`; fails on lines that are not JSON objects. */
export const recordsOf = (dataDir: string, stream: number) => recordsOfStream(dataDir, stream, HALF_LINE_HINT);

/** Every seq 1..n of `stream` persisted exactly once, in order. */
export const expectSeqs = (dataDir: string, stream: number, n: number, hint: string) =>
  expectStreamSeqs(dataDir, stream, n, hint, HALF_LINE_HINT);

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
export { shipperFlags as shipperBase } from '../harness/kit/programs.ts';

/** A receiver that is down while a shipper runs, and comes up when the check says (d09.6, d09.7). */
export interface ReceiverDown {
  /** The shipper (shipperBase and the check's flags), aimed at a proxy that refuses every connection. */
  sh: WatchedProgram;
  /** Starts the receiver and lets the proxy forward to it: the shipper's next attempt reaches it. */
  up: (opts?: Parameters<typeof startReceiver>[1]) => ReturnType<typeof startReceiver>;
}

/** Runs `fn` with a shipper started with `flags` while its receiver is down; the proxy stops when `fn` ends. */
export async function withReceiverDown<T>(
  ctx: CheckContext,
  flags: string[],
  fn: (down: ReceiverDown) => Promise<T>,
): Promise<T> {
  // The proxy's port stays the receiver's address; it refuses until up() (its target, port 1, is never used).
  return withProxy(1, async (proxy) => {
    proxy.refuse(true);
    const sh = spawnShipper(ctx, await shipperFlags(ctx, at(proxy.port), flags));
    const up = async (opts?: Parameters<typeof startReceiver>[1]) => {
      const recv = await startReceiver(ctx, opts);
      proxy.retarget(recv.port);
      proxy.refuse(false);
      return recv;
    };
    return fn({ sh, up });
  });
}
