/**
 * The JetStream sink: an LSP/1 receiver's "durable" is a JetStream publish acknowledgement instead of an
 * fsync (issue 11). Several receivers write into one replicated stream; an archiver
 * (lessons/scale/archiver.ts) turns it back into the `*.ndjson` files of the file sink.
 *
 *   one JetStream message = the stamped records (`_rx` included, exactly the bytes the file sink would
 *   write) of one or more consecutive BATCHes of ONE LSP/1 stream, on subject `<prefix>.<stream>`, with
 *     msgID   `<stream>:<first seq>`  → JetStream's duplicate window drops a copy published twice
 *     headers Lsp-Stream, Lsp-First, Lsp-Last (the highest seq it settles, rejected records included),
 *             Lsp-Prev (the Lsp-Last of the message it follows: a consumer can tell it missed one)
 *     expect  lastSubjectSequence = the JetStream seq of the previous message on that subject
 *
 * Why one subject per LSP/1 stream, and a chain: a receiver may answer a HELLO with "everything up to S is
 * durable" only if NO seq ≤ S is missing. Publishes can fail (a node dies, a leader election), and a
 * later publish could still land, leaving a hole that the last message would hide. The expected
 * last-subject-sequence makes the stream refuse any message that does not follow the one we chained on,
 * so what JetStream holds per subject is always a prefix; the last message's Lsp-Last IS the durable
 * high-water mark, for every receiver (a shipper that fails over asks another receiver, which asks
 * JetStream: shared/protocol/README.md §4's HWM rule across receivers). After a failure the chain is "unknown" and every
 * publish of that stream fails until the next HELLO looks the mark up again.
 *
 * Who may write a stream (issue 17): the owners live in the cluster too, so every receiver refuses the same
 * writers. A second JetStream stream `<stream>_OWNERS` (subjects `<prefix>-owner.>`, as replicated as the
 * records) holds one message per LSP/1 stream, on `<prefix>-owner.<stream>`: its owner's identity. The
 * first writer's publish expects the subject to be empty (lastSubjectSequence 0), so of two receivers
 * binding one stream at once exactly one wins; the other reads the winner back. The PubAck (a quorum) comes
 * before the HELLO is answered: the binding is durable before the stream's first ACK.
 *
 * Pipelining: per LSP/1 stream one message is in flight at a time, and every batch that arrives meanwhile
 * is coalesced into the next message (group commit, like the file sink's fsync); the receiver pipelines
 * across its streams (many shippers → many messages in flight), and a message carries whole batches, so
 * the per-record cost is zero messages and zero promises.
 */
import { headers, type NatsConnection } from '@nats-io/transport-node';
import {
  DiscardPolicy,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type PubAck,
  type StreamInfo,
} from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import { Backoff } from '../../day09/backoff.ts';
import type { Log } from '../../../shared/log.ts';
import { CodedError } from '../../../shared/errors.ts';

export const HDR_STREAM = 'Lsp-Stream';
export const HDR_FIRST = 'Lsp-First';
export const HDR_LAST = 'Lsp-Last';
/** the Lsp-Last of the message this one follows on its subject: a consumer sees a hole if it has less */
export const HDR_PREV = 'Lsp-Prev';

export class JetStreamSinkError extends CodedError {
  constructor(
    readonly code:
      'LS_ERR_JS_PUBLISH' | 'LS_ERR_JS_CHAIN' | 'LS_ERR_JS_LOOKUP' | 'LS_ERR_JS_CLOSED' | 'LS_ERR_JS_OWNER',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'JetStreamSinkError';
  }
}

export interface JetStreamTopology {
  /** nats://host:port[,nats://…]: every node of the cluster (the client fails over between them) */
  servers: string[];
  /** JetStream stream name */
  stream: string;
  /** subjects are `<prefix>.<LSP stream id>`; the JetStream stream takes `<prefix>.>` */
  subjectPrefix: string;
  replicas: number;
  /** JetStream duplicate window (msgID dedup) */
  duplicateWindowMs: number;
}

export interface JetStreamSinkOptions extends JetStreamTopology {
  log: Log;
  /** PubAck timeout (a publish without one is a failure) */
  publishTimeoutMs?: number;
  /** largest message we build (default: the server's max_payload less room for headers, at most 4 MiB) */
  maxMessageBytes?: number;
  /** client name shown by the server */
  name?: string;
}

/**
 * Connects with endless reconnects (a receiver outlives a cluster outage). The servers are tried in the
 * order given (no shuffling): the launcher rotates each program's list, so the load spreads over the
 * nodes and an operator can tell who talks to whom.
 */
export async function connectNats(servers: string[], name: string, log: Log): Promise<NatsConnection> {
  const nc = await natsConnect({
    servers,
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    noRandomize: true,
    timeout: 2000,
  });
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnect')
        log.warn(`nats ${s.type}`, { server: 'server' in s ? s.server : undefined });
    }
  })().catch(() => {});
  return nc;
}

/**
 * JetStream's manager API, waiting out a cluster that does not answer yet: right after a node dies the
 * cluster may be electing its meta leader and every API call times out for a few seconds. That is an
 * outage to wait for (with backoff, logged), not a reason for a receiver or the archiver to exit.
 */
export async function jetstreamManagerWhenReady(
  nc: NatsConnection,
  log: Log,
  timeoutMs = 5000,
): Promise<JetStreamManager> {
  const backoff = new Backoff({ baseMs: 250, capMs: 5000 });
  for (;;) {
    try {
      return await jetstreamManager(nc, { timeout: timeoutMs });
    } catch (err) {
      if (nc.isClosed()) throw err;
      const delayMs = backoff.next();
      log.warn('JetStream not answering yet; retrying', {
        error: (err as Error).message,
        attempt: backoff.attempt,
        delayMs,
      });
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}

/** Creates the JetStream stream when missing (an existing one is kept as it is). */
export async function ensureStream(jsm: JetStreamManager, t: JetStreamTopology, log: Log): Promise<StreamInfo> {
  try {
    return await jsm.streams.info(t.stream);
  } catch {
    // not there yet (or a lookup that failed: add tells us which)
  }
  try {
    const info = await jsm.streams.add({
      name: t.stream,
      subjects: [`${t.subjectPrefix}.>`],
      num_replicas: t.replicas,
      duplicate_window: t.duplicateWindowMs * 1_000_000,
    });
    log.info('JetStream stream created', { stream: t.stream, subjects: `${t.subjectPrefix}.>`, replicas: t.replicas });
    return info;
  } catch (err) {
    // another receiver created it in the meantime
    return await jsm.streams.info(t.stream).catch(() => {
      throw err;
    });
  }
}

/** Where the owners of a topology's streams live (issue 17): its own JetStream stream, beside the records'. */
export function ownersOf(t: Pick<JetStreamTopology, 'stream' | 'subjectPrefix'>): {
  stream: string;
  subjectPrefix: string;
} {
  return { stream: `${t.stream}_OWNERS`, subjectPrefix: `${t.subjectPrefix}-owner` };
}

/** Creates the owners stream when missing: one message per subject (the owner), as many replicas as the records. */
export async function ensureOwnersStream(jsm: JetStreamManager, t: JetStreamTopology, log: Log): Promise<StreamInfo> {
  const o = ownersOf(t);
  try {
    return await jsm.streams.info(o.stream);
  } catch {
    // not there yet
  }
  try {
    // one message per subject, and the server refuses a second one: an owner is never replaced
    const info = await jsm.streams.add({
      name: o.stream,
      subjects: [`${o.subjectPrefix}.>`],
      num_replicas: t.replicas,
      max_msgs_per_subject: 1,
      discard: DiscardPolicy.New,
      discard_new_per_subject: true,
    });
    log.info('JetStream owners stream created', {
      stream: o.stream,
      subjects: `${o.subjectPrefix}.>`,
      replicas: t.replicas,
    });
    return info;
  } catch (err) {
    return await jsm.streams.info(o.stream).catch(() => {
      throw err;
    });
  }
}

interface Pending {
  data: Buffer[];
  bytes: number;
  first: number;
  last: number;
  waiters: Array<{ resolve: () => void; reject: (err: Error) => void }>;
}

/** One LSP/1 stream's chain of messages. */
interface Chain {
  /** JetStream seq of the last message on this subject; undefined: unknown (look it up at HELLO) */
  jsSeq: number | undefined;
  /** Lsp-Last of that message (0: none) */
  lastSeq: number;
  inflight: Pending | undefined;
  queued: Pending[];
}

export interface JetStreamSinkCounters {
  messages: number;
  bytes: number;
  duplicates: number;
  failures: number;
  lookups: number;
  maxInflight: number;
}

export class JetStreamSink {
  readonly counters: JetStreamSinkCounters = {
    messages: 0,
    bytes: 0,
    duplicates: 0,
    failures: 0,
    lookups: 0,
    maxInflight: 0,
  };
  private readonly chains = new Map<number, Chain>();
  private inflight = 0;
  private closed = false;
  readonly maxMessageBytes: number;
  private readonly publishTimeoutMs: number;

  private constructor(
    private readonly opts: JetStreamSinkOptions,
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
  ) {
    const serverMax = nc.info?.max_payload ?? 1 << 20;
    this.maxMessageBytes = opts.maxMessageBytes ?? Math.min(4 << 20, serverMax - 4096);
    this.publishTimeoutMs = opts.publishTimeoutMs ?? 5000;
  }

  static async open(opts: JetStreamSinkOptions): Promise<JetStreamSink> {
    const nc = await connectNats(opts.servers, opts.name ?? 'lsp-receiver', opts.log);
    const jsm = await jetstreamManagerWhenReady(nc, opts.log);
    await ensureStream(jsm, opts, opts.log);
    await ensureOwnersStream(jsm, opts, opts.log);
    return new JetStreamSink(opts, nc, jetstream(nc, { timeout: opts.publishTimeoutMs ?? 5000 }), jsm);
  }

  subject(stream: number): string {
    return `${this.opts.subjectPrefix}.${stream}`;
  }

  /**
   * Who may write `stream` (DurableStore.bindOwner, issue 17): its owner in the cluster, or `identity` once
   * it is durably the owner (a quorum's PubAck). Two receivers binding at once: one publish wins, the other
   * reads the winner back.
   */
  async bindOwner(stream: number, identity: string): Promise<string> {
    const o = ownersOf(this.opts);
    const subject = `${o.subjectPrefix}.${stream}`;
    const read = async (): Promise<string | undefined> => {
      const msg = await this.jsm.streams.getMessage(o.stream, { last_by_subj: subject });
      return msg ? msg.string() : undefined;
    };
    let known: string | undefined;
    try {
      known = await read();
    } catch (err) {
      throw new JetStreamSinkError(
        'LS_ERR_JS_OWNER',
        `cannot read the owner of ${subject}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (known !== undefined) return known;
    try {
      await this.js.publish(subject, identity, { expect: { lastSubjectSequence: 0 }, timeout: this.publishTimeoutMs });
      return identity;
    } catch (err) {
      // another receiver bound it first (wrong last sequence), or the cluster did not answer: look again
      const winner = await read().catch(() => undefined);
      if (winner !== undefined) return winner;
      throw new JetStreamSinkError('LS_ERR_JS_OWNER', `cannot bind ${subject}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /** messages in flight now (all streams) */
  get pending(): number {
    return this.inflight;
  }

  /**
   * What JetStream holds of `stream` (the Lsp-Last of its last message, 0 when none) — the durable HWM a
   * HELLO answers. Waits for this stream's publishes in flight first, then restarts its chain there.
   */
  async durableMark(stream: number): Promise<number> {
    const chain = this.chain(stream);
    while (chain.inflight || chain.queued.length > 0) {
      await this.settled(chain);
    }
    this.counters.lookups++;
    let msg;
    try {
      msg = await this.jsm.streams.getMessage(this.opts.stream, { last_by_subj: this.subject(stream) });
    } catch (err) {
      throw new JetStreamSinkError(
        'LS_ERR_JS_LOOKUP',
        `cannot read the last message of ${this.subject(stream)}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (!msg) {
      chain.jsSeq = 0;
      chain.lastSeq = 0;
      return 0;
    }
    const last = Number(msg.header?.get(HDR_LAST) ?? 0);
    chain.jsSeq = msg.seq;
    chain.lastSeq = Number.isSafeInteger(last) ? last : 0;
    return chain.lastSeq;
  }

  /**
   * Publishes stamped records `data` (seqs first..last of `stream`, in order after everything published
   * before for that stream). Resolves once JetStream acknowledged them AND everything before them;
   * rejects (and every later publish of the stream rejects) when a publish fails.
   */
  publish(stream: number, data: Buffer | undefined, first: number, last: number): Promise<void> {
    if (this.closed) return Promise.reject(new JetStreamSinkError('LS_ERR_JS_CLOSED', 'the JetStream sink is closed'));
    const chain = this.chain(stream);
    if (chain.jsSeq === undefined)
      return Promise.reject(
        new JetStreamSinkError(
          'LS_ERR_JS_CHAIN',
          `stream ${stream}: chain broken by an earlier failure; the next HELLO restarts it`,
        ),
      );
    return new Promise<void>((resolve, reject) => {
      const len = data?.length ?? 0;
      let p = chain.queued[chain.queued.length - 1];
      if (!p || (p.bytes > 0 && p.bytes + len > this.maxMessageBytes)) {
        p = { data: [], bytes: 0, first, last, waiters: [] };
        chain.queued.push(p);
      }
      if (data && len > 0) {
        if (p.bytes === 0) p.first = first;
        p.data.push(data);
        p.bytes += len;
      }
      p.last = last;
      p.waiters.push({ resolve, reject });
      if (!chain.inflight) this.send(stream, chain);
    });
  }

  /** Resolves when every publish of `stream` made so far has settled (whatever the outcome). */
  whenSettled(stream: number): Promise<void> {
    const chain = this.chains.get(stream);
    return chain ? this.settled(chain) : Promise.resolve();
  }

  private settled(chain: Chain): Promise<void> {
    const tail = chain.queued[chain.queued.length - 1] ?? chain.inflight;
    if (!tail) return Promise.resolve();
    return new Promise<void>((r) => tail.waiters.push({ resolve: r, reject: () => r() }));
  }

  private chain(stream: number): Chain {
    let c = this.chains.get(stream);
    if (!c) {
      c = { jsSeq: undefined, lastSeq: 0, inflight: undefined, queued: [] };
      this.chains.set(stream, c);
    }
    return c;
  }

  private send(stream: number, chain: Chain): void {
    const p = chain.queued.shift();
    if (!p) return;
    if (p.bytes === 0) {
      // Nothing to store (all duplicates or rejects): settled once what came before is.
      for (const w of p.waiters) w.resolve();
      this.send(stream, chain);
      return;
    }
    chain.inflight = p;
    this.inflight++;
    if (this.inflight > this.counters.maxInflight) this.counters.maxInflight = this.inflight;
    const h = headers();
    h.set(HDR_STREAM, String(stream));
    h.set(HDR_FIRST, String(p.first));
    h.set(HDR_LAST, String(p.last));
    h.set(HDR_PREV, String(chain.lastSeq));
    const payload = p.data.length === 1 ? p.data[0]! : Buffer.concat(p.data, p.bytes);
    this.js
      .publish(this.subject(stream), payload, {
        msgID: `${stream}:${p.first}`,
        headers: h,
        timeout: this.publishTimeoutMs,
        expect: { lastSubjectSequence: chain.jsSeq! },
      })
      .then(
        (ack: PubAck) => {
          this.inflight--;
          chain.inflight = undefined;
          this.counters.messages++;
          this.counters.bytes += payload.length;
          if (ack.duplicate) {
            // Another receiver stored a message starting at this seq (a failover raced it): JetStream kept
            // one copy, but what that copy ends at is not ours to know. Resync through a HELLO, ACK nothing.
            this.counters.duplicates++;
            chain.jsSeq = undefined;
            const dup = new JetStreamSinkError(
              'LS_ERR_JS_CHAIN',
              `stream ${stream}: seq ${p.first} is already stored (msgID ${stream}:${p.first}); the shipper must HELLO again`,
            );
            for (const w of p.waiters) w.reject(dup);
            for (const q of chain.queued.splice(0)) for (const w of q.waiters) w.reject(dup);
            return;
          }
          chain.jsSeq = ack.seq;
          chain.lastSeq = p.last;
          for (const w of p.waiters) w.resolve();
          if (chain.queued.length > 0) this.send(stream, chain);
        },
        (err: Error) => {
          this.inflight--;
          chain.inflight = undefined;
          this.counters.failures++;
          chain.jsSeq = undefined; // unknown until the next HELLO looks it up
          const failure = new JetStreamSinkError(
            'LS_ERR_JS_PUBLISH',
            `publish to ${this.subject(stream)} failed: ${err.message}`,
            { cause: err },
          );
          this.opts.log.warn('JetStream publish failed: not ACKing this stream until its shipper says HELLO again', {
            stream,
            first: p.first,
            last: p.last,
            error: err.message,
          });
          for (const w of p.waiters) w.reject(failure);
          for (const q of chain.queued.splice(0)) for (const w of q.waiters) w.reject(failure);
        },
      );
  }

  /** Waits (bounded) for the publishes in flight, then closes the connection. */
  async close(deadlineMs = 3000): Promise<void> {
    const all = [...this.chains.values()].map((c) => this.settled(c));
    await Promise.race([Promise.all(all), new Promise((r) => setTimeout(r, deadlineMs).unref())]);
    this.closed = true;
    await this.nc.close().catch(() => {});
  }
}
