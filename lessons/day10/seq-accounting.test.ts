import { describe, expect, it } from 'vitest';
import { ReceiverStats } from '../../shared/stats.ts';
import { SeqAccounting } from './seq-accounting.ts';

function make(window = 1000, maxStreams = 10) {
  const stats = new ReceiverStats('day10', 'lsp1-udp');
  return { stats, acc: new SeqAccounting(stats, window, maxStreams) };
}

/** Persisted seqs of one account() call. */
function kept(mask: Uint8Array | null | false, seq: number, count: number): number[] {
  if (mask === false) return [];
  const out: number[] = [];
  for (let i = 0; i < count; i++) if (mask === null || mask[i] === 1) out.push(seq + i);
  return out;
}

describe('SeqAccounting', () => {
  it('in order: everything is new, no allocation (null mask)', () => {
    const { stats, acc } = make();
    expect(acc.account(7, 1, 3)).toBeNull();
    expect(acc.account(7, 4, 2)).toBeNull();
    expect(stats.streams['7']).toEqual({ hwm: 5, received: 5, gaps: 0, duplicates: 0, reordered: 0 });
  });

  it('a skipped range is a gap; a late arrival fills it (reordered) and is persisted', () => {
    const { stats, acc } = make();
    acc.account(1, 1, 2);
    expect(acc.account(1, 6, 2)).toBeNull(); // 3, 4, 5 missing
    expect(stats.streams['1']).toMatchObject({ hwm: 7, gaps: 3, reordered: 0 });
    expect(kept(acc.account(1, 4, 1), 4, 1)).toEqual([4]);
    expect(stats.streams['1']).toEqual({ hwm: 7, received: 5, gaps: 2, duplicates: 0, reordered: 1 });
  });

  it('a seq seen before is a duplicate: counted, not persisted', () => {
    const { stats, acc } = make();
    acc.account(1, 1, 5);
    expect(kept(acc.account(1, 2, 2), 2, 2)).toEqual([]);
    expect(stats.streams['1']).toMatchObject({ duplicates: 2, received: 5 });
    expect(stats.records.duplicates).toBe(2);
  });

  it('a datagram straddling hwm: its old part is checked per record, its new part accepted', () => {
    const { stats, acc } = make();
    acc.account(1, 1, 3);
    acc.account(1, 6, 1); // gap 4, 5
    // 3 dup, 4 fills, 5 fills, 6 dup, 7 and 8 new
    expect(kept(acc.account(1, 3, 6), 3, 6)).toEqual([4, 5, 7, 8]);
    expect(stats.streams['1']).toEqual({ hwm: 8, received: 8, gaps: 0, duplicates: 2, reordered: 2 });
  });

  it('a gap opened by the first datagram counts the seqs before it', () => {
    const { stats, acc } = make();
    acc.account(1, 4, 1);
    expect(stats.streams['1']).toMatchObject({ hwm: 4, gaps: 3 });
  });

  it('streams are independent', () => {
    const { stats, acc } = make();
    acc.account(1, 1, 1);
    acc.account(2, 3, 1);
    expect(stats.streams['1']!.gaps).toBe(0);
    expect(stats.streams['2']!.gaps).toBe(2);
    expect(acc.totalGaps()).toBe(2);
  });

  it('the window is bounded: a gap older than it stays lost; a record that old is dropped as tooOld', () => {
    const { stats, acc } = make(10);
    acc.account(1, 1, 1);
    acc.account(1, 1_000_000, 1); // a gap of 999,998 seqs: only the newest 10 are remembered
    expect(stats.streams['1']!.gaps).toBe(999_998);
    expect(kept(acc.account(1, 5, 1), 5, 1)).toEqual([]);
    expect(acc.tooOld).toBe(1);
    expect(kept(acc.account(1, 999_995, 1), 999_995, 1)).toEqual([999_995]);
    expect(stats.streams['1']).toMatchObject({ gaps: 999_997, reordered: 1, duplicates: 0 });
    // Moving on expires what falls out of the window.
    acc.account(1, 1_000_020, 1);
    expect(kept(acc.account(1, 999_999, 1), 999_999, 1)).toEqual([]);
    expect(acc.tooOld).toBe(2);
  });

  it('refuses streams past maxStreams', () => {
    const { acc } = make(10, 2);
    acc.account(1, 1, 1);
    acc.account(2, 1, 1);
    expect(acc.account(3, 1, 1)).toBe(false);
    expect(acc.streamsRefused).toBe(1);
    expect(acc.account(1, 2, 1)).toBeNull();
  });

  it('matches a brute-force model on seeded random traffic: gaps = seqs below hwm never persisted', () => {
    let x = 12345;
    const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const { stats, acc } = make(100_000);
    const persisted = new Set<number>();
    let hwm = 0;
    for (let i = 0; i < 5000; i++) {
      const seq = 1 + Math.floor(rnd() * 3000);
      const count = 1 + Math.floor(rnd() * 5);
      for (const q of kept(acc.account(9, seq, count), seq, count)) {
        expect(persisted.has(q)).toBe(false);
        persisted.add(q);
      }
      hwm = Math.max(hwm, seq + count - 1);
      const s = stats.streams['9']!;
      if (i % 250 === 0) expect(s.gaps).toBe(hwm - persisted.size);
    }
    const s = stats.streams['9']!;
    expect(s.hwm).toBe(hwm);
    expect(s.gaps).toBe(hwm - persisted.size);
    expect(s.received).toBe(persisted.size);
  });

  it('a mark restored after a restart: the stream continues from it, no false gap; at or below it is unknown (tooOld)', () => {
    const { stats, acc } = make(1000, 1);
    acc.restore(4, 5000); // persisted up to 5000 before the restart
    acc.restore(8, 20); // a second restored stream costs no --max-streams slot until it sends
    expect(acc.restoredPending).toBe(2);
    expect(acc.account(4, 5001, 3)).toBeNull();
    expect(stats.streams['4']).toEqual({ hwm: 5003, received: 3, gaps: 0, duplicates: 0, reordered: 0 });
    // sent while the receiver was down: a real gap, exactly that long
    expect(acc.account(4, 5101, 1)).toBeNull();
    expect(stats.streams['4']).toMatchObject({ hwm: 5101, gaps: 97 });
    // at or below the restored mark: a copy or a late fill, nobody can tell: dropped as tooOld, not a duplicate
    expect(kept(acc.account(4, 4999, 3), 4999, 3)).toEqual([]);
    expect(acc.tooOld).toBe(2);
    expect(stats.streams['4']).toMatchObject({ duplicates: 1, gaps: 97 }); // 5001 is this run's own copy
    // a gap of this run below the mark is still filled
    expect(kept(acc.account(4, 5050, 1), 5050, 1)).toEqual([5050]);
    expect(stats.streams['4']).toMatchObject({ gaps: 96, reordered: 1 });
    expect(acc.restoredPending).toBe(1);
    expect(acc.account(8, 21, 1)).toBe(false); // --max-streams 1: stream 4 holds the slot
  });

  it('restore after the stream was seen (or a 0 mark) changes nothing', () => {
    const { stats, acc } = make();
    acc.account(3, 1, 10);
    acc.restore(3, 500);
    acc.restore(5, 0);
    expect(acc.restoredPending).toBe(0);
    expect(acc.account(3, 11, 1)).toBeNull();
    expect(stats.streams['3']).toMatchObject({ hwm: 11, gaps: 0 });
  });
});
