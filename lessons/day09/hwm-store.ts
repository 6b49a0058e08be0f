/**
 * Per-stream high-water marks for an LSP/1 receiver (shared/protocol/README.md §4), and how they survive a restart,
 * `kill -9` included.
 *
 * Two marks per stream:
 *   accepted  the highest seq we have dealt with: appended to the sink (maybe not durable yet), rejected,
 *             a duplicate, or skipped over as a gap. Dedup compares against this one, so a batch sent
 *             again while the first copy is still on its way to the disk is not written twice.
 *   durable   the highest seq S such that everything ≤ S is durable. This is what an ACK and the answer
 *             to a HELLO report: a shipper may forget a record only once it cannot be lost.
 *
 * Recovery reads the truth from disk, not from memory. Every persisted record ends in
 * `"_rx":{…,"stream":N,"seq":S}}` (RxWriter puts `_rx` last), and within one stream the records are
 * appended in seq order, so the HWM of a stream is the seq of its last line on disk. Scanning millions of
 * lines at every start would be slow, so a checkpoint `hwm-checkpoint.json` — per-stream marks plus the
 * file and offset they cover — is written about once a second, and a start scans only the lines after it.
 *
 * Why a checkpoint is always safe to use (it may be older than the data, never ahead of it):
 *   1. stat the active records file and rejects.ndjson: every byte before those offsets was appended
 *      before this moment;
 *   2. then snapshot the accepted marks: they cover every record before the offsets;
 *   3. wait until the sink has made everything appended so far durable: the marks are now on disk;
 *   4. write the checkpoint (temp file, fsync, rename).
 * Recovery = max(checkpoint mark, last seq in the lines after the offsets), per stream.
 *
 * A bound on the streams held in memory (issue 18.5, `maxStreams`; --max-streams): past it, the least
 * recently used IDLE streams are evicted — idle meaning no connection holds the stream (`acquire` on a
 * granted HELLO, `release` when that connection ends) and nothing of it is on its way to the disk
 * (accepted = durable). An evicted stream's mark goes to the shelf (lessons/day09/stream-shelf.ts), and
 * `acquire` reads it back before the stream's next HELLO is answered, so dedup never compares against a
 * forgotten mark. The checkpoint then holds only the streams in memory, which is safe because step 3
 * also waits until every mark shelved before step 2 is durable on the shelf: a restart finds an evicted
 * stream's mark there, or in the lines after the checkpoint if it wrote again since.
 */
import { zstdCodec } from '../../shared/protocol/codecs.ts';
import { createReadStream } from 'node:fs';
import { open, readdir, readFile, rename, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { sinkFaultPoint, type FileSink } from '../../shared/storage/file-sink.ts';
import type { ReceiverStats, StreamStats } from '../../shared/stats.ts';
import { readRxStreamSeq } from '../../shared/storage/rx.ts';
import { StreamShelf } from './stream-shelf.ts';

const LF = 0x0a;

export const CHECKPOINT_FILE = 'hwm-checkpoint.json';
const REJECTS_FILE = 'rejects.ndjson';
const RECORD_FILE = /^records-(\d{6,})\.ndjson(\.gz|\.zst)?$/;
const compressed = (name: string) => name.endsWith('.gz') || name.endsWith('.zst');

export interface StreamMarks {
  readonly id: number;
  /** highest seq appended, rejected, duplicated or skipped: what dedup compares against */
  accepted: number;
  /** highest seq with everything up to it durable: what ACK and HELLO report */
  durable: number;
  /** this stream's entry in stats.json (its `hwm` follows `durable`) */
  readonly stats: StreamStats;
}

interface CheckpointFile {
  version: 1;
  writtenAt: string;
  /** the active records file and its size when the marks were taken */
  records: { file: string; offset: number };
  rejects: { offset: number };
  streams: Record<string, number>;
}

export interface RecoveryReport {
  /** a checkpoint was found and used */
  fromCheckpoint: boolean;
  streams: number;
  /** bytes of records (and rejects) read after the checkpoint */
  scannedBytes: number;
  scannedLines: number;
  ms: number;
}

/** Chunks of a records file from `offset` (of the decompressed bytes, for a .gz or .zst). */
async function* fileChunks(path: string, offset: number): AsyncGenerator<Buffer> {
  if (compressed(path)) {
    let skip = offset;
    const inflate = path.endsWith('.gz') ? createGunzip() : zstdCodec.decompressStream();
    for await (const c of createReadStream(path).pipe(inflate)) {
      const chunk = c as Buffer;
      if (skip >= chunk.length) {
        skip -= chunk.length;
        continue;
      }
      yield skip > 0 ? chunk.subarray(skip) : chunk;
      skip = 0;
    }
    return;
  }
  yield* createReadStream(path, { start: offset, highWaterMark: 4 << 20 }) as AsyncIterable<Buffer>;
}

/** Calls `onLine(buf, start, end)` for every complete line; a partial last line is ignored. */
async function scanLines(
  path: string,
  offset: number,
  onLine: (buf: Buffer, start: number, end: number) => void,
): Promise<{ bytes: number; lines: number }> {
  let carry: Buffer | null = null;
  let bytes = 0;
  let lines = 0;
  for await (const chunk of fileChunks(path, offset)) {
    bytes += chunk.length;
    const buf = chunk;
    let pos = 0;
    if (carry) {
      const lf = chunk.indexOf(LF);
      if (lf === -1) {
        carry = Buffer.concat([carry, chunk]);
        continue;
      }
      const joined: Buffer = Buffer.concat([carry, chunk.subarray(0, lf)]);
      onLine(joined, 0, joined.length);
      lines++;
      carry = null;
      pos = lf + 1;
    }
    for (;;) {
      const lf = buf.indexOf(LF, pos);
      if (lf === -1) break;
      onLine(buf, pos, lf);
      lines++;
      pos = lf + 1;
    }
    if (pos < buf.length) carry = Buffer.from(buf.subarray(pos));
  }
  return { bytes, lines };
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}

async function readCheckpoint(dir: string): Promise<CheckpointFile | undefined> {
  try {
    const cp = JSON.parse(await readFile(join(dir, CHECKPOINT_FILE), 'utf8')) as CheckpointFile;
    if (cp.version !== 1 || typeof cp.records?.file !== 'string' || typeof cp.streams !== 'object') return undefined;
    return cp;
  } catch {
    return undefined;
  }
}

/**
 * The per-stream HWMs of a data dir, read from disk: the checkpoint's marks, raised by every line after
 * it (records files and rejects.ndjson). Without a usable checkpoint every file is scanned.
 * Call it after FileSink.open, which has already cut a partial last line left by a crash.
 */
export async function recoverHwm(
  dir: string,
): Promise<{ hwm: Map<number, number>; report: RecoveryReport; checkpointFileIndex: number }> {
  const t0 = performance.now();
  const hwm = new Map<number, number>();
  const raise = (stream: number, seq: number) => {
    if (seq > (hwm.get(stream) ?? 0)) hwm.set(stream, seq);
  };
  const cp = await readCheckpoint(dir);
  let cpIndex = 0;
  let cpOffset = 0;
  let rejectsOffset = 0;
  if (cp) {
    for (const [id, seq] of Object.entries(cp.streams)) raise(Number(id), seq);
    const m = RECORD_FILE.exec(cp.records.file);
    if (m) {
      cpIndex = Number(m[1]);
      cpOffset = cp.records.offset;
    }
    rejectsOffset = cp.rejects.offset;
  }
  const files = (await readdir(dir).catch(() => [] as string[]))
    .map((name) => ({ name, m: RECORD_FILE.exec(name) }))
    .filter((f): f is { name: string; m: RegExpExecArray } => f.m !== null)
    .map((f) => ({ name: f.name, index: Number(f.m[1]) }))
    .filter((f) => f.index >= cpIndex)
    // a plain file and its .gz can only coexist mid-compression: the plain one is complete, read it
    .filter((f, _, all) => !(compressed(f.name) && all.some((g) => g.index === f.index && !compressed(g.name))))
    .sort((a, b) => a.index - b.index);

  let scannedBytes = 0;
  let scannedLines = 0;
  const onLine = (buf: Buffer, start: number, end: number) => void readRxStreamSeq(buf, start, end, raise);
  for (const f of files) {
    const path = join(dir, f.name);
    let from = f.index === cpIndex ? cpOffset : 0;
    // An offset past the end cannot come from a valid checkpoint of this file: read all of it.
    if (from > 0 && !compressed(f.name) && from > ((await sizeOf(path)) ?? 0)) from = 0;
    const r = await scanLines(path, from, onLine);
    scannedBytes += r.bytes;
    scannedLines += r.lines;
  }
  // Rejected records count as delivered (shared/protocol/README.md §3): their seqs raise the mark too.
  const rejectsPath = join(dir, REJECTS_FILE);
  const rejectsSize = await sizeOf(rejectsPath);
  if (rejectsSize !== undefined) {
    const r = await scanLines(rejectsPath, rejectsOffset <= rejectsSize ? rejectsOffset : 0, (buf, start, end) => {
      try {
        const e = JSON.parse(buf.toString('utf8', start, end)) as { stream?: unknown; seq?: unknown };
        if (typeof e.stream === 'number' && typeof e.seq === 'number') raise(e.stream, e.seq);
      } catch {
        // not ours to judge: a damaged reject line only means its seq is sent (and rejected) again
      }
    });
    scannedBytes += r.bytes;
    scannedLines += r.lines;
  }
  return {
    hwm,
    checkpointFileIndex: cpIndex,
    report: {
      fromCheckpoint: cp !== undefined,
      streams: hwm.size,
      scannedBytes,
      scannedLines,
      ms: Math.round(performance.now() - t0),
    },
  };
}

// ---------------------------------------------------------------------------------------------

export interface HwmStoreOptions {
  dir: string;
  sink: FileSink;
  stats: ReceiverStats;
  /** how often the checkpoint is refreshed (when anything changed); default 1000 ms */
  checkpointIntervalMs?: number;
  /** a failed checkpoint write (the next one tries again) */
  onError?: (err: Error) => void;
  /** streams kept in memory at most; idle ones past it are evicted to the shelf (issue 18.5). Default: no bound */
  maxStreams?: number;
}

/** stats.json → tracking: the streams held in memory, their bound, and how many were evicted and read back (issue 18.5). */
export interface TrackingCounters {
  readonly streams: number;
  readonly maxStreams: number | null;
  /** streams held by a connection (never evicted while held) */
  readonly held: number;
  evicted: number;
  restored: number;
}

/** How far eviction looks past streams it may not evict (held, or with writes in flight) in one go. */
const EVICTION_SCAN = 1024;

/** The receiver's per-stream marks: recovered at start, checkpointed while running. */
export class HwmStore {
  readonly recovery: RecoveryReport;
  private readonly marks = new Map<number, StreamMarks>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private lastWritten = '';
  /**
   * The records file the checkpoint on disk names (0: none, every file is scanned at a restart). Retention
   * keeps it and every later file (FileSink.setRetentionFloor): removing one of them would hide seqs that a
   * recovery after a crash must see, and a mark would come back lower (duplicates accepted as new).
   */
  private checkpointFileIndex: number;
  private readonly checkpointPath: string;
  /** connections holding each stream (a held stream is never evicted) */
  private readonly holders = new Map<number, number>();
  /** marks being read back from the shelf */
  private readonly loading = new Map<number, Promise<void>>();
  private readonly maxStreams: number;
  readonly tracking: TrackingCounters;

  private constructor(
    private readonly opts: HwmStoreOptions,
    recovered: Map<number, number>,
    report: RecoveryReport,
    private readonly shelf: StreamShelf<number>,
    checkpointFileIndex: number,
  ) {
    this.recovery = report;
    this.checkpointFileIndex = checkpointFileIndex;
    this.checkpointPath = join(opts.dir, CHECKPOINT_FILE);
    this.maxStreams = opts.maxStreams ?? Infinity;
    const marks = this.marks;
    const holders = this.holders;
    this.tracking = {
      get streams() {
        return marks.size;
      },
      maxStreams: opts.maxStreams ?? null,
      get held() {
        return holders.size;
      },
      evicted: 0,
      restored: 0,
    };
    // What is on disk after a restart is as durable as it will ever be: both marks start there.
    for (const [id, seq] of recovered) {
      const m = this.get(id);
      m.accepted = seq;
      m.durable = seq;
      m.stats.hwm = seq;
    }
  }

  /** Recovers the marks of `dir` (after FileSink.open) and starts checkpointing. */
  static async open(opts: HwmStoreOptions): Promise<HwmStore> {
    const { hwm, report, checkpointFileIndex } = await recoverHwm(opts.dir);
    const shelf = await StreamShelf.open<number>(opts.dir, 'marks');
    const store = new HwmStore(opts, hwm, report, shelf, checkpointFileIndex);
    opts.sink.setRetentionFloor(() => store.checkpointFileIndex);
    store.evict(); // more streams on disk than the bound: the oldest go back to the shelf
    const every = opts.checkpointIntervalMs ?? 1000;
    store.timer = setInterval(() => void store.checkpoint(), every);
    store.timer.unref();
    return store;
  }

  /** The marks of `stream` (0 and 0 for a stream never seen). */
  get(stream: number): StreamMarks {
    let m = this.marks.get(stream);
    if (m === undefined) {
      m = { id: stream, accepted: 0, durable: 0, stats: this.opts.stats.stream(stream) };
      this.marks.set(stream, m);
    }
    return m;
  }

  /**
   * A connection will write `stream` (its HELLO was granted): it is held — never evicted — until
   * `release`. Returns a promise when its mark must first be read back from the shelf (it was evicted):
   * answer the HELLO, and let BATCHes in, only once it resolves.
   */
  acquire(stream: number): Promise<void> | undefined {
    this.holders.set(stream, (this.holders.get(stream) ?? 0) + 1);
    const m = this.marks.get(stream);
    if (m !== undefined) {
      // most recently used: to the end of the eviction order
      this.marks.delete(stream);
      this.marks.set(stream, m);
      return undefined;
    }
    const pending = this.loading.get(stream);
    if (pending) return pending;
    if (!this.shelf.mayHold(stream)) {
      this.get(stream); // a new stream (or so the filter says, without I/O)
      this.evict();
      return undefined;
    }
    const p = this.shelf.read(stream).then(
      (seqs) => {
        this.loading.delete(stream);
        if (this.marks.has(stream)) return;
        let seq = 0;
        for (const s of seqs) if (s > seq) seq = s;
        const m = this.get(stream);
        m.accepted = seq;
        m.durable = seq;
        m.stats.hwm = seq;
        if (seqs.length > 0) this.tracking.restored++;
        this.evict();
      },
      (err: unknown) => {
        this.loading.delete(stream);
        throw err;
      },
    );
    this.loading.set(stream, p);
    return p;
  }

  /** The connection that acquired `stream` ended (or let it go): once nobody holds it, it may be evicted. */
  release(stream: number): void {
    const n = this.holders.get(stream) ?? 0;
    if (n > 1) this.holders.set(stream, n - 1);
    else this.holders.delete(stream);
    const m = n <= 1 ? this.marks.get(stream) : undefined;
    if (m !== undefined) {
      // used until now: the end of the eviction order
      this.marks.delete(stream);
      this.marks.set(stream, m);
    }
    this.evict();
  }

  /**
   * Past the bound: shelve the least recently used idle streams (none held, nothing in flight), down to
   * 1/32 under the bound — in batches, because each pass walks the map from its oldest end, past the
   * slots earlier deletions left there (a pass per eviction made a HELLO flood crawl).
   */
  private evict(): void {
    if (this.marks.size <= this.maxStreams) return;
    let over = this.marks.size - this.maxStreams + Math.floor(this.maxStreams / 32);
    let skipped = 0;
    for (const [id, m] of this.marks) {
      if (this.holders.has(id) || m.accepted !== m.durable) {
        if (++skipped > EVICTION_SCAN) break;
        continue;
      }
      this.shelf.put(id, m.accepted);
      this.marks.delete(id);
      delete this.opts.stats.streams[String(id)]; // stats.json's per-stream entry goes with it
      this.tracking.evicted++;
      if (--over <= 0) break;
    }
  }

  /** Everything of this stream up to `seq` is durable: raise the mark ACKs report. */
  markDurable(m: StreamMarks, seq: number): void {
    if (seq > m.durable) {
      m.durable = seq;
      m.stats.hwm = seq;
    }
  }

  /** Writes a checkpoint now if anything changed since the last one (see the file comment for the order). */
  checkpoint(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.writeCheckpoint()
      .catch((err: Error) => this.opts.onError?.(err))
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  /** Stops the timer and writes a last checkpoint. Call after sink.close(): then it covers everything. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    while (this.running) await this.running;
    await this.checkpoint();
    await this.shelf.close();
  }

  private async writeCheckpoint(): Promise<void> {
    const { sink, dir } = this.opts;
    // 1. offsets first: every byte before them was appended before this moment
    const active = sink.activeFile;
    const offset = await sizeOf(active);
    if (offset === undefined) return; // rotated and compressed away under us: next round
    const rejects = (await sizeOf(join(dir, REJECTS_FILE))) ?? 0;
    // 2. then the marks: they cover every record before the offsets
    // (the streams' JSON is built as text: an object with 100,000 keys costs far more to build and stringify)
    let streams = '';
    for (const m of this.marks.values()) streams += `${streams ? ',' : ''}"${m.id}":${m.accepted}`;
    const key = `${basename(active)}:${offset}:${rejects}:${streams}`;
    if (key === this.lastWritten) return;
    // 3. wait until the marks are on disk, and every mark evicted before step 2 is on the shelf
    await Promise.all([sink.whenDurable(sink.position), this.shelf.flush()]);
    // 4. write it atomically
    const cp: Omit<CheckpointFile, 'streams'> = {
      version: 1,
      writtenAt: new Date().toISOString(),
      records: { file: basename(active), offset },
      rejects: { offset: rejects },
    };
    const tmp = `${this.checkpointPath}.tmp`;
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(`${JSON.stringify(cp).slice(0, -1)},"streams":{${streams}}}\n`);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    sinkFaultPoint('checkpoint'); // LOGSTREAM_FAULT_SINK=kill-at:checkpoint (issue 18): killed mid-checkpoint
    await rename(tmp, this.checkpointPath);
    this.lastWritten = key;
    // The floor rises only once the new name is durable: after a crash the older checkpoint could come
    // back, and the files it names must still be there.
    const dh = await open(dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
    this.checkpointFileIndex = Number(RECORD_FILE.exec(basename(active))?.[1] ?? this.checkpointFileIndex);
  }
}
