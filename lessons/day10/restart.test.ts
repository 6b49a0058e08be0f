// Issue 18.5: the UDP receiver keeps its per-stream marks across a restart. Real processes: a day 10
// shipper streams at a steady rate, the receiver is killed with SIGKILL mid-stream and started again on
// the same data dir and port; the stream's counters after the restart show only the real loss (the seqs
// sent while it was down, and what it held unwritten when it died), not one large false gap from seq 1.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startProgram, type Program } from '../../scripts/lib/launch.ts';
import { readRecordLines } from '../../shared/storage/read-records.ts';

const STREAM = 4242;
const RECORDS = 60_000;
const RATE = 15_000;

const started: Program[] = [];
let dir = '';

afterEach(async () => {
  for (const p of started.splice(0)) await p.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Stats {
  records: { persisted: number };
  streams: Record<string, { hwm: number; received: number; gaps: number; duplicates: number }>;
  udp: { tooOld: number; appDrops: number; kernelDrops: number | null };
  recovery?: { streams: number };
}

const readStats = async (): Promise<Stats | undefined> => {
  try {
    return JSON.parse(await readFile(join(dir, 'stats.json'), 'utf8')) as Stats;
  } catch {
    return undefined; // not written yet, or mid-rename
  }
};

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every persisted seq of STREAM, with how often it is on disk. */
async function persistedSeqs(): Promise<Map<number, number>> {
  const seen = new Map<number, number>();
  for await (const line of readRecordLines(dir)) {
    const rx = (JSON.parse(line) as { _rx: { stream: number; seq: number } })._rx;
    if (rx.stream === STREAM) seen.set(rx.seq, (seen.get(rx.seq) ?? 0) + 1);
  }
  return seen;
}

function receiver(port: number): Program {
  const p = startProgram({
    name: 'day10 receiver',
    file: 'lessons/day10/receiver.ts',
    args: ['--host', '127.0.0.1', '--port', String(port), '--data-dir', dir, '--stats-interval-ms', '100'],
  });
  started.push(p);
  return p;
}

describe('day 10 receiver across a kill -9 and restart (issue 18.5)', () => {
  it('a running shipper shows only its real loss, not a false gap from seq 1', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ls-day10-restart-'));
    const first = receiver(0);
    const { port } = await first.ready;
    const shipper = startProgram({
      name: 'day10 shipper',
      file: 'lessons/day10/shipper.ts',
      args: [
        '--target',
        `127.0.0.1:${port}`,
        '--generate',
        String(RECORDS),
        '--rate',
        String(RATE),
        '--stream-id',
        String(STREAM),
      ],
    });
    started.push(shipper);

    // Kill -9 once a good part is on disk, well before the shipper is done.
    await until('a third of the records persisted', async () => {
      const s = await readStats();
      return s && s.records.persisted >= RECORDS / 3 ? true : undefined;
    });
    await first.stop('SIGKILL');
    const before = await persistedSeqs(); // what the first run left on disk (it can add nothing more)
    const mark = Math.max(...before.keys());
    expect(mark).toBeLessThan(RECORDS); // the shipper is still sending

    const second = receiver(port);
    await second.ready;
    // (its sends fail while nothing listens: the kernel answers "port unreachable", it carries on)
    expect(await shipper.done).toBeDefined();
    await second.stop(); // SIGTERM: drain, flush, final stats
    const st = (await readStats())!;
    const after = await persistedSeqs();

    // nothing on disk twice, across both runs
    expect([...after.values()].filter((n) => n > 1)).toEqual([]);
    // the mark came back from disk: the stream continued from it
    expect(st.recovery?.streams).toBe(1);
    const s = st.streams[String(STREAM)]!;
    const hwm = Math.max(...after.keys());
    expect(hwm).toBeGreaterThan(mark);
    expect(s.hwm).toBe(hwm);
    // gaps = exactly the seqs above the restored mark that are not on disk (sent while down, or lost
    // since): the real loss of this run, never the `mark` records the first run already stored
    let missing = 0;
    for (let q = mark + 1; q <= hwm; q++) if (!after.has(q)) missing++;
    expect(s.gaps).toBe(missing);
    expect(s.received).toBe(hwm - mark - missing);
    expect(s.received).toBeGreaterThan(0);
    // (with the marks forgotten, the restart would count seqs 1…mark too: gaps = missing + mark)
  }, 120_000);
});
