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
 *             every BATCH ACK waits for it too) and survives restarts: `stream-owners.json`, beside the
 *             marks, rewritten atomically (temp file, fsync, rename, fsync of the directory) whenever new
 *             streams are bound. Bindings made while a write is under way go together in the next one.
 *   upgrade   a data dir without the file (written before owners existed) starts with no owners: the first
 *             writer after the upgrade becomes the owner of each stream.
 *
 * A DurableStore (the scale-out lesson's JetStream sink) may keep the owners itself, in the cluster, so
 * every receiver in front of it agrees (`StoreOwners`); otherwise the data dir's file is used.
 */
import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

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

interface OwnersFileContent {
  version: 1;
  owners: Record<string, { owner: string; since: string }>;
}

/** Thrown when `stream-owners.json` exists but cannot be read: refusing to start beats handing streams to whoever comes first. */
export class OwnersFileError extends Error {
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

/** The owners of a data dir's streams, in `stream-owners.json`. */
export class OwnersFile implements StreamOwners {
  private readonly owners = new Map<number, { owner: string; since: string }>();
  /** bindings not yet on disk: the round of writes that will carry them */
  private readonly pending = new Map<number, Promise<void>>();
  private queued: Round | undefined;
  private writing: Promise<void> | undefined;
  private readonly path: string;

  private constructor(readonly dir: string) {
    this.path = join(dir, OWNERS_FILE);
  }

  /** Reads the owners of `dir` (none when the file does not exist: a new or a pre-owners data dir). */
  static async open(dir: string): Promise<OwnersFile> {
    const f = new OwnersFile(dir);
    let text: string;
    try {
      text = await readFile(f.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return f;
      throw new OwnersFileError(`cannot read ${f.path}: ${(err as Error).message}`, { cause: err });
    }
    let content: OwnersFileContent;
    try {
      content = JSON.parse(text) as OwnersFileContent;
      if (content.version !== 1 || typeof content.owners !== 'object' || content.owners === null)
        throw new Error('not a version 1 owners file');
    } catch (err) {
      // The file is only ever replaced whole (rename), so this is damage, not a crash: say so and stop.
      throw new OwnersFileError(
        `${f.path} is damaged (${(err as Error).message}): restore it from a backup, or remove it to let the first writer of each stream own it again`,
        { cause: err },
      );
    }
    for (const [id, o] of Object.entries(content.owners)) {
      const stream = Number(id);
      if (Number.isInteger(stream) && o && typeof o.owner === 'string')
        f.owners.set(stream, { owner: o.owner, since: String(o.since ?? '') });
    }
    return f;
  }

  get size(): number {
    return this.owners.size;
  }

  ownerOf(stream: number): string | undefined {
    return this.owners.get(stream)?.owner;
  }

  claim(stream: number, identity: string): string {
    const known = this.owners.get(stream);
    if (known) return known.owner;
    // Bound in memory at once (a second identity is refused from this moment on), on disk with the next write.
    this.owners.set(stream, { owner: identity, since: new Date().toISOString() });
    this.pending.set(stream, this.schedule(stream));
    return identity;
  }

  whenBound(stream: number): Promise<void> | undefined {
    return this.pending.get(stream);
  }

  /** Waits for the writes under way (shutdown). */
  async close(): Promise<void> {
    while (this.writing) await this.writing.catch(() => {});
  }

  /** Puts `stream` in the next write (one write at a time; what arrives meanwhile goes together in the next). */
  private schedule(stream: number): Promise<void> {
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
    this.writing = this.write()
      .then(
        () => {
          for (const s of round.streams) if (this.pending.get(s) === round.promise) this.pending.delete(s);
          round.resolve();
        },
        (err: Error) => {
          // Not on disk, so never ACKed: forget these bindings; the next HELLO claims (and writes) again.
          for (const s of round.streams) {
            if (this.pending.get(s) !== round.promise) continue;
            this.pending.delete(s);
            this.owners.delete(s);
          }
          round.reject(err);
        },
      )
      .finally(() => {
        this.writing = undefined;
        this.startRound();
      });
  }

  /** The whole map, atomically: temp file, fsync, rename over the old one, fsync of the directory. */
  private async write(): Promise<void> {
    const content: OwnersFileContent = { version: 1, owners: {} };
    for (const [id, o] of this.owners) content.owners[String(id)] = o;
    const tmp = `${this.path}.tmp`;
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(`${JSON.stringify(content)}\n`);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.path);
    // the rename itself is durable only once the directory is
    const d = await open(this.dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
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
