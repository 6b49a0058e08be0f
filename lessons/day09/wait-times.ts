/**
 * Per-record wait times: from entering the open batch to the ACK that covers it, in an HDR histogram
 * (the shipper engine's done line `waitMs`; day 11's UDP lane and day 14 use it too).
 */
import hdr, { type Histogram } from 'hdr-histogram-js';

/** An empty histogram of waits in µs: 1 µs to 1 h, 3 significant digits (day 14's loadgen keeps its lateness in one too). */
export function waitHistogram(): Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
  });
}

/**
 * Records enter in runs (a chunk of the source arrives at one instant), so the tracker keeps one
 * (first seq, count, time) entry per run, not per record, and an ACK records each run's wait with its
 * count in an HDR histogram (microseconds, 3 significant digits).
 */
export class WaitTimes {
  readonly histogram = waitHistogram();
  /** flat runs [firstSeq, count, t, firstSeq, count, t, …] from `head` on, in seq order */
  private runs: number[] = [];
  private head = 0;

  /** `count` records from `firstSeq` entered at time `t` (ms, performance.now) */
  enter(firstSeq: number, count: number, t: number): void {
    if (count <= 0) return;
    const r = this.runs;
    const n = r.length;
    if (n > this.head && r[n - 1] === t && r[n - 3]! + r[n - 2]! === firstSeq) {
      r[n - 2]! += count;
      return;
    }
    r.push(firstSeq, count, t);
  }

  /** Everything up to `seq` is ACKed at time `now`. */
  acked(seq: number, now: number): void {
    const r = this.runs;
    while (this.head < r.length) {
      const first = r[this.head]!;
      const count = r[this.head + 1]!;
      if (first > seq) break;
      const waitUs = Math.max(1, Math.round((now - r[this.head + 2]!) * 1000));
      const covered = Math.min(count, seq - first + 1);
      this.histogram.recordValueWithCount(waitUs, covered);
      if (covered < count) {
        r[this.head] = first + covered;
        r[this.head + 1] = count - covered;
        break;
      }
      this.head += 3;
    }
    if (this.head === r.length) {
      this.runs = [];
      this.head = 0;
    } else if (this.head > 3000 && this.head * 2 > r.length) {
      this.runs = r.slice(this.head);
      this.head = 0;
    }
  }

  /** Records [from, to) will never be ACKed (dropped): forget them. */
  discard(from: number, to: number): void {
    const out: number[] = [];
    const r = this.runs;
    for (let i = this.head; i < r.length; i += 3) {
      const first = r[i]!;
      const end = first + r[i + 1]!;
      const t = r[i + 2]!;
      if (end <= from || first >= to) out.push(first, end - first, t);
      else {
        if (first < from) out.push(first, from - first, t);
        if (end > to) out.push(to, end - to, t);
      }
    }
    this.runs = out;
    this.head = 0;
  }

  /** {p50, p99, max} in ms (3 decimals) and the number of records measured */
  summary(): { p50: number; p99: number; max: number; n: number } {
    const h = this.histogram;
    const ms = (us: number) => Math.round(us) / 1000;
    if (h.totalCount === 0) return { p50: 0, p99: 0, max: 0, n: 0 };
    const max = h.maxValue; // (percentiles are reported as the top of their bucket: never above the max)
    return {
      p50: ms(Math.min(max, h.getValueAtPercentile(50))),
      p99: ms(Math.min(max, h.getValueAtPercentile(99))),
      max: ms(max),
      n: h.totalCount,
    };
  }
}
