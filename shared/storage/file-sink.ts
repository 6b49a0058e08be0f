/**
 * The one file sink (COURSE.md, what a receiver writes): appends NDJSON records (already carrying `_rx`) to
 * `<dir>/records-NNNNNN.ndjson`, rotates by size (optionally compressing rotated files), appends rejects
 * to `rejects.ndjson`, and tells callers when what they appended is durable under the fsync policy:
 *
 *   group     (the receivers' default, issue 21.4) group commit: writes go on while an fsync runs, and
 *             the next fsync starts as soon as the previous one ends if anything was written meanwhile;
 *             each waiter is released by the first fsync that began after its data was written. An ACK
 *             thus waits for at most about two fsyncs, never for a timer, and the writes never wait
 *             for the disk's flush — not even at a rotation (rotate); counters.fsyncHistogram shows
 *             how long this disk's fsyncs take, and so what an ACK waits at the least;
 *   always    fsync after every write, the next write waiting for it (appends pile up meanwhile, so
 *             one write + fsync covers all of them);
 *   interval  fsync every `fsyncIntervalMs`; durable = covered by the last fsync;
 *   never     durable = handed to the kernel (survives a process crash, not a power cut).
 *
 * Rejects (issue 18.4): at most `rejectsPerSecond` lines a second reach `rejects.ndjson` (a token bucket,
 * default 100); the rest are only counted (`rejectsSuppressed`), so one client sending garbage cannot fill
 * the disk. Every lane writes its rejects through here, so every lane is sampled the same way; the caller
 * still counts each reject by reason in stats.json.
 *
 * Retention (issue 18.4, shared/storage/retention.ts): with `retainBytes` / `retainAgeMs`, the oldest
 * rotated records files are removed at startup and after each rotation, once the records files together
 * pass `retainBytes` or a file's newest line is older than `retainAgeMs`. Never the file being written,
 * never one still waiting for its compression; what is removed is counted and logged.
 *
 * The hot path is `append(text)`: one string holding many complete lines, no per-record work here.
 * All file I/O happens in one pump loop, so writes, fsyncs and rotations never interleave.
 *
 * Rotation bound (issue 18): the sink rotates BEFORE a write would take the active file past
 * `rotateBytes`, splitting a group of appends at a line boundary, so a records file holds at most
 * `rotateBytes` bytes — or a single line longer than that, alone in its file.
 *
 * Restart (issue 18): whenever the process was killed — mid-write, mid-rotation, mid-compression, during
 * a checkpoint — `open` finishes or discards the half-done work before it returns: an interrupted
 * compression's `.tmp` is dropped (its source is still there), a source whose compressed twin exists is
 * removed (the twin is renamed into place only when complete and fsynced), rotated files left
 * uncompressed are compressed now (not in the background: the marks recovery that runs after `open`
 * scans these files, and must not see one vanish), and a partial last line is cut. Compressions then
 * run one at a time, in rotation order.
 */
import { EventEmitter } from 'node:events';
import { mkdir, open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { DirLockedError, lockDir } from '../dir-lock.ts';
import { createLog } from '../log.ts';
import { TokenBucket } from '../token-bucket.ts';
import { DEFAULT_REJECTS_PER_SECOND, type StorageLimits } from './limits.ts';
import { applyRetention, retentionEnabled, type Removal } from './retention.ts';
import { killPointReached, SINK_FAULT, sinkFaultPoint } from './sink-fault.ts';
import { enqueue, settle, type Waiter } from './waiters.ts';
import {
  compressRecordFile,
  recordFileName,
  restCompressor,
  syncDir,
  truncatePartialLine,
  writeAll,
  type RestCompression,
} from './sink-files.ts';

// the file operations live in sink-files.ts; these stay importable from here
export { recordFileName, REST_COMPRESSION, truncatePartialLine, type RestCompression } from './sink-files.ts';

// the hardening suite's faults live in sink-fault.ts; their names stay importable from here
export { KILL_POINTS, parseSinkFault, sinkFaultPoint, type KillPoint, type SinkFault } from './sink-fault.ts';

export type FsyncPolicy = 'group' | 'always' | 'interval' | 'never';
export const FSYNC_POLICIES: readonly FsyncPolicy[] = ['group', 'always', 'interval', 'never'];

const COMPRESSED_RECORD_FILE = /^records-(\d{6,})\.ndjson\.(?:gz|zst)$/;
const COMPRESSION_TMP = /\.ndjson\.(?:gz|zst)\.tmp$/;

export interface FileSinkOptions extends StorageLimits {
  dir: string;
  fsync: FsyncPolicy;
  fsyncIntervalMs?: number;
  /** records files hold at most this many bytes (a single longer line gets a file of its own) */
  rotateBytes?: number;
  /** compress rotated files at rest (`records-NNNNNN.ndjson.gz` / `.ndjson.zst`) */
  compressRotated?: RestCompression;
  /** level for compressRotated (default: REST_COMPRESSION[method].defaultLevel) */
  compressLevel?: number;
  /**
   * backlog (bytes not yet written) above which producers should pause; default 4 MiB. Every byte of
   * backlog is RSS (issue 21.6): under a 500k-record blast the day 09/12/13 receivers peaked at 144/160/142 MB
   * with 16 MiB and at 119/134/118 MB with 4 MiB, at the same records/s (3 runs each, quiet machine).
   */
  highWaterMark?: number;
  /** test hook for the hardening suite: delays every write (a slow disk); default from LOGSTREAM_FAULT_SINK */
  writeDelayMs?: number;
  /** test hook for the hardening suite: ENOSPC once this many record bytes are written; default from LOGSTREAM_FAULT_SINK */
  enospcAfterBytes?: number;
  /**
   * One receiver per data dir (`<dir>/sink.lock`, shared/dir-lock.ts). When another live process holds
   * it: 'exit' (the default) prints `<program>: --data-dir: <why>` to stderr and exits 2 — a usage
   * error, the way shippers report a locked --state-dir — so every receiver gets it without code of its
   * own; 'throw' throws DirLockedError instead.
   */
  onDirLocked?: 'exit' | 'throw';
}

const retentionLog = createLog('file-sink');

export interface RejectEntry {
  peer: string;
  reason: string;
  seq?: number;
  stream?: number;
  /** the offending input; at most the first 256 bytes are kept, as text */
  sample: Buffer | string;
}

export interface SinkCounters {
  writes: number;
  fsyncs: number;
  /** time spent in fsyncs, ms (fsyncMs / fsyncs = what one fsync costs on this disk: an ACK waits for one or two) */
  fsyncMs: number;
  /** the slowest fsync, ms, and how many took ≤ 1, 2, 4, … 512 ms or more (FSYNC_BUCKETS_MS; the disk's tail, issue 21.4) */
  fsyncMaxMs: number;
  fsyncHistogram: number[];
  bytesWritten: number;
  rotations: number;
  compressedFiles: number;
  errors: number;
  /** reject lines written to rejects.ndjson, and those only counted (over rejectsPerSecond) */
  rejectsWritten: number;
  rejectsSuppressed: number;
  /** records files removed by retention, and their bytes on disk */
  retentionRemovedFiles: number;
  retentionRemovedBytes: number;
}

/** upper bounds (ms) of the fsync histogram's buckets; one more bucket holds everything slower */
export const FSYNC_BUCKETS_MS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512] as const;

/** the largest write coalesce() builds from small appends (a larger append is written as it is) */
const STAGING_BYTES = 1 << 20;

const RECORD_FILE = /^records-(\d{6,})\.ndjson$/;
const SAMPLE_BYTES = 256;
const LF = 0x0a;

/**
 * Emits 'drain' when the backlog falls below half the high-water mark after having passed it,
 * and 'error' if a write fails (the sink then refuses further appends).
 */
export class FileSink extends EventEmitter {
  readonly counters: SinkCounters = {
    writes: 0,
    fsyncs: 0,
    fsyncMs: 0,
    fsyncMaxMs: 0,
    fsyncHistogram: new Array<number>(FSYNC_BUCKETS_MS.length + 1).fill(0),
    bytesWritten: 0,
    rotations: 0,
    compressedFiles: 0,
    errors: 0,
    rejectsWritten: 0,
    rejectsSuppressed: 0,
    retentionRemovedFiles: 0,
    retentionRemovedBytes: 0,
  };
  private pending: Buffer[] = [];
  /** reused for every write of small appends (coalesce); allocated once, outside V8's heap */
  private readonly staging = Buffer.allocUnsafeSlow(STAGING_BYTES);
  private pendingRejects: string[] = [];
  private backlog = 0;
  /** logical positions: every appended byte advances `appended` */
  private appended = 0;
  private written = 0;
  private durable = 0;
  private waitersDurable: Waiter[] = [];
  private waitersWritten: Waiter[] = [];
  private pumping: Promise<void> | undefined;
  /** fsync group: the running fsync loop, and whether rejects.ndjson has lines it has not synced */
  private syncing: Promise<void> | undefined;
  private rejectsDirty = false;
  /** fsync group: rotated files not yet fsynced and closed, and directory fsyncs of new files still running (rotate) */
  private retired: { fh: FileHandle; index: number }[] = [];
  private dirSyncs: Promise<void>[] = [];
  private readonly rejectSampler: TokenBucket;
  /** see setRetentionFloor */
  private retentionFloor: (() => number) | undefined;
  private fsyncDue = false;
  private fsyncTimer: NodeJS.Timeout | undefined;
  private failed: Error | undefined;
  private closed = false;
  private wasOverHighWater = false;
  /** compressions of rotated files, one at a time in rotation order; close() waits for the last */
  private compressQueue: Promise<void> = Promise.resolve();
  /** fsync never: rotated files being fsynced and closed in the background, in rotation order (rotate) */
  private retiring: Promise<void> = Promise.resolve();
  private readonly highWaterMark: number;
  private readonly rotateBytes: number;
  private readonly writeDelayMs: number;
  /** bytes left before the injected ENOSPC (LOGSTREAM_FAULT_SINK); undefined: no fault */
  private enospcLeft: number | undefined;

  private constructor(
    private readonly opts: FileSinkOptions,
    private fh: FileHandle,
    private fileIndex: number,
    private fileSize: number,
    private readonly rejectsFh: FileHandle,
    private readonly releaseDir: () => void,
  ) {
    super();
    this.highWaterMark = opts.highWaterMark ?? 4 << 20;
    this.rotateBytes = opts.rotateBytes ?? 256 << 20;
    this.writeDelayMs = opts.writeDelayMs ?? SINK_FAULT.slowMs ?? 0;
    this.enospcLeft = opts.enospcAfterBytes ?? SINK_FAULT.enospcAfterBytes;
    const perSecond = opts.rejectsPerSecond ?? DEFAULT_REJECTS_PER_SECOND;
    // rate 0 = unlimited (TokenBucket); a burst of one second's worth
    this.rejectSampler = new TokenBucket(perSecond, Math.max(1, perSecond));
    if (opts.fsync === 'interval') {
      this.fsyncTimer = setInterval(() => {
        if (this.written > this.durable) {
          this.fsyncDue = true;
          this.kick();
        }
      }, opts.fsyncIntervalMs ?? 100);
      this.fsyncTimer.unref();
    }
  }

  /**
   * Opens (or recovers) a data dir: takes its lock (one receiver per data dir), finishes or discards
   * whatever a kill left half done (see the file header: temps dropped, twins resolved, rotated leftovers
   * compressed, a partial last line cut), and appends continue in the newest records file.
   */
  static async open(opts: FileSinkOptions): Promise<FileSink> {
    if (opts.compressRotated === 'zstd' || opts.compressRotated === 'gzip') {
      // Fail now, not at the first rotation hours later: a bad level, or zstd without its package
      // (LS_ERR_CODEC_UNAVAILABLE), throws here.
      restCompressor(opts.compressRotated, opts.compressLevel).destroy();
    }
    await mkdir(opts.dir, { recursive: true });
    const release = lockDataDir(opts);
    try {
      return await FileSink.recover(opts, release);
    } catch (err) {
      release();
      throw err;
    }
  }

  private static async recover(opts: FileSinkOptions, release: () => void): Promise<FileSink> {
    const { dir } = opts;
    const plain = new Set<number>();
    const packed = new Set<number>();
    for (const name of await readdir(dir)) {
      const p = RECORD_FILE.exec(name);
      const c = COMPRESSED_RECORD_FILE.exec(name);
      if (p) plain.add(Number(p[1]));
      if (c) packed.add(Number(c[1]));
      // A .gz.tmp / .zst.tmp is an interrupted compression: its source is still there, so drop the temp.
      if (COMPRESSION_TMP.test(name)) await unlink(join(dir, name)).catch(() => {});
    }
    // A source whose .gz/.zst exists was fully compressed (the twin is renamed into place only when
    // complete and fsynced): the source goes, so every line is in exactly one file.
    for (const i of [...plain]) {
      if (!packed.has(i)) continue;
      await unlink(join(dir, recordFileName(i)));
      plain.delete(i);
    }
    const all = [...plain, ...packed];
    const newest = all.length ? Math.max(...all) : 1;
    const index = packed.has(newest) ? newest + 1 : newest;
    // Rotated files that a crash left uncompressed: compressed now, before open returns (see the header).
    const method =
      opts.compressRotated === 'gzip' || opts.compressRotated === 'zstd' ? opts.compressRotated : undefined;
    let compressedNow = 0;
    for (const i of [...plain].filter((i) => i < index).sort((a, b) => a - b)) {
      await truncatePartialLine(join(dir, recordFileName(i))); // a rotated file ends in LF; make sure
      if (!method) continue;
      await compressRecordFile(dir, i, method, opts.compressLevel);
      compressedNow++;
    }
    // Retention at startup: rotated files only (everything below the file appends continue in).
    const removedNow = await applyRetention(dir, opts, index);
    const path = join(dir, recordFileName(index));
    await truncatePartialLine(path);
    const fh = await open(path, 'a');
    const size = (await fh.stat()).size;
    const rejectsPath = join(dir, 'rejects.ndjson');
    await truncatePartialLine(rejectsPath);
    const rejectsFh = await open(rejectsPath, 'a');
    const sink = new FileSink(opts, fh, index, size, rejectsFh, release);
    sink.counters.compressedFiles += compressedNow;
    sink.countRemoved(removedNow);
    return sink;
  }

  get activeFile(): string {
    return join(this.opts.dir, recordFileName(this.fileIndex));
  }

  /** bytes appended but not yet written */
  get backlogBytes(): number {
    return this.backlog;
  }

  get overHighWater(): boolean {
    return this.backlog > this.highWaterMark;
  }

  /**
   * Appends one or more complete NDJSON lines (each ending in LF). Returns a ticket for
   * `whenDurable` / `whenWritten`. A Buffer is taken over: the caller must not change it afterwards.
   */
  append(data: Buffer | string): number {
    if (this.failed) throw this.failed;
    if (this.closed) throw new Error('FileSink: append after close');
    const lines = typeof data === 'string' ? Buffer.from(data) : data;
    if (lines.length === 0) return this.appended;
    this.pending.push(lines);
    this.backlog += lines.length;
    this.appended += lines.length;
    if (this.backlog > this.highWaterMark) this.wasOverHighWater = true;
    this.kick();
    return this.appended;
  }

  /** Ticket covering everything appended so far. */
  get position(): number {
    return this.appended;
  }

  /**
   * Appends one line to rejects.ndjson: `{ts, peer, reason, seq?, stream?, sample}` (COURSE.md, what a
   * receiver writes) — at most rejectsPerSecond a second: past that the line is only counted
   * (counters.rejectsSuppressed), so a client sending garbage cannot fill the disk (issue 18.4). The
   * caller counts every reject by reason (ReceiverStats.reject) either way. Returns whether it was written.
   */
  reject(entry: RejectEntry): boolean {
    if (this.failed || this.closed) return false;
    if (!this.rejectSampler.tryTake()) {
      this.counters.rejectsSuppressed++;
      return false;
    }
    this.counters.rejectsWritten++;
    const sample =
      typeof entry.sample === 'string'
        ? entry.sample.slice(0, SAMPLE_BYTES)
        : entry.sample.toString('utf8', 0, Math.min(entry.sample.length, SAMPLE_BYTES));
    const line: Record<string, unknown> = { ts: new Date().toISOString(), peer: entry.peer, reason: entry.reason };
    if (entry.stream !== undefined) line.stream = entry.stream;
    if (entry.seq !== undefined) line.seq = entry.seq;
    line.sample = sample;
    this.pendingRejects.push(`${JSON.stringify(line)}\n`);
    this.appended += 1; // rejects are covered by the same durability tickets
    this.kick();
    return true;
  }

  /** Resolves when everything up to `ticket` is durable under the fsync policy. */
  whenDurable(ticket: number = this.appended): Promise<void> {
    if (ticket <= this.durable) return Promise.resolve();
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => enqueue(this.waitersDurable, { ticket, resolve, reject }));
  }

  /** Resolves when everything up to `ticket` has been handed to the kernel. */
  whenWritten(ticket: number = this.appended): Promise<void> {
    if (ticket <= this.written) return Promise.resolve();
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => enqueue(this.waitersWritten, { ticket, resolve, reject }));
  }

  /** Writes and fsyncs everything appended so far, whatever the policy. */
  async flush(): Promise<void> {
    this.fsyncDue = true;
    this.kick();
    while (this.pumping) await this.pumping;
    if (this.failed) throw this.failed;
  }

  /** Flush, fsync, finish background compressions, close the files. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush().catch(() => {});
    while (this.syncing) await this.syncing;
    this.closed = true;
    if (this.fsyncTimer) clearInterval(this.fsyncTimer);
    await this.retiring; // (it queues compressions: before waiting for those)
    await this.compressQueue;
    await this.fh.close().catch(() => {});
    await this.rejectsFh.close().catch(() => {});
    this.releaseDir();
    if (this.failed) throw this.failed;
  }

  private kick(): void {
    if (this.pumping || this.failed) return;
    this.pumping = this.pump().finally(() => {
      this.pumping = undefined;
      // Appends that arrived during the last await are picked up by a fresh pump.
      if (!this.failed && (this.pending.length || this.pendingRejects.length || this.fsyncDue)) this.kick();
    });
  }

  private async pump(): Promise<void> {
    try {
      while (this.pending.length || this.pendingRejects.length || this.fsyncDue) {
        const ticket = this.appended;
        if (this.pending.length) {
          const parts = this.pending;
          const bytes = this.backlog;
          this.pending = [];
          if (this.writeDelayMs) await new Promise((r) => setTimeout(r, this.writeDelayMs));
          for (const buf of this.coalesce(parts)) {
            if (this.enospcLeft !== undefined) await this.injectedEnospc(buf);
            await this.writeRecords(buf);
            this.counters.writes++;
            this.counters.bytesWritten += buf.length;
          }
          this.backlog -= bytes;
        }
        if (this.pendingRejects.length) {
          const text = this.pendingRejects.join('');
          this.pendingRejects = [];
          await writeAll(this.rejectsFh, Buffer.from(text, 'utf8'));
          this.rejectsDirty = true;
        }
        this.written = ticket;
        settle(this.waitersWritten, ticket);
        if (this.opts.fsync === 'group') {
          // flush() too goes through the sync loop: one fsyncer, which also owns the rotated files
          const flushing = this.fsyncDue;
          this.fsyncDue = false;
          this.kickSync();
          if (flushing) await this.whenDurable(ticket).catch(() => {});
          if (this.failed) return; // the sync loop failed the sink: nothing more is written
        } else if (this.opts.fsync === 'always' || this.fsyncDue) {
          this.fsyncDue = false;
          this.rejectsDirty = false;
          const t0 = performance.now();
          await this.fh.datasync();
          await this.rejectsFh.datasync();
          this.countFsync(t0);
          this.markDurable(ticket);
        } else if (this.opts.fsync === 'never') {
          this.markDurable(ticket);
        }
        if (this.wasOverHighWater && this.backlog <= this.highWaterMark / 2) {
          this.wasOverHighWater = false;
          this.emit('drain');
        }
      }
    } catch (err) {
      this.fail(err as Error);
    }
  }

  /**
   * The appends of one pump round as writes of at most STAGING_BYTES: small appends are copied into one
   * staging buffer the sink keeps (an append is whole lines, so every write ends at a line end), a larger
   * append goes out as it is. The buffer is refilled only after the caller's write of it returned (a
   * generator resumes after the await). Issues 21.4 and 21.6: a round's appends (up to the high-water
   * mark when the disk is behind) were joined into a fresh Buffer per write, one large allocation each time;
   * now no write allocates, and none is larger than 1 MiB unless one append is. (Measured: the receivers' RSS at
   * saturation did not move with it; their memory is held outside the sink.)
   */
  private *coalesce(parts: Buffer[]): Generator<Buffer> {
    let fill = 0;
    for (const part of parts) {
      if (fill > 0 && fill + part.length > STAGING_BYTES) {
        yield this.staging.subarray(0, fill);
        fill = 0;
      }
      if (part.length >= STAGING_BYTES) yield part;
      else {
        part.copy(this.staging, fill);
        fill += part.length;
      }
    }
    if (fill > 0) yield this.staging.subarray(0, fill);
  }

  /**
   * Appends whole lines to the records files, rotating BEFORE a write would take the active file past
   * rotateBytes (issue 18): a group of appends is split at the last line that fits. A records file thus
   * holds at most rotateBytes — or one line longer than that, alone in a file of its own.
   */
  private async writeRecords(buf: Buffer): Promise<void> {
    let off = 0;
    while (off < buf.length) {
      const room = this.rotateBytes - this.fileSize;
      let end = buf.length;
      if (end - off > room) {
        end = room > 0 ? buf.lastIndexOf(LF, off + room - 1) + 1 : 0;
        if (end <= off) {
          if (this.fileSize > 0) {
            await this.rotate();
            continue;
          }
          // an empty file, and a first line longer than the limit: that line gets the file to itself
          const lf = buf.indexOf(LF, off);
          end = lf === -1 ? buf.length : lf + 1;
        }
      }
      const chunk = buf.subarray(off, end);
      if (killPointReached('write')) {
        // kill-at:write — half of this write reaches the file (a partial last line), then SIGKILL
        await writeAll(this.fh, chunk.subarray(0, chunk.length >> 1));
        process.kill(process.pid, 'SIGKILL');
      }
      await writeAll(this.fh, chunk);
      this.fileSize += chunk.length;
      off = end;
    }
  }

  /** LOGSTREAM_FAULT_SINK=enospc-after: a full disk writes what fits (a partial line), then fails. */
  private async injectedEnospc(buf: Buffer): Promise<void> {
    const left = this.enospcLeft!;
    if (buf.length <= left) {
      this.enospcLeft = left - buf.length;
      return;
    }
    this.enospcLeft = 0;
    if (left > 0) await writeAll(this.fh, buf.subarray(0, left));
    throw Object.assign(new Error('ENOSPC: no space left on device, write (injected by LOGSTREAM_FAULT_SINK)'), {
      code: 'ENOSPC',
      errno: -28,
      syscall: 'write',
    });
  }

  /** fsync group: starts the fsync loop unless it runs already (it then picks this data up next). */
  private kickSync(): void {
    if (this.syncing || this.failed || (this.written <= this.durable && !this.retired.length)) return;
    this.syncing = this.syncLoop().finally(() => {
      this.syncing = undefined;
      // written after the loop's last check (kickSync saw `syncing` still set): else its waiters wait for more
      if (!this.failed && (this.written > this.durable || this.retired.length)) this.kickSync();
    });
  }

  /**
   * Group commit (issue 21.4): one fsync round at a time, back to back while written data is not yet durable.
   * Each round takes the written position, the file handle and the rotated files not yet synced together,
   * BEFORE its fsyncs start: every byte up to that position is in one of these files or in a rotated file an
   * earlier round synced, and the new files' names are covered by the directory fsyncs it waits for too
   * (rotate). So when they all return, that position is durable and its waiters are released. Writes go on
   * meanwhile in pump(); under this policy this loop is the only one that fsyncs records files.
   */
  private async syncLoop(): Promise<void> {
    try {
      while ((this.written > this.durable || this.retired.length) && !this.failed) {
        const target = this.written;
        const files = [...this.retired.splice(0), { fh: this.fh, index: this.fileIndex }];
        const syncs = files.map((f) => f.fh.datasync());
        if (this.rejectsDirty) syncs.push(this.rejectsFh.datasync());
        this.rejectsDirty = false;
        const t0 = performance.now();
        await Promise.all([...syncs, ...this.dirSyncs]);
        this.countFsync(t0);
        for (const f of files.slice(0, -1)) await this.rotated(f);
        this.markDurable(target);
      }
    } catch (err) {
      this.fail(err as Error);
    }
  }

  /** One fsync done (started at `t0`): its time in the total, the max and the histogram. */
  private countFsync(t0: number): void {
    const ms = performance.now() - t0;
    const c = this.counters;
    c.fsyncs++;
    c.fsyncMs += ms;
    if (ms > c.fsyncMaxMs) c.fsyncMaxMs = ms;
    let b = 0;
    while (b < FSYNC_BUCKETS_MS.length && ms > FSYNC_BUCKETS_MS[b]!) b++;
    c.fsyncHistogram[b]!++;
  }

  private markDurable(ticket: number): void {
    if (ticket > this.durable) this.durable = ticket;
    settle(this.waitersDurable, this.durable);
  }

  /**
   * Starts a new records file. The old file must be durable before records in the new one are ACKed (a
   * rotated file is finished, whatever the policy says), and so must the new file's name (a directory fsync).
   * With --fsync group (issue 21.4) neither waits here: the old handle joins `retired` and the directory
   * fsync runs in the background; the sync loop's next round fsyncs them together with the new file and
   * releases no waiter before all are done. Writes never stop for a rotation's flushes (on a loaded machine
   * 17-62 ms + 2-45 ms every 256 MB, waited out by every record behind). With --fsync never no ACK waits for
   * them either (durable = handed to the kernel), so they run in the background (`retiring`, in rotation
   * order): inline, the fdatasync of a whole never-synced 256 MB file stopped every write for 100-150 ms, the
   * tail of that policy's ACK latency (issue 21.4). 'always' and 'interval' flush inline (little is unsynced).
   */
  private async rotate(): Promise<void> {
    const old = { fh: this.fh, index: this.fileIndex };
    const never = this.opts.fsync === 'never';
    if (this.opts.fsync !== 'group' && !never) await old.fh.datasync();
    this.fileIndex += 1;
    this.fh = await open(this.activeFile, 'a');
    this.fileSize = 0;
    this.counters.rotations++;
    if (this.opts.fsync === 'group') {
      this.retired.push(old);
      const dirSynced = syncDir(this.opts.dir);
      this.dirSyncs.push(dirSynced);
      void dirSynced.finally(() => this.dirSyncs.splice(this.dirSyncs.indexOf(dirSynced), 1));
      this.kickSync();
      return;
    }
    if (never) {
      const dir = this.opts.dir;
      this.retiring = this.retiring
        .then(() => old.fh.datasync())
        .then(() => syncDir(dir))
        .then(() => this.rotated(old))
        .catch((err: Error) => this.fail(err));
      return;
    }
    await syncDir(this.opts.dir); // the new file's name is durable before records in it are ACKed
    await this.rotated(old);
  }

  /** A rotated file is durable: close it, then announce it, compress it and apply retention. */
  private async rotated(old: { fh: FileHandle; index: number }): Promise<void> {
    await old.fh.close();
    sinkFaultPoint('rotate');
    this.emit('rotate', join(this.opts.dir, recordFileName(old.index)));
    if (this.opts.compressRotated === 'gzip' || this.opts.compressRotated === 'zstd')
      this.compressInBackground(old.index);
    if (retentionEnabled(this.opts)) this.retainInBackground(old.index + 1);
  }

  /**
   * Retention after a rotation, queued behind the compressions queued before it (so no file waiting to be
   * compressed is removed); `keepFrom` = the file being written then: it and later files stay.
   */
  private retainInBackground(keepFrom: number): void {
    this.compressQueue = this.compressQueue.then(() =>
      applyRetention(this.opts.dir, this.opts, Math.min(keepFrom, this.retentionFloor?.() ?? Infinity)).then(
        (removed) => this.countRemoved(removed),
        (err) => {
          this.counters.errors++;
          this.emit('warning', new Error(`retention in ${this.opts.dir} failed: ${String(err)}`));
        },
      ),
    );
  }

  /**
   * Retention at rotation keeps every records file from `floor()` on as well: a receiver whose marks
   * checkpoint names a records file (lessons/day09/hwm-store.ts) passes that file's index, so no file its
   * recovery would still scan after a crash is removed. Startup retention runs before anything is
   * recovered (FileSink.open) and does not ask.
   */
  setRetentionFloor(floor: () => number): void {
    this.retentionFloor = floor;
  }

  /** Counts and logs what retention removed (one line per file: an operator sees what went and why). */
  private countRemoved(removed: readonly Removal[]): void {
    for (const r of removed) {
      this.counters.retentionRemovedFiles++;
      this.counters.retentionRemovedBytes += r.bytes;
      retentionLog.info('retention removed a records file', {
        file: join(this.opts.dir, r.name),
        bytes: r.bytes,
        reason: r.reason === 'bytes' ? `over --retain-bytes ${this.opts.retainBytes}` : `older than --retain-age`,
      });
    }
    if (removed.length) this.emit('retention', removed);
  }

  /** Queues the compression of a rotated file (one at a time, in rotation order; see compressRecordFile). */
  private compressInBackground(index: number): void {
    const method = this.opts.compressRotated === 'zstd' ? 'zstd' : 'gzip';
    const src = join(this.opts.dir, recordFileName(index));
    this.compressQueue = this.compressQueue.then(() =>
      compressRecordFile(this.opts.dir, index, method, this.opts.compressLevel).then(
        () => {
          this.counters.compressedFiles++;
        },
        (err) => {
          this.counters.errors++;
          this.emit('warning', new Error(`compressing ${src} failed: ${String(err)}`));
        },
      ),
    );
  }

  private fail(err: Error): void {
    this.failed = err;
    this.counters.errors++;
    for (const w of this.waitersDurable.splice(0)) w.reject(err);
    for (const w of this.waitersWritten.splice(0)) w.reject(err);
    this.emit('error', err);
  }
}

/** Takes `<dir>/sink.lock`; a data dir in use by another live process is a usage error (see onDirLocked). */
function lockDataDir(opts: FileSinkOptions): () => void {
  try {
    return lockDir(opts.dir, 'sink', 'give each receiver its own --data-dir');
  } catch (err) {
    if (!(err instanceof DirLockedError) || opts.onDirLocked === 'throw') throw err;
    const program = process.argv[1] ? relative(process.cwd(), process.argv[1]) : 'receiver';
    process.stderr.write(`${program}: --data-dir: ${err.message}\n`);
    process.exit(2);
  }
}
