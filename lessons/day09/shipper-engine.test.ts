// The shipper engine's pure parts: per-record wait times and the cross-flag rules. The engine itself is
// exercised end to end by lessons/day09/day09.test.ts and the day 09/11 graded checks.
import { describe, expect, it } from 'vitest';
import { tryParseCli } from '../../shared/cli.ts';
import {
  lspCodecOptions,
  lspShipperOptions,
  SMALLEST_RECORD_BYTES,
  validateLspShipper,
  WaitTimes,
} from './shipper-engine.ts';

describe('WaitTimes', () => {
  it('records each run with its count when an ACK covers it, and splits a run an ACK covers in part', () => {
    const w = new WaitTimes();
    w.enter(1, 10, 0); // seqs 1..10 at t=0
    w.enter(11, 10, 5); // 11..20 at t=5 ms
    w.acked(5, 2); // 1..5 waited 2 ms
    expect(w.histogram.totalCount).toBe(5);
    w.acked(20, 10); // 6..10 waited 10 ms, 11..20 waited 5 ms
    expect(w.histogram.totalCount).toBe(20);
    const s = w.summary();
    expect(s.n).toBe(20);
    expect(s.p50).toBeCloseTo(5, 1);
    expect(s.max).toBeCloseTo(10, 1);
    w.acked(30, 11); // nothing left: no-op
    expect(w.histogram.totalCount).toBe(20);
  });

  it('merges contiguous runs of the same instant and forgets discarded seqs', () => {
    const w = new WaitTimes();
    w.enter(1, 5, 1);
    w.enter(6, 5, 1);
    w.enter(11, 10, 2);
    w.discard(4, 13); // drop 4..12
    w.acked(100, 3);
    expect(w.histogram.totalCount).toBe(3 + 8); // 1..3 and 13..20
  });

  it('an empty tracker reports zeros', () => {
    expect(new WaitTimes().summary()).toEqual({ p50: 0, p99: 0, max: 0, n: 0 });
  });
});

describe('lspShipperOptions + validateLspShipper', () => {
  const def = {
    name: 'test',
    summary: 'test',
    options: { ...lspShipperOptions('day11', 5143), ...lspCodecOptions() },
    validate: validateLspShipper,
  };
  const parse = (...argv: string[]) => tryParseCli(def, ['node', 'x', ...argv]);
  const message = (r: ReturnType<typeof parse>) => (r.ok ? '' : r.exitCode === 2 ? r.message : '');

  it('defaults, and one flag group for every acked day', () => {
    const r = parse('--generate', '10');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.values.batchRecords).toBe(1000);
    expect(r.values.stateDir).toBe('data/day11-shipper');
    expect(r.values.codec).toBe('none');
  });

  it.each([
    [['--generate', '10', '--batch-records', '0'], '--batch-records'],
    [['--generate', '10', '--batch-records', '-3'], '--batch-records'],
    [['--generate', '10', '--batch-bytes', '0'], '--batch-bytes'],
    [['--generate', '10', '--batch-delay-ms', '-1'], '--batch-delay-ms'],
    [['--input', 'x.log', '--batch-bytes', String(SMALLEST_RECORD_BYTES - 1)], '--batch-bytes'],
    [['--generate', '10', '--batch-bytes', '120'], '--batch-bytes'], // generated records are ~200 bytes
    [['--generate', '10', '--backoff-base-ms', '500', '--backoff-cap-ms', '100'], '--backoff-cap-ms'],
    [['--input', '-', '--follow'], '--follow'],
    [['--input', 'x.log', '--rate', '100'], '--rate'],
    [['--generate', '10', '--codec', 'zip'], '--codec'],
  ])('%j is refused naming %s', (argv, flag) => {
    const r = parse(...argv);
    expect(r.ok).toBe(false);
    expect(message(r)).toContain(flag);
  });
});
