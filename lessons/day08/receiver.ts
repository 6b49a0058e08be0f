/**
 * Day 08 — TCP ingestion: the receiver.
 *
 * TCP gives us a reliable, ordered BYTE STREAM — not messages. The day's idea is everything a receiver
 * must add on top of that stream to make it safe to run in front of many clients:
 *
 *   1. framing     split the byte stream into records (one NDJSON line each, shared/protocol/README.md §2) [d08.2–d08.4]:
 *                  line-decoder.ts
 *   2. validation  a line that is not a valid record is rejected with a reason, never fatal [d08.6]:
 *                  validate.ts
 *   3. limits      a line limit [d08.5] (line-decoder.ts), an idle timeout [d08.7] and a connection
 *                  limit [d08.10] (here)
 *   4. backpressure when the disk lags, stop READING (pause sockets) instead of buffering without end
 *   5. a clean end the last line without LF [d08.8], and SIGTERM drains and flushes [d08.9] (here)
 *
 * Run: npx tsx lessons/day08/receiver.ts --port 5140 --data-dir data/day08
 */
import net from 'node:net';
import { parseCli, receiverOptions, receiverSinkOptions, opt } from '../../shared/cli.ts';
import { createLog } from '../../shared/log.ts';
import { listenOrExit, serveReceiver } from '../../shared/process.ts';
import { LineDecoder } from './line-decoder.ts';
import { validateRecord } from './validate.ts';
import { FileSink } from '../../shared/storage/file-sink.ts';
import { RxWriter, peerName } from '../../shared/storage/rx.ts';
import { ReceiverStats, StatsWriter } from '../../shared/stats.ts';

const args = parseCli({
  name: 'lessons/day08/receiver.ts',
  summary: 'Day 08 receiver: NDJSON records over TCP, validated, persisted with _rx.',
  options: {
    ...receiverOptions('day08', { fsync: 'interval' }), // no ACKs: nobody waits for an fsync
    maxLineBytes: opt.bytes(
      '--max-line-bytes <size>',
      'longest accepted line; longer lines are rejected (line_too_long)',
      64 << 10,
      { min: 16, max: 64 << 20 },
    ),
    drainQuietMs: opt.int('--drain-quiet-ms <n>', 'on SIGTERM, keep reading until no bytes arrive for this long', 100, {
      min: 0,
      max: 3000,
    }),
  },
});

const log = createLog('day08/receiver');
const stats = new ReceiverStats(args.lane, 'tcp');
const sink = await FileSink.open(receiverSinkOptions(args));
const statsWriter = new StatsWriter(args.dataDir, stats, args.statsIntervalMs, () => {
  stats.extra.sink = sink.counters;
}).start();

interface Connection {
  socket: net.Socket;
  peer: string;
  decoder: LineDecoder;
  /** when this connection last completed a line (the idle timeout counts from here) [d08.7] */
  lastLineAt: number;
}
const connections = new Set<Connection>();
let now = Date.now();
let bytesSinceCheck = 0;

function reject(peer: string, reason: string, sample: Buffer | string): void {
  stats.reject(reason);
  sink.reject({ peer, reason, sample });
}

// ---- 1. framing + 2. validation: bytes in, records (or rejects) out ------------------------------
function accept(socket: net.Socket): void {
  // A bounded number of connections: one client opening thousands must not starve the rest.
  // @solution [d08.10] refuse a connection over --max-connections: count it (stats.connections.refused), log it, close it unread
  if (connections.size >= args.maxConnections) {
    stats.connections.refused++;
    log.warn('connection refused: limit reached', {
      peer: peerName(socket.remoteAddress, socket.remotePort),
      limit: args.maxConnections,
    });
    socket.destroy();
    return;
  }
  // @end-solution
  const peer = peerName(socket.remoteAddress, socket.remotePort);
  stats.connections.open++;
  stats.connections.total++;

  // Records completed by one chunk are stamped with `_rx` into ONE buffer, so the sink gets one append
  // per read instead of one per record.
  const out = new RxWriter();

  const conn: Connection = {
    socket,
    peer,
    lastLineAt: now,
    decoder: new LineDecoder({
      maxLineBytes: args.maxLineBytes,
      onLine: (line) => {
        conn.lastLineAt = now;
        stats.records.received++;
        // [d08.6] a line that is not a valid record goes to rejects.ndjson with its reason (validate.ts)
        const v = validateRecord(line, args.maxRecordBytes);
        if (v.ok) {
          out.add(line);
        } else {
          reject(peer, v.reason, line);
        }
      },
      onTooLong: (info) => {
        // [d08.5] the decoder reports an over-long line once and skips to its LF: the connection lives on
        conn.lastLineAt = now;
        stats.records.received++;
        reject(peer, 'line_too_long', info.sample);
      },
    }),
  };
  connections.add(conn);

  const flush = (): number => {
    const n = out.count;
    const bytes = out.take();
    if (!bytes) return sink.position;
    const ticket = sink.append(bytes);
    stats.records.persisted += n;
    // ---- 4. backpressure: the sink is behind, so stop reading from every socket ----------------
    if (sink.overHighWater) pauseAll();
    return ticket;
  };

  socket.on('data', (chunk: Buffer) => {
    stats.bytes.wire += chunk.length;
    stats.bytes.decoded += chunk.length;
    bytesSinceCheck += chunk.length;
    out.context({ ts: new Date((now = Date.now())).toISOString(), peer, lane: args.lane });
    conn.decoder.push(chunk);
    flush();
  });

  // ---- 5. a clean end: the client half-closed, so its last line is complete even without LF --------
  socket.on('end', () => {
    // @solution [d08.8] the client ended: its last line is complete even without LF; flush it, and end our side once all it sent is written
    // @stub socket.end(); return;
    conn.decoder.end();
    const ticket = flush();
    // We end our side only once everything the client sent is written: the shipper waits for that.
    sink.whenWritten(ticket).then(
      () => socket.end(),
      () => socket.destroy(),
    );
    // @end-solution
  });
  socket.on('error', (err) => {
    stats.connections.errors++;
    log.debug('connection error', { peer, error: err.message });
  });
  socket.on('close', () => {
    connections.delete(conn);
    stats.connections.open--;
  });
}

// ---- 3. limits: the idle timeout, checked by one sweep rather than a timer per connection ---------
const sweepMs = Math.max(5, Math.min(1000, Math.floor(args.idleTimeoutMs / 10)));
const sweep = setInterval(() => {
  now = Date.now();
  // @solution [d08.7] cut a connection that has completed no line for --idle-timeout-ms
  // @stub return;
  for (const conn of connections) {
    if (now - conn.lastLineAt < args.idleTimeoutMs || conn.socket.destroyed) continue;
    stats.connections.idleTimeouts++;
    reject(conn.peer, 'idle_timeout', conn.decoder.buffered());
    log.info('idle connection cut', { peer: conn.peer, idleMs: now - conn.lastLineAt });
    conn.socket.destroy();
  }
  // @end-solution
}, sweepMs);
sweep.unref();

let paused = false;
function pauseAll(): void {
  if (paused) return;
  paused = true;
  log.debug('sink behind: pausing reads', { backlog: sink.backlogBytes });
  for (const c of connections) c.socket.pause();
}
sink.on('drain', () => {
  if (!paused) return;
  paused = false;
  for (const c of connections) c.socket.resume();
});
sink.on('error', (err: Error) => log.error('sink failed: records are no longer accepted', { error: err.message }));

const server = net.createServer({ allowHalfOpen: true, noDelay: true }, accept);

const port = await listenOrExit(server, args, log);
// ---- SIGTERM: stop accepting, read what is already on the wire, flush, fsync; then the final stats [d08.9] ----
serveReceiver({ lesson: 'day08', transport: 'tcp', args, port, log, stats, statsWriter }, async () => {
  // @solution [d08.9] drain: read until the wire is quiet, cut what is left, flush and fsync
  // @stub process.exit(0);
  server.close();
  clearInterval(sweep);
  if (paused) for (const c of connections) c.socket.resume();
  // Bytes a client sent before the signal may still sit in the kernel: keep reading until no byte
  // has arrived for --drain-quiet-ms (bounded by the shutdown deadline).
  const until = Date.now() + 2500;
  do {
    bytesSinceCheck = 0;
    await new Promise((r) => setTimeout(r, args.drainQuietMs));
  } while (bytesSinceCheck > 0 && Date.now() < until);
  for (const conn of connections) {
    const partial = conn.decoder.buffered();
    if (partial.length) reject(conn.peer, 'incomplete_at_shutdown', partial);
    conn.socket.destroy();
  }
  await sink.close();
  // @end-solution
});
