// The sink's waiters: released in ticket order whatever order they came in. A flush's waiter for its pump
// round's ticket comes in after waiters for later tickets (appends made during the round); when it went to
// the end of the list, settle() (which releases a prefix) never reached it, and a SIGTERM drain hung in
// FileSink.close() until the receiver's deadline (found by scripts/chaos/graceful.test.ts under load).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileSink } from './file-sink.ts';
import { enqueue, settle, type Waiter } from './waiters.ts';

describe('enqueue / settle', () => {
  it('an older ticket that comes in late is released with the others', () => {
    const released: number[] = [];
    const waiters: Waiter[] = [];
    const w = (ticket: number): Waiter => ({ ticket, resolve: () => released.push(ticket), reject: () => {} });
    for (const t of [10, 20, 30]) enqueue(waiters, w(t));
    enqueue(waiters, w(15)); // the late one
    expect(waiters.map((x) => x.ticket)).toEqual([10, 15, 20, 30]);
    settle(waiters, 15);
    expect(released).toEqual([10, 15]);
    settle(waiters, 100);
    expect(released).toEqual([10, 15, 20, 30]);
    expect(waiters).toEqual([]);
  });
});

describe('FileSink --fsync group: a flush while appends keep coming', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(os.tmpdir(), 'sink-waiters-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('flush() and close() return with a later append still waiting to be durable', async () => {
    const sink = await FileSink.open({ dir, fsync: 'group' });
    const line = Buffer.from(`${'x'.repeat(200)}\n`);
    sink.append(Buffer.concat(Array.from({ length: 5000 }, () => line))); // the pump's round takes this one
    const later = sink.append(line); // appended during that round: a larger ticket, waited for first
    const laterDurable = sink.whenDurable(later);
    await sink.flush(); // its waiter is for the round's ticket, older than `later` (hung before the fix)
    await laterDurable;
    await sink.close();
    expect(sink.counters.bytesWritten).toBe(5001 * line.length);
  });
});
