import { CodedError } from '../../shared/errors.ts';
/**
 * Day 11 — the Batcher: the day's idea in one class. It collects items and hands them on as a batch
 * (onFlush) when the FIRST of these happens, and always on close. Every flush says why:
 *
 *   'records'  the batch holds maxRecords items                                     [d11.2]
 *   'bytes'    the next item would take it past maxBytes: the batch leaves BEFORE it,  [d11.3, d11.7]
 *              and a batch of exactly maxBytes leaves at once (it cannot grow)
 *   'time'     maxDelayMs have passed since the batch's FIRST item (0: every item at once) [d11.4]
 *   'close'    close(): the partial batch leaves, nothing is left behind, no item after  [d11.5]
 *
 * Size rule: a batch never exceeds maxBytes. A single item larger than maxBytes cannot fit anywhere:
 * `fits()` tells the caller (a UDP shipper rejects such a record with a clear error before it gets here),
 * and add() refuses it with a BatchTooLargeError.
 *
 * One timer per batch, never per item: the timer is armed by the batch's first item and cancelled when
 * the batch leaves for any reason (emit() does that). The hot path is a push and two additions.
 *
 * Order: items leave in the order they were added, batch after batch; a batch's seq is its first
 * item's, which the caller knows (lessons/day11/shipper.ts, lessons/day09/shipper-engine.ts).
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

export class BatchTooLargeError extends CodedError {
  readonly code = 'LS_ERR_TOO_LARGE';
  constructor(
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(`an item of ${bytes} bytes cannot fit in a batch of at most ${maxBytes} bytes`);
  }
}

export function validateBatchLimits(o: {
  maxRecords: number;
  maxBytes: number;
  maxDelayMs: number;
}): string | undefined {
  if (!Number.isInteger(o.maxRecords) || o.maxRecords < 1 || o.maxRecords > 65535)
    return `--batch-records must be 1..65535 (got ${o.maxRecords})`;
  if (!Number.isFinite(o.maxBytes) || o.maxBytes < 1) return `--batch-bytes must be at least 1 (got ${o.maxBytes})`;
  if (!Number.isFinite(o.maxDelayMs) || o.maxDelayMs < 0)
    return `--batch-delay-ms must be 0 or more (got ${o.maxDelayMs})`;
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

  /** Can an item of `bytes` bytes ever be in a batch? (The too-large rule: add() throws for one that cannot.) */
  fits(bytes: number): boolean {
    // @solution [d11.7] the too-large rule: an item fits when a batch of it alone stays within maxBytes
    // @stub return true; // anything fits
    return bytes <= this.opts.maxBytes;
    // @end-solution
  }

  /** Adds one item of `bytes` bytes to the open batch; the batch leaves when a limit says so. */
  add(item: T, bytes: number): void {
    if (this.closed) throw new Error('Batcher: add after close');
    if (!this.fits(bytes)) throw new BatchTooLargeError(bytes, this.opts.maxBytes);
    // @solution [d11.2, d11.3, d11.4, d11.5, d11.7] flush BEFORE the item that would pass maxBytes; add it; flush at maxRecords or at exactly maxBytes; else arm the timer with the batch's first item (maxDelayMs 0: flush now)
    // @stub this.items.push(item); // every item leaves alone, at once: batch size 1
    // @stub this.bytes += bytes;
    // @stub this.openedAt = this.now();
    // @stub this.emit('manual');
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
    // @end-solution
  }

  /** Hands on the open batch now, if any. */
  flush(reason: FlushReason = 'manual'): void {
    if (this.items.length) this.emit(reason);
  }

  /** Flushes what is open ('close') and refuses further items; a second close does nothing. */
  close(): void {
    // @solution [d11.5] close: the partial batch leaves (reason 'close'), then add() refuses; only once
    // @stub this.closed = true;
    if (this.closed) return;
    this.flush('close');
    this.closed = true;
    // @end-solution
  }

  /** Given: hands the open batch on with its reason, cancels its timer, counts the flush. */
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
