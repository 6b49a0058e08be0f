/**
 * Day 09 shipper: what a lesson hands the engine (lessons/day09/shipper-engine.ts) — its parsed flags, log,
 * state dir, spool, and the optional hooks later days plug in: a connect function (day 13: TLS), a
 * compression (day 12), a batching policy and its limits (day 11), replacement policies, HELLO and done-line
 * extras. The flags themselves are lessons/day09/shipper-options.ts.
 */
import type { Log } from '../../shared/log.ts';
import type { Batching } from './batching.ts';
import type { ShipperPolicies } from './policies.ts';
import type { ConnectFn } from './shipper-connection.ts';
import type { LspShipperArgs } from './shipper-options.ts';
import type { FollowState, ShipperState } from './shipper-state.ts';
import type { Compression } from './shipper-wire.ts';
import type { Spool } from './spool.ts';

/** The engine's states (lessons/day09/shipper-engine.ts draws the machine). */
export type ShipperStateName = 'idle' | 'connecting' | 'handshaking' | 'streaming' | 'backoff' | 'draining' | 'closed';
export interface LspShipperConfig {
  /** 'day09', 'day11', …: the HELLO names it */
  lesson: string;
  args: LspShipperArgs;
  log: Log;
  state: ShipperState;
  spool?: Spool | undefined;
  /** the acknowledged position a --follow run resumes from (state.followOf(input)) */
  follow?: FollowState | undefined;
  /** default: net.connect({host, port, noDelay: true}) */
  connect?: ConnectFn;
  compression?: Compression | undefined;
  policies?: Partial<ShipperPolicies>;
  /** extra fields for the HELLO payload */
  hello?: Record<string, unknown>;
  /** extra fields for the done line */
  doneExtra?: () => Record<string, unknown>;
  /** the batching policy's limits; default --batch-records, --batch-bytes, --batch-delay-ms (day 11 passes its own) */
  batch?: BatchLimits;
  /** how records are grouped into batches; default day 09's count rule (lessons/day09/batching.ts); day 11 plugs its Batcher in */
  batching?: Batching;
}

/** A batch's limits: at most maxRecords records and maxBytes of payload; maxDelayMs is for a time-based policy (day 11). */
export interface BatchLimits {
  maxRecords: number;
  /** payload bytes (NDJSON, LFs included, before compression) */
  maxBytes: number;
  maxDelayMs: number;
}
