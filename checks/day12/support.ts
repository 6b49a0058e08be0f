// What several of day12's checks use (split out of checks/day12.ts, issue 22).
import { RecordGenerator } from '../../shared/generate.ts';
import { encodeBatch } from '../../shared/protocol/batch.ts';
import { CODECS, type Codec } from '../../shared/protocol/codecs.ts';
import { encodeHello } from '../../shared/protocol/frame.ts';
import { expectEqual, expectTrue, fail, show } from '../harness/assert.ts';
import { readStats, type PersistedRecord, type Stats } from '../harness/persisted.ts';
import { tail } from '../harness/process.ts';
import { randInt } from '../harness/rng.ts';
import type { TcpClient } from '../harness/tcp.ts';
import type { CheckContext, RunningProgram } from '../harness/types.ts';
import { startReceiver as startKitReceiver } from '../harness/kit/programs.ts';
import { waitStat } from '../day09/support.ts';
import { sleep } from '../harness/kit/records.ts';
import { expectNackThenClose, expectSeqsOnce, recordsByStream, streamId, waitAck } from '../harness/kit/lsp.ts';

export type Json = Record<string, unknown>;

export const MiB = 1 << 20;

/** The codecs this machine can run (the receiver runs here too); the others are skipped, with a note. */
export function availableCodecs(ctx: CheckContext): Codec[] {
  const out: Codec[] = [];
  for (const c of CODECS.values()) {
    const a = c.availability();
    if (a.ok) out.push(c);
    else ctx.log(`codec ${c.name} skipped: ${a.reason}`);
  }
  return out;
}

/**
 * `n` seeded records (~200 B, the course's generator), every 97th one with non-ASCII text so a codec or a
 * stamp that is not byte-exact shows. Each ends in `}`: persisted lines are the record + `,"_rx":{…}}`.
 */
export function corpus(ctx: CheckContext, n: number, prefix: string): string[] {
  const gen = new RecordGenerator({
    seed: randInt(ctx.rng, 1, 2 ** 31 - 1),
    idPrefix: prefix,
    baseTimeMs: Date.UTC(2026, 10, 26),
  });
  const out = gen.take(n);
  for (let i = 96; i < n; i += 97) {
    out[i] =
      `{"ts":"2026-11-26T14:13:48.123Z","level":"warn","msg":"café ☕ 日本語 — ünïcödé ${i}","service":"checks","attrs":{"id":"${prefix}-${i + 1}","emoji":"🗜️"}}`;
  }
  return out;
}

/** Every persisted record, grouped by `_rx.stream` (fails on lines that are not JSON objects). */
export const byStream = (dataDir: string) =>
  recordsByStream(dataDir, 'persist each decoded record + _rx, one per line');

/** Records of `stream` as persisted. */
export async function recordsOf(dataDir: string, stream: number): Promise<PersistedRecord[]> {
  return (await byStream(dataDir)).get(String(stream)) ?? [];
}

/**
 * Every record of `sent` persisted exactly once, in order, at seq i + 1, byte for byte: the persisted line
 * is the record as sent with `,"_rx":{…}` spliced in before its closing brace.
 */
export async function expectPersisted(
  dataDir: string,
  stream: number,
  sent: readonly string[],
  hint: string,
  what = `stream ${stream}`,
  all?: Map<string, PersistedRecord[]>,
): Promise<void> {
  const records = all ? (all.get(String(stream)) ?? []) : await recordsOf(dataDir, stream);
  expectSeqsOnce(records, { stream, n: sent.length, where: dataDir, hint, what });
  for (const p of records) {
    const seq = (p.record['_rx'] as Json)['seq'] as number;
    const want = sent[seq - 1]!;
    const body = want.slice(0, -1);
    if (!(p.raw.startsWith(body) && p.raw.startsWith(',"_rx":', body.length))) {
      let k = 0;
      while (k < body.length && p.raw[k] === body[k]) k++;
      fail({
        expected: `the record at seq ${seq} of ${what} persisted byte for byte as sent (+ _rx): ${show(want, 300)}`,
        received: `${show(p.raw, 300)} (first difference at character ${k})`,
        where: `${p.file} line ${p.lineNo}`,
        hint,
      });
    }
  }
}

export { framesFrom, streamId, waitAck } from '../harness/kit/lsp.ts';

/** A fresh connection with a HELLO for `stream`, answered. */
export async function hello(ctx: CheckContext, rx: RunningProgram, stream: number, name: string): Promise<TcpClient> {
  const c = await ctx.connect(rx.host, rx.port);
  await c.write(encodeHello(stream, { name }));
  await waitAck(c, stream, 0, 5000, 'answer a HELLO with an ACK');
  return c;
}

/** Sends `bytes` on a fresh connection and waits for the NACK that must follow, then for the close. */
export async function expectNack(
  ctx: CheckContext,
  rx: RunningProgram,
  stream: number,
  bytes: Buffer,
  want: string,
  what: string,
  hint: string,
  timeoutMs = 5000,
): Promise<void> {
  const c = await hello(ctx, rx, stream, `check-day12-${want}`);
  await c.write(bytes).catch(() => undefined); // the receiver may close before all of it is written
  await expectNackThenClose(c, { code: want, what, hint, timeoutMs, rx });
  ctx.log(`${what}: NACK ${want}, connection closed`);
}

/** Batches a good client keeps sending while bad ones come and go: stops on stop(); all must be ACKed. */
export function goodTraffic(ctx: CheckContext, c: TcpClient, stream: number, codec: number) {
  const sent: string[] = [];
  let stopped = false;
  const records = corpus(ctx, 20_000, `good${stream}`);
  const done = (async () => {
    while (!stopped && sent.length < records.length) {
      const n = Math.min(records.length - sent.length, randInt(ctx.rng, 1, 60));
      const batch = records.slice(sent.length, sent.length + n);
      await c.write(encodeBatch({ stream, seq: sent.length + 1, records: batch, codec }));
      sent.push(...batch);
      await sleep(5); // traffic shaping only: a steady trickle while the bad frames go in
    }
  })().then(
    () => undefined,
    (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
  );
  return {
    sent,
    async stop(): Promise<void> {
      stopped = true;
      const err = await done;
      if (err) throw err;
    },
  };
}

/** Nothing of `stream` persisted: a refused batch leaves no record. */
export async function expectNothingFrom(dataDir: string, stream: number, what: string): Promise<void> {
  const leaked = await recordsOf(dataDir, stream);
  expectTrue(leaked.length === 0, {
    expected: `nothing persisted from ${what}`,
    received: `${leaked.length} records`,
    where: dataDir,
  });
}

/**
 * Stops the good client's `traffic` (goodTraffic) on `c` and checks it came through whatever the bad ones did: the
 * receiver still runs, every batch is ACKed and persisted as sent. `who` names the client, `despite` the bad input.
 */
export async function expectGoodTrafficThrough(
  rx: RunningProgram,
  c: TcpClient,
  stream: number,
  traffic: ReturnType<typeof goodTraffic>,
  dataDir: string,
  words: { who: string; despite: string },
): Promise<void> {
  await traffic.stop();
  expectTrue(!rx.exited, {
    expected: `the receiver still running after ${words.despite}`,
    received: `it exited; stderr tail:\n${tail(rx.stderrText(), 5, 10)}`,
    where: `receiver pid ${rx.pid}`,
    hint: 'bad input never stops a server',
  });
  await waitAck(c, stream, traffic.sent.length, 10_000, `${words.who}'s batches are all ACKed`);
  await expectPersisted(
    dataDir,
    stream,
    traffic.sent,
    `${words.who}'s records are all persisted, whatever ${words.despite} did`,
  );
}

/** A good client on a stream of its own, sending goodTraffic (gzip) from the start; `through` ends it and checks it. */
export async function goodClient(ctx: CheckContext, rx: RunningProgram, name: string) {
  const stream = streamId(ctx.rng);
  const c = await hello(ctx, rx, stream, name);
  const traffic = goodTraffic(ctx, c, stream, 1);
  return {
    c,
    through: (dataDir: string, words: { who: string; despite: string }) =>
      expectGoodTrafficThrough(rx, c, stream, traffic, dataDir, words),
  };
}

/** The receiver on an OS-picked port with its own data dir; stats every 100 ms. */
export const startReceiver = (ctx: CheckContext, extra: string[] = []) => startKitReceiver(ctx, { extra });

export { withProxy } from '../day09/support.ts';

/** Runs the shipper to its end; fails unless it exits 0 with a done line acknowledging `n` records. */
export async function ship(ctx: CheckContext, target: string, args: string[], n: number, hint: string): Promise<Json> {
  const full = ['--target', target, '--state-dir', await ctx.tmp(), '--progress-ms', '0', ...args];
  const cmd = `shipper.ts ${full.join(' ')}`;
  const r = await ctx.run('shipper', full, { timeoutMs: 30_000 });
  if (r.timedOut)
    fail({
      expected: `\`${cmd}\` to finish`,
      received: `still running after ${r.ms} ms; stderr tail:\n${tail(r.stderr, 5, 10)}`,
      where: cmd,
      hint,
    });
  const done = r.json.find((j) => j['event'] === 'done');
  expectTrue(r.exitCode === 0 && done !== undefined, {
    expected: `\`${cmd}\` to exit 0 with a done line`,
    received: `exit code ${r.exitCode}; done ${show(done ?? '(none)', 300)}; stderr tail:\n${tail(r.stderr, 5, 10) || '(empty)'}`,
    where: cmd,
    hint,
  });
  expectEqual(done['acked'], n, { what: 'done line "acked"', where: `${cmd}: ${show(done, 300)}`, hint });
  return done;
}

/**
 * Waits until stats.json shows each of `wants` ([dotted key, test, what it should be]: day 09's waitStat, one after
 * the other), then returns the stats.json that shows them all.
 */
export async function waitStats(
  dataDir: string,
  wants: Array<[string, (v: number | undefined) => boolean, string]>,
  timeoutMs: number,
  hint: string,
): Promise<Stats> {
  for (const [dotted, pred, want] of wants) await waitStat(dataDir, dotted, pred, want, timeoutMs, hint);
  const stats = await readStats(dataDir);
  if (!stats) fail({ expected: 'stats.json to stay', received: 'it is gone', where: dataDir, hint });
  return stats;
}
