import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Batcher, BatchTooLargeError, type Batch } from './batcher.ts';

function make(opts: { maxRecords?: number; maxBytes?: number; maxDelayMs?: number } = {}) {
  const out: Batch<string>[] = [];
  const b = new Batcher<string>({
    maxRecords: opts.maxRecords ?? 3,
    maxBytes: opts.maxBytes ?? 100,
    maxDelayMs: opts.maxDelayMs ?? 50,
    onFlush: (x) => out.push(x),
    now: () => Date.now(),
  });
  return { b, out };
}

describe('Batcher', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('flushes when it reaches max records', () => {
    const { b, out } = make({ maxRecords: 3 });
    b.add('a', 1);
    b.add('b', 1);
    expect(out).toHaveLength(0);
    b.add('c', 1);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ items: ['a', 'b', 'c'], bytes: 3, reason: 'records' });
    expect(b.size).toBe(0);
  });

  it('flushes before an item that would pass max bytes, so no batch exceeds it', () => {
    const { b, out } = make({ maxRecords: 100, maxBytes: 10 });
    b.add('a', 4);
    b.add('b', 4);
    b.add('c', 4); // 12 > 10: a+b leave first
    expect(out.map((x) => [x.items, x.bytes, x.reason])).toEqual([[['a', 'b'], 8, 'bytes']]);
    b.add('d', 6); // exactly 10: leaves at once
    expect(out.map((x) => [x.items, x.bytes, x.reason])).toEqual([
      [['a', 'b'], 8, 'bytes'],
      [['c', 'd'], 10, 'bytes'],
    ]);
    for (const x of out) expect(x.bytes).toBeLessThanOrEqual(10);
  });

  it('off-by-one: a batch of exactly max bytes is allowed, one byte more is not', () => {
    const { b, out } = make({ maxRecords: 100, maxBytes: 10 });
    b.add('a', 10);
    expect(out[0]?.bytes).toBe(10);
    expect(() => b.add('big', 11)).toThrow(BatchTooLargeError);
    expect(b.fits(10)).toBe(true);
    expect(b.fits(11)).toBe(false);
  });

  it('flushes a partial batch when max delay passes, measured from its first item', () => {
    const { b, out } = make({ maxRecords: 100, maxDelayMs: 50 });
    b.add('a', 1);
    vi.advanceTimersByTime(30);
    b.add('b', 1); // does not restart the clock
    vi.advanceTimersByTime(19);
    expect(out).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ items: ['a', 'b'], reason: 'time' });
    // no timer while empty
    vi.advanceTimersByTime(1000);
    expect(out).toHaveLength(1);
  });

  it('a size flush cancels the pending timer', () => {
    const { b, out } = make({ maxRecords: 2, maxDelayMs: 50 });
    b.add('a', 1);
    b.add('b', 1);
    vi.advanceTimersByTime(100);
    expect(out.map((x) => x.reason)).toEqual(['records']);
  });

  it('close flushes the partial batch and refuses more', () => {
    const { b, out } = make({ maxRecords: 10 });
    b.add('a', 1);
    b.close();
    expect(out).toEqual([expect.objectContaining({ items: ['a'], reason: 'close' })]);
    expect(() => b.add('b', 1)).toThrow();
    b.close();
    expect(out).toHaveLength(1);
    expect(b.flushes).toMatchObject({ close: 1, records: 0 });
  });

  it('max delay 0 means every item leaves at once', () => {
    const { b, out } = make({ maxRecords: 10, maxDelayMs: 0 });
    b.add('a', 1);
    b.add('b', 1);
    expect(out.map((x) => x.items)).toEqual([['a'], ['b']]);
  });

  it('refuses invalid limits with the flag name', () => {
    expect(() => make({ maxRecords: 0 })).toThrow(/--batch-records/);
    expect(() => make({ maxBytes: 0 })).toThrow(/--batch-bytes/);
    expect(() => make({ maxDelayMs: -1 })).toThrow(/--batch-delay-ms/);
  });

  it('keeps order across batches', () => {
    const { b, out } = make({ maxRecords: 7, maxBytes: 1000 });
    for (let i = 0; i < 100; i++) b.add(String(i), 1);
    b.close();
    expect(out.flatMap((x) => x.items)).toEqual(Array.from({ length: 100 }, (_, i) => String(i)));
  });
});
