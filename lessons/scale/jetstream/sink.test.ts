// JetStreamSink against a real nats-server (one node, JetStream on, random ports): the chain, coalescing,
// the cluster-wide mark a HELLO answers, msgID dedup, and "a failed publish is never reported stored".
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLog } from '../../../shared/log.ts';
import { NatsCluster } from './cluster.ts';
import { HDR_FIRST, HDR_LAST, HDR_STREAM, JetStreamSink, JetStreamSinkError } from './sink.ts';
import { needPeers } from '../../../tests/support/peers.ts';
import { encodeBatch } from '../../../shared/protocol/batch.ts';
import { encodeHello } from '../../../shared/protocol/frame.ts';
import { connectRaw, startIngest } from '../../../tests/support/lsp-loopback.ts';

// No nats-server: skipped outside CI, with the command that installs it (tests/support/peers.ts).
const nats = needPeers('nats-server');

const log = createLog('test');
let dir: string;
let cluster: NatsCluster;
let n = 0;

beforeAll(async () => {
  if (nats.skip) return;
  nats.assert();
  dir = await mkdtemp(path.join(os.tmpdir(), 'js-sink-'));
  cluster = new NatsCluster({ size: 1, dir, baseHttpPort: -1 });
  await cluster.start(20_000);
}, 30_000);

afterAll(async () => {
  await cluster?.stop(500);
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The sink options of test stream T<k> (each test takes a fresh k: its own stream and subjects). */
const topology = (k: number) => ({
  servers: cluster.urls,
  stream: `T${k}`,
  subjectPrefix: `t${k}.logs`,
  replicas: 1,
  duplicateWindowMs: 60_000,
  log,
});
/** A sink on a fresh stream. */
const open = (opts: { publishTimeoutMs?: number } = {}) => JetStreamSink.open({ ...topology(++n), ...opts });
/** Another receiver's sink on the stream the last open() made. */
const openAnother = () => JetStreamSink.open(topology(n));
const lines = (first: number, count: number) =>
  Buffer.from(Array.from({ length: count }, (_, i) => `{"seq":${first + i}}\n`).join(''));

describe.skipIf(nats.skip)('JetStreamSink', () => {
  it('stores a stream in order, coalesces what queues behind a message in flight, and answers the mark', async () => {
    const sink = await open();
    try {
      expect(await sink.durableMark(7)).toBe(0);
      const all: Promise<void>[] = [];
      for (let b = 0; b < 50; b++) all.push(sink.publish(7, lines(b * 10 + 1, 10), b * 10 + 1, b * 10 + 10));
      await Promise.all(all);
      expect(sink.counters.messages).toBeGreaterThan(0);
      expect(sink.counters.messages).toBeLessThan(50); // batches queued behind the one in flight went together
      expect(await sink.durableMark(7)).toBe(500);
      const last = await sink.jsm.streams.getMessage(`T${n}`, { last_by_subj: sink.subject(7) });
      expect(last?.header?.get(HDR_STREAM)).toBe('7');
      expect(Number(last?.header?.get(HDR_LAST))).toBe(500);
      expect(Number(last?.header?.get(HDR_FIRST))).toBeLessThanOrEqual(500);
      expect((await sink.jsm.streams.info(`T${n}`)).state.messages).toBe(sink.counters.messages);
    } finally {
      await sink.close();
    }
  });

  it('another receiver sees the same mark, and a receiver that chained on a stale mark is refused', async () => {
    const a = await open();
    const b = await openAnother();
    try {
      expect(await a.durableMark(1)).toBe(0);
      expect(await b.durableMark(1)).toBe(0);
      await a.publish(1, lines(1, 5), 1, 5);
      // b resends what a stored (a failover before a's ACK): same msgID, so JetStream drops it as a duplicate,
      // and b reports it NOT stored by b (its end is not b's to know): the shipper HELLOs again
      const dup = await b.publish(1, lines(1, 7), 1, 7).catch((e: unknown) => e);
      expect((dup as JetStreamSinkError).code).toBe('LS_ERR_JS_CHAIN');
      expect(b.counters.duplicates).toBe(1);
      expect((await a.jsm.streams.info(`T${n}`)).state.messages).toBe(1);
      expect(await b.durableMark(1)).toBe(5);
      // a stores more; b, chained on a's first message, is refused — and refuses until its next HELLO
      await a.publish(1, lines(6, 5), 6, 10);
      const err = await b.publish(1, lines(11, 5), 11, 15).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(JetStreamSinkError);
      expect((err as JetStreamSinkError).code).toBe('LS_ERR_JS_PUBLISH');
      const again = await b.publish(1, lines(16, 5), 16, 20).catch((e: unknown) => e);
      expect((again as JetStreamSinkError).code).toBe('LS_ERR_JS_CHAIN');
      expect(await b.durableMark(1)).toBe(10); // what a HELLO to b answers now: a's records count
      await b.publish(1, lines(11, 5), 11, 15);
      expect(await a.durableMark(1)).toBe(15);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a message published twice with the same msgID is stored once (duplicate window)', async () => {
    const sink = await open();
    try {
      await sink.durableMark(3);
      const h = (await import('@nats-io/transport-node')).headers();
      h.set(HDR_STREAM, '3');
      h.set(HDR_FIRST, '1');
      h.set(HDR_LAST, '2');
      const first = await sink.js.publish(sink.subject(3), lines(1, 2), { msgID: '3:1', headers: h });
      const second = await sink.js.publish(sink.subject(3), lines(1, 2), { msgID: '3:1', headers: h });
      expect(first.duplicate).toBe(false);
      expect(second.duplicate).toBe(true);
      expect(second.seq).toBe(first.seq);
    } finally {
      await sink.close();
    }
  });

  it('owners live in the cluster: the first identity binds a stream, every receiver answers it, a race has one winner (issue 17)', async () => {
    const a = await open();
    const b = await openAnother();
    try {
      expect(await a.bindOwner(777, 'cert:CN=alice')).toBe('cert:CN=alice');
      expect(await b.bindOwner(777, 'cert:CN=mallory')).toBe('cert:CN=alice'); // another receiver, the same owner
      expect(await a.bindOwner(777, 'cert:CN=alice')).toBe('cert:CN=alice');
      const [x, y] = await Promise.all([a.bindOwner(778, 'name:x'), b.bindOwner(778, 'name:y')]);
      expect(x).toBe(y);
      expect(['name:x', 'name:y']).toContain(x);
      // the owners stream is not the records' stream: the archiver and the marks never see it
      expect((await a.jsm.streams.info(`T${n}`)).state.messages).toBe(0);
      expect((await a.jsm.streams.info(`T${n}_OWNERS`)).state.messages).toBe(2);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('two receivers in front of one cluster refuse the same writers: a stream bound on one is owned on the other (issue 17)', async () => {
    const topo = topology(++n);
    const stops: Array<() => Promise<void>> = [];
    const receiver = async (name: string) => {
      const sink = await JetStreamSink.open(topo);
      const rx = await startIngest({ dataDir: path.join(dir, `${name}-${n}`), lane: name, log, store: sink });
      stops.push(rx.stop);
      return rx;
    };
    const client = async (port: number) => {
      const c = await connectRaw(port);
      stops.push(() => Promise.resolve(void c.socket.destroy()));
      return c;
    };
    try {
      const a = await receiver('ra');
      const b = await receiver('rb');
      const alice = await client(a.port);
      alice.socket.write(encodeHello(777, { name: 'alice' }));
      await expect.poll(() => alice.acks().length, { timeout: 5000 }).toBe(1);
      alice.socket.write(
        encodeBatch({ stream: 777, seq: 1, records: ['{"ts":"2026-11-26T12:00:00.000Z","level":"info","msg":"a"}'] }),
      );
      await expect.poll(() => alice.acks().at(-1), { timeout: 5000 }).toBe(1);
      const mallory = await client(b.port); // the other receiver: it asks the cluster
      mallory.socket.write(encodeHello(777, { name: 'mallory' }));
      await mallory.closed;
      expect(mallory.nack()?.code).toBe('LS_ERR_STREAM_OWNED');
      expect(b.ingest.ownership.refused.stream_owned).toBe(1);
      // here a BATCH waits for its HELLO's answer: one right behind it is refused
      const hasty = await client(b.port);
      hasty.socket.write(
        Buffer.concat([
          encodeHello(778, { name: 'hasty' }),
          encodeBatch({ stream: 778, seq: 1, records: ['{"ts":"2026-11-26T12:00:00.000Z","level":"info","msg":"h"}'] }),
        ]),
      );
      await hasty.closed;
      expect(hasty.nack()?.code).toBe('LS_ERR_HELLO_REQUIRED');
      // alice on the other receiver: the same owner, the cluster's mark
      const again = await client(b.port);
      again.socket.write(encodeHello(777, { name: 'alice' }));
      await expect.poll(() => again.acks()[0], { timeout: 5000 }).toBe(1);
    } finally {
      for (const s of stops.reverse()) await s();
    }
  });

  it('with the server gone a publish fails (never resolves as stored), and the next HELLO cannot be answered', async () => {
    const sink = await open({ publishTimeoutMs: 300 });
    try {
      await sink.durableMark(9);
      await sink.publish(9, lines(1, 3), 1, 3);
      await cluster.kill(0, 'SIGKILL');
      const err = await sink.publish(9, lines(4, 3), 4, 6).catch((e: unknown) => e);
      expect((err as JetStreamSinkError).code).toBe('LS_ERR_JS_PUBLISH');
      const hello = await sink.durableMark(9).catch((e: unknown) => e);
      expect((hello as JetStreamSinkError).code).toBe('LS_ERR_JS_LOOKUP');
      cluster.startNode(0);
      await cluster.waitReady(20_000);
      // back: the mark is what was stored before the outage
      await expect.poll(() => sink.durableMark(9).catch(() => -1), { timeout: 20_000, interval: 300 }).toBe(3);
    } finally {
      await sink.close(500);
    }
  }, 60_000);
});
