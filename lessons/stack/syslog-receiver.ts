/**
 * The stack's syslog lane: a receiver for clients that already exist (shared/protocol/README.md §7).
 *
 * Half the world's logs already leave their hosts as syslog — rsyslog, syslog-ng, journald forwarders,
 * network gear, `logger` in a shell script. This lane takes them as they are and stores them as LSP/1
 * records, next to everything else the stack receives:
 *
 *   UDP  (RFC 5426)  one message per datagram
 *   TCP  (RFC 6587)  octet counting (`LEN SP MSG`) or LF framing, told apart PER MESSAGE
 *   TLS  (RFC 5425)  the same framing inside TLS 1.2+ (optionally with client certificates)
 *        │  (plain TCP is read into one reused buffer: own-buffer-reads.ts)
 *        ▼  syslog-framing.ts: SyslogFrameDecoder (LF framing: day 08's LineDecoder) → shared/protocol/syslog/
 *        │  writer.ts: SyslogRecordWriter (RFC 5424 / 3164 → record),
 *        │  on this thread or on workers (syslog-parser.ts), to the sink in big writes (double-buffered-appender.ts)
 *        ▼
 *   records-*.ndjson   {ts, level, host, service, attrs:{facility, severity, procid, msgid, sd}, msg, _rx}
 *   rejects.ndjson     a message that cannot be read, with its reason (syslog_bad_pri, …)
 *   stats.json         with a `syslog` section: counters per transport
 *
 * Bad input is rejected per message with its reason (rejects.ndjson, stats.rejects) and the connection
 * carries on wherever the framing allows: a bad PRI or header is one reject; a bad octet count resyncs
 * at the next LF; a count over --max-message-bytes is skipped exactly (the count says where the next
 * message starts). The framing cannot survive a count over --max-skip-bytes too (16 MiB by default:
 * skipping gigabytes on a peer's word would let it hold the connection with a lie): that one is
 * rejected as syslog_count_too_large and closes THAT connection only (syslog.tcp.framingClosed).
 *
 * What stays the same as every other receiver (CONVENTIONS.md §2): bad input never stops the lane, reads pause
 * while the disk lags, SIGTERM drains, flushes, fsyncs and writes the final stats.
 *
 * Run: npx tsx lessons/stack/syslog-receiver.ts --udp-port 5514 --tcp-port 5514 --tls-port 6514
 *      logger --server 127.0.0.1 --port 5514 --tcp --octet-count -t demo "hello"
 */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { InvalidArgumentError } from 'commander';
import {
  MS_RANGE,
  opt,
  parseCli,
  parseInteger,
  receiverOptions,
  receiverSinkOptions,
  type OptionSpec,
} from '../../shared/cli.ts';
import { lane } from '../../shared/lanes.ts';
import { createLog } from '../../shared/log.ts';
import { parseThreadsOption } from '../../shared/parse-pool.ts';
import { announceReady, bindOrExit, listenOrExit, onShutdown } from '../../shared/process.ts';
import type { SyslogReason } from '../../shared/protocol/syslog/errors.ts';
import { SyslogRecordWriter } from '../../shared/protocol/syslog/writer.ts';
import { FileSink } from '../../shared/storage/file-sink.ts';
import { peerName } from '../../shared/storage/rx.ts';
import { ReceiverStats, StatsWriter } from '../../shared/stats.ts';
import { ensureCerts } from '../../shared/tls/certs.ts';
import { classifyServerFailure } from '../day13/tls-failures.ts';
import { DoubleBufferedAppender } from './double-buffered-appender.ts';
import { adopt } from './own-buffer-reads.ts';
import { WARM_UP_MESSAGES } from './syslog-warm-up.ts';
import { InlineSyslogParser, WorkerSyslogParser, type ParsedBatch, type SyslogStreamParser } from './syslog-parser.ts';

// ---- options ----------------------------------------------------------------------------------------
const OFF = -1;
// issue 22.4: the lane's ports come from the lane table, where syslog-forward.ts and the stack read them too
const LANE_PORT = lane('syslog').port;
const LANE_TLS_PORT = lane('syslog').tlsPort!;

/** A port: 0..65535 (0 = any free port), or `off` / -1 for "this transport is disabled". */
function parsePort(raw: string): number {
  const s = raw.trim().toLowerCase();
  if (s === 'off' || s === '-1') return OFF;
  try {
    return parseInteger(s, 0, 65535);
  } catch {
    throw new InvalidArgumentError(`'${raw}' is not a port (0..65535, 0 = any free port, off or -1 = disabled)`);
  }
}
const portOption = (flags: string, description: string): OptionSpec<number, false> => ({
  flags,
  description,
  parse: parsePort,
});

// --port is redefined below; the record limit does not apply (the message limit does, and a record may
// grow past the message by its JSON escapes and _rx).
// No ACKs: nobody waits for an fsync, so the fewer fsyncs of --fsync interval by default.
const { port: _port, maxRecordBytes: _maxRecordBytes, ...common } = receiverOptions('syslog', { fsync: 'interval' });
void _port;
void _maxRecordBytes;
const args = parseCli({
  name: 'lessons/stack/syslog-receiver.ts',
  summary: 'Syslog lane: RFC 5424 and RFC 3164 over UDP, TCP and TLS, persisted as LSP/1 records with _rx.',
  options: {
    ...common,
    port: portOption(
      '--port <n>',
      'shorthand for the TCP port and, unless --udp-port is given, the UDP port; --port 0 also makes the TLS default 0',
    ),
    udpPort: portOption(
      '--udp-port <n>',
      `UDP port, one message per datagram (RFC 5426); 0 = any free, off = disabled (default ${LANE_PORT})`,
    ),
    tcpPort: portOption(
      '--tcp-port <n>',
      `TCP port, octet counting or LF framing per message (RFC 6587); 0 = any free, off = disabled (default ${LANE_PORT})`,
    ),
    tlsPort: portOption(
      '--tls-port <n>',
      `TLS port (RFC 5425); 0 = any free, off = disabled (default ${LANE_TLS_PORT})`,
    ),
    certs: opt.string(
      '--certs <dir>',
      'certificate directory: server.crt/.key and ca.crt (a dev CA is created there when missing)',
      'certs',
    ),
    tlsCa: opt.string(
      '--tls-ca <file>',
      'CA that client certificates must chain to (implies --mtls; default: the CA of --certs)',
    ),
    mtls: opt.flag('--mtls', 'require a client certificate signed by the CA (mutual TLS); its CN goes into _rx.client'),
    handshakeTimeoutMs: opt.int(
      '--handshake-timeout-ms <n>',
      'TLS: a client that has not finished its handshake by then is cut (and counted)',
      10_000,
      MS_RANGE.patience,
    ),
    maxMessageBytes: opt.bytes(
      '--max-message-bytes <size>',
      'largest syslog message; bigger ones are rejected (syslog_too_large / syslog_count_too_large)',
      64 << 10,
      { min: 64, max: 64 << 20 },
    ),
    maxSkipBytes: opt.bytes(
      '--max-skip-bytes <size>',
      'TCP/TLS: an octet count over the message limit is skipped (read and thrown away) up to this size; a larger one closes that connection',
      16 << 20,
      { min: 0, max: 1 << 30 },
    ),
    // issue 21.1: a parse thread by default where there is a second core (1.8x the messages/s of inline in
    // the bench, side by side with rsyslog); 0 keeps everything on the main thread (the least CPU per message)
    parseThreads: parseThreadsOption('parse TCP/TLS streams, a connection per thread'),
    warmUp: opt.int(
      '--warm-up <n>',
      'sample messages each parsing thread parses (and throws away) at start-up, before "ready", so the first clients meet compiled code (syslog-warm-up.ts); 0 = none',
      WARM_UP_MESSAGES,
      { min: 0, max: 10_000_000 },
    ),
    drainQuietMs: opt.int('--drain-quiet-ms <n>', 'on SIGTERM, keep reading until no bytes arrive for this long', 100, {
      min: 0,
      max: 3000,
    }),
  },
  epilog: [
    `Ports: TCP and UDP may share a number (they do by default: ${LANE_PORT}). The ready line lists them all:`,
    '  {"event":"ready","role":"receiver","lesson":"stack","transport":"syslog","host":…,"port":<tcp>,"ports":{"udp":…,"tcp":…,"tls":…}}',
    'a disabled transport shows as null; "port" is the TCP port (or TLS, then UDP, when TCP is off).',
  ].join('\n'),
});

const tcpPort = args.tcpPort ?? args.port ?? LANE_PORT;
const udpPort = args.udpPort ?? args.port ?? LANE_PORT;
const tlsPort = args.tlsPort ?? (args.port === 0 ? 0 : LANE_TLS_PORT);
/** The flag a port came from, named when it cannot be taken: its own flag, or --port when that gave it. */
const portFlag = (own: string, given: number | undefined) =>
  given === undefined && args.port !== undefined ? '--port' : own;
const mtls = args.mtls || args.tlsCa !== undefined;

const log = createLog('stack/syslog');
if (tcpPort === OFF && udpPort === OFF && tlsPort === OFF) {
  process.stderr.write(
    'lessons/stack/syslog-receiver.ts: every transport is off (--udp-port, --tcp-port, --tls-port)\n',
  );
  process.exit(2);
}

// ---- storage and counters ---------------------------------------------------------------------------
type Transport = 'udp' | 'tcp' | 'tls';
interface TransportStats {
  port: number | null;
  messages: number;
  persisted: number;
  rejected: number;
  bytes: number;
  connections?: { open: number; total: number };
  /** TCP/TLS connections closed because their framing broke beyond repair (a count over --max-skip-bytes) */
  framingClosed?: number;
  datagrams?: number;
  dropped?: number;
  handshakeErrors?: number;
  /** failed TLS handshakes by reason, day 13's reasons (lessons/day13/tls-failures.ts): the dashboard's /metrics */
  handshakeFailures?: Record<string, number>;
}
/** The counters of a stream transport (TCP, TLS), all zero. */
function streamTransportStats(): TransportStats {
  const zero = { port: null, messages: 0, persisted: 0, rejected: 0, bytes: 0 };
  return { ...zero, connections: { open: 0, total: 0 }, framingClosed: 0 };
}
const stats = new ReceiverStats(args.lane, 'syslog');
const perTransport: Record<Transport, TransportStats> = {
  udp: { port: null, messages: 0, persisted: 0, rejected: 0, bytes: 0, datagrams: 0, dropped: 0 },
  tcp: streamTransportStats(),
  tls: { ...streamTransportStats(), handshakeErrors: 0, handshakeFailures: {} },
};
stats.extra.syslog = perTransport;

const sink = await FileSink.open(receiverSinkOptions(args));
const statsWriter = new StatsWriter(args.dataDir, stats, args.statsIntervalMs, () => {
  stats.bytes.decoded = appender.totalBytes;
  stats.extra.sink = sink.counters;
  stats.extra.parse = {
    threads: args.parseThreads,
    slowPath: parser.slowPath + udpWriter.slowPath,
    warmUp: { messages: args.warmUp, ms: Math.round(parser.warmUpMs) },
  };
}).start();
sink.on('error', (err: Error) => log.error('sink failed: records are no longer accepted', { error: err.message }));

const laneJson = JSON.stringify(args.lane);
let now = Date.now();
let stopping = false;

type RejectReason = SyslogReason | 'idle_timeout' | 'incomplete_at_shutdown';
function reject(t: TransportStats, peer: string, reason: RejectReason, sample: Buffer): void {
  t.rejected++;
  stats.reject(reason);
  sink.reject({ peer, reason, sample });
}

/**
 * Record lines (already carrying `_rx`) to the sink, through two buffers that take turns (one collects
 * while the other is written): one big write at a time, and no garbage per read. The record writers on
 * this thread (TCP/TLS inline, UDP) write straight into the collecting buffer; stats.bytes.decoded is
 * the bytes of records made (appender.totalBytes).
 */
const appender = new DoubleBufferedAppender(sink, 2 << 20, () => flowControl());

// ---- TCP and TLS: a byte stream, cut into messages per RFC 6587 --------------------------------------
// The parsing runs in lessons/stack/syslog-parser.ts: on worker threads (--parse-threads N; auto, the default,
// is 1 on 2+ cores) or inline (--parse-threads 0). Either way it answers each push with the records and rejects it made.
interface Connection {
  id: number;
  socket: net.Socket;
  peer: string;
  transport: 'tcp' | 'tls';
  lastMessageAt: number;
  /** what a partial message left at close() is rejected as (idle_timeout, incomplete_at_shutdown) */
  closeReason?: RejectReason;
  closed: boolean;
}
const connections = new Map<number, Connection>();
let nextConnectionId = 1;
let bytesSinceCheck = 0;
/** close() answers still to come (shutdown waits for them) */
let closing = 0;
let closingDone: (() => void) | undefined;

function onParsed(batch: ParsedBatch): void {
  // The records of every output below, in order, already carrying their _rx: in the appender already
  // (parsed on this thread), or one copy into it (from a worker).
  if (batch.records !== undefined) appender.add(batch.records);
  appender.flush();
  for (const out of batch.outputs) {
    const conn = connections.get(out.id);
    if (conn === undefined) continue;
    const t = perTransport[conn.transport];
    t.messages += out.messages;
    stats.records.received += out.messages;
    t.persisted += out.persisted;
    stats.records.persisted += out.persisted;
    if (out.messages > 0) conn.lastMessageAt = now;
    for (const r of out.rejects) reject(t, conn.peer, r.reason, r.sample);
    if (out.fatal && !conn.closed) {
      // A count too large to skip: this connection's framing is lost (nothing after it can be read).
      // Only this connection closes; the others and the lane carry on.
      t.framingClosed!++;
      log.warn('connection closed: octet count over --max-skip-bytes', {
        peer: conn.peer,
        transport: conn.transport,
        maxSkipBytes: args.maxSkipBytes,
      });
      closeParser(conn);
      conn.socket.destroy();
    }
    if (out.ended) {
      // The peer half-closed and everything it sent is parsed: close our side once it is written (a
      // sender can wait for that, and the benchmark does).
      appender.whenWritten().then(
        () => conn.socket.end(),
        () => conn.socket.destroy(),
      );
    }
    if (out.closed) {
      if (out.partial && conn.closeReason) reject(t, conn.peer, conn.closeReason, out.partial);
      connections.delete(out.id);
      if (--closing === 0) closingDone?.();
    }
  }
  flowControl();
}

// Reads pause above these (issue 21.6: memory). Every byte held here is RSS: with 8 / 16 MiB the lane with
// its parse worker peaked at 205-246 MB in a 500k-message burst, with 2 / 4 MiB (and 512 KiB batches,
// 2 MiB appender buffers) at 146-152 MB, the messages/s the same within the noise (6 runs each, quiet).
const PARSE_HIGH_WATER = 2 << 20;
const limits = { maxMessageBytes: args.maxMessageBytes, maxSkipBytes: args.maxSkipBytes, warmUp: args.warmUp };
const APPEND_HIGH_WATER = 4 << 20;
const parser: SyslogStreamParser =
  args.parseThreads > 0
    ? new WorkerSyslogParser(args.parseThreads, limits, onParsed, (err) => {
        log.error('parse worker failed', { error: err.message });
        process.exit(1);
      })
    : new InlineSyslogParser(limits, onParsed, appender.output);

function closeParser(conn: Connection, reason?: RejectReason): void {
  if (conn.closed) return;
  conn.closed = true;
  conn.closeReason = reason;
  closing++;
  parser.close(conn.id);
}

/** One read buffer for every plain TCP connection (own-buffer-reads.ts): reads are parsed before the next. */
const readBuffer = Buffer.allocUnsafeSlow(256 << 10);

function accept(accepted: net.Socket, transport: 'tcp' | 'tls'): void {
  const t = perTransport[transport];
  // plain TCP reads into readBuffer (no Buffer per read); TLS, or a runtime without it, has 'data' events
  let socket = accepted;
  const adopted = transport === 'tcp' ? adopt(accepted, readBuffer, (chunk) => onChunk(chunk)) : undefined;
  if (adopted !== undefined) socket = adopted;
  const peer = peerName(socket.remoteAddress, socket.remotePort);
  if (connections.size >= args.maxConnections || stopping) {
    stats.connections.refused++;
    log.warn('connection refused: limit reached', { peer, transport, limit: args.maxConnections });
    socket.destroy();
    return;
  }
  stats.connections.open++;
  stats.connections.total++;
  t.connections!.open++;
  t.connections!.total++;
  // `_rx` after its ts (the parser adds the receive time of each read)
  let rx = `,"peer":${JSON.stringify(peer)},"lane":${laneJson},"transport":"${transport}"`;
  if (transport === 'tls' && mtls) {
    const cn = (socket as tls.TLSSocket).getPeerCertificate()?.subject?.CN;
    if (typeof cn === 'string') rx += `,"client":${JSON.stringify(cn)}`;
  }
  const conn: Connection = { id: nextConnectionId++, socket, peer, transport, lastMessageAt: now, closed: false };
  connections.set(conn.id, conn);
  parser.open(conn.id, `${rx}}`);

  function onChunk(chunk: Buffer): void {
    t.bytes += chunk.length;
    stats.bytes.wire += chunk.length;
    bytesSinceCheck += chunk.length;
    now = Date.now();
    parser.push(conn.id, chunk, now);
    flowControl();
  }
  if (adopted === undefined) socket.on('data', onChunk);
  if (!paused) socket.resume(); // (an accepted TCP socket starts paused: pauseOnConnect)
  socket.on('end', () => {
    if (!conn.closed) parser.end(conn.id, now);
  });
  socket.on('error', (err) => {
    stats.connections.errors++;
    log.debug('connection error', { peer, transport, error: err.message });
  });
  socket.on('close', () => {
    stats.connections.open--;
    t.connections!.open--;
    closeParser(conn);
  });
  if (paused) socket.pause();
}

// The idle timeout: one sweep, not a timer per connection. Syslog clients often sit idle for long;
// they reconnect when they have something to say, so a quiet connection is simply closed (a message
// it left half-sent is rejected as idle_timeout).
const sweep = setInterval(
  () => {
    now = Date.now();
    for (const conn of connections.values()) {
      if (conn.closed || now - conn.lastMessageAt < args.idleTimeoutMs) continue;
      stats.connections.idleTimeouts++;
      log.info('idle connection cut', { peer: conn.peer, transport: conn.transport, idleMs: now - conn.lastMessageAt });
      closeParser(conn, 'idle_timeout');
      conn.socket.destroy();
    }
  },
  Math.max(5, Math.min(1000, Math.floor(args.idleTimeoutMs / 10))),
);
sweep.unref();

// Backpressure: while the sink (or the parser) is behind, stop reading TCP/TLS; TCP then slows the
// senders down. Reading resumes once both are well below their marks.
let paused = false;
function flowControl(): void {
  if (
    !paused &&
    (sink.overHighWater || appender.pendingBytes > APPEND_HIGH_WATER || parser.pendingBytes > PARSE_HIGH_WATER)
  ) {
    paused = true;
    log.debug('behind: pausing reads', {
      sinkBacklog: sink.backlogBytes,
      appendPending: appender.pendingBytes,
      parsePending: parser.pendingBytes,
    });
    for (const c of connections.values()) c.socket.pause();
  } else if (
    paused &&
    !stopping &&
    !sink.overHighWater &&
    appender.pendingBytes < APPEND_HIGH_WATER / 2 &&
    parser.pendingBytes < PARSE_HIGH_WATER / 2
  ) {
    paused = false;
    for (const c of connections.values()) c.socket.resume();
  }
}
sink.on('drain', flowControl);

// ---- UDP: one message per datagram (RFC 5426) --------------------------------------------------------
// Parsed on the main thread with its own writer: a datagram is one message, there is no stream to cut.
// UDP cannot be slowed down. Policy when the sink is far behind (4× its high-water mark): drop the
// datagram and count it (records.dropped, syslog.udp.dropped) — the kernel would drop it anyway.
const UDP_DROP_BACKLOG = 4 * (16 << 20);
const udpWriter = new SyslogRecordWriter(256 << 10, undefined, appender.output);
let udpTailKey = '';
let udpPersisted = 0;
let udpFlushScheduled = false;
function onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
  const t = perTransport.udp;
  t.datagrams!++;
  t.bytes += msg.length;
  stats.bytes.wire += msg.length;
  bytesSinceCheck += msg.length;
  const peer = peerName(rinfo.address, rinfo.port);
  if (sink.backlogBytes + appender.pendingBytes > UDP_DROP_BACKLOG) {
    t.dropped!++;
    stats.records.dropped++;
    return;
  }
  t.messages++;
  stats.records.received++;
  if (msg.length > args.maxMessageBytes) {
    reject(t, peer, 'syslog_too_large', msg.subarray(0, 256));
    return;
  }
  now = Date.now();
  udpWriter.setReceived(now);
  const key = `${now} ${peer}`;
  if (key !== udpTailKey) {
    udpTailKey = key;
    udpWriter.setTail(
      `,"_rx":{"ts":"${new Date(now).toISOString()}","peer":${JSON.stringify(peer)},"lane":${laneJson},"transport":"udp"}`,
    );
  }
  const reason = udpWriter.add(msg, 0, msg.length);
  if (reason !== undefined) {
    reject(t, peer, reason, msg.subarray(0, 256));
    return;
  }
  udpPersisted++;
  // One sink append per event-loop turn, however many datagrams it brought.
  if (!udpFlushScheduled) {
    udpFlushScheduled = true;
    setImmediate(flushUdp);
  }
}
function flushUdp(): void {
  udpFlushScheduled = false;
  perTransport.udp.persisted += udpPersisted;
  stats.records.persisted += udpPersisted;
  udpPersisted = 0;
  appender.flush();
}

// ---- listen -------------------------------------------------------------------------------------------
const servers: net.Server[] = [];
let udp: dgram.Socket | undefined;

/**
 * A port in use (or an address this machine lacks) is the usage error every receiver reports: one line naming the
 * flag and the lane, exit 2 (shared/process.ts, issue 22.4).
 */
const listen = (server: net.Server, port: number, flag: string) =>
  listenOrExit(server, { host: args.host, port, lane: args.lane }, log, flag);

try {
  if (tcpPort !== OFF) {
    // pauseOnConnect: no read before accept() moves the socket onto the lane's read buffer
    const server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (s) =>
      accept(s, 'tcp'),
    );
    perTransport.tcp.port = await listen(server, tcpPort, portFlag('--tcp-port', args.tcpPort));
    servers.push(server);
  }
  if (tlsPort !== OFF) {
    const certs = await ensureCerts(args.certs);
    const server = tls.createServer(
      {
        cert: readFileSync(certs.server.cert),
        key: readFileSync(certs.server.key),
        minVersion: 'TLSv1.2',
        allowHalfOpen: true,
        handshakeTimeout: args.handshakeTimeoutMs,
        ...(mtls ? { ca: readFileSync(args.tlsCa ?? certs.ca.cert), requestCert: true, rejectUnauthorized: true } : {}),
      },
      (s) => accept(s, 'tls'),
    );
    server.on('tlsClientError', (err, s) => {
      perTransport.tls.handshakeErrors!++;
      // by reason, as day 13 counts them (issue 20.2: the syslog lane's TLS failures by reason)
      const authorizationError = s.authorizationError ? String(s.authorizationError) : undefined;
      const { reason } = classifyServerFailure(err, authorizationError, {
        minVersion: 'TLSv1.2',
        mtls,
        caFile: args.tlsCa ?? certs.ca.cert,
        certExpired: false,
        certNotAfter: '',
      });
      const failures = perTransport.tls.handshakeFailures!;
      failures[reason] = (failures[reason] ?? 0) + 1;
      stats.connections.errors++;
      log.warn('TLS handshake failed', { peer: peerName(s.remoteAddress, s.remotePort), reason, error: err.message });
      // with a tlsClientError listener Node leaves the connection open: close it (one fd per bad client otherwise)
      s.destroy();
    });
    // connections still in their handshake count too: --max-connections bounds them at the TCP level
    server.maxConnections = args.maxConnections;
    perTransport.tls.port = await listen(server, tlsPort, '--tls-port');
    servers.push(server);
  }
  if (udpPort !== OFF) {
    const family = net.isIPv6(args.host) ? 'udp6' : 'udp4';
    const sock = dgram.createSocket({ type: family, recvBufferSize: 8 << 20 });
    sock.on('message', onDatagram);
    const where = { host: args.host, port: udpPort, lane: args.lane };
    perTransport.udp.port = await bindOrExit(sock, where, log, portFlag('--udp-port', args.udpPort));
    udp = sock;
  }
} catch (err) {
  // what listenOrExit does not answer itself: the certificates (ensureCerts, readFileSync)
  log.error('cannot listen', { error: (err as Error).message });
  process.exit(1);
}

// ---- SIGTERM: stop accepting, read what is on the wire, flush, fsync, final stats ---------------------
onShutdown(
  async () => {
    stopping = true;
    for (const s of servers) s.close();
    clearInterval(sweep);
    if (paused) for (const c of connections.values()) c.socket.resume();
    // Bytes sent before the signal may still sit in the kernel: read until quiet (bounded).
    const until = Date.now() + 2500;
    do {
      bytesSinceCheck = 0;
      await new Promise((r) => setTimeout(r, args.drainQuietMs));
    } while (bytesSinceCheck > 0 && Date.now() < until);
    udp?.close();
    flushUdp();
    // What each connection left half-sent is rejected; the parser answers every close() in order,
    // after everything pushed before it.
    for (const conn of connections.values()) {
      closeParser(conn, 'incomplete_at_shutdown');
      conn.socket.destroy();
    }
    if (closing > 0) await new Promise<void>((resolve) => (closingDone = resolve));
    await parser.stop();
    await appender.drain();
    stats.bytes.decoded = appender.totalBytes;
    await sink.close();
    stats.extra.sink = sink.counters;
    await statsWriter.stop();
    log.info('stopped', { persisted: stats.records.persisted, rejected: stats.records.rejected });
  },
  { log },
);

// Parse workers (if any) loaded: "ready" means traffic is taken at full speed from the first byte.
await parser.ready;
const ports = { udp: perTransport.udp.port, tcp: perTransport.tcp.port, tls: perTransport.tls.port };
announceReady({
  role: 'receiver',
  lesson: 'stack',
  transport: 'syslog',
  host: args.host,
  port: (ports.tcp ?? ports.tls ?? ports.udp)!,
  ports,
  lane: args.lane,
  dataDir: args.dataDir,
});
log.info('listening', {
  host: args.host,
  ...ports,
  dataDir: args.dataDir,
  fsync: args.fsync,
  mtls,
  warmUp: { messages: args.warmUp, ms: Math.round(parser.warmUpMs) },
});
