// kit/records.ts: waitOrGiveUp, the wait a check has a fallback for.
import { describe, expect, it } from 'vitest';
import { fail } from '../assert.ts';
import { waitOrGiveUp } from './records.ts';

describe('waitOrGiveUp', () => {
  it('is true as soon as the condition holds', async () => {
    let n = 0;
    expect(await waitOrGiveUp(() => ++n >= 3, { timeoutMs: 2000, intervalMs: 5, what: 'n ≥ 3' })).toBe(true);
  });

  it('is false when the time runs out', async () => {
    expect(await waitOrGiveUp(() => false, { timeoutMs: 60, intervalMs: 5, what: 'never' })).toBe(false);
  });

  it('still fails on an error that is not the time running out', async () => {
    const boom = new Error('boom');
    const err = await waitOrGiveUp(
      () => {
        throw boom;
      },
      { timeoutMs: 60, what: 'x' },
    ).catch((e: unknown) => e);
    expect(err).toBe(boom);
    // an assertion that keeps failing until the end is the time running out
    expect(await waitOrGiveUp(() => fail({ expected: 'a', received: 'b' }), { timeoutMs: 60, what: 'a' })).toBe(false);
  });
});
