import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CheckFailure, waitFor } from './assert.ts';
import { connectTcp } from './tcp.ts';

const servers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A server recording what each connection sent, chunk by chunk. */
async function recorder(onConn?: (s: net.Socket) => void) {
  const chunks: Buffer[][] = [];
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    const mine: Buffer[] = [];
    chunks.push(mine);
    sockets.push(s);
    s.on('data', (c: Buffer) => mine.push(c));
    s.on('error', () => undefined);
    onConn?.(s);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return { port, chunks, sockets };
}

describe('TcpClient', () => {
  it('writes a buffer split at offsets, each part flushed before the next; the server gets every byte', async () => {
    const srv = await recorder();
    const c = await connectTcp('127.0.0.1', srv.port);
    expect(c.localPeer).toMatch(/^127\.0\.0\.1:\d+$/);
    const data = Buffer.from('héllo 😀 wörld\n'.repeat(10));
    await c.writeSplit(data, [1, 2, 7, 50, data.length - 1], { gapMs: 15 });
    await waitFor(() => Buffer.concat(srv.chunks[0] ?? []).length === data.length, {
      timeoutMs: 2000,
      what: 'all bytes',
    });
    expect(Buffer.concat(srv.chunks[0] ?? []).equals(data)).toBe(true);
    // With a gap, the parts arrive as separate reads.
    expect((srv.chunks[0] ?? []).length).toBeGreaterThan(1);
    c.destroy();
  });

  it('closed resolves when the server ends; end() half-closes', async () => {
    const srv = await recorder((s) => s.on('end', () => s.end()));
    const c = await connectTcp('127.0.0.1', srv.port);
    await c.write('x');
    await c.end();
    const closed = await c.waitClosed(2000);
    expect(closed.at).toBeGreaterThanOrEqual(c.connectedAt);
    expect(c.peerEnded).toBe(true);
    expect(c.destroyed).toBe(true);
  });

  it('waitClosed fails with a CheckFailure saying how long it waited', async () => {
    const srv = await recorder();
    const c = await connectTcp('127.0.0.1', srv.port);
    const err = await c.waitClosed(50, 'the server to close').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckFailure);
    expect((err as CheckFailure).received).toMatch(/still open after \d+ ms/);
    c.destroy();
  });

  it('a write on a connection the server destroyed is a CheckFailure', async () => {
    const srv = await recorder((s) => s.destroy());
    const c = await connectTcp('127.0.0.1', srv.port);
    await c.closed;
    await expect(c.write('x')).rejects.toBeInstanceOf(CheckFailure);
  });

  it('a refused connect is a CheckFailure', async () => {
    const srv = await recorder();
    const port = srv.port;
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
    await expect(connectTcp('127.0.0.1', port)).rejects.toMatchObject({
      code: 'LS_ERR_CHECK_FAILED',
      received: 'ECONNREFUSED',
    });
  });

  it('received() holds what the server sent', async () => {
    const srv = await recorder((s) => s.write('hello'));
    const c = await connectTcp('127.0.0.1', srv.port);
    await waitFor(() => c.received().toString() === 'hello', { timeoutMs: 2000, what: 'hello' });
    c.destroy();
  });
});
