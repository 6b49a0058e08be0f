/**
 * What a shipper keeps across restarts, in `<state-dir>/state.json` (day 09 on):
 *
 * - its stream id: a random u32 made on the first run. A restarted shipper speaks for the SAME stream, so
 *   the receiver's high-water mark for it still applies and its dedup still works.
 * - with --follow, the acknowledged read position: the file (device + inode), the byte offset after the
 *   last line whose record is ACKed, and that record's seq. It only ever moves on an ACK, so a shipper
 *   killed with -9 re-reads from there with the same seqs, and the receiver drops what it already has.
 *
 * Written atomically (temp file, fsync, rename): a torn state file would restart the seqs and turn every
 * re-read line into a new record.
 *
 * One shipper per state dir (`state.lock`, see dir-lock.ts): two shippers sharing a stream id would number
 * their records with the same seqs, and the receiver would drop one's records as the other's duplicates.
 */
import { randomInt } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { lockDir } from '../../shared/dir-lock.ts';
import type { FilePosition } from './follow.ts';

/** A followed file's acknowledged position: reading resumes at `pos`, with seq `seq + 1`. */
export interface FollowState extends FilePosition {
  /** wire seq of the last record before `pos` */
  seq: number;
}

interface StateFile {
  version: 1;
  stream: number;
  follow?: FollowState & { stream: number };
  updatedAt: string;
}

export class ShipperState {
  readonly path: string;
  /** the stream this shipper speaks for */
  readonly stream: number;
  /** true when the stream id was made just now (first run) */
  readonly created: boolean;
  private file: StateFile;
  /** gives the state dir up (also done at process exit) */
  release: () => void = () => {};

  private constructor(dir: string, file: StateFile, stream: number, created: boolean) {
    this.path = join(dir, 'state.json');
    this.file = file;
    this.stream = stream;
    this.created = created;
  }

  /**
   * Loads `<dir>/state.json`, creating it (with a new random stream id) on the first run. `streamId`
   * overrides the kept id for this run without replacing it. Throws DirLockedError when another live
   * shipper uses the dir.
   */
  static open(dir: string, opts: { streamId?: number } = {}): ShipperState {
    mkdirSync(dir, { recursive: true });
    const release = lockDir(dir, 'state');
    let file: StateFile | undefined;
    try {
      const parsed = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as StateFile;
      if (parsed.version === 1 && Number.isInteger(parsed.stream)) file = parsed;
    } catch {
      file = undefined;
    }
    const created = file === undefined;
    if (!file) file = { version: 1, stream: randomInt(1, 2 ** 32), updatedAt: new Date().toISOString() };
    const state = new ShipperState(dir, file, opts.streamId ?? file.stream, created);
    state.release = release;
    if (created) state.write();
    return state;
  }

  /** The acknowledged position of `path` for this stream, if one was stored. */
  followOf(path: string): FollowState | undefined {
    const f = this.file.follow;
    if (!f || f.stream !== this.stream || f.path !== path) return undefined;
    const { stream: _stream, ...pos } = f;
    return pos;
  }

  /** Stores a followed file's acknowledged position (durably: see the file comment). */
  saveFollow(f: FollowState): void {
    this.file = { ...this.file, follow: { ...f, stream: this.stream }, updatedAt: new Date().toISOString() };
    this.write();
  }

  private write(): void {
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, `${JSON.stringify(this.file)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
  }
}
