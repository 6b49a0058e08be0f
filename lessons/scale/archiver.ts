/**
 * Scale-out — the archiver [scale.1]–[scale.3]: JetStream → the same `*.ndjson` files (with `_rx`) a file
 * sink writes, so every check, tool and the dashboard work unchanged downstream.
 *
 *   durable pull consumer (AckPolicy.All) on `<prefix>.>`
 *     fetch up to --fetch messages ─▶ per LSP/1 stream: drop what the files already hold (seq ≤ mark),
 *                                     append the rest (the receivers stamped `_rx` already)
 *     ─▶ the file sink makes it durable (fsync) ─▶ ACK the last message (covers all before it)
 *
 * Restart-safe: a message is ACKed only once its records are on disk. At every start (and after any fetch
 * error) the consumer is REWOUND to just after its ack floor, so everything not ACKed comes again, in
 * order, at once — not after ack_wait, and never behind a later message whose ACK (AckPolicy.All) would
 * cover it; the marks recovered from the files (lessons/day09/hwm-store.ts, the receivers' own recovery) drop
 * what was written already. Exactly once in the files, the shared/protocol/README.md §4 rule applied again. A message whose
 * Lsp-Prev is above the stream's mark means one before it was not delivered: rewind, never skip.
 *
 * Run: npx tsx lessons/scale/archiver.ts --nats nats://127.0.0.1:4301,… --data-dir data/scale/archive
 */
import { AckPolicy, DeliverPolicy, jetstream, type Consumer, type JsMsg } from '@nats-io/jetstream';
import { opt, parseCli, receiverOptions } from '../../shared/cli.ts';
import { HwmStore, type StreamMarks } from '../day09/hwm-store.ts';
import { readRxStreamSeq } from '../../shared/storage/rx.ts';
import { jetstreamSinkOptions, topologyOf, validateJetStreamArgs } from './jetstream/options.ts';
import {
  connectNats,
  ensureStream,
  jetstreamManagerWhenReady,
  HDR_FIRST,
  HDR_LAST,
  HDR_PREV,
  HDR_STREAM,
} from './jetstream/sink.ts';
import { createLog } from '../../shared/log.ts';
import { announceReady, onShutdown } from '../../shared/process.ts';
import { FileSink } from '../../shared/storage/file-sink.ts';
import { ReceiverStats, StatsWriter } from '../../shared/stats.ts';

const { sink: _sink, publishTimeoutMs: _pt, ...jsOptions } = jetstreamSinkOptions();
// the records files' settings, as every receiver takes them (shared/cli.ts); the fsync policies are the archiver's own
const files = receiverOptions('scale-archive');
const args = parseCli({
  name: 'lessons/scale/archiver.ts',
  summary:
    'Scale-out archiver: a durable JetStream consumer writing the records files (with _rx) of a file sink, ACKing JetStream only once they are durable.',
  options: {
    ...jsOptions,
    dataDir: opt.string('--data-dir <dir>', 'where records-*.ndjson and stats.json are written', 'data/scale/archive'),
    lane: opt.string('--lane <name>', 'lane name in stats.json', 'scale-archive'),
    durable: opt.string(
      '--durable <name>',
      'durable consumer name: one archiver per name (it rewinds the consumer at start)',
      'archiver',
    ),
    fetch: opt.int('--fetch <n>', 'messages fetched (and ACKed) at once at most', 256, { min: 1, max: 10_000 }),
    fsync: opt.choice(
      '--fsync <policy>',
      'when the files are fsynced: always | interval | never (what an ACK to JetStream promises)',
      ['always', 'interval', 'never'] as const,
      'interval',
    ),
    fsyncIntervalMs: { ...files.fsyncIntervalMs, defaultValue: 50 },
    rotateBytes: files.rotateBytes,
    statsIntervalMs: files.statsIntervalMs,
  },
  validate: (v) => validateJetStreamArgs({ ...v, sink: 'jetstream', publishTimeoutMs: 0 }),
});

const log = createLog('scale/archiver');
const stats = new ReceiverStats(args.lane, 'jetstream');
const sink = await FileSink.open({
  dir: args.dataDir,
  fsync: args.fsync,
  fsyncIntervalMs: args.fsyncIntervalMs,
  rotateBytes: args.rotateBytes,
});
const hwm = await HwmStore.open({
  dir: args.dataDir,
  sink,
  stats,
  onError: (err) => log.warn('HWM checkpoint failed', { error: err.message }),
});
log.info('marks recovered from the files', { ...hwm.recovery });

const topology = topologyOf({ ...args, sink: 'jetstream', publishTimeoutMs: 0 });
let nc;
try {
  nc = await connectNats(args.nats, `archiver ${args.durable} pid ${process.pid}`, log);
} catch (err) {
  log.error('cannot reach NATS (--nats)', { nats: args.nats.join(','), error: (err as Error).message });
  process.exit(1);
}
const jsm = await jetstreamManagerWhenReady(nc, log);
const js = jetstream(nc, { timeout: 5000 });

/**
 * The stream exists, and the durable consumer starts right after its ack floor: whatever was delivered
 * but not ACKed (a crash, a failed fetch) is delivered again now, in order.
 */
async function openConsumer(why: string): Promise<Consumer> {
  await ensureStream(jsm, topology, log);
  const info = await jsm.consumers.info(args.jsStream, args.durable).catch(() => undefined);
  const floor = info?.ack_floor.stream_seq ?? 0;
  if (info) await jsm.consumers.delete(args.jsStream, args.durable);
  await jsm.consumers.add(args.jsStream, {
    durable_name: args.durable,
    ack_policy: AckPolicy.All,
    ...(floor > 0
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: floor + 1 }
      : { deliver_policy: DeliverPolicy.All }),
    filter_subject: `${args.subjectPrefix}.>`,
    max_ack_pending: 100_000,
    ack_wait: 30_000_000_000,
  });
  counters.rewinds++;
  log.info('consumer (re)positioned after its ack floor', {
    stream: args.jsStream,
    durable: args.durable,
    from: floor + 1,
    why,
  });
  return js.consumers.get(args.jsStream, args.durable);
}

const counters = { messages: 0, fetches: 0, acks: 0, duplicateMessages: 0, errors: 0, rewinds: 0, holes: 0 };

/** a message came before one it follows (Lsp-Prev above the stream's mark) */
const HOLE = Symbol('hole');
const cluster: Record<string, unknown> = {};

/** One message: what the files do not hold yet is appended; returns the stream's marks. */
function archive(m: JsMsg): StreamMarks | undefined | typeof HOLE {
  const stream = Number(m.headers?.get(HDR_STREAM));
  const first = Number(m.headers?.get(HDR_FIRST));
  const last = Number(m.headers?.get(HDR_LAST));
  const prev = Number(m.headers?.get(HDR_PREV) ?? 0);
  if (!Number.isSafeInteger(stream) || !Number.isSafeInteger(first) || !Number.isSafeInteger(last)) {
    stats.reject('not_lsp_message');
    log.warn('message without Lsp-* headers skipped', { subject: m.subject, seq: m.seq });
    return undefined;
  }
  const marks = hwm.get(stream);
  if (prev > marks.accepted) return HOLE; // the message before it has not come (yet): never skip it
  const data = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
  const lines = countLines(data);
  stats.records.received += lines;
  stats.bytes.wire += data.length;
  marks.stats.received += lines;
  if (last <= marks.accepted) {
    counters.duplicateMessages++;
    stats.records.duplicates += lines;
    marks.stats.duplicates += lines;
    return marks;
  }
  let from = 0;
  if (first <= marks.accepted) {
    // partly held (a resend cut differently): skip the lines whose seq the files hold
    let start = 0;
    while (start < data.length) {
      let end = data.indexOf(10, start);
      if (end < 0) end = data.length;
      let seq = 0;
      readRxStreamSeq(data, start, end, (_s, q) => (seq = q));
      if (seq > marks.accepted) break;
      stats.records.duplicates++;
      marks.stats.duplicates++;
      start = end + 1;
    }
    from = start;
  } else if (first > marks.accepted + 1) {
    marks.stats.gaps += first - marks.accepted - 1;
  }
  if (from < data.length) {
    const part = from === 0 ? data : data.subarray(from);
    sink.append(part);
    stats.records.persisted += from === 0 ? lines : countLines(part);
  }
  marks.accepted = last;
  return marks;
}

function countLines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) n++;
  return n;
}

let stopping = false;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function loop(): Promise<void> {
  let consumer: Consumer | undefined;
  let why = 'start';
  while (!stopping) {
    try {
      consumer ??= await openConsumer(why);
      const batch = await consumer.fetch({ max_messages: args.fetch, expires: 1000 });
      counters.fetches++;
      let last: JsMsg | undefined;
      const touched = new Set<StreamMarks>();
      let hole = false;
      for await (const m of batch) {
        if (hole) continue; // drain the fetch; all of it comes again after the rewind
        counters.messages++;
        const marks = archive(m);
        if (marks === HOLE) {
          hole = true;
          continue;
        }
        if (marks) touched.add(marks);
        last = m;
      }
      if (last) {
        // ACK JetStream only once the files hold it durably (AckPolicy.All: one ACK covers the batch)
        await sink.whenDurable(sink.position);
        for (const marks of touched) hwm.markDurable(marks, marks.accepted);
        await last.ackAck();
        counters.acks++;
      }
      if (hole) {
        counters.holes++;
        why = 'a message arrived before one it follows';
        consumer = undefined;
      }
    } catch (err) {
      counters.errors++;
      if (stopping) break;
      log.warn('fetch failed (cluster down or electing?): rewinding and retrying', { error: (err as Error).message });
      why = `after: ${(err as Error).message}`;
      consumer = undefined;
      await sleep(500);
    }
  }
}

// The cluster's state for stats.json and the dashboard: cheap (one request each per second).
const clusterTimer = setInterval(() => {
  void (async () => {
    try {
      const si = await jsm.streams.info(args.jsStream);
      cluster.stream = {
        name: si.config.name,
        replicas: si.config.num_replicas,
        messages: si.state.messages,
        bytes: si.state.bytes,
        leader: si.cluster?.leader,
        peers: (si.cluster?.replicas ?? []).map((r) => ({ name: r.name, current: r.current, lagMsgs: r.lag })),
      };
      const ci = await jsm.consumers.info(args.jsStream, args.durable);
      cluster.consumer = {
        name: args.durable,
        pending: ci.num_pending,
        ackPending: ci.num_ack_pending,
        redelivered: ci.num_redelivered,
      };
      cluster.connectedTo = nc.getServer();
    } catch (err) {
      cluster.error = (err as Error).message;
    }
  })();
}, args.statsIntervalMs);
clusterTimer.unref();

const statsWriter = new StatsWriter(args.dataDir, stats, args.statsIntervalMs, () => {
  stats.extra.archiver = counters;
  stats.extra.jetstream = cluster;
  stats.extra.sink = sink.counters;
}).start();

const running = loop();
announceReady({
  role: 'archiver',
  lesson: 'scale',
  transport: 'jetstream',
  host: '',
  port: 0,
  dataDir: args.dataDir,
  stream: args.jsStream,
  durable: args.durable,
});
log.info('archiving', { stream: args.jsStream, durable: args.durable, dataDir: args.dataDir });
onShutdown(
  async () => {
    stopping = true;
    await running;
    clearInterval(clusterTimer);
    await sink.close();
    await hwm.close();
    await statsWriter.stop();
    await nc.close().catch(() => {});
    log.info('stopped', { persisted: stats.records.persisted, duplicates: stats.records.duplicates, ...counters });
  },
  { log },
);
