/**
 * Shipper sources (GUIDE §2): `--input FILE` / `-` (NDJSON records or plain text lines) and
 * `--generate N`. Both yield arrays of record lines (JSON text, no LF), a chunk at a time, so a shipper
 * never holds a whole file in memory and pays per chunk, not per record.
 */
import { createReadStream } from 'node:fs';
import { LineDecoder } from './line-decoder.ts';
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

/** Wraps a plain text line into a record (LSP1 §1). */
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

/** Lines of a file or stdin as record lines, in chunks. */
export async function* readInput(path: string, opts: InputOptions): AsyncGenerator<string[]> {
  const stream = path === '-' ? process.stdin : createReadStream(path, { highWaterMark: 1 << 20 });
  let out: string[] = [];
  const service = opts.service ?? 'shipper';
  let ts = new Date().toISOString();
  const decoder = new LineDecoder({
    maxLineBytes: opts.maxLineBytes ?? 1 << 20,
    onLine: (line) => {
      const text = line.toString('utf8').trim();
      if (text) out.push(toRecordLine(text, opts.format, service, ts));
    },
    onTooLong: (info) => opts.onSkip?.('line_too_long', info.sample),
  });
  for await (const chunk of stream) {
    ts = new Date().toISOString();
    decoder.push(chunk as Buffer);
    if (out.length) {
      yield out;
      out = [];
    }
  }
  decoder.end();
  if (out.length) yield out;
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
export function openSource(v: { input?: string; generate?: number; seed: number; format: InputFormat; service: string }, onSkip?: InputOptions['onSkip']): AsyncIterable<string[]> | Iterable<string[]> {
  if (v.generate !== undefined) return yieldingChunks(generateInput(v.generate, v.seed));
  return readInput(v.input ?? '-', { format: v.format, service: v.service, onSkip });
}
