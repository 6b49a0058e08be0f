/**
 * Parsing off the main thread, for receivers that have a core to spare (issue 21.2: "a worker pool for
 * parsing where the cores allow it"). Speed plumbing, not a day's idea: the lesson that owns the parsing
 * names the module and the function the workers run (shared/ never imports lessons/), e.g. day 09's
 * AckedIngest hands it day 08's validateBatch.
 *
 *   main thread                                          worker i (of N, round robin)
 *   validate(lines) ─ one copy of the lines' bytes ────▶ fn(lines, 0, ...args) → verdicts
 *   promise ◀──────── the rejected lines only ────────── [[index, verdict], …]
 *
 * The answers come back as promises, one per call; a caller that needs them in order (dedup, ACKs) keeps
 * its own queue of them (AckedIngest does). A worker that dies (an exception, out of memory, exit) fails
 * every call it had in flight with a ParsePoolError (code LS_ERR_PARSE_WORKER_FAILED), is logged by the caller's
 * onFailure, and is replaced: the caller closes the connections those calls came from, unacknowledged.
 *
 * `--parse-threads` (parseThreadsOption) is the flag every receiver with a pool takes: `auto` is 1 on a machine
 * with 2 or more cores, 0 (inline, no pool) on one. Each receiver's default is what measured best for it (the
 * bench has the 0/1/2 scaling): the syslog lane's whole parse moves to the worker (auto); an acked LSP/1
 * lane's validation is a small part of its work (day 08's validateBatch is fast), so there it is 0.
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { InvalidArgumentError } from 'commander';
import { parseInteger, type OptionSpec } from './cli.ts';
import { CodedError } from './errors.ts';
import type { Reply, Request } from './parse-pool-worker.ts';
import { tsWorker } from './ts-worker.ts';

/** `auto`: a parse thread when there is a second core for it (the main thread keeps one), else inline. */
export function autoParseThreads(): number {
  return os.availableParallelism() >= 2 ? 1 : 0;
}

/**
 * `--parse-threads <n|auto>`: worker threads that parse (0 = on the main thread); `auto` = autoParseThreads().
 * `defaultThreads`: what measured best for that receiver on 2 cores (the syslog lane: auto; the acked LSP/1
 * lanes: 0, see lessons/day09/README.md).
 */
export function parseThreadsOption(what: string, defaultThreads: number | 'auto' = 'auto'): OptionSpec<number, true> {
  const auto = autoParseThreads();
  const shown = defaultThreads === 'auto' ? `auto = ${auto} here` : String(defaultThreads);
  return {
    flags: '--parse-threads <n|auto>',
    description: `worker threads that ${what} (0 = on the main thread; auto = 1 with 2+ cores, else 0; default ${shown})`,
    defaultValue: defaultThreads === 'auto' ? auto : defaultThreads,
    parse: (raw) => {
      if (raw.trim().toLowerCase() === 'auto') return autoParseThreads();
      try {
        return parseInteger(raw, 0, 64);
      } catch {
        throw new InvalidArgumentError(`'${raw}' is not a thread count (0..64, or auto)`);
      }
    },
  };
}

/** A parse worker died: the calls it had in flight have no answer. */
export class ParsePoolError extends CodedError {
  readonly code = 'LS_ERR_PARSE_WORKER_FAILED';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ParsePoolError';
  }
}

export interface ParsePoolOptions {
  threads: number;
  /** URL (import.meta.resolve / new URL(…).href) of the module the workers import */
  module: string;
  /** its export the workers call: (lines: Buffer[], from: number, ...args) => Array<verdict | undefined> */
  fn: string;
  /** the arguments after `lines, from`, the same for every call (e.g. maxRecordBytes) */
  args?: unknown[];
  /** a worker died (its in-flight calls fail with ParsePoolError; it is replaced) */
  onFailure?: (err: Error) => void;
}

interface Job {
  resolve: (v: Array<unknown>) => void;
  reject: (e: Error) => void;
  count: number;
  bytes: number;
}

interface Slot {
  worker: Worker;
  jobs: Map<number, Job>;
  ready: Promise<void>;
}

/**
 * N workers, each running `fn` over the lines it is sent. Calls go round robin; each answers with a
 * promise of the verdicts, indexed like `lines` (undefined = accepted).
 */
export class ParsePool<V> {
  private readonly slots: Slot[] = [];
  private next = 0;
  private nextId = 1;
  private pending = 0;
  private stopping = false;
  /** workers that died and were replaced */
  failures = 0;

  private constructor(private readonly opts: ParsePoolOptions) {
    for (let i = 0; i < opts.threads; i++) this.slots.push(this.spawn());
  }

  /** A pool with its workers loaded (its module imported): the first call runs at full speed. */
  static async start<V>(opts: ParsePoolOptions): Promise<ParsePool<V>> {
    if (opts.threads < 1) throw new RangeError('a ParsePool needs at least one thread (0 = parse inline, no pool)');
    const pool = new ParsePool<V>(opts);
    await Promise.all(pool.slots.map((s) => s.ready));
    return pool;
  }

  get threads(): number {
    return this.slots.length;
  }

  /** bytes sent to the workers and not answered yet (a caller pauses its reads above a bound) */
  get pendingBytes(): number {
    return this.pending;
  }

  /**
   * The verdicts of `fn(lines, 0, ...args)`, computed on a worker. `span`: a buffer the caller knows every
   * line is a view of (a BATCH's payload, which decodeBatch splits): one copy of it, no check per line.
   */
  run(lines: readonly Buffer[], span?: Buffer): Promise<Array<V | undefined>> {
    const slot = this.slots[this.next++ % this.slots.length]!;
    const { bytes, bounds } = span !== undefined ? packSpan(lines, span) : pack(lines);
    const id = this.nextId++;
    this.pending += bytes.length;
    return new Promise((resolve, reject) => {
      slot.jobs.set(id, {
        resolve: resolve as (v: Array<unknown>) => void,
        reject,
        count: lines.length,
        bytes: bytes.length,
      });
      const req: Request = { id, bytes, bounds };
      slot.worker.postMessage(req, [bytes.buffer as ArrayBuffer, bounds.buffer as ArrayBuffer]);
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private spawn(): Slot {
    // The worker runs this file and the lesson's module as JavaScript esbuild bundles at start-up
    // (shared/ts-worker.ts: no TypeScript loader per worker, ~18 MB less RSS each).
    const modulePath = this.opts.module.startsWith('file:') ? fileURLToPath(this.opts.module) : this.opts.module;
    const entry = [
      `import { runParseWorker } from ${JSON.stringify(fileURLToPath(new URL('./parse-pool-worker.ts', import.meta.url)))};`,
      `import * as mod from ${JSON.stringify(modulePath)};`,
      'runParseWorker(mod);',
    ].join('\n');
    const worker = tsWorker(
      { contents: entry, resolveDir: fileURLToPath(new URL('.', import.meta.url)) },
      { workerData: { module: this.opts.module, fn: this.opts.fn, args: this.opts.args ?? [] } },
    );
    const jobs = new Map<number, Job>();
    let ready!: () => void;
    let failed!: (e: Error) => void;
    const slot: Slot = { worker, jobs, ready: new Promise<void>((res, rej) => ((ready = res), (failed = rej))) };
    slot.ready.catch(() => {}); // a replacement's failure is reported through onFailure, not as unhandled
    worker.on('message', (m: Reply) => {
      if ('ready' in m) return ready();
      const job = jobs.get(m.id);
      if (job === undefined) return;
      jobs.delete(m.id);
      this.pending -= job.bytes;
      if ('error' in m) return job.reject(new ParsePoolError(`parse worker: ${m.error}`));
      const verdicts = new Array<unknown>(job.count);
      for (const [i, v] of m.rejects) verdicts[i] = v;
      job.resolve(verdicts);
    });
    const die = (err: Error): void => {
      if (this.stopping || !this.slots.includes(slot)) return;
      const e = new ParsePoolError(`parse worker died: ${err.message}`);
      failed(e);
      for (const job of jobs.values()) {
        this.pending -= job.bytes;
        job.reject(e);
      }
      jobs.clear();
      this.failures++;
      this.opts.onFailure?.(e);
      // replaced, so the calls after this one still have a worker
      this.slots[this.slots.indexOf(slot)] = this.spawn();
    };
    worker.on('error', die);
    worker.on('exit', (code) => die(new Error(`exit code ${code}`)));
    return slot;
  }
}

/** `span` copied into a buffer of its own (to transfer: not zero-filled, not from Node's pool), the lines' bounds in it. */
function packSpan(lines: readonly Buffer[], span: Buffer): { bytes: Uint8Array; bounds: Uint32Array } {
  const bytes = Buffer.allocUnsafeSlow(span.length);
  span.copy(bytes);
  const bounds = new Uint32Array(lines.length * 2);
  const base = span.byteOffset;
  for (let i = 0, j = 0; i < lines.length; i++, j += 2) {
    const l = lines[i]!;
    const start = l.byteOffset - base;
    bounds[j] = start;
    bounds[j + 1] = start + l.length;
  }
  return { bytes, bounds };
}

/** The lines' bytes in one new buffer (to transfer) and their bounds in it. */
function pack(lines: readonly Buffer[]): { bytes: Uint8Array; bounds: Uint32Array } {
  const bounds = new Uint32Array(lines.length * 2);
  const first = lines[0];
  const last = lines[lines.length - 1];
  if (first !== undefined && last !== undefined && contiguous(lines)) {
    // decodeBatch's lines are views of one payload, in order: one copy of their span
    const base = first.byteOffset;
    return packSpan(lines, Buffer.from(first.buffer, base, last.byteOffset + last.length - base));
  }
  let total = 0;
  for (const l of lines) total += l.length;
  const bytes = Buffer.allocUnsafeSlow(total);
  let off = 0;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    bytes.set(l, off);
    bounds[2 * i] = off;
    bounds[2 * i + 1] = off += l.length;
  }
  return { bytes, bounds };
}

function contiguous(lines: readonly Buffer[]): boolean {
  const ab = lines[0]!.buffer;
  let end = lines[0]!.byteOffset;
  for (const l of lines) {
    if (l.buffer !== ab || l.byteOffset < end) return false;
    end = l.byteOffset + l.length;
  }
  return true;
}
