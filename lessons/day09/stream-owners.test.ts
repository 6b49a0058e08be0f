// Who may write a stream (issue 17): AckedIngest behind a real LspReceiver on loopback. The first identity
// to write a stream owns it; a HELLO or BATCH of another identity is refused (LS_ERR_STREAM_OWNED), a BATCH
// before its HELLO too (LS_ERR_HELLO_REQUIRED); the owner's records are untouched; the binding survives a
// restart; a data dir from before owners existed adopts its first writer.
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AckedIngestOptions } from './ingest.ts';
import { OWNERS_FILE, OwnersFile, OwnersFileError } from './stream-owners.ts';
import { SHELF_DIR } from './stream-shelf.ts';
import type { LspConnection } from '../../shared/lsp-receiver.ts';
import { encodeBatch } from '../../shared/protocol/batch.ts';
import { encodeHello } from '../../shared/protocol/frame.ts';
import { ReceiverStats } from '../../shared/stats.ts';
import { connectRaw, startIngest, type RawLspClient } from '../../tests/support/lsp-loopback.ts';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const rec = (i: number) => `{"ts":"2026-11-26T12:00:00.000Z","level":"info","msg":"m${i}"}`;
const records = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => rec(from + i));

async function tmpDir(): Promise<string> {
  const dir = await mkdtemp(join(os.tmpdir(), 'stream-owners-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

type Client = RawLspClient;

/** The ingest behind a receiver on loopback; connect() opens raw clients, all closed by stop(). */
async function start(dir: string, extra: Partial<AckedIngestOptions> = {}) {
  const rx = await startIngest({ dataDir: dir, ...extra });
  const clients: Client[] = [];
  const connect = async (): Promise<Client> => {
    const c = await connectRaw(rx.port);
    clients.push(c);
    return c;
  };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const c of clients) c.socket.destroy();
    await rx.stop();
  };
  cleanup.push(stop);
  return { stats: rx.stats, ingest: rx.ingest, connect, stop };
}

/** HELLO, then seqs from..to in one BATCH, each answered. */
async function write(c: Client, stream: number, name: string, from: number, to: number): Promise<void> {
  c.socket.write(encodeHello(stream, { name }));
  await c.until(() => c.acks(stream).length >= 1, `the ACK to HELLO(${stream})`);
  c.socket.write(encodeBatch({ stream, seq: from, records: records(from, to) }));
  await c.until(() => c.acks(stream).at(-1) === to, `ACK ${to} of stream ${stream}`);
}

async function refused(c: Client, code: string): Promise<void> {
  await c.until(() => c.nack() !== undefined, `a NACK ${code}`);
  expect(c.nack()?.code).toBe(code);
  await c.closed;
}

/** The seqs of `stream` in the records files, in file order. */
async function seqsOf(dir: string, stream: number): Promise<number[]> {
  const files = (await readdir(dir)).filter((f) => /^records-\d+\.ndjson$/.test(f)).sort();
  const text = (await Promise.all(files.map((f) => readFile(join(dir, f), 'utf8')))).join('');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { _rx: { stream: number; seq: number } })._rx)
    .filter((rx) => rx.stream === stream)
    .map((rx) => rx.seq);
}

/** The owner of `stream` as the data dir holds it on disk (a fresh reader of its owners shelf). */
async function ownerOnDisk(dir: string, stream: number): Promise<string | undefined> {
  return (await OwnersFile.open(dir)).lookup(stream);
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('who may write a stream (issue 17)', () => {
  it('a HELLO of another identity is refused (LS_ERR_STREAM_OWNED, counted); the owner carries on untouched', async () => {
    const dir = await tmpDir();
    const r = await start(dir);
    const alice = await r.connect();
    await write(alice, 777, 'alice', 1, 100);
    const mallory = await r.connect();
    // a HELLO then 900 seqs above alice's: the attack of issue 17
    mallory.socket.write(
      Buffer.concat([
        encodeHello(777, { name: 'mallory' }),
        encodeBatch({ stream: 777, seq: 101, records: records(101, 1000) }),
      ]),
    );
    await refused(mallory, 'LS_ERR_STREAM_OWNED');
    expect(mallory.acks(777)).toEqual([]);
    expect(r.ingest.ownership.refused.stream_owned).toBe(1);
    expect((r.stats.toJSON()['ownership'] as { refused: Record<string, number> }).refused).toEqual({
      stream_owned: 1,
      hello_required: 0,
    });
    // alice's next records are stored, not dropped as "duplicates"
    alice.socket.write(encodeBatch({ stream: 777, seq: 101, records: records(101, 200) }));
    await alice.until(() => alice.acks(777).at(-1) === 200, 'ACK 200');
    expect(r.stats.records.duplicates).toBe(0);
    expect(await seqsOf(dir, 777)).toEqual(range(1, 200));
  });

  it('a BATCH for a stream another identity owns is refused, even after a HELLO of its own stream', async () => {
    const dir = await tmpDir();
    const r = await start(dir);
    const alice = await r.connect();
    await write(alice, 777, 'alice', 1, 10);
    const mallory = await r.connect();
    await write(mallory, 778, 'mallory', 1, 5); // its own stream: fine
    mallory.socket.write(encodeBatch({ stream: 777, seq: 11, records: records(11, 50) }));
    await refused(mallory, 'LS_ERR_STREAM_OWNED');
    expect(r.ingest.ownership.refused.stream_owned).toBe(1);
    expect(await seqsOf(dir, 777)).toEqual(range(1, 10));
    expect(await seqsOf(dir, 778)).toEqual(range(1, 5));
  });

  it("a BATCH before its stream's HELLO is refused (LS_ERR_HELLO_REQUIRED), so every write has an identity", async () => {
    const dir = await tmpDir();
    const r = await start(dir);
    const c = await r.connect();
    c.socket.write(encodeBatch({ stream: 5, seq: 1, records: records(1, 3) }));
    await refused(c, 'LS_ERR_HELLO_REQUIRED');
    expect(r.ingest.ownership.refused.hello_required).toBe(1);
    // a HELLO of another stream does not cover it either
    const d = await r.connect();
    await write(d, 6, 'd', 1, 1);
    d.socket.write(encodeBatch({ stream: 5, seq: 1, records: records(1, 3) }));
    await refused(d, 'LS_ERR_HELLO_REQUIRED');
    expect(r.ingest.ownership.refused.hello_required).toBe(2);
    expect(await seqsOf(dir, 5)).toEqual([]);
    // a BATCH right behind its HELLO (one write) is fine: the HELLO binds at once, the ACKs wait for the binding on disk
    const e = await r.connect();
    e.socket.write(
      Buffer.concat([encodeHello(9, { name: 'e' }), encodeBatch({ stream: 9, seq: 1, records: records(1, 4) })]),
    );
    await e.until(() => e.acks(9).at(-1) === 4, 'ACK 4 of a pipelined HELLO + BATCH');
    expect(e.acks(9)[0]).toBe(0);
    expect(await ownerOnDisk(dir, 9)).toBe('name:e');
  });

  it('the binding is on disk before the first ACK and survives a restart', async () => {
    const dir = await tmpDir();
    const a = await start(dir);
    const alice = await a.connect();
    alice.socket.write(encodeHello(777, { name: 'alice' }));
    await alice.until(() => alice.acks(777).length === 1, 'the ACK to HELLO');
    // the HELLO's answer is the stream's first ACK: the owners shelf already names alice
    expect(await ownerOnDisk(dir, 777)).toBe('name:alice');
    alice.socket.write(encodeBatch({ stream: 777, seq: 1, records: records(1, 50) }));
    await alice.until(() => alice.acks(777).at(-1) === 50, 'ACK 50');
    await a.stop();

    const b = await start(dir);
    expect(b.ingest.ownership.streams).toBe(1);
    const mallory = await b.connect();
    mallory.socket.write(encodeHello(777, { name: 'mallory' }));
    await refused(mallory, 'LS_ERR_STREAM_OWNED');
    const again = await b.connect();
    again.socket.write(encodeHello(777, { name: 'alice' }));
    await again.until(() => again.acks(777).length === 1, "the ACK to alice's HELLO");
    expect(again.acks(777)).toEqual([50]);
    again.socket.write(encodeBatch({ stream: 777, seq: 51, records: records(51, 60) }));
    await again.until(() => again.acks(777).at(-1) === 60, 'ACK 60');
    expect(await seqsOf(dir, 777)).toEqual(range(1, 60));
  });

  it('a data dir from before owners existed keeps working: the first writer after the upgrade owns each stream', async () => {
    const dir = await tmpDir();
    const a = await start(dir);
    const old = await a.connect();
    await write(old, 42, 'old-shipper', 1, 30);
    await a.stop();
    await rm(join(dir, SHELF_DIR), { recursive: true }); // as written by a receiver without owners

    const b = await start(dir);
    expect(b.ingest.ownership.streams).toBe(0);
    const bob = await b.connect();
    bob.socket.write(encodeHello(42, { name: 'bob' }));
    await bob.until(() => bob.acks(42).length === 1, "the ACK to bob's HELLO");
    expect(bob.acks(42)).toEqual([30]); // the marks are as before
    const carol = await b.connect();
    carol.socket.write(encodeHello(42, { name: 'carol' }));
    await refused(carol, 'LS_ERR_STREAM_OWNED');
    expect(await ownerOnDisk(dir, 42)).toBe('name:bob');
  });

  it('with an identityOf hook (day 13 --mtls) the verified identity owns the stream, whatever name a HELLO claims', async () => {
    const dir = await tmpDir();
    // (day 13 reads the verified certificate of the connection's TLS socket; here: by the client's port)
    const byPort = new Map<number, string>();
    const identityOf = (conn: LspConnection) => byPort.get(conn.socket.remotePort ?? 0);
    const r = await start(dir, { identityOf });
    const alice = await r.connect();
    byPort.set(alice.socket.localPort!, 'CN=alice');
    await write(alice, 777, 'shipper', 1, 10);
    const mallory = await r.connect();
    byPort.set(mallory.socket.localPort!, 'CN=mallory');
    mallory.socket.write(encodeHello(777, { name: 'shipper' })); // the same name: not the same identity
    await refused(mallory, 'LS_ERR_STREAM_OWNED');
    expect(await ownerOnDisk(dir, 777)).toBe('cert:CN=alice');
  });

  it('owners of the earlier format (stream-owners.json) move onto the shelf at open; the file goes', async () => {
    const dir = await tmpDir();
    const since = '2026-11-01T00:00:00.000Z';
    await writeFile(
      join(dir, OWNERS_FILE),
      JSON.stringify({ version: 1, owners: { '5': { owner: 'name:a', since }, '6': { owner: 'cert:CN=b', since } } }),
    );
    const r = await start(dir);
    expect(r.ingest.ownership.streams).toBe(2);
    await expect(readFile(join(dir, OWNERS_FILE))).rejects.toMatchObject({ code: 'ENOENT' });
    const m = await r.connect();
    m.socket.write(encodeHello(5, { name: 'mallory' }));
    await refused(m, 'LS_ERR_STREAM_OWNED');
    expect(await ownerOnDisk(dir, 6)).toBe('cert:CN=b');
  });

  it('with a bound on owners in memory (issue 18.5) the others are read back from disk: a forgotten owner still refuses', async () => {
    const dir = await tmpDir();
    const r = await start(dir, { maxStreams: 2 });
    const a = await r.connect();
    for (let s = 1; s <= 10; s++) await write(a, s, 'alice', 1, 1);
    expect(r.ingest.ownership.streams).toBe(10);
    expect(r.ingest.owners.ownerOf(1)).toBeUndefined(); // not in memory any more…
    const m = await r.connect();
    m.socket.write(encodeHello(1, { name: 'mallory' }));
    await refused(m, 'LS_ERR_STREAM_OWNED'); // …but on disk
    const b = await r.connect();
    await write(b, 1, 'alice', 2, 3);
    expect(await seqsOf(dir, 1)).toEqual([1, 2, 3]);
  });

  it('a damaged owners file stops the receiver from starting instead of giving streams away', async () => {
    const dir = await tmpDir();
    await writeFile(join(dir, OWNERS_FILE), '{"version":1,"owners":');
    await expect(OwnersFile.open(dir)).rejects.toBeInstanceOf(OwnersFileError);
  });
});

describe('a bound on tracked streams (issue 18.5): idle streams evicted, their marks read back from disk', () => {
  const tracking = (r: { stats: ReceiverStats }) =>
    r.stats.extra.tracking as { streams: number; evicted: number; restored: number };
  /** a connection that writes `stream` and closes, so the stream is idle again */
  const writeAndLeave = async (r: Awaited<ReturnType<typeof start>>, stream: number, from: number, to: number) => {
    const c = await r.connect();
    await write(c, stream, 'alice', from, to);
    c.socket.destroy();
    await c.closed;
  };

  it('an evicted stream answers its HELLO with its mark, and a resend of its old seqs is still dropped as duplicates', async () => {
    const dir = await tmpDir();
    const r = await start(dir, { maxStreams: 2 });
    await writeAndLeave(r, 1, 1, 50);
    for (const s of [2, 3, 4]) await writeAndLeave(r, s, 1, 5);
    expect(tracking(r).evicted).toBeGreaterThanOrEqual(2);
    expect(tracking(r).streams).toBeLessThanOrEqual(2);
    expect(r.stats.streams['1']).toBeUndefined(); // its stats.json entry went with it

    const c = await r.connect();
    c.socket.write(encodeHello(1, { name: 'alice' }));
    await c.until(() => c.acks(1).length === 1, 'the ACK to HELLO(1)');
    expect(c.acks(1)).toEqual([50]); // read back from disk, not 0
    expect(tracking(r).restored).toBe(1);
    const dupsBefore = r.stats.records.duplicates;
    c.socket.write(encodeBatch({ stream: 1, seq: 1, records: records(1, 60) })); // a shipper resending from 1
    await c.until(() => c.acks(1).at(-1) === 60, 'ACK 60');
    expect(r.stats.records.duplicates - dupsBefore).toBe(50);
    expect(await seqsOf(dir, 1)).toEqual(range(1, 60)); // exactly once
  });

  it('a stream evicted before the last checkpoint keeps its mark across a restart', async () => {
    const dir = await tmpDir();
    const a = await start(dir, { maxStreams: 2, checkpointIntervalMs: 10 });
    await writeAndLeave(a, 1, 1, 40);
    for (const s of [2, 3, 4, 5]) await writeAndLeave(a, s, 1, 3);
    expect(tracking(a).evicted).toBeGreaterThanOrEqual(3);
    await a.stop(); // its last checkpoint holds only the streams in memory
    const cp = JSON.parse(await readFile(join(dir, 'hwm-checkpoint.json'), 'utf8')) as { streams: object };
    expect(Object.keys(cp.streams)).not.toContain('1');

    const b = await start(dir, { maxStreams: 2 });
    const c = await b.connect();
    c.socket.write(encodeHello(1, { name: 'alice' }));
    await c.until(() => c.acks(1).length === 1, 'the ACK to HELLO(1) after the restart');
    expect(c.acks(1)).toEqual([40]);
    c.socket.write(encodeBatch({ stream: 1, seq: 31, records: records(31, 45) }));
    await c.until(() => c.acks(1).at(-1) === 45, 'ACK 45');
    expect(await seqsOf(dir, 1)).toEqual(range(1, 45));
  });
});
