// A small TCP client for checks: writes that resolve once flushed to the kernel, a `closed`
// promise that says when (and how) the other side closed, and every byte received.
import net from 'node:net';
import { CheckFailure } from './assert.ts';

export interface Closed {
  /** Date.now() when the socket closed. */
  at: number;
  hadError: boolean;
  error?: Error | undefined;
}

export interface WriteSplitOptions {
  /**
   * After each part is flushed, pause this long before the next one. Traffic shaping only (a
   * receiver that reads the parts as separate chunks must reassemble them); correctness of the
   * check never depends on it. Default 0: the next part goes as soon as the previous one is flushed.
   */
  gapMs?: number;
}

export class TcpClient {
  readonly socket: net.Socket;
  readonly closed: Promise<Closed>;
  /** Date.now() when the connection was established. */
  readonly connectedAt: number;
  private chunks: Buffer[] = [];
  private receivedBytes = 0;
  private lastError: Error | undefined;
  private closedInfo: Closed | undefined;
  private endedAt: number | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.connectedAt = Date.now();
    const addr = socket.localAddress ?? '';
    this.localPeer = addr.includes(':') ? `[${addr}]:${socket.localPort}` : `${addr}:${socket.localPort}`;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.receivedBytes += chunk.length;
    });
    socket.on('end', () => {
      this.endedAt = Date.now();
    });
    this.closed = new Promise<Closed>((resolve) => {
      socket.once('close', (hadError) => {
        this.closedInfo = { at: Date.now(), hadError, error: this.lastError };
        resolve(this.closedInfo);
      });
    });
  }

  static connect(host: string, port: number, timeoutMs = 5000): Promise<TcpClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new CheckFailure({
            expected: `a TCP connection to ${host}:${port} within ${timeoutMs} ms`,
            received: 'no connection (timed out)',
            where: `${host}:${port}`,
          }),
        );
      }, timeoutMs);
      const onError = (err: Error) => {
        clearTimeout(timer);
        reject(
          new CheckFailure(
            {
              expected: `a TCP connection to ${host}:${port}`,
              received: `${(err as NodeJS.ErrnoException).code ?? err.message}`,
              where: `${host}:${port}`,
              hint: 'is the receiver listening on the port its ready line announced?',
            },
            { cause: err },
          ),
        );
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        const client = new TcpClient(socket);
        socket.on('error', (err) => {
          client.lastError = err;
        });
        resolve(client);
      });
    });
  }

  /** `address:port` of this end, as a receiver would see it as the peer (kept after close). */
  readonly localPeer: string;

  get destroyed(): boolean {
    return this.socket.destroyed;
  }

  /** True once the other side ended its half (FIN received). */
  get peerEnded(): boolean {
    return this.endedAt !== undefined;
  }

  get peerEndedAt(): number | undefined {
    return this.endedAt;
  }

  get closedState(): Closed | undefined {
    return this.closedInfo;
  }

  get error(): Error | undefined {
    return this.lastError;
  }

  received(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.receivedBytes)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  /**
   * Resolves once `data` has been handed to the kernel; rejects with a CheckFailure if the socket is
   * closed or fails (the receiver closed or reset the connection).
   */
  write(data: Buffer | string): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    const failure = (err: Error | undefined) =>
      new CheckFailure(
        {
          expected: `to send ${bytes} bytes on the connection from ${this.localPeer}`,
          received: `the connection was ${this.peerEnded ? 'closed' : 'reset or closed'} by the receiver (${(err && 'code' in err && typeof err.code === 'string' ? err.code : undefined) ?? err?.message ?? 'socket closed'})`,
          where: `connection from ${this.localPeer}`,
          hint: 'the receiver must keep a connection open while the client is sending',
        },
        { cause: err },
      );
    return new Promise((resolve, reject) => {
      if (this.socket.destroyed || this.socket.writableEnded) {
        reject(failure(this.lastError));
        return;
      }
      this.socket.write(data, (err) => (err ? reject(failure(err)) : resolve()));
    });
  }

  /** Writes `data` in parts cut at `offsets` (ascending byte offsets), each flushed before the next. */
  async writeSplit(data: Buffer | string, offsets: number[], opts: WriteSplitOptions = {}): Promise<void> {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let from = 0;
    const cuts = [...offsets.filter((o) => o > 0 && o < buf.length), buf.length];
    for (let i = 0; i < cuts.length; i++) {
      const to = cuts[i] as number;
      if (to <= from) continue;
      await this.write(buf.subarray(from, to));
      from = to;
      if (opts.gapMs && i < cuts.length - 1) await new Promise((r) => setTimeout(r, opts.gapMs));
    }
  }

  /** Half-closes our side (FIN); resolves when flushed. */
  end(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed || this.socket.writableEnded) return resolve();
      this.socket.end(() => resolve());
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Resolves with `closed`, or rejects with a CheckFailure after `timeoutMs`. */
  async waitClosed(timeoutMs: number, what = 'the receiver to close the connection'): Promise<Closed> {
    let timer: NodeJS.Timeout | undefined;
    const start = Date.now();
    try {
      return await Promise.race([
        this.closed,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            reject(
              new CheckFailure({
                expected: `${what} within ${timeoutMs} ms`,
                received: `still open after ${Date.now() - start} ms${this.peerEnded ? ' (the receiver ended its side but the socket did not close)' : ''}`,
                where: `connection from ${this.localPeer}`,
              }),
            );
          }, timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}

export function connectTcp(host: string, port: number, timeoutMs?: number): Promise<TcpClient> {
  return TcpClient.connect(host, port, timeoutMs);
}
