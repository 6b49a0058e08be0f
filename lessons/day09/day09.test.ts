// Day 09 end to end, with real processes on loopback: the receiver and the shipper through their process
// contract, the FaultProxy resetting connections, a receiver killed with -9, and raw LSP/1 frames.
// The graded checks (checks/day09.ts) go much further; this is the lesson's own smoke test.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultProxy } from '../../shared/fault-proxy.ts';
import { encodeHello, encodePing, FrameType, parseNack } from '../../shared/protocol/frame.ts';
import { connectRaw } from '../../tests/support/lsp-loopback.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
/** the shipper's default --name: on this plaintext lane, the identity that owns its stream (issue 17) */
const SHIPPER_NAME = `${os.hostname()}/day09-shipper`;

interface Proc {
  child: ChildProcess;
  events: Array<Record<string, unknown>>;
  stderr: string[];
  exit: Promise<number | null>;
  next(event: string, timeoutMs?: number): Promise<Record<string, unknown>>;
}

function start(program: 'receiver' | 'shipper', args: string[]): Proc {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('LOGSTREAM_')) env[k] = v;
  const child = spawn(process.execPath, ['--import', 'tsx', join(HERE, `${program}.ts`), ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: Array<Record<string, unknown>> = [];
  const stderr: string[] = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line.startsWith('{')) events.push(JSON.parse(line) as Record<string, unknown>);
    for (const w of waiters.splice(0)) w();
  });
  createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line));
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const next = async (event: string, timeoutMs = 20_000) => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const found = events.find((e) => e['event'] === event);
      if (found) return found;
      if (child.exitCode !== null || Date.now() > end)
        throw new Error(
          `${program}: no "${event}" line within ${timeoutMs} ms (exit ${child.exitCode})\n${stderr.slice(-10).join('\n')}`,
        );
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 100);
      });
    }
  };
  return { child, events, stderr, exit, next };
}

/** `_rx.seq` of every persisted record of `stream`, in file order. */
async function persistedSeqs(dataDir: string, stream: number): Promise<number[]> {
  const seqs: number[] = [];
  for (const f of (await readdir(dataDir)).filter((n) => /^records-\d+\.ndjson$/.test(n)).sort()) {
    for (const line of (await readFile(join(dataDir, f), 'utf8')).split('\n')) {
      if (!line) continue;
      const rx = (JSON.parse(line) as { _rx: { stream: number; seq: number } })._rx;
      if (rx.stream === stream) seqs.push(rx.seq);
    }
  }
  return seqs;
}

function expectExactlyOnce(seqs: number[], n: number): void {
  expect(seqs.length).toBe(n);
  for (let i = 0; i < n; i++)
    if (seqs[i] !== i + 1) throw new Error(`record ${i}: expected seq ${i + 1}, got ${seqs[i]}`);
}

/** The shipper generating `n` records to 127.0.0.1:`to`, its state in tmp/`stateDir`, no progress lines. */
const shipper = (to: number, n: number, stateDir: string, extra: string[] = []) =>
  start('shipper', [
    '--target',
    `127.0.0.1:${to}`,
    '--generate',
    String(n),
    '--state-dir',
    join(tmp, stateDir),
    '--progress-ms',
    '0',
    ...extra,
  ]);

let tmp: string;
let dataDir: string;
let receiver: Proc;
let port: number;
const rxArgs = () => ['--port', String(port), '--data-dir', dataDir, '--stats-interval-ms', '100'];

beforeAll(async () => {
  tmp = await mkdtemp(join(os.tmpdir(), 'day09-e2e-'));
  dataDir = join(tmp, 'rx');
  port = 0;
  receiver = start('receiver', rxArgs());
  const ready = await receiver.next('ready');
  expect(ready).toMatchObject({ role: 'receiver', lesson: 'day09', transport: 'lsp1-tcp' });
  port = ready['port'] as number;
});

afterAll(async () => {
  if (receiver.child.exitCode === null) receiver.child.kill('SIGKILL');
  await rm(tmp, { recursive: true, force: true });
});

describe('day 09 end to end', () => {
  const N = 20_000;
  let stream = 0;

  it('ships N records: ACKed, persisted exactly once in order; a HELLO then gets ACK N', async () => {
    const tx = shipper(port, N, 'st1');
    const done = await tx.next('done');
    expect(await tx.exit).toBe(0);
    expect(done).toMatchObject({ read: N, acked: N, dropped: 0, unacked: 0 });
    stream = done['stream'] as number;
    const states = tx.events
      .filter((e) => e['event'] === 'state')
      .map((e) => `${String(e['from'])}->${String(e['to'])}`);
    expect(states.slice(0, 3)).toEqual(['idle->connecting', 'connecting->handshaking', 'handshaking->streaming']);
    expect(states[states.length - 1]).toBe('draining->closed');
    expectExactlyOnce(await persistedSeqs(dataDir, stream), N);

    const c = await connectRaw(port);
    c.socket.write(
      Buffer.concat([encodeHello(stream, { name: SHIPPER_NAME }), encodeHello(stream + 1, { name: SHIPPER_NAME })]),
    );
    await c.until(() => c.frames.length === 2, 'two ACKs');
    expect(c.frames.map((f) => [f.type, f.stream, f.seq])).toEqual([
      [FrameType.ACK, stream, N],
      [FrameType.ACK, stream + 1, 0],
    ]);
    c.socket.destroy();
  });

  it('a bad frame gets a NACK with its code and closes only that connection', async () => {
    const good = await connectRaw(port);
    const bad = await connectRaw(port);
    bad.socket.write(Buffer.from('this is not LSP/1 at all, just text\n'));
    await bad.closed;
    const nack = bad.frames.find((f) => f.type === FrameType.NACK);
    expect(nack && parseNack(nack).code).toBe('LS_ERR_MAGIC');
    good.socket.write(encodePing(77));
    await good.until(() => good.frames.some((f) => f.type === FrameType.PONG && f.seq === 77), 'PONG');
    good.socket.destroy();
  });

  it('the HWM survives kill -9: after a restart the same stream is ACKed at N', async () => {
    receiver.child.kill('SIGKILL');
    await receiver.exit;
    receiver = start('receiver', rxArgs());
    await receiver.next('ready');
    const c = await connectRaw(port);
    c.socket.write(encodeHello(stream, { name: SHIPPER_NAME }));
    await c.until(() => c.frames.length === 1, 'ACK');
    expect(c.frames[0]).toMatchObject({ type: FrameType.ACK, stream, seq: N });
    c.socket.destroy();
  });

  it("the stream's owner survives the restart: a shipper under another name is refused and stops at once (exit 1, no retry)", async () => {
    const tx = shipper(port, 10, 'st-intruder', ['--stream-id', String(stream), '--name', 'intruder']);
    const done = await tx.next('done');
    expect(await tx.exit).toBe(1);
    expect(String(done['reason'])).toContain('LS_ERR_STREAM_OWNED');
    expect(done).toMatchObject({ acked: 0, reconnects: 0 });
    expect(tx.stderr.join('\n')).toMatch(/belongs to another identity.*not retrying/);
    expect(tx.events.some((e) => e['event'] === 'state' && e['to'] === 'backoff')).toBe(false);
    expectExactlyOnce(await persistedSeqs(dataDir, stream), N); // the owner's records untouched
  });

  it('through a proxy that resets every connection every 300 ms: nothing lost, nothing duplicated', async () => {
    const proxy = new FaultProxy({ targetPort: port });
    await proxy.start();
    proxy.schedule({ action: 'reset', everyMs: 300 });
    try {
      const M = 60_000;
      const tx = shipper(proxy.port, M, 'st2', [
        // paced (~1.5 s), so resets every 300 ms fall mid-stream however fast the machine sends
        '--rate',
        '40000',
        '--backoff-cap-ms',
        '200',
        '--batch-records',
        '500',
        '--window-batches',
        '8',
      ]);
      const done = await tx.next('done', 60_000);
      expect(await tx.exit).toBe(0);
      expect(done).toMatchObject({ read: M, acked: M, dropped: 0 });
      expectExactlyOnce(await persistedSeqs(dataDir, done['stream'] as number), M);
      expect(proxy.counters.connectionsBroken).toBeGreaterThan(0); // it did lose connections mid-stream
      expect(done['reconnects']).toBeGreaterThan(0);
    } finally {
      await proxy.stop();
    }
  });

  it('SIGTERM: the receiver exits 0 and leaves final stats with the stream HWM', async () => {
    receiver.child.kill('SIGTERM');
    expect(await receiver.exit).toBe(0);
    const stats = JSON.parse(await readFile(join(dataDir, 'stats.json'), 'utf8')) as {
      streams: Record<string, { hwm: number }>;
      lane: string;
      transport: string;
    };
    expect(stats).toMatchObject({ lane: 'day09', transport: 'lsp1-tcp' });
    expect(stats.streams[String(stream)]?.hwm).toBe(N);
  });
});
