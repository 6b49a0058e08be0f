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
 */
import { opt, type CliValues } from '../../shared/cli.ts';
import type { Log } from '../../shared/log.ts';
import { parseThreadsOption } from '../../shared/parse-pool.ts';
import { DEFAULT_MAX_PARTIAL_BYTES, LspReceiver, type LspHandlers } from '../../shared/lsp-receiver.ts';
import { DEFAULT_MAX_DECODED_BYTES, DEFAULT_MAX_PAYLOAD_BYTES } from '../../shared/protocol/limits.ts';
import type { ReceiverStats } from '../../shared/stats.ts';
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
      { min: 10, max: 60_000 },
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
