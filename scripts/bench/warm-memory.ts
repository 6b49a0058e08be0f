/**
 * Free memory touched just before a run is timed, the same for every contender (CONVENTIONS.md §5: what
 * differs between rows must be the software, not the machine's state).
 *
 * Why: on a virtual machine whose balloon driver reports free pages to the host (virtio-balloon "free
 * page reporting", as on the machines this lab is measured on), memory that has stayed free for ~2 s is
 * handed back, and the first write into it afterwards costs a page fault in the host for every 4 KiB.
 * Writing 192 MiB into a fresh file took 0.05 s right after other writes and 0.4–1.4 s after two idle
 * seconds (dd, same machine, same minute). A benchmark run is exactly "a fresh file after an idle pause"
 * — and the pause is longer for a contender that takes longer to start (tsx), so which row paid it
 * depended on start-up time, not on the code being measured: single runs of one row ranged 2× apart.
 *
 * So every row, once its server is ready and just before its clock starts, writes a scratch file of
 * WARM_BYTES into the temp dir and removes it: the pages its output and its heap will take next are
 * then pages the host has just backed, as they are on a machine that has been writing all along (a
 * long-running receiver recycles its page cache; it does not meet freshly returned memory every run).
 * `LOGSTREAM_BENCH_COLD=1` turns this off, to see the figures with the pause left in.
 */
import { closeSync, openSync, unlinkSync, writeSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

/** More than a run's output and heap growth at the default sizes (the syslog lane: ~190 MB + ~100 MB). */
export const WARM_BYTES = 512 << 20;

let zeros: Buffer | undefined;

/** Writes and removes a scratch file of `bytes` (no fsync: the page cache is what is warmed). */
export function warmFreeMemory(bytes = WARM_BYTES, dir = os.tmpdir()): void {
  if (process.env['LOGSTREAM_BENCH_COLD'] === '1') return;
  zeros ??= Buffer.alloc(4 << 20);
  const file = join(dir, `logstream-bench-warm-${process.pid}`);
  const fd = openSync(file, 'w');
  try {
    for (let left = bytes; left > 0; left -= zeros.length) writeSync(fd, zeros, 0, Math.min(left, zeros.length));
  } finally {
    closeSync(fd);
    unlinkSync(file);
  }
}

/** `p.ready`, then warmFreeMemory(): the moment a benchmark's clock may start. */
export async function readyToTime<T>(p: { ready: Promise<T> }): Promise<T> {
  const ready = await p.ready;
  warmFreeMemory();
  return ready;
}
