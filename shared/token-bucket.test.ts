import { describe, expect, it } from 'vitest';
import { TokenBucket } from './token-bucket.ts';

function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('TokenBucket', () => {
  it('starts full and lets a burst through without waiting', () => {
    const c = clock();
    const b = new TokenBucket(1000, 10, c.now);
    expect(b.take(10)).toBe(0);
    expect(b.available()).toBe(0);
  });

  it('take() goes into debt and says how long to wait for it', () => {
    const c = clock();
    const b = new TokenBucket(1000, 10, c.now); // 1 token per ms
    b.take(10);
    expect(b.take(5)).toBeCloseTo(5);
    c.advance(5);
    expect(b.available()).toBeCloseTo(0);
    expect(b.take(0)).toBe(0);
  });

  it('refills at the rate, never past the burst', () => {
    const c = clock();
    const b = new TokenBucket(100, 20, c.now);
    b.take(20);
    c.advance(100); // +10
    expect(b.available()).toBeCloseTo(10);
    c.advance(10_000);
    expect(b.available()).toBe(20);
  });

  it('paces a sender to the rate: N tokens take about (N - burst) / rate', () => {
    const c = clock();
    const b = new TokenBucket(50_000, 100, c.now);
    for (let sent = 0; sent < 100_000; sent += 7) {
      const wait = b.take(7);
      if (wait > 2) c.advance(wait); // sleep only when the debt is worth a timer
    }
    const elapsed = c.now();
    expect(elapsed).toBeGreaterThan(((100_000 - 100) / 50_000) * 1000 - 3);
    expect(elapsed).toBeLessThan((100_000 / 50_000) * 1000 + 3);
  });

  it('tryTake() never goes into debt', () => {
    const c = clock();
    const b = new TokenBucket(10, 2, c.now);
    expect(b.tryTake()).toBe(true);
    expect(b.tryTake()).toBe(true);
    expect(b.tryTake()).toBe(false);
    expect(b.available()).toBe(0);
    c.advance(100);
    expect(b.tryTake()).toBe(true);
    expect(b.tryTake()).toBe(false);
  });

  it('rate 0 is unlimited', () => {
    const b = new TokenBucket(0, 1);
    expect(b.unlimited).toBe(true);
    expect(b.take(1e9)).toBe(0);
    expect(b.tryTake(1e9)).toBe(true);
  });

  it('refuses a negative rate or an empty burst', () => {
    expect(() => new TokenBucket(-1, 1)).toThrow(RangeError);
    expect(() => new TokenBucket(1, 0)).toThrow(RangeError);
  });
});
