// Graded checks for day 11: batching. A batch leaves at --batch-records, before it would pass
// --batch-bytes, or --batch-delay-ms after its first record — whichever comes first — and always on
// close; order survives batching; a UDP batch never exceeds the datagram; bad settings are refused.
// Black-box: the shipper is driven through the process contract (CONVENTIONS.md §2) and, for the flush rules,
// talks to a tiny LSP/1 receiver inside the check (frames decoded with shared/protocol, ACKed at once)
// or to the check's own UDP socket, so the check sees every frame and when it arrived.
import dgram from 'node:dgram';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { encodeAck, encodePong, FrameDecoder, FrameType, HEADER_SIZE, type Frame } from '../shared/protocol/frame.ts';
import { expectEqual, expectTrue, fail, show, waitFor } from './harness/assert.ts';
import { formatRanges, readRecords, verifySeqs } from './harness/persisted.ts';
import { tail } from './harness/process.ts';
import { randInt, type Rng } from './harness/rng.ts';
import type { Check, CheckContext, ProgramExit, RunResult, WatchedProgram } from './harness/types.ts';

export const lesson = 'day11';

type Json = Record<string, unknown>;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---- the shipper, watched while it runs (ctx.watch: a shipper prints no ready line) ----------------

function spawnShipper(
  ctx: CheckContext,
  args: string[],
  opts: { stdin?: boolean; env?: Record<string, string> } = {},
): WatchedProgram {
  const p = ctx.watch('shipper', args, opts);
  ctx.log(`shipper pid ${p.pid}: ${p.cmd}`);
  return p;
}

/** Waits for the shipper to exit within `ms`; fails saying what it last printed. */
async function waitExit(p: WatchedProgram, ms: number, hint: string): Promise<ProgramExit> {
  const ex = await Promise.race([p.exit, sleep(ms).then(() => undefined)]);
  if (!ex) {
    fail({
      expected: `\`${p.cmd}\` to exit within ${ms} ms`,
      received: `still running; last line ${show(p.events.at(-1)?.json ?? '(none)', 300)}; stderr tail:\n${tail(p.stderrText(), 5, 10) || '(empty)'}`,
      where: `pid ${p.pid}`,
      hint,
    });
  }
  return ex;
}

function doneOf(p: WatchedProgram): Json {
  const d = p.lastEvent('done');
  if (!d)
    fail({
      expected: `a {"event":"done",…} line on the stdout of \`${p.cmd}\``,
      received: `none; stderr tail:\n${tail(p.stderrText(), 5, 10) || '(empty)'}`,
      where: `pid ${p.pid} stdout`,
      hint: 'a shipper ends with one done line: {"event":"done","sent","acked","dropped",…,"batches","recordsPerBatch","flushes","waitMs",…}',
    });
  return d;
}

function expectExit0(p: WatchedProgram, ex: ProgramExit): void {
  expectTrue(ex.exitCode === 0, {
    expected: `\`${p.cmd}\` to exit 0`,
    received: `exit code ${ex.exitCode}, signal ${ex.signal}; stderr tail:\n${tail(p.stderrText(), 5, 10) || '(empty)'}`,
    where: `pid ${p.pid}`,
  });
}

/** Waits for a stdout event matching `cond`; fails if the shipper exits first or the time passes. */
async function waitEvent(
  p: WatchedProgram,
  what: string,
  cond: (j: Json) => boolean,
  timeoutMs: number,
  hint?: string,
): Promise<Json> {
  return waitFor(
    () => {
      const hit = p.events.find((e) => cond(e.json));
      if (hit) return hit.json;
      const ex = p.exited();
      if (ex)
        fail({
          expected: what,
          received: `the shipper exited first (code ${ex.exitCode}); stderr tail:\n${tail(p.stderrText(), 5, 10) || '(empty)'}`,
          where: `pid ${p.pid}`,
          hint,
        });
      return undefined;
    },
    {
      timeoutMs,
      what,
      where: `shipper pid ${p.pid} stdout`,
      hint,
      received: () => `last line ${show(p.events.at(-1)?.json ?? '(none)', 300)}`,
    },
  );
}

// ---- a tiny LSP/1 receiver inside the check ---------------------------------------------------
// It answers HELLO with ACK(what it holds of the stream), every BATCH at once with a cumulative ACK, and
// PING with PONG; it keeps every BATCH frame with the time it arrived.

interface Received {
  at: number;
  frame: Frame;
}

interface FakeReceiver {
  port: number;
  batches: Received[];
  connections: number;
  errors: string[];
  close(): void;
}

async function startFakeReceiver(ctx: CheckContext): Promise<FakeReceiver> {
  const held = new Map<number, number>();
  const r: FakeReceiver = { port: 0, batches: [], connections: 0, errors: [], close: () => server.close() };
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true }, (s) => {
    r.connections++;
    sockets.add(s);
    const dec = new FrameDecoder();
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    s.on('data', (chunk: Buffer) => {
      const at = Date.now();
      let frames: Frame[];
      try {
        frames = dec.push(chunk);
      } catch (err) {
        r.errors.push(`${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message}`);
        s.destroy();
        return;
      }
      for (const f of frames) {
        if (f.type === FrameType.HELLO) s.write(encodeAck(f.stream, held.get(f.stream) ?? 0));
        else if (f.type === FrameType.PING) s.write(encodePong(f.seq));
        else if (f.type === FrameType.BATCH) {
          r.batches.push({ at, frame: f });
          const last = f.seq + f.count - 1;
          if (last > (held.get(f.stream) ?? 0)) held.set(f.stream, last);
          s.write(encodeAck(f.stream, held.get(f.stream)!));
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.port = (server.address() as net.AddressInfo).port;
  ctx.signal.addEventListener('abort', () => r.close(), { once: true });
  r.close = () => {
    server.close();
    for (const s of sockets) s.destroy();
  };
  return r;
}

// ---- the check's own UDP socket ------------------------------------------------------------------

interface UdpListener {
  port: number;
  datagrams: Array<{ at: number; buf: Buffer }>;
  close(): void;
}

async function startUdpListener(ctx: CheckContext): Promise<UdpListener> {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  const l: UdpListener = { port: 0, datagrams: [], close: () => socket.close() };
  socket.on('message', (buf) => l.datagrams.push({ at: Date.now(), buf }));
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  l.port = socket.address().port;
  let closed = false;
  l.close = () => {
    if (closed) return;
    closed = true;
    socket.close();
  };
  ctx.signal.addEventListener('abort', () => l.close(), { once: true });
  return l;
}

/**
 * Datagrams a shipper sent just before it exited may still be crossing loopback: wait (bounded) until the
 * listener holds `records` records in all, or its datagrams stop being valid frames (the check reports those).
 */
async function udpHolds(udp: UdpListener, records: number, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen = 0;
  let total = 0;
  while (Date.now() < deadline) {
    for (; seen < udp.datagrams.length; seen++) {
      const frames = (() => {
        try {
          return new FrameDecoder({ maxPayloadBytes: 65_507 }).push(udp.datagrams[seen]!.buf);
        } catch {
          return undefined;
        }
      })();
      if (frames?.length !== 1) return;
      total += frames[0]!.count;
    }
    if (total >= records) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A datagram must be exactly one BATCH frame (lessons/day10/README.md, UDP). */
function decodeDatagram(buf: Buffer, where: string): Frame {
  let frames: Frame[];
  try {
    frames = new FrameDecoder({ maxPayloadBytes: 65_507 }).push(buf);
  } catch (err) {
    fail({
      expected: 'every datagram to be one valid LSP/1 BATCH frame',
      received: `${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message}`,
      where,
      hint: 'header (28 bytes) + payload, CRC of the payload, one frame per datagram',
    });
  }
  const f = frames[0];
  if (
    frames.length !== 1 ||
    f === undefined ||
    f.type !== FrameType.BATCH ||
    HEADER_SIZE + f.payload.length !== buf.length
  ) {
    fail({
      expected: 'exactly one whole BATCH frame per datagram',
      received: `${frames.length} frame(s), ${buf.length} bytes`,
      where,
      hint: 'lessons/day10/README.md (UDP): each datagram carries exactly one BATCH frame',
    });
  }
  return f;
}

// ---- records -------------------------------------------------------------------------------------

/** One ASCII record of exactly `bytes` bytes (without its LF), with attrs.id = id. */
function recordOfSize(id: string, bytes: number): string {
  const head = `{"ts":"2026-11-26T12:00:00.000Z","level":"info","msg":"`;
  const tailText = `","attrs":{"id":"${id}"}}`;
  const pad = bytes - head.length - tailText.length;
  if (pad < 0) throw new Error(`record ${id} cannot be ${bytes} bytes`);
  return head + 'x'.repeat(pad) + tailText;
}

function idOf(line: string): string {
  const m = /"id":"([^"]+)"/.exec(line);
  return m?.[1] ?? '?';
}

/** The records of BATCH payloads (no codec in day 11), split on LF. */
function linesOf(f: Frame): string[] {
  const text = f.payload.toString('utf8');
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

function framesSummary(frames: Frame[], max = 12): string {
  const parts = frames.slice(0, max).map((f) => `seq ${f.seq} count ${f.count} payload ${f.payload.length}`);
  return parts.join('; ') + (frames.length > max ? `; … (${frames.length} frames)` : '');
}

function flagNamed(r: RunResult, flag: string): boolean {
  return r.stderr.includes(flag);
}

// ---- the checks ----------------------------------------------------------------------------------

const d11_1: Check = {
  id: 'd11.1',
  title:
    'Process contract: ready lines for --transport tcp and udp, --help, bad flags exit 2, LOGSTREAM_* env, a done line',
  // Given: the CLI, the receivers and the done line are handed over; no TODO asks for them.
  given: true,
  points: 0,
  timeoutMs: 60_000,
  async run(ctx) {
    const [rxHelp, rxBogus, rxBadTransport, shHelp, shBogus] = await Promise.all([
      ctx.run('receiver', ['--help'], { timeoutMs: 20_000 }),
      ctx.run('receiver', ['--data-dir', await ctx.tmp(), '--port', '0', '--bogus'], { timeoutMs: 20_000 }),
      ctx.run('receiver', ['--data-dir', await ctx.tmp(), '--port', '0', '--transport', 'sctp'], { timeoutMs: 20_000 }),
      ctx.run('shipper', ['--help'], { timeoutMs: 20_000 }),
      ctx.run('shipper', ['--generate', '1', '--state-dir', await ctx.tmp(), '--bogus'], { timeoutMs: 20_000 }),
    ]);
    for (const [r, what] of [
      [rxHelp, 'receiver --help'],
      [shHelp, 'shipper --help'],
    ] as const) {
      expectEqual(r.exitCode, 0, {
        what: `${what} exit code`,
        where: what,
        hint: '--help prints usage on stdout and exits 0',
      });
    }
    for (const flag of ['--transport', '--port', '--data-dir'])
      expectTrue(rxHelp.stdout.includes(flag), {
        expected: `receiver --help to list ${flag}`,
        received: show(rxHelp.stdout.slice(0, 300)),
        where: 'receiver --help',
      });
    for (const flag of [
      '--transport',
      '--batch-records',
      '--batch-bytes',
      '--batch-delay-ms',
      '--max-datagram',
      '--target',
    ])
      expectTrue(shHelp.stdout.includes(flag), {
        expected: `shipper --help to list ${flag}`,
        received: show(shHelp.stdout.slice(0, 300)),
        where: 'shipper --help',
      });
    for (const [r, what, flag] of [
      [rxBogus, 'receiver --bogus', '--bogus'],
      [rxBadTransport, 'receiver --transport sctp', '--transport'],
      [shBogus, 'shipper --bogus', '--bogus'],
    ] as const) {
      expectEqual(r.exitCode, 2, {
        what: `${what} exit code`,
        where: what,
        hint: 'an unknown flag or a bad value exits 2',
      });
      expectTrue(flagNamed(r, flag), {
        expected: `stderr of \`${what}\` to name ${flag}`,
        received: show(r.stderr.slice(0, 300)),
        where: what,
      });
    }

    // TCP receiver by flags; UDP receiver by LOGSTREAM_* environment variables
    const tcp = await ctx.start('receiver', ['--host', '127.0.0.1', '--port', '0', '--data-dir', await ctx.tmp()]);
    expectEqual(tcp.ready['transport'], 'lsp1-tcp', {
      what: 'ready line "transport" (--transport tcp, the default)',
      where: 'receiver ready line',
      hint: 'LSP/1 over TCP announces "lsp1-tcp"',
    });
    expectEqual(tcp.ready['lesson'], 'day11', { what: 'ready line "lesson"', where: 'receiver ready line' });
    const udp = await ctx.start('receiver', [], {
      env: { LOGSTREAM_TRANSPORT: 'udp', LOGSTREAM_PORT: '0', LOGSTREAM_DATA_DIR: await ctx.tmp() },
    });
    expectEqual(udp.ready['transport'], 'lsp1-udp', {
      what: 'ready line "transport" with LOGSTREAM_TRANSPORT=udp',
      where: 'receiver ready line',
      hint: 'every flag also reads LOGSTREAM_<FLAG>; UDP announces "lsp1-udp"',
    });
    expectTrue(Number.isInteger(udp.port) && udp.port > 0, {
      expected: 'the UDP ready line to carry the bound port',
      received: show(udp.ready),
      where: 'receiver ready line',
    });

    // the shipper, target from the environment, to the check's own receiver: a done line, exit 0
    const fake = await startFakeReceiver(ctx);
    const sh = spawnShipper(ctx, ['--generate', '10', '--state-dir', await ctx.tmp(), '--progress-ms', '0'], {
      env: { LOGSTREAM_TARGET: `127.0.0.1:${fake.port}` },
    });
    const ex = await waitExit(sh, 20_000, 'with LOGSTREAM_TARGET set, the shipper ships to it and exits');
    expectExit0(sh, ex);
    const done = doneOf(sh);
    expectEqual(done['acked'], 10, { what: 'done line "acked"', where: `shipper done line ${show(done, 300)}` });
    for (const k of ['batches', 'recordsPerBatch', 'flushes', 'waitMs'])
      expectTrue(k in done, {
        expected: `the done line to report "${k}"`,
        received: show(done, 400),
        where: 'shipper done line',
        hint: 'day 11 done line: batches, recordsPerBatch, flushes {records, bytes, time, close}, socketWrites, waitMs {p50, p99}',
      });
    const [rs, us] = await Promise.all([tcp.stop(), udp.stop()]);
    for (const [s, what] of [
      [rs, 'tcp'],
      [us, 'udp'],
    ] as const)
      expectEqual(s.exitCode, 0, {
        what: `receiver (${what}) exit code after SIGTERM`,
        where: `receiver --transport ${what}`,
        hint: 'SIGTERM: flush, final stats, exit 0 within 5 s',
      });
  },
};

const d11_2: Check = {
  id: 'd11.2',
  title: 'A batch leaves when it holds --batch-records records (and the last partial one at the end of input)',
  points: 14,
  timeoutMs: 60_000,
  async run(ctx) {
    const fake = await startFakeReceiver(ctx);
    const size = randInt(ctx.rng, 30, 70);
    const full = randInt(ctx.rng, 8, 15);
    const extra = randInt(ctx.rng, 1, size - 1);
    const n = size * full + extra;
    const sh = spawnShipper(ctx, [
      '--target',
      `127.0.0.1:${fake.port}`,
      '--generate',
      String(n),
      '--seed',
      String(ctx.seed % 100_000),
      '--state-dir',
      await ctx.tmp(),
      '--progress-ms',
      '0',
      '--batch-records',
      String(size),
      '--batch-bytes',
      '1MiB',
      '--batch-delay-ms',
      '60000',
    ]);
    const ex = await waitExit(
      sh,
      30_000,
      'a batch leaves as soon as it holds --batch-records records; the last, partial one at the end of the input',
    );
    expectExit0(sh, ex);
    const frames = fake.batches.map((b) => b.frame);
    const counts = frames.map((f) => f.count);
    const want = [...Array<number>(full).fill(size), extra];
    expectEqual(counts, want, {
      what: `records per BATCH frame (--batch-records ${size}, ${n} records, --batch-delay-ms 60000)`,
      where: `frames received: ${framesSummary(frames)}`,
      hint: `your TODO in lessons/day11/batcher.ts (add): with a long delay and a large byte limit, every batch holds exactly --batch-records (${size}) records — not one more, not one less — and the rest leaves when the input ends`,
    });
    let next = frames[0]?.seq ?? 1;
    for (const f of frames) {
      expectEqual(f.seq, next, {
        what: 'BATCH seq (the first record of each batch follows the last of the previous one)',
        where: `frame ${framesSummary([f])}`,
      });
      next = f.seq + f.count;
    }
    const done = doneOf(sh);
    const flushes = done['flushes'] as Json | undefined;
    expectEqual(flushes?.['records'], full, {
      what: 'done line flushes.records (batches that left because they were full)',
      where: `shipper done line ${show(done, 400)}`,
      hint: "your TODO in lessons/day11/batcher.ts (add): a batch that leaves because it holds maxRecords items leaves with reason 'records' (flushes counts each reason)",
    });
    expectEqual(done['batches'], full + 1, {
      what: 'done line "batches"',
      where: `shipper done line ${show(done, 400)}`,
    });
  },
};

const d11_3: Check = {
  id: 'd11.3',
  title:
    'A batch leaves before it would pass --batch-bytes: never over, and never short of a record that would have fit',
  points: 14,
  timeoutMs: 60_000,
  async run(ctx) {
    const B = randInt(ctx.rng, 3000, 5000);
    const lines: string[] = [];
    // First batch exactly B bytes (records + their LFs): a batch may reach the limit, just not pass it.
    const first = [B - 4 * 400, 400, 400, 400, 400];
    first.forEach((sz, i) => lines.push(recordOfSize(`b-${i + 1}`, sz - 1)));
    const n = randInt(ctx.rng, 250, 350);
    for (let i = lines.length; i < n; i++) lines.push(recordOfSize(`b-${i + 1}`, randInt(ctx.rng, 80, 900)));
    const file = path.join(await ctx.tmp(), 'records.ndjson');
    await writeFile(file, lines.join('\n') + '\n');
    const flags = [
      '--input',
      file,
      '--progress-ms',
      '0',
      '--batch-records',
      '65535',
      '--batch-bytes',
      String(B),
      '--batch-delay-ms',
      '60000',
    ];
    // TCP through day 09's engine with your Batcher plugged in, and UDP (--max-datagram far above B) where
    // the shipper drives your Batcher directly: the same records must make the same batches.
    const fake = await startFakeReceiver(ctx);
    const udp = await startUdpListener(ctx);
    const sh = spawnShipper(ctx, ['--target', `127.0.0.1:${fake.port}`, '--state-dir', await ctx.tmp(), ...flags]);
    const su = spawnShipper(ctx, [
      '--transport',
      'udp',
      '--max-datagram',
      '65507',
      '--target',
      `127.0.0.1:${udp.port}`,
      '--state-dir',
      await ctx.tmp(),
      ...flags,
    ]);
    const [ex, exU] = await Promise.all([
      waitExit(sh, 30_000, 'a batch leaves when the next record would take it past --batch-bytes'),
      waitExit(su, 30_000, 'a batch leaves when the next record would take it past --batch-bytes (udp)'),
    ]);
    expectExit0(sh, ex);
    await udpHolds(udp, lines.length);
    const legs: Array<[string, Frame[]]> = [
      ['tcp', fake.batches.map((b) => b.frame)],
      ['udp', udp.datagrams.map((d, i) => decodeDatagram(d.buf, `datagram ${i + 1} (udp)`))],
    ];
    for (const [leg, frames] of legs) {
      const got = frames.flatMap(linesOf);
      expectEqual(got.length, lines.length, {
        what: `records received in all (${leg})`,
        where: `frames: ${framesSummary(frames) || '(none)'}${leg === 'udp' ? `; shipper stderr: ${tail(su.stderrText(), 3, 3) || '(empty)'}` : ''}`,
        hint: 'your TODO in lessons/day11/batcher.ts (add): flush BEFORE the record that would pass maxBytes (over UDP a batch that grew past the datagram limit cannot even be sent)',
      });
      for (let i = 0; i < lines.length; i++) {
        if (got[i] !== lines[i])
          fail({
            expected: `record ${i + 1} (id ${idOf(lines[i]!)}) at position ${i + 1}`,
            received: `id ${idOf(got[i] ?? '')}`,
            where: `the records of the BATCH frames, in order (${leg})`,
            hint: 'batching must not reorder records',
          });
      }
      let at = 0;
      for (let k = 0; k < frames.length; k++) {
        const f = frames[k]!;
        const where = `${leg} frame ${k + 1} of ${frames.length} (${framesSummary([f])}); --batch-bytes ${B}`;
        expectTrue(f.payload.length <= B, {
          expected: `every BATCH payload ≤ --batch-bytes (${B})`,
          received: `${f.payload.length} bytes`,
          where,
          hint: 'your TODO in lessons/day11/batcher.ts (add): flush BEFORE adding the record that would pass maxBytes (a record costs its bytes plus its LF)',
        });
        at += f.count;
        const next = lines[at];
        if (k < frames.length - 1 && next !== undefined) {
          const nextBytes = Buffer.byteLength(next) + 1;
          expectTrue(f.payload.length + nextBytes > B, {
            expected: `a batch to leave only when the next record would not fit (payload + next record > ${B})`,
            received: `payload ${f.payload.length} bytes left, yet the next record (${nextBytes} bytes with its LF) would have fit`,
            where,
            hint: 'your TODO in lessons/day11/batcher.ts (add): a batch that exactly reaches --batch-bytes is allowed: compare with >, not >=',
          });
        }
      }
      expectEqual(frames[0]?.count, 5, {
        what: `records in the first batch (5 records of exactly ${B} bytes with their LFs, ${leg})`,
        where: `frame 1: ${framesSummary(frames.slice(0, 1))}`,
        hint: 'your TODO in lessons/day11/batcher.ts (add): a batch may hold exactly --batch-bytes bytes; only passing it is not allowed',
      });
    }
    expectExit0(su, exU);
  },
};

const d11_4: Check = {
  id: 'd11.4',
  title:
    'A partial batch leaves --batch-delay-ms after its first record (tolerance: no sooner than D − 20 ms, no later than D + 700 ms)',
  points: 16,
  timeoutMs: 60_000,
  exclusive: true,
  async run(ctx) {
    const D = randInt(ctx.rng, 250, 400);
    const EARLY = 20;
    const LATE = 700;
    const fake = await startFakeReceiver(ctx);
    const sh = spawnShipper(
      ctx,
      [
        '--target',
        `127.0.0.1:${fake.port}`,
        '--input',
        '-',
        '--state-dir',
        await ctx.tmp(),
        '--progress-ms',
        '0',
        '--batch-records',
        '1000',
        '--batch-bytes',
        '1MiB',
        '--batch-delay-ms',
        String(D),
      ],
      { stdin: true },
    );
    await waitEvent(
      sh,
      'a state line to "streaming" (connected, HELLO answered)',
      (j) => j['event'] === 'state' && j['to'] === 'streaming',
      20_000,
    );
    for (const [round, k] of [
      [1, randInt(ctx.rng, 2, 5)],
      [2, randInt(ctx.rng, 2, 5)],
    ] as const) {
      const before = fake.batches.length;
      const recs = Array.from({ length: k }, (_, i) => recordOfSize(`t${round}-${i + 1}`, 120));
      const t0 = Date.now();
      await sh.write(recs.join('\n') + '\n');
      const got = await waitFor(() => fake.batches[before], {
        timeoutMs: D + LATE,
        what: `a BATCH with the ${k} records written at once (--batch-delay-ms ${D}, --batch-records 1000)`,
        where: `round ${round}`,
        hint: "your TODO in lessons/day11/batcher.ts (add): the batch's FIRST item arms one timer; --batch-delay-ms later it flushes the partial batch ('time'), even though no more records come",
        received: () => `no frame within ${D + LATE} ms`,
      });
      const dt = got.at - t0;
      ctx.log(`round ${round}: ${k} records written, BATCH of ${got.frame.count} arrived after ${dt} ms (D = ${D})`);
      expectTrue(dt >= D - EARLY, {
        expected: `the batch to leave no sooner than ${D - EARLY} ms after its first record (--batch-delay-ms ${D})`,
        received: `it arrived after ${dt} ms`,
        where: `round ${round}`,
        hint: 'your TODO in lessons/day11/batcher.ts (add): a batch waits for more records up to --batch-delay-ms; sending at once is batch size 1',
      });
      expectTrue(dt <= D + LATE, {
        expected: `the batch within ${D + LATE} ms`,
        received: `${dt} ms`,
        where: `round ${round}`,
      });
      expectEqual(got.frame.count, k, {
        what: `records in that batch (all ${k} written together)`,
        where: `round ${round}: ${framesSummary([got.frame])}`,
        hint: 'your TODO in lessons/day11/batcher.ts (add): records that arrive within the delay travel together: only the first one arms the timer',
      });
    }
    sh.endInput();
    const ex = await waitExit(sh, 10_000, 'end of input: the shipper sends what it has and exits');
    expectExit0(sh, ex);
    const flushes = doneOf(sh)['flushes'] as Json | undefined;
    expectTrue(Number(flushes?.['time']) >= 2, {
      expected: 'done line flushes.time ≥ 2 (both batches left on the timer)',
      received: show(flushes),
      where: 'shipper done line',
    });
  },
};

const d11_5: Check = {
  id: 'd11.5',
  title: 'SIGTERM sends the partial batch before exiting (TCP: ACKed; UDP: a last datagram): nothing lost',
  points: 14,
  timeoutMs: 60_000,
  exclusive: true,
  async run(ctx) {
    const k = randInt(ctx.rng, 5, 9);
    const recs = Array.from({ length: k }, (_, i) => recordOfSize(`term-${i + 1}`, randInt(ctx.rng, 90, 200)));
    const flags = [
      '--input',
      '-',
      '--progress-ms',
      '50',
      '--batch-records',
      '1000',
      '--batch-bytes',
      '64KiB',
      '--batch-delay-ms',
      '60000',
    ];

    // TCP: the check's receiver ACKs whatever arrives
    const fake = await startFakeReceiver(ctx);
    const tcp = spawnShipper(ctx, ['--target', `127.0.0.1:${fake.port}`, '--state-dir', await ctx.tmp(), ...flags], {
      stdin: true,
    });
    await waitEvent(
      tcp,
      'a state line to "streaming"',
      (j) => j['event'] === 'state' && j['to'] === 'streaming',
      20_000,
    );
    await tcp.write(recs.join('\n') + '\n');
    await waitEvent(
      tcp,
      `a progress line with read = ${k}`,
      (j) => j['event'] === 'progress' && Number(j['read']) >= k,
      10_000,
      '--progress-ms N prints {"event":"progress","read",…}',
    );
    expectEqual(fake.batches.length, 0, {
      what: 'BATCH frames before SIGTERM (the batch is neither full nor old enough)',
      where: 'tcp, --batch-delay-ms 60000',
      hint: 'your TODO in lessons/day11/batcher.ts (add): a batch that is neither full nor old enough stays open (it leaves on SIGTERM)',
    });
    tcp.kill('SIGTERM');
    const exT = await waitExit(
      tcp,
      6000,
      'SIGTERM: send the open batch, wait for its ACK, done line, exit 0 within 5 s',
    );
    expectExit0(tcp, exT);
    const gotT = fake.batches.flatMap((b) => linesOf(b.frame));
    expectEqual(gotT.map(idOf), recs.map(idOf), {
      what: `records received over TCP after SIGTERM`,
      where: `frames: ${framesSummary(fake.batches.map((b) => b.frame))}`,
      hint: "on SIGTERM the day 09 engine flushes the partial batch (your Batcher's flush) and drains the ACKs: check your TODOs in lessons/day11/batcher.ts",
    });
    expectEqual(doneOf(tcp)['acked'], k, { what: 'done line "acked" (tcp)', where: 'shipper done line' });

    // UDP: the check's socket
    const udp = await startUdpListener(ctx);
    const u = spawnShipper(
      ctx,
      ['--transport', 'udp', '--target', `127.0.0.1:${udp.port}`, '--state-dir', await ctx.tmp(), ...flags],
      { stdin: true },
    );
    await u.write(recs.join('\n') + '\n');
    await waitEvent(
      u,
      `a progress line with read = ${k} (udp)`,
      (j) => j['event'] === 'progress' && Number(j['read']) >= k,
      20_000,
      '--progress-ms N prints {"event":"progress","read",…} over UDP too',
    );
    expectEqual(udp.datagrams.length, 0, {
      what: 'datagrams before SIGTERM',
      where: 'udp, --batch-delay-ms 60000',
      hint: 'your TODO in lessons/day11/batcher.ts (add): a batch that is neither full nor old enough stays open (it leaves on SIGTERM)',
    });
    u.kill('SIGTERM');
    const exU = await waitExit(u, 6000, 'SIGTERM: send the open batch as a last datagram, done line, exit 0');
    expectExit0(u, exU);
    await udpHolds(udp, recs.length);
    const gotU = udp.datagrams.flatMap((d, i) => linesOf(decodeDatagram(d.buf, `datagram ${i + 1}`)));
    expectEqual(gotU.map(idOf), recs.map(idOf), {
      what: 'records received over UDP after SIGTERM',
      where: `${udp.datagrams.length} datagram(s) on port ${udp.port}`,
      hint: 'your TODOs in lessons/day11/batcher.ts (close: the partial batch leaves) and shipper.ts (the UDP shutdown handler: close the batcher, then wait for the send)',
    });
  },
};

const d11_6: Check = {
  id: 'd11.6',
  title: 'Order within a stream survives batching and no record goes twice (TCP through the receiver; UDP seqs)',
  points: 14,
  timeoutMs: 90_000,
  exclusive: true,
  async run(ctx) {
    const seed = ctx.seed % 100_000;
    // UDP: the seqs in the datagrams, decoded by the check
    const M = 6000;
    const udp = await startUdpListener(ctx);
    const u = spawnShipper(ctx, [
      '--transport',
      'udp',
      '--target',
      `127.0.0.1:${udp.port}`,
      '--generate',
      String(M),
      '--seed',
      String(seed),
      '--rate',
      '10000',
      '--state-dir',
      await ctx.tmp(),
      '--progress-ms',
      '0',
      '--batch-records',
      String(randInt(ctx.rng, 3, 9)),
      '--batch-delay-ms',
      '5',
    ]);
    const exU = await waitExit(u, 30_000, 'the UDP shipper sends everything and exits');
    expectExit0(u, exU);
    await udpHolds(udp, M);
    const seen = new Map<number, string>();
    let prev = 0;
    for (let d = 0; d < udp.datagrams.length; d++) {
      const f = decodeDatagram(udp.datagrams[d]!.buf, `datagram ${d + 1}`);
      const lines = linesOf(f);
      for (let i = 0; i < lines.length; i++) {
        const seq = f.seq + i;
        const id = idOf(lines[i]!);
        const dup = seen.get(seq);
        if (dup !== undefined)
          fail({
            expected: 'each seq in exactly one datagram',
            received: `seq ${seq} twice (records ${dup} and ${id})`,
            where: `datagram ${d + 1} (seq ${f.seq}, count ${f.count})`,
            hint: "your TODO in lessons/day11/shipper.ts (the UDP onFlush): a batch's seq is its first record's; the next batch starts after its LAST record, not one after its first",
          });
        seen.set(seq, id);
        if (id !== `s${seed}-${seq}`)
          fail({
            expected: `the record with seq ${seq} to be the ${seq}th record (attrs.id s${seed}-${seq})`,
            received: `attrs.id ${id}`,
            where: `datagram ${d + 1} (seq ${f.seq}, count ${f.count})`,
            hint: 'record i of a batch has seq + i',
          });
        if (seq < prev)
          fail({
            expected: 'seqs to grow from datagram to datagram',
            received: `seq ${seq} after ${prev}`,
            where: `datagram ${d + 1}`,
            hint: 'batches leave in the order they were filled',
          });
        prev = seq;
      }
    }
    const missing = M - seen.size;
    expectTrue(missing <= M / 100, {
      expected: `(nearly) all ${M} records over loopback UDP`,
      received: `${seen.size} records in ${udp.datagrams.length} datagrams`,
      where: `udp port ${udp.port}`,
      hint: 'UDP may drop, but on loopback at 10,000 records/s nothing should be missing',
    });

    // TCP: through the lesson's receiver, with small, uneven batches
    const N = 30_000;
    const dataDir = await ctx.tmp();
    const rx = await ctx.start('receiver', [
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--stats-interval-ms',
      '100',
    ]);
    const size = randInt(ctx.rng, 40, 300);
    const sh = spawnShipper(ctx, [
      '--target',
      `127.0.0.1:${rx.port}`,
      '--generate',
      String(N),
      '--seed',
      String(seed),
      '--state-dir',
      await ctx.tmp(),
      '--progress-ms',
      '0',
      '--batch-records',
      String(size),
      '--batch-bytes',
      '16KiB',
      '--batch-delay-ms',
      '2',
      '--window-batches',
      '4096',
    ]);
    const ex = await waitExit(sh, 60_000, 'the shipper delivers everything and exits');
    expectExit0(sh, ex);
    const stream = Number(doneOf(sh)['stream']);
    const stop = await rx.stop();
    expectEqual(stop.exitCode, 0, { what: 'receiver exit code after SIGTERM', where: 'receiver' });
    const { records } = await readRecords(dataDir);
    const rep = verifySeqs(records, { stream });
    const where = `${dataDir} (stream ${stream}, --batch-records ${size}, --batch-bytes 16KiB)`;
    expectTrue(rep.duplicated.length === 0 && rep.reordered === 0 && rep.lost.length === 0 && rep.count === N, {
      expected: `seqs 1..${N}, each once, in order`,
      received: `${rep.count} records; lost ${formatRanges(rep.lost)}; duplicated ${formatRanges(rep.duplicated)}; ${rep.reordered} out of order`,
      where,
      hint: "a batch's seq is its first record's, record i has seq + i, batches leave in the order they were filled",
    });
    for (let i = 0; i < records.length; i++) {
      const id = ((records[i]!.record['attrs'] as Json | undefined)?.['id'] as string | undefined) ?? '?';
      if (id !== `s${seed}-${i + 1}`)
        fail({
          expected: `record ${i + 1} to be the ${i + 1}th record generated (attrs.id s${seed}-${i + 1})`,
          received: `attrs.id ${id}`,
          where: `${where}, line ${records[i]!.lineNo} of ${records[i]!.file}`,
          hint: 'batching must keep the order records were read in',
        });
    }
  },
};

const d11_7: Check = {
  id: 'd11.7',
  title:
    'UDP: no datagram exceeds --max-datagram however records are sized; an exact fit is sent, a record that cannot fit is rejected',
  points: 14,
  timeoutMs: 60_000,
  async run(ctx) {
    const L = randInt(ctx.rng, 600, 1000);
    const P = L - HEADER_SIZE; // payload room
    const lines: string[] = [];
    let id = 0;
    const add = (bytesWithLf: number) => lines.push(recordOfSize(`u-${++id}`, bytesWithLf - 1));
    const rng: Rng = ctx.rng;
    let tooBigId = '';
    for (let block = 0; block < 30; block++) {
      for (let i = randInt(rng, 1, 6); i > 0; i--) add(randInt(rng, 90, 160)); // small ones
      add(P); // an exact fit: alone in its datagram, exactly L bytes
      const a = randInt(rng, 90, P - 100);
      add(a);
      add(P + 1 - a); // together one byte over: must NOT share a datagram
      add(P - randInt(rng, 1, 12)); // near the limit
      if (block === 17) {
        add(P + 1); // one byte too large even alone: rejected
        tooBigId = `u-${id}`;
      }
    }
    const file = path.join(await ctx.tmp(), 'mixed.ndjson');
    await writeFile(file, lines.join('\n') + '\n');
    const udp = await startUdpListener(ctx);
    const u = spawnShipper(ctx, [
      '--transport',
      'udp',
      '--target',
      `127.0.0.1:${udp.port}`,
      '--input',
      file,
      '--max-datagram',
      String(L),
      '--batch-records',
      '65535',
      '--batch-bytes',
      '1MiB',
      '--batch-delay-ms',
      '20',
      '--state-dir',
      await ctx.tmp(),
      '--progress-ms',
      '0',
    ]);
    await waitExit(u, 30_000, 'the UDP shipper sends everything it can and exits');
    await udpHolds(udp, lines.length - 1);
    const where = `udp port ${udp.port}, --max-datagram ${L}`;
    let largest = 0;
    const got: string[] = [];
    for (let d = 0; d < udp.datagrams.length; d++) {
      const buf = udp.datagrams[d]!.buf;
      largest = Math.max(largest, buf.length);
      if (buf.length > L)
        fail({
          expected: `every datagram ≤ --max-datagram (${L} bytes)`,
          received: `datagram ${d + 1} is ${buf.length} bytes`,
          where,
          hint: `your TODO in lessons/day11/shipper.ts (batchLimits): over UDP the 28-byte header counts, a payload may hold ${P} bytes, each record's LF included`,
        });
      got.push(...linesOf(decodeDatagram(buf, `datagram ${d + 1}, ${where}`)).map(idOf));
    }
    const want = lines.map(idOf).filter((x) => x !== tooBigId);
    expectEqual(got, want, {
      what: `the records received (all but ${tooBigId}, in order, once)`,
      where,
      hint: `your TODOs in lessons/day11/batcher.ts (add, fits) and shipper.ts (batchLimits): a record of exactly ${P} bytes with its LF fits (the datagram is then exactly ${L} bytes); only ${tooBigId} (${P + 1} bytes) cannot fit and is rejected`,
    });
    expectEqual(largest, L, { what: 'the largest datagram (the exact fits fill one completely)', where });
    const done = doneOf(u);
    expectEqual(done['rejected'], 1, {
      what: 'done line "rejected" (records too large for any datagram)',
      where: `shipper done line ${show(done, 300)}`,
      hint: 'your TODO in lessons/day11/batcher.ts (fits): a record that cannot fit alone does not fit; the UDP lane then rejects it with a clear error (lessons/day10/README.md, UDP), counted, never sent',
    });
    expectTrue(/too large|cannot fit|LS_ERR_TOO_LARGE/i.test(u.stderrText()), {
      expected: 'a clear error on stderr about the record that cannot fit',
      received: tail(u.stderrText(), 5, 5) || '(empty)',
      where: `pid ${u.pid} stderr`,
    });
  },
};

const d11_8: Check = {
  id: 'd11.8',
  title:
    'Settings that can never work are refused at start with the flag named (exit 2): zero, negative, --batch-bytes or --max-datagram smaller than a record',
  points: 14,
  timeoutMs: 60_000,
  async run(ctx) {
    const cases: Array<[string[], string]> = [
      [['--batch-records', '0'], '--batch-records'],
      [['--batch-records', '-5'], '--batch-records'],
      [['--batch-bytes', '0'], '--batch-bytes'],
      [['--batch-delay-ms', '-1'], '--batch-delay-ms'],
      [['--batch-bytes', String(randInt(ctx.rng, 100, 150))], '--batch-bytes'], // generated records are ~200 bytes
      [['--transport', 'udp', '--max-datagram', '64'], '--max-datagram'],
      [['--transport', 'udp', '--max-datagram', String(randInt(ctx.rng, 120, 170))], '--max-datagram'],
    ];
    const fake = await startFakeReceiver(ctx);
    const results = await Promise.all(
      cases.map(async ([extra]) =>
        ctx.run(
          'shipper',
          ['--target', `127.0.0.1:${fake.port}`, '--generate', '100', '--state-dir', await ctx.tmp(), ...extra],
          { timeoutMs: 20_000 },
        ),
      ),
    );
    for (let i = 0; i < cases.length; i++) {
      const [extra, flag] = cases[i]!;
      const r = results[i]!;
      const what = `shipper --generate 100 ${extra.join(' ')}`;
      expectEqual(r.exitCode, 2, {
        what: `exit code of \`${what}\``,
        where: `${what}; stderr: ${show(tail(r.stderr, 3, 3), 300)}`,
        hint: 'a setting that can never work is a usage error: one line naming the flag on stderr, exit 2, before connecting (--max-datagram over UDP: your TODO in lessons/day11/shipper.ts, validateDatagram)',
      });
      expectTrue(flagNamed(r, flag), {
        expected: `stderr to name ${flag}`,
        received: show(r.stderr.slice(0, 300)),
        where: what,
      });
    }
    expectEqual(fake.batches.length, 0, { what: 'BATCH frames sent by refused runs', where: "the check's receiver" });
  },
};

export const checks: Check[] = [d11_1, d11_2, d11_3, d11_4, d11_5, d11_6, d11_7, d11_8];
