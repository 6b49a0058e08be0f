/**
 * The disk's own floor under group commit (issue 21.4, the "disk alone" row of `npm run bench -- ack-latency`):
 * append at the lane's byte rate and fdatasync back to back — group commit with no receiver at all: no
 * parsing, no event loop of its own to stall. A record that arrives at a random instant waits for the end of
 * the first fsync that starts after it; the percentiles of that wait are the best ACK latency any receiver
 * could get on this disk at this byte rate, and the gap to a lane's row is what the lane adds above it.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';

export interface DiskFloor {
  fsyncs: number;
  bytes: number;
  ms: number;
  /** one fsync's duration */
  fsyncP50Ms: number;
  fsyncP99Ms: number;
  fsyncMaxMs: number;
  /** the wait of a record arriving at a uniformly random instant: until the end of the first fsync started after it */
  floorP50Ms: number;
  floorP99Ms: number;
  floorMaxMs: number;
}

const CHUNK_BYTES = 64 << 10;
const round2 = (ms: number) => Math.round(ms * 100) / 100;

/** The q-quantile (0..1) of sorted values. */
function quantile(sorted: readonly number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : 0;
}

/** Appends `bytesPerSec` to `<dir>/disk-floor.bin` for `seconds`, fsyncing back to back; see the file header. */
export async function diskFloor(dir: string, bytesPerSec: number, seconds: number): Promise<DiskFloor> {
  const fh = await open(join(dir, 'disk-floor.bin'), 'a');
  const chunk = Buffer.alloc(CHUNK_BYTES, 0x61);
  const syncs: [start: number, end: number][] = [];
  let written = 0;
  let stop = false;
  const t0 = performance.now();
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  // the writer: paced appends, as a lane's writes would arrive
  const writer = (async () => {
    while (!stop) {
      const ahead = (written / bytesPerSec) * 1000 - (performance.now() - t0);
      if (ahead > 0) await sleep(ahead);
      await fh.write(chunk);
      written += chunk.length;
    }
  })();
  try {
    while (performance.now() - t0 < seconds * 1000) {
      const start = performance.now();
      await fh.datasync();
      syncs.push([start, performance.now()]);
      // nothing written since the last fsync: wait for the writer rather than spin on empty fsyncs
      if (performance.now() - start < 0.2) await sleep(1);
    }
  } finally {
    stop = true;
    await writer;
    await fh.close();
  }
  const durations = syncs.map(([s, e]) => e - s).sort((a, b) => a - b);
  // arrivals every 50 µs over the run: each waits for the end of the first fsync that starts after it
  const waits: number[] = [];
  let next = 0;
  for (let t = syncs[0]![0]; syncs.length > 1 && t < syncs.at(-1)![0]; t += 0.05) {
    while (syncs[next]![0] < t) next++;
    waits.push(syncs[next]![1] - t);
  }
  waits.sort((a, b) => a - b);
  return {
    fsyncs: syncs.length,
    bytes: written,
    ms: performance.now() - t0,
    fsyncP50Ms: round2(quantile(durations, 0.5)),
    fsyncP99Ms: round2(quantile(durations, 0.99)),
    fsyncMaxMs: round2(durations.at(-1) ?? 0),
    floorP50Ms: round2(quantile(waits, 0.5)),
    floorP99Ms: round2(quantile(waits, 0.99)),
    floorMaxMs: round2(waits.at(-1) ?? 0),
  };
}
