import hdr from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { latencyReport, NO_LATENCY } from './latency.ts';

describe("latencyReport [d14.5]: the lanes' histograms as one", () => {
  const histogram = (valuesUs: number[]) => {
    const h = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 3_600_000_000,
      numberOfSignificantValueDigits: 3,
      autoResize: true,
    });
    for (const v of valuesUs) h.recordValue(v);
    return h;
  };

  it('percentiles, max and mean in ms over every lane; n counts every record', () => {
    const a = histogram(Array.from({ length: 90 }, () => 10_000)); // 90 records at 10 ms
    const b = histogram([...Array.from({ length: 9 }, () => 200_000), 1_000_000]); // 9 at 200 ms, 1 at 1 s
    const r = latencyReport([a, b, histogram([])]);
    expect(r.n).toBe(100);
    expect(r.p50).toBeCloseTo(10, 1);
    expect(r.p90).toBeCloseTo(10, 1);
    expect(r.p99).toBeCloseTo(200, 0);
    expect(r.max).toBeCloseTo(1000, 0);
    expect(r.p999).toBeLessThanOrEqual(r.max!);
    expect(r.mean).toBeCloseTo((90 * 10 + 9 * 200 + 1000) / 100, 0);
  });

  it('nothing measured: all null, n 0', () => {
    expect(latencyReport([])).toEqual(NO_LATENCY);
    expect(latencyReport([histogram([])])).toEqual(NO_LATENCY);
  });
});
