/**
 * A shipper's overflow spool (day 09, [d09.6]): when the in-memory bound is reached (the receiver is down
 * or slow), records go to disk instead of being dropped or stopping the source, and come back in seq
 * order once there is room again. Bounded by --spool-bytes; only when it is full does the overflow
 * policy (block / drop-newest / drop-oldest) apply.
 *
 * Layout: segment files `spool-NNNNNN.ndjson` under the spool dir, each a run of entries; an entry is a
 * run of records with consecutive seqs, stored as NDJSON. The index (segment, offset, length, first seq,
 * count) stays in memory: a spool is the backlog of ONE shipper process and is not resumed after a
 * restart (the shipper's state dir is what resumes a followed file), so it is cleared at open.
 *
 * I/O is synchronous on purpose: an entry is one write of at most a few MiB to the page cache, the reads
 * happen one entry at a time, and keeping them in call order is what keeps the seqs in order.
 */
import { closeSync, mkdirSync, openSync, readdirSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { lockDir } from '../../shared/dir-lock.ts';

const SEGMENT_FILE = /^spool-\d{6,}\.ndjson$/;

interface Entry {
  segment: number;
  offset: number;
  length: number;
  firstSeq: number;
  count: number;
}

export interface SpoolOptions {
  dir: string;
  /** most bytes held on disk */
  maxBytes: number;
  /** start a new segment file past this size (so read-back space is given back); default 64 MiB */
  segmentBytes?: number;
}

export interface SpoolCounters {
  /** records written to the spool, ever */
  spooled: number;
  /** records read back */
  restored: number;
  /** most bytes held at once */
  peakBytes: number;
}

export class Spool {
  /** bytes held */
  bytes = 0;
  /** records held */
  records = 0;
  readonly counters: SpoolCounters = { spooled: 0, restored: 0, peakBytes: 0 };
  private readonly entries: Entry[] = [];
  private entryHead = 0;
  private writeSegment = 0;
  private writeFd = -1;
  private writeOffset = 0;
  private readSegment = 0;
  private readFd = -1;
  private readonly segmentBytes: number;
  private readonly release: () => void;

  /** Throws DirLockedError when another live process spools in `dir`. */
  constructor(private readonly opts: SpoolOptions) {
    this.segmentBytes = opts.segmentBytes ?? 64 << 20;
    mkdirSync(opts.dir, { recursive: true });
    this.release = lockDir(opts.dir, 'spool');
    // Not resumable (see above): whatever an earlier process left is stale.
    for (const name of readdirSync(opts.dir)) if (SEGMENT_FILE.test(name)) unlinkSync(join(opts.dir, name));
  }

  get isEmpty(): boolean {
    return this.records === 0;
  }

  /** records the next entry holds (what shift() would return), or 0 when empty */
  get nextCount(): number {
    return this.entries[this.entryHead]?.count ?? 0;
  }

  /**
   * Spools records[from, to) whose first seq is `firstSeq` (consecutive seqs). Takes as many as fit under
   * maxBytes, in order, and returns how many it took (0 when full).
   */
  append(firstSeq: number, records: readonly string[], from = 0, to = records.length): number {
    if (to <= from) return 0;
    const room = this.opts.maxBytes - this.bytes;
    if (room <= 0) return 0;
    let text = records.slice(from, to).join('\n') + '\n';
    let length = Buffer.byteLength(text);
    let end = to;
    if (length > room) {
      // Only part fits: count how many whole records do.
      let used = 0;
      end = from;
      while (end < to) {
        const n = Buffer.byteLength(records[end]!) + 1;
        if (used + n > room) break;
        used += n;
        end++;
      }
      if (end === from) return 0;
      text = records.slice(from, end).join('\n') + '\n';
      length = used;
    }
    if (this.writeFd === -1 || this.writeOffset >= this.segmentBytes) this.nextWriteSegment();
    const buf = Buffer.from(text, 'utf8');
    let off = 0;
    while (off < buf.length) off += writeSync(this.writeFd, buf, off, buf.length - off, this.writeOffset + off);
    this.entries.push({ segment: this.writeSegment, offset: this.writeOffset, length, firstSeq, count: end - from });
    this.writeOffset += length;
    this.bytes += length;
    this.records += end - from;
    this.counters.spooled += end - from;
    if (this.bytes > this.counters.peakBytes) this.counters.peakBytes = this.bytes;
    return end - from;
  }

  /** The oldest entry, removed: its first seq and records (consecutive seqs). */
  shift(): { firstSeq: number; records: string[] } | undefined {
    const e = this.entries[this.entryHead];
    if (e === undefined) return undefined;
    this.entries[this.entryHead] = undefined as unknown as Entry;
    this.entryHead++;
    if (this.entryHead > 1024 && this.entryHead * 2 > this.entries.length) {
      this.entries.splice(0, this.entryHead);
      this.entryHead = 0;
    }
    if (this.readFd === -1 || this.readSegment !== e.segment) this.openReadSegment(e.segment);
    const buf = Buffer.allocUnsafe(e.length);
    let off = 0;
    while (off < e.length) {
      const n = readSync(this.readFd, buf, off, e.length - off, e.offset + off);
      if (n === 0) throw new Error(`spool segment ${e.segment} is shorter than its index says`);
      off += n;
    }
    const records = buf.toString('utf8', 0, e.length - 1).split('\n');
    this.bytes -= e.length;
    this.records -= e.count;
    this.counters.restored += e.count;
    // A segment read to its end (and no longer written) gives its space back.
    const next = this.entries[this.entryHead];
    if ((next === undefined || next.segment !== e.segment) && e.segment !== this.writeSegment) this.dropReadSegment();
    if (this.isEmpty && this.writeFd !== -1) {
      // Empty: start over in a fresh segment so the old one can go.
      this.dropReadSegment();
      closeSync(this.writeFd);
      unlinkSync(this.segmentPath(this.writeSegment));
      this.writeFd = -1;
    }
    return { firstSeq: e.firstSeq, records };
  }

  /** Closes and deletes the segment files. */
  close(): void {
    if (this.readFd !== -1 && this.readFd !== this.writeFd) closeSync(this.readFd);
    if (this.writeFd !== -1) closeSync(this.writeFd);
    this.readFd = this.writeFd = -1;
    for (const name of readdirSync(this.opts.dir)) if (SEGMENT_FILE.test(name)) unlinkSync(join(this.opts.dir, name));
    this.release();
  }

  private segmentPath(n: number): string {
    return join(this.opts.dir, `spool-${String(n).padStart(6, '0')}.ndjson`);
  }

  private nextWriteSegment(): void {
    if (this.writeFd !== -1 && this.writeFd !== this.readFd) closeSync(this.writeFd);
    this.writeSegment++;
    this.writeFd = openSync(this.segmentPath(this.writeSegment), 'w+');
    this.writeOffset = 0;
  }

  private openReadSegment(n: number): void {
    this.dropReadSegment();
    this.readSegment = n;
    this.readFd = n === this.writeSegment && this.writeFd !== -1 ? this.writeFd : openSync(this.segmentPath(n), 'r');
  }

  /** Closes the segment being read and deletes it, unless it is still the one written. */
  private dropReadSegment(): void {
    if (this.readFd === -1) return;
    if (this.readFd !== this.writeFd) {
      closeSync(this.readFd);
      unlinkSync(this.segmentPath(this.readSegment));
    }
    this.readFd = -1;
  }
}
