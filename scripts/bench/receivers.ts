/**
 * Running one receiver for one benchmark run: a fresh data dir, the program started through the process
 * contract (ready line), the bytes moved, the program stopped (SIGTERM: final stats.json), and the delivery
 * claim checked against what the receiver says it persisted. Shared by scenarios.ts and summary.ts.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { startProgram, type Program, type ProgramEvent } from '../lib/launch.ts';
import { blast } from './blast.ts';
import { lspBlast } from './lsp-blast.ts';
import { peakRssExtra } from './rss.ts';
import type { RunResult } from './types.ts';
import { readyToTime } from './warm-memory.ts';

export async function tempDir(tag: string): Promise<string> {
  return mkdtemp(join(os.tmpdir(), `logstream-bench-${tag}-`));
}

/** A lesson's receiver on any free port, writing into `dataDir`, with `args` after those. */
export function startReceiver(name: string, file: string, dataDir: string, args: string[] = []): Program {
  return startProgram({ name, file, args: ['--port', '0', '--data-dir', dataDir, ...args] });
}

/**
 * A lesson's shipper sending `records` generated records to `receiver` (a started program: its ready line is
 * awaited and the clock may start, readyToTime; or the address from a ready line), with `args` after those;
 * resolves with its done line (a shipper that prints none fails the run).
 */
export async function shipperDone(
  name: string,
  file: string,
  receiver: Program | { host: string; port: number },
  records: number,
  args: string[] = [],
): Promise<ProgramEvent> {
  const ready = 'ready' in receiver ? await readyToTime(receiver) : receiver;
  const tx = startProgram({
    name,
    file,
    args: ['--target', `${ready.host}:${ready.port}`, '--generate', String(records), ...args],
  });
  const done = await tx.done;
  if (!done) throw new Error(`${name} printed no done line`);
  return done;
}

/** Records the receiver persisted, from the stats.json it writes at SIGTERM. */
export async function persisted(dir: string): Promise<number> {
  const stats = JSON.parse(await readFile(join(dir, 'stats.json'), 'utf8')) as { records: { persisted: number } };
  return stats.records.persisted;
}

/**
 * Starts `file` on a fresh data dir, `move`s the bytes to it, stops it; with `expect`, its stats must
 * account for exactly that many records (the delivery check). `rss`: the receiver's peak RSS (rss.ts), read
 * once the bytes are moved and before it is stopped, for the run's `extra`.
 */
export async function withReceiver<T extends { ms: number; bytes: number }>(
  file: string,
  args: string[],
  move: (host: string, port: number) => Promise<T>,
  expect?: number,
): Promise<T & { rss: Record<string, number> }> {
  const dir = await tempDir('rx');
  const p = startReceiver(file, file, dir, args);
  try {
    const ready = await readyToTime(p);
    const r = { ...(await move(ready.host, ready.port)), rss: peakRssExtra(p.pid) };
    await p.stop();
    if (expect !== undefined) {
      const got = await persisted(dir);
      if (got !== expect) throw new Error(`${file} persisted ${got} of ${expect} records`);
    }
    return r;
  } finally {
    await p.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** NDJSON chunks blasted over TCP; timed connect → the receiver closing its side once all is written. */
export async function blastReceiver(
  file: string,
  args: string[],
  chunks: readonly Buffer[],
  records: number,
  opts: { verify: boolean },
): Promise<RunResult> {
  const r = await withReceiver(
    file,
    args,
    (host, port) => blast(host, port, chunks),
    opts.verify ? records : undefined,
  );
  return { records, bytes: r.bytes, ms: r.ms, extra: r.rss };
}

/** Pre-encoded LSP/1 BATCH frames (seqs 1..records of `stream`); timed connect → the ACK of the last record. */
export async function lspReceiver(
  file: string,
  args: string[],
  stream: number,
  frames: readonly Buffer[],
  records: number,
): Promise<RunResult> {
  const r = await withReceiver(file, args, (host, port) => lspBlast(host, port, stream, frames, records), records);
  return { records, bytes: r.bytes, ms: r.ms, extra: { acks: r.acks, ...r.rss } };
}
