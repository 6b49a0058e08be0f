// Issue 18.5: the UDP receiver keeps its per-stream marks across a restart. Real processes: a day 10
// shipper streams at a steady rate, the receiver is killed with SIGKILL mid-stream and started again on
// the same data dir and port; the stream's counters after the restart show only the real loss (the seqs
// sent while it was down, and what it held unwritten when it died), not one large false gap from seq 1.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { readRecordLines } from '../../shared/storage/read-records.ts';

type Event = Record<string, unknown>;

/** A lesson program (this folder's copy) and its JSON events: the ready line, and a shipper's done line. */
interface Program {
  child: ChildProcess;
  ready: Promise<Event>;
  done: Promise<Event | undefined>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

function start(file: string, args: string[], stdin: 'pipe' | 'ignore' = 'ignore'): Program {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL(file, import.meta.url)), ...args], {
    stdio: [stdin, 'pipe', 'ignore'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const events: Event[] = [];
  let onEvent: (() => void) | undefined;
  const stdout = child.stdout;
  if (stdout === null) throw new Error(`${file}: no stdout`);
  createInterface({ input: stdout }).on('line', (l) => {
    if (!l.startsWith('{')) return;
    events.push(JSON.parse(l) as Event);
    onEvent?.();
  });
  const find = (name: string) =>
    new Promise<Event | undefined>((resolve) => {
      const look = () => {
        const e = events.find((x) => x['event'] === name);
        if (e) resolve(e);
        return e !== undefined;
      };
      if (look()) return;
      const prev = onEvent;
      onEvent = () => {
        prev?.();
        look();
      };
      void exited.then(() => setImmediate(() => resolve(events.find((x) => x['event'] === name))));
    });
  const ready = find('ready').then((e) => e ?? Promise.reject(new Error(`${file} exited before its ready line`)));
  ready.catch(() => {}); // a shipper has no ready line: only a caller that awaits it sees the error
  return {
    child,
    ready,
    done: find('done'),
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

const STREAM = 4242;
/** records fed before the kill, and after the restart */
const PART = 20_000;
const RATE = 20_000;

const record = (i: number) => `{"ts":"2026-12-06T21:00:00.000Z","level":"info","msg":"record ${i}"}\n`;

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
  const p = start('./receiver.ts', [
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--data-dir',
    dir,
    '--stats-interval-ms',
    '100',
  ]);
  started.push(p);
  return p;
}

describe('day 10 receiver across a kill -9 and restart (issue 18.5)', () => {
  it('a running shipper shows only its real loss, not a false gap from seq 1', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ls-day10-restart-'));
    const first = receiver(0);
    const port = Number((await first.ready)['port']);
    // One shipper the whole time (its stream and seqs go on across the receiver's restart), fed on stdin.
    const shipper = start(
      './shipper.ts',
      ['--target', `127.0.0.1:${port}`, '--input', '-', '--rate', String(RATE), '--stream-id', String(STREAM)],
      'pipe',
    );
    started.push(shipper);
    const feed = (from: number, n: number) => {
      let text = '';
      for (let i = from; i < from + n; i++) text += record(i);
      shipper.child.stdin!.write(text);
    };
    feed(1, PART);

    // Kill -9 while it sends: once a good part is on disk.
    await until('a quarter of the first part persisted', async () => {
      const s = await readStats();
      return s && s.records.persisted >= PART / 4 ? true : undefined;
    });
    await first.stop('SIGKILL');
    const before = await persistedSeqs(); // what the first run left on disk (it can add nothing more)
    const mark = Math.max(...before.keys());

    // (the shipper's sends fail while nothing listens — the kernel answers "port unreachable" — and it carries on)
    const second = receiver(port);
    await second.ready;
    feed(PART + 1, PART); // sent to the restarted receiver
    shipper.child.stdin!.end();
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
