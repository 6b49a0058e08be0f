/**
 * The chaos records and their pace (issue 10, issue 18 item 6): record K is one NDJSON line numbered K
 * (`msg: "chaos record K"`, read back by verify.ts), and a lane's N records are due evenly over the run.
 * The acked lanes follow one input file that `feed` grows; the stream lanes write the same lines to their
 * shippers' stdin (stream-lanes.ts).
 */
import { createWriteStream } from 'node:fs';
import { sleep } from './util.ts';

/** The chaos record K as one NDJSON line. */
export function chaosLine(k: number, ts: string): string {
  return `{"i":${k},"ts":"${ts}","level":"${k % 10 === 0 ? 'warn' : 'info'}","msg":"chaos record ${k}","service":"chaos"}\n`;
}

/** Records due by now on a schedule of `n` over `durationMs` from `t0`. */
export const dueBy = (n: number, t0: number, durationMs: number) =>
  Math.min(n, Math.ceil((n * (Date.now() - t0 + 50)) / durationMs));

/** Appends records 1..n to `path` over `durationMs`, in small chunks (a log that grows). */
export async function feed(path: string, n: number, durationMs: number, stopped: () => boolean): Promise<void> {
  const out = createWriteStream(path, { flags: 'a' });
  const t0 = Date.now();
  let i = 0;
  while (i < n && !stopped()) {
    const due = dueBy(n, t0, durationMs);
    if (due > i) {
      const ts = new Date().toISOString();
      const parts: string[] = [];
      for (; i < due; i++) parts.push(chaosLine(i + 1, ts));
      if (!out.write(parts.join(''))) await new Promise<void>((r) => out.once('drain', () => r()));
    }
    await sleep(50);
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}
