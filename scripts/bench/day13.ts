/**
 * Day 13's benchmark (`npm run bench -- day13`): what does TLS cost?
 *
 *   - bulk: the same pre-encoded LSP/1 BATCH frames (1000 records each) sent on one connection to day 09's
 *     receiver over plain TCP, and to day 13's receiver over TLS 1.3 and TLS 1.2; the clock runs from
 *     connect (handshake included) to the ACK of the last record, so it covers decrypting, decoding,
 *     writing, fsync and the ACK. Both receivers run the same LSP/1 delivery code (shared/lsp-receiver.ts,
 *     hwm-store, FileSink); the only difference is the TLS layer.
 *   - handshakes: new connections per second, each a full handshake (no session resumption) + HELLO → ACK,
 *     from 8 clients at once; plain TCP connects + HELLO → ACK beside them. For these rows the "records"
 *     column counts connections.
 *
 * Every contender starts its own receiver on a fresh data dir; the certificates are made once (setup).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { RecordGenerator } from '../../shared/generate.ts';
import { encodeHello, FrameDecoder, FrameType } from '../../shared/protocol/frame.ts';
import { ensureCerts, type CertSet } from '../../shared/tls/certs.ts';
import { startProgram } from '../lib/launch.ts';
import { toChunks } from './blast.ts';
import { lspBlast, plainConnect, toBatchFrames, type Connect } from './lsp-blast.ts';
import type { BenchContext, Contender, RunResult, Scenario } from './types.ts';
import { readyToTime } from './warm-memory.ts';

const STREAM = 13;
const HANDSHAKE_CLIENTS = 8;

interface Day13Context extends BenchContext {
  frames: Buffer[];
  certs: CertSet;
  ca: Buffer;
  /** connections per handshake run */
  handshakes: number;
}

export const tlsConnect =
  (ca: Buffer, opts: tls.ConnectionOptions = {}): Connect =>
  (host, port) =>
    new Promise((resolve, reject) => {
      const s = tls.connect({ host, port, ca, ...opts });
      s.setNoDelay(true);
      s.once('secureConnect', () => resolve(s)).once('error', reject);
    });

/** An LSP/1 client on one connection (lsp-blast.ts): HELLO, then frames as fast as the socket takes them; resolves at the ACK of `lastSeq`. */
export const lspOver = (
  connect: Connect,
  host: string,
  port: number,
  frames: readonly Buffer[],
  lastSeq: number,
): Promise<{ ms: number; bytes: number }> => lspBlast(host, port, STREAM, frames, lastSeq, connect);

/** `n` connections, `HANDSHAKE_CLIENTS` at a time, each connect (+ handshake) → HELLO → ACK → close. */
async function connections(connect: Connect, host: string, port: number, n: number): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: HANDSHAKE_CLIENTS }, async (_, c) => {
      while (next < n) {
        next++;
        const s = await connect(host, port);
        await new Promise<void>((resolve, reject) => {
          const d = new FrameDecoder();
          s.on('data', (chunk: Buffer) => {
            if (d.push(chunk).some((f) => f.type === FrameType.ACK)) resolve();
          });
          s.once('close', () => reject(new Error('closed before the ACK')));
          s.write(encodeHello(1000 + c, { name: 'bench-handshake' }));
        });
        s.destroy();
      }
    }),
  );
  return performance.now() - t0;
}

/** Starts a receiver on a fresh data dir, runs `fn`, stops it (SIGTERM: final stats), runs `after` on its data dir. */
async function withReceiver<T>(
  lesson: 'day09' | 'day13',
  ctx: Day13Context,
  fn: (host: string, port: number) => Promise<T>,
  after?: (dataDir: string) => Promise<void>,
): Promise<T> {
  const dir = await mkdtemp(join(os.tmpdir(), `logstream-bench13-${lesson}-`));
  const args = [
    '--port',
    '0',
    '--data-dir',
    dir,
    '--fsync',
    'interval',
    ...(lesson === 'day13' ? ['--certs', ctx.certs.dir] : []),
  ];
  const p = startProgram({ name: `${lesson} receiver`, file: `lessons/${lesson}/receiver.ts`, args });
  try {
    const ready = await readyToTime(p);
    const r = await fn(ready.host, ready.port);
    await p.stop();
    await after?.(dir);
    return r;
  } finally {
    await p.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function bulk(name: string, lesson: 'day09' | 'day13', connectOf: (ctx: Day13Context) => Connect): Contender {
  return {
    name,
    async run(c): Promise<RunResult> {
      const ctx = c as Day13Context;
      const r = await withReceiver(
        lesson,
        ctx,
        (host, port) => lspOver(connectOf(ctx), host, port, ctx.frames, ctx.records),
        async (dir) => {
          const stats = JSON.parse(await readFile(join(dir, 'stats.json'), 'utf8')) as {
            records: { persisted: number };
          };
          if (stats.records.persisted !== ctx.records)
            throw new Error(`receiver persisted ${stats.records.persisted} of ${ctx.records}`);
        },
      );
      return { records: ctx.records, bytes: r.bytes, ms: r.ms };
    },
  };
}

function handshakeRow(name: string, lesson: 'day09' | 'day13', connectOf: (ctx: Day13Context) => Connect): Contender {
  return {
    name,
    async run(c): Promise<RunResult> {
      const ctx = c as Day13Context;
      const ms = await withReceiver(lesson, ctx, (host, port) =>
        connections(connectOf(ctx), host, port, ctx.handshakes),
      );
      return {
        records: ctx.handshakes,
        bytes: 0,
        ms,
        note: `${Math.round(ctx.handshakes / (ms / 1000))} connections/s`,
      };
    },
  };
}

export const day13Scenario: Scenario = {
  title: 'day 13 LSP/1 over TLS beside plain TCP (same batches of 1000), and handshakes per second',
  baseline: 'day09 receiver, plain TCP',
  defaultRecords: 500_000,
  async setup(opts): Promise<Day13Context> {
    const gen = new RecordGenerator({ seed: 42, baseTimeMs: Date.UTC(2026, 10, 26) });
    const lines = gen.take(opts.records);
    const chunks = toChunks(lines);
    const bytes = chunks.reduce((a, ch) => a + ch.length, 0);
    const certDir = await mkdtemp(join(os.tmpdir(), 'logstream-bench13-certs-'));
    const certs = await ensureCerts(join(certDir, 'certs'));
    return {
      records: opts.records,
      recordBytes: Math.round(bytes / opts.records),
      chunks,
      frames: toBatchFrames(lines, STREAM, 1000),
      certs,
      ca: await readFile(certs.ca.cert),
      handshakes: Math.max(200, Math.min(2000, Math.round(opts.records / 500))),
      teardown: () => rm(certDir, { recursive: true, force: true }),
    };
  },
  contenders: [
    bulk('day09 receiver, plain TCP', 'day09', () => plainConnect),
    bulk('day13 receiver, TLS 1.3', 'day13', (ctx) => tlsConnect(ctx.ca)),
    bulk('day13 receiver, TLS 1.2', 'day13', (ctx) => tlsConnect(ctx.ca, { maxVersion: 'TLSv1.2' })),
    handshakeRow('connections/s: plain TCP + HELLO/ACK', 'day09', () => plainConnect),
    handshakeRow('connections/s: TLS 1.3 full handshake + HELLO/ACK', 'day13', (ctx) => tlsConnect(ctx.ca)),
  ],
  notes:
    'Bulk rows: one connection, pre-encoded BATCH frames of 1000 records, timed from connect (TLS handshake included) to the ACK of the last record (durable: --fsync interval). ' +
    'Same receiver code under both (shared/lsp-receiver.ts); TLS adds encryption (AES-256-GCM / TLS_AES_256_GCM_SHA384 with TLS 1.3) and 16 KiB records. ' +
    `"connections/s" rows: ${HANDSHAKE_CLIENTS} clients in parallel, each connection a full handshake (ECDHE P-256 + ECDSA) + HELLO → ACK; the records column counts connections.`,
};
