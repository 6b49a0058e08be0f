/**
 * Day 13 — TLS and mutual TLS: the receiver.
 *
 * Until today anyone on the path could read every record (passwords in log lines, tokens, personal
 * data) and anyone who could reach the port could write records that look like ours. TLS fixes both —
 * but only when it is done properly:
 *
 *   1. certificates without manual steps: a development CA, our server certificate and client
 *      certificates are created on the first run (`--certs DIR`, keys mode 0600) [d13.1]
 *   2. TLS 1.2 at least, 1.3 by default; 1.0/1.1 are refused [d13.5]
 *   3. the SHIPPER verifies us against its CA, always (shipper.ts); a plaintext client on this port is
 *      refused and counted [d13.3, d13.4]
 *   4. `--mtls`: we require a client certificate signed by our CA, and stamp its subject on every record
 *      it sends (`_rx.clientSubject`, through day 09's rxExtra hook): we know WHO wrote each line [d13.7]
 *      …and WHO MAY write each stream: the verified subject is the identity that owns the streams it
 *      writes (day 09's identityOf hook); another certificate — even one from our CA, even with the same
 *      HELLO name — is refused with LS_ERR_STREAM_OWNED, across restarts [d13.10]
 *   5. every failed handshake is counted by reason (stats.json → tls.handshakeFailures) and logged with
 *      what to do about it (tls-failures.ts) [d13.3–d13.7]
 *   6. certificates are reloaded when their files change, without dropping a connection [d13.8]
 *   7. `--dashboard-port N` serves the live dashboard for our data dir [d13.9]
 *
 * Below the TLS layer nothing changed: day 09's LSP/1 delivery (lessons/day09/ingest.ts: HELLO → durable
 * HWM, dedup, ACK only after fsync) runs on the decrypted sockets, through the same shared/lsp-receiver.ts
 * [d13.2]; compressed batches are decoded within --max-decoded-bytes by day 12's bounded decoder.
 *
 * Run: npx tsx lessons/day13/receiver.ts --port 5145 --data-dir data/day13 [--mtls] [--dashboard-port 0]
 */
import { X509Certificate } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import net from 'node:net';
import { dirname, resolve } from 'node:path';
import tls from 'node:tls';
import { lspReceiverFor, lspReceiverOptions } from '../day09/acked-receiver.ts';
import { AckedIngest } from '../day09/ingest.ts';
import { decodeAnyCodec } from '../day12/bounded-decode.ts';
import { MS_RANGE, opt, parseCli, receiverOptions } from '../../shared/cli.ts';
import { createLog } from '../../shared/log.ts';
import type { LspConnection } from '../../shared/lsp-receiver.ts';
import { listenOrExit, serveReceiver } from '../../shared/process.ts';
import { decodeBatch } from '../../shared/protocol/batch.ts';
import { encodeNack, MAGIC } from '../../shared/protocol/frame.ts';
import { peerName } from '../../shared/storage/rx.ts';
import { ReceiverStats, StatsWriter } from '../../shared/stats.ts';
import { certSetPaths, ensureCerts } from '../../shared/tls/certs.ts';
import { classifyServerFailure, type HandshakeFailureReason } from './tls-failures.ts';

const args = parseCli({
  name: 'lessons/day13/receiver.ts',
  summary:
    'Day 13 receiver: LSP/1 over TLS (1.2 minimum, 1.3 by default), optional mutual TLS, certificate reload, handshake failures counted by reason, optional dashboard.',
  options: {
    ...receiverOptions('day13'),
    ...lspReceiverOptions(),
    certs: opt.string(
      '--certs <dir>',
      'development certificates: created here on the first run if absent (CA, server, client, and the bad ones the checks use)',
      'certs',
    ),
    cert: opt.string(
      '--cert <file>',
      'our certificate, PEM (default <certs>/server.crt); reloaded when the file changes',
    ),
    key: opt.string('--key <file>', 'its private key, PEM (default <certs>/server.key)'),
    ca: opt.string('--ca <file>', 'with --mtls: the CA client certificates must be signed by (default <certs>/ca.crt)'),
    mtls: opt.flag(
      '--mtls',
      'mutual TLS: require a client certificate signed by --ca; its subject goes into _rx.clientSubject',
    ),
    minTls: opt.choice(
      '--min-tls <version>',
      'oldest TLS version accepted (1.0 and 1.1 are never accepted)',
      ['TLSv1.2', 'TLSv1.3'] as const,
      'TLSv1.2',
    ),
    handshakeTimeoutMs: opt.int(
      '--handshake-timeout-ms <n>',
      'a client that has not finished its handshake by then is cut (and counted)',
      10_000,
      MS_RANGE.patience,
    ),
    certCheckMs: opt.int(
      '--cert-check-ms <n>',
      'how often the certificate files are checked for changes (besides fs.watch)',
      1000,
      { min: 50, max: 3_600_000 },
    ),
    dashboardPort: opt.int(
      '--dashboard-port <n>',
      'serve the live dashboard of this data dir on this port (0 = any free port); off when not given',
      undefined,
      { max: 65535 },
    ),
    dashboardHost: opt.string(
      '--dashboard-host <addr>',
      'address the dashboard listens on: loopback (it shows log contents; off loopback it asks for a token, which scripts/dashboard.ts --token-file gives it)',
      '127.0.0.1',
    ),
  },
  epilog: [
    'Certificates (npm run certs makes the same set by hand):',
    '  <certs>/ca.crt            the development CA: give it to every shipper (--ca)',
    '  <certs>/server.crt/.key   CN=localhost, SAN DNS:localhost IP:127.0.0.1 IP:::1',
    '  <certs>/client-shipper-1.crt/.key   a client identity for --mtls',
    'Try the failures: lessons/day13/README.md ("Handshake failures to try").',
  ].join('\n'),
});

const log = createLog('day13/receiver');
let stopping = false;
const stats = new ReceiverStats(args.lane, 'lsp1-tls');

// ---- 1. certificates: made on the first run (shared/tls/certs.ts), read from files ---------------------
// Only when a default path is used: explicit --cert, --key and --ca need nothing made for them.
const certs =
  args.cert && args.key && (args.ca || !args.mtls) ? certSetPaths(args.certs) : await ensureCerts(args.certs);
const files = {
  cert: resolve(args.cert ?? certs.server.cert),
  key: resolve(args.key ?? certs.server.key),
  ca: resolve(args.ca ?? certs.ca.cert),
};

/** What a secure context is made of, read from the files at one moment. */
interface Material {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
  x509: X509Certificate;
  /** the files' identity (inode, size, mtime): a change means "read them again" */
  signature: string;
}

async function fileSignature(): Promise<string> {
  const parts = await Promise.all(
    [files.cert, files.key, ...(args.mtls ? [files.ca] : [])].map(async (f) => {
      const s = await stat(f);
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    }),
  );
  return parts.join('|');
}

/** Reads the files; throws if they do not make a usable context (e.g. a key from another certificate). */
async function loadMaterial(): Promise<Material> {
  const signature = await fileSignature();
  const [cert, key, ca] = await Promise.all([
    readFile(files.cert),
    readFile(files.key),
    args.mtls ? readFile(files.ca) : Promise.resolve(Buffer.alloc(0)),
  ]);
  const m: Material = { cert, key, ca, x509: new X509Certificate(cert), signature };
  tls.createSecureContext(tlsOptions(m)); // "key values mismatch" and friends surface here, not mid-handshake
  return m;
}

// ---- 2. the TLS server: versions, and mutual TLS -----------------------------------------------------
function tlsOptions(m: Material): tls.TlsOptions {
  return {
    cert: m.cert,
    key: m.key,
    // @solution [d13.5] TLS 1.2 at the very least (1.0 and 1.1 are broken); OpenSSL prefers 1.3 when both sides have it
    // @stub minVersion: 'TLSv1',
    minVersion: args.minTls,
    maxVersion: 'TLSv1.3',
    // @end-solution
    // @solution [d13.7] --mtls: ask for a client certificate, and refuse the handshake unless our CA signed it
    // @stub requestCert: false, rejectUnauthorized: false,
    ...(args.mtls ? { ca: m.ca, requestCert: true, rejectUnauthorized: true } : { requestCert: false }),
    // @end-solution
    handshakeTimeout: args.handshakeTimeoutMs,
  };
}

let material: Material;
try {
  material = await loadMaterial();
} catch (err) {
  log.error('cannot load the certificate files', {
    cert: files.cert,
    key: files.key,
    ca: args.mtls ? files.ca : undefined,
    error: (err as Error).message,
  });
  process.stderr.write(
    `lessons/day13/receiver.ts: cannot load ${files.cert} / ${files.key}: ${(err as Error).message} (npm run certs makes a fresh set)\n`,
  );
  process.exit(1);
}

const tlsServer = tls.createServer(tlsOptions(material));

// ---- 3. what we tell stats.json (and the dashboard) about TLS ----------------------------------------
const tlsStats = {
  minVersion: args.minTls,
  mtls: args.mtls,
  /** the version and cipher of the last handshake */
  version: null as string | null,
  cipher: null as string | null,
  versions: {} as Record<string, number>,
  ciphers: {} as Record<string, number>,
  handshakes: { ok: 0, failed: 0 },
  handshakeFailures: {} as Record<string, number>,
  /** connections per verified client subject (mTLS) */
  clientSubjects: {} as Record<string, number>,
  certificate: describeCert(material),
  reloads: { ok: 0, failed: 0, lastAt: null as string | null },
};
stats.extra.tls = tlsStats;

function describeCert(m: Material) {
  const notAfter = new Date(m.x509.validTo);
  return {
    file: files.cert,
    subject: oneLine(m.x509.subject),
    serial: m.x509.serialNumber,
    notBefore: new Date(m.x509.validFrom).toISOString(),
    notAfter: notAfter.toISOString(),
    expired: notAfter.getTime() < Date.now(),
    san: m.x509.subjectAltName ?? '',
  };
}

/** `CN=shipper-1\nO=LogStream Lab` → `CN=shipper-1, O=LogStream Lab` */
function oneLine(dn: string): string {
  return dn.split('\n').join(', ');
}

function warnIfExpired(): void {
  const c = describeCert(material);
  if (c.expired)
    log.warn(
      `our certificate EXPIRED at ${c.notAfter}: every client that verifies (as it must) will refuse us; rotate it (npm run certs -- --rotate-server), it is reloaded without a restart`,
      { file: files.cert, serial: c.serial },
    );
}
warnIfExpired();

// ---- 4. handshake failures: counted by reason, logged with what to do ------------------------------
/** At most one log line per reason per second: a port scanner must not flood the log. */
const lastLogged = new Map<string, { at: number; suppressed: number }>();

function handshakeFailed(
  reason: HandshakeFailureReason,
  message: string,
  peer: string,
  detail: Record<string, unknown> = {},
): void {
  tlsStats.handshakes.failed++;
  tlsStats.handshakeFailures[reason] = (tlsStats.handshakeFailures[reason] ?? 0) + 1;
  const now = Date.now();
  const l = lastLogged.get(reason);
  if (l && now - l.at < 1000) {
    l.suppressed++;
    return;
  }
  log.warn(`TLS handshake refused (${reason}): ${message}`, {
    peer,
    ...detail,
    ...(l?.suppressed ? { alsoSinceLastLine: l.suppressed } : {}),
  });
  lastLogged.set(reason, { at: now, suppressed: 0 });
}

/** The peer of each raw connection, noted before TLS takes it over (a refused TLS socket forgets its address). */
const peerOfRaw = new WeakMap<net.Socket, string>();

tlsServer.on('tlsClientError', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
  const authorizationError = socket.authorizationError ? String(socket.authorizationError) : undefined; // null when none
  const why = classifyServerFailure(err, authorizationError, {
    minVersion: args.minTls,
    mtls: args.mtls,
    caFile: files.ca,
    certExpired: tlsStats.certificate.expired || Date.parse(tlsStats.certificate.notAfter) < Date.now(),
    certNotAfter: tlsStats.certificate.notAfter,
  });
  // (the TLS socket keeps its raw socket in `_parent`: not public API, so only used for this log line)
  const raw = (socket as unknown as { _parent?: unknown })._parent;
  const peer =
    (raw instanceof net.Socket ? peerOfRaw.get(raw) : undefined) ?? peerName(socket.remoteAddress, socket.remotePort);
  handshakeFailed(why.reason, why.message, peer, {
    code: err.code,
    ...(authorizationError ? { authorizationError } : {}),
  });
  // With a tlsClientError listener Node leaves the connection open: close it, or every refused client
  // keeps a file descriptor until it hangs up by itself.
  socket.destroy();
  if (raw instanceof net.Socket) raw.destroy();
});

/**
 * Every connection starts here, before TLS: one look at the first byte. A TLS connection starts with a
 * handshake record (0x16); anything else is a client speaking plaintext to a TLS port — refused and
 * counted, never parsed as LSP/1 [d13.4]. An LSP/1 client (a day 09 shipper pointed here) gets a NACK
 * saying why, so its log tells the operator what is wrong.
 */
function onTcpConnection(socket: net.Socket): void {
  const peer = peerName(socket.remoteAddress, socket.remotePort);
  peerOfRaw.set(socket, peer);
  socket.on('error', () => {}); // a reset during the first read is the client's business
  socket.setTimeout(args.handshakeTimeoutMs, () => {
    handshakeFailed('handshake_timeout', 'the client connected but sent nothing (--handshake-timeout-ms)', peer);
    socket.destroy();
  });
  socket.once('data', (first: Buffer) => {
    socket.setTimeout(0);
    socket.pause();
    if (first[0] !== 0x16) {
      const lsp = first.length >= 2 && first.readUInt16BE(0) === MAGIC;
      handshakeFailed(
        'plaintext',
        `the client sent plaintext${lsp ? ' LSP/1 (a day 09 shipper?)' : ''} to this TLS port: use lessons/day13/shipper.ts, which speaks TLS and verifies us`,
        peer,
        { firstBytes: first.subarray(0, 8).toString('hex') },
      );
      if (lsp)
        socket.end(
          encodeNack(
            0,
            'LS_ERR_TLS_REQUIRED',
            'this port speaks LSP/1 over TLS only: connect with TLS (lessons/day13/shipper.ts)',
          ),
        );
      else socket.destroy();
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    socket.unshift(first); // the TLS socket reads what is already buffered first
    tlsServer.emit('connection', socket);
  });
}

// ---- 5. certificates reload when their files change (open connections keep their session) ------------
let reloading = false;
let lastFailedSignature = '';

/**
 * Called on every change of the certificate directory and every --cert-check-ms: when the files changed
 * (fileSignature() differs from material.signature), load them; a pair that does not load yet is counted
 * once (reloadFailed) and the old one kept; a good one goes to NEW handshakes (reloaded).
 */
async function maybeReload(why: string): Promise<void> {
  if (reloading || stopping) return;
  reloading = true;
  try {
    // @solution [d13.8] when the files changed, load them (a half-written rotation keeps the old pair) and give the new pair to NEW handshakes, leaving open sessions alone
    // @stub return;
    const signature = await fileSignature().catch(() => undefined);
    if (signature === undefined || signature === material.signature) return; // a file is missing mid-rename, or nothing changed
    let next: Material;
    try {
      next = await loadMaterial();
    } catch (err) {
      // Mid-rotation (a new key beside the old certificate) or a broken file: keep serving the old pair.
      reloadFailed(signature, why, err);
      return;
    }
    // The server's secure context is what a NEW handshake uses; established sessions keep theirs. The
    // ticket keys are kept so sessions resumed across the reload still resume.
    tlsServer.setSecureContext({ ...tlsOptions(next), ticketKeys: tlsServer.getTicketKeys() });
    const before = material;
    material = next;
    reloaded(before, next, why);
    // @end-solution
  } finally {
    reloading = false;
  }
}

/** A changed set of files that does not load (yet): said once per set of files, the old pair stays. */
function reloadFailed(signature: string, why: string, err: unknown): void {
  if (signature === lastFailedSignature) return;
  lastFailedSignature = signature;
  tlsStats.reloads.failed++;
  log.warn('certificate files changed but do not load (yet): still serving the previous certificate', {
    why,
    error: (err as Error).message,
  });
}

/** The new pair is being served: stats.json and the log say so. */
function reloaded(before: Material, next: Material, why: string): void {
  tlsStats.certificate = describeCert(next);
  tlsStats.reloads.ok++;
  tlsStats.reloads.lastAt = new Date().toISOString();
  log.info('certificate reloaded: new connections get it, open ones keep theirs', {
    why,
    serialBefore: before.x509.serialNumber,
    serial: tlsStats.certificate.serial,
    notAfter: tlsStats.certificate.notAfter,
  });
  warnIfExpired();
}

// fs.watch tells us at once (on the DIRECTORY: a rotation renames a new file over the old one, and a
// watch on the old file's inode would go quiet); the poll catches filesystems where watch is unreliable.
function watchCertificates(): () => void {
  const watchers: FSWatcher[] = [];
  for (const dir of new Set([files.cert, files.key, ...(args.mtls ? [files.ca] : [])].map((f) => dirname(f)))) {
    try {
      const w = watch(dir, { persistent: false }, () => {
        setTimeout(() => void maybeReload('fs.watch'), 50).unref(); // let a rename sequence finish
      });
      w.on('error', () => {}); // the poll still runs
      watchers.push(w);
    } catch {
      log.warn('cannot watch the certificate directory: changes are found by polling only', {
        dir,
        everyMs: args.certCheckMs,
      });
    }
  }
  const poll = setInterval(() => void maybeReload('poll'), args.certCheckMs);
  poll.unref();
  return () => {
    clearInterval(poll);
    for (const w of watchers) w.close();
  };
}

// ---- 6. a verified connection: record who it is, then it is day 09's LSP/1 ----------------------------
/** The verified client certificate subject of each connection (mTLS). */
const subjectOf = new WeakMap<net.Socket, string>();

/** With --mtls: the subject of the client certificate the handshake verified (undefined without --mtls). */
function verifiedSubject(socket: tls.TLSSocket): string | undefined {
  // @solution [d13.7, d13.10] with --mtls, the verified client certificate's subject (one line, "CN=…, O=…"), remembered per socket for its records
  // @stub return undefined;
  if (!args.mtls) return undefined;
  // rejectUnauthorized: an unverified client never gets here; this is its verified identity.
  const subject = oneLine(socket.getPeerX509Certificate()?.subject ?? '');
  subjectOf.set(socket, subject);
  return subject;
  // @end-solution
}

/** What every record of `conn` carries in `_rx` besides day 09's fields: who sent it (day 09's rxExtra hook). */
function identityOf(conn: LspConnection): Record<string, unknown> | undefined {
  // @solution [d13.7] stamp each record of a verified client with its subject: _rx.clientSubject
  // @stub return undefined;
  const subject = subjectOf.get(conn.socket);
  return subject === undefined ? undefined : { clientSubject: subject };
  // @end-solution
}

/**
 * Who may write a stream (issue 17): the identity day 09's ingest binds a stream to on its first write, and
 * checks every later HELLO and BATCH of that stream against (another one: NACK LS_ERR_STREAM_OWNED). The
 * HELLO's name is what the ingest falls back to — a claim anyone can type, so with --mtls it must be the
 * certificate's verified subject instead (undefined without --mtls).
 */
function writerOf(conn: LspConnection): string | undefined {
  // @solution [d13.10] with --mtls, the identity that owns the streams a connection writes: its verified client certificate subject, never the HELLO's name
  // @stub return undefined;
  return subjectOf.get(conn.socket);
  // @end-solution
}

tlsServer.on('secureConnection', (socket: tls.TLSSocket) => {
  const version = socket.getProtocol() ?? 'unknown';
  const cipher = socket.getCipher()?.standardName ?? socket.getCipher()?.name ?? 'unknown';
  tlsStats.handshakes.ok++;
  tlsStats.version = version;
  tlsStats.cipher = cipher;
  tlsStats.versions[version] = (tlsStats.versions[version] ?? 0) + 1;
  tlsStats.ciphers[cipher] = (tlsStats.ciphers[cipher] ?? 0) + 1;
  const subject = verifiedSubject(socket);
  if (subject !== undefined) tlsStats.clientSubjects[subject] = (tlsStats.clientSubjects[subject] ?? 0) + 1;
  log.debug('TLS connection', { peer: peerName(socket.remoteAddress, socket.remotePort), version, cipher, subject });
  rx.accept(socket);
});

// ---- LSP/1 over the secure sockets: day 09's delivery, unchanged ----------------------------------
const ingest = await AckedIngest.open({
  ...args,
  stats,
  log,
  rxExtra: identityOf,
  identityOf: writerOf, // who may write a stream: the first verified subject to write it owns it [d13.10]
  // compressed batches (day 12): every codec this process runs, decoded within --max-decoded-bytes
  decode: (frame) => decodeBatch(frame, { maxDecodedBytes: args.maxDecodedBytes, decodePayload: decodeAnyCodec }),
});
const rx = lspReceiverFor(args, ingest, { log, stats });

const statsWriter = new StatsWriter(args.dataDir, stats, args.statsIntervalMs, () => {
  tlsStats.certificate.expired = Date.parse(tlsStats.certificate.notAfter) < Date.now();
  stats.extra.lsp = rx.counters;
  stats.extra.sink = ingest.sink.counters;
  stats.extra.recovery = ingest.recovery;
}).start();

const server = net.createServer({ noDelay: true }, onTcpConnection);
server.maxConnections = args.maxConnections; // handshakes in progress hold a slot too
const port = await listenOrExit(server, args, log);
const stopWatching = watchCertificates();

// ---- 7. the dashboard, for our own data dir [d13.9] ------------------------------------------------
// Loaded only when asked for: it pulls in an HTTP framework a plain run does not need.
const dashboard =
  args.dashboardPort === undefined
    ? undefined
    : await (
        await import('../../shared/dashboard/server.ts')
      )
        .startDashboard({
          lanes: [{ name: args.lane, dataDir: args.dataDir, transport: 'lsp1-tls' }],
          host: args.dashboardHost,
          port: args.dashboardPort,
          refreshMs: Math.min(1000, Math.max(50, args.statsIntervalMs)),
        })
        .catch((err: Error) => {
          // e.g. off loopback without a token (issue 17.2): the dashboard never serves log contents to anyone
          process.stderr.write(
            `lessons/day13/receiver.ts: --dashboard-host ${args.dashboardHost}: ${err.message} (run scripts/dashboard.ts --lane ${args.lane}=${args.dataDir} --host ${args.dashboardHost} --token-file FILE beside it)\n`,
          );
          process.exit(2);
        });

const c = tlsStats.certificate;
const served = {
  lesson: 'day13',
  transport: 'lsp1-tls',
  args,
  port,
  log,
  stats,
  statsWriter,
  ready: {
    tls: {
      minVersion: args.minTls,
      mtls: args.mtls,
      cert: files.cert,
      serial: c.serial,
      notAfter: c.notAfter,
      san: c.san,
      ...(args.mtls ? { clientCa: files.ca } : {}),
    },
    ...(dashboard ? { dashboard: dashboard.url, dashboardPort: dashboard.port } : {}),
  },
  listening: { minTls: args.minTls, mtls: args.mtls, cert: files.cert, serial: c.serial, notAfter: c.notAfter },
  stopped: () => ({ handshakes: tlsStats.handshakes, handshakeFailures: tlsStats.handshakeFailures }),
};
// ---- SIGTERM: stop accepting, fsync, final ACKs (day 09); then the final stats --------------------------
serveReceiver(served, async () => {
  stopping = true;
  stopWatching();
  server.close();
  await ingest.shutdown(rx);
  await dashboard?.close();
});
if (dashboard) log.info(`dashboard at ${dashboard.url}`);
