/**
 * The chaos suite's verdict (issue 10): what a receiver persisted, read back from its data dir (every
 * records file, rotated .gz/.zst included, through shared/storage/read-records.ts), checked seq by seq
 * against what the shipper was given — the rsyslog testbench's rule, with a budget of zero on acked lanes.
 *
 * Each chaos input record carries its own number first (`{"i":K,…}`) and a fresh stream numbers the K-th
 * line of a followed file with seq K, so a persisted line must have `_rx.seq === i`: a record re-read at
 * the wrong seq (a shipper that resumed from the wrong place) shows up as `mismatched`, not as luck.
 */
import { readRecordLines } from '../../shared/storage/read-records.ts';

export interface SeqVerdict {
  /** seqs expected: 1..expected */
  expected: number;
  /** lines read back */
  lines: number;
  /** distinct seqs in 1..expected persisted */
  unique: number;
  /** seqs in 1..expected never persisted */
  lost: number;
  /** lines whose seq was already persisted */
  duplicated: number;
  /** lines whose seq is below one persisted before it (file order) */
  reordered: number;
  /** lines whose record number (`i`) is not their seq (only when records carry `i`) */
  mismatched: number;
  /** lines with a seq outside 1..expected, another stream, or no `_rx.seq` */
  unexpected: number;
  /** streams seen */
  streams: number[];
  /** up to 10 lost seqs, for the report */
  lostSample: number[];
  /** up to 10 duplicated seqs */
  duplicatedSample: number[];
}

/** The number after `"key":` searched backwards from the end of the line (where `_rx` sits), or -1. */
function lastNumber(line: string, key: string): number {
  const at = line.lastIndexOf(key);
  if (at < 0) return -1;
  let n = 0;
  let any = false;
  for (let p = at + key.length; p < line.length; p++) {
    const c = line.charCodeAt(p) - 48;
    if (c < 0 || c > 9) break;
    n = n * 10 + c;
    any = true;
  }
  return any ? n : -1;
}

/** `{"i":K,…` → K, or -1 */
function recordNumber(line: string): number {
  if (!line.startsWith('{"i":')) return -1;
  let n = 0;
  for (let p = 5; p < line.length; p++) {
    const c = line.charCodeAt(p) - 48;
    if (c < 0 || c > 9) return p > 5 ? n : -1;
    n = n * 10 + c;
  }
  return -1;
}

/**
 * Checks one stream's seqs 1..expected in what `dataDir` holds. `stream` (when given) must be the only
 * stream; `numbered`: records carry `i` and it must equal the seq.
 */
export async function verifySeqs(
  dataDir: string,
  expected: number,
  opts: { stream?: number; numbered?: boolean } = {},
): Promise<SeqVerdict> {
  const seen = new Uint8Array(expected + 1);
  const streams = new Set<number>();
  const v: SeqVerdict = {
    expected,
    lines: 0,
    unique: 0,
    lost: 0,
    duplicated: 0,
    reordered: 0,
    mismatched: 0,
    unexpected: 0,
    streams: [],
    lostSample: [],
    duplicatedSample: [],
  };
  let maxSeq = 0;
  for await (const line of readRecordLines(dataDir)) {
    v.lines++;
    const seq = lastNumber(line, '"seq":');
    const stream = lastNumber(line, '"stream":');
    streams.add(stream);
    if (seq < 1 || seq > expected || (opts.stream !== undefined && stream !== opts.stream)) {
      v.unexpected++;
      continue;
    }
    if (seen[seq]) {
      v.duplicated++;
      if (v.duplicatedSample.length < 10) v.duplicatedSample.push(seq);
    } else {
      seen[seq] = 1;
      v.unique++;
    }
    if (seq < maxSeq) v.reordered++;
    else maxSeq = seq;
    if (opts.numbered && recordNumber(line) !== seq) v.mismatched++;
  }
  for (let s = 1; s <= expected; s++) {
    if (seen[s]) continue;
    v.lost++;
    if (v.lostSample.length < 10) v.lostSample.push(s);
  }
  v.streams = [...streams].sort((a, b) => a - b);
  return v;
}
