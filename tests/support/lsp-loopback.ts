/**
 * "A receiver + a raw LSP/1 client" on loopback, for the tests of day 09's ingest and what builds on it
 * (lessons/day09/*.test.ts, lessons/scale/jetstream/sink.test.ts): an AckedIngest behind a real
 * LspReceiver on a port picked free, and a client that writes raw frames and collects what comes back.
 * One copy of both (issue 22).
 */
import net from 'node:net';
import { AckedIngest, type AckedIngestOptions } from '../../lessons/day09/ingest.ts';
import { createLog } from '../../shared/log.ts';
import { LspReceiver } from '../../shared/lsp-receiver.ts';
import { FrameDecoder, FrameType, parseNack, type Frame } from '../../shared/protocol/frame.ts';
import { ReceiverStats } from '../../shared/stats.ts';

/** A raw LSP/1 connection: write frames on `socket`, read what came back in `frames`. */
export interface RawLspClient {
  socket: net.Socket;
  frames: Frame[];
  /** resolves when the connection closes (the receiver closes it after a fatal NACK) */
  closed: Promise<void>;
  /** the seqs of the ACKs received, of `stream` when given */
  acks(stream?: number): number[];
  /** the first NACK, parsed */
  nack(): { code: string; message: string } | undefined;
  /** waits until `cond` holds (polled every 5 ms, 5 s at most); a timeout names `what` and the frames */
  until(cond: () => boolean, what?: string): Promise<void>;
}

/** Connects a RawLspClient to 127.0.0.1:`port`. */
export async function connectRaw(port: number): Promise<RawLspClient> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((r) => socket.once('connect', r));
  socket.on('error', () => {});
  const frames: Frame[] = [];
  const dec = new FrameDecoder();
  socket.on('data', (c: Buffer) => frames.push(...dec.push(c)));
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  return {
    socket,
    frames,
    closed,
    acks: (stream) =>
      frames.filter((f) => f.type === FrameType.ACK && (stream === undefined || f.stream === stream)).map((f) => f.seq),
    nack: () => {
      const f = frames.find((x) => x.type === FrameType.NACK);
      return f ? parseNack(f) : undefined;
    },
    until: async (cond, what = 'the condition') => {
      const end = Date.now() + 5000;
      while (!cond()) {
        if (Date.now() > end)
          throw new Error(
            `timed out waiting for ${what}; frames ${frames.map((f) => `${FrameType[f.type]}(${f.stream},${f.seq})`).join(' ')}`,
          );
        await new Promise((r) => setTimeout(r, 5));
      }
    },
  };
}

/** What startIngest takes: the data dir, and any AckedIngest option (lane `t`, fsync every 10 ms by default). */
export type IngestOptions = Pick<AckedIngestOptions, 'dataDir'> & Partial<AckedIngestOptions>;

/** An AckedIngest behind an LspReceiver listening on 127.0.0.1, a port picked free. */
export async function startIngest(options: IngestOptions) {
  const lane = options.lane ?? 't';
  const stats = options.stats ?? new ReceiverStats(lane, 'lsp1-tcp');
  const log = options.log ?? createLog('test');
  const ingest = await AckedIngest.open({
    fsync: 'interval',
    fsyncIntervalMs: 10,
    rotateBytes: 1 << 30,
    ...options,
    lane,
    stats,
    log,
  });
  const rx = new LspReceiver({ handlers: ingest.handlers, log, stats, maxConnections: 10, idleTimeoutMs: 60_000 });
  ingest.attach(rx);
  const server = net.createServer({ noDelay: true }, rx.accept);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const stop = async (): Promise<void> => {
    server.close();
    await ingest.shutdown(rx);
  };
  return { stats, ingest, rx, port, stop };
}
