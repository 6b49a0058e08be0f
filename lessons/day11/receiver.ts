/**
 * Day 11 — Batching: the receiver.
 *
 * The receiver does not decide how records are batched — the shipper does — but it is where a batch's
 * cost lands: one socket read, one frame decode, one CRC, one sink append and one ACK per BATCH, whatever
 * it carries. So besides storing records it reports how the shippers batch: `stats.json` →
 * `batching {frames, records, recordsPerFrame}`, and `lsp.acks` (TCP) — compare the two to see ACK
 * coalescing at work.
 *
 *   --transport tcp  LSP/1 with ACKs, exactly as day 09 (lessons/day09/ingest.ts + shared/lsp-receiver.ts):
 *                    HELLO → durable HWM, dedup by seq, ACK once durable. Order and no duplicates [d11.6].
 *   --transport udp  one BATCH frame per datagram (lessons/day10/README.md, UDP), no ACK. Records are stored with their seq;
 *                    per stream, day 10's accounting (lessons/day10/seq-accounting.ts) counts gaps,
 *                    duplicates and late arrivals. Here UDP is the baseline batching is compared on.
 *
 * Run: npx tsx lessons/day11/receiver.ts --port 5143 --data-dir data/day11 [--transport udp]
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { lspReceiverFor, lspReceiverOptions, serveAcked } from '../day09/acked-receiver.ts';
import { AckedIngest } from '../day09/ingest.ts';
import { SeqAccounting } from '../day10/seq-accounting.ts';
import { opt, parseCli, receiverOptions, receiverSinkOptions } from '../../shared/cli.ts';
import { createLog } from '../../shared/log.ts';
import { bindOrExit, serveReceiver } from '../../shared/process.ts';
import { decodeBatch } from '../../shared/protocol/batch.ts';
import { LsError } from '../../shared/protocol/errors.ts';
import { FrameDecoder, FrameType, HEADER_SIZE } from '../../shared/protocol/frame.ts';
import { validateRecord } from '../day08/validate.ts';
import { FileSink } from '../../shared/storage/file-sink.ts';
import { peerName, RxWriter } from '../../shared/storage/rx.ts';
import { ReceiverStats, StatsWriter } from '../../shared/stats.ts';

const MAX_UDP_PAYLOAD = 65_507;

const args = parseCli({
  name: 'lessons/day11/receiver.ts',
  summary:
    'Day 11 receiver: LSP/1 batches over TCP (ACKed, dedup, as day 09) or UDP (one BATCH per datagram); reports how shippers batch.',
  options: {
    ...receiverOptions('day11'),
    ...lspReceiverOptions(), // with --transport tcp; udp takes --max-decoded-bytes
    transport: opt.choice(
      '--transport <t>',
      'tcp (LSP/1 with ACKs) | udp (one BATCH per datagram, no ACK)',
      ['tcp', 'udp'] as const,
      'tcp',
    ),
    rcvbuf: opt.bytes('--rcvbuf <size>', 'udp: socket receive buffer to ask for (0 = the kernel default)', 4 << 20, {
      min: 0,
      max: 1 << 30,
    }),
  },
});

const log = createLog('day11/receiver');
const transport = args.transport === 'udp' ? 'lsp1-udp' : 'lsp1-tcp';
const stats = new ReceiverStats(args.lane, transport);
/** How the shippers batch: frames and the records they carried. */
const batching = { frames: 0, records: 0 };
const batchingStats = () => ({
  ...batching,
  recordsPerFrame: batching.frames ? Math.round((batching.records / batching.frames) * 100) / 100 : 0,
});

if (args.transport === 'tcp') {
  // ---- TCP: day 09's delivery rules, unchanged ---------------------------------------------------------
  const ingest = await AckedIngest.open({ ...args, stats, log });
  const rx = lspReceiverFor(args, ingest, { log, stats });
  const collect = () => {
    batching.frames = ingest.batches.frames;
    batching.records = ingest.batches.records;
    stats.extra.batching = batchingStats();
  };
  await serveAcked({ lesson: 'day11', args, log, stats, ingest, rx, collect, stopped: batchingStats });
} else {
  // ---- UDP: one BATCH per datagram, nobody answers -------------------------------------------------------
  const sink = await FileSink.open(receiverSinkOptions(args));
  const out = new RxWriter(2048); // one datagram's records at a time: start small
  const accounting = new SeqAccounting(stats, 16_384, 1024);
  const malformed: Record<string, number> = {};
  const socket = dgram.createSocket({
    type: net.isIPv6(args.host) ? 'udp6' : 'udp4',
    ...(args.rcvbuf > 0 ? { recvBufferSize: args.rcvbuf } : {}),
  });

  const onDatagram = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    const peer = peerName(rinfo.address, rinfo.port);
    stats.bytes.wire += msg.length;
    try {
      // exactly one whole frame per datagram
      const frames = new FrameDecoder({ maxPayloadBytes: MAX_UDP_PAYLOAD - HEADER_SIZE }).push(msg);
      const frame = frames[0];
      if (
        frames.length !== 1 ||
        frame === undefined ||
        frame.type !== FrameType.BATCH ||
        HEADER_SIZE + frame.payload.length !== msg.length
      ) {
        throw new LsError('LS_ERR_PAYLOAD', 'a datagram must hold exactly one BATCH frame');
      }
      const lines = decodeBatch(frame, { maxDecodedBytes: args.maxDecodedBytes });
      batching.frames++;
      batching.records += lines.length;
      stats.records.received += lines.length;
      // Day 10's accounting, per stream: gaps, duplicates (not written again), late arrivals.
      const keep = accounting.account(frame.stream, frame.seq, lines.length);
      if (keep === false) throw new LsError('LS_ERR_PAYLOAD', 'too many streams');
      out.context({ ts: new Date().toISOString(), peer, lane: args.lane });
      for (let i = 0; i < lines.length; i++) {
        if (keep !== null && keep[i] === 0) continue;
        const v = validateRecord(lines[i]!, args.maxRecordBytes);
        if (v.ok) out.addSeq(lines[i]!, frame.stream, frame.seq + i);
        else {
          stats.reject(v.reason);
          sink.reject({ peer, reason: v.reason, stream: frame.stream, seq: frame.seq + i, sample: lines[i]! });
        }
      }
      const persisted = out.count;
      const bytes = out.take();
      if (bytes) {
        sink.append(bytes);
        stats.records.persisted += persisted;
      }
    } catch (err) {
      // never fatal: a bad datagram is counted by reason and logged
      const code = err instanceof LsError ? err.code : 'internal_error';
      malformed[code] = (malformed[code] ?? 0) + 1;
      stats.reject(code);
      log.debug('malformed datagram', { peer, code, bytes: msg.length });
    }
  };
  socket.on('message', onDatagram);
  const statsWriter = new StatsWriter(args.dataDir, stats, args.statsIntervalMs, () => {
    stats.extra.batching = batchingStats();
    stats.extra.udp = { malformed };
    stats.extra.sink = sink.counters;
  }).start();
  const port = await bindOrExit(socket, args, log);
  serveReceiver(
    { lesson: 'day11', transport, args, port, log, stats, statsWriter, stopped: batchingStats },
    async () => {
      // keep reading until the socket is quiet, then stop: datagrams already queued are not lost
      let seen = batching.frames;
      for (;;) {
        await new Promise((r) => setTimeout(r, 100));
        if (batching.frames === seen) break;
        seen = batching.frames;
      }
      socket.close();
      await sink.close();
    },
  );
}
