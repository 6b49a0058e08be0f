import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff.ts';
import { seededRandom } from '../../shared/random.ts';

describe('Backoff (exponential, full jitter) [d09.10]', () => {
  it('the window doubles from base and stops at the cap', () => {
    const b = new Backoff({ baseMs: 100, capMs: 5000 });
    expect([0, 1, 2, 3, 4, 5, 6, 40, 5000].map((a) => b.ceiling(a))).toEqual([
      100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000,
    ]);
  });

  it('each delay is drawn from [0, window] and counts the attempt', () => {
    const rnd = seededRandom(7);
    const b = new Backoff({ baseMs: 100, capMs: 1000, random: () => rnd.next() });
    for (let i = 0; i < 200; i++) {
      const ceiling = b.ceiling();
      const attempt = b.attempt;
      const d = b.next();
      expect(b.attempt).toBe(attempt + 1);
      expect(Number.isInteger(d)).toBe(true);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(ceiling);
    }
  });

  it('full jitter: delays spread over the whole window, from near 0 to near the cap', () => {
    const rnd = seededRandom(42);
    const delays: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const b = new Backoff({ baseMs: 100, capMs: 800, random: () => rnd.next() });
      b.attempt = 3; // window 800
      delays.push(b.next());
    }
    const min = Math.min(...delays);
    const max = Math.max(...delays);
    const mean = delays.reduce((a, d) => a + d, 0) / delays.length;
    expect(min).toBeLessThan(40);
    expect(max).toBeGreaterThan(760);
    expect(mean).toBeGreaterThan(360); // uniform on [0, 800]: mean 400
    expect(mean).toBeLessThan(440);
  });

  it('the edges of random() map to 0 and to the window', () => {
    const lo = new Backoff({ baseMs: 100, capMs: 1000, random: () => 0 });
    expect(lo.next()).toBe(0);
    const hi = new Backoff({ baseMs: 100, capMs: 1000, random: () => 0.999999999 });
    expect(hi.next()).toBe(100);
    expect(hi.next()).toBe(200);
  });

  it('reset() starts the next outage from base again', () => {
    const b = new Backoff({ baseMs: 50, capMs: 10_000, random: () => 0.999999999 });
    for (let i = 0; i < 5; i++) b.next();
    expect(b.ceiling()).toBe(1600);
    b.reset();
    expect(b.attempt).toBe(0);
    expect(b.next()).toBe(50);
  });

  it('refuses a cap below base', () => {
    expect(() => new Backoff({ baseMs: 100, capMs: 10 })).toThrow(RangeError);
  });
});
