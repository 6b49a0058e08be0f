// Issue 18, item 3: the syslog forwarder is prompt. Lines fed one at a time on stdin to
// lessons/stack/syslog-forward.ts each reach a real TCP server (reading RFC 6587 octet-counted frames)
// before the next one is written — no waiting for 64 KiB or for the end of input. Then stdin ends, the
// server closes after the forwarder's FIN, and the done line says all were sent and delivered.
import { execa } from 'execa';
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { REPO_ROOT } from '../../scripts/lib/launch.ts';
import { forwardSyslog } from './syslog-forwarder.ts';

const servers: net.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
  vi.restoreAllMocks();
});

/** A syslog TCP server that parses octet-counted frames and closes its side after the client's FIN. */
async function frameServer(): Promise<{ port: number; frames: string[]; next: (n: number) => Promise<void> }> {
  const frames: string[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const server = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const sp = buf.indexOf(0x20);
        if (sp === -1) break;
        const len = Number(buf.toString('latin1', 0, sp));
        if (buf.length < sp + 1 + len) break;
        frames.push(buf.toString('utf8', sp + 1, sp + 1 + len));
        buf = buf.subarray(sp + 1 + len);
      }
      for (const w of waiters.splice(0)) {
        if (frames.length >= w.n) w.resolve();
        else waiters.push(w);
      }
    });
    sock.on('end', () => sock.end()); // read everything, then close: the forwarder's "delivered"
    sock.on('error', () => {});
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const next = (n: number) =>
    frames.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve }));
  return { port, frames, next };
}

function deadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

describe('syslog-forward.ts', () => {
  it('each line fed on stdin reaches the server before the next is written', async () => {
    const srv = await frameServer();
    const fwd = execa(
      process.execPath,
      ['--import', 'tsx', 'lessons/stack/syslog-forward.ts', '--target', `127.0.0.1:${srv.port}`, '--input', '-'],
      {
        cwd: REPO_ROOT,
        stdin: 'pipe',
        reject: false,
      },
    );
    const N = 5;
    for (let i = 1; i <= N; i++) {
      fwd.stdin.write(
        `${JSON.stringify({ ts: '2026-12-06T12:00:00.000Z', level: 'info', msg: `line ${i}`, service: 'prompt-test' })}\n`,
      );
      // generous: the first one includes the forwarder's start and connect; no timing threshold is tested
      await deadline(srv.next(i), 30_000, `frame ${i} at the server while stdin stays open`);
      expect(srv.frames[i - 1]).toContain(`line ${i}`);
    }
    fwd.stdin.end();
    const r = await deadline(fwd, 30_000, 'the forwarder to exit after stdin ends');
    expect(r.exitCode, r.stderr).toBe(0);
    const done = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(done).toMatchObject({ event: 'done', sent: N, delivered: true });
    expect(srv.frames).toHaveLength(N);
  });

  it('bulk input still goes out in large writes: one write per source chunk, at most writeBytes each', async () => {
    const srv = await frameServer();
    const sizes: number[] = [];
    // eslint-disable-next-line @typescript-eslint/unbound-method -- the original write, called with .apply(this) below
    const write = net.Socket.prototype.write;
    vi.spyOn(net.Socket.prototype, 'write').mockImplementation(function (this: net.Socket, ...a: unknown[]) {
      if (Buffer.isBuffer(a[0])) sizes.push(a[0].length);
      return (write as (...x: unknown[]) => boolean).apply(this, a);
    });
    const rec = (i: number) =>
      JSON.stringify({
        ts: '2026-12-06T12:00:00.000Z',
        level: 'info',
        msg: `bulk record ${i} ${'z'.repeat(100)}`,
        service: 'bulk',
      });
    const big = Array.from({ length: 3000 }, (_, i) => rec(i)); // ~450 KB framed
    const r = await forwardSyslog([big, [rec(3000)], [rec(3001)]], {
      host: '127.0.0.1',
      port: srv.port,
      writeBytes: 64 << 10,
    });
    expect(r).toMatchObject({ sent: 3002, delivered: true });
    expect(srv.frames).toHaveLength(3002);
    // the big chunk: full writes of ≥ 64 KiB, then its remainder; each one-line chunk: one small write
    const bulk = sizes.slice(0, -3);
    expect(bulk.length).toBeGreaterThanOrEqual(5);
    expect(bulk.every((n) => n >= 64 << 10 && n < (64 << 10) + 1024)).toBe(true);
    expect(sizes.length).toBe(bulk.length + 3);
  });
});
