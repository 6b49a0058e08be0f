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

/** What an acknowledged lane's verdict means for the lane: one failure line per kind of wrong (none: it passed). */
export function seqFailures(v: SeqVerdict): string[] {
  const failures: string[] = [];
  if (v.lost) failures.push(`${v.lost} records lost (first: ${v.lostSample.join(', ')})`);
  if (v.duplicated) failures.push(`${v.duplicated} records duplicated (first: ${v.duplicatedSample.join(', ')})`);
  if (v.reordered) failures.push(`${v.reordered} records out of order`);
  if (v.mismatched) failures.push(`${v.mismatched} records persisted under another record's seq`);
  if (v.unexpected) failures.push(`${v.unexpected} lines with an unexpected seq or stream`);
  return failures;
}

export interface NumberedVerdict {
  expected: number;
  lines: number;
  unique: number;
  lost: number;
  duplicated: number;
  /** lines without a record number in 1..expected */
  unexpected: number;
  /** every lost record number, ascending (the no-ACK lanes attribute each one to a cause) */
  lostNumbers: number[];
  duplicatedSample: number[];
}

/** `"msg":"chaos record K"` → K, or -1 (the chaos records' msg survives every transport, syslog included) */
export function chaosRecordNumber(line: string): number {
  const key = '"msg":"chaos record ';
  const at = line.indexOf(key);
  if (at < 0) return -1;
  let n = 0;
  let p = at + key.length;
  for (; p < line.length; p++) {
    const c = line.charCodeAt(p) - 48;
    if (c < 0 || c > 9) break;
    n = n * 10 + c;
  }
  return p > at + key.length && line.charCodeAt(p) === 34 ? n : -1;
}

/**
 * The no-ACK lanes (day 08, syslog): which of records 1..expected the data dir holds, by the number each
 * record carries in its msg (these transports have no seqs of their own). Every lost number is returned
 * so the caller can attribute it to a cause.
 */
export async function verifyNumbered(dataDir: string, expected: number): Promise<NumberedVerdict> {
  const seen = new Uint8Array(expected + 1);
  const v: NumberedVerdict = {
    expected,
    lines: 0,
    unique: 0,
    lost: 0,
    duplicated: 0,
    unexpected: 0,
    lostNumbers: [],
    duplicatedSample: [],
  };
  for await (const line of readRecordLines(dataDir)) {
    v.lines++;
    const k = chaosRecordNumber(line);
    if (k < 1 || k > expected) {
      v.unexpected++;
      continue;
    }
    if (seen[k]) {
      v.duplicated++;
      if (v.duplicatedSample.length < 10) v.duplicatedSample.push(k);
    } else {
      seen[k] = 1;
      v.unique++;
    }
  }
  for (let k = 1; k <= expected; k++) if (!seen[k]) v.lostNumbers.push(k);
  v.lost = v.lostNumbers.length;
  return v;
}

export interface StreamHoldings {
  /** distinct seqs held */
  unique: number;
  /** highest seq held */
  max: number;
  /** seqs in 1..max not held (a hole: a later record stored, an earlier one not) */
  holes: number;
  duplicated: number;
  reordered: number;
  /** lines whose attrs.id is not `<prefix>-<seq>` (when a prefix is given) */
  mismatched: number;
  /** distinct seqs held in 1..upTo (for "every ACKed record is stored") */
  heldUpTo(upTo: number): number;
}

/**
 * Day 14's segments: per stream, which seqs the data dir holds (every line's `_rx.stream` / `_rx.seq`),
 * holes, duplicates, and whether record n of a segment (attrs.id `<prefix>-n`) was stored under seq n.
 */
export async function verifyStreams(
  dataDir: string,
  prefixOf: (stream: number) => string | undefined,
): Promise<{ lines: number; unexpected: number; streams: Map<number, StreamHoldings> }> {
  const seen = new Map<number, { bits: Uint8Array; max: number; dup: number; reord: number; mism: number }>();
  let lines = 0;
  let unexpected = 0;
  for await (const line of readRecordLines(dataDir)) {
    lines++;
    const seq = lastNumber(line, '"seq":');
    const stream = lastNumber(line, '"stream":');
    const prefix = prefixOf(stream);
    if (seq < 1 || prefix === undefined) {
      unexpected++;
      continue;
    }
    let s = seen.get(stream);
    if (!s) seen.set(stream, (s = { bits: new Uint8Array(1024), max: 0, dup: 0, reord: 0, mism: 0 }));
    if (seq >= s.bits.length) {
      const bigger = new Uint8Array(Math.max(seq + 1, s.bits.length * 2));
      bigger.set(s.bits);
      s.bits = bigger;
    }
    if (s.bits[seq]) s.dup++;
    else s.bits[seq] = 1;
    if (seq < s.max) s.reord++;
    else s.max = seq;
    if (prefix && !line.includes(`"id":"${prefix}-${seq}"`)) s.mism++;
  }
  const streams = new Map<number, StreamHoldings>();
  for (const [stream, s] of seen) {
    let unique = 0;
    for (let q = 1; q <= s.max; q++) unique += s.bits[q]!;
    const bits = s.bits;
    streams.set(stream, {
      unique,
      max: s.max,
      holes: s.max - unique,
      duplicated: s.dup,
      reordered: s.reord,
      mismatched: s.mism,
      heldUpTo: (upTo) => {
        let n = 0;
        for (let q = 1; q <= Math.min(upTo, bits.length - 1); q++) n += bits[q]!;
        return n;
      },
    });
  }
  return { lines, unexpected, streams };
}
