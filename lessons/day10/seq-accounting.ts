/**
 * Day 10 — sequence accounting: how a UDP receiver turns (stream, seq) into "what did I miss?".
 *
 * UDP may lose a datagram, deliver it twice, or deliver it late. Every record carries its stream and seq
 * (shared/protocol/README.md §3: record i of a BATCH has seq + i), so per stream we keep the highest seq seen (`hwm`) and a
 * bounded window of the seqs below it that never came (`missing`). For each record, with seq q:
 *
 *   q >  hwm + 1   the seqs in between are a GAP: gaps += q - hwm - 1, they go into `missing`; hwm = q   [d10.3]
 *   q == hwm + 1   in order; hwm = q
 *   q <= hwm and q is in `missing`    it was counted as lost but came late: REORDERED.
 *                                     gaps--, reordered++, and it is persisted                       [d10.3]
 *   q <= hwm otherwise                a DUPLICATE: counted, not persisted again                        [d10.3]
 *
 * So at any moment `gaps` = the seqs below hwm that were never persisted: exactly what the files lack
 * (d10.4 checks this against the files under overload).
 *
 * The window is bounded (`window` seqs below hwm): a gap older than that stops being tracked — it stays
 * counted as lost — and a record that old is dropped and counted as `tooOld`: we can no longer tell a
 * very late record from a copy, and dropping it keeps `gaps` equal to what the files lack. Without the
 * bound, one datagram claiming seq 10^12 would make us remember a trillion missing seqs.
 *
 * Across a restart (issue 18.5): the receiver reads each stream's last persisted seq back from its files
 * (`restore`), so a shipper that kept sending shows only what was really lost — the seqs sent while the
 * receiver was down, and what it held unwritten when it died — not one large false gap from seq 1. What
 * the window knew before the restart (which seqs below the mark were missing) is gone: a record at or
 * below the restored mark may be a copy or a late fill, nobody can tell, so it is dropped and counted as
 * `tooOld` (unknown after restart), exactly like a record below the window.
 */
import type { ReceiverStats, StreamStats } from '../../shared/stats.ts';

export interface StreamState {
  /** the stream's counters in stats.json (hwm, received, gaps, duplicates, reordered) */
  readonly stats: StreamStats;
  /**
   * Seqs below hwm counted as gaps, within the window. Gaps are only ever added above the old hwm, so
   * the Set's insertion order is ascending: expiring the oldest is a walk from its start.
   */
  readonly missing: Set<number>;
  /**
   * The lowest seq whose fate this run can know: 1 for a new stream, the restored mark + 1 after a
   * restart (below it: persisted before, or lost before — unknowable, counted as tooOld).
   */
  readonly knownFrom: number;
}

export class SeqAccounting {
  private readonly streams = new Map<number, StreamState>();
  /** marks read back from disk at start, taken when the stream is first seen again (restore) */
  private readonly restored = new Map<number, number>();
  /** records dropped because their seq was below the window (late or duplicate: unknowable) */
  tooOld = 0;
  /** datagrams refused because --max-streams streams were already known */
  streamsRefused = 0;

  constructor(
    private readonly stats: ReceiverStats,
    /** how far below the highest seq a missing seq is still remembered */
    readonly window: number,
    /** most streams tracked at once (each costs a Map entry and up to `window` missing seqs) */
    readonly maxStreams: number,
  ) {}

  get streamCount(): number {
    return this.streams.size;
  }

  /**
   * A stream's mark from before a restart: its highest seq persisted (read from the files). The stream
   * continues from there when it is next seen; costs no --max-streams slot until then.
   */
  restore(stream: number, hwm: number): void {
    if (hwm > 0 && !this.streams.has(stream)) this.restored.set(stream, hwm);
  }

  /** Streams restored at start and not seen since. */
  get restoredPending(): number {
    return this.restored.size;
  }

  /** Records lost so far, over all streams. */
  totalGaps(): number {
    let n = 0;
    for (const s of this.streams.values()) n += s.stats.gaps;
    return n;
  }

  /**
   * Accounts the records `seq … seq + count - 1` of `stream`. Returns null when every one of them is new
   * (the common case: nothing allocated), `false` when the stream cannot be tracked (over --max-streams:
   * nothing is accounted), or a mask with 1 for each record to persist.
   */
  account(stream: number, seq: number, count: number): Uint8Array | null | false {
    let st = this.streams.get(stream);
    if (!st) {
      if (this.streams.size >= this.maxStreams) {
        this.streamsRefused++;
        return false;
      }
      const mark = this.restored.get(stream) ?? 0;
      this.restored.delete(stream);
      st = { stats: this.stats.stream(stream), missing: new Set(), knownFrom: mark + 1 };
      if (mark > st.stats.hwm) st.stats.hwm = mark;
      this.streams.set(stream, st);
    }
    // @solution [d10.2, d10.3, d10.4] account each record of the datagram: new (above hwm, after a gap or not), a late fill (reordered), a duplicate, or too old; return which to persist
    // @stub return null;
    const s = st.stats;
    const last = seq + count - 1;

    // The common case first: in order or after a gap, the whole datagram is new.
    if (seq > s.hwm) {
      if (seq > s.hwm + 1) this.openGap(st, s.hwm + 1, seq - 1);
      s.hwm = last;
      s.received += count;
      this.expire(st);
      return null;
    }

    // Some seqs are at or below hwm: late fills, copies, or too old to tell.
    const keep = new Uint8Array(count);
    // below the window, or at or below a mark restored at start: too old to tell a late fill from a copy
    const floor = Math.max(s.hwm - this.window + 1, st.knownFrom);
    for (let i = 0; i < count; i++) {
      const q = seq + i;
      if (q > s.hwm) {
        // The rest of the datagram continues in order from hwm + 1.
        keep.fill(1, i);
        s.received += last - q + 1;
        s.hwm = last;
        break;
      }
      if (st.missing.delete(q)) {
        // It was counted lost; it only came late.
        s.gaps--;
        s.reordered++;
        s.received++;
        keep[i] = 1;
      } else if (q < floor) {
        this.tooOld++;
      } else {
        s.duplicates++;
        this.stats.records.duplicates++;
      }
    }
    this.expire(st);
    return keep;
    // @end-solution
  }

  /** Counts `from … to` as lost and remembers (the newest `window` of) them. */
  openGap(st: StreamState, from: number, to: number): void {
    // @solution [d10.3, d10.4] a gap: count the seqs from…to as lost and remember the newest `window` of them in st.missing
    st.stats.gaps += to - from + 1;
    for (let q = Math.max(from, to - this.window + 1); q <= to; q++) st.missing.add(q);
    // @end-solution
  }

  /**
   * Forgets missing seqs that fell out of the window (they stay counted as gaps). Given: call it after
   * hwm moved, so `missing` never holds more than `window` seqs.
   */
  expire(st: StreamState): void {
    if (st.missing.size === 0) return;
    const floor = st.stats.hwm - this.window + 1;
    for (const q of st.missing) {
      if (q >= floor) break;
      st.missing.delete(q);
    }
  }
}
