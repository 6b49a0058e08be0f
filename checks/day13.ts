// Graded checks for day 13: LSP/1 over TLS (TLS 1.2 minimum, 1.3 by default), a shipper that always
// verifies the receiver, mutual TLS with the client's subject in `_rx`, handshake failures counted by
// reason, certificate reload without dropping connections, and the dashboard.
// Black-box: the programs are driven through the process contract (CONVENTIONS.md §2). The checks make their own
// certificates with shared/tls/certs.ts (a fresh set per check, so a rotation never touches another
// check), and speak LSP/1 over their own TLS sockets where the shipper is not needed.
// The learner's TODOs (lessons/day13/README.md, "Your TODOs"): shipper.ts connectTls (verify the receiver:
// d13.3, d13.6; versions: d13.5), receiver.ts tlsOptions (versions: d13.5; mTLS: d13.7), verifiedSubject
// and identityOf (the identity in _rx: d13.7), writerOf (who may write a stream: d13.10) and maybeReload
// (rotation: d13.8); the hints below name them.
// Given, 0 points: d13.1 (the process contract; certificates come from shared/tls/certs.ts), d13.2 (day 09's
// delivery over a TLS socket), d13.4 (a plaintext client fails the TLS handshake: the lesson's first-byte
// look and tls-failures.ts count it) and d13.9 (the dashboard the lesson starts).
import { existsSync, readFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import { encodeBatch } from '../shared/protocol/batch.ts';
import { encodeHello, FrameDecoder, FrameType, parseNack, type Frame } from '../shared/protocol/frame.ts';
import { ensureCerts, issueClientCert, issueServerCert, type CertSet } from '../shared/tls/certs.ts';
import { CheckFailure, expectEqual, expectTrue, fail, failNow, show, waitFor, waitUntil } from './harness/assert.ts';
import {
  formatRanges,
  readRecords,
  readStats,
  statNumber,
  verifySeqs,
  type PersistedRecord,
  type Stats,
} from './harness/persisted.ts';
import { tail } from './harness/process.ts';
import { pick, randInt } from './harness/rng.ts';
import type { Check, CheckContext, ProgramExit, RunningProgram, RunResult, WatchedProgram } from './harness/types.ts';
import { freePort } from '../shared/free-port.ts';

export const lesson = 'day13';

type Rec = Record<string, unknown>;
type Json = Record<string, unknown>;

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const at = (port: number) => `127.0.0.1:${port}`;

// ---- certificates and the receiver -------------------------------------------------------------

/** A fresh development set (CA, server, client shipper-1, other CA + its client, expired server). */
async function certsFor(ctx: CheckContext): Promise<CertSet> {
  const dir = path.join(await ctx.tmp(), 'certs');
  const set = await ensureCerts(dir);
  ctx.log(`certificates in ${set.dir}`);
  return set;
}

interface Receiver {
  rx: RunningProgram;
  dataDir: string;
  port: number;
}

async function startReceiver(
  ctx: CheckContext,
  certs: CertSet,
  opts: { dataDir?: string; port?: number; extra?: string[] } = {},
): Promise<Receiver> {
  const dataDir = opts.dataDir ?? (await ctx.tmp());
  const args = [
    '--host',
    '127.0.0.1',
    '--port',
    String(opts.port ?? 0),
    '--data-dir',
    dataDir,
    '--certs',
    certs.dir,
    '--stats-interval-ms',
    '100',
    ...(opts.extra ?? []),
  ];
  const rx = await ctx.start('receiver', args);
  ctx.log(`receiver pid ${rx.pid} on ${rx.host}:${rx.port}, args ${args.join(' ')}`);
  if (!Number.isInteger(rx.port) || rx.port <= 0) {
    fail({
      expected: 'the ready line to carry the bound port (a positive integer)',
      received: show(rx.ready['port']),
      where: 'receiver ready line',
      hint: 'with --port 0 the OS picks a port; announce the one you got',
    });
  }
  return { rx, dataDir, port: rx.port };
}

// ---- the check's own TLS client ----------------------------------------------------------------

type Handshake = { ok: true } | { ok: false; code: string; message: string };

interface TlsConn {
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
class TlsClients {
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
      frames: () => {
        try {
          return new FrameDecoder({ maxPayloadBytes: 1 << 20 }).push(Buffer.concat(chunks));
        } catch (err) {
          failNow({
            expected: 'the receiver to send well-formed LSP/1 frames over TLS',
            received: `${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message}`,
            where: label,
            hint: 'answer with encodeAck / encodeNack (shared/protocol)',
          });
        }
      },
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

async function withClients<T>(ctx: CheckContext, fn: (c: TlsClients) => Promise<T>): Promise<T> {
  const c = new TlsClients(ctx);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

/** Waits for the handshake to succeed; fails with the TLS error otherwise. */
async function secure(conn: TlsConn, hint: string, timeoutMs = 5000): Promise<void> {
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

/** Waits for an ACK of `stream` with seq ≥ `want`. */
async function waitAck(
  conn: TlsConn,
  stream: number,
  want: number,
  timeoutMs: number,
  hint: string,
): Promise<number[]> {
  let acks: number[] = [];
  await waitUntil(
    () => {
      const frames = conn.frames();
      const nack = frames.find((f) => f.type === FrameType.NACK);
      if (nack)
        failNow({
          expected: `an ACK of stream ${stream} ≥ ${want}`,
          received: `a NACK ${show(nack.payload.toString('utf8'))}`,
          where: conn.label,
          hint,
        });
      acks = frames.filter((f) => f.type === FrameType.ACK && f.stream === stream).map((f) => f.seq);
      if (acks.some((s) => s >= want)) return true;
      if (conn.isClosed())
        failNow({
          expected: `an ACK of stream ${stream} ≥ ${want}`,
          received: `the connection closed; ACKs so far ${show(acks.slice(-10))}`,
          where: conn.label,
          hint,
        });
      return false;
    },
    {
      timeoutMs,
      what: `an ACK of stream ${stream} with seq ≥ ${want}`,
      where: conn.label,
      hint,
      received: () => `ACKs so far ${show(acks.slice(-10))}`,
    },
  );
  return acks;
}

/**
 * A client that must be refused: its handshake fails, or (TLS 1.3: the server checks a client
 * certificate after the client's side is done) the connection is closed before any answer to a HELLO.
 * Returns how it was refused.
 */
async function expectRefused(conn: TlsConn, stream: number, what: string, hint: string): Promise<string> {
  const h = await Promise.race([
    conn.handshake,
    sleep(5000).then((): Handshake => ({ ok: false, code: 'TIMEOUT', message: 'no handshake result in 5 s' })),
  ]);
  if (!h.ok && h.code === 'TIMEOUT')
    fail({
      expected: `${what}: refused`,
      received: 'the handshake neither finished nor failed within 5 s',
      where: conn.label,
      hint,
    });
  if (h.ok) await conn.write(encodeHello(stream, { name: `check-${conn.label}` })).catch(() => undefined);
  const closed = await Promise.race([conn.closed, sleep(4000).then(() => undefined)]);
  const acks = conn.frames().filter((f) => f.type === FrameType.ACK);
  expectTrue(acks.length === 0, {
    expected: `${what}: refused (no answer to its HELLO)`,
    received: `an ACK (seq ${acks[0]?.seq}): the receiver accepted it`,
    where: conn.label,
    hint,
  });
  expectTrue(closed !== undefined, {
    expected: `${what}: the connection closed by the receiver`,
    received: 'still open after 4 s',
    where: conn.label,
    hint,
  });
  return h.ok
    ? `handshake finished on our side, then closed (${closed.error?.code ?? 'no error'})`
    : `handshake failed: ${h.code}`;
}

// ---- the shipper, watched while it runs (ctx.watch, as in day 09's checks) ----------------------

function spawnShipper(ctx: CheckContext, args: string[], opts: { stdin?: boolean } = {}): WatchedProgram {
  const p = ctx.watch('shipper', args, opts);
  ctx.log(`shipper pid ${p.pid}: ${p.cmd}`);
  return p;
}

async function waitExit(p: WatchedProgram, timeoutMs: number, hint: string): Promise<ProgramExit> {
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

async function waitProgress(
  p: WatchedProgram,
  what: string,
  cond: (j: Json) => boolean,
  timeoutMs: number,
): Promise<void> {
  await waitUntil(
    () => {
      if (p.events.some((e) => e.json['event'] === 'progress' && cond(e.json))) return true;
      const ex = p.exited();
      if (ex)
        failNow({
          expected: `${what} (a progress line of \`${p.cmd}\`)`,
          received: `it exited first (code ${ex.exitCode}); stderr tail:\n${tail(p.stderrText(), 5, 10) || '(empty)'}`,
          where: `pid ${p.pid}`,
        });
      return false;
    },
    {
      timeoutMs,
      what,
      where: `shipper pid ${p.pid} stdout`,
      hint: '--progress-ms N prints {"event":"progress","read","sent","acked",…} every N ms',
      received: () => `last progress ${show(p.lastEvent('progress') ?? '(none)', 300)}`,
    },
  );
}

function doneOf(p: WatchedProgram): Json {
  const d = p.lastEvent('done');
  if (!d)
    fail({
      expected: `a {"event":"done",…} line on the stdout of \`${p.cmd}\``,
      received: show(p.stdoutTail().slice(-400) || '(empty stdout)'),
      where: `pid ${p.pid} stdout`,
    });
  return d;
}

/** Shipper flags every check uses: its own state dir, progress lines, quick reconnects. */
async function shipperBase(ctx: CheckContext, port: number, ca: string, extra: string[] = []): Promise<string[]> {
  return [
    '--target',
    at(port),
    '--ca',
    ca,
    '--state-dir',
    await ctx.tmp(),
    '--progress-ms',
    '100',
    '--backoff-base-ms',
    '20',
    '--backoff-cap-ms',
    '200',
    ...extra,
  ];
}

// ---- records, stats ------------------------------------------------------------------------------

function rec(id: string, rng: () => number): Rec {
  return {
    ts: '2026-11-26T14:13:48.123Z',
    level: pick(rng, LEVELS),
    msg: `record ${id} ${Math.floor(rng() * 1e9)}`,
    service: 'checks',
    attrs: { id },
  };
}
const streamId = (rng: () => number) => 1 + Math.floor(rng() * 0xffff_fffe);
const where = (p: PersistedRecord) => `${p.file} line ${p.lineNo}`;

function rxOf(p: PersistedRecord): Rec {
  const rx = p.record['_rx'];
  return rx && typeof rx === 'object' ? (rx as Rec) : {};
}

async function recordsOf(dataDir: string, stream: number): Promise<PersistedRecord[]> {
  return (await readRecords(dataDir)).records.filter((p) => String(rxOf(p)['stream']) === String(stream));
}

/** Every seq 1..n of `stream` persisted exactly once, in order. */
async function expectSeqs(dataDir: string, stream: number, n: number, hint: string): Promise<PersistedRecord[]> {
  const records = await recordsOf(dataDir, stream);
  const r = verifySeqs(records);
  const problems: string[] = [];
  if (r.lost.length) problems.push(`lost ${formatRanges(r.lost)}`);
  if (r.duplicated.length) problems.push(`duplicated ${formatRanges(r.duplicated)}`);
  if (r.reordered) problems.push(`${r.reordered} out of order`);
  if (r.maxSeq !== n) problems.push(`highest seq ${r.maxSeq}`);
  if (r.count !== n) problems.push(`${r.count} records in all`);
  if (problems.length)
    fail({
      expected: `seqs 1..${n} of stream ${stream}, each persisted exactly once, in order`,
      received: problems.join('; '),
      where: dataDir,
      hint,
    });
  return records;
}

function tlsSection(stats: Stats | null): Rec {
  const t = stats?.['tls'];
  return t && typeof t === 'object' && !Array.isArray(t) ? (t as Rec) : {};
}

function failuresOf(stats: Stats | null): Record<string, number> {
  const f = tlsSection(stats)['handshakeFailures'];
  const out: Record<string, number> = {};
  if (f && typeof f === 'object') for (const [k, v] of Object.entries(f as Rec)) if (typeof v === 'number') out[k] = v;
  return out;
}

/** Waits until stats.json → tls.handshakeFailures satisfies `pred`. */
async function waitFailures(
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

function exitedWith(r: RunResult, code: number, cmd: string, hint: string): void {
  if (r.timedOut)
    fail({
      expected: `\`${cmd}\` to exit with code ${code}`,
      received: `still running after ${r.ms} ms`,
      where: cmd,
      hint,
    });
  expectEqual(r.exitCode, code, {
    what: `exit code of \`${cmd}\``,
    where: `stderr: ${show(r.stderr.trim().slice(-300))}`,
    hint,
  });
}

function stderrNames(r: RunResult, flag: string, cmd: string): void {
  const lines = r.stderr.split('\n').filter((l) => l.trim().length > 0);
  expectTrue(
    lines.some((l) => l.includes(flag)),
    {
      expected: `a stderr line naming ${flag} from \`${cmd}\``,
      received: show(r.stderr.trim().slice(0, 300) || '(empty stderr)'),
      where: 'stderr',
      hint: 'print one line on stderr that names the offending flag, then exit 2',
    },
  );
}

/** A shipper that must NOT deliver: exits non-zero (after --max-attempts), persists nothing, and says why. */
async function expectShipperRefuses(
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

// ---- the checks ------------------------------------------------------------------------------

const d13_1: Check = {
  id: 'd13.1',
  title:
    'Process contract (ready line, --help, bad flags exit 2, LOGSTREAM_* env); certificates created on the first run, keys 0600',
  // Given: the flags, --help, the ready line and the certificates made on the first run come with the lesson.
  given: true,
  points: 0,
  timeoutMs: 60_000,
  async run(ctx) {
    const dataDir = await ctx.tmp();
    const freshCerts = path.join(await ctx.tmp(), 'new-certs'); // does not exist yet
    const base = ['--data-dir', dataDir, '--port', '0', '--certs', freshCerts];
    const [rxHelp, rxBogus, rxOldTls, shHelp, shInsecure, shOldTls] = await Promise.all([
      ctx.run('receiver', ['--help'], { timeoutMs: 20_000 }),
      ctx.run('receiver', [...base, '--bogus'], { timeoutMs: 20_000 }),
      ctx.run('receiver', [...base, '--min-tls', 'TLSv1.1'], { timeoutMs: 20_000 }),
      ctx.run('shipper', ['--help'], { timeoutMs: 20_000 }),
      ctx.run('shipper', ['--generate', '1', '--state-dir', await ctx.tmp(), '--insecure'], { timeoutMs: 20_000 }),
      ctx.run('shipper', ['--generate', '1', '--state-dir', await ctx.tmp(), '--min-tls', 'TLSv1.1'], {
        timeoutMs: 20_000,
      }),
    ]);
    exitedWith(rxHelp, 0, 'receiver --help', '--help prints usage on stdout and exits 0');
    const usage = rxHelp.stdout + rxHelp.stderr;
    for (const flag of [
      '--port',
      '--data-dir',
      '--certs',
      '--cert',
      '--key',
      '--ca',
      '--mtls',
      '--min-tls',
      '--dashboard-port',
    ]) {
      expectTrue(usage.includes(flag), {
        expected: `receiver usage naming ${flag}`,
        received: show(usage.slice(0, 400)),
        where: 'receiver --help',
        hint: 'list every flag in --help',
      });
    }
    exitedWith(rxBogus, 2, 'receiver --bogus', 'an unknown flag is an error: one stderr line naming it, exit 2');
    stderrNames(rxBogus, '--bogus', 'receiver --bogus');
    exitedWith(
      rxOldTls,
      2,
      'receiver --min-tls TLSv1.1',
      'TLS 1.0 and 1.1 are never accepted: --min-tls takes TLSv1.2 | TLSv1.3',
    );
    stderrNames(rxOldTls, '--min-tls', 'receiver --min-tls TLSv1.1');
    exitedWith(shHelp, 0, 'shipper --help', '--help prints usage on stdout and exits 0');
    const shUsage = shHelp.stdout + shHelp.stderr;
    for (const flag of ['--target', '--ca', '--cert', '--key', '--certs', '--state-dir', '--max-attempts']) {
      expectTrue(shUsage.includes(flag), {
        expected: `shipper usage naming ${flag}`,
        received: show(shUsage.slice(0, 400)),
        where: 'shipper --help',
        hint: 'list every flag in --help',
      });
    }
    exitedWith(
      shInsecure,
      2,
      'shipper --insecure',
      'there is no way to turn verification off: --insecure is an unknown flag (exit 2)',
    );
    stderrNames(shInsecure, '--insecure', 'shipper --insecure');
    exitedWith(
      shOldTls,
      2,
      'shipper --min-tls TLSv1.1',
      'the shipper never offers TLS 1.0/1.1: --min-tls takes TLSv1.2 | TLSv1.3',
    );
    stderrNames(shOldTls, '--min-tls', 'shipper --min-tls TLSv1.1');

    // LOGSTREAM_<FLAG>, the ready line, and certificates made on the first run.
    const port = await freePort();
    const rx = await ctx.start('receiver', ['--data-dir', dataDir, '--stats-interval-ms', '100'], {
      env: { LOGSTREAM_PORT: String(port), LOGSTREAM_CERTS: freshCerts },
    });
    ctx.log(
      `receiver started with LOGSTREAM_PORT=${port} LOGSTREAM_CERTS=${freshCerts}: ready ${JSON.stringify(rx.ready)}`,
    );
    const r = rx.ready;
    expectEqual(r['role'], 'receiver', { what: 'ready line "role"', where: 'receiver ready line' });
    expectEqual(r['lesson'], 'day13', { what: 'ready line "lesson"', where: 'receiver ready line' });
    expectEqual(r['transport'], 'lsp1-tls', {
      what: 'ready line "transport"',
      where: 'receiver ready line',
      hint: 'day 13 speaks LSP/1 binary frames over TLS: "lsp1-tls"',
    });
    expectEqual(r['host'], '127.0.0.1', { what: 'ready line "host" (default --host)', where: 'receiver ready line' });
    expectEqual(r['port'], port, {
      what: 'ready line "port" when started with LOGSTREAM_PORT',
      where: 'receiver ready line',
      hint: 'every flag also reads LOGSTREAM_<FLAG> from the environment (flag first)',
    });
    const names = existsSync(freshCerts) ? await readdir(freshCerts) : [];
    for (const f of ['ca.crt', 'server.crt', 'server.key']) {
      expectTrue(names.includes(f), {
        expected: `${f} created in --certs on the first run`,
        received: `files ${show(names)}`,
        where: freshCerts,
        hint: 'call ensureCerts(--certs) (shared/tls/certs.ts) at start: certificates without manual steps',
      });
    }
    for (const f of names.filter((n) => n.endsWith('.key'))) {
      const mode = (await stat(path.join(freshCerts, f))).mode & 0o777;
      expectTrue(mode === 0o600, {
        expected: `private key ${f} with mode 0600`,
        received: `mode ${mode.toString(8).padStart(4, '0')}`,
        where: path.join(freshCerts, f),
        hint: 'a private key readable by others is no longer private',
      });
    }

    // The shipper, configured by environment alone, trusting the CA the receiver just made.
    const N = 100;
    const env = {
      LOGSTREAM_TARGET: at(port),
      LOGSTREAM_GENERATE: String(N),
      LOGSTREAM_STATE_DIR: await ctx.tmp(),
      LOGSTREAM_CA: path.join(freshCerts, 'ca.crt'),
    };
    const res = await ctx.run('shipper', [], { env, timeoutMs: 20_000 });
    const cmd = `LOGSTREAM_TARGET=${at(port)} LOGSTREAM_GENERATE=${N} LOGSTREAM_CA=… shipper.ts`;
    exitedWith(
      res,
      0,
      cmd,
      'the shipper reads LOGSTREAM_TARGET, LOGSTREAM_GENERATE, LOGSTREAM_CA, … and exits 0 once everything is ACKed',
    );
    const done = res.json.find((j) => j['event'] === 'done');
    if (!done)
      fail({
        expected: `a {"event":"done",…} line on the stdout of \`${cmd}\``,
        received: show(res.stdout.slice(-300) || '(empty stdout)'),
        where: 'shipper stdout',
      });
    expectEqual(done['acked'], N, { what: 'done line "acked"', where: `done line ${show(done, 300)}` });
  },
};

const d13_2: Check = {
  id: 'd13.2',
  exclusive: true,
  title: 'Records arrive over TLS 1.3 with the receiver verified; nothing lost across a receiver restart (kill -9)',
  // Given: day 09's delivery on the TLS sockets the lesson wires up; no TODO of today asks for it.
  given: true,
  points: 0,
  timeoutMs: 60_000,
  async run(ctx) {
    const certs = await certsFor(ctx);
    const first = await startReceiver(ctx, certs);
    const { dataDir, port } = first;
    await withClients(ctx, async (clients) => {
      // The check's own client verifies the receiver exactly as a shipper must: CA, name (IP SAN), dates.
      const c = clients.connect(port, { ca: readFileSync(certs.ca.cert) }, 'check client trusting ca.crt');
      await secure(
        c,
        'the receiver presents a certificate signed by the CA in --certs, valid, with 127.0.0.1 in its SAN (ensureCerts makes one)',
      );
      expectEqual(c.socket.getProtocol(), 'TLSv1.3', {
        what: 'the negotiated TLS version (both sides allow 1.3)',
        where: c.label,
        hint: "maxVersion TLSv1.3 (Node's default): 1.3 when both sides have it",
      });
      const S = streamId(ctx.rng);
      await c.write(encodeHello(S, { name: 'check-d13.2' }));
      await waitAck(c, S, 0, 5000, 'LSP/1 runs unchanged over the TLS socket: HELLO → ACK');
      c.socket.destroy();
    });

    const sh = spawnShipper(
      ctx,
      await shipperBase(ctx, port, certs.ca.cert, ['--input', '-', '--batch-delay-ms', '5']),
      { stdin: true },
    );
    let next = 0;
    const feed = async (n: number) => {
      let text = '';
      for (let i = 0; i < n; i++) text += `${JSON.stringify(rec(`tls-${++next}`, ctx.rng))}\n`;
      await sh.write(text);
    };
    const HALF = 5000;
    await feed(HALF);
    await waitProgress(sh, `progress with acked = ${HALF}`, (j) => Number(j['acked']) >= HALF, 20_000);
    const s1 = await readStats(dataDir);
    expectEqual(tlsSection(s1)['version'], 'TLSv1.3', {
      what: "stats.json tls.version (the shipper's connection)",
      where: `${dataDir}/stats.json`,
      hint: 'write the negotiated version (tlsSocket.getProtocol()) into stats.json → tls.version',
    });
    first.rx.kill('SIGKILL');
    await first.rx.waitExit(5000);
    ctx.log('receiver killed (-9); feeding the second half while it is down');
    await feed(HALF);
    const second = await startReceiver(ctx, certs, { dataDir, port });
    sh.endInput();
    const exit = await waitExit(
      sh,
      30_000,
      'after the restart: reconnect (TLS handshake again), HELLO, resend what was not ACKed',
    );
    ctx.log(`shipper exit ${exit.exitCode}; done ${show(sh.lastEvent('done'), 600)}`);
    expectTrue(exit.exitCode === 0, {
      expected: `\`${sh.cmd}\` to exit 0 (everything acknowledged)`,
      received: `exit code ${exit.exitCode}; stderr tail:\n${tail(sh.stderrText(), 5, 10)}`,
      where: `pid ${sh.pid}`,
    });
    const done = doneOf(sh);
    expectEqual(done['acked'], 2 * HALF, { what: 'done line "acked"', where: `shipper done line ${show(done, 300)}` });
    const stream = Number(done['stream']);
    await expectSeqs(
      dataDir,
      stream,
      2 * HALF,
      "day 09's guarantees hold over TLS: resend after reconnect, dedup at the receiver",
    );
    let ok: unknown;
    await waitFor(
      async () => {
        ok = (tlsSection(await readStats(dataDir).catch(() => null))['handshakes'] as Rec | undefined)?.['ok'];
        return typeof ok === 'number' && ok >= 1;
      },
      {
        timeoutMs: 3000,
        what: `stats.json tls.handshakes.ok ≥ 1 on the restarted receiver (pid ${second.rx.pid})`,
        where: `${dataDir}/stats.json`,
        hint: 'count successful handshakes in stats.json → tls.handshakes.ok',
        received: () => `tls.handshakes.ok = ${show(ok)}`,
      },
    );
  },
};

const d13_3: Check = {
  id: 'd13.3',
  title: 'A shipper trusting another CA refuses the receiver: nothing sent, a clear message',
  points: 15,
  timeoutMs: 40_000,
  async run(ctx) {
    const certs = await certsFor(ctx);
    const recv = await startReceiver(ctx, certs);
    await expectShipperRefuses(
      ctx,
      recv,
      await shipperBase(ctx, recv.port, certs.otherCa.cert, ['--generate', '50', '--max-attempts', '2']),
      'a shipper whose --ca is another CA',
      /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT|CERT_SIGNATURE_FAILURE|not signed|unknown (CA|issuer)|--ca/i,
      'your TODO in lessons/day13/shipper.ts (connectTls): verify the receiver against --ca, always (ca + rejectUnauthorized: true): a client that does not verify talks to whoever answers. The message comes from tls-failures.ts.',
    );
  },
};

const d13_4: Check = {
  id: 'd13.4',
  title: 'A plaintext client on the TLS port is refused and counted; TLS clients carry on',
  // Given: the lesson's first-byte look (and the TLS handshake itself) refuses plaintext; tls-failures.ts counts it.
  given: true,
  points: 0,
  timeoutMs: 40_000,
  async run(ctx) {
    const certs = await certsFor(ctx);
    const recv = await startReceiver(ctx, certs);
    const ca = readFileSync(certs.ca.cert);
    await withClients(ctx, async (clients) => {
      const good = clients.connect(recv.port, { ca }, 'TLS client');
      await secure(good, 'a verified TLS handshake with the dev CA');
      const G = streamId(ctx.rng);
      await good.write(encodeHello(G, { name: 'check-d13.4-good' }));
      await waitAck(good, G, 0, 5000, 'HELLO → ACK over TLS');

      // An LSP/1 client that forgot TLS: HELLO + a BATCH in the clear.
      const P = streamId(ctx.rng);
      const plain = await ctx.connect(recv.rx.host, recv.port);
      const bytes = Buffer.concat([
        encodeHello(P, { name: 'check-d13.4-plaintext' }),
        encodeBatch({ stream: P, seq: 1, records: [JSON.stringify(rec('plain-1', ctx.rng))] }),
      ]);
      await plain.write(bytes).catch(() => undefined);
      await plain.waitClosed(4000, 'the receiver to close a plaintext connection on its TLS port');
      let frames: Frame[] = [];
      try {
        frames = new FrameDecoder().push(Buffer.from(plain.received()));
      } catch {
        frames = []; // not LSP/1 (a TLS alert, say): certainly no ACK
      }
      expectTrue(!frames.some((f) => f.type === FrameType.ACK), {
        expected: 'no ACK for a plaintext HELLO on the TLS port',
        received: 'an ACK: the receiver parsed plaintext LSP/1',
        where: `plaintext connection from ${plain.localPeer}`,
        hint: 'a TLS port never speaks plaintext: refuse (a NACK saying "use TLS" is fine), count, close',
      });

      // Plain HTTP too.
      const http = await ctx.connect(recv.rx.host, recv.port);
      await http.write(Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n')).catch(() => undefined);
      await http.waitClosed(4000, 'the receiver to close a plaintext HTTP request on its TLS port');

      await waitFailures(
        recv.dataDir,
        'plaintext ≥ 2',
        (f) => (f['plaintext'] ?? 0) >= 2,
        'a connection whose first byte is not a TLS handshake record (0x16) is plaintext: count it as "plaintext" in stats.json → tls.handshakeFailures',
      );
      const leaked = await recordsOf(recv.dataDir, P);
      expectTrue(leaked.length === 0, {
        expected: 'nothing persisted from the plaintext connection',
        received: `${leaked.length} records of stream ${P} at ${leaked.map(where).join(', ')}`,
        where: recv.dataDir,
      });

      expectTrue(!good.isClosed(), {
        expected: 'the TLS connection to stay open',
        received: 'the receiver closed it',
        where: good.label,
        hint: 'a bad client affects its own connection only',
      });
      const n = randInt(ctx.rng, 5, 40);
      await good.write(
        encodeBatch({
          stream: G,
          seq: 1,
          records: Array.from({ length: n }, (_, i) => JSON.stringify(rec(`good-${i + 1}`, ctx.rng))),
        }),
      );
      await waitAck(good, G, n, 5000, 'the TLS client carries on');
      await expectSeqs(recv.dataDir, G, n, 'records of the TLS client are persisted');
    });
  },
};

/** A TLS 1.1 ClientHello, built by hand (for an OpenSSL that refuses to send one itself). */
function tls11ClientHello(rng: () => number): Buffer {
  const random = Buffer.from(Array.from({ length: 32 }, () => Math.floor(rng() * 256)));
  const suites = Buffer.from([0x00, 0x08, 0xc0, 0x13, 0xc0, 0x14, 0x00, 0x2f, 0x00, 0x35]);
  const body = Buffer.concat([
    Buffer.from([0x03, 0x02]),
    random,
    Buffer.from([0x00]),
    suites,
    Buffer.from([0x01, 0x00]),
  ]);
  const hs = Buffer.concat([Buffer.from([0x01, 0x00, body.length >> 8, body.length & 0xff]), body]);
  return Buffer.concat([Buffer.from([0x16, 0x03, 0x02, hs.length >> 8, hs.length & 0xff]), hs]);
}

const d13_5: Check = {
  id: 'd13.5',
  title: 'TLS versions: 1.1 is refused (and counted), 1.2 is accepted, 1.3 is the default',
  points: 10,
  timeoutMs: 40_000,
  async run(ctx) {
    const certs = await certsFor(ctx);
    const recv = await startReceiver(ctx, certs);
    const ca = readFileSync(certs.ca.cert);
    await withClients(ctx, async (clients) => {
      const old = clients.connect(recv.port, { ca, minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1' }, 'TLS 1.1 client');
      const h = await Promise.race([
        old.handshake,
        sleep(5000).then((): Handshake => ({ ok: false, code: 'TIMEOUT', message: '' })),
      ]);
      expectTrue(!h.ok, {
        expected: 'a TLS 1.1 client to be refused',
        received: `the handshake succeeded (${old.socket.getProtocol()})`,
        where: old.label,
        hint: 'your TODO in lessons/day13/receiver.ts (tlsOptions): minVersion --min-tls (TLSv1.2 at least): TLS 1.0 and 1.1 are broken (and deprecated by RFC 8996)',
      });
      ctx.log(`TLS 1.1 client: ${h.code} ${h.message}`);
      let counted = failuresOf(await readStats(recv.dataDir).catch(() => null))['protocol_version'] ?? 0;
      const deadline = Date.now() + 2000;
      while (counted < 1 && Date.now() < deadline) {
        await sleep(100);
        counted = failuresOf(await readStats(recv.dataDir).catch(() => null))['protocol_version'] ?? 0;
      }
      if (counted < 1) {
        // This Node/OpenSSL may have refused TLS 1.1 locally, before sending anything: send one by hand.
        ctx.log('no protocol_version failure counted yet: sending a hand-made TLS 1.1 ClientHello');
        const raw = await ctx.connect(recv.rx.host, recv.port);
        await raw.write(tls11ClientHello(ctx.rng)).catch(() => undefined);
        await raw.waitClosed(4000, 'the receiver to refuse a TLS 1.1 ClientHello and close');
        const got = Buffer.from(raw.received());
        expectTrue(!(got[0] === 0x16 && got[5] === 0x02), {
          expected: 'no ServerHello for a TLS 1.1 ClientHello',
          received: `a ServerHello (version bytes ${got.subarray(9, 11).toString('hex')})`,
          where: `connection from ${raw.localPeer}`,
          hint: 'your TODO in lessons/day13/receiver.ts (tlsOptions): minVersion --min-tls (TLSv1.2 at least)',
        });
      }
      await waitFailures(
        recv.dataDir,
        'protocol_version ≥ 1',
        (f) => (f['protocol_version'] ?? 0) >= 1,
        'count a client offering only old versions as "protocol_version" (tlsClientError ERR_SSL_UNSUPPORTED_PROTOCOL)',
      );

      const v12 = clients.connect(recv.port, { ca, maxVersion: 'TLSv1.2' }, 'TLS 1.2 client');
      await secure(v12, 'TLS 1.2 is still accepted (--min-tls defaults to TLSv1.2)');
      expectEqual(v12.socket.getProtocol(), 'TLSv1.2', {
        what: 'the version a TLS-1.2-only client negotiates',
        where: v12.label,
      });
      const S = streamId(ctx.rng);
      await v12.write(encodeHello(S, { name: 'check-d13.5-tls12' }));
      await waitAck(v12, S, 0, 5000, 'LSP/1 over TLS 1.2 works like over 1.3');

      const v13 = clients.connect(recv.port, { ca }, 'default client');
      await secure(v13, 'a default client connects');
      expectEqual(v13.socket.getProtocol(), 'TLSv1.3', {
        what: 'the version a default client negotiates',
        where: v13.label,
        hint: 'your TODO in lessons/day13/receiver.ts (tlsOptions): allow TLS 1.3 (maxVersion TLSv1.3): it is the default when both sides have it',
      });
    });
  },
};

const d13_6: Check = {
  id: 'd13.6',
  title: 'An expired receiver certificate is refused by the shipper with a clear message',
  points: 15,
  timeoutMs: 40_000,
  async run(ctx) {
    const certs = await certsFor(ctx);
    const recv = await startReceiver(ctx, certs, {
      extra: ['--cert', certs.expiredServer.cert, '--key', certs.expiredServer.key],
    });
    await expectShipperRefuses(
      ctx,
      recv,
      await shipperBase(ctx, recv.port, certs.ca.cert, ['--generate', '50', '--max-attempts', '2']),
      'a shipper facing an expired receiver certificate',
      /expired/i,
      'your TODO in lessons/day13/shipper.ts (connectTls): with verification on, an expired certificate is refused (CERT_HAS_EXPIRED, explained by tls-failures.ts as "expired"); never work around it by turning verification off',
    );
  },
};

const d13_7: Check = {
  id: 'd13.7',
  title:
    'Mutual TLS: no client certificate → refused; one from another CA → refused; a good one → accepted, its subject in _rx',
  points: 25,
  timeoutMs: 50_000,
  async run(ctx) {
    const certs = await certsFor(ctx);
    const cn = `edge-${randInt(ctx.rng, 1000, 9999)}`;
    const edge = await issueClientCert(certs.dir, await ctx.tmp(), { cn });
    const recv = await startReceiver(ctx, certs, { extra: ['--mtls'] });
    const ca = readFileSync(certs.ca.cert);
    await withClients(ctx, async (clients) => {
      const none = clients.connect(recv.port, { ca }, 'client without a certificate');
      ctx.log(
        `no certificate: ${await expectRefused(none, streamId(ctx.rng), 'a client without a certificate', 'your mTLS TODO in lessons/day13/receiver.ts (tlsOptions): with --mtls, ca + requestCert + rejectUnauthorized: a client must present a certificate signed by --ca')}`,
      );
      await waitFailures(
        recv.dataDir,
        'no_client_cert ≥ 1',
        (f) => (f['no_client_cert'] ?? 0) >= 1,
        'count a client that sent no certificate as "no_client_cert"',
      );

      const other = clients.connect(
        recv.port,
        { ca, cert: readFileSync(certs.otherClient.cert), key: readFileSync(certs.otherClient.key) },
        'client with a certificate from another CA',
      );
      ctx.log(
        `other CA: ${await expectRefused(other, streamId(ctx.rng), 'a client whose certificate (CN=shipper-1!) another CA signed', 'your mTLS TODO in lessons/day13/receiver.ts (tlsOptions): verify the client certificate against --ca: the right name signed by the wrong CA proves nothing')}`,
      );
      await waitFailures(
        recv.dataDir,
        'unknown_ca ≥ 1',
        (f) => (f['unknown_ca'] ?? 0) >= 1,
        'count a client certificate not signed by --ca as "unknown_ca" (the TLS socket\'s authorizationError says why)',
      );
    });

    // A good certificate, through the shipper: accepted, and every record names it.
    const N = 300;
    const sh = spawnShipper(
      ctx,
      await shipperBase(ctx, recv.port, certs.ca.cert, [
        '--generate',
        String(N),
        '--cert',
        edge.cert,
        '--key',
        edge.key,
      ]),
    );
    const exit = await waitExit(
      sh,
      25_000,
      "a shipper with a client certificate from the receiver's CA delivers everything",
    );
    expectTrue(exit.exitCode === 0, {
      expected: `\`${sh.cmd}\` to exit 0`,
      received: `exit code ${exit.exitCode}; stderr tail:\n${tail(sh.stderrText(), 5, 10)}`,
      where: `pid ${sh.pid}`,
      hint: 'the shipper presents --cert/--key in the handshake',
    });
    const done = doneOf(sh);
    const records = await expectSeqs(
      recv.dataDir,
      Number(done['stream']),
      N,
      'a verified client is served like any other',
    );
    const bad = records.find(
      (p) => typeof rxOf(p)['clientSubject'] !== 'string' || !String(rxOf(p)['clientSubject']).includes(`CN=${cn}`),
    );
    expectTrue(bad === undefined, {
      expected: `every record of the mTLS shipper with _rx.clientSubject naming CN=${cn}`,
      received: bad ? `_rx ${show(rxOf(bad))}` : '',
      where: bad ? where(bad) : recv.dataDir,
      hint: "your TODOs in lessons/day13/receiver.ts: verifiedSubject (the subject of socket.getPeerX509Certificate(), remembered per socket) and identityOf (return { clientSubject } for the connection's socket: day 09 puts it in _rx)",
    });
  },
};

const d13_8: Check = {
  id: 'd13.8',
  exclusive: true,
  title: 'Certificate rotation: new connections get the new certificate, an open one keeps streaming, nothing lost',
  points: 15,
  timeoutMs: 50_000,
  async run(ctx) {
    const certs = await certsFor(ctx);
    const recv = await startReceiver(ctx, certs);
    const ca = readFileSync(certs.ca.cert);
    await withClients(ctx, async (clients) => {
      const a = clients.connect(recv.port, { ca }, 'streaming client');
      await secure(a, 'a verified TLS handshake');
      const before = a.socket.getPeerX509Certificate()?.serialNumber;
      const S = streamId(ctx.rng);
      await a.write(encodeHello(S, { name: 'check-d13.8' }));
      await waitAck(a, S, 0, 5000, 'HELLO → ACK');
      let seq = 0;
      let stop = false;
      const streaming = (async () => {
        while (!stop) {
          const n = randInt(ctx.rng, 5, 40);
          await a.write(
            encodeBatch({
              stream: S,
              seq: seq + 1,
              records: Array.from({ length: n }, (_, i) => JSON.stringify(rec(`rot-${seq + 1 + i}`, ctx.rng))),
            }),
          );
          seq += n;
          await sleep(10); // a steady trickle: traffic shaping only
        }
      })().then(
        () => undefined,
        (err: unknown) => err,
      );
      await waitAck(a, S, 200, 10_000, 'ACKs while streaming');

      const issued = await issueServerCert(certs.dir, certs.dir); // new key and certificate, renamed over the old files
      const rotatedAt = Date.now();
      const seqAtRotation = seq;
      ctx.log(`rotated: serial ${before} → ${issued.serial} with ${seqAtRotation} records sent`);
      let seen: string | undefined;
      await waitFor(
        async () => {
          const b = clients.connect(recv.port, { ca }, 'new client after the rotation');
          await secure(
            b,
            'new connections still get a verified handshake during and after a rotation (never a half-written pair)',
          );
          seen = b.socket.getPeerX509Certificate()?.serialNumber;
          b.socket.destroy();
          return seen === issued.serial;
        },
        {
          timeoutMs: 6000,
          intervalMs: 200,
          what: `a new connection to present the new certificate (serial ${issued.serial})`,
          where: `receiver :${recv.port}`,
          hint: 'your TODO in lessons/day13/receiver.ts (maybeReload): when fileSignature() changed, loadMaterial() and hand the new pair to tlsServer.setSecureContext() (keep the old one when it does not load)',
          received: () => `serial ${seen} (the old one is ${before})`,
        },
      );
      ctx.log(`new certificate served ${Date.now() - rotatedAt} ms after the rotation`);
      await waitAck(
        a,
        S,
        seqAtRotation + 1,
        5000,
        'the connection opened before the rotation keeps its session and keeps being ACKed',
      );
      stop = true;
      const err = await streaming;
      if (err) throw err;
      expectTrue(!a.isClosed(), {
        expected: 'the connection opened before the rotation to stay open',
        received: 'it was closed',
        where: a.label,
        hint: 'a reload changes what NEW handshakes get; never drop open connections',
      });
      await waitAck(a, S, seq, 10_000, 'every batch of the open connection is ACKed');
      await expectSeqs(recv.dataDir, S, seq, 'nothing is lost while the certificate changes');
    });
  },
};

const d13_9: Check = {
  id: 'd13.9',
  title: 'The dashboard (--dashboard-port): its numbers match stats.json and the files',
  // Given: the lesson starts the dashboard on its own data dir; no TODO asks for it.
  given: true,
  points: 0,
  timeoutMs: 40_000,
  async run(ctx) {
    const certs = await certsFor(ctx);
    const recv = await startReceiver(ctx, certs, { extra: ['--dashboard-port', '0'] });
    const url = recv.rx.ready['dashboard'];
    if (typeof url !== 'string' || !/^http:\/\//.test(url))
      fail({
        expected: 'the ready line to carry "dashboard": the dashboard\'s URL',
        received: show(recv.rx.ready),
        where: 'receiver ready line',
        hint: 'with --dashboard-port N start startDashboard({lanes:[{name, dataDir}], port: N}) and put its url in the ready line',
      });
    const base = url.replace(/\/+$/, '');
    const ca = readFileSync(certs.ca.cert);
    const N = randInt(ctx.rng, 100, 200);
    await withClients(ctx, async (clients) => {
      const c = clients.connect(recv.port, { ca }, 'TLS client');
      await secure(c, 'a verified TLS handshake');
      const S = streamId(ctx.rng);
      await c.write(encodeHello(S, { name: 'check-d13.9' }));
      await waitAck(c, S, 0, 5000, 'HELLO → ACK');
      const records = Array.from({ length: N }, (_, i) => JSON.stringify(rec(`dash-${i + 1}`, ctx.rng)));
      records[7] = JSON.stringify({ ts: '2026-11-26T14:13:48.123Z', msg: 'no level' }); // a reject
      await c.write(encodeBatch({ stream: S, seq: 1, records }));
      await waitAck(c, S, N, 5000, 'the batch is ACKed');
    });
    const plain = await ctx.connect(recv.rx.host, recv.port);
    await plain.write(Buffer.from('hello in the clear\n')).catch(() => undefined);
    await plain.waitClosed(4000, 'a plaintext connection closed');
    await waitFailures(recv.dataDir, 'plaintext ≥ 1', (f) => (f['plaintext'] ?? 0) >= 1, 'count plaintext connections');

    const get = async (p: string): Promise<{ status: number; text: string; json: Json | undefined }> => {
      const res = await fetch(`${base}${p}`, { signal: AbortSignal.timeout(3000) });
      const text = await res.text();
      let json: Json | undefined;
      try {
        json = JSON.parse(text) as Json;
      } catch {
        json = undefined;
      }
      return { status: res.status, text, json };
    };
    let detail = '';
    await waitFor(
      async () => {
        const stats = await readStats(recv.dataDir);
        const files = await readRecords(recv.dataDir);
        const persisted = statNumber(stats, 'records.persisted');
        const rejected = statNumber(stats, 'records.rejected');
        const plaintext = failuresOf(stats)['plaintext'];
        const r = await get('/api/stats');
        const lane = (r.json?.['lanes'] as Json[] | undefined)?.[0];
        const totals = (lane?.['totals'] ?? {}) as Json;
        const laneTls = tlsSection((lane?.['stats'] ?? null) as Stats | null);
        const dashPlain = ((laneTls['handshakeFailures'] ?? {}) as Json)['plaintext'];
        detail = `stats.json persisted ${persisted}, rejected ${rejected}, plaintext ${plaintext}; files ${files.records.length} records; /api/stats totals.persisted ${show(totals['persisted'])}, totals.rejected ${show(totals['rejected'])}, stats.tls.handshakeFailures.plaintext ${show(dashPlain)} (HTTP ${r.status})`;
        return (
          persisted === N - 1 &&
          files.records.length === N - 1 &&
          rejected === 1 &&
          totals['persisted'] === persisted &&
          totals['rejected'] === rejected &&
          dashPlain === plaintext
        );
      },
      {
        timeoutMs: 6000,
        intervalMs: 200,
        what: "the dashboard's /api/stats to match stats.json and the records files",
        where: `${base}/api/stats`,
        hint: "the dashboard reads the lane's own data dir (startDashboard({lanes:[{name, dataDir: --data-dir}]}))",
        received: () => detail,
      },
    );
    const health = await get('/api/health');
    const h = (health.json?.['lanes'] as Json[] | undefined)?.[0];
    expectEqual(h?.['alive'], true, {
      what: '/api/health lanes[0].alive',
      where: `${base}/api/health: ${show(health.json, 300)}`,
      hint: 'the receiver rewrites stats.json at least once a second, with its pid',
    });
    const laneName = String(h?.['name'] ?? '');
    const stats = await readStats(recv.dataDir);
    const plaintext = failuresOf(stats)['plaintext'];
    const metrics = await get('/metrics');
    const line = metrics.text
      .split('\n')
      .find(
        (l) =>
          l.startsWith('logstream_tls_handshake_failures_total{') &&
          l.includes(`lane="${laneName}"`) &&
          l.includes('reason="plaintext"'),
      );
    expectTrue(line !== undefined && Number(line.split(' ').pop()) === plaintext, {
      expected: `/metrics logstream_tls_handshake_failures_total{lane="${laneName}",reason="plaintext"} ${plaintext}`,
      received: show(line ?? '(no such line)'),
      where: `${base}/metrics`,
      hint: 'the dashboard exports stats.json → tls.handshakeFailures',
    });
    const logs = await get('/api/logs?limit=5');
    const got = ((logs.json?.['records'] as Json[] | undefined) ?? []).map(
      (e) => ((e['record'] as Rec | undefined)?.['attrs'] as Rec | undefined)?.['id'],
    );
    const want = (await readRecords(recv.dataDir)).records
      .slice(-5)
      .reverse()
      .map((p) => (p.record['attrs'] as Rec | undefined)?.['id']);
    expectEqual(got, want, {
      what: '/api/logs?limit=5: the ids of the newest 5 records, newest first',
      where: `${base}/api/logs?limit=5`,
      hint: 'the dashboard reads the newest records file of --data-dir',
    });
  },
};

/** A connection that must be refused with a NACK `code` (never an ACK of `stream`), then closed. */
async function expectNackCode(conn: TlsConn, stream: number, code: string, what: string, hint: string): Promise<void> {
  let seen = '';
  await waitUntil(
    () => {
      const frames = conn.frames();
      const ack = frames.find((f) => f.type === FrameType.ACK && f.stream === stream);
      if (ack)
        failNow({
          expected: `${what}: refused with a NACK ${code}`,
          received: `an ACK of stream ${stream} (seq ${ack.seq}): the receiver let it write`,
          where: conn.label,
          hint,
        });
      const nack = frames.find((f) => f.type === FrameType.NACK);
      if (nack) {
        let got = '';
        try {
          got = parseNack(nack).code;
        } catch {
          got = `an unreadable NACK ${show(nack.payload.toString('utf8'))}`;
        }
        if (got !== code)
          failNow({ expected: `${what}: a NACK ${code}`, received: `a NACK ${got}`, where: conn.label, hint });
        return true;
      }
      if (conn.isClosed())
        failNow({
          expected: `${what}: a NACK ${code} before the close`,
          received: 'the connection closed without a NACK',
          where: conn.label,
          hint,
        });
      seen = show(frames.map((f) => FrameType[f.type]));
      return false;
    },
    {
      timeoutMs: 5000,
      what: `a NACK ${code} (${what})`,
      where: conn.label,
      hint,
      received: () => `frames so far ${seen || '(none)'}`,
    },
  );
  const closed = await Promise.race([conn.closed, sleep(3000).then(() => undefined)]);
  expectTrue(closed !== undefined, {
    expected: `${what}: the connection closed after the NACK`,
    received: 'still open after 3 s',
    where: conn.label,
    hint: 'a refused write is fatal for its connection (NACK, then close)',
  });
}

/** stats.json → ownership.refused.stream_owned (day 09's ingest counts each refusal). */
async function waitRefusals(dataDir: string, atLeast: number): Promise<void> {
  let last: unknown;
  await waitFor(
    async () => {
      const s = await readStats(dataDir).catch(() => null);
      last = ((s?.['ownership'] as Rec | undefined)?.['refused'] as Rec | undefined)?.['stream_owned'];
      return typeof last === 'number' && last >= atLeast;
    },
    {
      timeoutMs: 4000,
      what: `stats.json ownership.refused.stream_owned ≥ ${atLeast}`,
      where: `${dataDir}/stats.json`,
      hint: 'every refusal is counted by reason (lessons/day09/ingest.ts does it for you)',
      received: () => `ownership.refused.stream_owned = ${show(last)}`,
    },
  );
}

const d13_10: Check = {
  id: 'd13.10',
  title:
    "mTLS identities own streams: a second client certificate writing the first one's stream is refused (LS_ERR_STREAM_OWNED), the first's records all stored, across a restart",
  points: 20,
  timeoutMs: 60_000,
  async run(ctx) {
    const certs = await certsFor(ctx);
    const tag = randInt(ctx.rng, 1000, 9999);
    const alice = await issueClientCert(certs.dir, await ctx.tmp(), { cn: `alice-${tag}` });
    const mallory = await issueClientCert(certs.dir, await ctx.tmp(), { cn: `mallory-${tag}` });
    const ca = readFileSync(certs.ca.cert);
    const as = (c: { cert: string; key: string }) => ({ ca, cert: readFileSync(c.cert), key: readFileSync(c.key) });
    const S = streamId(ctx.rng);
    const M = streamId(ctx.rng);
    const NAME = 'check-d13.10'; // both send the same HELLO name: a name is a claim anyone can type
    const A = randInt(ctx.rng, 50, 150);
    const records = (from: number, to: number, who: string) =>
      Array.from({ length: to - from + 1 }, (_, i) => JSON.stringify(rec(`${who}-${from + i}`, ctx.rng)));
    const hint =
      "your TODO in lessons/day13/receiver.ts (writerOf): with --mtls the identity that owns a stream is the connection's verified client certificate subject (subjectOf, filled by your verifiedSubject TODO), not the HELLO's name; day 09's ingest then refuses every other identity";
    const first = await startReceiver(ctx, certs, { extra: ['--mtls'] });
    const { dataDir } = first;

    await withClients(ctx, async (clients) => {
      const a = clients.connect(first.port, as(alice), `alice (CN=alice-${tag})`);
      await secure(a, "a client certificate from the receiver's CA is accepted (--mtls)");
      await a.write(encodeHello(S, { name: NAME }));
      await waitAck(a, S, 0, 5000, 'HELLO → ACK');
      await a.write(encodeBatch({ stream: S, seq: 1, records: records(1, A, 'alice') }));
      await waitAck(a, S, A, 5000, "alice's first batch is ACKed");

      // Issue 17's attack: another certificate from the same CA, the same stream and HELLO name, seqs above alice's.
      const m = clients.connect(first.port, as(mallory), `mallory (CN=mallory-${tag}, same CA)`);
      await secure(
        m,
        'another client certificate from the same CA is accepted in the handshake (it may write streams of its own)',
      );
      await m
        .write(
          Buffer.concat([
            encodeHello(S, { name: NAME }),
            encodeBatch({ stream: S, seq: A + 1, records: records(A + 1, A + 900, 'mallory') }),
          ]),
        )
        .catch(() => undefined);
      await expectNackCode(m, S, 'LS_ERR_STREAM_OWNED', `mallory's HELLO for alice's stream ${S}`, hint);
      ctx.log(`mallory's HELLO for stream ${S}: NACK LS_ERR_STREAM_OWNED`);

      // mallory's own stream is fine; a BATCH of alice's stream on that connection is not.
      const m2 = clients.connect(first.port, as(mallory), `mallory again (HELLO of its own stream ${M})`);
      await secure(m2, "mallory's certificate is still accepted");
      await m2.write(encodeHello(M, { name: NAME }));
      await waitAck(m2, M, 0, 5000, 'a stream nobody owns: the HELLO binds it to mallory and is answered');
      await m2
        .write(encodeBatch({ stream: S, seq: A + 1, records: records(A + 1, A + 900, 'mallory') }))
        .catch(() => undefined);
      await expectNackCode(m2, S, 'LS_ERR_STREAM_OWNED', `mallory's BATCH for alice's stream ${S}`, hint);
      await waitRefusals(dataDir, 2);

      // alice carries on: her next seqs are stored, not dropped as "duplicates" of mallory's
      await a.write(encodeBatch({ stream: S, seq: A + 1, records: records(A + 1, 2 * A, 'alice') }));
      await waitAck(a, S, 2 * A, 5000, "alice's next batch is ACKed");
    });
    await expectSeqs(dataDir, S, 2 * A, "only alice wrote her stream: every seq of hers stored, none of mallory's");

    // The binding is durable: kill -9, restart on the same data dir, mallory is still refused.
    first.rx.kill('SIGKILL');
    await first.rx.waitExit(5000);
    const second = await startReceiver(ctx, certs, { dataDir, extra: ['--mtls'] });
    ctx.log(`receiver killed (-9) and restarted (pid ${second.rx.pid})`);
    await withClients(ctx, async (clients) => {
      const m = clients.connect(second.port, as(mallory), 'mallory after the restart');
      await secure(m, "mallory's certificate is accepted in the handshake");
      await m.write(encodeHello(S, { name: NAME }));
      await expectNackCode(
        m,
        S,
        'LS_ERR_STREAM_OWNED',
        `mallory's HELLO for stream ${S} after a receiver restart`,
        `${hint} (the binding is kept on disk by day 09's ingest: stream-owners.json)`,
      );
      const a = clients.connect(second.port, as(alice), 'alice after the restart');
      await secure(a, "alice's certificate is accepted");
      await a.write(encodeHello(S, { name: NAME }));
      const acks = await waitAck(a, S, 0, 5000, 'the owner is answered after the restart');
      expectEqual(acks[0], 2 * A, {
        what: `the ACK to alice's HELLO of stream ${S} after the restart`,
        where: a.label,
        hint: "the stream's durable mark: everything alice wrote, nothing of mallory's",
      });
      await a.write(encodeBatch({ stream: S, seq: 2 * A + 1, records: records(2 * A + 1, 3 * A, 'alice') }));
      await waitAck(a, S, 3 * A, 5000, 'alice writes on after the restart');
    });
    await expectSeqs(dataDir, S, 3 * A, 'every record of alice stored exactly once, across the restart');
    await waitRefusals(dataDir, 1);
  },
};

export const checks: Check[] = [d13_1, d13_2, d13_3, d13_4, d13_5, d13_6, d13_7, d13_8, d13_9, d13_10];
