import { describe, expect, it } from 'vitest';
import { Schedule } from './schedule.ts';

describe('Schedule.dueAt [d14.2, d14.6]: records due by t = the integral of the rate', () => {
  it('constant: rate × t, whole records', () => {
    const s = new Schedule({ rate: 20_000 });
    expect(s.dueAt(0)).toBe(0);
    expect(s.dueAt(0.5)).toBe(10_000);
    expect(s.dueAt(3)).toBe(60_000);
    expect(s.dueAt(0.00004)).toBe(0); // 0.8 of a record: not yet due
    expect(s.dueAt(0.00005)).toBe(1);
  });

  it('ramp: a triangle while rising, then the full rate', () => {
    const s = new Schedule({ rate: 8000, rampS: 2 });
    expect(s.dueAt(1)).toBe(2000); // 8000 × 1² / (2 × 2)
    expect(s.dueAt(2)).toBe(8000); // the whole triangle: 8000 × 2 / 2
    expect(s.dueAt(3)).toBe(16_000); // + one second at 8000/s
  });

  it('steps: each rate for its step, cut at t', () => {
    const s = new Schedule({ rate: 0, steps: [3000, 9000], stepS: 1 });
    expect(s.dueAt(0.5)).toBe(1500);
    expect(s.dueAt(1)).toBe(3000);
    expect(s.dueAt(1.5)).toBe(7500);
    expect(s.dueAt(2)).toBe(12_000);
  });

  it('never decreases', () => {
    for (const s of [
      new Schedule({ rate: 777 }),
      new Schedule({ rate: 5000, rampS: 1.5 }),
      new Schedule({ rate: 0, steps: [100, 5000, 10], stepS: 0.7 }),
    ]) {
      let last = 0;
      for (let t = 0; t <= 3; t += 0.001) {
        const n = s.dueAt(t);
        expect(n).toBeGreaterThanOrEqual(last);
        last = n;
      }
    }
  });
});

describe('Schedule.timeOf [d14.7]: when record n is due (dueAt inverted)', () => {
  it('constant: n / rate', () => {
    const s = new Schedule({ rate: 1000 });
    expect(s.timeOf(1)).toBeCloseTo(0.001, 5);
    expect(s.timeOf(2500)).toBeCloseTo(2.5, 5);
  });

  it('is the first time at which n records are due, for every profile', () => {
    for (const s of [
      new Schedule({ rate: 20_000 }),
      new Schedule({ rate: 8000, rampS: 2 }),
      new Schedule({ rate: 0, steps: [3000, 9000], stepS: 1 }),
    ]) {
      for (const n of [1, 2, 10, 999, 2000, 5001, 7500]) {
        const t = s.timeOf(n);
        expect(s.dueAt(t)).toBeGreaterThanOrEqual(n);
        expect(s.dueAt(t - 1e-5)).toBeLessThan(n);
      }
    }
  });

  it('ramp: record n is due at sqrt(2·S·n / R) while the rate rises', () => {
    const s = new Schedule({ rate: 8000, rampS: 2 });
    expect(s.timeOf(2000)).toBeCloseTo(1, 4);
    expect(s.timeOf(8000 + 4000)).toBeCloseTo(2.5, 4);
  });
});
