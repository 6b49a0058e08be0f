/**
 * Receiver counters and the atomic `stats.json` writer (COURSE.md, what a receiver writes). Counters are plain fields: the hot
 * path increments numbers, and the writer serialises them at most once per interval.
 */
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface StreamStats {
  /** highest seq such that everything up to it is persisted (shared/protocol/README.md §4) */
  hwm: number;
  /** records received for this stream (new ones) */
  received: number;
  /** seqs skipped (a first seq above hwm + 1) */
  gaps: number;
  duplicates: number;
  reordered: number;
}

export class ReceiverStats {
  readonly startedAt = new Date().toISOString();
  updatedAt = this.startedAt;
  readonly connections = { open: 0, total: 0, refused: 0, idleTimeouts: 0, errors: 0 };
  readonly records = { received: 0, persisted: 0, rejected: 0, duplicates: 0, dropped: 0 };
  readonly bytes = { wire: 0, decoded: 0 };
  /** rejects counted by reason (line_too_long, invalid_json, …) */
  readonly rejects: Record<string, number> = {};
  readonly streams: Record<string, StreamStats> = {};
  /** lane-specific sections (udp, tls, compression, sink, …) */
  readonly extra: Record<string, unknown> = {};

  constructor(
    readonly lane: string,
    readonly transport: string,
  ) {}

  reject(reason: string, n = 1): void {
    this.records.rejected += n;
    this.rejects[reason] = (this.rejects[reason] ?? 0) + n;
  }

  stream(id: number | string): StreamStats {
    const key = String(id);
    let s = this.streams[key];
    if (!s) {
      s = { hwm: 0, received: 0, gaps: 0, duplicates: 0, reordered: 0 };
      this.streams[key] = s;
    }
    return s;
  }

  toJSON(): Record<string, unknown> {
    return {
      lane: this.lane,
      transport: this.transport,
      pid: process.pid,
      startedAt: this.startedAt,
      updatedAt: this.updatedAt,
      connections: this.connections,
      records: this.records,
      bytes: this.bytes,
      rejects: this.rejects,
      streams: this.streams,
      ...this.extra,
    };
  }
}

/** Rewrites `<dir>/stats.json` atomically (write to a temp file, then rename) every interval. */
export class StatsWriter {
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  readonly path: string;

  constructor(
    dir: string,
    private readonly stats: ReceiverStats,
    private readonly intervalMs = 1000,
    /** called just before each write, to refresh derived fields */
    private readonly refresh?: () => void,
  ) {
    this.path = join(dir, 'stats.json');
  }

  start(): this {
    this.timer = setInterval(() => void this.write(), this.intervalMs);
    this.timer.unref();
    void this.write();
    return this;
  }

  /** Writes now; concurrent calls are serialised so renames never race. */
  write(): Promise<void> {
    this.writing = this.writing
      .then(async () => {
        this.refresh?.();
        this.stats.updatedAt = new Date().toISOString();
        const tmp = `${this.path}.${process.pid}.tmp`;
        await writeFile(tmp, `${JSON.stringify(this.stats, null, 1)}\n`);
        await rename(tmp, this.path);
      })
      .catch(() => {
        // A failed stats write must not stop ingestion; the next tick tries again.
      });
    return this.writing;
  }

  /** Stops the timer and writes the final stats (shutdown). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.write();
  }
}
