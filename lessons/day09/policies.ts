/**
 * Day 09 — the shipper's decisions: what the state machine (lessons/day09/shipper-engine.ts) asks the lesson
 * at each turn. The engine owns sockets, frames, timers and counters; these functions say what to DO:
 *
 *   1. after the HELLO's ACK: forget what the receiver holds, send everything else again     [d09.3, d09.4, d09.5]
 *   2. when is a connection dead although TCP looks fine (half-open)?                                    [d09.8]
 *   3. how long to wait before reconnecting (the window itself: lessons/day09/backoff.ts)               [d09.10]
 *   4. memory is bounded (--queue-records): past it the --spool on disk                                  [d09.6]
 *   5. …and when nothing has room, --overflow: block the source, or drop (counted; the receiver sees the gap) [d09.7]
 *   6. with --follow, the read position in --state-dir moves only on an ACK                              [d09.5]
 *
 * Every acked shipper (days 09, 11, 12, 13 and the scale-out lesson) runs with DAY09_POLICIES: one copy.
 * Each function gets a narrow view of the engine (Resume, Liveness, Queue, FollowProgress) with just what
 * that decision needs.
 */
import type { Backoff } from './backoff.ts';
import type { FilePosition } from './follow.ts';
import type { Outbox } from './outbox.ts';
import type { FollowState } from './shipper-state.ts';
import type { Spool } from './spool.ts';

/** The --overflow choices. */
export type OverflowPolicy = 'block' | 'drop-oldest' | 'drop-newest';

/** What nextBackoff returns: the exponent used, the window, and the drawn delay. */
export interface BackoffStep {
  /** failed attempts before this one (the exponent) */
  attempt: number;
  ceilingMs: number;
  delayMs: number;
}

/** What resumeAfterHello may touch. */
export interface Resume {
  readonly outbox: Outbox;
  /** a cumulative ACK of wire seq `seq`: forget (re-slicing) what it covers, count it, make room */
  ack(seq: number): void;
}

/** What deadConnection sees, once per watchdog tick while streaming or draining. */
export interface Liveness {
  readonly now: number;
  /** batches in flight (sent, not ACKed) */
  readonly inflight: number;
  /** when the ACK clock last moved (an ACK made progress, or the window filled from empty) */
  readonly lastAckProgressAt: number;
  /** a keepalive PING is waiting for its PONG */
  readonly pingOutstanding: boolean;
  readonly pingSentAt: number;
  /** --ack-timeout-ms */
  readonly ackTimeoutMs: number;
}

/** What admit and overflow work with: memory, the spool, and the counters of what is dropped. */
export interface Queue {
  readonly spool: Spool | undefined;
  /** --overflow */
  readonly overflowPolicy: OverflowPolicy;
  /** records memory can take now: --queue-records minus what is held (open batch + unacknowledged) */
  room(): number;
  /** records[from, to) into memory, numbered with the next seqs; returns how many (to - from) */
  toMemory(records: readonly string[], from: number, to: number): number;
  /** records[from, to) to the spool behind what it holds, with the next seqs; returns how many it took (0: full or none) */
  toSpool(records: readonly string[], from: number, to: number): number;
  /** resolves when an ACK (or a drop) makes room, or the shipper stops */
  roomFreed(): Promise<void>;
  /** uses up the next k seqs without sending them (the receiver will count a gap) */
  skip(k: number): void;
  /** removes the oldest records never sent (a queued batch, else the open batch); returns how many (0: all held are in flight) */
  discardOldestUnsent(): number;
  /** counts k dropped records (logged at most once a second) */
  dropped(k: number, how: string): void;
}

/** A followed file's read positions waiting for their ACK (oldest first), and where to store the acked one. */
export interface FollowProgress {
  /** positions read, in order, each with the last local seq before it */
  readonly positions: Array<{ lastSeq: number; at: FilePosition }>;
  /** highest local seq ACKed */
  readonly ackedLocal: number;
  /** wire seq = local seq + base */
  readonly base: number;
  /** stores the acknowledged position (written at most every 200 ms) */
  save(pos: FollowState): void;
}

export interface ShipperPolicies {
  /** [d09.3, d09.4, d09.5] the HELLO's ACK (`held`, a wire seq) says what the receiver holds: what goes again */
  resumeAfterHello(held: number, r: Resume): void;
  /** [d09.10] the delay before the next connect */
  nextBackoff(backoff: Backoff): BackoffStep;
  /** [d09.8] why the connection counts as dead (half-open), or undefined while it is alive */
  deadConnection(c: Liveness): string | undefined;
  /** [d09.6] takes records[from, to) into memory or the spool; returns how many it took (0: nowhere) */
  admit(q: Queue, records: readonly string[], from: number, to: number): number;
  /** [d09.7] memory and spool are full: block or drop; returns the index to go on from */
  overflow(q: Queue, records: readonly string[], from: number, to: number): Promise<number>;
  /** [d09.5] moves the stored read position of a followed file over what is ACKed */
  advanceFollow(f: FollowProgress): void;
}

// ---- 1. after every (re)connect: the HELLO's ACK says what the receiver holds -----------------------
export function resumeAfterHello(held: number, r: Resume): void {
  // @solution [d09.3, d09.4, d09.5, d09.8] after the HELLO's ACK: everything unacknowledged goes again, except what the receiver says it holds
  r.outbox.rewind(); // everything unacknowledged — in flight on the lost connection included — goes again…
  r.ack(held); // …except what the receiver says it already holds (re-slicing a partly held batch)
  // @end-solution
}

// ---- 2. half-open: TCP can look healthy for minutes while nothing moves -----------------------------
export function deadConnection(c: Liveness): string | undefined {
  // @solution [d09.8] a receiver that stops answering is dead even while TCP still looks fine: no ACK progress, or no PONG, for --ack-timeout-ms
  if (c.inflight > 0 && c.now - c.lastAckProgressAt > c.ackTimeoutMs) {
    return `no ACK progress for ${c.now - c.lastAckProgressAt} ms with ${c.inflight} batches in flight`;
  }
  if (c.pingOutstanding && c.now - c.pingSentAt > c.ackTimeoutMs) {
    return `no PONG within ${c.ackTimeoutMs} ms`;
  }
  // @end-solution
  return undefined;
}

// ---- 3. reconnecting without a thundering herd (the computation: Backoff in lessons/day09/backoff.ts) --
export function nextBackoff(backoff: Backoff): BackoffStep {
  const attempt = backoff.attempt;
  const ceilingMs = backoff.ceiling();
  return { attempt, ceilingMs, delayMs: backoff.next() };
}

// ---- 4. bounded memory: where a chunk of records goes ------------------------------------------------
/** Takes records[from, to) into memory or the spool; returns how many it took (0: no room anywhere). */
export function admit(q: Queue, records: readonly string[], from: number, to: number): number {
  // @solution [d09.6] memory while it has room, then the spool on disk; behind a non-empty spool, the spool (to keep seq order)
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

// ---- 5. …and when nothing has room ---------------------------------------------------------------------
/** Memory full and no spool room: returns the index in records to go on from. */
export async function overflow(q: Queue, _records: readonly string[], from: number, to: number): Promise<number> {
  // @solution [d09.7] the --overflow policy: block the source until there is room, or drop-newest / drop-oldest (counted; a dropped record's seq is used up, so the receiver sees a gap)
  // @stub await q.roomFreed(); return from;
  if (q.overflowPolicy === 'block') {
    await q.roomFreed(); // stop reading until an ACK (or a drop) makes room
    return from;
  }
  if (q.overflowPolicy === 'drop-newest') {
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

// ---- 6. --follow: the stored read position -------------------------------------------------------------
export function advanceFollow(f: FollowProgress): void {
  // @solution [d09.5] the stored read position of a followed file moves only over lines whose records are ACKed
  while (f.positions.length > 0 && f.positions[0]!.lastSeq <= f.ackedLocal) {
    const p = f.positions.shift()!;
    f.save({ ...p.at, seq: p.lastSeq + f.base });
  }
  // @end-solution
}

/** The policies every acked LSP/1 shipper runs with. */
export const DAY09_POLICIES: ShipperPolicies = {
  resumeAfterHello,
  deadConnection,
  nextBackoff,
  admit,
  overflow,
  advanceFollow,
};
