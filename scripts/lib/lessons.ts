/**
 * The lessons the launcher knows, in course order. Each lesson folder holds receiver.ts and
 * shipper.ts (day 14: loadgen.ts); `demo` is what `npm run lesson -- <day>` ships after the receiver is up.
 */
export interface LessonInfo {
  id: string;
  title: string;
  /** default receiver port for this lesson (COURSE.md's ports table) */
  port: number;
  /** the client program: shipper.ts, or loadgen.ts on day 14 */
  client: 'shipper' | 'loadgen';
  /** client arguments for the demo run (the launcher adds --target) */
  demo: string[];
}

export const LESSONS: readonly LessonInfo[] = [
  { id: 'day08', title: 'TCP ingestion: framing, validation, limits, backpressure', port: 5140, client: 'shipper', demo: ['--generate', '200000'] },
  { id: 'day09', title: 'Acknowledged delivery: LSP/1 HELLO/BATCH/ACK, resend, dedup, backoff', port: 5141, client: 'shipper', demo: ['--generate', '200000'] },
  { id: 'day10', title: 'UDP ingestion: what UDP gives up, loss you can see per layer', port: 5142, client: 'shipper', demo: ['--generate', '200000', '--rate', '100000'] },
  { id: 'day11', title: 'Batching: trading latency for throughput, measured', port: 5143, client: 'shipper', demo: ['--generate', '200000', '--batch-records', '1000'] },
  { id: 'day12', title: 'Compression: paying CPU to save network and disk, measured per codec', port: 5144, client: 'shipper', demo: ['--generate', '200000', '--codec', 'zstd'] },
  { id: 'day13', title: 'TLS and mutual TLS: certificates, verification, rotation, the dashboard', port: 5145, client: 'shipper', demo: ['--generate', '200000'] },
  { id: 'day14', title: 'Load testing: open-loop rate, loss verified from the files, latency percentiles', port: 5146, client: 'loadgen', demo: ['--rate', '50000', '--duration', '5'] },
];

export function findLesson(id: string): LessonInfo | undefined {
  return LESSONS.find((l) => l.id === id);
}
