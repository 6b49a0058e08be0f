// What several of day11's checks use (split out of checks/day11.ts, issue 22).
import dgram from 'node:dgram';
import net from 'node:net';
import {
  encodeAck,
  encodePong,
  FrameDecoder,
  FrameType,
  HEADER_SIZE,
  type Frame,
} from '../../shared/protocol/frame.ts';
import { expectTrue, fail, show } from '../harness/assert.ts';
import { tail } from '../harness/process.ts';
import type { CheckContext, ProgramExit, RunResult, WatchedProgram } from '../harness/types.ts';
import { doneOf as kitDoneOf, spawnShipper } from '../harness/kit/programs.ts';
import { sleep } from '../harness/kit/records.ts';

export type Json = Record<string, unknown>;

/** Waits for the shipper to exit within `ms`; fails saying what it last printed. */
export async function waitExit(p: WatchedProgram, ms: number, hint: string): Promise<ProgramExit> {
  const ex = await Promise.race([p.exit, sleep(ms).then(() => undefined)]);
  if (!ex) {
    fail({
      expected: `\`${p.cmd}\` to exit within ${ms} ms`,
      received: `still running; last line ${show(p.events.at(-1)?.json ?? '(none)', 300)}; stderr tail:\n${tail(p.stderrText(), 5, 10) || '(empty)'}`,
      where: `pid ${p.pid}`,
      hint,
    });
  }
  return ex;
}

export const doneOf = (p: WatchedProgram): Json =>
  kitDoneOf(p, {
    received: () => `none; stderr tail:\n${tail(p.stderrText(), 5, 10) || '(empty)'}`,
    hint: 'a shipper ends with one done line: {"event":"done","sent","acked","dropped",…,"batches","recordsPerBatch","flushes","waitMs",…}',
  });

export function expectExit0(p: WatchedProgram, ex: ProgramExit): void {
  expectTrue(ex.exitCode === 0, {
    expected: `\`${p.cmd}\` to exit 0`,
    received: `exit code ${ex.exitCode}, signal ${ex.signal}; stderr tail:\n${tail(p.stderrText(), 5, 10) || '(empty)'}`,
    where: `pid ${p.pid}`,
  });
}

// Waiting for a progress line (the state the shipper is in, what it has read) is day 09's: the same shipper lines.
export { waitProgress } from '../day09/support.ts';

export interface ShipOptions {
  /** --transport udp (default: day 09's TCP engine). */
  udp?: boolean;
  /** --progress-ms (default 0: none; a check that waits for a progress line asks for them). */
  progressMs?: number;
  /** Records written by the check on stdin (--input - among the flags). */
  stdin?: boolean;
}

/** A day 11 shipper to 127.0.0.1:`port` with its own state dir, `flags` after; watched while it runs. */
export async function startShipper(
  ctx: CheckContext,
  port: number,
  flags: string[],
  opts: ShipOptions = {},
): Promise<WatchedProgram> {
  const args = [
    ...(opts.udp ? ['--transport', 'udp'] : []),
    '--target',
    `127.0.0.1:${port}`,
    '--state-dir',
    await ctx.tmp(),
    '--progress-ms',
    String(opts.progressMs ?? 0),
    ...flags,
  ];
  return spawnShipper(ctx, args, opts.stdin ? { stdin: true } : {});
}

/**
 * One way a day 11 shipper sends (lessons/day11/README.md): 'tcp' through day 09's engine to the check's fake
 * receiver (it ACKs everything), or 'udp' datagrams to the check's socket. The checks that must see the same batches
 * both ways run the same flags over both legs.
 */
export interface Leg {
  name: 'tcp' | 'udp';
  shipper: WatchedProgram;
  /** BATCH frames (datagrams) received so far. */
  received(): number;
  /** Every frame received; over UDP once the socket holds `records` records (udpFrames). */
  frames(records: number): Promise<Frame[]>;
  /** Where the frames were received, for a failure. */
  where(): string;
}

export async function startLeg(
  ctx: CheckContext,
  name: Leg['name'],
  flags: string[],
  opts: ShipOptions = {},
): Promise<Leg> {
  if (name === 'tcp') {
    const fake = await startFakeReceiver(ctx);
    const frames = () => fake.batches.map((b) => b.frame);
    return {
      name,
      shipper: await startShipper(ctx, fake.port, flags, opts),
      received: () => fake.batches.length,
      frames: () => Promise.resolve(frames()),
      where: () => `frames: ${framesSummary(frames()) || '(none)'}`,
    };
  }
  const udp = await startUdpListener(ctx);
  return {
    name,
    shipper: await startShipper(ctx, udp.port, flags, { ...opts, udp: true }),
    received: () => udp.datagrams.length,
    frames: (records) => udpFrames(udp, records, ' (udp)'),
    where: () => `${udp.datagrams.length} datagram(s) on port ${udp.port}`,
  };
}

/** The batching flags of day 11 (lessons/day11/README.md): the ones not given keep the shipper's defaults. */
export function batchFlags(b: { records?: number; bytes?: string | number; delayMs?: number }): string[] {
  return [
    ...(b.records === undefined ? [] : ['--batch-records', String(b.records)]),
    ...(b.bytes === undefined ? [] : ['--batch-bytes', String(b.bytes)]),
    ...(b.delayMs === undefined ? [] : ['--batch-delay-ms', String(b.delayMs)]),
  ];
}

// It answers HELLO with ACK(what it holds of the stream), every BATCH at once with a cumulative ACK, and
// PING with PONG; it keeps every BATCH frame with the time it arrived.

export interface Received {
  at: number;
  frame: Frame;
}

export interface FakeReceiver {
  port: number;
  batches: Received[];
  connections: number;
  errors: string[];
  close(): void;
}

export async function startFakeReceiver(ctx: CheckContext): Promise<FakeReceiver> {
  const held = new Map<number, number>();
  const r: FakeReceiver = { port: 0, batches: [], connections: 0, errors: [], close: () => server.close() };
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true }, (s) => {
    r.connections++;
    sockets.add(s);
    const dec = new FrameDecoder();
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    s.on('data', (chunk: Buffer) => {
      const at = Date.now();
      let frames: Frame[];
      try {
        frames = dec.push(chunk);
      } catch (err) {
        r.errors.push(`${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message}`);
        s.destroy();
        return;
      }
      for (const f of frames) {
        if (f.type === FrameType.HELLO) s.write(encodeAck(f.stream, held.get(f.stream) ?? 0));
        else if (f.type === FrameType.PING) s.write(encodePong(f.seq));
        else if (f.type === FrameType.BATCH) {
          r.batches.push({ at, frame: f });
          const last = f.seq + f.count - 1;
          if (last > (held.get(f.stream) ?? 0)) held.set(f.stream, last);
          s.write(encodeAck(f.stream, held.get(f.stream)!));
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.port = (server.address() as net.AddressInfo).port;
  ctx.signal.addEventListener('abort', () => r.close(), { once: true });
  r.close = () => {
    server.close();
    for (const s of sockets) s.destroy();
  };
  return r;
}

export interface UdpListener {
  port: number;
  datagrams: Array<{ at: number; buf: Buffer }>;
  close(): void;
}

export async function startUdpListener(ctx: CheckContext): Promise<UdpListener> {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  const l: UdpListener = { port: 0, datagrams: [], close: () => socket.close() };
  socket.on('message', (buf) => l.datagrams.push({ at: Date.now(), buf }));
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  l.port = socket.address().port;
  let closed = false;
  l.close = () => {
    if (closed) return;
    closed = true;
    socket.close();
  };
  ctx.signal.addEventListener('abort', () => l.close(), { once: true });
  return l;
}

/**
 * Datagrams a shipper sent just before it exited may still be crossing loopback: wait (bounded) until the
 * listener holds `records` records in all, or its datagrams stop being valid frames (the check reports those).
 */
export async function udpHolds(udp: UdpListener, records: number, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen = 0;
  let total = 0;
  while (Date.now() < deadline) {
    for (; seen < udp.datagrams.length; seen++) {
      const frames = (() => {
        try {
          return new FrameDecoder({ maxPayloadBytes: 65_507 }).push(udp.datagrams[seen]!.buf);
        } catch {
          return undefined;
        }
      })();
      if (frames?.length !== 1) return;
      total += frames[0]!.count;
    }
    if (total >= records) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every datagram the listener got, once it holds `records` records (udpHolds), decoded as one BATCH frame each. */
export async function udpFrames(udp: UdpListener, records: number, leg = ''): Promise<Frame[]> {
  await udpHolds(udp, records);
  return udp.datagrams.map((d, i) => decodeDatagram(d.buf, `datagram ${i + 1}${leg}`));
}

/** A datagram must be exactly one BATCH frame (lessons/day10/README.md, UDP). */
export function decodeDatagram(buf: Buffer, where: string): Frame {
  let frames: Frame[];
  try {
    frames = new FrameDecoder({ maxPayloadBytes: 65_507 }).push(buf);
  } catch (err) {
    fail({
      expected: 'every datagram to be one valid LSP/1 BATCH frame',
      received: `${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message}`,
      where,
      hint: 'header (28 bytes) + payload, CRC of the payload, one frame per datagram',
    });
  }
  const f = frames[0];
  if (
    frames.length !== 1 ||
    f === undefined ||
    f.type !== FrameType.BATCH ||
    HEADER_SIZE + f.payload.length !== buf.length
  ) {
    fail({
      expected: 'exactly one whole BATCH frame per datagram',
      received: `${frames.length} frame(s), ${buf.length} bytes`,
      where,
      hint: 'lessons/day10/README.md (UDP): each datagram carries exactly one BATCH frame',
    });
  }
  return f;
}

/** One ASCII record of exactly `bytes` bytes (without its LF), with attrs.id = id. */
export function recordOfSize(id: string, bytes: number): string {
  const head = `{"ts":"2026-11-26T12:00:00.000Z","level":"info","msg":"`;
  const tailText = `","attrs":{"id":"${id}"}}`;
  const pad = bytes - head.length - tailText.length;
  if (pad < 0) throw new Error(`record ${id} cannot be ${bytes} bytes`);
  return head + 'x'.repeat(pad) + tailText;
}

export function idOf(line: string): string {
  const m = /"id":"([^"]+)"/.exec(line);
  return m?.[1] ?? '?';
}

/** The records of BATCH payloads (no codec in day 11), split on LF. */
export function linesOf(f: Frame): string[] {
  const text = f.payload.toString('utf8');
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

export function framesSummary(frames: Frame[], max = 12): string {
  const parts = frames.slice(0, max).map((f) => `seq ${f.seq} count ${f.count} payload ${f.payload.length}`);
  return parts.join('; ') + (frames.length > max ? `; … (${frames.length} frames)` : '');
}

export function flagNamed(r: RunResult, flag: string): boolean {
  return r.stderr.includes(flag);
}
