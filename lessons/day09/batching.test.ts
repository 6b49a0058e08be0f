import { describe, expect, it } from 'vitest';
import { CountBatching, type BatchPolicyOptions } from './batching.ts';

function collect(limits: Omit<BatchPolicyOptions, 'onFlush'>) {
  const batches: string[][] = [];
  const b = new CountBatching({ ...limits, onFlush: ({ items }) => batches.push(items) });
  return { b, batches };
}

describe("CountBatching (day 09's rule: the records already waiting, up to --batch-records)", () => {
  it('a batch leaves when full, and what is open leaves when nothing more is waiting', () => {
    const { b, batches } = collect({ maxRecords: 3, maxBytes: 1000, maxDelayMs: 20 });
    for (const r of ['a', 'b', 'c', 'd']) b.add(r, 2);
    expect(batches).toEqual([['a', 'b', 'c']]);
    expect(b.size).toBe(1);
    b.idle();
    expect(batches).toEqual([['a', 'b', 'c'], ['d']]);
    b.idle(); // nothing open: nothing sent
    expect(batches.length).toBe(2);
    expect(b.flushes).toMatchObject({ records: 1, idle: 1 });
  });

  it("counts records only: bytes are the engine's business (it splits an oversized batch)", () => {
    const { b, batches } = collect({ maxRecords: 100, maxBytes: 10, maxDelayMs: 0 });
    b.add('x', 4);
    b.add('y', 4);
    b.add('z', 4);
    expect(b.openBytes).toBe(12);
    expect(batches).toEqual([]);
    expect(b.fits(11)).toBe(true);
    b.flush('close');
    expect(batches).toEqual([['x', 'y', 'z']]);
    expect(b.flushes).toMatchObject({ bytes: 0, close: 1 });
  });

  it('needs no timer: nothing leaves on its own', async () => {
    const { b, batches } = collect({ maxRecords: 10, maxBytes: 1000, maxDelayMs: 1 });
    b.add('a', 2);
    await new Promise((r) => setTimeout(r, 10));
    expect(batches).toEqual([]);
  });
});
