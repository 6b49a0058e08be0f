/**
 * The benchmark's TCP client: writes pre-built bytes as fast as the socket takes them (respecting
 * backpressure), half-closes, and waits for the server to close its side. Timing runs from connect to
 * the server's FIN, so it covers everything the receiver did with the bytes.
 */
import net from 'node:net';
import { waitDrain } from '../../shared/net.ts';

export interface BlastResult {
  ms: number;
  bytes: number;
}

/** Sends `chunks` over `connections` sockets (chunks dealt round-robin). */
export async function blast(
  host: string,
  port: number,
  chunks: readonly Buffer[],
  connections = 1,
): Promise<BlastResult> {
  const t0 = performance.now();
  let bytes = 0;
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      const socket = net.connect({ host, port, noDelay: false });
      await new Promise<void>((res, rej) => socket.once('connect', res).once('error', rej));
      const closed = new Promise<void>((res) => socket.once('close', () => res()));
      socket.on('error', () => {});
      for (let i = c; i < chunks.length; i += connections) {
        const chunk = chunks[i]!;
        bytes += chunk.length;
        if (!socket.write(chunk)) await waitDrain(socket);
      }
      socket.end();
      await closed;
    }),
  );
  return { ms: performance.now() - t0, bytes };
}

/** Joins NDJSON lines into ~`chunkBytes` buffers. */
export function toChunks(lines: Iterable<string>, chunkBytes = 1 << 20): Buffer[] {
  const out: Buffer[] = [];
  let parts: string[] = [];
  let size = 0;
  for (const line of lines) {
    parts.push(line);
    size += line.length + 1;
    if (size >= chunkBytes) {
      out.push(Buffer.from(`${parts.join('\n')}\n`));
      parts = [];
      size = 0;
    }
  }
  if (parts.length) out.push(Buffer.from(`${parts.join('\n')}\n`));
  return out;
}
