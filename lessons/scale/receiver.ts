/**
 * Scale-out — the receiver: an acknowledging LSP/1 receiver (day 09's rules, lessons/day09/ingest.ts)
 * whose sink is a JetStream stream (issue 11, [scale.1]–[scale.3]).
 *
 *   HELLO(stream)  → ask JetStream what it holds of this stream (the last message's Lsp-Last): every
 *                    receiver of the cluster answers the same, so a shipper that fails over resumes right
 *   BATCH          → dedup against that mark, stamp `_rx`, publish to `<prefix>.<stream>` (msgID
 *                    `<stream>:<first seq>`, chained on the subject's last sequence)
 *   ACK            → only once JetStream acknowledged the publish (and everything before it): "ACK means
 *                    durable", as with the file sink. A failed publish closes the connection unACKed.
 *
 * `--sink file` makes it a plain day 09 receiver (records files in --data-dir), handy for comparisons.
 *
 * Run: npx tsx lessons/scale/receiver.ts --port 5301 --data-dir data/scale/r1 --sink jetstream \
 *        --nats nats://127.0.0.1:4301,nats://127.0.0.1:4302,nats://127.0.0.1:4303 --replicas 3
 */
import { lspReceiverFor, lspReceiverOptions, serveAcked } from '../day09/acked-receiver.ts';
import { AckedIngest } from '../day09/ingest.ts';
import { parseCli, receiverOptions } from '../../shared/cli.ts';
import { jetstreamSinkOptions, openJetStreamSink, validateJetStreamArgs } from './jetstream/options.ts';
import { createLog } from '../../shared/log.ts';
import { ReceiverStats } from '../../shared/stats.ts';

const args = parseCli({
  name: 'lessons/scale/receiver.ts',
  summary:
    'Scale-out receiver: LSP/1 with ACKs (as day 09) storing into a JetStream stream (--sink jetstream) or the records files (--sink file).',
  options: {
    ...receiverOptions('scale'),
    ...jetstreamSinkOptions(),
    ...lspReceiverOptions(),
  },
  validate: validateJetStreamArgs,
});

const log = createLog(`scale/receiver:${args.lane}`);
const stats = new ReceiverStats(args.lane, 'lsp1-tcp');
let jetstream;
try {
  jetstream = await openJetStreamSink(args, log, `receiver ${args.lane} pid ${process.pid}`);
} catch (err) {
  log.error('cannot reach JetStream (is the NATS cluster up? --nats)', {
    nats: args.nats.join(','),
    error: (err as Error).message,
  });
  process.exit(1);
}
const ingest = await AckedIngest.open({ ...args, stats, log, store: jetstream });
const rx = lspReceiverFor(args, ingest, { log, stats });
/** stats.json `sink`: the JetStream stream, or day 09's files with --sink file; and how shippers batch */
const collectSink = (): void => {
  stats.extra.sink = jetstream
    ? {
        kind: 'jetstream',
        stream: args.jsStream,
        subjects: `${args.subjectPrefix}.>`,
        inflight: jetstream.pending,
        ...jetstream.counters,
      }
    : { kind: 'file', ...ingest.sink.counters };
  stats.extra.batching = ingest.batches;
};
await serveAcked({
  lesson: 'scale',
  args,
  log,
  stats,
  ingest,
  rx,
  collect: collectSink,
  ready: { sink: args.sink },
  listening: { sink: args.sink, nats: args.sink === 'jetstream' ? args.nats.join(',') : undefined },
});
