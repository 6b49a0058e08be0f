/**
 * Following a log file like `tail -F`, for shippers (`--follow`, day 09 on): read what is there, then
 * keep reading what is appended; when the file is rotated (renamed away and a new one created under the
 * same name), finish the old file and go on with the new one from its first byte; when it is truncated
 * in place (copytruncate), start again from 0.
 *
 * Every chunk says where it ends: the file (by device and inode: a name moves on rotation, an inode does
 * not) and the byte offset after its last complete line. A shipper stores that position once the chunk's
 * records are ACKed, and a restarted shipper resumes there — also when the file was rotated meanwhile:
 * the old file is found again by its inode in the same directory, finished, and then the new one is read.
 * (A file rotated away twice while the shipper was down is not looked for.)
 *
 * Polling (every `pollMs`) rather than fs.watch: watch events are not reliable across platforms, file
 * systems and rotation schemes, and a stat per poll costs nothing.
 */
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { LineDecoder } from '../day08/line-decoder.ts';

export interface FilePosition {
  /** the followed path (the name; the file itself is dev + ino) */
  path: string;
  dev: number;
  ino: number;
  /** byte offset after the last complete line read */
  pos: number;
}

export interface FollowChunk {
  lines: string[];
  /** where reading resumes to skip these lines */
  at: FilePosition;
}

export interface FollowOptions {
  path: string;
  /** resume here (a position from an earlier chunk); default: the start of the file */
  start?: FilePosition;
  /** turns one line (no LF, CR dropped) into a record line, or undefined to skip it */
  mapLine: (line: Buffer) => string | undefined;
  pollMs?: number;
  maxLineBytes?: number;
  readBytes?: number;
  onSkip?: (reason: string, sample: Buffer) => void;
  /** rotation, truncation, resume decisions: for the shipper's log */
  onEvent?: (what: string, fields: Record<string, unknown>) => void;
}

interface Open {
  fh: FileHandle;
  dev: number;
  ino: number;
  /** next byte to read */
  pos: number;
}

export class FileFollower {
  private stopped = false;
  private wake: (() => void) | undefined;
  private readonly pollMs: number;

  constructor(private readonly opts: FollowOptions) {
    this.pollMs = opts.pollMs ?? 100;
  }

  /** Ends chunks() at its next wait (at once if it is waiting). */
  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = undefined;
        resolve();
      };
    });
  }

  private event(what: string, fields: Record<string, unknown>): void {
    this.opts.onEvent?.(what, fields);
  }

  /** Opens where to begin: the resume position's file (found by inode if it was rotated away), else the path at 0. */
  private async begin(): Promise<Open | undefined> {
    const { path, start } = this.opts;
    while (!this.stopped) {
      const st = await stat(path).catch(() => undefined);
      if (start && start.ino !== 0) {
        if (st && st.ino === start.ino && st.dev === start.dev) {
          if (st.size >= start.pos) return { fh: await open(path, 'r'), dev: st.dev, ino: st.ino, pos: start.pos };
          this.event('resume position is past the end of the file (truncated?): reading it from the start', {
            path,
            pos: start.pos,
            size: st.size,
          });
          return { fh: await open(path, 'r'), dev: st.dev, ino: st.ino, pos: 0 };
        }
        const rotated = await findByInode(dirname(path), start.dev, start.ino);
        if (rotated) {
          this.event('resuming in the rotated-away file, then the new one', { file: rotated, pos: start.pos });
          const fh = await open(rotated, 'r');
          return { fh, dev: start.dev, ino: start.ino, pos: start.pos };
        }
        if (st) {
          this.event('resume file is gone: reading the current file from the start', { path, ino: start.ino });
          return { fh: await open(path, 'r'), dev: st.dev, ino: st.ino, pos: 0 };
        }
      } else if (st) {
        return { fh: await open(path, 'r'), dev: st.dev, ino: st.ino, pos: 0 };
      }
      await this.sleep(this.pollMs); // the file does not exist yet
    }
    return undefined;
  }

  async *chunks(): AsyncGenerator<FollowChunk> {
    const { path } = this.opts;
    const readBytes = this.opts.readBytes ?? 1 << 20;
    let cur = await this.begin();
    if (!cur) return;
    let lines: string[] = [];
    const newDecoder = () =>
      new LineDecoder({
        maxLineBytes: this.opts.maxLineBytes ?? 1 << 20,
        onLine: (line) => {
          const rec = this.opts.mapLine(line);
          if (rec !== undefined) lines.push(rec);
        },
        onTooLong: (info) => this.opts.onSkip?.('line_too_long', info.sample),
      });
    let decoder = newDecoder();
    const at = (c: Open, pos: number): FilePosition => ({ path, dev: c.dev, ino: c.ino, pos });
    try {
      while (!this.stopped) {
        // A fresh buffer per read: the decoder may keep views of it for a line still incomplete.
        const buf = Buffer.allocUnsafe(readBytes);
        const { bytesRead } = await cur.fh.read(buf, 0, readBytes, cur.pos);
        if (bytesRead > 0) {
          cur.pos += bytesRead;
          decoder.push(buf.subarray(0, bytesRead));
          if (lines.length) {
            const out = lines;
            lines = [];
            yield { lines: out, at: at(cur, cur.pos - decoder.bufferedBytes) };
          }
          continue;
        }
        // End of what is there. Rotated? Truncated? Or just wait for more.
        const st = await stat(path).catch(() => undefined);
        if (st && (st.ino !== cur.ino || st.dev !== cur.dev)) {
          // Rotated: a last read catches what the writer appended between our read and the stat.
          const again = await cur.fh.read(buf, 0, readBytes, cur.pos);
          if (again.bytesRead > 0) {
            cur.pos += again.bytesRead;
            decoder.push(buf.subarray(0, again.bytesRead));
            if (lines.length) {
              const out = lines;
              lines = [];
              yield { lines: out, at: at(cur, cur.pos - decoder.bufferedBytes) };
            }
            continue;
          }
          decoder.end(); // the old file is finished: a last line without LF is still a line
          if (lines.length) {
            const out = lines;
            lines = [];
            yield { lines: out, at: at(cur, cur.pos) };
          }
          this.event('file rotated: finished the old one, reading the new one from the start', {
            path,
            oldIno: cur.ino,
            newIno: st.ino,
            oldBytes: cur.pos,
          });
          await cur.fh.close();
          cur = { fh: await open(path, 'r'), dev: st.dev, ino: st.ino, pos: 0 };
          decoder = newDecoder();
          continue;
        }
        if (st && st.size < cur.pos) {
          this.event('file truncated: reading it again from the start', { path, pos: cur.pos, size: st.size });
          cur.pos = 0;
          decoder = newDecoder();
          continue;
        }
        await this.sleep(this.pollMs);
      }
    } finally {
      await cur.fh.close().catch(() => {});
    }
  }
}

/** The file in `dir` with this device and inode, if any. */
async function findByInode(dir: string, dev: number, ino: number): Promise<string | undefined> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return undefined;
  }
  for (const name of names) {
    const p = join(dir, name);
    const st = await stat(p).catch(() => undefined);
    if (st && st.isFile() && st.ino === ino && st.dev === dev) return p;
  }
  return undefined;
}
