import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLog } from './log.ts';
import { LspReceiver, type LspConnection } from './lsp-receiver.ts';
import { decodeBatch, encodeBatch } from './protocol/batch.ts';
import {
  encodeFrame,
  encodeHello,
  encodePing,
  FrameDecoder,
  FrameType,
  parseNack,
  type Frame,
} from './protocol/frame.ts';
import { ReceiverStats } from './stats.ts';

interface Client {
  socket: net.Socket;
  frames: Frame[];
  closed: Promise<void>;
  isClosed: () => boolean;
}

const servers: net.Server[] = [];
const clients: net.Socket[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function setup(
  opts: {
    maxConnections?: number;
    idleTimeoutMs?: number;
    maxPayloadBytes?: number;
    maxBytesPerTurn?: number;
    maxPartialBytes?: number;
  } = {},
) {
  const stats = new ReceiverStats('test', 'lsp1-tcp');
  const batches: Frame[] = [];
  let conns: LspConnection[] = [];
  const rx = new LspReceiver({
    handlers: {
      onHello: (_c, stream) => stream * 10,
      onBatch: (c, f) => {
        decodeBatch(f); // throws LS_ERR_COUNT and friends: fatal
        batches.push(f);
        conns.push(c);
      },
    },
    log: createLog('test'),
    stats,
    maxConnections: opts.maxConnections ?? 10,
    idleTimeoutMs: opts.idleTimeoutMs ?? 60_000,
    maxPayloadBytes: opts.maxPayloadBytes ?? 1 << 20,
    ...(opts.maxBytesPerTurn !== undefined ? { maxBytesPerTurn: opts.maxBytesPerTurn } : {}),
    ...(opts.maxPartialBytes !== undefined ? { maxPartialBytes: opts.maxPartialBytes } : {}),
  });
  const server = net.createServer({ noDelay: true }, rx.accept);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const connect = async (): Promise<Client> => {
    const socket = net.connect({ host: '127.0.0.1', port });
    clients.push(socket);
    await new Promise<void>((r) => socket.once('connect', r));
    const frames: Frame[] = [];
    const dec = new FrameDecoder();
    socket.on('data', (c: Buffer) => frames.push(...dec.push(c)));
    socket.on('error', () => {});
    let closed = false;
    const done = new Promise<void>((r) => socket.once('close', () => ((closed = true), r())));
    return { socket, frames, closed: done, isClosed: () => closed };
  };
  return { rx, stats, batches, connect, conns: () => conns, reset: () => (conns = []) };
}

async function until(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const nackCode = (c: Client) => {
  const n = c.frames.find((f) => f.type === FrameType.NACK);
  return n ? parseNack(n).code : undefined;
};

describe('LspReceiver', () => {
  it('a fair share (issue 17.3): a connection past maxBytesPerTurn waits for the next turn; nothing lost or reordered, the others served', async () => {
    const { rx, batches, connect } = await setup({ maxBytesPerTurn: 16 << 10 });
    const flood = await connect();
    const polite = await connect();
    const N = 400;
    const frames = Array.from({ length: N }, (_, i) =>
      encodeBatch({ stream: 1, seq: i + 1, records: [JSON.stringify({ pad: 'x'.repeat(2000), i })] }),
    );
    flood.socket.write(Buffer.concat(frames)); // ~800 KiB in one write
    polite.socket.write(encodePing(7));
    await until(
      () => polite.frames.some((f) => f.type === FrameType.PONG && f.seq === 7),
      'the PONG of the polite client',
    );
    await until(() => batches.length === N, `${N} batches`);
    expect(batches.map((f) => f.seq)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    expect(rx.counters.yields).toBeGreaterThan(0);
  });

  it('a budget for partial frames (issue 18.5): past it a large holder waits until the budget frees; small frames keep flowing', async () => {
    // budget 64 KiB over 4 connections: a share of 16 KiB
    const { rx, batches, connect } = await setup({ maxConnections: 4, maxPartialBytes: 64 << 10 });
    const frameOf = (seq: number) =>
      encodeBatch({ stream: seq, seq: 1, records: [JSON.stringify({ pad: 'y'.repeat(100_000), seq })] });
    const fa = frameOf(1);
    const fb = frameOf(2);
    const a = await connect();
    const b = await connect();
    const polite = await connect();
    a.socket.write(fa.subarray(0, 40_000));
    await until(() => rx.counters.partialBytes === 40_000, 'A holding 40,000 bytes of its frame');
    b.socket.write(fb.subarray(0, 40_000)); // 80,000 > 64 KiB, and B's 40,000 > its share: B waits
    await until(() => rx.counters.budgetWaits === 1, 'B paused for the budget');
    b.socket.write(fb.subarray(40_000)); // the rest of B's frame waits in the kernel meanwhile
    polite.socket.write(Buffer.concat([encodeBatch({ stream: 9, seq: 1, records: ['{"ok":1}'] }), encodePing(3)]));
    await until(() => polite.frames.some((f) => f.type === FrameType.PONG), 'the polite client served');
    expect(batches.map((f) => f.stream)).toEqual([9]);
    expect(rx.counters.partialBytes).toBeGreaterThan(64 << 10);
    a.socket.write(fa.subarray(40_000)); // A completes: the budget frees, B reads on and completes too
    await until(() => batches.length === 3, 'both large frames');
    expect(batches.map((f) => f.stream)).toEqual([9, 1, 2]);
    expect(batches[2]!.payload.equals(fb.subarray(28))).toBe(true);
    expect(rx.counters.partialBytes).toBe(0);
    expect(rx.counters.partialBytesPeak).toBeLessThan((64 << 10) + 2 * (64 << 10));
  });

  it('a connection waiting for the budget with its partial frame still meets the idle timeout, which frees its bytes', async () => {
    const { rx, stats, connect } = await setup({ maxConnections: 4, maxPartialBytes: 32 << 10, idleTimeoutMs: 200 });
    const big = encodeBatch({ stream: 1, seq: 1, records: [JSON.stringify({ pad: 'z'.repeat(100_000) })] });
    const c = await connect();
    c.socket.write(big.subarray(0, 60_000));
    await until(() => rx.counters.budgetWaits === 1, 'paused for the budget');
    await c.closed;
    expect(stats.connections.idleTimeouts).toBe(1);
    await until(() => rx.counters.partialBytes === 0, 'the budget freed');
  });

  it('HELLO → ACK with the seq the handler returns; PING → PONG with the same token', async () => {
    const { connect } = await setup();
    const c = await connect();
    c.socket.write(Buffer.concat([encodeHello(7, { name: 't' }), encodePing(12345)]));
    await until(() => c.frames.length === 2, 'ACK and PONG');
    expect(c.frames[0]).toMatchObject({ type: FrameType.ACK, stream: 7, seq: 70 });
    expect(c.frames[1]).toMatchObject({ type: FrameType.PONG, seq: 12345 });
  });

  it('ACKs queued in one turn go out as one frame per stream, carrying the highest seq', async () => {
    const { connect, conns, batches } = await setup();
    const c = await connect();
    c.socket.write(Buffer.concat([1, 2, 3].map((i) => encodeBatch({ stream: 1, seq: i, records: ['{}'] }))));
    await until(() => batches.length === 3, 'three batches');
    const conn = conns()[0]!;
    conn.ack(1, 1);
    conn.ack(1, 3);
    conn.ack(1, 2);
    conn.ack(2, 9);
    await until(() => c.frames.length >= 2, 'ACKs');
    await new Promise((r) => setTimeout(r, 20));
    expect(c.frames.map((f) => [f.stream, f.seq])).toEqual([
      [1, 3],
      [2, 9],
    ]);
  });

  it.each([
    ['LS_ERR_MAGIC', () => Buffer.from('GET / HTTP/1.1\r\n\r\n........................')],
    [
      'LS_ERR_CRC',
      () => {
        const f = encodeBatch({ stream: 1, seq: 1, records: ['{"a":1}'] });
        f[f.length - 2] = f[f.length - 2]! ^ 0xff;
        return f;
      },
    ],
    [
      'LS_ERR_TOO_LARGE',
      () => encodeFrame({ type: FrameType.BATCH, count: 1, stream: 1, seq: 1, payload: Buffer.alloc(2048, 0x61) }),
    ],
    [
      'LS_ERR_COUNT',
      () => encodeFrame({ type: FrameType.BATCH, count: 3, stream: 1, seq: 1, payload: Buffer.from('{}\n{}\n') }),
    ],
  ])('%s: NACK with that code, that connection closed, the others carry on', async (code, bytes) => {
    const { connect, stats, rx } = await setup({ maxPayloadBytes: 1024 });
    const good = await connect();
    const bad = await connect();
    bad.socket.write(bytes());
    await bad.closed;
    expect(nackCode(bad)).toBe(code);
    expect(rx.counters.nacks[code]).toBe(1);
    good.socket.write(encodePing(1));
    await until(() => good.frames.some((f) => f.type === FrameType.PONG), 'PONG on the other connection');
    expect(good.isClosed()).toBe(false);
    expect(stats.connections.open).toBe(1);
  });

  it('frames before a bad one are still handled', async () => {
    const { connect, batches } = await setup();
    const c = await connect();
    c.socket.write(Buffer.concat([encodeBatch({ stream: 1, seq: 1, records: ['{}'] }), Buffer.from('XX'.repeat(20))]));
    await c.closed;
    expect(batches).toHaveLength(1);
    expect(nackCode(c)).toBe('LS_ERR_MAGIC');
  });

  it('cuts a connection that completes no frame within the idle timeout (half a frame does not count)', async () => {
    const { connect, stats } = await setup({ idleTimeoutMs: 100 });
    const c = await connect();
    const t0 = Date.now();
    c.socket.write(encodeHello(1, { name: 'x' }).subarray(0, 10));
    await c.closed;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    expect(stats.connections.idleTimeouts).toBe(1);
  });

  it('refuses connections over the limit and counts them', async () => {
    const { connect, stats } = await setup({ maxConnections: 1 });
    const a = await connect();
    const b = await connect();
    await b.closed;
    expect(stats.connections.refused).toBe(1);
    a.socket.write(encodePing(5));
    await until(() => a.frames.length === 1, 'PONG');
  });
});
