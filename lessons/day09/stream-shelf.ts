/**
 * Per-stream values kept on disk, for the streams a receiver no longer keeps in memory (issue 18.5:
 * "a bound on tracked streams with eviction of idle ones; their marks stay correct from disk").
 *
 * A receiver meets every stream id a HELLO names; a client naming a million of them must not make it
 * hold a million streams' state. So lessons/day09/hwm-store.ts keeps at most --max-streams marks in
 * memory and puts an idle stream's mark here when it evicts it, and lessons/day09/stream-owners.ts keeps
 * every owner here and only a bounded cache of them in memory. When the stream comes back, its values
 * are read back from here before its HELLO is answered.
 *
 *   layout    `<data-dir>/streams/<kind>-NNN.ndjson`: 256 buckets per kind, a stream's bucket chosen by a
 *             hash of its id, so finding a stream reads one bucket (1/256 of the entries), never all.
 *   lines     `[stream, value]` JSON, appended; a stream may have several lines (evicted, back, evicted
 *             again): the reader merges them (marks: the highest; owners: the first).
 *   durable   `flush()` appends what was queued to one journal, `<kind>.journal`, and fsyncs it (one fsync
 *             however many buckets the lines go to), then appends them to their buckets unsynced. Once
 *             the journal passes 32 MiB, the buckets written since are fsynced and the journal emptied;
 *             at open, a journal left by a crash is replayed into the buckets first. One flush at a time;
 *             what arrives meanwhile goes in the next. (A flush that fsynced every bucket it touched
 *             took 256 fsyncs: a HELLO flood got about 3,000 answers a second.)
 *   lookups   a Bloom filter over every stream on the shelf (2 MiB, built at open by reading the buckets
 *             once) says "surely not here" without I/O for a stream never shelved, as nearly every new
 *             stream is; a false "maybe" (about 0.5 % at a million streams) costs one bucket read.
 *
 * Memory: the filter (2 MiB) and the lines queued for the next flush. Disk: one line per shelving
 * (about 30 bytes for a mark, 90 for an owner); a bucket is not compacted (a stream evicted again and
 * again adds a line each time).
 */
import { mkdir, open, readdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

const BLOOM_BITS = 1 << 24;
const FILE = /^([a-z]+)-(\d{3})\.ndjson$/;
/** the journal's size past which the buckets are fsynced and the journal emptied */
const JOURNAL_BYTES = 32 << 20;

/** The directory under the data dir that holds the shelves. */
export const SHELF_DIR = 'streams';

function bucketOf(stream: number): number {
  return Math.imul(stream | 0, 0x9e3779b1) >>> 24; // the top 8 bits of a multiplicative hash: 0..255
}

export class StreamShelf<V> {
  private readonly bloom = new Uint8Array(BLOOM_BITS >>> 3);
  /** lines waiting for the next flush, by bucket */
  private queued = new Map<number, string[]>();
  /** the lines the flush under way is writing (read() sees them until they are in their bucket) */
  private writing = new Map<number, string[]>();
  /** buckets appended to since the journal was last emptied (fsynced before it is) */
  private readonly unsynced = new Set<number>();
  private journalBytes = 0;
  private flushing: Promise<void> | undefined;
  private again: Promise<void> | undefined;
  private readonly dir: string;
  /** distinct streams found on the shelf at open */
  openedWith = 0;

  private constructor(
    dataDir: string,
    readonly kind: string,
  ) {
    this.dir = join(dataDir, SHELF_DIR);
  }

  /** Opens the `kind` shelf of `dataDir`: replays a journal left by a crash, reads the buckets once to build the filter. */
  static async open<V>(dataDir: string, kind: string): Promise<StreamShelf<V>> {
    const shelf = new StreamShelf<V>(dataDir, kind);
    await shelf.replay();
    const names = await readdir(shelf.dir).catch(() => [] as string[]);
    let distinct = 0;
    for (const name of names) {
      const m = FILE.exec(name);
      if (!m || m[1] !== kind) continue;
      const seen = new Set<number>();
      for (const [stream] of await shelf.readBucket(Number(m[2]))) {
        if (!seen.has(stream)) {
          seen.add(stream);
          shelf.remember(stream);
        }
      }
      distinct += seen.size;
    }
    shelf.openedWith = distinct;
    return shelf;
  }

  /** false: `stream` is surely not on the shelf (no I/O); true: it may be (read() tells). */
  mayHold(stream: number): boolean {
    for (const bit of this.bits(stream)) if ((this.bloom[bit >>> 3]! & (1 << (bit & 7))) === 0) return false;
    return true;
  }

  /** Every value shelved for `stream`, oldest first (those not yet in their bucket included). */
  async read(stream: number): Promise<V[]> {
    const b = bucketOf(stream);
    // The lines still in memory are taken BEFORE the file is read: a line that leaves memory meanwhile
    // is in the file by then.
    const inMemory = [...(this.writing.get(b) ?? []), ...(this.queued.get(b) ?? [])];
    const out: V[] = [];
    for (const [s, v] of await this.readBucket(b)) if (s === stream) out.push(v);
    for (const line of inMemory) {
      const [s, v] = JSON.parse(line) as [number, V];
      if (s === stream) out.push(v);
    }
    return out;
  }

  /** Queues `value` for `stream`; on disk with the next flush(). */
  put(stream: number, value: V): void {
    const b = bucketOf(stream);
    let lines = this.queued.get(b);
    if (!lines) this.queued.set(b, (lines = []));
    lines.push(`${JSON.stringify([stream, value])}\n`);
    this.remember(stream);
  }

  /** Makes everything put() so far durable (one flush at a time; a call during one waits for the next). */
  flush(): Promise<void> {
    if (!this.flushing) {
      this.flushing = this.write().finally(() => (this.flushing = undefined));
      return this.flushing;
    }
    // a flush is under way and may have taken its lines before ours: the next one carries them
    this.again ??= this.flushing
      .catch(() => {})
      .then(() => {
        this.again = undefined;
        return this.flush();
      });
    return this.again;
  }

  /** Shutdown: flushes, then empties the journal (the buckets fsynced), so a clean start replays nothing. */
  async close(): Promise<void> {
    await this.flush();
    if (this.journalBytes > 0) await this.emptyJournal();
  }

  private async write(): Promise<void> {
    const batch = this.queued;
    if (batch.size === 0) return;
    this.queued = new Map();
    this.writing = batch;
    try {
      await mkdir(this.dir, { recursive: true });
      // 1. the journal: durable once this fsync returns
      let text = '';
      for (const lines of batch.values()) text += lines.join('');
      const created = this.journalBytes === 0;
      await appendFile(this.journalPath, text, true);
      if (created) await syncDir(this.dir); // its name too
      this.journalBytes += Buffer.byteLength(text);
      // 2. the buckets, where read() looks: unsynced (the journal has the lines)
      for (const [b, lines] of batch) {
        await appendFile(this.path(b), lines.join(''), false);
        this.unsynced.add(b);
      }
      this.writing = new Map();
      if (this.journalBytes >= JOURNAL_BYTES) await this.emptyJournal();
    } catch (err) {
      // not known to be on disk: put them back in front, so the next flush tries again
      this.writing = new Map();
      for (const [b, lines] of batch) this.queued.set(b, [...lines, ...(this.queued.get(b) ?? [])]);
      throw err;
    }
  }

  /** The buckets written since the journal was emptied are fsynced (and the directory): the journal may go. */
  private async emptyJournal(): Promise<void> {
    for (const b of this.unsynced) {
      const fh = await open(this.path(b), 'r+');
      try {
        await fh.datasync();
      } finally {
        await fh.close();
      }
    }
    await syncDir(this.dir);
    this.unsynced.clear();
    const j = await open(this.journalPath, 'r+');
    try {
      await j.truncate(0);
      await j.datasync();
    } finally {
      await j.close();
    }
    this.journalBytes = 0;
  }

  /** At open: a journal left behind (a crash) goes into the buckets, which are fsynced; then it is emptied. */
  private async replay(): Promise<void> {
    let text: string;
    try {
      text = await readAll(this.journalPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const byBucket = new Map<number, string[]>();
    for (const line of text.split('\n')) {
      let e: unknown;
      try {
        e = JSON.parse(line);
      } catch {
        continue; // a line cut by the crash: its flush never returned, so nothing relied on it
      }
      if (!Array.isArray(e) || typeof e[0] !== 'number') continue;
      const b = bucketOf(e[0]);
      let lines = byBucket.get(b);
      if (!lines) byBucket.set(b, (lines = []));
      lines.push(`${line}\n`);
    }
    for (const [b, lines] of byBucket) {
      // a bucket cut mid-line by the crash: end that line first, so the replayed ones stay whole
      // (lines already there come again: harmless, readers merge repeats)
      const path = this.path(b);
      let tail = '';
      try {
        const t = await readAll(path);
        if (t.length > 0 && !t.endsWith('\n')) tail = '\n';
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      await appendFile(path, tail + lines.join(''), false);
      this.unsynced.add(b);
    }
    this.journalBytes = 1; // so emptyJournal() runs its course
    await this.emptyJournal();
  }

  private get journalPath(): string {
    return join(this.dir, `${this.kind}.journal`);
  }

  private path(bucket: number): string {
    return join(this.dir, `${this.kind}-${String(bucket).padStart(3, '0')}.ndjson`);
  }

  private async readBucket(bucket: number): Promise<Array<[number, V]>> {
    let text: string;
    try {
      text = await readAll(this.path(bucket));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: Array<[number, V]> = [];
    for (const line of text.split('\n')) {
      if (line === '') continue;
      try {
        const e = JSON.parse(line) as unknown;
        if (Array.isArray(e) && typeof e[0] === 'number') out.push([e[0], e[1] as V]);
      } catch {
        // a line cut by a crash mid-append (its flush never finished, so nothing relied on it)
      }
    }
    return out;
  }

  private remember(stream: number): void {
    const bloom = this.bloom;
    for (const bit of this.bits(stream)) bloom[bit >>> 3] = bloom[bit >>> 3]! | (1 << (bit & 7));
  }

  /** three bit positions from two hashes of the id (double hashing) */
  private bits(stream: number): [number, number, number] {
    const h1 = Math.imul(stream | 0, 0x9e3779b1) >>> 0;
    const h2 = (Math.imul((stream ^ (stream >>> 16)) | 0, 0x85ebca6b) >>> 0) | 1;
    const mask = BLOOM_BITS - 1;
    return [h1 & mask, (h1 + h2) & mask, (h1 + 2 * h2) & mask];
  }
}

async function readAll(path: string): Promise<string> {
  const fh = await open(path, 'r');
  try {
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

async function appendFile(path: string, text: string, sync: boolean): Promise<void> {
  const fh: FileHandle = await open(path, 'a', 0o644);
  try {
    await fh.writeFile(text);
    if (sync) await fh.datasync();
  } finally {
    await fh.close();
  }
}

/** A directory's entries (a new file's name) are durable only once the directory is fsynced. */
async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
