/**
 * What every acknowledged LSP/1 receiver takes and wires the same way: day 09's, and after it days 11–14 and the
 * scale-out lesson, which add their idea beside it (issue 22.2: the option block and the wiring stood in six
 * receivers; issue 18.5's memory bounds reached only day 09's).
 *
 * - `lspReceiverOptions()`: --max-payload-bytes, --max-decoded-bytes, --max-partial-bytes, --max-streams,
 *   --checkpoint-interval-ms, beside shared/cli.ts's receiverOptions().
 * - `lspReceiverFor(args, ingest, …)`: the connection machinery (shared/lsp-receiver.ts: frames, NACK + close on
 *   a broken one [d09.9], PING, limits, ACK coalescing) with those limits, fed by day 09's ingest
 *   (lessons/day09/ingest.ts), which pauses its reads while the disk is behind.
 * - `serveAcked({ lesson, args, log, stats, ingest, rx, … })`: stats.json, the TCP server, the ready line and
 *   SIGTERM (shared/process.ts serveReceiver) with day 09's shutdown.
 */
import net from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { MS_RANGE, opt, type CliValues } from '../../shared/cli.ts';
import type { Log } from '../../shared/log.ts';
import { parseThreadsOption } from '../../shared/parse-pool.ts';
import { DEFAULT_MAX_PARTIAL_BYTES, LspReceiver, type LspHandlers } from '../../shared/lsp-receiver.ts';
import { DEFAULT_MAX_DECODED_BYTES, DEFAULT_MAX_PAYLOAD_BYTES } from '../../shared/protocol/limits.ts';
import { listenOrExit, serveReceiver, type ServeReceiver } from '../../shared/process.ts';
import { StatsWriter, type ReceiverStats } from '../../shared/stats.ts';
import { DEFAULT_MAX_STREAMS, type AckedIngest } from './ingest.ts';

/** The flags of an acknowledged LSP/1 receiver, after receiverOptions(lane). */
export function lspReceiverOptions() {
  return {
    maxPayloadBytes: opt.bytes(
      '--max-payload-bytes <size>',
      'largest frame payload as sent (compressed, if it is); more is a fatal LS_ERR_TOO_LARGE',
      DEFAULT_MAX_PAYLOAD_BYTES,
      { min: 1024, max: 1 << 30 },
    ),
    maxDecodedBytes: opt.bytes(
      '--max-decoded-bytes <size>',
      'largest decoded BATCH payload; decoding stops there: a fatal LS_ERR_TOO_LARGE',
      DEFAULT_MAX_DECODED_BYTES,
      { min: 1024, max: 1 << 30 },
    ),
    maxPartialBytes: opt.bytes(
      '--max-partial-bytes <size>',
      'bytes of partial frames held across all connections; past it a connection holding more than its share waits (issue 18.5)',
      DEFAULT_MAX_PARTIAL_BYTES,
      { min: 64 << 10, max: 16 << 30 },
    ),
    maxStreams: opt.int(
      '--max-streams <n>',
      'streams whose marks and owners stay in memory; idle ones past it are evicted, and read back from disk when they return (issue 18.5)',
      DEFAULT_MAX_STREAMS,
      { min: 1, max: 100_000_000 },
    ),
    checkpointIntervalMs: opt.int(
      '--checkpoint-interval-ms <n>',
      'how often the high-water marks are checkpointed (restart scans only what follows)',
      1000,
      MS_RANGE.rewrite,
    ),
    // issue 21.2: BATCH validation on worker threads (default 0: inline measured faster on 2 cores, day 09 README)
    parseThreads: parseThreadsOption('validate BATCH payloads, batches still stored and ACKed in order', 0),
  };
}

export type LspReceiverArgs = CliValues<ReturnType<typeof lspReceiverOptions>> & {
  maxConnections: number;
  idleTimeoutMs: number;
};

/**
 * The connection machinery for `ingest`: its handlers (or `handlers`, e.g. day 14's queue in front of
 * ingest.onBatch), the limits of `args`; the ingest pauses its reads when the disk is behind.
 */
export function lspReceiverFor(
  args: LspReceiverArgs,
  ingest: AckedIngest,
  o: { log: Log; stats: ReceiverStats; handlers?: LspHandlers },
): LspReceiver {
  const rx = new LspReceiver({
    handlers: o.handlers ?? ingest.handlers,
    log: o.log,
    stats: o.stats,
    maxConnections: args.maxConnections,
    idleTimeoutMs: args.idleTimeoutMs,
    maxPayloadBytes: args.maxPayloadBytes,
    maxPartialBytes: args.maxPartialBytes,
  });
  ingest.attach(rx);
  return rx;
}

/**
 * The rest of an acknowledged receiver, the same on every such lane: stats.json (the connections' counters,
 * the sink's, the marks' recovery, then `collect`'s sections), a TCP server on --host/--port, and on SIGTERM:
 * stop accepting, `beforeDrain` (day 14 empties its queue), then day 09's shutdown (stop reading, flush +
 * fsync, final ACKs, close, last checkpoint) and the final stats.
 */
export async function serveAcked(
  o: Omit<ServeReceiver, 'transport' | 'port' | 'statsWriter' | 'stats'> & {
    stats: ReceiverStats;
    args: LspReceiverArgs & ServeReceiver['args'] & { port: number; statsIntervalMs: number };
    ingest: AckedIngest;
    rx: LspReceiver;
    /** more stats.json sections, written after the common ones (and over them: scale's sink is JetStream) */
    collect?: () => void;
  },
  beforeDrain?: () => void,
): Promise<void> {
  const { args, stats, ingest, rx } = o;
  // how long this process's event loop was late (issue 21.4): an ACK waits for it too, whatever the disk does
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const statsWriter = new StatsWriter(args.dataDir, stats, args.statsIntervalMs, () => {
    stats.extra.lsp = rx.counters;
    stats.extra.sink = ingest.sink.counters;
    stats.extra.recovery = ingest.recovery;
    stats.extra.eventLoopDelayMs = {
      p50: loopDelay.percentile(50) / 1e6,
      p99: loopDelay.percentile(99) / 1e6,
      max: loopDelay.max / 1e6,
    };
    o.collect?.();
  }).start();
  const server = net.createServer({ noDelay: true }, rx.accept);
  const port = await listenOrExit(server, args, o.log);
  // the ready line's transport is the one the receiver counts under (lsp1-tcp; day 11 says so itself)
  serveReceiver({ ...o, transport: stats.transport, port, statsWriter }, async () => {
    server.close();
    beforeDrain?.();
    await ingest.shutdown(rx); // stop reading, flush + fsync, final ACKs, close, last checkpoint
  });
}
