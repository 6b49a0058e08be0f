/**
 * The benchmark's LSP/1 client: HELLO, then pre-encoded BATCH frames as fast as the socket takes them
 * (respecting backpressure), and the clock stops at the ACK that covers the last record — so the time
 * includes everything the receiver promises: decoded, validated, written, fsynced, acknowledged.
 */
import net from 'node:net';
import { encodeBatch } from '../../shared/protocol/batch.ts';
import { encodeHello, FrameDecoder, FrameType } from '../../shared/protocol/frame.ts';
import { waitDrain } from '../../shared/net.ts';

export interface LspBlastResult {
  ms: number;
  bytes: number;
  acks: number;
}

/** Pre-encodes `lines` as BATCH frames of `batchRecords` records, seqs 1..N of `stream`. */
export function toBatchFrames(lines: readonly string[], stream: number, batchRecords = 1000): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < lines.length; i += batchRecords) {
    out.push(encodeBatch({ stream, seq: i + 1, records: lines.slice(i, i + batchRecords) }));
  }
  return out;
}

/** Opens a connection (plain TCP, or TLS in day13.ts) and resolves once it is ready for frames. */
export type Connect = (host: string, port: number) => Promise<net.Socket>;

export const plainConnect: Connect = (host, port) =>
  new Promise((resolve, reject) => {
    const s = net.connect({ host, port, noDelay: true });
    s.once('connect', () => resolve(s)).once('error', reject);
  });

/**
 * Sends the frames on one connection (`connect`: plain TCP by default; the clock includes it, and a TLS
 * handshake); resolves when the receiver has ACKed seq `lastSeq`.
 */
export async function lspBlast(
  host: string,
  port: number,
  stream: number,
  frames: readonly Buffer[],
  lastSeq: number,
  connect: Connect = plainConnect,
): Promise<LspBlastResult> {
  const t0 = performance.now();
  const socket = await connect(host, port);
  const decoder = new FrameDecoder();
  let acks = 0;
  let acked = -1;
  let onAck: (() => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    for (const f of decoder.push(chunk)) {
      if (f.type === FrameType.ACK) {
        acks++;
        acked = f.seq;
        onAck?.();
      } else if (f.type === FrameType.NACK) {
        socket.destroy(new Error(`NACK: ${f.payload.toString()}`));
      }
    }
  });
  const closed = new Promise<never>((_, rej) =>
    socket.once('close', () => rej(new Error(`connection closed at ACK ${acked}`))),
  );
  closed.catch(() => {});
  const ackAtLeast = (seq: number) =>
    Promise.race([
      closed,
      new Promise<void>((resolve) => {
        if (acked >= seq) return resolve();
        onAck = () => {
          if (acked >= seq) resolve();
        };
      }),
    ]);
  socket.write(encodeHello(stream, { name: 'bench' }));
  await ackAtLeast(0);
  let bytes = 0;
  for (const f of frames) {
    bytes += f.length;
    if (!socket.write(f)) await waitDrain(socket);
  }
  await ackAtLeast(lastSeq);
  const ms = performance.now() - t0;
  socket.destroy();
  return { ms, bytes, acks };
}
