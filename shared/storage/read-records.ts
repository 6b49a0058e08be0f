/**
 * Reads back what a FileSink persisted (COURSE.md, what a receiver writes): the lines of every `*.ndjson`, `*.ndjson.gz` and
 * `*.ndjson.zst` file of a data dir, in file order (numeric: records-000002 before records-000010) and
 * line order. `rejects*.ndjson` is not a records file and is skipped. Files are streamed, so a 256 MiB
 * rotated file never sits in memory whole.
 *
 * Rules that match FileSink's crash recovery:
 *   - `*.tmp` files (an interrupted compression) are ignored;
 *   - when both `records-N.ndjson` and its compressed twin exist (a crash after the rename, before the
 *     unlink), only the compressed one is read: it is complete and holds the same lines;
 *   - a last line without its LF (a file being written, or cut by a crash) is not yielded.
 */
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline, type Readable, type Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { zstdCodec } from '../protocol/codecs.ts';

const RECORDS_FILE = /\.ndjson(?:\.gz|\.zst)?$/;
const REJECTS_FILE = /^rejects.*\.ndjson(?:\.gz|\.zst)?$/;
const naturalCompare = new Intl.Collator('en', { numeric: true }).compare;

/** The records files of `dataDir` in the order their lines were written; [] when the dir does not exist. */
export async function listRecordFiles(dataDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = (await readdir(dataDir, { withFileTypes: true })).filter((d) => d.isFile()).map((d) => d.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const present = new Set(names);
  return names
    .filter((n) => RECORDS_FILE.test(n) && !REJECTS_FILE.test(n))
    .filter((n) => !(n.endsWith('.ndjson') && (present.has(`${n}.gz`) || present.has(`${n}.zst`))))
    .sort((a, b) => naturalCompare(a, b));
}

/** The decompressed bytes of one file, chosen by its suffix (.gz, .zst, or none). */
export function openDecoded(path: string): Readable {
  const raw = createReadStream(path);
  if (path.endsWith('.gz')) return decodeWith(raw, createGunzip());
  if (path.endsWith('.zst')) return decodeWith(raw, zstdCodec.decompressStream());
  return raw;
}

/**
 * `raw | decoder`: an error on either side destroys both and surfaces on the returned stream, and a
 * reader that stops early closes the file too.
 */
function decodeWith(raw: Readable, decoder: Transform): Readable {
  return pipeline(raw, decoder, () => {});
}

/** The complete lines (without LF) of one file, decompressed as its suffix says. */
export async function* readFileLines(path: string): AsyncGenerator<string> {
  let rest: Buffer | undefined;
  for await (const chunk of openDecoded(path) as AsyncIterable<Buffer>) {
    let start = 0;
    let lf = chunk.indexOf(0x0a);
    if (lf === -1) {
      rest = rest ? Buffer.concat([rest, chunk]) : chunk;
      continue;
    }
    if (rest) {
      yield Buffer.concat([rest, chunk.subarray(0, lf)]).toString('utf8');
      rest = undefined;
      start = lf + 1;
      lf = chunk.indexOf(0x0a, start);
    }
    while (lf !== -1) {
      yield chunk.toString('utf8', start, lf);
      start = lf + 1;
      lf = chunk.indexOf(0x0a, start);
    }
    if (start < chunk.length) rest = chunk.subarray(start);
  }
}

/** Every complete line of every records file of `dataDir`, in write order. */
export async function* readRecordLines(dataDir: string): AsyncGenerator<string> {
  for (const name of await listRecordFiles(dataDir)) yield* readFileLines(join(dataDir, name));
}
