import { describe, expect, it } from 'vitest';
import { Outbox, type OutBatch } from './outbox.ts';

/** A batch of records r<seq> for seqs [first, first + n). */
function batch(first: number, n: number): OutBatch {
  const records = Array.from({ length: n }, (_, i) => `r${first + i}`);
  return { firstSeq: first, count: n, payload: Buffer.from(records.join('\n') + '\n'), sends: 0 };
}
const lines = (b: OutBatch) => b.payload.toString().split('\n').filter(Boolean);

describe('Outbox', () => {
  it('sends in order within the batch window', () => {
    const o = new Outbox({ maxBatches: 2, maxBytes: 1 << 20 });
    o.push(batch(1, 3));
    o.push(batch(4, 3));
    o.push(batch(7, 3));
    expect(o.takeToSend()?.firstSeq).toBe(1);
    expect(o.takeToSend()?.firstSeq).toBe(4);
    expect(o.takeToSend()).toBeUndefined(); // 2 in flight
    expect(o.inflight).toBe(2);
    expect(o.ack(3)).toBe(3);
    expect(o.takeToSend()?.firstSeq).toBe(7);
  });

  it('the byte window holds back a batch that would pass it, but always lets one go', () => {
    const o = new Outbox({ maxBatches: 10, maxBytes: 10 });
    o.push(batch(1, 4)); // "r1\nr2\nr3\nr4\n" = 12 bytes > 10
    o.push(batch(5, 1));
    expect(o.takeToSend()?.firstSeq).toBe(1); // alone it may go
    expect(o.takeToSend()).toBeUndefined();
    o.ack(4);
    expect(o.takeToSend()?.firstSeq).toBe(5);
  });

  it('ack is cumulative: whole batches leave, counts and bytes follow', () => {
    const o = new Outbox({ maxBatches: 10, maxBytes: 1 << 20 });
    o.push(batch(1, 2));
    o.push(batch(3, 2));
    o.push(batch(5, 2));
    while (o.takeToSend());
    expect(o.records).toBe(6);
    expect(o.ack(4)).toBe(4);
    expect(o.records).toBe(2);
    expect(o.length).toBe(1);
    expect(o.bytes).toBe(o.inflightBytes);
    expect(o.ack(4)).toBe(0); // no progress
    expect(o.ack(100)).toBe(2);
    expect(o.length).toBe(0);
    expect(o.bytes).toBe(0);
    expect(o.inflightBytes).toBe(0);
    expect(o.endSeq).toBeUndefined();
  });

  it('an ACK inside a batch re-slices it: only the records after the ACK are sent again', () => {
    const o = new Outbox({ maxBatches: 10, maxBytes: 1 << 20 });
    o.push(batch(1, 5));
    o.push(batch(6, 5));
    while (o.takeToSend());
    o.rewind(); // connection lost
    expect(o.ack(3)).toBe(3); // the new HELLO's ACK: the receiver holds 1..3
    const first = o.takeToSend()!;
    expect(first.firstSeq).toBe(4);
    expect(first.count).toBe(2);
    expect(lines(first)).toEqual(['r4', 'r5']);
    expect(first.sends).toBe(2);
    expect(o.records).toBe(7);
    expect(o.bytes).toBe(first.payload.length + batch(6, 5).payload.length);
  });

  it('a re-slice of a batch still in flight keeps the in-flight bytes right', () => {
    const o = new Outbox({ maxBatches: 10, maxBytes: 1 << 20 });
    o.push(batch(10, 4));
    o.takeToSend();
    const before = o.inflightBytes;
    expect(o.ack(11)).toBe(2);
    expect(o.inflightBytes).toBe(before - 'r10\nr11\n'.length);
    expect(o.ack(13)).toBe(2);
    expect(o.inflightBytes).toBe(0);
  });

  it('rewind makes every unacknowledged batch go again, in order', () => {
    const o = new Outbox({ maxBatches: 3, maxBytes: 1 << 20 });
    for (let s = 1; s <= 10; s += 2) o.push(batch(s, 2));
    expect([o.takeToSend(), o.takeToSend(), o.takeToSend()].map((b) => b?.firstSeq)).toEqual([1, 3, 5]);
    o.rewind();
    expect(o.inflight).toBe(0);
    expect(o.inflightBytes).toBe(0);
    expect([o.takeToSend(), o.takeToSend(), o.takeToSend()].map((b) => b?.firstSeq)).toEqual([1, 3, 5]);
  });

  it('dropOldestUnsent skips batches that were ever sent', () => {
    const o = new Outbox({ maxBatches: 1, maxBytes: 1 << 20 });
    o.push(batch(1, 2));
    o.push(batch(3, 2));
    o.push(batch(5, 2));
    o.takeToSend(); // 1..2 in flight
    o.rewind(); // 1..2 waits again, but was sent once: the receiver may hold it
    expect(o.dropOldestUnsent()?.firstSeq).toBe(3);
    expect(o.records).toBe(4);
    expect([...o.batches()].map((b) => b.firstSeq)).toEqual([1, 5]);
    expect(o.takeToSend()?.firstSeq).toBe(1);
    expect(o.dropOldestUnsent()?.firstSeq).toBe(5);
    expect(o.dropOldestUnsent()).toBeUndefined();
  });

  it('refuses a batch overlapping the held seqs; gaps are fine', () => {
    const o = new Outbox({ maxBatches: 1, maxBytes: 1 });
    o.push(batch(1, 3));
    expect(() => o.push(batch(3, 1))).toThrow(RangeError);
    o.push(batch(10, 1));
    expect(o.endSeq).toBe(11);
  });

  it('stays compact over many batches', () => {
    const o = new Outbox({ maxBatches: 64, maxBytes: 1 << 30 });
    let seq = 1;
    let acked = 0;
    for (let round = 0; round < 100; round++) {
      for (let i = 0; i < 50; i++) {
        o.push(batch(seq, 3));
        seq += 3;
      }
      while (o.takeToSend());
      acked += o.ack(seq - 1 - 30);
    }
    expect(acked + o.records).toBe(seq - 1);
    expect(o.records).toBe(30);
  });
});
