// What several of day10's checks use (split out of checks/day10.ts, issue 22).
import dgram from 'node:dgram';
import { encodeBatch } from '../../shared/protocol/batch.ts';
import { FrameDecoder, FrameType, type Frame } from '../../shared/protocol/frame.ts';
import { fail, show, waitFor } from '../harness/assert.ts';
import { readStats, type Stats } from '../harness/persisted.ts';
import type { CheckContext, RunResult } from '../harness/types.ts';
import { startReceiver as startKitReceiver } from '../harness/kit/programs.ts';

export type Rec = Record<string, unknown>;

/** The UDP receiver on an OS-picked port with its own data dir; stats every 100 ms. */
export const startReceiver = (ctx: CheckContext, extra: string[] = []) =>
  startKitReceiver(ctx, {
    extra,
    transport: 'udp',
    portCheck: {
      what: 'the ready line to carry the bound UDP port (a positive integer)',
      where: 'ready line',
      hint: 'with --port 0 the OS picks a port; announce the one you got (socket.address().port)',
    },
  });

export function doneLine(r: RunResult, cmd: string): Rec {
  const done = r.json.find((j) => j['event'] === 'done');
  if (!done)
    fail({
      expected: `a {"event":"done",…} line on stdout of \`${cmd}\``,
      received: show(r.stdout.slice(-300) || '(empty stdout)'),
      where: 'shipper stdout',
      hint: `stderr: ${r.stderr.trim().slice(-300)}`,
    });
  return done;
}

export interface UdpPeer {
  socket: dgram.Socket;
  /** `127.0.0.1:port` as the receiver sees us */
  localPeer: string;
  /** Sends each datagram, at most `maxInFlight` unconfirmed at once; resolves with the number of failed sends. */
  sendAll(datagrams: readonly Buffer[], maxInFlight?: number): Promise<number>;
  close(): void;
}

export async function udpPeer(host: string, port: number): Promise<UdpPeer> {
  const socket = dgram.createSocket('udp4');
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.connect(port, host, () => resolve());
  });
  const local = socket.address();
  return {
    socket,
    localPeer: `${local.address}:${local.port}`,
    async sendAll(datagrams, maxInFlight = 1) {
      let inFlight = 0;
      let errors = 0;
      let wake: (() => void) | undefined;
      const done = () => {
        inFlight--;
        const w = wake;
        wake = undefined;
        w?.();
      };
      for (const d of datagrams) {
        while (inFlight >= maxInFlight) await new Promise<void>((r) => (wake = r));
        inFlight++;
        socket.send(d, (err) => {
          if (err) errors++;
          done();
        });
      }
      while (inFlight > 0) await new Promise<void>((r) => (wake = r));
      return errors;
    },
    close: () => {
      try {
        socket.close();
      } catch {
        // already closed
      }
    },
  };
}

export interface Received {
  at: number;
  bytes: Buffer;
}

export interface UdpListener {
  port: number;
  datagrams: Received[];
  close(): void;
}

/** The check's own UDP socket, to measure what a shipper sends. */
export async function udpListener(): Promise<UdpListener> {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20 });
  const datagrams: Received[] = [];
  socket.on('message', (bytes) => datagrams.push({ at: performance.now(), bytes }));
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    datagrams,
    close: () => {
      try {
        socket.close();
      } catch {
        // already closed
      }
    },
  };
}

export interface DecodedDatagram {
  frame: Frame;
  lines: string[];
}

/** Exactly one BATCH frame, or the reason it is not. */
export function decodeDatagram(bytes: Buffer): DecodedDatagram | string {
  let frames: Frame[];
  const d = new FrameDecoder({ maxPayloadBytes: 1 << 20 });
  try {
    frames = d.push(bytes);
  } catch (err) {
    return `not a valid LSP/1 frame (${(err as { code?: string }).code ?? String(err)})`;
  }
  if (frames.length !== 1 || d.bufferedBytes !== 0)
    return `${frames.length} complete frames and ${d.bufferedBytes} bytes left over (one datagram = exactly one frame)`;
  const frame = frames[0]!;
  if (frame.type !== FrameType.BATCH) return `a ${FrameType[frame.type] ?? frame.type} frame, not a BATCH`;
  if (frame.codec !== 0) return `codec ${frame.codec}: the checks expect uncompressed payloads`;
  const text = frame.payload.toString('utf8');
  const lines = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
  if (lines.length !== frame.count) return `count ${frame.count} but ${lines.length} lines in the payload`;
  return { frame, lines };
}

export const TS = '2026-11-26T14:13:48.123Z';

export function recText(id: string, extra: Rec = {}): string {
  return JSON.stringify({ ts: TS, level: 'info', msg: `record ${id}`, service: 'checks', ...extra, attrs: { id } });
}

/**
 * One BATCH datagram of `count` records from `seq` on `stream`; record k's id is `${prefix}-${seq + k}`, so a
 * persisted record tells which seq it was sent as.
 */
export function batchDatagram(stream: number, seq: number, count: number, prefix: string, extra: Rec = {}): Buffer {
  const records = Array.from({ length: count }, (_, k) => recText(`${prefix}-${seq + k}`, extra));
  return encodeBatch({ stream, seq, records });
}

export async function statsNow(dataDir: string): Promise<Stats | null> {
  return readStats(dataDir).catch(() => null);
}

export function streamStats(stats: Stats | null, stream: number): Record<string, unknown> | undefined {
  return stats?.streams?.[String(stream)];
}

export interface SeqCounts {
  hwm: number;
  received: number;
  gaps: number;
  duplicates: number;
  reordered: number;
}

/** Waits until stats.json streams[stream] has exactly these counts. */
export async function waitForStreamCounts(
  dataDir: string,
  stream: number,
  want: SeqCounts,
  timeoutMs: number,
  hint: string,
): Promise<void> {
  let got: unknown;
  await waitFor(
    async () => {
      const s = streamStats(await statsNow(dataDir), stream);
      got = s
        ? {
            hwm: s['hwm'],
            received: s['received'],
            gaps: s['gaps'],
            duplicates: s['duplicates'],
            reordered: s['reordered'],
          }
        : undefined;
      return got !== undefined && JSON.stringify(got) === JSON.stringify(want);
    },
    {
      timeoutMs,
      what: `stats.json streams["${stream}"] = ${JSON.stringify(want)}`,
      where: `${dataDir}/stats.json`,
      hint,
      received: () => (got ? JSON.stringify(got) : `no streams["${stream}"] entry`),
    },
  );
}
