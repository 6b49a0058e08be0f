// What several of day13's checks use (split out of checks/day13.ts, issue 22).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { encodeHello, type Frame } from '../../shared/protocol/frame.ts';
import { ensureCerts, type CertSet } from '../../shared/tls/certs.ts';
import { CheckFailure, expectTrue, fail, show, waitFor } from '../harness/assert.ts';
import { readRecords, readStats, type Stats } from '../harness/persisted.ts';
import { tail } from '../harness/process.ts';
import { pick } from '../harness/rng.ts';
import type { CheckContext, ProgramExit, RunResult, WatchedProgram } from '../harness/types.ts';
import {
  shipperFlags,
  startReceiver as startKitReceiver,
  TCP_PORT_CHECK,
  type Receiver,
  type StartReceiverOptions,
} from '../harness/kit/programs.ts';
import { at, sleep } from '../harness/kit/records.ts';
import { decodeFrames, streamId, waitAck, type FrameSource } from '../harness/kit/lsp.ts';

export type Rec = Record<string, unknown>;

export type Json = Record<string, unknown>;

export const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

/** A fresh development set (CA, server, client shipper-1, other CA + its client, expired server). */
export async function certsFor(ctx: CheckContext): Promise<CertSet> {
  const dir = path.join(await ctx.tmp(), 'certs');
  const set = await ensureCerts(dir);
  ctx.log(`certificates in ${set.dir}`);
  return set;
}

/** The TLS receiver with `certs` on an OS-picked port (or `opts.port`), stats every 100 ms. */
export const startReceiver = (
  ctx: CheckContext,
  certs: CertSet,
  opts: Pick<StartReceiverOptions, 'dataDir' | 'port' | 'extra'> = {},
) => startKitReceiver(ctx, { ...opts, before: ['--certs', certs.dir], portCheck: TCP_PORT_CHECK });

/** A TLS receiver with fresh certificates, and clients trusting its CA (`ca`) that are destroyed at the end. */
export async function withTlsReceiver<T>(
  ctx: CheckContext,
  fn: (t: { certs: CertSet; recv: Receiver; ca: Buffer; clients: TlsClients }) => Promise<T>,
): Promise<T> {
  const certs = await certsFor(ctx);
  const recv = await startReceiver(ctx, certs);
  const ca = readFileSync(certs.ca.cert);
  return withClients(ctx, (clients) => fn({ certs, recv, ca, clients }));
}

export type Handshake = { ok: true } | { ok: false; code: string; message: string };

/** A FrameSource (kit/lsp.ts): `where` is its label. */
export interface TlsConn extends FrameSource {
  readonly socket: tls.TLSSocket;
  readonly label: string;
  /** secureConnect, or the error that came first */
  readonly handshake: Promise<Handshake>;
  readonly closed: Promise<{ at: number; error: NodeJS.ErrnoException | undefined }>;
  isClosed(): boolean;
  /** every frame received so far (a framing error fails the check) */
  frames(): Frame[];
  bytesReceived(): number;
  write(buf: Buffer): Promise<void>;
}

/** Opens TLS connections for one check and destroys them all at the end (`close()`). */
export class TlsClients {
  private readonly open: tls.TLSSocket[] = [];
  constructor(private readonly ctx: CheckContext) {}

  connect(port: number, opts: tls.ConnectionOptions, label: string): TlsConn {
    const socket = tls.connect({ host: '127.0.0.1', port, ...opts });
    socket.setNoDelay(true);
    this.open.push(socket);
    this.ctx.signal.addEventListener('abort', () => socket.destroy(), { once: true });
    const chunks: Buffer[] = [];
    let bytes = 0;
    let lastError: NodeJS.ErrnoException | undefined;
    let closedFlag = false;
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      bytes += c.length;
    });
    const handshake = new Promise<Handshake>((resolve) => {
      socket.once('secureConnect', () => resolve({ ok: true }));
      socket.on('error', (err: NodeJS.ErrnoException) => {
        lastError = err;
        resolve({ ok: false, code: err.code ?? 'ERROR', message: err.message });
      });
      socket.once('close', () =>
        resolve({ ok: false, code: 'CLOSED', message: 'the connection closed before the handshake finished' }),
      );
    });
    const closed = new Promise<{ at: number; error: NodeJS.ErrnoException | undefined }>((resolve) => {
      socket.once('close', () => {
        closedFlag = true;
        resolve({ at: Date.now(), error: lastError });
      });
    });
    return {
      socket,
      label,
      handshake,
      closed,
      isClosed: () => closedFlag,
      bytesReceived: () => bytes,
      where: label,
      frames: () =>
        decodeFrames(Buffer.concat(chunks), label, 'answer with encodeAck / encodeNack (shared/protocol) over TLS'),
      write: (buf) =>
        new Promise<void>((resolve, reject) => {
          if (socket.destroyed)
            return reject(
              new CheckFailure({
                expected: `to write on ${label}`,
                received: `the connection is closed${lastError ? ` (${lastError.code ?? lastError.message})` : ''}`,
                where: label,
              }),
            );
          socket.write(buf, (err) =>
            err
              ? reject(new CheckFailure({ expected: `to write on ${label}`, received: err.message, where: label }))
              : resolve(),
          );
        }),
    };
  }

  close(): void {
    for (const s of this.open) s.destroy();
  }
}

export async function withClients<T>(ctx: CheckContext, fn: (c: TlsClients) => Promise<T>): Promise<T> {
  const c = new TlsClients(ctx);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

/** Waits for the handshake to succeed; fails with the TLS error otherwise. */
export async function secure(conn: TlsConn, hint: string, timeoutMs = 5000): Promise<void> {
  const r = await Promise.race([
    conn.handshake,
    sleep(timeoutMs).then((): Handshake => ({
      ok: false,
      code: 'TIMEOUT',
      message: `no TLS handshake within ${timeoutMs} ms`,
    })),
  ]);
  if (!r.ok)
    fail({
      expected: `a verified TLS handshake (${conn.label})`,
      received: `${r.code}: ${r.message}`,
      where: conn.label,
      hint,
    });
}

export { streamId, waitAck } from '../harness/kit/lsp.ts';

/**
 * A client trusting `ca` on `clients` that completes a verified handshake (else fails with `words.secure`) and says
 * HELLO on a fresh stream, answered by ACK 0 (else fails with `words.ack`). Returns the client and its stream.
 */
export async function helloOverTls(
  ctx: CheckContext,
  clients: TlsClients,
  port: number,
  ca: Buffer,
  words: { label: string; name: string; secure: string; ack: string },
): Promise<{ c: TlsConn; stream: number }> {
  const c = clients.connect(port, { ca }, words.label);
  await secure(c, words.secure);
  const stream = streamId(ctx.rng);
  await c.write(encodeHello(stream, { name: words.name }));
  await waitAck(c, stream, 0, 5000, words.ack);
  return { c, stream };
}

// A shipper's progress lines are day 09's.
export { waitProgress } from '../day09/support.ts';

export async function waitExit(p: WatchedProgram, timeoutMs: number, hint: string): Promise<ProgramExit> {
  const r = await Promise.race([p.exit, sleep(timeoutMs).then(() => undefined)]);
  if (!r)
    fail({
      expected: `\`${p.cmd}\` to finish within ${timeoutMs} ms`,
      received: `still running; last line ${show(p.lastEvent('progress') ?? p.lastEvent('state') ?? '(none)', 300)}; stderr tail:\n${tail(p.stderrText(), 5, 10) || '(empty)'}`,
      where: `pid ${p.pid}`,
      hint,
    });
  return r;
}

/** Shipper flags every check uses (kit shipperFlags) to the receiver on `port`, trusting `ca`. */
export const shipperBase = (ctx: CheckContext, port: number, ca: string, extra: string[] = []) =>
  shipperFlags(ctx, at(port), ['--ca', ca, ...extra]);

export function rec(id: string, rng: () => number): Rec {
  return {
    ts: '2026-11-26T14:13:48.123Z',
    level: pick(rng, LEVELS),
    msg: `record ${id} ${Math.floor(rng() * 1e9)}`,
    service: 'checks',
    attrs: { id },
  };
}

export { expectStreamSeqs as expectSeqs, recordsOfStream as recordsOf } from '../harness/kit/lsp.ts';

export function tlsSection(stats: Stats | null): Rec {
  const t = stats?.['tls'];
  return t && typeof t === 'object' && !Array.isArray(t) ? (t as Rec) : {};
}

export function failuresOf(stats: Stats | null): Record<string, number> {
  const f = tlsSection(stats)['handshakeFailures'];
  const out: Record<string, number> = {};
  if (f && typeof f === 'object') for (const [k, v] of Object.entries(f as Rec)) if (typeof v === 'number') out[k] = v;
  return out;
}

/** Waits until stats.json → tls.handshakeFailures satisfies `pred`. */
export async function waitFailures(
  dataDir: string,
  what: string,
  pred: (f: Record<string, number>) => boolean,
  hint: string,
  timeoutMs = 4000,
): Promise<Record<string, number>> {
  let last: Record<string, number> = {};
  let exists = false;
  await waitFor(
    async () => {
      const s = await readStats(dataDir).catch(() => null);
      exists = s !== null;
      last = failuresOf(s);
      return pred(last);
    },
    {
      timeoutMs,
      what: `stats.json tls.handshakeFailures ${what}`,
      where: `${dataDir}/stats.json`,
      hint,
      received: () => (exists ? `tls.handshakeFailures = ${show(last)}` : 'no stats.json'),
    },
  );
  return last;
}

/** A shipper that must NOT deliver: exits non-zero (after --max-attempts), persists nothing, and says why. */
export async function expectShipperRefuses(
  ctx: CheckContext,
  recv: Receiver,
  args: string[],
  what: string,
  says: RegExp,
  hint: string,
): Promise<RunResult> {
  const r = await ctx.run('shipper', args, { timeoutMs: 20_000 });
  const cmd = `shipper ${args.join(' ')}`;
  ctx.log(`${what}: exit ${r.exitCode}; stderr tail:\n${tail(r.stderr, 3, 6)}`);
  const persisted = (await readRecords(recv.dataDir)).records.length;
  expectTrue(persisted === 0, {
    expected: `${what}: nothing delivered`,
    received: `${persisted} records persisted by the receiver`,
    where: recv.dataDir,
    hint,
  });
  if (r.timedOut)
    fail({
      expected: `\`${cmd}\` to give up after --max-attempts 2`,
      received: `still running after ${r.ms} ms`,
      where: cmd,
      hint: 'a refused handshake is a failed connect: count it towards --max-attempts',
    });
  expectTrue(r.exitCode !== 0, {
    expected: `a non-zero exit from \`${cmd}\` (${what})`,
    received: `exit code ${r.exitCode}`,
    where: cmd,
    hint,
  });
  const text = `${r.stderr}\n${r.stdout}`;
  expectTrue(says.test(text), {
    expected: `${what}: a message saying why (matching ${says})`,
    received: show(tail(r.stderr, 4, 8).slice(0, 800) || '(empty stderr)'),
    where: `${cmd} stderr`,
    hint,
  });
  return r;
}
