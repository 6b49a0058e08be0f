/**
 * The worker side of shared/parse-pool.ts, in a file of its own so that the bundle a pool worker runs
 * (shared/ts-worker.ts) holds this and the lesson's module, not the pool's main-thread side.
 */
import { parentPort, workerData } from 'node:worker_threads';

/** What a worker is sent: the lines' bytes (one copy, transferred) and each line's [start, end) in them. */
export interface Request {
  id: number;
  bytes: Uint8Array;
  bounds: Uint32Array;
}
export type Reply = { ready: true } | { id: number; rejects: Array<[number, unknown]> } | { id: number; error: string };

/** Answers every request with `mod[workerData.fn](lines, 0, ...workerData.args)`'s rejects. */
export function runParseWorker(mod: Record<string, unknown>): void {
  const wd = workerData as { module: string; fn: string; args: unknown[] };
  const fn = mod[wd.fn];
  if (typeof fn !== 'function') throw new Error(`${wd.module} has no function ${wd.fn}`);
  const call = fn as (lines: Buffer[], from: number, ...args: unknown[]) => Array<unknown>;
  const port = parentPort!;
  port.on('message', (req: Request) => {
    const bytes = Buffer.from(req.bytes.buffer, req.bytes.byteOffset, req.bytes.byteLength);
    const n = req.bounds.length / 2;
    const lines = new Array<Buffer>(n);
    for (let i = 0; i < n; i++) lines[i] = bytes.subarray(req.bounds[2 * i], req.bounds[2 * i + 1]);
    let reply: Reply;
    try {
      const verdicts = call(lines, 0, ...wd.args);
      const rejects: Array<[number, unknown]> = [];
      for (let i = 0; i < n; i++) if (verdicts[i] !== undefined) rejects.push([i, verdicts[i]]);
      reply = { id: req.id, rejects };
    } catch (err) {
      reply = { id: req.id, error: (err as Error).message };
    }
    port.postMessage(reply);
  });
  port.postMessage({ ready: true } satisfies Reply);
}
