/**
 * The one Batcher (GUIDE §4, day 11): collects items and hands them on as a batch when it reaches
 * `maxRecords`, when adding the next item would pass `maxBytes`, or when `maxDelayMs` has passed since
 * the batch's first item — whichever comes first — and always on close. Every flush says why.
 *
 * Size rule: a batch never exceeds maxBytes. An item that would push the open batch over the limit
 * first flushes the open batch ('bytes'), then starts the next one. A single item larger than maxBytes
 * cannot fit anywhere: `fits()` tells the caller, and add() refuses it (a UDP shipper rejects such a
 * record with a clear error before it gets here).
 *
 * One timer per batch, never per item: the hot path is a push and two additions.
 */
export type FlushReason = 'records' | 'bytes' | 'time' | 'close' | 'manual';

export interface Batch<T> {
  items: T[];
  /** sum of the byte sizes given to add() */
  bytes: number;
  reason: FlushReason;
  /** clock time when the batch's first item was added (for per-record wait times) */
  openedAt: number;
}

export interface BatcherOptions<T> {
  maxRecords: number;
  maxBytes: number;
  maxDelayMs: number;
  onFlush: (batch: Batch<T>) => void;
  /** clock in ms; default performance.now */
  now?: () => number;
}

export class BatchTooLargeError extends Error {
  readonly code = 'LS_ERR_TOO_LARGE';
  constructor(readonly bytes: number, readonly maxBytes: number) {
    super(`an item of ${bytes} bytes cannot fit in a batch of at most ${maxBytes} bytes`);
  }
}

export function validateBatchLimits(o: { maxRecords: number; maxBytes: number; maxDelayMs: number }): string | undefined {
  if (!Number.isInteger(o.maxRecords) || o.maxRecords < 1 || o.maxRecords > 65535) return `--batch-records must be 1..65535 (got ${o.maxRecords})`;
  if (!Number.isFinite(o.maxBytes) || o.maxBytes < 1) return `--batch-bytes must be at least 1 (got ${o.maxBytes})`;
  if (!Number.isFinite(o.maxDelayMs) || o.maxDelayMs < 0) return `--batch-delay-ms must be 0 or more (got ${o.maxDelayMs})`;
  return undefined;
}

export class Batcher<T> {
  private items: T[] = [];
  private bytes = 0;
  private openedAt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private readonly now: () => number;
  /** flushes so far, by reason */
  readonly flushes: Record<FlushReason, number> = { records: 0, bytes: 0, time: 0, close: 0, manual: 0 };

  constructor(private readonly opts: BatcherOptions<T>) {
    const problem = validateBatchLimits(opts);
    if (problem) throw new RangeError(problem);
    this.now = opts.now ?? (() => performance.now());
  }

  /** items in the open batch */
  get size(): number {
    return this.items.length;
  }

  /** bytes in the open batch */
  get openBytes(): number {
    return this.bytes;
  }

  fits(bytes: number): boolean {
    return bytes <= this.opts.maxBytes;
  }

  add(item: T, bytes: number): void {
    if (this.closed) throw new Error('Batcher: add after close');
    if (bytes > this.opts.maxBytes) throw new BatchTooLargeError(bytes, this.opts.maxBytes);
    if (this.items.length > 0 && this.bytes + bytes > this.opts.maxBytes) this.emit('bytes');
    const first = this.items.length === 0;
    if (first) this.openedAt = this.now();
    this.items.push(item);
    this.bytes += bytes;
    if (this.items.length >= this.opts.maxRecords) this.emit('records');
    else if (this.bytes === this.opts.maxBytes) this.emit('bytes');
    else if (this.opts.maxDelayMs === 0) this.emit('time');
    // The clock starts with the batch's first item; a batch that left at once needs no timer (batch size 1).
    else if (first) this.timer = setTimeout(() => this.emit('time'), this.opts.maxDelayMs);
  }

  /** Hands on the open batch now, if any. */
  flush(reason: FlushReason = 'manual'): void {
    if (this.items.length) this.emit(reason);
  }

  /** Flushes what is open ('close') and refuses further items. */
  close(): void {
    if (this.closed) return;
    this.flush('close');
    this.closed = true;
  }

  private emit(reason: FlushReason): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (!this.items.length) return;
    const batch: Batch<T> = { items: this.items, bytes: this.bytes, reason, openedAt: this.openedAt };
    this.items = [];
    this.bytes = 0;
    this.flushes[reason]++;
    this.opts.onFlush(batch);
  }
}
