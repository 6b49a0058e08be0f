// The machine lock of the class grader (issue 19): checks share the machine, an exclusive one runs alone,
// and one waiting is not passed by shared checks that come after it.
import { describe, expect, it } from 'vitest';
import { MachineLock } from './lock.ts';

describe('MachineLock', () => {
  it('shares among checks, holds an exclusive check until they end, and lets none pass a waiting exclusive one', async () => {
    const lock = new MachineLock();
    const order: string[] = [];
    const a = await lock.acquire(false);
    const b = await lock.acquire(false);
    expect(lock.state()).toEqual({ shared: 2, alone: false, waiting: 0 });
    const x = lock.acquire(true).then((release) => {
      order.push('x');
      return release;
    });
    const c = lock.acquire(false).then((release) => {
      order.push('c');
      return release;
    });
    await Promise.resolve();
    expect(order, 'the exclusive check waits for the shared ones; c waits behind it').toEqual([]);
    expect(lock.state().waiting).toBe(2);
    a();
    a(); // a second release is a no-op
    await Promise.resolve();
    expect(order).toEqual([]);
    b();
    const releaseX = await x;
    expect(order).toEqual(['x']);
    expect(lock.state()).toEqual({ shared: 0, alone: true, waiting: 1 });
    releaseX();
    (await c)();
    expect(order).toEqual(['x', 'c']);
    expect(lock.state()).toEqual({ shared: 0, alone: false, waiting: 0 });
  });
});
