/**
 * Day 14 — delivery verified from the receiver's files, not from "no errors".
 *
 * An ACK is only as good as the receiver that sends it: this lesson's receiver, told to drop when its
 * queue is full, still ACKs past what it dropped (receiver.ts). So after the run the loadgen reads the
 * receiver's `--data-dir` (every `*.ndjson[.gz|.zst]` file, shared/storage/read-records.ts) and counts
 * THIS run's records in it [d14.3]:
 *
 *   - by id: record n carries `attrs.id` = `<idPrefix>-<n>` (syslog lanes: `id="<idPrefix>-<n>"` in its
 *     structured data). Each id 1..N is found once (persisted), more than once (duplicated: the surplus
 *     counts), or never (lost = sent − persisted);
 *   - per stream (LSP/UDP lanes): the receiver stamps each record `_rx.stream` and `_rx.seq`. The same
 *     classification by (stream, seq), seq counted from the stream's `seqBase` (wire seq = base + 1, 2, …);
 *   - only this run's: a line on a stream this run did not use is an earlier run's (same seed, same ids,
 *     same data dir): it counts for nothing. On lanes without streams (ndjson, syslog) there is no way
 *     to tell, and an earlier run with the same ids shows up as duplicates (use a fresh dir or --id-prefix).
 *
 * A line that is not this run's record (another prefix, an id out of range) is skipped, never an error:
 * the data dir is shared with whoever else shipped to that receiver.
 */
import { readRecordLines } from '../../shared/storage/read-records.ts';

/** One LSP/UDP connection of the run: its stream id, records it sent, and its seq base. */
export interface RunStream {
  stream: number;
  sent: number;
  /** wire seq of the stream's record k (1-based) = seqBase + k */
  seqBase: number;
}

/** What the run produced: ids `<idPrefix>-1` … `<idPrefix>-<ids>`, `sent` of them handed to the kernel. */
export interface RunToVerify {
  idPrefix: string;
  /** records generated (their ids are 1..ids; dropped ones included) */
  ids: number;
  sent: number;
  /** empty on lanes without streams (ndjson, syslog) */
  streams: readonly RunStream[];
}

export interface Tally {
  /** distinct records found */
  persisted: number;
  /** sent − persisted */
  lost: number;
  /** finds beyond the first: a record found 3 times counts 2 */
  duplicated: number;
}

export interface Verified extends Tally {
  /** by stream id: the same classification by (stream, seq) */
  perStream: Map<number, Tally>;
  /** how long the count took */
  ms: number;
}

/**
 * Counts this run's records in `dir`. `undefined` means "not counted" (the report then says
 * `verified: false`, persisted/lost/duplicated null).
 */
export async function countPersisted(dir: string, run: RunToVerify): Promise<Verified | undefined> {
  // @solution [d14.2, d14.3] verification: read every line in the data dir; for this run's records (id prefix, and on LSP/UDP lanes only this run's streams) count how often each id, and each (stream, seq), was found; then persisted / lost / duplicated, in total and per stream
  // @stub void dir;
  // @stub void run;
  // @stub void readRecordLines;
  // @stub return undefined; // not counted: the report says verified false, persisted/lost/duplicated null
  const t0 = performance.now();
  /** how often each id 1..N was found (255 is plenty: it only has to tell 0, 1 and more) */
  const seen = new Uint8Array(run.ids + 1);
  /** per stream: how often each local seq 1..sent was found */
  const streams = new Map<number, { sent: number; base: number; seen: Uint8Array }>();
  for (const s of run.streams)
    streams.set(s.stream, { sent: s.sent, base: s.seqBase, seen: new Uint8Array(s.sent + 1) });
  // Records are bytes the loadgen wrote itself (records.ts): find the id by its key instead of parsing
  // every line as JSON (millions of lines; JSON.parse would dominate the count).
  const idKey = `"id":"${run.idPrefix}-`;
  const sdKey = `id="${run.idPrefix}-`;
  let finds = 0;
  for await (const line of readRecordLines(dir)) {
    let at = line.indexOf(idKey);
    let from = at + idKey.length;
    if (at < 0) {
      at = line.indexOf(sdKey);
      from = at + sdKey.length;
      if (at < 0) continue;
    }
    const id = parseInt(line.slice(from, from + 12), 10);
    if (!(id >= 1 && id <= run.ids)) continue;
    // LSP/UDP lanes: `_rx` ends the line: {…,"stream":S,"seq":Q}. A stream that is not ours: not this run's.
    const s = streams.size > 0 ? line.lastIndexOf('"stream":') : -1;
    if (s > 0) {
      const m = /^"stream":(\d+),"seq":(\d+)/.exec(line.slice(s, s + 48));
      const st = m ? streams.get(Number(m[1])) : undefined;
      if (!st) continue;
      const local = Number(m![2]) - st.base;
      if (local >= 1 && local <= st.sent && st.seen[local]! < 255) st.seen[local]!++;
    }
    finds++;
    if (seen[id]! < 255) seen[id]!++;
  }
  let persisted = 0;
  for (let i = 1; i < seen.length; i++) if (seen[i]! > 0) persisted++;
  const perStream = new Map<number, Tally>();
  for (const [stream, st] of streams) {
    let distinct = 0;
    let all = 0;
    for (let i = 1; i < st.seen.length; i++) {
      if (st.seen[i]! > 0) distinct++;
      all += st.seen[i]!;
    }
    perStream.set(stream, { persisted: distinct, lost: st.sent - distinct, duplicated: all - distinct });
  }
  return {
    persisted,
    lost: Math.max(0, run.sent - persisted),
    duplicated: finds - persisted,
    perStream,
    ms: Math.round(performance.now() - t0),
  };
  // @end-solution
}

/**
 * Counts again until the receiver has persisted everything that was sent, the count stops moving for a
 * second (it may still be flushing), or `timeoutMs` is up. `stopped()`: count once and return.
 */
export async function verify(
  dir: string,
  run: RunToVerify,
  opts: { timeoutMs: number; stopped?: () => boolean },
): Promise<Verified | undefined> {
  const deadline = performance.now() + (opts.stopped?.() ? 0 : opts.timeoutMs);
  let last = await countPersisted(dir, run);
  let stableSince = performance.now();
  while (last && last.persisted < run.sent && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    const next = await countPersisted(dir, run);
    if (!next) return next;
    if (next.persisted !== last.persisted) stableSince = performance.now();
    else if (performance.now() - stableSince >= 1000) return next;
    last = next;
  }
  return last;
}
