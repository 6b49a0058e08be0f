// Graded checks for day 12: compression (shared/protocol/README.md §3 header byte 4, §6 decoded-size limit, §7 files at rest).
// Every codec round-trips records byte for byte, compressed batches really carry fewer bytes (counted by a
// FaultProxy, not by the programs' own word), tiny batches are never made bigger, a decompression bomb is
// stopped at the limit with bounded memory, a corrupt payload or a codec the receiver does not take is a
// clear NACK, and rotated files compressed at rest hold every record once.
// Black-box: programs are driven through the process contract (COURSE.md); frames are built with
// shared/protocol (encodeBatch + the codec table), bytes are counted by shared/fault-proxy.ts.
// The learner's TODOs (lessons/day12/README.md, "Your TODOs"): shipper.ts compressBatch (compress when it
// pays: d12.3, d12.4, d12.5), bounded-decode.ts decompressBounded (stop at the limit: d12.6), receiver.ts
// decodePayload (the codecs taken: d12.8; what each costs and saves: d12.2) and the sink's rest
// compression (d12.9); the hints below name them.
// Given, 0 points: d12.1 (the process contract: flags, --help, the ready line come with the lesson) and
// d12.7 (a payload that does not decompress is LS_ERR_DECODE: the codec table says so, and day 09's
// connection machinery turns it into a NACK).
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { FaultProxy } from '../shared/fault-proxy.ts';
import { RecordGenerator } from '../shared/generate.ts';
import { encodeBatch, encodeBatchPayload } from '../shared/protocol/batch.ts';
import { CODECS, type Codec } from '../shared/protocol/codecs.ts';
import { encodeFrame, encodeHello, FrameDecoder, FrameType, parseNack, type Frame } from '../shared/protocol/frame.ts';
import { expectEqual, expectTrue, fail, failNow, show, waitFor, waitUntil } from './harness/assert.ts';
import {
  formatRanges,
  readRecords,
  readStats,
  statNumber,
  verifySeqs,
  type PersistedRecord,
  type Stats,
} from './harness/persisted.ts';
import { tail } from './harness/process.ts';
import { randInt } from './harness/rng.ts';
import type { TcpClient } from './harness/tcp.ts';
import type { Check, CheckContext, RunningProgram, RunResult } from './harness/types.ts';

export const lesson = 'day12';

type Json = Record<string, unknown>;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const at = (port: number) => `127.0.0.1:${port}`;
const MiB = 1 << 20;

/** The codecs this machine can run (the receiver runs here too); the others are skipped, with a note. */
function availableCodecs(ctx: CheckContext): Codec[] {
  const out: Codec[] = [];
  for (const c of CODECS.values()) {
    const a = c.availability();
    if (a.ok) out.push(c);
    else ctx.log(`codec ${c.name} skipped: ${a.reason}`);
  }
  return out;
}

// ---- records ------------------------------------------------------------------------------------

/**
 * `n` seeded records (~200 B, the course's generator), every 97th one with non-ASCII text so a codec or a
 * stamp that is not byte-exact shows. Each ends in `}`: persisted lines are the record + `,"_rx":{…}}`.
 */
function corpus(ctx: CheckContext, n: number, prefix: string): string[] {
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
async function byStream(dataDir: string): Promise<Map<string, PersistedRecord[]>> {
  const read = await readRecords(dataDir);
  if (read.invalid.length > 0) {
    const bad = read.invalid[0]!;
    fail({
      expected: 'every complete line of the records files to be a JSON record',
      received: `${read.invalid.length} bad lines; first: ${show(bad.text.slice(0, 120))} (${bad.problem})`,
      where: `${bad.file} line ${bad.lineNo}`,
      hint: 'persist each decoded record + _rx, one per line',
    });
  }
  const out = new Map<string, PersistedRecord[]>();
  for (const p of read.records) {
    const key = String((p.record['_rx'] as Json | undefined)?.['stream']);
    let list = out.get(key);
    if (!list) out.set(key, (list = []));
    list.push(p);
  }
  return out;
}

/** Records of `stream` as persisted. */
async function recordsOf(dataDir: string, stream: number): Promise<PersistedRecord[]> {
  return (await byStream(dataDir)).get(String(stream)) ?? [];
}

/**
 * Every record of `sent` persisted exactly once, in order, at seq i + 1, byte for byte: the persisted line
 * is the record as sent with `,"_rx":{…}` spliced in before its closing brace.
 */
async function expectPersisted(
  dataDir: string,
  stream: number,
  sent: readonly string[],
  hint: string,
  what = `stream ${stream}`,
  all?: Map<string, PersistedRecord[]>,
): Promise<void> {
  const records = all ? (all.get(String(stream)) ?? []) : await recordsOf(dataDir, stream);
  const r = verifySeqs(records, { stream });
  const n = sent.length;
  const problems: string[] = [];
  if (r.lost.length) problems.push(`${r.lost.length} lost (seqs ${formatRanges(r.lost)})`);
  if (r.duplicated.length) problems.push(`${r.duplicated.length} duplicated (seqs ${formatRanges(r.duplicated)})`);
  if (r.reordered) problems.push(`${r.reordered} out of order`);
  if (r.maxSeq !== n) problems.push(`highest seq ${r.maxSeq}`);
  if (r.count !== n) problems.push(`${r.count} records in all`);
  if (problems.length)
    fail({
      expected: `seqs 1..${n} of ${what}, each persisted exactly once, in order`,
      received: problems.join('; '),
      where: dataDir,
      hint,
    });
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

// ---- frames on raw connections ------------------------------------------------------------------

/** A stream id for the check's own frames: a seeded u32, never 0. */
const streamId = (ctx: CheckContext) => 1 + Math.floor(ctx.rng() * 0xffff_fffe);

function framesFrom(c: TcpClient): Frame[] {
  try {
    return new FrameDecoder({ maxPayloadBytes: MiB }).push(Buffer.from(c.received()));
  } catch (err) {
    failNow({
      expected: 'the receiver to send well-formed LSP/1 frames',
      received: `${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message}`,
      where: `bytes received on the connection from ${c.localPeer}`,
      hint: 'answer with encodeAck / encodeNack (shared/protocol)',
    });
  }
}

async function waitAck(c: TcpClient, stream: number, want: number, timeoutMs: number, hint: string): Promise<void> {
  let acks: number[] = [];
  await waitUntil(
    () => {
      const frames = framesFrom(c);
      const nack = frames.find((f) => f.type === FrameType.NACK);
      if (nack)
        failNow({
          expected: `an ACK of stream ${stream} with seq ${want}`,
          received: `a NACK ${show(nack.payload.toString('utf8'))}`,
          where: `connection from ${c.localPeer}`,
          hint,
        });
      acks = frames.filter((f) => f.type === FrameType.ACK && f.stream === stream).map((f) => f.seq);
      return acks.some((s) => s >= want);
    },
    {
      timeoutMs,
      what: `an ACK of stream ${stream} with seq ${want}`,
      where: `connection from ${c.localPeer}`,
      hint,
      received: () =>
        acks.length
          ? `ACK seqs ${show(acks.slice(-10))}`
          : `no ACK${c.destroyed || c.peerEnded ? ' (the receiver closed the connection)' : ''}`,
    },
  );
}

/** A fresh connection with a HELLO for `stream`, answered. */
async function hello(ctx: CheckContext, rx: RunningProgram, stream: number, name: string): Promise<TcpClient> {
  const c = await ctx.connect(rx.host, rx.port);
  await c.write(encodeHello(stream, { name }));
  await waitAck(c, stream, 0, 5000, 'answer a HELLO with an ACK');
  return c;
}

/** Sends `bytes` on a fresh connection and waits for the NACK that must follow, then for the close. */
async function expectNack(
  ctx: CheckContext,
  rx: RunningProgram,
  stream: number,
  bytes: Buffer,
  want: string,
  what: string,
  hint: string,
  timeoutMs = 5000,
): Promise<void> {
  const c = await hello(ctx, rx, stream, `check-${lesson}-${want}`);
  await c.write(bytes).catch(() => undefined); // the receiver may close before all of it is written
  const nack = await waitUntil(
    () => {
      const f = framesFrom(c).find((x) => x.type === FrameType.NACK);
      if (!f && c.closedState)
        failNow({
          expected: `a NACK {"code":"${want}"} before the close (${what})`,
          received: 'the connection closed without a NACK',
          where: `connection from ${c.localPeer}`,
          hint,
        });
      if (!f && rx.exited)
        failNow({
          expected: `a NACK {"code":"${want}"} (${what})`,
          received: `the receiver exited; stderr tail:\n${tail(rx.stderrText(), 5, 10)}`,
          where: `receiver pid ${rx.pid}`,
          hint: 'bad input never stops a server (CONVENTIONS.md §2)',
        });
      return f;
    },
    {
      timeoutMs,
      what: `a NACK after ${what}`,
      where: `connection from ${c.localPeer}`,
      hint,
      received: () =>
        `frames received: ${show(framesFrom(c).map((f) => FrameType[f.type]))}${c.closedState ? ' (connection closed)' : ''}`,
    },
  );
  let code: string;
  try {
    code = parseNack(nack).code;
  } catch (err) {
    fail({
      expected: 'a NACK payload {"code": "LS_ERR_…", "message": "…"}',
      received: `${show(nack.payload.toString('utf8'))} (${(err as Error).message})`,
      where: `connection from ${c.localPeer}`,
      hint: 'encodeNack(stream, code, message)',
    });
  }
  expectEqual(code, want, { what: `the NACK code for ${what}`, where: `connection from ${c.localPeer}`, hint });
  await c.waitClosed(3000, `the receiver to close the connection after its NACK (${what})`);
  ctx.log(`${what}: NACK ${code}, connection closed`);
}

/** A BATCH frame with any codec byte and payload (the CRC is recomputed over the payload as given). */
function rawBatch(stream: number, seq: number, count: number, codec: number, payload: Buffer): Buffer {
  const frame = encodeFrame({ type: FrameType.BATCH, count, stream, seq, payload });
  frame[4] = codec; // encodeFrame refuses ids LSP/1 does not define; the header byte is all a receiver sees
  return frame;
}

/** Batches a good client keeps sending while bad ones come and go: stops on stop(); all must be ACKed. */
function goodTraffic(ctx: CheckContext, c: TcpClient, stream: number, codec: number) {
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
    (err: unknown) => err,
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

// ---- programs -----------------------------------------------------------------------------------

async function startReceiver(
  ctx: CheckContext,
  extra: string[] = [],
): Promise<{ rx: RunningProgram; dataDir: string }> {
  const dataDir = await ctx.tmp();
  const args = ['--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, '--stats-interval-ms', '100', ...extra];
  const rx = await ctx.start('receiver', args);
  ctx.log(`receiver pid ${rx.pid} on ${rx.host}:${rx.port}, args ${args.join(' ')}`);
  return { rx, dataDir };
}

async function withProxy<T>(targetPort: number, fn: (proxy: FaultProxy) => Promise<T>): Promise<T> {
  const proxy = new FaultProxy({ targetHost: '127.0.0.1', targetPort });
  await proxy.start();
  try {
    return await fn(proxy);
  } finally {
    await proxy.stop();
  }
}

/** Runs the shipper to its end; fails unless it exits 0 with a done line acknowledging `n` records. */
async function ship(ctx: CheckContext, target: string, args: string[], n: number, hint: string): Promise<Json> {
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

function exitedWith(r: RunResult, code: number, cmd: string, hint: string): void {
  if (r.timedOut)
    fail({
      expected: `\`${cmd}\` to exit with code ${code}`,
      received: `still running after ${r.ms} ms`,
      where: cmd,
      hint,
    });
  expectEqual(r.exitCode, code, {
    what: `exit code of \`${cmd}\``,
    where: `stderr: ${show(r.stderr.trim().slice(-300))}`,
    hint,
  });
}

function stderrNames(r: RunResult, flag: string, cmd: string): void {
  expectTrue(
    r.stderr.split('\n').some((l) => l.includes(flag)),
    {
      expected: `a stderr line naming ${flag} from \`${cmd}\``,
      received: show(r.stderr.trim().slice(0, 300) || '(empty stderr)'),
      where: 'stderr',
      hint: 'print one line on stderr that names the offending flag, then exit 2',
    },
  );
}

async function waitStats(
  dataDir: string,
  what: string,
  pred: (s: Stats) => boolean,
  timeoutMs: number,
  hint: string,
): Promise<Stats> {
  let last: Stats | null = null;
  return waitFor(
    async () => {
      last = await readStats(dataDir).catch(() => null);
      return last !== null && pred(last) ? last : undefined;
    },
    {
      timeoutMs,
      what: `stats.json with ${what}`,
      where: `${dataDir}/stats.json`,
      hint,
      received: () => (last ? show(last['compression'] ?? '(no "compression" section)', 600) : 'no stats.json'),
    },
  );
}

/** Resident memory of a process, in KiB: VmHWM (its peak) and VmRSS (now), from /proc. */
async function memoryKiB(pid: number): Promise<{ hwm: number; rss: number } | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/status`, 'utf8');
    const num = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
    return { hwm: num('VmHWM'), rss: num('VmRSS') };
  } catch {
    return undefined;
  }
}

// ---- the checks ---------------------------------------------------------------------------------

const d12_1: Check = {
  id: 'd12.1',
  title: 'Process contract (ready line, --help, bad flag or codec exit 2, LOGSTREAM_* env) for receiver and shipper',
  // Given: the flags, --help, the ready line and the codec checks at start come with the lesson.
  given: true,
  points: 0,
  timeoutMs: 60_000,
  async run(ctx) {
    const dataDir = await ctx.tmp();
    const base = ['--data-dir', dataDir, '--port', '0'];
    const [help, badRest, badCodecs, badDecoded] = await Promise.all([
      ctx.run('receiver', ['--help'], { timeoutMs: 20_000 }),
      ctx.run('receiver', [...base, '--rest-compression', 'bzip2'], { timeoutMs: 20_000 }),
      ctx.run('receiver', [...base, '--codecs', 'gzip,snappy'], { timeoutMs: 20_000 }),
      ctx.run('receiver', [...base, '--max-decoded-bytes', 'lots'], { timeoutMs: 20_000 }),
    ]);
    exitedWith(help, 0, 'receiver --help', '--help prints usage on stdout and exits 0');
    const usage = help.stdout + help.stderr;
    for (const flag of [
      '--port',
      '--data-dir',
      '--codecs',
      '--max-payload-bytes',
      '--max-decoded-bytes',
      '--rest-compression',
      '--rotate-bytes',
    ]) {
      expectTrue(usage.includes(flag), {
        expected: `receiver usage naming ${flag}`,
        received: show(usage.slice(0, 400)),
        where: 'receiver --help',
        hint: 'list every flag in --help',
      });
    }
    for (const [r, flag, cmd] of [
      [badRest, '--rest-compression', 'receiver --rest-compression bzip2'],
      [badCodecs, '--codecs', 'receiver --codecs gzip,snappy'],
      [badDecoded, '--max-decoded-bytes', 'receiver --max-decoded-bytes lots'],
    ] as const) {
      exitedWith(r, 2, cmd, 'a bad value is an error: one stderr line naming the flag, exit 2');
      stderrNames(r, flag, cmd);
    }

    const [shHelp, shCodec, shLevel] = await Promise.all([
      ctx.run('shipper', ['--help'], { timeoutMs: 20_000 }),
      ctx.run('shipper', ['--generate', '1', '--state-dir', await ctx.tmp(), '--codec', 'snappy'], {
        timeoutMs: 20_000,
      }),
      ctx.run('shipper', ['--generate', '1', '--state-dir', await ctx.tmp(), '--codec', 'gzip', '--level', '42'], {
        timeoutMs: 20_000,
      }),
    ]);
    exitedWith(shHelp, 0, 'shipper --help', '--help prints usage on stdout and exits 0');
    const shUsage = shHelp.stdout + shHelp.stderr;
    for (const flag of ['--target', '--codec', '--level', '--min-compress-bytes', '--batch-records', '--state-dir']) {
      expectTrue(shUsage.includes(flag), {
        expected: `shipper usage naming ${flag}`,
        received: show(shUsage.slice(0, 400)),
        where: 'shipper --help',
        hint: 'list every flag in --help',
      });
    }
    exitedWith(
      shCodec,
      2,
      'shipper --codec snappy',
      'an unknown codec is a usage error, found at start: one stderr line naming --codec, exit 2',
    );
    stderrNames(shCodec, '--codec', 'shipper --codec snappy');
    exitedWith(
      shLevel,
      2,
      'shipper --codec gzip --level 42',
      'gzip takes levels 0..9: a level out of range is a usage error at start',
    );
    stderrNames(shLevel, '--level', 'shipper --codec gzip --level 42');

    const rx = await ctx.start('receiver', ['--data-dir', dataDir, '--stats-interval-ms', '100'], {
      env: { LOGSTREAM_PORT: '0', LOGSTREAM_REST_COMPRESSION: 'gzip' },
    });
    ctx.log(`receiver ready ${JSON.stringify(rx.ready)}`);
    const r = rx.ready;
    expectEqual(r['role'], 'receiver', { what: 'ready line "role"', where: 'receiver ready line' });
    expectEqual(r['lesson'], 'day12', {
      what: 'ready line "lesson"',
      where: 'receiver ready line',
      hint: '{"event":"ready","role":"receiver","lesson":"day12","transport":"lsp1-tcp","host","port","codecs",…}',
    });
    expectEqual(r['transport'], 'lsp1-tcp', { what: 'ready line "transport"', where: 'receiver ready line' });
    const codecs = r['codecs'];
    expectTrue(Array.isArray(codecs) && codecs.includes('none') && codecs.includes('gzip'), {
      expected:
        'ready line "codecs": the codecs this receiver accepts (at least "none" and "gzip", which need no package)',
      received: show(codecs),
      where: 'receiver ready line',
      hint: 'say at start which codecs you take, so a missing package shows before the first batch needs it',
    });
    expectEqual(r['restCompression'], 'gzip', {
      what: 'ready line "restCompression" with LOGSTREAM_REST_COMPRESSION=gzip',
      where: 'receiver ready line',
      hint: 'every flag also reads LOGSTREAM_<FLAG> from the environment',
    });

    const N = 500;
    const env = {
      LOGSTREAM_TARGET: at(rx.port),
      LOGSTREAM_GENERATE: String(N),
      LOGSTREAM_STATE_DIR: await ctx.tmp(),
      LOGSTREAM_CODEC: 'gzip',
      LOGSTREAM_LEVEL: '1',
      LOGSTREAM_PROGRESS_MS: '0',
    };
    const res = await ctx.run('shipper', [], { env, timeoutMs: 20_000 });
    const cmd = 'LOGSTREAM_TARGET=… LOGSTREAM_GENERATE=500 LOGSTREAM_CODEC=gzip LOGSTREAM_LEVEL=1 shipper.ts';
    exitedWith(
      res,
      0,
      cmd,
      'the shipper reads LOGSTREAM_CODEC, LOGSTREAM_LEVEL, … and exits 0 once everything is ACKed',
    );
    const done = res.json.find((j) => j['event'] === 'done');
    if (!done)
      fail({
        expected: `a {"event":"done",…} line from \`${cmd}\``,
        received: show(res.stdout.slice(-300) || '(empty stdout)'),
        where: 'shipper stdout',
      });
    expectEqual(done['acked'], N, { what: 'done line "acked"', where: `done line ${show(done, 400)}` });
    expectEqual(done['codec'], 'gzip', {
      what: 'done line "codec"',
      where: `done line ${show(done, 400)}`,
      hint: 'the done line says which codec was used',
    });
    for (const k of ['rawBytes', 'wireBytes', 'ratio', 'cpuMsPerMB']) {
      expectTrue(typeof done[k] === 'number' && Number.isFinite(done[k]), {
        expected: `done line field "${k}" (a number)`,
        received: show(done, 400),
        where: 'shipper done line',
        hint: 'report bytes before (rawBytes) and after (wireBytes) compression, their ratio, and CPU ms spent compressing per MB',
      });
    }
  },
};

const d12_2: Check = {
  id: 'd12.2',
  exclusive: true,
  title:
    "Every available codec round-trips 50,000 records in BATCH frames, byte for byte; stats.json reports each codec's bytes, ratio and CPU",
  points: 15,
  timeoutMs: 90_000,
  async run(ctx) {
    const N = 50_000;
    const { rx, dataDir } = await startReceiver(ctx);
    const codecs = availableCodecs(ctx);
    const runs = await Promise.all(
      codecs.map(async (codec) => {
        const stream = streamId(ctx);
        const records = corpus(ctx, N, `rt-${codec.name}`);
        const c = await hello(ctx, rx, stream, `check-d12.2-${codec.name}`);
        let frames = 0;
        let wire = 0;
        let raw = 0;
        const chunks: Buffer[] = [];
        for (let seq = 1; seq <= N;) {
          // seeded batch sizes, tiny ones included; seeded levels across the codec's range
          const n = Math.min(N - seq + 1, ctx.rng() < 0.1 ? randInt(ctx.rng, 1, 5) : randInt(ctx.rng, 200, 3000));
          const slice = records.slice(seq - 1, seq - 1 + n);
          const level = codec.levels ? randInt(ctx.rng, codec.levels.min, Math.min(codec.levels.max, 9)) : undefined;
          const frame = encodeBatch({
            stream,
            seq,
            records: slice,
            codec: codec.id,
            ...(level === undefined ? {} : { level }),
          });
          frames++;
          wire += frame.length - 28;
          raw += encodeBatchPayload(slice).length;
          chunks.push(frame);
          seq += n;
        }
        const all = Buffer.concat(chunks);
        const cuts: number[] = [];
        for (let p = randInt(ctx.rng, 1, 5000); p < all.length; p += randInt(ctx.rng, 1, 200_000)) cuts.push(p);
        await c.writeSplit(all, cuts);
        await waitAck(
          c,
          stream,
          N,
          30_000,
          `decode every ${codec.name} BATCH (codec id ${codec.id}) within the limit and ACK it once durable (your TODOs in lessons/day12/receiver.ts decodePayload and bounded-decode.ts)`,
        );
        ctx.log(`${codec.name}: ${frames} frames, ${raw} raw → ${wire} wire bytes (ratio ${(raw / wire).toFixed(2)})`);
        return { codec, stream, records, frames, wire, raw };
      }),
    );
    const all = await byStream(dataDir);
    for (const r of runs) {
      await expectPersisted(
        dataDir,
        r.stream,
        r.records,
        `decode ${r.codec.name} payloads exactly: every record of the batch, in order, at seq frame.seq + i, its bytes untouched`,
        `stream ${r.stream} (${r.codec.name})`,
        all,
      );
    }
    const hint =
      'your measuring TODOs in lessons/day12/receiver.ts (decodePayload and the stats writer): stats.json "compression": {"<codec>": {"batches", "records", "wireBytes" (payload as sent), "rawBytes" (decoded), "ratio" (raw/wire), "cpuMs", "cpuMsPerMB"}} per codec';
    const want = (s: Stats, r: (typeof runs)[number]) =>
      statNumber(s, `compression.${r.codec.name}.batches`) === r.frames;
    const stats = await waitStats(
      dataDir,
      `compression.<codec>.batches = the frames sent with each codec (${runs.map((r) => `${r.codec.name} ${r.frames}`).join(', ')})`,
      (s) => runs.every((r) => want(s, r)),
      5000,
      hint,
    );
    for (const r of runs) {
      const k = `compression.${r.codec.name}`;
      const where = `${dataDir}/stats.json ${k}`;
      expectEqual(statNumber(stats, `${k}.records`), N, { what: `${k}.records`, where, hint });
      expectEqual(statNumber(stats, `${k}.wireBytes`), r.wire, {
        what: `${k}.wireBytes (the payload bytes as sent, summed over the batches)`,
        where,
        hint,
      });
      expectEqual(statNumber(stats, `${k}.rawBytes`), r.raw, {
        what: `${k}.rawBytes (the decoded payload bytes)`,
        where,
        hint,
      });
      const ratio = statNumber(stats, `${k}.ratio`);
      expectTrue(ratio !== undefined && Math.abs(ratio - r.raw / r.wire) <= 0.01 * (r.raw / r.wire), {
        expected: `${k}.ratio ≈ rawBytes / wireBytes = ${(r.raw / r.wire).toFixed(3)}`,
        received: show(ratio),
        where,
        hint,
      });
      const cpu = statNumber(stats, `${k}.cpuMsPerMB`);
      expectTrue(cpu !== undefined && cpu >= 0 && Number.isFinite(cpu), {
        expected: `${k}.cpuMsPerMB: a number ≥ 0`,
        received: show(cpu),
        where,
        hint,
      });
    }
  },
};

const d12_3: Check = {
  id: 'd12.3',
  exclusive: true,
  title:
    'The shipper ships 50,000 records with every available codec (--codec, --level): persisted as sent, reported per codec',
  points: 10,
  timeoutMs: 120_000,
  async run(ctx) {
    const N = 50_000;
    const { rx, dataDir } = await startReceiver(ctx);
    const codecs = availableCodecs(ctx).filter((c) => c.id !== 0);
    const dir = await ctx.tmp();
    const runs: Array<{ codec: Codec; records: string[]; done: Json }> = [];
    // two shippers at a time: the receiver takes both streams at once
    for (let i = 0; i < codecs.length; i += 2) {
      const pair = codecs.slice(i, i + 2);
      runs.push(
        ...(await Promise.all(
          pair.map(async (codec) => {
            const records = corpus(ctx, N, `sh-${codec.name}`);
            const file = path.join(dir, `${codec.name}.ndjson`);
            await writeFile(file, `${records.join('\n')}\n`);
            // level 0 (gzip, brotli) stores rather than compresses: a batch that does not shrink is rightly sent raw
            const level = codec.levels
              ? ['--level', String(randInt(ctx.rng, Math.max(1, codec.levels.min), Math.min(codec.levels.max, 6)))]
              : [];
            const done = await ship(
              ctx,
              at(rx.port),
              ['--input', file, '--codec', codec.name, ...level],
              N,
              `ship every record with --codec ${codec.name}; exit 0 once all are ACKed (your TODO in lessons/day12/shipper.ts compressBatch compresses each batch)`,
            );
            ctx.log(`${codec.name} ${level.join(' ')}: done ${JSON.stringify(done)}`);
            return { codec, records, done };
          }),
        )),
      );
    }
    const all = await byStream(dataDir);
    for (const { codec, records, done } of runs) {
      const where = `shipper --codec ${codec.name} done line ${show(done, 400)}`;
      expectEqual(done['codec'], codec.name, { what: 'done line "codec"', where });
      const raw = Number(done['rawBytes']);
      const wire = Number(done['wireBytes']);
      const ratio = Number(done['ratio']);
      expectTrue(raw >= Buffer.byteLength(records.join('\n')) && wire > 0 && wire < raw / 2, {
        expected: `rawBytes ≥ the NDJSON shipped (${Buffer.byteLength(records.join('\n'))} B) and 0 < wireBytes < rawBytes / 2 (log records compress well)`,
        received: `rawBytes ${done['rawBytes']}, wireBytes ${done['wireBytes']}`,
        where,
        hint: 'your TODO in lessons/day12/shipper.ts (compressBatch): compress each batch big enough to pay with codec.compress(payload, level) and return the result (rawBytes: payload bytes before compression; wireBytes: as sent)',
      });
      expectTrue(Math.abs(ratio - raw / wire) <= 0.01 * (raw / wire), {
        expected: `done line "ratio" ≈ rawBytes / wireBytes = ${(raw / wire).toFixed(3)}`,
        received: show(done['ratio']),
        where,
      });
      const stream = done['stream'];
      if (typeof stream !== 'number')
        fail({ expected: 'done line "stream" (the stream id)', received: show(stream), where });
      await expectPersisted(
        dataDir,
        stream,
        records,
        `the receiver must hold exactly the lines of the --input file, whatever the codec`,
        `stream ${stream} (--codec ${codec.name})`,
        all,
      );
    }
    const stats = await waitStats(
      dataDir,
      'compression.<codec>.batches > 0 for every codec shipped',
      (s) => runs.every((r) => (statNumber(s, `compression.${r.codec.name}.batches`) ?? 0) > 0),
      5000,
      'the shipper must really send its batches with --codec (your compressBatch TODO in lessons/day12/shipper.ts), and the receiver counts batches per codec (your decodePayload TODO in lessons/day12/receiver.ts)',
    );
    ctx.log(`receiver compression stats ${JSON.stringify(stats['compression'])}`);
  },
};

const d12_4: Check = {
  id: 'd12.4',
  exclusive: true,
  title: 'Compression cuts the bytes on the wire (counted by a proxy): gzip ≥ 4× fewer than none on generated records',
  points: 10,
  timeoutMs: 90_000,
  async run(ctx) {
    const N = 50_000;
    const seed = randInt(ctx.rng, 1, 1_000_000);
    const { rx } = await startReceiver(ctx);
    const codecs = availableCodecs(ctx);
    const up: Record<string, number> = {};
    for (const codec of codecs) {
      await withProxy(rx.port, async (proxy) => {
        const done = await ship(
          ctx,
          at(proxy.port),
          ['--generate', String(N), '--seed', String(seed), '--codec', codec.name, '--keepalive-ms', '60000'],
          N,
          `ship --generate ${N} with --codec ${codec.name}`,
        );
        up[codec.name] = proxy.counters.bytesUp;
        ctx.log(
          `--codec ${codec.name}: ${proxy.counters.bytesUp} bytes shipper → receiver (done wireBytes ${String(done['wireBytes'])}, ratio ${String(done['ratio'])})`,
        );
        const wire = Number(done['wireBytes']);
        expectTrue(wire > 0 && wire <= proxy.counters.bytesUp, {
          expected: `done line "wireBytes" (${done['wireBytes']}) ≤ the bytes the proxy forwarded (${proxy.counters.bytesUp})`,
          received: show(done['wireBytes']),
          where: `shipper --codec ${codec.name} done line`,
          hint: 'wireBytes counts the BATCH payload bytes actually sent',
        });
      });
    }
    const none = up['none']!;
    const gzip = up['gzip']!;
    expectTrue(none / gzip >= 4, {
      expected: `at least 4× fewer bytes on the wire with --codec gzip than with --codec none (same ${N} generated records, seed ${seed})`,
      received: `none ${none} bytes, gzip ${gzip} bytes: ${(none / gzip).toFixed(2)}×`,
      where: 'FaultProxy bytesUp (shipper → receiver)',
      hint: 'your TODO in lessons/day12/shipper.ts (compressBatch): return codec.compress(payload, level) for a batch big enough to pay; 1000 log records compress ~8× with gzip',
    });
    for (const [name, bytes] of Object.entries(up)) {
      if (name === 'none') continue;
      expectTrue(none / bytes >= 2, {
        expected: `at least 2× fewer bytes on the wire with --codec ${name} than with none`,
        received: `none ${none} bytes, ${name} ${bytes} bytes: ${(none / bytes).toFixed(2)}×`,
        where: 'FaultProxy bytesUp',
        hint: `your TODO in lessons/day12/shipper.ts (compressBatch): compress each batch with --codec ${name}`,
      });
    }
  },
};

const d12_5: Check = {
  id: 'd12.5',
  title:
    'Tiny or incompressible batches are never made bigger: sent uncompressed (codec 0) below --min-compress-bytes or when compressing does not shrink them',
  points: 15,
  timeoutMs: 90_000,
  async run(ctx) {
    const N = 1000;
    // ~70-byte records, one per BATCH: gzip's own header and trailer alone are 18 bytes
    const file = path.join(await ctx.tmp(), 'tiny.ndjson');
    const lines: string[] = [];
    for (let i = 0; i < N; i++)
      lines.push(
        `{"ts":"2026-11-26T14:13:${String(i % 60).padStart(2, '0')}Z","level":"info","msg":"${Math.floor(ctx.rng() * 1e12).toString(36)}"}`,
      );
    await writeFile(file, `${lines.join('\n')}\n`);
    const { rx, dataDir } = await startReceiver(ctx);
    const common = ['--input', file, '--batch-records', '1', '--keepalive-ms', '60000', '--name', 'tiny'];
    const variants: Array<{ label: string; args: string[] }> = [
      { label: '--codec none', args: ['--codec', 'none'] },
      { label: '--codec gzip (default --min-compress-bytes)', args: ['--codec', 'gzip'] },
      { label: '--codec gzip --min-compress-bytes 0', args: ['--codec', 'gzip', '--min-compress-bytes', '0'] },
    ];
    const up: number[] = [];
    const streams: number[] = [];
    const dones: Json[] = [];
    for (const v of variants) {
      await withProxy(rx.port, async (proxy) => {
        const done = await ship(
          ctx,
          at(proxy.port),
          [...common, ...v.args],
          N,
          `ship ${N} one-record batches with ${v.label}`,
        );
        up.push(proxy.counters.bytesUp);
        streams.push(done['stream'] as number);
        dones.push(done);
        ctx.log(`${v.label}: ${proxy.counters.bytesUp} bytes up; done ${JSON.stringify(done)}`);
      });
    }
    // Not trying at all is cheaper than trying and throwing the result away: the done line says which happened.
    expectEqual(dones[1]!['tooSmall'], N, {
      what: `done line "tooSmall" with ${variants[1]!.label} (${N} batches of ~70 bytes)`,
      where: `done line ${show(dones[1], 400)}`,
      hint: 'your TODO in lessons/day12/shipper.ts (compressBatch): a batch below --min-compress-bytes is not compressed at all (no CPU spent): return it as it is and count it in decisions.tooSmall',
    });
    expectEqual(dones[2]!['notSmaller'], N, {
      what: `done line "notSmaller" with ${variants[2]!.label}`,
      where: `done line ${show(dones[2], 400)}`,
      hint: 'your TODO in lessons/day12/shipper.ts (compressBatch): with --min-compress-bytes 0 every tiny batch is compressed and comes out bigger: return the payload itself (it goes as codec 0) and count it in decisions.notSmaller',
    });
    const slack = 64; // the HELLO (same --name) is the only other frame; allow a few bytes for its JSON
    for (let i = 1; i < variants.length; i++) {
      expectTrue(up[i]! <= up[0]! + slack, {
        expected: `${variants[i]!.label} to put no more bytes on the wire than --codec none (${up[0]} bytes, + ${slack})`,
        received: `${up[i]} bytes (+${up[i]! - up[0]!})`,
        where: `FaultProxy bytesUp, ${N} batches of one ~70-byte record`,
        hint: 'a compressed tiny batch is BIGGER (gzip adds 18+ bytes of header and trailer): in your compressBatch TODO (lessons/day12/shipper.ts) skip compression below --min-compress-bytes, and return the batch as it is (sent as codec 0) whenever compressing did not make it smaller',
      });
    }
    const all = await byStream(dataDir);
    for (const s of streams)
      await expectPersisted(
        dataDir,
        s,
        lines,
        'every tiny record arrives, whichever codec id its batch carries',
        `stream ${s}`,
        all,
      );
  },
};

/** ~1 MiB of gzip that inflates to 1 GiB of zeros: 1024 gzip members of 1 MiB each (gunzip reads them all). */
function gzipBomb(): Buffer {
  const member = zlib.gzipSync(Buffer.alloc(MiB), { level: 9 });
  return Buffer.concat(Array.from({ length: 1024 }, () => member));
}

const d12_6: Check = {
  id: 'd12.6',
  exclusive: true,
  title:
    'A decompression bomb (~1 MiB of gzip → 1 GiB) is refused with LS_ERR_TOO_LARGE, memory stays bounded, other connections carry on',
  points: 25,
  timeoutMs: 60_000,
  async run(ctx) {
    const LIMIT = 8 * MiB;
    const { rx, dataDir } = await startReceiver(ctx, ['--max-decoded-bytes', String(LIMIT)]);
    const G = streamId(ctx);
    const good = await hello(ctx, rx, G, 'check-d12.6-good');
    // A big legal batch first: 20,000 records (~4 MB decoded, under the limit) must be accepted.
    const big = corpus(ctx, 20_000, 'big');
    await good.write(encodeBatch({ stream: G, seq: 1, records: big, codec: 1 }));
    await waitAck(
      good,
      G,
      big.length,
      10_000,
      `a gzip BATCH decoding to ~4 MB is under --max-decoded-bytes ${LIMIT}: accept it (your TODO in lessons/day12/bounded-decode.ts returns the whole output when it stays within the limit)`,
    );
    const GOOD2 = streamId(ctx);
    const good2 = await hello(ctx, rx, GOOD2, 'check-d12.6-good2');
    const traffic = goodTraffic(ctx, good2, GOOD2, 1);

    const before = await memoryKiB(rx.pid);
    let peakRss = before?.rss ?? 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const m = await memoryKiB(rx.pid);
        if (m) peakRss = Math.max(peakRss, m.rss);
        await sleep(10);
      }
    })();
    const bomb = gzipBomb();
    const B = streamId(ctx);
    try {
      await expectNack(
        ctx,
        rx,
        B,
        encodeFrame({ type: FrameType.BATCH, codec: 1, count: 1, stream: B, seq: 1, payload: bomb }),
        'LS_ERR_TOO_LARGE',
        `a ${bomb.length}-byte gzip payload that inflates to 1 GiB (--max-decoded-bytes ${LIMIT})`,
        'your TODO in lessons/day12/bounded-decode.ts (decompressBounded): take the output chunk by chunk (codec.decompressChunks), count it, and throw LS_ERR_TOO_LARGE as soon as it passes maxBytes — the connection gets the NACK',
        20_000,
      );
    } finally {
      sampling = false;
      await sampler;
    }
    const after = await memoryKiB(rx.pid);
    if (before && after) {
      const grewMiB = (Math.max(after.hwm, peakRss) - before.hwm) / 1024;
      ctx.log(
        `receiver memory: VmHWM ${before.hwm} → ${after.hwm} kB, sampled VmRSS peak ${peakRss} kB (+${grewMiB.toFixed(0)} MiB)`,
      );
      expectTrue(grewMiB < 256, {
        expected: "the receiver's peak memory to grow by less than 256 MiB while refusing a 1 GiB bomb",
        received: `it grew by ${grewMiB.toFixed(0)} MiB (VmHWM ${before.hwm} → ${after.hwm} kB)`,
        where: `/proc/${rx.pid}/status`,
        hint: 'your TODO in lessons/day12/bounded-decode.ts must stop decoding WHILE it happens: codec.decompress() then a size check has already spent the memory; stop asking codec.decompressChunks() for more once the count passes the limit',
      });
    } else {
      ctx.log('no /proc/<pid>/status here: the memory bound is not measured');
    }
    // zstd, lz4, brotli: bombs that inflate to 64 MiB (8× the limit)
    const zeros = Buffer.alloc(64 * MiB);
    for (const codec of availableCodecs(ctx).filter((c) => c.id > 1)) {
      const S = streamId(ctx);
      const payload = codec.compress(zeros, codec.levels?.min);
      await expectNack(
        ctx,
        rx,
        S,
        encodeFrame({ type: FrameType.BATCH, codec: codec.id, count: 1, stream: S, seq: 1, payload }),
        'LS_ERR_TOO_LARGE',
        `a ${payload.length}-byte ${codec.name} payload that inflates to 64 MiB (--max-decoded-bytes ${LIMIT})`,
        'every codec goes through your decompressBounded TODO (lessons/day12/bounded-decode.ts): stop at the limit whatever the codec',
      );
    }
    await traffic.stop();
    expectTrue(!rx.exited, {
      expected: 'the receiver still running after the bombs',
      received: `it exited; stderr tail:\n${tail(rx.stderrText(), 5, 10)}`,
      where: `receiver pid ${rx.pid}`,
      hint: 'bad input never stops a server',
    });
    expectTrue(!good2.destroyed && !good2.peerEnded, {
      expected: 'the other connection to stay open',
      received: 'the receiver closed it',
      where: `connection from ${good2.localPeer}`,
      hint: 'a bomb is fatal for its own connection only',
    });
    await waitAck(good2, GOOD2, traffic.sent.length, 10_000, "the other client's batches are all ACKed");
    await expectPersisted(
      dataDir,
      GOOD2,
      traffic.sent,
      "the other client's records are all persisted, whatever the bombs did",
    );
    const leaked = await recordsOf(dataDir, B);
    expectTrue(leaked.length === 0, {
      expected: 'nothing persisted from the bomb',
      received: `${leaked.length} records`,
      where: dataDir,
    });
  },
};

const d12_7: Check = {
  id: 'd12.7',
  title:
    'A compressed payload that does not decompress (its frame CRC correct) is a fatal LS_ERR_DECODE NACK, not a crash',
  // Given: the codec table reports LS_ERR_DECODE and the connection machinery NACKs it; no TODO asks for it.
  given: true,
  points: 0,
  timeoutMs: 60_000,
  async run(ctx) {
    const { rx, dataDir } = await startReceiver(ctx);
    const G = streamId(ctx);
    const good = await hello(ctx, rx, G, 'check-d12.7-good');
    const traffic = goodTraffic(ctx, good, G, 1);
    const codecs = availableCodecs(ctx).filter((c) => c.id !== 0);
    const records = corpus(ctx, 500, 'bad');
    const raw = encodeBatchPayload(records);
    const cases: Array<{ name: string; codec: number; payload: Buffer }> = [];
    // gzip carries its own CRC-32 of the data: any flipped byte is caught
    const gz = CODECS.get(1)!.compress(raw);
    const flipped = Buffer.from(gz);
    for (let i = 0; i < 16; i++) flipped[(flipped.length >> 1) + i]! ^= 0x5a;
    cases.push({ name: 'gzip payload with 16 bytes flipped in the middle', codec: 1, payload: flipped });
    for (const c of codecs) {
      const p = c.compress(raw);
      cases.push({
        name: `${c.name} payload cut to half its length`,
        codec: c.id,
        payload: p.subarray(0, p.length >> 1),
      });
    }
    for (const c of codecs.filter((x) => x.id !== 1))
      cases.push({ name: `a gzip payload labelled ${c.name} (codec ${c.id})`, codec: c.id, payload: gz });
    for (const k of cases) {
      const S = streamId(ctx);
      await expectNack(
        ctx,
        rx,
        S,
        encodeFrame({
          type: FrameType.BATCH,
          codec: k.codec,
          count: records.length,
          stream: S,
          seq: 1,
          payload: k.payload,
        }),
        'LS_ERR_DECODE',
        `${k.name} (frame CRC recomputed, so it is correct)`,
        'the frame CRC only proves the bytes arrived as sent; a payload the codec cannot decode is LS_ERR_DECODE: NACK it and close that connection, never ACK it or crash',
      );
      const leaked = await recordsOf(dataDir, S);
      expectTrue(leaked.length === 0, {
        expected: `nothing persisted from ${k.name}`,
        received: `${leaked.length} records`,
        where: dataDir,
      });
    }
    await traffic.stop();
    expectTrue(!rx.exited, {
      expected: 'the receiver still running',
      received: `it exited; stderr tail:\n${tail(rx.stderrText(), 5, 10)}`,
      where: `receiver pid ${rx.pid}`,
    });
    await waitAck(good, G, traffic.sent.length, 10_000, "the good client's batches are all ACKed");
    await expectPersisted(
      dataDir,
      G,
      traffic.sent,
      "the good client's records are all persisted, whatever other connections send",
    );
  },
};

const d12_8: Check = {
  id: 'd12.8',
  title:
    'An unknown codec id is refused with LS_ERR_CODEC; a codec the receiver does not take (--codecs) with LS_ERR_CODEC_UNAVAILABLE',
  points: 15,
  timeoutMs: 60_000,
  async run(ctx) {
    const { rx, dataDir } = await startReceiver(ctx, ['--codecs', 'none,gzip']);
    const records = corpus(ctx, 100, 'codec');
    const raw = encodeBatchPayload(records);
    for (const id of [5, 9, 77, 255]) {
      const S = streamId(ctx);
      await expectNack(
        ctx,
        rx,
        S,
        rawBatch(S, 1, records.length, id, raw),
        'LS_ERR_CODEC',
        `a BATCH with codec id ${id} (LSP/1 defines 0..4)`,
        'look the codec id up in the codec table; an id it does not hold is a fatal LS_ERR_CODEC',
      );
    }
    const refused = availableCodecs(ctx).filter((c) => c.id > 1);
    for (const c of refused) {
      const S = streamId(ctx);
      await expectNack(
        ctx,
        rx,
        S,
        encodeBatch({ stream: S, seq: 1, records, codec: c.id }),
        'LS_ERR_CODEC_UNAVAILABLE',
        `a ${c.name} BATCH to a receiver started with --codecs none,gzip`,
        'your TODO in lessons/day12/receiver.ts (decodePayload): decode only the codecs this receiver accepts (acceptedCodecs); any other is a fatal LS_ERR_CODEC_UNAVAILABLE (the shipper should pick one the receiver takes)',
      );
      const leaked = await recordsOf(dataDir, S);
      expectTrue(leaked.length === 0, {
        expected: `nothing persisted from the refused ${c.name} batch`,
        received: `${leaked.length} records`,
        where: dataDir,
      });
    }
    // …while gzip and none, which it does take, still work
    const G = streamId(ctx);
    const c = await hello(ctx, rx, G, 'check-d12.8-good');
    await c.write(
      Buffer.concat([
        encodeBatch({ stream: G, seq: 1, records: records.slice(0, 50), codec: 1 }),
        encodeBatch({ stream: G, seq: 51, records: records.slice(50) }),
      ]),
    );
    await waitAck(c, G, records.length, 10_000, 'gzip and none are accepted with --codecs none,gzip');
    await expectPersisted(dataDir, G, records, 'a codec in --codecs is decoded as usual');
  },
};

const d12_9: Check = {
  id: 'd12.9',
  exclusive: true,
  title:
    'Rotated files compressed at rest (--rest-compression gzip|zstd, --rotate-bytes) hold every record exactly once',
  points: 10,
  timeoutMs: 90_000,
  async run(ctx) {
    const N = 20_000;
    const methods = [{ name: 'gzip', suffix: '.gz', magic: '1f8b' }];
    if (CODECS.get(2)!.availability().ok) methods.push({ name: 'zstd', suffix: '.zst', magic: '28b52ffd' });
    for (const m of methods) {
      // --fsync never: durable = written, so the ACK of each batch comes at once
      const { rx, dataDir } = await startReceiver(ctx, [
        '--rest-compression',
        m.name,
        '--rotate-bytes',
        '64KiB',
        '--fsync',
        'never',
      ]);
      const S = streamId(ctx);
      const records = corpus(ctx, N, `rest-${m.name}`);
      const c = await hello(ctx, rx, S, `check-d12.9-${m.name}`);
      // one batch at a time (~150 KB persisted each, past --rotate-bytes): every batch ends a file
      const B = 500;
      for (let seq = 1; seq <= N; seq += B) {
        await c.write(encodeBatch({ stream: S, seq, records: records.slice(seq - 1, seq - 1 + B), codec: 1 }));
        await waitAck(c, S, seq + B - 1, 10_000, 'ACK every record once durable, across rotations');
      }
      const stop = await rx.stop(8000);
      expectTrue(stop.exitCode === 0 && !stop.timedOut, {
        expected: 'the receiver to exit 0 on SIGTERM (after finishing the compression of rotated files)',
        received: `exit ${stop.exitCode}, signal ${stop.signal}, timed out ${stop.timedOut}`,
        where: `receiver pid ${rx.pid}`,
        hint: 'FileSink.close() waits for background compressions',
      });
      const names = (await readdir(dataDir)).filter((n) => n.startsWith('records-')).sort();
      const compressed = names.filter((n) => n.endsWith(`.ndjson${m.suffix}`));
      const plain = names.filter((n) => n.endsWith('.ndjson'));
      const other = names.filter((n) => !compressed.includes(n) && !plain.includes(n));
      ctx.log(
        `--rest-compression ${m.name}: ${compressed.length} compressed files, plain ${show(plain)}, other ${show(other)}`,
      );
      expectTrue(compressed.length >= 10 && plain.length <= 1 && other.length === 0, {
        expected: `every rotated file compressed as records-NNNNNN.ndjson${m.suffix} (≥ 10 of them for ~6 MB at --rotate-bytes 64KiB), at most one plain records-*.ndjson (the active file), no temp files`,
        received: `${compressed.length} ${m.suffix} files, plain ${show(plain.slice(0, 5))}, other ${show(other.slice(0, 5))}`,
        where: dataDir,
        hint: `your TODO in lessons/day12/receiver.ts: hand --rest-compression ${m.name} (and --rest-level) to the sink (fileSink.compressRotated), which compresses each file as it is rotated`,
      });
      const first = await readFile(path.join(dataDir, compressed[0]!));
      expectEqual(first.subarray(0, m.magic.length / 2).toString('hex'), m.magic, {
        what: `the first bytes of ${compressed[0]} (${m.name} magic)`,
        where: dataDir,
        hint: `files named ${m.suffix} must be ${m.name} streams`,
      });
      await expectPersisted(
        dataDir,
        S,
        records,
        `each record lands in exactly one file: a compressed file replaces its source, it is never added beside it`,
        `stream ${S} (--rest-compression ${m.name})`,
      );
    }
  },
};

export const checks: Check[] = [d12_1, d12_2, d12_3, d12_4, d12_5, d12_6, d12_7, d12_8, d12_9];
