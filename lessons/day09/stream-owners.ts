/**
 * Who may write a stream (issue 17; shared/protocol/README.md §4, "Who may write a stream").
 *
 * Dedup is a weapon in the wrong hands: a receiver drops records at or below a stream's mark, so a client
 * that sends another shipper's stream id with a high seq makes that shipper's next records vanish as
 * "duplicates". So a stream has an owner: the first identity to write it (its first HELLO), and nobody
 * else may write it afterwards.
 *
 *   identity  the verified client certificate subject when the lane has one (day 13 --mtls: `cert:CN=…`),
 *             else the HELLO's name (`name:…`): a claim anyone can repeat, so on a plaintext lane this
 *             guards against accidents (two shippers configured with one stream id), not attackers.
 *   durable   the binding is on disk before the stream's first ACK (the answer to its first HELLO, and
 *             every BATCH ACK waits for it too) and survives restarts: appended to the data dir's owners
 *             shelf, `streams/owners-NNN.ndjson` (lessons/day09/stream-shelf.ts: 256 buckets by stream id,
 *             each write fsynced). Bindings made while a write is under way go together in the next one.
 *   bounded   (issue 18.5) every owner is on disk, and memory holds at most `maxCached` of them (the most
 *             recently used; --max-streams): an owner not in memory is read back from its bucket when its
 *             stream's HELLO comes. A million stream ids cost a million lines on disk, not a million
 *             entries in memory — and a binding costs one appended line, not a rewrite of every owner.
 *   upgrade   a data dir without owners (written before they existed) starts with none: the first writer
 *             after the upgrade becomes the owner of each stream. A `stream-owners.json` of the earlier
 *             format (one JSON map, rewritten whole) is moved onto the shelf at open, then removed.
 *
 * A DurableStore (the scale-out lesson's JetStream sink) may keep the owners itself, in the cluster, so
 * every receiver in front of it agrees (`StoreOwners`); otherwise the data dir's file is used.
 */
import { readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { StreamShelf } from './stream-shelf.ts';
import { CodedError } from '../../shared/errors.ts';

/** The owners file of the earlier format: read once, moved onto the shelf, removed. */
export const OWNERS_FILE = 'stream-owners.json';

/** The owners of streams, as AckedIngest asks them. */
export interface StreamOwners {
  /**
   * Binds `stream` to `identity` unless it has an owner already, and returns the owner (`identity` when
   * it is, or now becomes, the owner): at once when known here, or a promise when it has to be asked
   * elsewhere (the cluster). A new binding is durable once `whenBound(stream)` settles.
   */
  claim(stream: number, identity: string): string | Promise<string>;
  /** A binding of `stream` on its way to disk: resolves once durable, rejects if it will not be; undefined when nothing is pending. */
  whenBound(stream: number): Promise<void> | undefined;
  /** the owner of `stream` if known here (no I/O) */
  ownerOf(stream: number): string | undefined;
  /** streams with a known owner */
  readonly size: number;
  close(): Promise<void>;
}

interface Binding {
  owner: string;
  since: string;
}

interface OwnersFileContent {
  version: 1;
  owners: Record<string, { owner: string; since: string }>;
}

/** Thrown when `stream-owners.json` exists but cannot be read: refusing to start beats handing streams to whoever comes first. */
export class OwnersFileError extends CodedError {
  readonly code = 'LS_ERR_OWNERS_FILE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OwnersFileError';
  }
}

interface Round {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
  streams: number[];
}

/** How far dropping owners from memory looks past bindings still on their way to disk, in one go. */
const DROP_SCAN = 1024;

/** The owners of a data dir's streams, on its owners shelf (`streams/owners-NNN.ndjson`), the recent ones cached. */
export class OwnersFile implements StreamOwners {
  /** the owners known in memory, least recently used first */
  private readonly owners = new Map<number, Binding>();
  /** bindings not yet on disk: the round of writes that will carry them */
  private readonly pending = new Map<number, Promise<void>>();
  /** owners being read back from the shelf */
  private readonly loading = new Map<number, Promise<Binding | undefined>>();
  private queued: Round | undefined;
  private writing: Promise<void> | undefined;
  private total: number;

  private constructor(
    readonly dir: string,
    private readonly shelf: StreamShelf<Binding>,
    private readonly maxCached: number,
  ) {
    this.total = shelf.openedWith;
  }

  /**
   * Opens the owners of `dir` (none on a new or a pre-owners data dir). `maxCached`: owners kept in memory
   * at most (default: all); the others are read back from disk when asked for.
   */
  static async open(dir: string, opts: { maxCached?: number | undefined } = {}): Promise<OwnersFile> {
    const f = new OwnersFile(
      dir,
      await StreamShelf.open<Binding>(dir, 'owners'),
      opts.maxCached ?? Number.POSITIVE_INFINITY,
    );
    await f.migrate();
    return f;
  }

  /** A `stream-owners.json` of the earlier format: its owners go onto the shelf (durably), then it goes. */
  private async migrate(): Promise<void> {
    const path = join(this.dir, OWNERS_FILE);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new OwnersFileError(`cannot read ${path}: ${(err as Error).message}`, { cause: err });
    }
    let content: OwnersFileContent;
    try {
      content = JSON.parse(text) as OwnersFileContent;
      if (content.version !== 1 || typeof content.owners !== 'object' || content.owners === null)
        throw new Error('not a version 1 owners file');
    } catch (err) {
      // The file was only ever replaced whole (rename), so this is damage, not a crash: say so and stop.
      throw new OwnersFileError(
        `${path} is damaged (${(err as Error).message}): restore it from a backup, or remove it to let the first writer of each stream own it again`,
        { cause: err },
      );
    }
    for (const [id, o] of Object.entries(content.owners)) {
      const stream = Number(id);
      if (!Number.isInteger(stream) || !o || typeof o.owner !== 'string') continue;
      // a crash after the shelf write and before the unlink brings us here again: owners never change
      if (this.shelf.mayHold(stream) && (await this.shelf.read(stream)).length > 0) continue;
      this.shelf.put(stream, { owner: o.owner, since: String(o.since ?? '') });
      this.total++;
    }
    await this.shelf.flush();
    await unlink(path);
  }

  get size(): number {
    return this.total;
  }

  ownerOf(stream: number): string | undefined {
    return this.owners.get(stream)?.owner;
  }

  claim(stream: number, identity: string): string | Promise<string> {
    const known = this.owners.get(stream);
    if (known) return this.touch(stream, known).owner;
    // Not in memory: surely new (the shelf's filter, no I/O), or read its bucket first.
    if (!this.shelf.mayHold(stream)) return this.bind(stream, identity);
    return this.lookup(stream).then((owner) => owner ?? this.bind(stream, identity));
  }

  /** The owner of `stream`, from memory or from disk (undefined: none yet). */
  async lookup(stream: number): Promise<string | undefined> {
    const known = this.owners.get(stream);
    if (known) return known.owner;
    if (!this.shelf.mayHold(stream)) return undefined;
    let p = this.loading.get(stream);
    if (!p) {
      p = this.shelf.read(stream).then(
        (found) => {
          this.loading.delete(stream);
          const first = found[0];
          if (first && !this.owners.has(stream)) {
            this.owners.set(stream, first);
            this.drop();
          }
          return this.owners.get(stream) ?? first;
        },
        (err: unknown) => {
          this.loading.delete(stream);
          throw err;
        },
      );
      this.loading.set(stream, p);
    }
    return (await p)?.owner;
  }

  whenBound(stream: number): Promise<void> | undefined {
    return this.pending.get(stream);
  }

  /** Waits for the writes under way (shutdown). */
  async close(): Promise<void> {
    while (this.writing) await this.writing.catch(() => {});
    await this.shelf.close();
  }

  private touch(stream: number, b: Binding): Binding {
    this.owners.delete(stream);
    this.owners.set(stream, b);
    return b;
  }

  private bind(stream: number, identity: string): string {
    const known = this.owners.get(stream);
    if (known) return known.owner; // bound by another claim while this one read the disk
    // Bound in memory at once (a second identity is refused from this moment on), on disk with the next write.
    const b = { owner: identity, since: new Date().toISOString() };
    this.owners.set(stream, b);
    this.total++;
    this.pending.set(stream, this.schedule(stream, b));
    this.drop();
    return identity;
  }

  /**
   * Past maxCached: forget the least recently used owners that are on disk (they are read back when
   * needed), down to 1/32 under it: in batches, as HwmStore evicts (lessons/day09/hwm-store.ts).
   */
  private drop(): void {
    if (this.owners.size <= this.maxCached) return;
    let over = this.owners.size - this.maxCached + Math.floor(this.maxCached / 32);
    let skipped = 0;
    for (const id of this.owners.keys()) {
      if (this.pending.has(id)) {
        if (++skipped > DROP_SCAN) break;
        continue;
      }
      this.owners.delete(id);
      if (--over <= 0) break;
    }
  }

  /** Puts `stream` in the next write (one write at a time; what arrives meanwhile goes together in the next). */
  private schedule(stream: number, b: Binding): Promise<void> {
    this.shelf.put(stream, b);
    let round = this.queued;
    if (!round) {
      let resolve!: () => void;
      let reject!: (err: Error) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      promise.catch(() => {}); // a failed write is handled by whoever waits for it (never an unhandled rejection)
      round = this.queued = { promise, resolve, reject, streams: [] };
      if (!this.writing) this.startRound();
    }
    round.streams.push(stream);
    return round.promise;
  }

  private startRound(): void {
    const round = this.queued;
    if (!round) return;
    this.queued = undefined;
    this.writing = this.shelf
      .flush()
      .then(
        () => {
          for (const s of round.streams) if (this.pending.get(s) === round.promise) this.pending.delete(s);
          round.resolve();
          this.drop();
        },
        (err: Error) => {
          // Not known to be on disk, so never ACKed: forget these bindings here. The shelf keeps their
          // lines for its next write, and the next HELLO of such a stream reads them back from there.
          for (const s of round.streams) {
            if (this.pending.get(s) !== round.promise) continue;
            this.pending.delete(s);
            this.owners.delete(s);
            this.total--;
          }
          round.reject(err);
        },
      )
      .finally(() => {
        this.writing = undefined;
        this.startRound();
      });
  }
}

/** What a DurableStore offers to keep owners in it (the JetStream sink: a message per stream in the cluster). */
export interface OwnerBinding {
  /** Binds `stream` to `identity` unless it has an owner; resolves to the owner once that is durable in the store. */
  bindOwner(stream: number, identity: string): Promise<string>;
}

/**
 * Owners kept by a DurableStore: every receiver in front of it asks the store, which makes the first
 * binding durable (a quorum of the cluster) before answering. Owners never change, so a known one is
 * remembered and answered at once.
 */
export class StoreOwners implements StreamOwners {
  private readonly known = new Map<number, string>();
  constructor(private readonly store: OwnerBinding) {}

  get size(): number {
    return this.known.size;
  }

  ownerOf(stream: number): string | undefined {
    return this.known.get(stream);
  }

  claim(stream: number, identity: string): string | Promise<string> {
    const known = this.known.get(stream);
    if (known !== undefined) return known;
    return this.store.bindOwner(stream, identity).then((owner) => {
      this.known.set(stream, owner);
      return owner;
    });
  }

  whenBound(): undefined {
    return undefined; // durable before claim() resolves
  }

  async close(): Promise<void> {}
}
