/**
 * Day 09 — Acknowledged delivery: the shipper.
 *
 * A successful send() only proves the kernel took the bytes. So today the shipper keeps every record
 * until the receiver ACKs it (an ACK means "durable on my side"), and sends again whatever a lost
 * connection may have swallowed: at-least-once delivery. The receiver drops the copies (dedup by seq).
 *
 * The connection is an explicit state machine; every transition is logged with its reason and printed
 * on stdout as {"event":"state","from","to","reason","t"}:
 *
 *     idle ─▶ connecting ─▶ handshaking ─▶ streaming ─▶ draining ─▶ closed
 *                 ▲   │           │            │            │
 *                 │   ▼           ▼            ▼            ▼
 *                 └── backoff ◀───┴────────────┴────────────┘   (connection lost, NACK, ACK timeout)
 *
 * The machine itself — sockets, frames, the window, the watchdog, the spool, the done line — is the
 * shipper engine in lessons/day09/shipper-engine.ts (days 11–13 reuse it). What this file holds are the day's
 * decisions, which the engine calls:
 *
 *   1. after the HELLO's ACK: forget what the receiver holds, send everything else again [d09.3, d09.4, d09.5]
 *   2. when is a connection dead although TCP looks fine (half-open)? [d09.8]
 *   3. how long to wait before reconnecting: exponential backoff with FULL jitter [d09.10]
 *   4. memory is bounded (--queue-records): past it the --spool on disk [d09.6], then --overflow:
 *      block the source, or drop (counted; the receiver sees the gap) [d09.7]
 *   5. with --follow, the read position in --state-dir moves only on an ACK, so a shipper killed with -9
 *      resumes where the receiver's ACK left it, with the same seqs [d09.5]
 *
 * Run: npx tsx lessons/day09/shipper.ts --target 127.0.0.1:5141 --generate 200000
 */
import type { Backoff } from './backoff.ts';
import { parseCli } from '../../shared/cli.ts';
import { createLog } from '../../shared/log.ts';
import { LspShipper, lspShipperOptions, ownDir, validateLspShipper, type BackoffStep, type FollowProgress, type Liveness, type Queue, type Resume } from './shipper-engine.ts';
import { ShipperState, type FollowState } from './shipper-state.ts';
import { Spool } from './spool.ts';

const PROGRAM = 'lessons/day09/shipper.ts';
const args = parseCli({
  name: PROGRAM,
  summary: 'Day 09 shipper: LSP/1 with ACKs, resend after reconnect, backoff with jitter, bounded memory, spool, --follow.',
  options: lspShipperOptions('day09', 5141),
  validate: validateLspShipper,
});

// ---- 1. after every (re)connect: the HELLO's ACK says what the receiver holds -----------------------
// @solution [d09.3, d09.4, d09.5] the HELLO's ACK says what the receiver holds: forget that, send the rest again
// @stub function resumeAfterHello(_held: number, _r: Resume): void {}
function resumeAfterHello(held: number, r: Resume): void {
  r.outbox.rewind(); // everything unacknowledged — in flight on the lost connection included — goes again…
  r.ack(held); // …except what the receiver says it already holds (re-slicing a partly held batch)
}
// @end-solution

// ---- 2. half-open: TCP can look healthy for minutes while nothing moves -----------------------------
function deadConnection(c: Liveness): string | undefined {
  // @solution [d09.8] a receiver that stops answering is dead even while TCP still looks fine (half-open)
  if (c.inflight > 0 && c.now - c.lastAckProgressAt > c.ackTimeoutMs) {
    return `no ACK progress for ${c.now - c.lastAckProgressAt} ms with ${c.inflight} batches in flight`;
  }
  if (c.pingOutstanding && c.now - c.pingSentAt > c.ackTimeoutMs) {
    return `no PONG within ${c.ackTimeoutMs} ms`;
  }
  // @end-solution
  return undefined;
}

// ---- 3. reconnecting without a thundering herd -------------------------------------------------------
// @solution [d09.10] back off before reconnecting: exponential with full jitter, bounded by the cap
// @stub function nextBackoff(_backoff: Backoff): BackoffStep { return { attempt: 0, ceilingMs: args.backoffBaseMs, delayMs: args.backoffBaseMs }; }
function nextBackoff(backoff: Backoff): BackoffStep {
  const attempt = backoff.attempt;
  const ceilingMs = backoff.ceiling();
  const delay = backoff.next(); // random(0, min(cap, base·2^attempt))
  return { attempt, ceilingMs, delayMs: delay };
}
// @end-solution

// ---- 4. bounded memory: where a chunk of records goes, and what happens when nothing has room ---------
/** Takes records[from, to) into memory or the spool; returns how many it took (0: no room anywhere). */
function admit(q: Queue, records: readonly string[], from: number, to: number): number {
  // @solution [d09.6] past the memory bound, the spool on disk; behind a non-empty spool, to keep seq order
  // @stub return q.toMemory(records, from, Math.min(to, from + q.room()));
  if (q.spool && !q.spool.isEmpty) {
    // Spooled records are older: they go out first, so new ones queue behind them.
    return q.toSpool(records, from, to);
  }
  const room = q.room();
  if (room > 0) return q.toMemory(records, from, Math.min(to, from + room));
  return q.toSpool(records, from, to);
  // @end-solution
}

/** Memory full and no spool room: returns the index in records to go on from. */
async function overflow(q: Queue, _records: readonly string[], from: number, to: number): Promise<number> {
  // @solution [d09.7] the overflow policy: block the source, or drop (counted; the seqs are used up, so the receiver sees a gap)
  // @stub await q.roomFreed(); return from;
  if (args.overflow === 'block') {
    await q.roomFreed(); // stop reading until an ACK (or a drop) makes room
    return from;
  }
  if (args.overflow === 'drop-newest') {
    q.skip(to - from); // everything still arriving in this chunk: nothing frees memory before we return
    q.dropped(to - from, 'dropping the newest records');
    return to;
  }
  const k = q.discardOldestUnsent(); // drop-oldest: the oldest records never sent, a whole batch at a time
  if (k > 0) {
    q.dropped(k, 'dropping the oldest unsent records');
    return from;
  }
  q.skip(1); // everything held is in flight: the only record we can drop is the new one
  q.dropped(1, 'everything held is in flight: dropping the newest record');
  return from + 1;
  // @end-solution
}

// ---- 5. --follow: the stored read position -----------------------------------------------------------
// @solution [d09.5] the stored read position moves only when the records before it are ACKed
// @stub function advanceFollow(_f: FollowProgress): void {}
function advanceFollow(f: FollowProgress): void {
  while (f.positions.length > 0 && f.positions[0]!.lastSeq <= f.ackedLocal) {
    const p = f.positions.shift()!;
    f.save({ ...p.at, seq: p.lastSeq + f.base });
  }
}
// @end-solution

// ---- wiring -------------------------------------------------------------------------------------------
const log = createLog('day09/shipper');
// The stream id (and a followed file's acknowledged position) live in --state-dir; one shipper per dir.
const state = ownDir(PROGRAM, '--state-dir', () => ShipperState.open(args.stateDir, args.streamId === undefined ? {} : { streamId: args.streamId }));
const spool = args.spool ? ownDir(PROGRAM, '--spool', () => new Spool({ dir: args.spool!, maxBytes: args.spoolBytes })) : undefined;
// Where a --follow run resumes: after the last line whose record the receiver ACKed.
const follow: FollowState | undefined = args.follow ? state.followOf(args.input!) : undefined;

const shipper = new LspShipper({
  lesson: 'day09',
  args,
  log,
  state,
  spool,
  follow,
  policies: { resumeAfterHello, deadConnection, nextBackoff, admit, overflow, advanceFollow },
});
process.exit(await shipper.run());
