/**
 * The stack's demo traffic is realistic (issue 20.4), proved with real processes: scripts/stack.ts with
 * every lane this checkout has, demo on, free ports, a temporary data dir, for a few seconds. Then, from
 * what the receivers stored:
 *   - each record's `ts` is when it was made: within a second or so of the receiver's `_rx.ts` (one
 *     stepped generator shared by all lanes used to run 8× faster than the clock);
 *   - each lane's records arrive steadily (no burst after a long silence, the syslog lane's old fault);
 *   - the day 12 lane batches enough to compress: its stats.json, and the dashboard's overview, show a
 *     ratio above 2 (one record per batch stayed under the 512-byte minimum: 1× forever).
 * Also the generator's real-time option itself, and that seeded records stay byte-for-byte reproducible.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordGenerator } from '../shared/generate.ts';
import { waitFor } from '../shared/dashboard/test-support.ts';
import { readRecordLines } from '../shared/storage/read-records.ts';
import { startDemoStack } from '../tests/support/demo-stack.ts';
import type { Program } from './lib/launch.ts';
import { LANES, laneAvailable } from './lib/stack-lanes.ts';

describe('RecordGenerator: real-time timestamps (clock)', () => {
  it('stamps each record with the clock when it is made; the other fields are the seeded ones', () => {
    let now = Date.UTC(2030, 4, 6, 7, 8, 9, 123);
    const live = new RecordGenerator({ seed: 5, clock: () => now, baseTimeMs: 0, stepMs: 1000 });
    const seeded = new RecordGenerator({ seed: 5 });
    const a = JSON.parse(live.next()) as Record<string, unknown>;
    now += 4321;
    const b = JSON.parse(live.next()) as Record<string, unknown>;
    expect(a.ts).toBe('2030-05-06T07:08:09.123Z');
    expect(b.ts).toBe('2030-05-06T07:08:13.444Z');
    const [s1, s2] = seeded.take(2).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect({ ...a, ts: 0 }).toEqual({ ...s1, ts: 0 });
    expect({ ...b, ts: 0 }).toEqual({ ...s2, ts: 0 });
  });

  it('without a clock a seed still gives the same bytes (day 14 and the bench rely on it)', () => {
    const one = new RecordGenerator({ seed: 42, baseTimeMs: Date.UTC(2026, 10, 26) }).take(50);
    expect(new RecordGenerator({ seed: 42, baseTimeMs: Date.UTC(2026, 10, 26) }).take(50)).toEqual(one);
    expect((JSON.parse(new RecordGenerator({ seed: 1 }).next()) as { ts: string }).ts).toBe('2026-01-01T00:00:00.000Z');
    expect((JSON.parse(one[10]!) as { ts: string }).ts).toBe('2026-11-26T00:00:00.001Z'); // the default step: 0.1 ms
  });
});

/**
 * How far a record's ts may lie from its _rx.ts: day 12 batches for 500 ms, the rest send at once. The defects
 * this catches are days off (a fixed base time) or ~20 s bursts, so the bound is wide enough for a loaded
 * machine: it tells made-now from made-long-ago, it does not time the pipeline.
 */
const MAX_SKEW_MS = 5000;
/** A lane is steady when no two consecutive records arrive further apart than this (20 records/s; the held-back forwarder gave ~20 s gaps). */
const MAX_GAP_MS = 5000;
/** Records per lane to wait for (about 4 s of demo at 20 records/s). */
const RECORDS = 80;

interface Stored {
  ts: string;
  attrs?: { id?: string };
  _rx: { ts: string };
}

describe('the stack demo: records carry their own time, day 12 compresses, every lane flows steadily', () => {
  const lanes = LANES.filter((l) => laneAvailable(l)).map((l) => l.id);
  let root: string;
  let stack: Program | undefined;
  let dataDirs: Record<string, string> = {};
  let overviewRatio: number | null = null;
  let exitCode: number | undefined;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'ls-stack-demo-'));
    stack = await startDemoStack(root, { refreshMs: 250 });
    const ready = await stack.ready;
    dataDirs = Object.fromEntries(
      Object.entries(ready.lanes as Record<string, { dataDir: string }>).map(([id, l]) => [id, l.dataDir]),
    );
    // Until every lane has persisted RECORDS (and day 12's ratio is on the overview), read as the page does.
    const url = new URL('/api/stats', String(ready.dashboard));
    overviewRatio = await waitFor(
      `${RECORDS} records on every lane`,
      async () => {
        const s = (await (await fetch(url)).json()) as {
          lanes: Array<{ name: string; totals: { persisted: number; compressionRatio: number | null } }>;
        };
        if (s.lanes.length < lanes.length || s.lanes.some((l) => l.totals.persisted < RECORDS)) return undefined;
        return s.lanes.find((l) => l.name === 'day12')?.totals.compressionRatio ?? null;
      },
      60_000,
      250,
    );
    // Ctrl-C: shippers drain, receivers flush; what they stored is complete once the stack has exited.
    exitCode = (await stack.stop('SIGINT')).exitCode;
    stack = undefined;
  }, 150_000);

  afterAll(async () => {
    await stack?.stop('SIGTERM');
    await rm(root, { recursive: true, force: true });
  });

  it('stops cleanly', () => {
    expect(exitCode).toBe(0);
  });

  it("each lane's records carry the time they were made, arrive steadily, and are that lane's own", async () => {
    expect(Object.keys(dataDirs).sort()).toEqual([...lanes].sort());
    const report: string[] = [];
    for (const lane of lanes) {
      const skews: number[] = [];
      const rx: number[] = [];
      for await (const line of readRecordLines(dataDirs[lane]!)) {
        const r = JSON.parse(line) as Stored;
        const at = Date.parse(r._rx.ts);
        skews.push(at - Date.parse(r.ts));
        rx.push(at);
        if (r.attrs?.id !== undefined) expect(r.attrs.id).toMatch(new RegExp(`^demo-${lane}-\\d+$`));
      }
      expect(skews.length, lane).toBeGreaterThanOrEqual(RECORDS);
      skews.sort((a, b) => a - b);
      rx.sort((a, b) => a - b);
      let gap = 0;
      for (let i = 1; i < rx.length; i++) gap = Math.max(gap, rx[i]! - rx[i - 1]!);
      const median = skews[skews.length >> 1]!;
      report.push(
        `${lane}: ${skews.length} records, _rx.ts − ts min ${skews[0]} median ${median} max ${skews.at(-1)} ms, largest gap ${gap} ms`,
      );
      // the same clock made ts and _rx.ts: never in the future, and not seconds old
      expect(skews[0], `${lane}: a record's ts is after it was received`).toBeGreaterThanOrEqual(-50);
      expect(skews.at(-1), `${lane}: a record arrived ${skews.at(-1)} ms after its ts`).toBeLessThanOrEqual(
        MAX_SKEW_MS,
      );
      expect(median, lane).toBeLessThanOrEqual(600);
      expect(gap, `${lane}: no record arrived for ${gap} ms`).toBeLessThanOrEqual(MAX_GAP_MS);
    }
    console.log(report.join('\n'));
  });

  it('day 12 batches enough to compress: a ratio above 2, in stats.json and on the overview', async () => {
    if (!lanes.includes('day12')) return;
    const stats = JSON.parse(await readFile(join(dataDirs.day12!, 'stats.json'), 'utf8')) as {
      compression: Record<string, { batches: number; records: number; wireBytes: number; rawBytes: number }>;
    };
    const all = Object.values(stats.compression);
    const raw = all.reduce((n, c) => n + c.rawBytes, 0);
    const wire = all.reduce((n, c) => n + c.wireBytes, 0);
    const zstd = stats.compression.zstd!;
    console.log(
      `day12: ${zstd.records} records in ${zstd.batches} zstd batches, ${raw} bytes → ${wire} on the wire: ${(raw / wire).toFixed(2)}×; overview ${overviewRatio}×`,
    );
    expect(zstd.records / zstd.batches, 'records per batch').toBeGreaterThanOrEqual(5);
    expect(raw / wire).toBeGreaterThan(2);
    expect(overviewRatio).toBeGreaterThan(2);
  });
});
