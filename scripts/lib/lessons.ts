/**
 * The lessons the launcher knows, in course order. Each lesson folder holds receiver.ts and
 * shipper.ts (day 14: loadgen.ts); `demo` is what `npm run lesson -- <day>` ships after the receiver is up.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { lane } from '../../shared/lanes.ts';

export interface LessonInfo {
  id: string;
  title: string;
  /** default receiver port for this lesson: its lane's (shared/lanes.ts; COURSE.md's ports table) */
  port: number;
  /** the client program: shipper.ts, or loadgen.ts on day 14 */
  client: 'shipper' | 'loadgen';
  /** client arguments for the demo run (the launcher adds --target, and --state-dir where `stateful`) */
  demo: string[];
  /** the client keeps a --state-dir (the LSP/1 shippers): the launcher gives it the run's own */
  stateful?: boolean;
  /** receiver arguments the demo adds */
  demoReceiver?: string[];
  /**
   * Day 09: the demo ships through a FaultProxy (shared/fault-proxy.ts) that cuts the connection once,
   * mid-run, so resend and dedup show up in the summary.
   */
  cutOnce?: boolean;
}

/** Each lesson's row; its port is its lane's (shared/lanes.ts) and its client the shipper unless it says, added below. */
const ROWS: readonly (Omit<LessonInfo, 'port' | 'client'> & { client?: 'loadgen' })[] = [
  {
    id: 'day08',
    title: 'TCP ingestion: framing, validation, limits, backpressure',
    demo: ['--generate', '200000'],
  },
  {
    id: 'day09',
    title: 'Acknowledged delivery: LSP/1 HELLO/BATCH/ACK, resend, dedup, backoff',
    demo: ['--generate', '200000'],
    stateful: true,
    // An fsync every 500 ms (the default, --fsync group, fsyncs back to back): the cut lands between two
    // fsyncs, so the receiver holds records it has not made durable yet. Its HELLO's ACK names only the
    // durable ones, the shipper sends the rest again, and the receiver drops the copies: resend + dedup,
    // visible in one cut.
    demoReceiver: ['--fsync', 'interval', '--fsync-interval-ms', '500'],
    cutOnce: true,
  },
  {
    id: 'day10',
    title: 'UDP ingestion: what UDP gives up, loss you can see per layer',
    demo: ['--generate', '200000', '--rate', '100000'],
  },
  {
    id: 'day11',
    title: 'Batching: trading latency for throughput, measured',
    demo: ['--generate', '200000', '--batch-records', '1000'],
    stateful: true,
  },
  {
    id: 'day12',
    title: 'Compression: paying CPU to save network and disk, measured per codec',
    demo: ['--generate', '200000', '--codec', 'zstd'],
    stateful: true,
  },
  {
    id: 'day13',
    title: 'TLS and mutual TLS: certificates, verification, rotation, the dashboard',
    demo: ['--generate', '200000'],
    stateful: true,
  },
  {
    id: 'day14',
    title: 'Load testing: open-loop rate, loss verified from the files, latency percentiles',
    client: 'loadgen',
    demo: ['--rate', '50000', '--duration', '5'],
  },
];

export const LESSONS: readonly LessonInfo[] = ROWS.map((row) => ({
  ...row,
  client: row.client ?? 'shipper',
  port: lane(row.id).port,
}));

export function findLesson(id: string): LessonInfo | undefined {
  return LESSONS.find((l) => l.id === id);
}

/**
 * Where a lesson run keeps its files: `<run>/receiver` (the receiver's --data-dir) and `<run>/shipper`
 * (the client's --state-dir), `<run>` = `data/lesson/<day>` unless --data-dir says otherwise. Never
 * `data/<day>` or `data/<day>-shipper` (a program's own defaults, for runs by hand) nor the stack's
 * `data/stack/…` (scripts/lib/stack-lanes.ts): a lesson run and a running `npm start` share nothing.
 */
export const LESSON_DATA_ROOT = join('data', 'lesson');

export interface LessonRunDirs {
  run: string;
  receiver: string;
  shipper: string;
}

export function lessonRunDirs(id: string, runDir = join(LESSON_DATA_ROOT, id)): LessonRunDirs {
  return { run: runDir, receiver: join(runDir, 'receiver'), shipper: join(runDir, 'shipper') };
}

/** The lesson folder `<lessonsRoot>/<id>`, or a one-line reason it cannot be run from there. */
export function lessonFolder(lessonsRoot: string, id: string, files: string[]): { dir: string } | { error: string } {
  const dir = join(lessonsRoot, id);
  if (!existsSync(dir)) {
    return {
      error: `no ${id} in ${lessonsRoot} (--lessons names a lessons folder, e.g. DIR/lessons after \`npm run starter -- ${id} --out DIR\`)`,
    };
  }
  const missing = files.filter((f) => !existsSync(join(dir, f)));
  if (missing.length) return { error: `${dir} has no ${missing.join(', ')}` };
  return { dir };
}
