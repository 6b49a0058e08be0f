// Graded checks for day 10: LSP/1 over UDP (lessons/day10/README.md, UDP), one BATCH frame per datagram, loss made visible.
// Black-box: the programs are driven through the process contract (CONVENTIONS.md §2); the checks build their own
// datagrams with shared/protocol and listen with their own UDP sockets.
import dgram from 'node:dgram';
import { encodeBatch } from '../shared/protocol/batch.ts';
import { encodeFrame, encodePing, FrameDecoder, FrameType, HEADER_SIZE, type Frame } from '../shared/protocol/frame.ts';
import { expectEqual, expectTrue, fail, show, waitFor } from './harness/assert.ts';
import {
  formatRanges,
  readRecords,
  readRejects,
  readStats,
  statNumber,
  type PersistedRecord,
  type Stats,
} from './harness/persisted.ts';
import { pick, randInt, type Rng } from './harness/rng.ts';
import type { Check, CheckContext, RunningProgram, RunResult } from './harness/types.ts';

export const lesson = 'day10';

type Rec = Record<string, unknown>;

// ---- programs ------------------------------------------------------------------------------------

interface Receiver {
  rx: RunningProgram;
  dataDir: string;
  startedAt: number;
}

/** Starts the receiver on a free port with its own data dir; stats every 100 ms so checks can wait on them. */
async function startReceiver(ctx: CheckContext, extra: string[] = []): Promise<Receiver> {
  const dataDir = await ctx.tmp();
  const args = ['--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, '--stats-interval-ms', '100', ...extra];
  const startedAt = Date.now();
  const rx = await ctx.start('receiver', args);
  ctx.log(`receiver pid ${rx.pid} on udp ${rx.host}:${rx.port}, data dir ${dataDir}, args ${args.join(' ')}`);
  if (!Number.isInteger(rx.port) || rx.port <= 0) {
    fail({
      expected: 'the ready line to carry the bound UDP port (a positive integer)',
      received: show(rx.ready['port']),
      where: 'ready line',
      hint: 'with --port 0 the OS picks a port; announce the one you got (socket.address().port)',
    });
  }
  return { rx, dataDir, startedAt };
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
    where: `stderr: ${show(r.stderr.trim().slice(-400))}`,
    hint,
  });
}

function stderrNames(r: RunResult, flag: string, cmd: string): void {
  const lines = r.stderr.split('\n').filter((l) => l.trim().length > 0);
  expectTrue(
    lines.some((l) => l.includes(flag)),
    {
      expected: `a stderr line naming ${flag} from \`${cmd}\``,
      received: show(r.stderr.trim().slice(0, 300) || '(empty stderr)'),
      where: 'stderr',
      hint: 'print one line on stderr that names the offending flag, then exit 2',
    },
  );
  expectTrue(!r.json.some((j) => j['event'] === 'ready'), {
    expected: `no ready line from \`${cmd}\``,
    received: 'a ready line on stdout',
    where: 'stdout',
    hint: 'validate every flag before binding the socket',
  });
}

function doneLine(r: RunResult, cmd: string): Rec {
  const done = r.json.find((j) => j['event'] === 'done');
  if (!done)
    fail({
      expected: `a {"event":"done",…} line on stdout of \`${cmd}\``,
      received: show(r.stdout.slice(-300) || '(empty stdout)'),
      where: 'shipper stdout',
      hint: `stderr: ${r.stderr.trim().slice(-300)}`,
    });
  return done;
}

// ---- UDP from the check's side ---------------------------------------------------------------------

interface UdpPeer {
  socket: dgram.Socket;
  /** `127.0.0.1:port` as the receiver sees us */
  localPeer: string;
  /** Sends each datagram, at most `maxInFlight` unconfirmed at once; resolves with the number of failed sends. */
  sendAll(datagrams: readonly Buffer[], maxInFlight?: number): Promise<number>;
  close(): void;
}

async function udpPeer(host: string, port: number): Promise<UdpPeer> {
  const socket = dgram.createSocket('udp4');
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.connect(port, host, () => resolve());
  });
  const local = socket.address();
  return {
    socket,
    localPeer: `${local.address}:${local.port}`,
    async sendAll(datagrams, maxInFlight = 1) {
      let inFlight = 0;
      let errors = 0;
      let wake: (() => void) | undefined;
      const done = () => {
        inFlight--;
        const w = wake;
        wake = undefined;
        w?.();
      };
      for (const d of datagrams) {
        while (inFlight >= maxInFlight) await new Promise<void>((r) => (wake = r));
        inFlight++;
        socket.send(d, (err) => {
          if (err) errors++;
          done();
        });
      }
      while (inFlight > 0) await new Promise<void>((r) => (wake = r));
      return errors;
    },
    close: () => {
      try {
        socket.close();
      } catch {
        // already closed
      }
    },
  };
}

interface Received {
  at: number;
  bytes: Buffer;
}

interface UdpListener {
  port: number;
  datagrams: Received[];
  close(): void;
}

/** The check's own UDP socket, to measure what a shipper sends. */
async function udpListener(): Promise<UdpListener> {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20 });
  const datagrams: Received[] = [];
  socket.on('message', (bytes) => datagrams.push({ at: performance.now(), bytes }));
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    datagrams,
    close: () => {
      try {
        socket.close();
      } catch {
        // already closed
      }
    },
  };
}

/** What the kernel grants a socket that asks for `bytes` of receive buffer (Linux doubles it and caps it). */
async function grantedRcvbuf(bytes: number): Promise<number> {
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: bytes });
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const granted = s.getRecvBufferSize();
  s.close();
  return granted;
}

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const port = s.address().port;
  s.close();
  return port;
}

interface DecodedDatagram {
  frame: Frame;
  lines: string[];
}

/** Exactly one BATCH frame, or the reason it is not. */
function decodeDatagram(bytes: Buffer): DecodedDatagram | string {
  let frames: Frame[];
  const d = new FrameDecoder({ maxPayloadBytes: 1 << 20 });
  try {
    frames = d.push(bytes);
  } catch (err) {
    return `not a valid LSP/1 frame (${(err as { code?: string }).code ?? String(err)})`;
  }
  if (frames.length !== 1 || d.bufferedBytes !== 0)
    return `${frames.length} complete frames and ${d.bufferedBytes} bytes left over (one datagram = exactly one frame)`;
  const frame = frames[0]!;
  if (frame.type !== FrameType.BATCH) return `a ${FrameType[frame.type] ?? frame.type} frame, not a BATCH`;
  if (frame.codec !== 0) return `codec ${frame.codec}: the checks expect uncompressed payloads`;
  const text = frame.payload.toString('utf8');
  const lines = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
  if (lines.length !== frame.count) return `count ${frame.count} but ${lines.length} lines in the payload`;
  return { frame, lines };
}

// ---- records ---------------------------------------------------------------------------------------

const TS = '2026-11-26T14:13:48.123Z';

function recText(id: string, extra: Rec = {}): string {
  return JSON.stringify({ ts: TS, level: 'info', msg: `record ${id}`, service: 'checks', ...extra, attrs: { id } });
}

function idOf(r: Rec): string | undefined {
  const attrs = r['attrs'];
  if (attrs && typeof attrs === 'object') {
    const id = (attrs as Rec)['id'];
    if (typeof id === 'string') return id;
  }
  return undefined;
}

function rxOf(p: PersistedRecord): Rec {
  const rx = p.record['_rx'];
  return rx && typeof rx === 'object' ? (rx as Rec) : {};
}

const where = (p: PersistedRecord) => `${p.file} line ${p.lineNo}`;

/** A record of exactly `bytes` UTF-8 bytes (as JSON text), padded with 1-, 2- and 3-byte characters. */
function recOfBytes(id: string, bytes: number, rng: Rng): string {
  const base = JSON.stringify({ ts: TS, level: 'info', msg: '', attrs: { id } });
  let pad = bytes - Buffer.byteLength(base);
  if (pad < 0) throw new RangeError(`a record cannot be as small as ${bytes} bytes`);
  let msg = '';
  while (pad > 0) {
    const r = rng();
    if (pad >= 3 && r < 0.3) {
      msg += '€';
      pad -= 3;
    } else if (pad >= 2 && r < 0.6) {
      msg += 'é';
      pad -= 2;
    } else {
      msg += pick(rng, ['a', 'b', 'x', ' ', '7']);
      pad -= 1;
    }
  }
  const text = JSON.stringify({ ts: TS, level: 'info', msg, attrs: { id } });
  if (Buffer.byteLength(text) !== bytes)
    throw new Error(`recOfBytes: made ${Buffer.byteLength(text)} bytes, wanted ${bytes}`);
  return text;
}

// ---- stats -------------------------------------------------------------------------------------------

async function statsNow(dataDir: string): Promise<Stats | null> {
  return readStats(dataDir).catch(() => null);
}

function streamStats(stats: Stats | null, stream: number): Record<string, unknown> | undefined {
  return stats?.streams?.[String(stream)];
}

interface SeqCounts {
  hwm: number;
  received: number;
  gaps: number;
  duplicates: number;
  reordered: number;
}

/** Waits until stats.json streams[stream] has exactly these counts. */
async function waitForStreamCounts(
  dataDir: string,
  stream: number,
  want: SeqCounts,
  timeoutMs: number,
  hint: string,
): Promise<void> {
  let got: unknown;
  await waitFor(
    async () => {
      const s = streamStats(await statsNow(dataDir), stream);
      got = s
        ? {
            hwm: s['hwm'],
            received: s['received'],
            gaps: s['gaps'],
            duplicates: s['duplicates'],
            reordered: s['reordered'],
          }
        : undefined;
      return got !== undefined && JSON.stringify(got) === JSON.stringify(want);
    },
    {
      timeoutMs,
      what: `stats.json streams["${stream}"] = ${JSON.stringify(want)}`,
      where: `${dataDir}/stats.json`,
      hint,
      received: () => (got ? JSON.stringify(got) : `no streams["${stream}"] entry`),
    },
  );
}

/**
 * The accounting model of the README (and lessons/day10/README.md (UDP)), run by the check on what it sent: per record with
 * seq q, q > hwm + 1 opens a gap, q ≤ hwm fills a gap (reordered) or is a duplicate.
 */
function expectedCounts(sends: ReadonlyArray<{ seq: number; count: number }>): SeqCounts & { persisted: Set<number> } {
  let hwm = 0;
  const missing = new Set<number>();
  const c = { hwm: 0, received: 0, gaps: 0, duplicates: 0, reordered: 0, persisted: new Set<number>() };
  for (const { seq, count } of sends) {
    for (let q = seq; q < seq + count; q++) {
      if (q > hwm) {
        for (let m = hwm + 1; m < q; m++) missing.add(m);
        c.gaps += q - hwm - 1;
        hwm = q;
        c.received++;
        c.persisted.add(q);
      } else if (missing.delete(q)) {
        c.gaps--;
        c.reordered++;
        c.received++;
        c.persisted.add(q);
      } else {
        c.duplicates++;
      }
    }
  }
  c.hwm = hwm;
  return c;
}

// ---- the checks ------------------------------------------------------------------------------------

const d10_1: Check = {
  id: 'd10.1',
  title: 'The process contract: ready line with the granted receive buffer, --help, bad flags exit 2, LOGSTREAM_<FLAG>',
  // Given: the lesson hands over the CLI, the socket options and the ready line; no TODO asks for them.
  given: true,
  points: 0,
  timeoutMs: 45_000,
  async run(ctx) {
    const dataDir = await ctx.tmp();
    const base = ['--data-dir', dataDir, '--port', '0'];
    const [help, shipHelp, bogus, badRcvbuf, badMaxDgram, badRate] = await Promise.all([
      ctx.run('receiver', ['--help'], { timeoutMs: 20_000 }),
      ctx.run('shipper', ['--help'], { timeoutMs: 20_000 }),
      ctx.run('receiver', [...base, '--bogus'], { timeoutMs: 20_000 }),
      ctx.run('receiver', [...base, '--rcvbuf', 'lots'], { timeoutMs: 20_000 }),
      ctx.run('shipper', ['--target', '127.0.0.1:9', '--generate', '1', '--max-datagram', '70000'], {
        timeoutMs: 20_000,
      }),
      ctx.run('shipper', ['--target', '127.0.0.1:9', '--generate', '1', '--rate', 'fast'], { timeoutMs: 20_000 }),
    ]);
    exitedWith(help, 0, 'receiver --help', '--help prints usage on stdout and exits 0');
    const usage = help.stdout + help.stderr;
    expectTrue(
      ['--port', '--data-dir', '--rcvbuf', '--max-datagram'].every((f) => usage.includes(f)),
      {
        expected: 'receiver usage naming --port, --data-dir, --rcvbuf and --max-datagram',
        received: show(usage.slice(0, 400)),
        where: 'receiver --help',
        hint: 'list every flag in --help',
      },
    );
    exitedWith(shipHelp, 0, 'shipper --help', 'the shipper follows the same contract: --help exits 0');
    const shipUsage = shipHelp.stdout + shipHelp.stderr;
    expectTrue(
      ['--target', '--max-datagram', '--rate', '--stream-id'].every((f) => shipUsage.includes(f)),
      {
        expected: 'shipper usage naming --target, --max-datagram, --rate and --stream-id',
        received: show(shipUsage.slice(0, 400)),
        where: 'shipper --help',
      },
    );
    exitedWith(bogus, 2, 'receiver --bogus', 'an unknown flag is an error: one stderr line naming it, exit 2');
    stderrNames(bogus, '--bogus', 'receiver --bogus');
    exitedWith(
      badRcvbuf,
      2,
      'receiver --rcvbuf lots',
      'a bad value is an error: one stderr line naming the flag, exit 2',
    );
    stderrNames(badRcvbuf, '--rcvbuf', 'receiver --rcvbuf lots');
    exitedWith(
      badMaxDgram,
      2,
      'shipper --max-datagram 70000',
      'UDP carries at most 65507 bytes: a larger --max-datagram is a usage error (exit 2)',
    );
    stderrNames(badMaxDgram, '--max-datagram', 'shipper --max-datagram 70000');
    exitedWith(badRate, 2, 'shipper --rate fast', '--rate takes a number of records/s, 0 or max');
    stderrNames(badRate, '--rate', 'shipper --rate fast');

    // LOGSTREAM_<FLAG>, the ready line, and the receive buffer the kernel granted (not the one asked for).
    const port = await freeUdpPort();
    const ask = pick(ctx.rng, [96 << 10, 192 << 10, 320 << 10]);
    const granted = await grantedRcvbuf(ask);
    ctx.log(`asking for rcvbuf ${ask} through LOGSTREAM_RCVBUF; this kernel grants ${granted} for that`);
    const rx = await ctx.start('receiver', ['--data-dir', dataDir, '--stats-interval-ms', '100'], {
      env: { LOGSTREAM_PORT: String(port), LOGSTREAM_RCVBUF: String(ask) },
    });
    ctx.log(`ready ${JSON.stringify(rx.ready)}`);
    const r = rx.ready;
    const hint =
      '{"event":"ready","role":"receiver","lesson":"day10","transport":"lsp1-udp","host":…,"port":…,"rcvbuf":<granted>}';
    expectEqual(r['role'], 'receiver', { what: 'ready line "role"', where: 'ready line', hint });
    expectEqual(r['lesson'], 'day10', { what: 'ready line "lesson"', where: 'ready line', hint });
    expectEqual(r['transport'], 'lsp1-udp', { what: 'ready line "transport"', where: 'ready line', hint });
    expectEqual(r['host'], '127.0.0.1', { what: 'ready line "host" (default --host)', where: 'ready line' });
    expectEqual(r['port'], port, {
      what: 'ready line "port" when started with LOGSTREAM_PORT',
      where: 'ready line',
      hint: 'every flag also reads LOGSTREAM_<FLAG> from the environment (flag first)',
    });
    expectEqual(r['rcvbuf'], granted, {
      what: `ready line "rcvbuf" after asking for ${ask} bytes (LOGSTREAM_RCVBUF)`,
      where: 'ready line',
      hint: 'report what the kernel GRANTED (socket.getRecvBufferSize() after bind), not what you asked for: Linux doubles the request and caps it at net.core.rmem_max',
    });
    await waitFor(
      async () => {
        const got = statNumber(await statsNow(dataDir), 'udp.rcvbuf');
        expectEqual(got, granted, {
          what: 'stats.json udp.rcvbuf (the granted receive buffer)',
          where: `${dataDir}/stats.json`,
        });
        return true;
      },
      { timeoutMs: 5000, what: 'stats.json with udp.rcvbuf', where: `${dataDir}/stats.json` },
    );
  },
};

const d10_2: Check = {
  id: 'd10.2',
  title: '10,000 records through the shipper at a gentle rate: all delivered, none duplicated, _rx has stream and seq',
  points: 10,
  timeoutMs: 60_000,
  async run(ctx) {
    const N = 10_000;
    const RATE = 20_000;
    const { rx, dataDir } = await startReceiver(ctx);
    const stream = randInt(ctx.rng, 1, 0xffff_fff0);
    const seed = randInt(ctx.rng, 1, 1_000_000);
    const args = [
      '--target',
      `${rx.host}:${rx.port}`,
      '--generate',
      String(N),
      '--seed',
      String(seed),
      '--rate',
      String(RATE),
      '--stream-id',
      String(stream),
    ];
    const cmd = `shipper ${args.join(' ')}`;
    const res = await ctx.run('shipper', args, { timeoutMs: 30_000 });
    exitedWith(res, 0, cmd, 'the shipper exits 0 once every record was handed to the socket');
    const done = doneLine(res, cmd);
    ctx.log(`done ${JSON.stringify(done)}`);
    expectEqual(done['sent'], N, { what: 'done line "sent" (records)', where: 'shipper done line' });
    expectEqual(done['rejected'], 0, {
      what: 'done line "rejected"',
      where: 'shipper done line',
      hint: 'generated records (~200 bytes) all fit in a 1472-byte datagram',
    });
    const dgrams = done['datagrams'];
    expectTrue(typeof dgrams === 'number' && dgrams > 0 && dgrams <= N / 3, {
      expected: `done line "datagrams": the number of datagrams sent, a few records each (at most ${N / 3} for ${N} records of ~200 bytes)`,
      received: show(dgrams),
      where: 'shipper done line',
      hint: 'your TODO in lessons/day10/shipper.ts (pack): add records to the open datagram while the next one fits, then close it',
    });

    let persisted = 0;
    let last = -1;
    let lastChange = Date.now();
    // Until all N are there, or the count stops moving for a second (then the checks below say what is missing).
    await waitFor(
      async () => {
        persisted = statNumber(await statsNow(dataDir), 'records.persisted') ?? 0;
        if (persisted !== last) {
          last = persisted;
          lastChange = Date.now();
        }
        return persisted >= N || (persisted > 0 && Date.now() - lastChange > 1000);
      },
      {
        timeoutMs: 10_000,
        what: `stats.json records.persisted to reach ${N}`,
        where: `${dataDir}/stats.json`,
        hint: 'persist every record of every good datagram',
        received: async () => {
          const st = await statsNow(dataDir);
          return `records.persisted = ${persisted}; streams = ${JSON.stringify(st?.streams ?? {})}; udp = ${JSON.stringify(st?.['udp'] ?? null)}`;
        },
      },
    );
    const read = await waitFor(
      async () => {
        const r = await readRecords(dataDir);
        return r.records.length >= persisted ? r : undefined;
      },
      {
        timeoutMs: 5000,
        what: `${persisted} records in <data-dir>/*.ndjson (stats.json records.persisted)`,
        where: dataDir,
      },
    );
    expectTrue(read.invalid.length === 0, {
      expected: 'every line of *.ndjson to be a JSON object',
      received: `${read.invalid.length} bad lines, first: ${show(read.invalid[0]?.text)}`,
      where: read.invalid[0] ? `${read.invalid[0].file} line ${read.invalid[0].lineNo}` : dataDir,
    });
    const ofStream = read.records.filter((p) => rxOf(p)['stream'] === stream);
    expectEqual(ofStream.length, N, {
      what: `records persisted with _rx.stream = ${stream} (--stream-id)`,
      where: dataDir,
      hint: '_rx gets the stream id and the seq of each record: {"ts","peer","lane","stream","seq"}',
    });
    const seen = new Map<number, number>();
    for (const p of ofStream) {
      const meta = rxOf(p);
      const seq = meta['seq'];
      if (typeof seq !== 'number') fail({ expected: '_rx.seq as a number', received: show(meta), where: where(p) });
      seen.set(seq, (seen.get(seq) ?? 0) + 1);
      // --generate N --seed S makes record i (from 1) carry attrs.id "s<S>-<i>": seq i must be record i.
      const id = idOf(p.record);
      if (id !== `s${seed}-${seq}`)
        fail({
          expected: `the record with _rx.seq ${seq} to be generated record #${seq} (attrs.id "s${seed}-${seq}")`,
          received: `attrs.id ${show(id)}`,
          where: where(p),
          hint: 'record i of a BATCH has seq = the frame seq + i; seqs start at 1 and grow by 1 per record',
        });
      if (meta['lane'] !== 'day10' || typeof meta['peer'] !== 'string' || !/^127\.0\.0\.1:\d+$/.test(meta['peer'])) {
        fail({
          expected: '_rx.lane "day10" and _rx.peer "127.0.0.1:<port>" (the datagram\'s source)',
          received: show(meta),
          where: where(p),
        });
      }
    }
    const missing: number[] = [];
    for (let s = 1; s <= N; s++) if (!seen.has(s)) missing.push(s);
    const dups = [...seen].filter(([, n]) => n > 1).map(([s]) => s);
    expectTrue(missing.length === 0 && dups.length === 0, {
      expected: `seqs 1..${N}, each persisted once`,
      received: `missing ${formatRanges(missing)}; duplicated ${formatRanges(dups)}`,
      where: dataDir,
      hint: missing.length
        ? `stats: ${JSON.stringify((await statsNow(dataDir))?.['udp'] ?? null)}`
        : 'a duplicate seq is counted, not written again',
    });
    await waitForStreamCounts(
      dataDir,
      stream,
      { hwm: N, received: N, gaps: 0, duplicates: 0, reordered: 0 },
      5000,
      'your TODOs in lessons/day10/seq-accounting.ts (account, openGap): per stream, hwm is the highest seq seen and received counts the records persisted',
    );
  },
};

const d10_3: Check = {
  id: 'd10.3',
  title:
    'Sequence accounting is exact: skipped, repeated and reordered seqs are counted as gaps, duplicates, reordered',
  points: 25,
  timeoutMs: 30_000,
  async run(ctx) {
    const { rx, dataDir } = await startReceiver(ctx);
    const A = randInt(ctx.rng, 1, 0x7fff_ffff);
    const B = A + 1;
    // Stream A: seqs 1..MAX cut into batches, then some batches are dropped, swapped, repeated, and a few
    // resends overlap what came before.
    const MAX = 150;
    const batches: Array<{ seq: number; count: number }> = [];
    for (let s = 1; s <= MAX;) {
      const count = Math.min(randInt(ctx.rng, 1, 4), MAX - s + 1);
      batches.push({ seq: s, count });
      s += count;
    }
    const plan: Array<{ seq: number; count: number }> = [];
    const delayed: Array<{ at: number; b: { seq: number; count: number } }> = [];
    for (let i = 0; i < batches.length; i++) {
      const b = batches[i]!;
      const r = ctx.rng();
      if (r < 0.12) continue; // lost
      if (r < 0.24)
        delayed.push({ at: i + randInt(ctx.rng, 1, 4), b }); // late: after a few later batches
      else plan.push(b);
      if (ctx.rng() < 0.1) delayed.push({ at: i + randInt(ctx.rng, 0, 3), b }); // a copy, now or a little later
      for (const d of delayed.filter((x) => x.at === i)) plan.push(d.b);
    }
    for (const d of delayed.filter((x) => x.at >= batches.length)) plan.push(d.b);
    for (let k = 0; k < 4; k++) {
      // Resends that straddle what came before: part duplicates or fills, part new.
      const at = randInt(ctx.rng, 1, plan.length - 1);
      const seq = randInt(ctx.rng, 1, MAX - 4);
      plan.splice(at, 0, { seq, count: randInt(ctx.rng, 2, 5) });
    }
    // Stream B, interleaved: in order, with one run of seqs skipped.
    const planB = [
      { seq: 1, count: 3 },
      { seq: 4, count: 3 },
      { seq: 10, count: 2 },
      { seq: 12, count: 1 },
    ];
    const datagrams: Buffer[] = [];
    const order: string[] = [];
    let bi = 0;
    for (let i = 0; i < plan.length; i++) {
      const p = plan[i]!;
      datagrams.push(
        encodeBatch({
          stream: A,
          seq: p.seq,
          records: Array.from({ length: p.count }, (_, k) => recText(`A-${p.seq + k}`)),
        }),
      );
      order.push(`A${p.seq}+${p.count}`);
      if (i % 7 === 3 && bi < planB.length) {
        const q = planB[bi++]!;
        datagrams.push(
          encodeBatch({
            stream: B,
            seq: q.seq,
            records: Array.from({ length: q.count }, (_, k) => recText(`B-${q.seq + k}`)),
          }),
        );
        order.push(`B${q.seq}+${q.count}`);
      }
    }
    while (bi < planB.length) {
      const q = planB[bi++]!;
      datagrams.push(
        encodeBatch({
          stream: B,
          seq: q.seq,
          records: Array.from({ length: q.count }, (_, k) => recText(`B-${q.seq + k}`)),
        }),
      );
      order.push(`B${q.seq}+${q.count}`);
    }
    const sentA = plan;
    const sentB = planB;
    const wantA = expectedCounts(sentA);
    const wantB = expectedCounts(sentB);
    ctx.log(
      `stream A=${A}: ${sentA.length} datagrams, expected ${JSON.stringify({ ...wantA, persisted: wantA.persisted.size })}`,
    );
    ctx.log(`stream B=${B}: expected ${JSON.stringify({ ...wantB, persisted: wantB.persisted.size })}`);
    ctx.log(`send order (stream, first seq + count): ${order.join(' ')}`);

    const peer = await udpPeer(rx.host, rx.port);
    try {
      // One at a time over loopback: nothing is lost or reordered on the way, only by our plan.
      const errors = await peer.sendAll(datagrams, 1);
      expectEqual(errors, 0, {
        what: 'failed sends from the check',
        where: `udp ${rx.host}:${rx.port}`,
        hint: 'is the receiver bound to the UDP port it announced?',
      });
    } finally {
      peer.close();
    }
    const hint =
      'your TODOs in lessons/day10/seq-accounting.ts (account, openGap): per record with seq q: q > hwm + 1 → gaps += q - hwm - 1 (remember the missing seqs); q ≤ hwm and q was missing → reordered++, gaps--; q ≤ hwm otherwise → duplicates++ (not written again). received counts records persisted (new ones)';
    const { persisted: pa, ...countsA } = wantA;
    const { persisted: pb, ...countsB } = wantB;
    await waitForStreamCounts(dataDir, A, countsA, 5000, hint);
    await waitForStreamCounts(dataDir, B, countsB, 5000, hint);

    // The files hold each seq that arrived exactly once, with the right record at the right seq.
    const total = pa.size + pb.size;
    const read = await waitFor(
      async () => {
        const r = await readRecords(dataDir);
        return r.records.length >= total ? r : undefined;
      },
      {
        timeoutMs: 5000,
        what: `${total} records in <data-dir>/*.ndjson`,
        where: dataDir,
        received: async () => `${(await readRecords(dataDir)).records.length} records`,
      },
    );
    for (const [stream, name, want] of [
      [A, 'A', pa],
      [B, 'B', pb],
    ] as const) {
      const got = new Map<number, number>();
      for (const p of read.records) {
        const meta = rxOf(p);
        if (meta['stream'] !== stream) continue;
        const seq = meta['seq'] as number;
        got.set(seq, (got.get(seq) ?? 0) + 1);
        if (idOf(p.record) !== `${name}-${seq}`)
          fail({
            expected: `the record persisted with _rx.seq ${seq} to be record ${name}-${seq}`,
            received: `attrs.id ${show(idOf(p.record))}`,
            where: where(p),
            hint: 'record i of a BATCH has seq = the frame seq + i',
          });
      }
      const missing = [...want].filter((s) => !got.has(s)).sort((a, b) => a - b);
      const extra = [...got.keys()].filter((s) => !want.has(s)).sort((a, b) => a - b);
      const dups = [...got]
        .filter(([, n]) => n > 1)
        .map(([s]) => s)
        .sort((a, b) => a - b);
      expectTrue(missing.length === 0 && extra.length === 0 && dups.length === 0, {
        expected: `stream ${name} (${stream}): each seq that arrived persisted exactly once (${want.size} seqs)`,
        received: `missing ${formatRanges(missing) || 'none'}; unexpected ${formatRanges(extra) || 'none'}; written more than once ${formatRanges(dups) || 'none'}`,
        where: dataDir,
        hint: 'your TODOs in lessons/day10/seq-accounting.ts (account, openGap): a late record that fills a gap is persisted (its mask bit 1); a duplicate is counted and not written again (0)',
      });
    }
    const dupTotal = countsA.duplicates + countsB.duplicates;
    await waitFor(async () => statNumber(await statsNow(dataDir), 'records.duplicates') === dupTotal, {
      timeoutMs: 3000,
      what: `stats.json records.duplicates = ${dupTotal} (the streams' duplicates summed)`,
      where: `${dataDir}/stats.json`,
      received: async () => `records.duplicates = ${show(statNumber(await statsNow(dataDir), 'records.duplicates'))}`,
    });
  },
};

const d10_4: Check = {
  id: 'd10.4',
  title:
    'Under overload the reported loss is the true loss, the kernel drops are reported, and the receiver stays healthy',
  points: 25,
  timeoutMs: 40_000,
  exclusive: true,
  async run(ctx) {
    const K = 5; // records per datagram
    const DATAGRAMS = 6000;
    const N = K * DATAGRAMS;
    const { rx, dataDir } = await startReceiver(ctx, ['--rcvbuf', '4096']);
    const stream = randInt(ctx.rng, 1, 0xffff_fff0);
    const datagrams: Buffer[] = [];
    const pad = 'x'.repeat(150);
    for (let d = 0; d < DATAGRAMS; d++) {
      const seq = d * K + 1;
      datagrams.push(
        encodeBatch({
          stream,
          seq,
          records: Array.from({ length: K }, (_, k) => recText(`o-${seq + k}`, { msg: pad })),
        }),
      );
    }
    const peer = await udpPeer(rx.host, rx.port);
    let sendErrors: number;
    let probeSends = 0;
    try {
      const t0 = Date.now();
      sendErrors = await peer.sendAll(datagrams, 256);
      ctx.log(
        `blasted ${DATAGRAMS} datagrams (${N} records, ${datagrams[0]!.length} bytes each) in ${Date.now() - t0} ms at a receiver with --rcvbuf 4096; ${sendErrors} sends failed`,
      );

      // Let the receiver work through what it got: received stops moving for a few stats updates.
      let last = -1;
      let stable = 0;
      let lastUpdate: unknown;
      await waitFor(
        async () => {
          const st = await statsNow(dataDir);
          if (!st || st['updatedAt'] === lastUpdate) return false;
          lastUpdate = st['updatedAt'];
          const now = statNumber(st, 'records.received') ?? -1;
          stable = now === last ? stable + 1 : 0;
          last = now;
          return stable >= 3;
        },
        {
          timeoutMs: 10_000,
          what: 'the receiver to finish what it received (stats.json records.received stops moving)',
          where: `${dataDir}/stats.json`,
        },
      );
      expectTrue(!rx.exited, {
        expected: 'the receiver to survive the overload',
        received: `it exited; stderr: ${show(rx.stderrText().slice(-400))}`,
        where: `pid ${rx.pid}`,
      });

      // Healthy: a record sent afterwards (seq N + 1) is persisted. Sent again if it does not show up.
      const probe = encodeBatch({ stream, seq: N + 1, records: [recText('probe')] });
      let lastProbeAt = 0;
      await waitFor(
        async () => {
          if (Date.now() - lastProbeAt > 700) {
            probeSends++;
            lastProbeAt = Date.now();
            await peer.sendAll([probe]);
          }
          return (await readRecords(dataDir)).records.some((p) => idOf(p.record) === 'probe');
        },
        {
          timeoutMs: 6000,
          what: 'a record sent after the overload (the "probe", seq N + 1) to be persisted',
          where: dataDir,
          hint: 'the receiver must stay healthy under overload: keep reading, drop nothing it has read',
        },
      );
    } finally {
      peer.close();
    }
    ctx.log(`probe sent ${probeSends} time(s)`);

    // The true loss, from the files: seqs 1..N+1 that were not persisted.
    const read = await readRecords(dataDir);
    const seen = new Map<number, number>();
    for (const p of read.records) {
      const meta = rxOf(p);
      if (meta['stream'] === stream && typeof meta['seq'] === 'number')
        seen.set(meta['seq'], (seen.get(meta['seq']) ?? 0) + 1);
    }
    // (The probe may have been sent twice: its copies are the check's doing, d10.3 grades dedup.)
    const dups = [...seen].filter(([s, n]) => n > 1 && s <= N).map(([s]) => s);
    expectTrue(dups.length === 0, {
      expected: 'no seq persisted twice',
      received: `seqs ${formatRanges(dups)} twice`,
      where: dataDir,
    });
    const lost: number[] = [];
    for (let s = 1; s <= N + 1; s++) if (!seen.has(s)) lost.push(s);
    const lostBlast = lost.filter((s) => s <= N).length;
    ctx.log(
      `true loss from the files: ${lost.length} of ${N + 1} records (${((100 * lost.length) / (N + 1)).toFixed(1)}%): ${formatRanges(lost, 5)}`,
    );
    expectTrue(lostBlast > 0, {
      expected: `some loss when ${DATAGRAMS} datagrams are sent as fast as possible at a receiver with --rcvbuf 4096`,
      received: 'every record arrived: the check could not overload the receiver',
      where: dataDir,
      hint: 'is --rcvbuf applied to the socket (recvBufferSize / setRecvBufferSize)?',
    });

    let st: Stats | null = null;
    await waitFor(
      async () => {
        st = await statsNow(dataDir);
        const s = streamStats(st, stream);
        expectEqual(s?.['hwm'], N + 1, {
          what: `stats.json streams["${stream}"].hwm (the probe's seq)`,
          where: `${dataDir}/stats.json`,
          hint: 'your TODO in lessons/day10/seq-accounting.ts (account): hwm is the highest seq seen on the stream',
        });
        expectEqual(s?.['gaps'], lost.length, {
          what: `stats.json streams["${stream}"].gaps = the records missing from the files (seqs sent minus seqs persisted)`,
          where: `${dataDir}/stats.json`,
          hint: 'your TODOs in lessons/day10/seq-accounting.ts (account, openGap): every seq below the highest seen that never arrived is a gap; count it when a later seq shows it is missing',
        });
        return true;
      },
      { timeoutMs: 5000, what: 'stats.json to account for the loss', where: `${dataDir}/stats.json` },
    );
    const stats = st as Stats | null;
    const kernelDrops = statNumber(stats, 'udp.kernelDrops');
    const appDrops = statNumber(stats, 'udp.appDrops') ?? 0;
    const dupProbes = Number(streamStats(stats, stream)?.['duplicates'] ?? 0);
    ctx.log(
      `stats: gaps ${lost.length}, udp.kernelDrops ${kernelDrops}, udp.appDrops ${appDrops}, probe duplicates ${dupProbes}`,
    );
    expectTrue(typeof kernelDrops === 'number' && kernelDrops > 0, {
      expected:
        "stats.json udp.kernelDrops: the kernel's drop counter for the receiver's socket (> 0 after this overload)",
      received: show(kernelDrops),
      where: `${dataDir}/stats.json`,
      hint: 'your TODOs in lessons/day10/kernel-drops.ts: parse the rows of /proc/net/udp (and udp6) and take the "drops" column of the row whose local address and port are your socket\'s',
    });
    // Every lost datagram was dropped by some layer: the kernel (buffer full) or the receiver itself.
    const lostDatagrams = lostBlast / K + (probeSends - 1 - dupProbes);
    if (sendErrors === 0) {
      expectEqual(kernelDrops + appDrops, lostDatagrams, {
        what: `udp.kernelDrops + udp.appDrops = the datagrams that never made it (${lostBlast / K} of the blast${probeSends > 1 ? `, ${probeSends - 1 - dupProbes} probe resends` : ''})`,
        where: `${dataDir}/stats.json`,
        hint: "your TODO in lessons/day10/kernel-drops.ts (readKernelUdpCounters): the kernel's counter is per socket, take the row of YOUR socket's local address and port",
      });
    }
    expectTrue(!rx.exited, {
      expected: 'the receiver still running after the overload',
      received: 'it exited',
      where: `pid ${rx.pid}`,
    });
  },
};

const d10_5: Check = {
  id: 'd10.5',
  title:
    'Garbage, truncated frames and bad CRCs are counted by reason and sampled at a bounded rate; good datagrams around them are persisted',
  points: 15,
  timeoutMs: 40_000,
  async run(ctx) {
    const SAMPLES_PER_SEC = 20;
    const { rx, dataDir, startedAt } = await startReceiver(ctx, [
      '--max-datagram',
      '2000',
      '--reject-samples-per-sec',
      String(SAMPLES_PER_SEC),
    ]);
    const G = randInt(ctx.rng, 1, 0x7fff_ffff);
    const H = G + 1;
    const N = 30;
    const BAD_SEQ = randInt(ctx.rng, 3, N - 2);
    const good: Buffer[] = [];
    for (let seq = 1; seq <= N; seq += 2) {
      const records = [seq, seq + 1].map((s) =>
        s === BAD_SEQ ? JSON.stringify({ ts: TS, msg: 'no level', attrs: { id: `G-${s}` } }) : recText(`G-${s}`),
      );
      good.push(encodeBatch({ stream: G, seq, records }));
    }
    const garbage = () => {
      const b = Buffer.alloc(randInt(ctx.rng, 40, 300));
      for (let i = 0; i < b.length; i++) b[i] = randInt(ctx.rng, 0, 255);
      b[0] = randInt(ctx.rng, 0, 0x4b); // never "L": not a frame
      return b;
    };
    const frameH = (seq: number) => encodeBatch({ stream: H, seq, records: [recText(`H-${seq}`)] });
    const flipped = (i: number) => {
      // A copy of good datagram i with one character of a msg changed: still valid JSON, wrong CRC.
      const b = Buffer.from(good[i]!);
      const at = b.indexOf('record G-', HEADER_SIZE);
      b[at] = 'R'.charCodeAt(0);
      return b;
    };
    const oneGood = good[0]!;
    const countMismatch = encodeFrame({
      type: FrameType.BATCH,
      stream: H,
      seq: 20,
      count: 3,
      payload: Buffer.from(`${recText('H-20')}\n${recText('H-21')}\n`),
    });
    const malformed: Array<{ reason: string; bytes: Buffer; before?: number }> = [
      { reason: 'bad_magic', bytes: garbage() },
      { reason: 'bad_magic', bytes: garbage() },
      { reason: 'bad_magic', bytes: garbage() },
      { reason: 'truncated', bytes: Buffer.from('hello') },
      { reason: 'truncated', bytes: oneGood.subarray(0, randInt(ctx.rng, 5, HEADER_SIZE - 1)) },
      { reason: 'truncated', bytes: oneGood.subarray(0, randInt(ctx.rng, HEADER_SIZE + 1, oneGood.length - 1)) },
      { reason: 'bad_crc', bytes: flipped(3), before: 3 },
      { reason: 'bad_crc', bytes: flipped(9), before: 9 },
      { reason: 'not_batch', bytes: encodePing(42) },
      { reason: 'trailing_bytes', bytes: Buffer.concat([frameH(1), frameH(2)]) },
      { reason: 'bad_count', bytes: countMismatch },
      {
        reason: 'too_large',
        bytes: encodeBatch({ stream: H, seq: 30, records: [recText('H-30', { msg: 'y'.repeat(2500) })] }),
      },
    ];
    // Interleave: a corrupted copy right before its good original; the rest at random places.
    const datagrams: Buffer[] = [];
    const labels: string[] = [];
    const loose = malformed.filter((m) => m.before === undefined);
    for (let i = 0; i < good.length; i++) {
      for (const m of malformed.filter((x) => x.before === i)) {
        datagrams.push(m.bytes);
        labels.push(m.reason);
      }
      if (loose.length && ctx.rng() < 0.7) {
        const m = loose.splice(randInt(ctx.rng, 0, loose.length - 1), 1)[0]!;
        datagrams.push(m.bytes);
        labels.push(m.reason);
      }
      datagrams.push(good[i]!);
      labels.push(`good(G ${2 * i + 1}-${2 * i + 2})`);
    }
    for (const m of loose) {
      datagrams.push(m.bytes);
      labels.push(m.reason);
    }
    ctx.log(`send order: ${labels.join(', ')}`);
    const expected: Record<string, number> = {};
    for (const m of malformed) expected[m.reason] = (expected[m.reason] ?? 0) + 1;

    const peer = await udpPeer(rx.host, rx.port);
    try {
      await peer.sendAll(datagrams, 1);
      // Counted by reason.
      let seenMalformed: unknown;
      await waitFor(
        async () => {
          const st = await statsNow(dataDir);
          const m = st?.['udp'] && typeof st['udp'] === 'object' ? (st['udp'] as Rec)['malformed'] : undefined;
          seenMalformed = m;
          if (!m || typeof m !== 'object') return false;
          const mm = m as Rec;
          return Object.entries(expected).every(([k, v]) => mm[k] === v) && mm['total'] === malformed.length;
        },
        {
          timeoutMs: 5000,
          what: `stats.json udp.malformed = ${JSON.stringify({ total: malformed.length, ...expected })}`,
          where: `${dataDir}/stats.json`,
          hint: 'your TODO in lessons/day10/receiver.ts (oneFrame): one datagram = exactly one BATCH frame with a good CRC. Reasons: bad_magic (not "LS"), truncated (shorter than its header or its declared length), trailing_bytes (more than one frame), bad_crc, not_batch, bad_count (count ≠ lines), too_large (over --max-datagram)',
          received: () => `udp.malformed = ${JSON.stringify(seenMalformed ?? null)}`,
        },
      );

      // The good datagrams around them: every record persisted once, with its own content; the invalid
      // record rejected with its seq; nothing from a malformed datagram persisted.
      const want = N - 1;
      const read = await waitFor(
        async () => {
          const r = await readRecords(dataDir);
          return r.records.filter((p) => rxOf(p)['stream'] === G).length >= want ? r : undefined;
        },
        {
          timeoutMs: 5000,
          what: `${want} records of stream ${G} in <data-dir>/*.ndjson`,
          where: dataDir,
          received: async () => `${(await readRecords(dataDir)).records.length} records in all`,
        },
      );
      const ofH = read.records.filter((p) => rxOf(p)['stream'] === H);
      expectTrue(ofH.length === 0, {
        expected: 'no record from a malformed datagram persisted',
        received: `${ofH.length}, e.g. ${show(ofH[0]?.raw.slice(0, 160))}`,
        where: ofH[0] ? where(ofH[0]) : dataDir,
        hint: 'a datagram with two frames, a wrong count or over --max-datagram is malformed as a whole',
      });
      const seqs = new Map<number, number>();
      for (const p of read.records.filter((x) => rxOf(x)['stream'] === G)) {
        const seq = rxOf(p)['seq'] as number;
        seqs.set(seq, (seqs.get(seq) ?? 0) + 1);
        expectEqual(p.record['msg'], `record G-${seq}`, {
          what: `msg of the record with seq ${seq}`,
          where: where(p),
          hint: 'a datagram whose CRC does not match is malformed: never persist its records',
        });
      }
      const missing: number[] = [];
      for (let s = 1; s <= N; s++) if (s !== BAD_SEQ && !seqs.has(s)) missing.push(s);
      const twice = [...seqs].filter(([, n]) => n > 1).map(([s]) => s);
      expectTrue(missing.length === 0 && twice.length === 0 && !seqs.has(BAD_SEQ), {
        expected: `stream ${G}: seqs 1..${N} but ${BAD_SEQ} (an invalid record) persisted once each`,
        received: `missing ${formatRanges(missing) || 'none'}; twice ${formatRanges(twice) || 'none'}; seq ${BAD_SEQ} ${seqs.has(BAD_SEQ) ? 'persisted' : 'not persisted'}`,
        where: dataDir,
      });
      await waitForStreamCounts(
        dataDir,
        G,
        { hwm: N, received: N, gaps: 0, duplicates: 0, reordered: 0 },
        3000,
        'malformed datagrams do not touch the accounting; an invalid record counts as received (shared/protocol/README.md §3)',
      );

      // Sampled into rejects.ndjson: one entry per reason at least, with the sender and a sample.
      const reasons = Object.keys(expected);
      const { rejects } = await waitFor(
        async () => {
          const r = await readRejects(dataDir);
          const have = new Set(r.rejects.map((x) => x.reject['reason']));
          return reasons.every((x) => have.has(x)) && have.has('missing_level') ? r : undefined;
        },
        {
          timeoutMs: 5000,
          what: `rejects.ndjson entries with reasons ${reasons.join(', ')} and missing_level`,
          where: `${dataDir}/rejects.ndjson`,
          received: async () =>
            `reasons ${show([...new Set((await readRejects(dataDir)).rejects.map((x) => x.reject['reason']))])}`,
        },
      );
      for (const r of rejects) {
        const at = `rejects.ndjson line ${r.lineNo}`;
        expectEqual(r.reject['peer'], peer.localPeer, {
          what: `"peer" of the ${String(r.reject['reason'])} reject`,
          where: at,
          hint: "peer = the datagram's source address:port",
        });
        const sample = r.reject['sample'];
        expectTrue(typeof sample === 'string' && sample.length > 0 && Buffer.byteLength(sample) <= 3 * 256, {
          expected: 'a non-empty "sample" of at most 256 bytes of the datagram',
          received: show(sample),
          where: at,
        });
      }
      const inv = rejects.find((r) => r.reject['reason'] === 'missing_level')!;
      expectEqual(inv.reject['seq'], BAD_SEQ, {
        what: 'the missing_level reject\'s "seq"',
        where: `rejects.ndjson line ${inv.lineNo}`,
        hint: 'an invalid record inside a good frame is rejected with its seq',
      });

      // A flood: every datagram counted, but only a bounded number sampled (the disk must not fill up).
      const FLOOD = 3000;
      const ROUND = 300;
      for (let sent = 0; sent < FLOOD; sent += ROUND) {
        await peer.sendAll(
          Array.from({ length: ROUND }, () => Buffer.from(`garbage ${sent} ${'z'.repeat(80)}`)),
          32,
        );
        const wantBad = expected['bad_magic']! + sent + ROUND;
        await waitFor(async () => statNumber(await statsNow(dataDir), 'udp.malformed.bad_magic') === wantBad, {
          timeoutMs: 5000,
          what: `stats.json udp.malformed.bad_magic = ${wantBad} (every flood datagram counted)`,
          where: `${dataDir}/stats.json`,
          received: async () =>
            `udp.malformed.bad_magic = ${show(statNumber(await statsNow(dataDir), 'udp.malformed.bad_magic'))}`,
        });
      }
    } finally {
      peer.close();
    }
    // Whatever was sampled reaches the file: wait until it holds as many lines as stats.json says were written.
    await waitFor(
      async () => {
        const written = statNumber(await statsNow(dataDir), 'udp.samples.written');
        return written !== undefined && (await readRejects(dataDir)).rejects.length >= written;
      },
      {
        timeoutMs: 3000,
        what: 'rejects.ndjson to hold every sample stats.json counts as written (udp.samples.written)',
        where: `${dataDir}/rejects.ndjson`,
      },
    );
    const lifeSec = (Date.now() - startedAt) / 1000;
    const { rejects } = await readRejects(dataDir);
    const budget = Math.ceil(SAMPLES_PER_SEC * (lifeSec + 1)) + SAMPLES_PER_SEC + 5;
    ctx.log(
      `rejects.ndjson holds ${rejects.length} lines after ${lifeSec.toFixed(1)} s and a flood of 3000 garbage datagrams (budget ${budget})`,
    );
    expectTrue(rejects.length <= budget, {
      expected: `at most ~${SAMPLES_PER_SEC} samples a second in rejects.ndjson (--reject-samples-per-sec ${SAMPLES_PER_SEC}): ≤ ${budget} lines after ${lifeSec.toFixed(1)} s`,
      received: `${rejects.length} lines for 3000+ malformed datagrams`,
      where: `${dataDir}/rejects.ndjson`,
      hint: 'your TODO in lessons/day10/receiver.ts (malformed): count every malformed datagram, but write a sample only while the token bucket `samples` allows it',
    });
  },
};

/** Greedy in-order packing: the fewest datagrams any shipper keeping the order can use. */
function greedyDatagrams(sizes: number[], maxPayload: number): number {
  let n = 0;
  let open = 0;
  for (const s of sizes) {
    if (open > 0 && open + s <= maxPayload) open += s;
    else {
      n++;
      open = s;
    }
  }
  return n;
}

const d10_6: Check = {
  id: 'd10.6',
  title:
    'The shipper never sends a datagram over --max-datagram, packs records tightly, and rejects a record that cannot fit',
  points: 15,
  timeoutMs: 40_000,
  async run(ctx) {
    const M = pick(ctx.rng, [700, 1200, 1472]);
    const limit = M - HEADER_SIZE - 1; // the largest record that fits (its LF takes the last byte)
    const N = 200;
    const records: string[] = [];
    for (let i = 0; i < N; i++) {
      const r = ctx.rng();
      const size =
        r < 0.55
          ? randInt(ctx.rng, 90, 300)
          : r < 0.75
            ? limit - randInt(ctx.rng, 0, 40)
            : r < 0.85
              ? limit
              : Math.floor(limit / 2) - randInt(ctx.rng, 0, 1);
      records.push(recOfBytes(`p-${i}`, size, ctx.rng));
    }
    // The second run: one record a single byte too large, among good ones.
    const over: string[] = [];
    for (let i = 0; i < 10; i++) over.push(recOfBytes(`q-${i}`, randInt(ctx.rng, 90, 200), ctx.rng));
    const bigAt = randInt(ctx.rng, 2, 8);
    over.splice(bigAt, 0, recOfBytes('too-big', limit + 1, ctx.rng));

    const streamA = randInt(ctx.rng, 1, 0x7fff_ffff);
    const streamB = streamA + 1;
    const [la, lb] = await Promise.all([udpListener(), udpListener()]);
    try {
      const argsA = [
        '--target',
        `127.0.0.1:${la.port}`,
        '--input',
        '-',
        '--max-datagram',
        String(M),
        '--stream-id',
        String(streamA),
        '--rate',
        '20000',
      ];
      const argsB = [
        '--target',
        `127.0.0.1:${lb.port}`,
        '--input',
        '-',
        '--max-datagram',
        String(M),
        '--stream-id',
        String(streamB),
      ];
      const [ra, rb] = await Promise.all([
        ctx.run('shipper', argsA, { input: `${records.join('\n')}\n`, timeoutMs: 25_000 }),
        ctx.run('shipper', argsB, { input: `${over.join('\n')}\n`, timeoutMs: 25_000 }),
      ]);
      const cmdA = `shipper ${argsA.join(' ')}`;
      exitedWith(ra, 0, cmdA, 'every record fits: exit 0');
      const doneA = doneLine(ra, cmdA);
      ctx.log(`run A (${N} records, --max-datagram ${M}): ${JSON.stringify(doneA)}`);
      expectEqual(doneA['sent'], N, { what: 'done line "sent"', where: 'shipper done line (run A)' });
      await waitFor(async () => la.datagrams.reduce((n, d) => n + d.bytes.readUInt16BE(6), 0) >= N, {
        timeoutMs: 5000,
        what: `the check's socket to receive datagrams holding ${N} records`,
        where: `udp 127.0.0.1:${la.port}`,
        received: () => `${la.datagrams.length} datagrams`,
      });

      const check = (dgs: Received[], stream: number, want: string[], run: string) => {
        let nextSeq = 1;
        const got: string[] = [];
        dgs.forEach((d, i) => {
          const at = `datagram #${i + 1} of ${dgs.length} (${run})`;
          expectTrue(d.bytes.length <= M, {
            expected: `every datagram ≤ --max-datagram ${M} bytes`,
            received: `${d.bytes.length} bytes`,
            where: at,
            hint: `your TODO in lessons/day10/shipper.ts (pack): the 28-byte header counts, the payload (maxPayload) may hold ${M - HEADER_SIZE} bytes, each record plus its LF, counted in BYTES (UTF-8), not characters`,
          });
          const dec = decodeDatagram(d.bytes);
          if (typeof dec === 'string')
            fail({
              expected: 'exactly one valid BATCH frame per datagram',
              received: dec,
              where: at,
              hint: 'one closed datagram = one encodeBatch() frame',
            });
          expectEqual(dec.frame.stream, stream, { what: 'frame stream (--stream-id)', where: at });
          expectEqual(dec.frame.seq, nextSeq, {
            what: 'frame seq (the seq of its first record; seqs grow by one per record, from 1)',
            where: at,
            hint: 'your TODO in lessons/day10/shipper.ts (pack): a rejected record never joins a datagram, so it takes no seq (otherwise the receiver counts a gap that is no loss)',
          });
          nextSeq += dec.frame.count;
          got.push(...dec.lines);
        });
        const firstDiff = want.findIndex((r, i) => got[i] !== r);
        expectTrue(got.length === want.length && firstDiff === -1, {
          expected: `the ${want.length} records, in order, byte for byte`,
          received: `${got.length} records${firstDiff >= 0 ? `; record ${firstDiff + 1} is ${show(got[firstDiff]?.slice(0, 120))}, expected ${show(want[firstDiff]?.slice(0, 120))}` : ''}`,
          where: run,
        });
      };
      check(la.datagrams, streamA, records, 'run A');
      const sizes = records.map((r) => Buffer.byteLength(r) + 1);
      const greedy = greedyDatagrams(sizes, M - HEADER_SIZE);
      const allowed = Math.ceil(greedy * 1.25) + 2;
      ctx.log(
        `run A: ${la.datagrams.length} datagrams (greedy packing: ${greedy}); largest ${Math.max(...la.datagrams.map((d) => d.bytes.length))} bytes`,
      );
      expectTrue(la.datagrams.length <= allowed, {
        expected: `records packed into few datagrams: at most ${allowed} (in-order packing needs ${greedy})`,
        received: `${la.datagrams.length} datagrams`,
        where: 'run A',
        hint: 'your TODO in lessons/day10/shipper.ts (pack): add records to the open datagram while the next one fits (payload + record ≤ maxPayload), then close it',
      });
      expectTrue(
        la.datagrams.some((d) => d.bytes.length === M),
        {
          expected: `a record of exactly ${limit} bytes to travel in a datagram of exactly ${M} bytes (the limit is inclusive)`,
          received: `no datagram of ${M} bytes; sizes seen: ${[...new Set(la.datagrams.map((d) => d.bytes.length))]
            .sort((a, b) => b - a)
            .slice(0, 8)
            .join(', ')}`,
          where: 'run A',
          hint: 'a datagram may be exactly --max-datagram bytes',
        },
      );

      // Run B: the oversized record is rejected with a clear error; the others go out around it.
      const cmdB = `shipper ${argsB.join(' ')}`;
      const doneB = doneLine(rb, cmdB);
      ctx.log(`run B: ${JSON.stringify(doneB)}; stderr ${show(rb.stderr.slice(-300))}`);
      expectEqual(doneB['rejected'], 1, {
        what: `done line "rejected" (one record of ${limit + 1} bytes cannot fit in ${M - HEADER_SIZE} bytes of payload)`,
        where: 'shipper done line (run B)',
        hint: 'your TODO in lessons/day10/shipper.ts (pack): a record that cannot fit alone goes to reject() (counted, an error on stderr), never into a datagram',
      });
      expectEqual(doneB['sent'], over.length - 1, {
        what: 'done line "sent" (the other records)',
        where: 'shipper done line (run B)',
      });
      exitedWith(rb, 1, cmdB, 'exit 1 when a record could not be sent');
      expectTrue(rb.stderr.includes(String(M)), {
        expected: `a clear error on stderr naming the limit (--max-datagram ${M})`,
        received: show(rb.stderr.trim().slice(0, 400) || '(empty stderr)'),
        where: 'shipper stderr (run B)',
        hint: 'say which record, how big it is, and the limit it broke',
      });
      await waitFor(async () => lb.datagrams.reduce((n, d) => n + d.bytes.readUInt16BE(6), 0) >= over.length - 1, {
        timeoutMs: 5000,
        what: `the check's socket to receive the ${over.length - 1} records that fit`,
        where: `udp 127.0.0.1:${lb.port}`,
        received: () => `${lb.datagrams.length} datagrams`,
      });
      check(
        lb.datagrams,
        streamB,
        over.filter((_, i) => i !== bigAt),
        'run B',
      );
    } finally {
      la.close();
      lb.close();
    }
  },
};

const d10_7: Check = {
  id: 'd10.7',
  title: '--rate paces the shipper (records/s, token bucket); --rate max is accepted',
  points: 5,
  timeoutMs: 40_000,
  exclusive: true,
  async run(ctx) {
    const N = 2000;
    const RATE = 4000;
    const stream = randInt(ctx.rng, 1, 0xffff_fff0);
    const [l, lmax] = await Promise.all([udpListener(), udpListener()]);
    try {
      const args = [
        '--target',
        `127.0.0.1:${l.port}`,
        '--generate',
        String(N),
        '--rate',
        String(RATE),
        '--stream-id',
        String(stream),
      ];
      const argsMax = ['--target', `127.0.0.1:${lmax.port}`, '--generate', '500', '--rate', 'max'];
      const [res, resMax] = await Promise.all([
        ctx.run('shipper', args, { timeoutMs: 25_000 }),
        ctx.run('shipper', argsMax, { timeoutMs: 25_000 }),
      ]);
      const cmd = `shipper ${args.join(' ')}`;
      exitedWith(res, 0, cmd, 'the shipper exits 0 once every record was sent');
      exitedWith(resMax, 0, `shipper ${argsMax.join(' ')}`, '--rate max (or 0) means unlimited');
      const done = doneLine(res, cmd);
      await waitFor(async () => l.datagrams.reduce((n, d) => n + d.bytes.readUInt16BE(6), 0) >= N, {
        timeoutMs: 5000,
        what: `datagrams holding ${N} records at the check's socket`,
        where: `udp 127.0.0.1:${l.port}`,
        received: () => `${l.datagrams.length} datagrams`,
      });
      expectEqual(done['datagrams'], l.datagrams.length, {
        what: 'done line "datagrams" (the datagrams the check received)',
        where: 'shipper done line',
      });
      const first = l.datagrams[0]!.at;
      const last = l.datagrams[l.datagrams.length - 1]!.at;
      const spreadMs = last - first;
      // A token bucket may let a burst through (here: up to 10% of a second's worth), then holds the rate.
      const minMs = ((N - RATE * 0.1) / RATE) * 1000;
      ctx.log(
        `${N} records at --rate ${RATE}: first to last datagram ${spreadMs.toFixed(0)} ms (at least ${minMs.toFixed(0)} ms expected)`,
      );
      expectTrue(spreadMs >= minMs, {
        expected: `${N} records at --rate ${RATE} records/s to take at least ${minMs.toFixed(0)} ms from the first datagram to the last`,
        received: `${spreadMs.toFixed(0)} ms`,
        where: cmd,
        hint: 'your TODO in lessons/day10/shipper.ts (sendReady): each datagram takes as many tokens from the bucket as it has records (bucket.take(n) says how long to wait), and the shipper waits when they run out',
      });
      const dec = decodeDatagram(l.datagrams[0]!.bytes);
      if (typeof dec === 'string')
        fail({ expected: 'one BATCH frame per datagram', received: dec, where: 'datagram #1' });
      expectEqual(dec.frame.stream, stream, { what: 'frame stream (--stream-id)', where: 'datagram #1' });
    } finally {
      l.close();
      lmax.close();
    }
  },
};

const d10_8: Check = {
  id: 'd10.8',
  title:
    'SIGTERM: exit 0 within 5 s, everything read is persisted, no partial line, final stats.json with the UDP counters',
  points: 5,
  timeoutMs: 30_000,
  async run(ctx) {
    const { rx, dataDir } = await startReceiver(ctx);
    const stream = randInt(ctx.rng, 1, 0xffff_fff0);
    const D = 100;
    const K = 4;
    const datagrams = Array.from({ length: D }, (_, d) =>
      encodeBatch({
        stream,
        seq: d * K + 1,
        records: Array.from({ length: K }, (_, k) => recText(`t-${d * K + 1 + k}`)),
      }),
    );
    const peer = await udpPeer(rx.host, rx.port);
    try {
      await peer.sendAll(datagrams, 8);
    } finally {
      peer.close();
    }
    await waitFor(
      async () =>
        statNumber(await statsNow(dataDir), 'records.received') === D * K ||
        (await readRecords(dataDir)).records.length === D * K,
      {
        timeoutMs: 5000,
        what: `the receiver to take in ${D * K} records (stats.json records.received)`,
        where: dataDir,
      },
    );
    const sigtermAt = Date.now();
    const res = await rx.stop(8000);
    ctx.log(`SIGTERM → exit code ${res.exitCode}, signal ${res.signal}, after ${res.ms} ms`);
    if (res.timedOut)
      fail({
        expected: 'exit within 5 s of SIGTERM',
        received: 'still running after 8 s (killed)',
        where: `pid ${rx.pid}`,
        hint: 'your TODO in lessons/day10/receiver.ts (the shutdown handler): close the socket and the sink, an open socket keeps the process alive',
      });
    expectTrue(res.exitCode === 0 && res.signal === null, {
      expected: 'exit code 0 after SIGTERM',
      received: `exit code ${res.exitCode}, signal ${res.signal}; stderr tail: ${show(rx.stderrText().trim().slice(-300))}`,
      where: `pid ${rx.pid}`,
      hint: 'your TODO in lessons/day10/receiver.ts (the shutdown handler): drain, flush, write the final stats; onShutdown exits 0 when it returns',
    });
    expectTrue(res.ms <= 5000, {
      expected: 'exit within 5000 ms of SIGTERM',
      received: `${res.ms} ms`,
      where: `pid ${rx.pid}`,
    });
    const read = await readRecords(dataDir);
    const partial = read.files.find((f) => f.endsInPartialLine);
    expectTrue(!partial, {
      expected: 'no *.ndjson ending in a partial line after SIGTERM',
      received: `ends in ${show(partial?.partialTail)}`,
      where: partial?.file ?? dataDir,
    });
    expectEqual(read.records.length, D * K, {
      what: 'records persisted after SIGTERM',
      where: dataDir,
      hint: 'your TODO in lessons/day10/receiver.ts (the shutdown handler): flushOut() what is buffered and close the sink before exiting',
    });
    const stats = await readStats(dataDir).catch((err: Error) =>
      fail({ expected: 'stats.json to be JSON', received: err.message, where: `${dataDir}/stats.json` }),
    );
    if (!stats) fail({ expected: 'stats.json written at shutdown', received: 'no stats.json', where: dataDir });
    const updatedAt = stats['updatedAt'];
    const updatedMs = typeof updatedAt === 'string' ? Date.parse(updatedAt) : NaN;
    expectTrue(updatedMs >= sigtermAt - 5, {
      expected: `stats.json updatedAt ≥ the SIGTERM time ${new Date(sigtermAt).toISOString()}`,
      received: show(updatedAt),
      where: `${dataDir}/stats.json`,
      hint: 'your TODO in lessons/day10/receiver.ts (the shutdown handler): write the final stats (statsWriter.stop())',
    });
    expectEqual(statNumber(stats, 'records.persisted'), D * K, {
      what: 'final stats.json records.persisted',
      where: `${dataDir}/stats.json`,
    });
    expectEqual(statNumber(stats, 'udp.datagrams'), D, {
      what: 'final stats.json udp.datagrams (datagrams read)',
      where: `${dataDir}/stats.json`,
    });
    expectTrue(typeof statNumber(stats, 'udp.kernelDrops') === 'number', {
      expected: 'final stats.json udp.kernelDrops: a number (read before the socket closes)',
      received: show((stats['udp'] as Rec | undefined)?.['kernelDrops']),
      where: `${dataDir}/stats.json`,
      hint: "your TODOs in lessons/day10/kernel-drops.ts (the reading) and receiver.ts (the shutdown handler: pollKernel() before socket.close(), the socket's row leaves /proc/net/udp with it)",
    });
  },
};

export const checks: Check[] = [d10_1, d10_2, d10_3, d10_4, d10_5, d10_6, d10_7, d10_8];
