// FaultProxy with real sockets on loopback: pass-through, half-close, cut (FIN), reset (RST), stall,
// delay, refuse, schedule, retarget, and the bound on what it buffers.
import { randomBytes, createHash } from 'node:crypto';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FaultProxy } from './fault-proxy.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function waitUntil(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A watch window for things that must NOT happen (there is no event for "nothing arrived"). */
const observe = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Peer {
  socket: net.Socket;
  bytes: number;
  chunks: Buffer[];
  ended: boolean;
  closed: boolean;
  error?: NodeJS.ErrnoException;
  data(): Buffer;
}

function track(socket: net.Socket): Peer {
  const p: Peer = {
    socket,
    bytes: 0,
    chunks: [],
    ended: false,
    closed: false,
    data: () => Buffer.concat(p.chunks),
  };
  socket.on('data', (c: Buffer) => {
    p.bytes += c.length;
    p.chunks.push(c);
  });
  socket.on('end', () => (p.ended = true));
  socket.on('error', (e: NodeJS.ErrnoException) => (p.error = e));
  socket.on('close', () => (p.closed = true));
  return p;
}

/** A target server; `onPeer` sees each accepted socket (tracked). */
async function target(
  onPeer: (p: Peer) => void = () => {},
): Promise<{ port: number; peers: Peer[]; server: net.Server }> {
  const peers: Peer[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    const p = track(s);
    peers.push(p);
    onPeer(p);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const p of peers) p.socket.destroy();
        server.close(() => r());
      }),
  );
  return { port: (server.address() as net.AddressInfo).port, peers, server };
}

async function proxyTo(
  port: number,
  extra: Partial<ConstructorParameters<typeof FaultProxy>[0]> = {},
): Promise<FaultProxy> {
  const proxy = new FaultProxy({ targetPort: port, ...extra });
  await proxy.start();
  cleanups.push(() => proxy.stop());
  return proxy;
}

async function dial(port: number): Promise<Peer> {
  const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  const p = track(s);
  cleanups.push(() => void s.destroy());
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', reject);
  });
  return p;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('FaultProxy', () => {
  it('passes bytes both ways intact and counts them', async () => {
    const t = await target((p) => p.socket.pipe(p.socket)); // echo
    const proxy = await proxyTo(t.port);
    expect(proxy.port).toBeGreaterThan(0);
    const c = await dial(proxy.port);
    const data = randomBytes(3 << 20);
    c.socket.write(data);
    await waitUntil(() => c.bytes === data.length, 10_000, 'the echo');
    expect(sha(c.data())).toBe(sha(data));
    expect(proxy.counters).toMatchObject({
      connections: 1,
      open: 1,
      bytesUp: data.length,
      bytesDown: data.length,
      cuts: 0,
    });
  });

  it("emits 'forward' (direction, bytes) as bytes are passed on", async () => {
    const t = await target((p) => p.socket.on('data', () => p.socket.write('ack')));
    const proxy = await proxyTo(t.port);
    const seen: Array<[string, number]> = [];
    proxy.on('forward', (dir: string, n: number) => seen.push([dir, n]));
    const c = await dial(proxy.port);
    c.socket.write('batch');
    await waitUntil(() => c.bytes === 3);
    expect(seen).toEqual([
      ['up', 5],
      ['down', 3],
    ]);
  });

  it('passes a half-close through, after the bytes before it', async () => {
    const t = await target((p) => {
      p.socket.on('end', () => p.socket.end(`got ${p.bytes}`));
    });
    const proxy = await proxyTo(t.port, {});
    proxy.delay(20); // the FIN must still come after the delayed bytes
    const c = await dial(proxy.port);
    c.socket.end('hello');
    await waitUntil(() => c.ended && c.closed, 5000, 'the reply and the FIN');
    expect(c.data().toString()).toBe('got 5');
    expect(c.error).toBeUndefined();
    await waitUntil(() => proxy.counters.open === 0, 5000, 'the proxy to drop the finished connection');
  });

  it('cut() closes every connection with a FIN on both sides, no reset', async () => {
    const t = await target();
    const proxy = await proxyTo(t.port);
    const a = await dial(proxy.port);
    const b = await dial(proxy.port);
    a.socket.write('x');
    b.socket.write('y');
    await waitUntil(() => t.peers.length === 2 && t.peers.every((p) => p.bytes === 1), 5000, 'both connections up');
    const faults: unknown[] = [];
    proxy.on('fault', (f) => faults.push(f));
    expect(proxy.cut()).toBe(2);
    for (const p of [a, b, ...t.peers]) p.socket.on('end', () => p.socket.end());
    await waitUntil(() => [a, b, ...t.peers].every((p) => p.closed), 5000, 'every socket closed');
    for (const p of [a, b, ...t.peers]) {
      expect(p.ended).toBe(true);
      expect(p.error).toBeUndefined();
    }
    expect(proxy.counters).toMatchObject({ cuts: 1, connectionsBroken: 2 });
    expect(faults).toEqual([{ action: 'cut', connections: 2 }]);
    await waitUntil(() => proxy.openConnections === 0);
    // New connections work after a cut.
    const c = await dial(proxy.port);
    c.socket.write('after');
    await waitUntil(() => t.peers[2]?.data().toString() === 'after');
  });

  it('cut() during a stall is still a FIN: the bytes the proxy never read do not turn it into a RST', async () => {
    const t = await target();
    const proxy = await proxyTo(t.port);
    const a = await dial(proxy.port);
    await waitUntil(() => t.peers.length === 1);
    proxy.stall(true);
    // More than the proxy's sockets buffer in user space, so some stays unread in the kernel.
    a.socket.write(randomBytes(1 << 20));
    t.peers[0]!.socket.write(randomBytes(1 << 20));
    await observe(100); // let the bytes reach the proxy's socket buffers
    proxy.cut();
    a.socket.on('end', () => a.socket.end());
    t.peers[0]!.socket.on('end', () => t.peers[0]!.socket.end());
    await waitUntil(() => a.closed && t.peers[0]!.closed, 5000, 'both sockets closed');
    expect(a.error).toBeUndefined();
    expect(t.peers[0]!.error).toBeUndefined();
    expect(a.ended && t.peers[0]!.ended).toBe(true);
  });

  it('cut() still closes a connection whose peers never close their side', async () => {
    const t = await target();
    const proxy = await proxyTo(t.port, { cutGraceMs: 50 });
    const a = await dial(proxy.port);
    await waitUntil(() => t.peers.length === 1);
    proxy.cut();
    // Our test sockets allow half-open, so they see the FIN but stay open; the proxy lets go of both.
    await waitUntil(() => proxy.openConnections === 0, 5000, 'the grace timer to close both');
    expect(a.ended && t.peers[0]!.ended).toBe(true);
  });

  it('reset() closes every connection with a RST', async () => {
    const t = await target();
    const proxy = await proxyTo(t.port);
    const a = await dial(proxy.port);
    a.socket.write('x');
    await waitUntil(() => t.peers[0]?.bytes === 1);
    expect(proxy.reset()).toBe(1);
    await waitUntil(() => a.closed && t.peers[0]!.closed, 5000, 'both sockets closed');
    expect(a.error?.code).toBe('ECONNRESET');
    expect(t.peers[0]!.error?.code).toBe('ECONNRESET');
    expect(proxy.counters.resets).toBe(1);
  });

  it('a reset from one side is passed on as a reset', async () => {
    const t = await target();
    const proxy = await proxyTo(t.port);
    const a = await dial(proxy.port);
    await waitUntil(() => t.peers.length === 1);
    t.peers[0]!.socket.resetAndDestroy();
    await waitUntil(() => a.closed, 5000, 'the client to be reset');
    expect(a.error?.code).toBe('ECONNRESET');
  });

  it('stall(true) forwards nothing either way and pushes back on the sender; stall(false) delivers it all', async () => {
    const t = await target();
    const proxy = await proxyTo(t.port, { highWaterBytes: 64 * 1024 });
    const a = await dial(proxy.port);
    await waitUntil(() => t.peers.length === 1);
    const down = t.peers[0]!;
    proxy.stall(true);
    // More than loopback's socket buffers can hold, so the sender's own buffer must stay non-empty.
    const up = randomBytes(24 << 20);
    a.socket.write(up);
    down.socket.write('to the client');
    let maxBuffered = 0;
    const sampler = setInterval(() => (maxBuffered = Math.max(maxBuffered, proxy.bufferedBytes)), 2);
    cleanups.push(() => clearInterval(sampler));
    await observe(300);
    expect(down.bytes).toBe(0);
    expect(a.bytes).toBe(0);
    expect(a.socket.writableLength).toBeGreaterThan(0); // TCP pushed back: the half-open peer reads nothing
    expect(a.closed || down.closed).toBe(false);
    proxy.stall(false);
    await waitUntil(() => down.bytes === up.length && a.bytes === 13, 20_000, 'everything after the stall');
    clearInterval(sampler);
    expect(sha(down.data())).toBe(sha(up));
    expect(a.data().toString()).toBe('to the client');
    expect(maxBuffered).toBeLessThanOrEqual(64 * 1024 + 65536);
  });

  it('never buffers past its bound when the target reads slowly', async () => {
    const t = await target((p) => {
      // A slow reader: reads in bursts.
      p.socket.pause();
      const timer = setInterval(() => {
        p.socket.resume();
        setTimeout(() => p.socket.pause(), 2);
      }, 20);
      p.socket.on('close', () => clearInterval(timer));
    });
    const proxy = await proxyTo(t.port, { highWaterBytes: 32 * 1024 });
    proxy.delay(5);
    const a = await dial(proxy.port);
    const data = randomBytes(8 << 20);
    let maxBuffered = 0;
    const sampler = setInterval(() => (maxBuffered = Math.max(maxBuffered, proxy.bufferedBytes)), 1);
    cleanups.push(() => clearInterval(sampler));
    a.socket.write(data);
    await waitUntil(() => t.peers[0]?.bytes === data.length, 30_000, 'the slow reader to get everything');
    clearInterval(sampler);
    expect(sha(t.peers[0]!.data())).toBe(sha(data));
    expect(maxBuffered).toBeGreaterThan(0);
    expect(maxBuffered).toBeLessThanOrEqual(32 * 1024 + 65536);
  });

  it('delay(ms) adds latency each way', async () => {
    const t = await target((p) => p.socket.pipe(p.socket));
    const proxy = await proxyTo(t.port);
    const a = await dial(proxy.port);
    a.socket.write('warm');
    await waitUntil(() => a.bytes === 4);
    proxy.delay(100);
    const t0 = performance.now();
    a.socket.write('ping');
    await waitUntil(() => a.bytes === 8, 5000, 'the delayed echo');
    const rtt = performance.now() - t0;
    expect(rtt).toBeGreaterThanOrEqual(195);
    expect(() => proxy.delay(-1)).toThrow(RangeError);
  });

  it('refuse(true) closes new connections at once; open ones carry on; refuse(false) accepts again', async () => {
    const t = await target((p) => p.socket.pipe(p.socket));
    const proxy = await proxyTo(t.port);
    const open = await dial(proxy.port);
    await waitUntil(() => t.peers.length === 1);
    proxy.refuse(true);
    const r = await dial(proxy.port);
    await waitUntil(() => r.ended, 5000, 'the refused connection to be closed (FIN)');
    expect(r.bytes).toBe(0);
    expect(t.peers.length).toBe(1);
    open.socket.write('still here');
    await waitUntil(() => open.data().toString() === 'still here');
    proxy.refuse(false);
    const ok = await dial(proxy.port);
    ok.socket.write('hi');
    await waitUntil(() => ok.data().toString() === 'hi');
    expect(proxy.counters).toMatchObject({ connections: 3, refused: 1 });
  });

  it('a target that is down resets the client and is counted', async () => {
    const t = await target();
    const port = t.port;
    await new Promise<void>((r) => t.server.close(() => r()));
    const proxy = await proxyTo(port);
    const a = await dial(proxy.port);
    await waitUntil(() => a.closed, 5000, 'the client to be closed');
    expect(a.error?.code).toBe('ECONNRESET');
    expect(proxy.counters.targetFailures).toBe(1);
  });

  it('retarget() sends new connections to another target', async () => {
    const t1 = await target();
    const t2 = await target();
    const proxy = await proxyTo(t1.port);
    await dial(proxy.port);
    await waitUntil(() => t1.peers.length === 1);
    proxy.retarget(t2.port);
    await dial(proxy.port);
    await waitUntil(() => t2.peers.length === 1);
    expect(t1.peers.length).toBe(1);
    expect(proxy.target.port).toBe(t2.port);
  });

  it('schedule() cuts every N ms until cancelled; stop() clears it', async () => {
    const t = await target();
    const proxy = await proxyTo(t.port);
    const accepted: number[] = [];
    proxy.on('connection', (c: { id: number }) => accepted.push(c.id));
    const cancel = proxy.schedule({ action: 'cut', everyMs: 30 });
    const a = await dial(proxy.port);
    a.socket.on('end', () => a.socket.end());
    await waitUntil(() => a.closed, 5000, 'the scheduled cut');
    expect(a.error).toBeUndefined();
    await waitUntil(() => proxy.counters.cuts >= 3, 5000, 'three scheduled cuts');
    cancel();
    const cuts = proxy.counters.cuts;
    await observe(100);
    expect(proxy.counters.cuts).toBe(cuts);
    expect(accepted).toEqual([1]);
    const resets = proxy.schedule({ action: 'reset', everyMs: 20 });
    void resets;
    await proxy.stop(); // clears the schedule: the test would hang on an open interval otherwise
    const r = proxy.counters.resets;
    await observe(60);
    expect(proxy.counters.resets).toBe(r);
    expect(() => proxy.schedule({ action: 'cut', everyMs: 0 })).toThrow(RangeError);
  });
});
