/**
 * Shipper sources: `--input FILE` / `-` (NDJSON records or plain text lines) and `--generate N`. Both
 * yield arrays of record lines (JSON text, no LF), a chunk at a time, so a shipper never holds a whole
 * file in memory and pays per chunk, not per record.
 *
 * A local file is read with node:readline, not with the receiver's LineDecoder: the shipper's input is
 * trusted and needs no byte-level limits, and the day 08 shipper works while the decoder is still a TODO.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { RecordGenerator } from '../../shared/generate.ts';

export type InputFormat = 'auto' | 'ndjson' | 'text';

export interface InputOptions {
  format: InputFormat;
  /** service name put on wrapped text lines */
  service?: string;
  /** lines longer than this are skipped and reported through onSkip */
  maxLineBytes?: number;
  onSkip?: (reason: string, sample: Buffer) => void;
}

/** Wraps a plain text line into a record (shared/protocol/README.md §1). */
export function wrapText(line: string, service: string, ts = new Date().toISOString()): string {
  return `{"ts":"${ts}","level":"info","msg":${JSON.stringify(line)},"service":${JSON.stringify(service)}}`;
}

/**
 * Turns one input line into a record line: `auto` sends a line that starts with `{` as a record (the
 * receiver validates it) and wraps any other line; `ndjson` sends every line as is; `text` wraps all.
 */
export function toRecordLine(line: string, format: InputFormat, service: string, ts?: string): string {
  if (format === 'ndjson') return line;
  if (format === 'auto' && line.charCodeAt(0) === 0x7b /* { */) return line;
  return wrapText(line, service, ts);
}

/** Lines waiting for the shipper before the reader pauses its input. */
const BATCH_LINES = 4096;

/**
 * Lines of a file or stdin as record lines, in chunks: each chunk is every line read since the last
 * one, so a slow pipe's lines go out as they come and a big file goes out in big writes. The input is
 * paused while BATCH_LINES wait, so memory stays about one read (1 MiB) whatever the file's size.
 */
export async function* readInput(path: string, opts: InputOptions): AsyncGenerator<string[]> {
  const stream = path === '-' ? process.stdin : createReadStream(path, { highWaterMark: 1 << 20 });
  const service = opts.service ?? 'shipper';
  const maxLineBytes = opts.maxLineBytes ?? 1 << 20;
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let out: string[] = [];
  let ts = new Date().toISOString(); // a wrapped text line gets the time it was read (one per batch)
  let ended = false;
  let failed: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  lines.on('line', (raw) => {
    const text = raw.trim();
    if (!text) return;
    if (text.length * 3 > maxLineBytes && Buffer.byteLength(text) > maxLineBytes) {
      opts.onSkip?.('line_too_long', Buffer.from(text.slice(0, 256)).subarray(0, 256));
      return;
    }
    out.push(toRecordLine(text, opts.format, service, ts));
    if (out.length >= BATCH_LINES) lines.pause();
    notify();
  });
  lines.on('close', () => {
    ended = true;
    notify();
  });
  // readline forwards the input's errors (a missing file, EACCES): the shipper's loop gets them.
  lines.on('error', (err: Error) => {
    failed = err;
    notify();
  });
  try {
    for (;;) {
      if (failed) throw failed;
      if (out.length > 0) {
        const batch = out;
        out = [];
        lines.resume();
        yield batch;
        ts = new Date().toISOString();
        continue;
      }
      if (ended) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    lines.close();
  }
}

/** `--generate N`: N seeded synthetic records, in chunks of `chunk`. */
export function* generateInput(n: number, seed: number, chunk = 4096): Generator<string[]> {
  const gen = new RecordGenerator({ seed, baseTimeMs: Date.now() });
  for (let left = n; left > 0; left -= chunk) yield gen.take(Math.min(chunk, left));
}

/**
 * Each chunk of a synchronous source, with a turn of the event loop before the next one. A shipper's
 * `for await` over a plain generator runs on microtasks alone while its socket takes every write: timers,
 * ACKs and SIGTERM then wait until the source is exhausted (found by the chaos suite's graceful test,
 * issue 10: a --generate shipper ignored SIGTERM under load). One setImmediate per chunk of 4096 records.
 */
export async function* yieldingChunks<T>(source: Iterable<T>): AsyncGenerator<T> {
  for (const chunk of source) {
    yield chunk;
    await new Promise<void>((r) => setImmediate(r));
  }
}

/** The shipper's source from its flags. */
export function openSource(
  v: { input?: string; generate?: number; seed: number; format: InputFormat; service: string },
  onSkip?: InputOptions['onSkip'],
): AsyncIterable<string[]> | Iterable<string[]> {
  if (v.generate !== undefined) return yieldingChunks(generateInput(v.generate, v.seed));
  return readInput(v.input ?? '-', { format: v.format, service: v.service, onSkip });
}
