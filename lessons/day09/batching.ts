/**
 * How the shipper engine (lessons/day09/shipper-engine.ts) groups records into BATCH frames: a pluggable
 * policy, so that day 09 can use the simplest rule that works and day 11 can plug in its Batcher.
 *
 * Day 09's rule (CountBatching): a batch is the records that are already waiting, up to --batch-records
 * of them. The engine calls `idle()` when nothing more is waiting (after each chunk it took from the
 * source or the spool), and the open batch leaves then. No timer: a record never waits for company, and
 * no byte rule: when a finished batch's payload is over --batch-bytes the engine splits it in halves
 * before it goes out (queueBatch), which is always safe and never clever. Day 11's Batcher is the clever
 * rule — bytes and time — and --batch-delay-ms is its knob; this rule ignores it.
 *
 * The hook (LspShipperConfig.batching) is a factory: the engine hands it the limits and the function that
 * takes a finished batch; day 11 passes `(o) => new Batcher<string>(o)` (lessons/day11/batcher.ts), whose
 * batches also leave when their first record has waited --batch-delay-ms.
 */

/** Why a batch left: full, the next record would pass the byte limit, a timer, the end, the engine, nothing more waiting. */
export type BatchFlushReason = 'records' | 'bytes' | 'time' | 'close' | 'manual' | 'idle';

/** What a batching policy is built with. */
export interface BatchPolicyOptions {
  /** records per batch at most (--batch-records) */
  maxRecords: number;
  /** payload bytes per batch at most, LFs included, before compression (--batch-bytes) */
  maxBytes: number;
  /** how long a batch may wait for more records (--batch-delay-ms; a time-based policy's knob) */
  maxDelayMs: number;
  /** takes a finished batch (the records in order) */
  onFlush(batch: { items: string[] }): void;
}

/** The open batch, as the engine drives it. */
export interface BatchPolicy {
  /** records in the open batch */
  readonly size: number;
  /** payload bytes in the open batch (as given to add) */
  readonly openBytes: number;
  /** can a record of `bytes` go in any batch at all? */
  fits(bytes: number): boolean;
  /** one record into the open batch (which may leave at once, e.g. when full) */
  add(record: string, bytes: number): void;
  /** the open batch leaves now, if there is one */
  flush(reason: 'manual' | 'bytes' | 'close'): void;
  /** nothing more is waiting right now (a policy with a timer may ignore it) */
  idle?(): void;
  /** batches that left so far, by reason */
  readonly flushes: Readonly<Record<string, number>>;
}

/** The hook: LspShipperConfig.batching. */
export type Batching = (opts: BatchPolicyOptions) => BatchPolicy;

/** Day 09: the records already waiting, up to maxRecords; leaves when full or when nothing more waits. */
export class CountBatching implements BatchPolicy {
  readonly flushes: Record<'records' | 'bytes' | 'idle' | 'close' | 'manual', number> = {
    records: 0,
    bytes: 0,
    idle: 0,
    close: 0,
    manual: 0,
  };
  private items: string[] = [];
  private bytes = 0;

  constructor(private readonly opts: BatchPolicyOptions) {
    if (!(opts.maxRecords >= 1) || !(opts.maxBytes >= 1))
      throw new RangeError(`batch limits must be at least 1 (records ${opts.maxRecords}, bytes ${opts.maxBytes})`);
  }

  get size(): number {
    return this.items.length;
  }

  get openBytes(): number {
    return this.bytes;
  }

  /** Any record: one over --batch-bytes is dropped (counted) by the engine when its batch is split down to it. */
  fits(_bytes: number): boolean {
    return true;
  }

  add(record: string, bytes: number): void {
    this.items.push(record);
    this.bytes += bytes;
    if (this.items.length >= this.opts.maxRecords) this.emit('records');
  }

  flush(reason: 'manual' | 'bytes' | 'close'): void {
    this.emit(reason);
  }

  idle(): void {
    this.emit('idle');
  }

  private emit(reason: keyof CountBatching['flushes']): void {
    if (this.items.length === 0) return;
    const items = this.items;
    this.items = [];
    this.bytes = 0;
    this.flushes[reason]++;
    this.opts.onFlush({ items });
  }
}

/** Day 09's batching (the engine's default). */
export const countBatching: Batching = (opts) => new CountBatching(opts);
