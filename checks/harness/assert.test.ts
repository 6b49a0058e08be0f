import { describe, expect, it } from 'vitest';
import { CheckFailure, expectEqual, fail, waitFor } from './assert.ts';

describe('waitFor', () => {
  it('returns the first truthy value', async () => {
    let n = 0;
    const v = await waitFor(() => (++n >= 3 ? { n } : false), { timeoutMs: 1000, what: 'n to reach 3' });
    expect(v).toEqual({ n: 3 });
  });

  it('fails after the deadline, saying how long it waited and for what', async () => {
    const t0 = Date.now();
    const err = await waitFor(() => false, {
      timeoutMs: 120,
      what: 'the impossible',
      received: () => 'still nothing',
      hint: 'h',
    }).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(110);
    expect(err).toBeInstanceOf(CheckFailure);
    const f = err as CheckFailure;
    expect(f.code).toBe('LS_ERR_CHECK_FAILED');
    expect(f.expected).toMatch(/^the impossible within 120 ms \(waited \d+ ms\)$/);
    expect(f.received).toBe('still nothing');
    expect(f.hint).toBe('h');
  });

  it('polls an assertion and reports its last failure with the time waited', async () => {
    let n = 0;
    const err = await waitFor(
      () => {
        n++;
        expectEqual(n, -1, { what: 'n', where: 'here' });
        return true;
      },
      { timeoutMs: 80, what: 'n to be -1' },
    ).catch((e: unknown) => e as CheckFailure);
    expect(err).toBeInstanceOf(CheckFailure);
    expect((err as CheckFailure).expected).toMatch(/^n = -1 \(waited \d+ ms for n to be -1\)$/);
    expect((err as CheckFailure).where).toBe('here');
    expect(n).toBeGreaterThan(1);
  });

  it('rethrows any other error at once', async () => {
    const t0 = Date.now();
    await expect(
      waitFor(
        () => {
          throw new TypeError('boom');
        },
        { timeoutMs: 5000, what: 'x' },
      ),
    ).rejects.toThrow(TypeError);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('stops early when the signal aborts', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 30);
    const t0 = Date.now();
    await expect(waitFor(() => false, { timeoutMs: 5000, what: 'x', signal: ac.signal })).rejects.toBeInstanceOf(
      CheckFailure,
    );
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});

describe('expectEqual / fail', () => {
  it('compares deeply and strictly', () => {
    expect(() => expectEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }, { what: 'x' })).not.toThrow();
    expect(() => expectEqual({ a: 1 }, { a: '1' }, { what: 'x' })).toThrow(CheckFailure);
  });

  it('carries expected / received / where / hint', () => {
    try {
      expectEqual(3, 2, { what: 'exit code', where: 'w', hint: 'h' });
      expect.unreachable();
    } catch (err) {
      const f = err as CheckFailure;
      expect(f.info()).toEqual({ expected: 'exit code = 2', received: '3', where: 'w', hint: 'h' });
    }
    expect(() => fail({ expected: 'e', received: 'r' })).toThrow(CheckFailure);
  });
});
