// Graded checks for day 08: a TCP receiver of NDJSON lines (shared/protocol/README.md §2) that persists records (§7).
// Black-box: the programs are driven through the process contract (COURSE.md) alone. Hints name the
// learner's TODOs: lessons/day08/line-decoder.ts (framing, the line limit), lessons/day08/validate.ts
// (validation), lessons/day08/receiver.ts (idle timeout, connection limit, the clean end, SIGTERM).
import { isDeepStrictEqual } from 'node:util';
import { CheckFailure, expectEqual, expectTrue, fail, show, waitFor } from './harness/assert.ts';
import {
  formatRanges,
  readRecords,
  readRejects,
  readStats,
  statNumber,
  type InvalidLine,
  type PersistedRecord,
  type RejectEntry,
} from './harness/persisted.ts';
import { pick, randInt, type Rng } from './harness/rng.ts';
import type { TcpClient } from './harness/tcp.ts';
import type { Check, CheckContext, RunningProgram, RunResult } from './harness/types.ts';
import { freePort } from '../shared/free-port.ts';

export const lesson = 'day08';

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

type Rec = Record<string, unknown>;

// Where the learner's TODOs are (README "Your TODOs").
const SPLIT = 'your framing TODO in lessons/day08/line-decoder.ts (push, completeHeld)';
const LIMIT = 'your line-limit TODO in lessons/day08/line-decoder.ts (hold, takeHeld, line)';
const VALIDATE = 'your TODO in lessons/day08/validate.ts';
const RECEIVER = 'your TODO in lessons/day08/receiver.ts';

interface Receiver {
  rx: RunningProgram;
  dataDir: string;
}

/** Starts the receiver on a free port with its own data dir; stats every 100 ms so checks can wait on them. */
async function startReceiver(ctx: CheckContext, extra: string[] = []): Promise<Receiver> {
  const dataDir = await ctx.tmp();
  const args = ['--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, '--stats-interval-ms', '100', ...extra];
  const rx = await ctx.start('receiver', args);
  ctx.log(`receiver pid ${rx.pid} on ${rx.host}:${rx.port}, data dir ${dataDir}, args ${args.join(' ')}`);
  if (!Number.isInteger(rx.port) || rx.port <= 0) {
    fail({
      expected: 'the ready line to carry the bound port (a positive integer)',
      received: show(rx.ready['port']),
      where: 'ready line',
      hint: 'with --port 0 the OS picks a port; announce the one you got (server.address().port)',
    });
  }
  return { rx, dataDir };
}

const line = (rec: Rec) => `${JSON.stringify(rec)}\n`;

function rec(id: string, fields: Rec = {}): Rec {
  return {
    ts: '2026-11-26T14:13:48.123Z',
    level: 'info',
    msg: `record ${id}`,
    ...fields,
    attrs: { id, ...(fields['attrs'] ?? {}) },
  };
}

function idOf(r: Rec): string | undefined {
  const attrs = r['attrs'];
  if (attrs && typeof attrs === 'object') {
    const id = (attrs as Rec)['id'];
    if (typeof id === 'string') return id;
  }
  return undefined;
}

function withoutRx(r: Rec): Rec {
  const { _rx: _ignored, ...rest } = r;
  return rest;
}

const where = (p: PersistedRecord) => `${p.file} line ${p.lineNo}`;

/** Waits until every id is persisted; fails naming the ones missing. */
async function waitForIds(
  dataDir: string,
  ids: string[],
  timeoutMs: number,
  hint?: string,
): Promise<Map<string, PersistedRecord>> {
  let seen = new Map<string, PersistedRecord>();
  let invalid: InvalidLine[] = [];
  await waitFor(
    async () => {
      const read = await readRecords(dataDir);
      const { records } = read;
      invalid = read.invalid;
      seen = new Map();
      for (const p of records) {
        const id = idOf(p.record);
        if (id !== undefined) seen.set(id, p);
      }
      return ids.every((id) => seen.has(id));
    },
    {
      timeoutMs,
      what: `record${ids.length > 1 ? 's' : ''} ${ids.length > 5 ? `${ids.slice(0, 5).join(', ')}, …` : ids.join(', ')} in <data-dir>/*.ndjson`,
      where: dataDir,
      hint:
        hint ??
        `${SPLIT}: every complete line goes to line() (and so to onLine), which the receiver validates and writes to <data-dir>/*.ndjson`,
      received: () => {
        const missing = ids.filter((id) => !seen.has(id));
        const bad = invalid[0];
        return `${missing.length} of ${ids.length} missing (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}); ${seen.size} records with an id found${bad ? `; ${invalid.length} lines of *.ndjson are not JSON objects (first: ${bad.file} line ${bad.lineNo}: ${show(bad.text.slice(0, 100))})` : ''}`;
      },
    },
  );
  return seen;
}

async function waitForReject(dataDir: string, reason: string, timeoutMs: number, hint: string): Promise<RejectEntry> {
  let reasons: unknown[] = [];
  return waitFor(
    async () => {
      const { rejects } = await readRejects(dataDir);
      reasons = rejects.map((r) => r.reject['reason']);
      return rejects.find((r) => r.reject['reason'] === reason);
    },
    {
      timeoutMs,
      what: `a reject with reason "${reason}" in <data-dir>/rejects.ndjson`,
      where: `${dataDir}/rejects.ndjson`,
      hint,
      received: () => (reasons.length ? `rejects with reasons ${show(reasons)}` : 'no rejects'),
    },
  );
}

async function waitForStat(
  dataDir: string,
  dotted: string,
  want: number,
  timeoutMs: number,
  hint: string,
): Promise<void> {
  let last: number | undefined;
  let exists = false;
  await waitFor(
    async () => {
      const stats = await readStats(dataDir).catch(() => null);
      exists = stats !== null;
      last = statNumber(stats, dotted);
      return last === want;
    },
    {
      timeoutMs,
      what: `stats.json ${dotted} = ${want}`,
      where: `${dataDir}/stats.json`,
      hint,
      received: () => (exists ? `${dotted} = ${show(last)}` : 'no stats.json'),
    },
  );
}

function checkRejectShape(r: RejectEntry, sentLine: string, peer: string, what: string): void {
  const at = `rejects.ndjson line ${r.lineNo}`;
  const sample = r.reject['sample'];
  expectTrue(typeof sample === 'string' && sample.length > 0, {
    expected: `${what}: a non-empty "sample" string`,
    received: show(sample),
    where: at,
    hint: 'sample = the first (at most 256) bytes of the rejected line, as text',
  });
  expectTrue(Buffer.byteLength(sample) <= 256, {
    expected: `${what}: sample of at most 256 bytes`,
    received: `${Buffer.byteLength(sample)} bytes`,
    where: at,
    hint: 'cut the sample to the first 256 bytes of the line',
  });
  expectTrue(sentLine.startsWith(sample), {
    expected: `${what}: sample = the start of the line sent, ${show(sentLine.slice(0, 80))}`,
    received: show(sample),
    where: at,
    hint: 'the sample is the line as received, without its LF',
  });
  expectEqual(r.reject['peer'], peer, {
    what: `${what}: reject "peer"`,
    where: at,
    hint: 'peer = the client address:port, as in _rx.peer',
  });
  const ts = r.reject['ts'];
  expectTrue(typeof ts === 'string' && RFC3339.test(ts), {
    expected: `${what}: reject "ts" as an RFC 3339 timestamp`,
    received: show(ts),
    where: at,
  });
}

function exitedWith(r: RunResult, code: number, cmd: string, hint: string): void {
  if (r.timedOut) {
    fail({
      expected: `\`${cmd}\` to exit with code ${code}`,
      received: `still running after ${r.ms} ms${r.stdout.includes('"ready"') ? ' (it printed its ready line: it started anyway)' : ''}`,
      where: cmd,
      hint,
    });
  }
  expectEqual(r.exitCode, code, {
    what: `exit code of \`${cmd}\``,
    where: `stderr: ${show(r.stderr.trim().slice(-300))}`,
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
    hint: 'validate every flag before listening',
  });
}

// ---- random traffic -------------------------------------------------------------------------

const WORDS = [
  'alpha',
  'beta',
  'gamma',
  'día',
  'Grüße',
  '日本語',
  'naïve',
  '😀',
  'tab\there',
  'quote"d',
  'back\\slash',
  'ok',
  'GET',
  '/api/v1',
  '200',
  'ms',
  'user=42',
  'ελληνικά',
  '€',
];

function randomMsg(rng: Rng): string {
  const n = randInt(rng, 1, 40);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(pick(rng, WORDS));
  return parts.join(' ');
}

function asciiMsg(rng: Rng): string {
  return randomMsg(rng).replace(/[^\x20-\x7e]/g, '?');
}

/** Random cut points in [1, len): sizes vary from a byte to several KiB. */
function randomCuts(rng: Rng, len: number): number[] {
  const cuts: number[] = [];
  let at = 0;
  for (;;) {
    const r = rng();
    at += r < 0.1 ? randInt(rng, 1, 8) : r < 0.5 ? randInt(rng, 9, 1024) : randInt(rng, 1025, 16384);
    if (at >= len) return cuts;
    cuts.push(at);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---- the checks ----------------------------------------------------------------------------

const d08_1: Check = {
  id: 'd08.1',
  title: 'The process contract: ready line, --help, bad flags exit 2, LOGSTREAM_<FLAG>',
  // Given: the flags, --help and the ready line come with the lesson (shared/cli.ts, shared/process.ts).
  given: true,
  points: 0,
  timeoutMs: 45_000,
  async run(ctx) {
    const dataDir = await ctx.tmp();
    const base = ['--data-dir', dataDir, '--port', '0'];
    const [help, bogus, badPort, shipHelp] = await Promise.all([
      ctx.run('receiver', ['--help'], { timeoutMs: 15_000 }),
      ctx.run('receiver', [...base, '--bogus'], { timeoutMs: 15_000 }),
      ctx.run('receiver', ['--data-dir', dataDir, '--port', 'abc'], { timeoutMs: 15_000 }),
      ctx.run('shipper', ['--help'], { timeoutMs: 15_000 }),
    ]);
    exitedWith(help, 0, 'receiver --help', '--help prints usage on stdout and exits 0');
    const usage = help.stdout + help.stderr;
    expectTrue(usage.includes('--port') && usage.includes('--data-dir'), {
      expected: 'usage text naming the flags (--port, --data-dir, …)',
      received: show(usage.slice(0, 300)),
      where: 'receiver --help',
      hint: 'list every flag in --help',
    });
    exitedWith(bogus, 2, 'receiver --bogus', 'an unknown flag is an error: one stderr line naming it, exit 2');
    stderrNames(bogus, '--bogus', 'receiver --bogus');
    exitedWith(badPort, 2, 'receiver --port abc', 'a bad value is an error: one stderr line naming the flag, exit 2');
    stderrNames(badPort, '--port', 'receiver --port abc');
    exitedWith(shipHelp, 0, 'shipper --help', 'the shipper follows the same contract: --help exits 0');

    // LOGSTREAM_<FLAG> from the environment, and the ready line itself.
    const port = await freePort();
    const rx = await ctx.start('receiver', ['--data-dir', dataDir], { env: { LOGSTREAM_PORT: String(port) } });
    ctx.log(`receiver started with LOGSTREAM_PORT=${port}: ready ${JSON.stringify(rx.ready)}`);
    const r = rx.ready;
    expectEqual(r['role'], 'receiver', {
      what: 'ready line "role"',
      where: 'ready line',
      hint: '{"event":"ready","role":"receiver","lesson":"day08","transport":"tcp","host":…,"port":…}',
    });
    expectEqual(r['lesson'], 'day08', { what: 'ready line "lesson"', where: 'ready line' });
    expectEqual(r['transport'], 'tcp', { what: 'ready line "transport"', where: 'ready line' });
    expectEqual(r['host'], '127.0.0.1', {
      what: 'ready line "host" (default --host)',
      where: 'ready line',
      hint: 'the default host is 127.0.0.1',
    });
    expectEqual(r['port'], port, {
      what: 'ready line "port" when started with LOGSTREAM_PORT',
      where: 'ready line',
      hint: 'every flag also reads LOGSTREAM_<FLAG> from the environment (flag first)',
    });
    const c = await ctx.connect('127.0.0.1', port);
    c.destroy();
  },
};

const d08_2: Check = {
  id: 'd08.2',
  title: 'One record round-trip: fields untouched plus _rx {ts, peer, lane}',
  points: 10,
  timeoutMs: 30_000,
  async run(ctx) {
    const { rx, dataDir } = await startReceiver(ctx);
    const id = `d08.2-${ctx.seed}`;
    const sent: Rec = {
      ts: '2026-11-26T14:13:48.123Z',
      level: 'warn',
      msg: 'hello, día ocho ✓ "quoted" \\ back',
      service: 'checks',
      host: 'check-host',
      attrs: { id, n: 42, f: 1.5, nested: { list: [1, 'two', null, true], empty: {} } },
      extra: 'any other top-level field is kept as it came',
    };
    const c = await ctx.connect(rx.host, rx.port);
    const before = Date.now();
    await c.write(line(sent));
    const got = (await waitForIds(dataDir, [id], 5000)).get(id) as PersistedRecord;
    const after = Date.now();
    expectEqual(withoutRx(got.record), sent, {
      what: 'the persisted record without _rx',
      where: where(got),
      hint: `${SPLIT}: a line reaches onLine byte for byte as it was sent, without its LF`,
    });
    const rxField = got.record['_rx'];
    expectTrue(rxField !== null && typeof rxField === 'object' && !Array.isArray(rxField), {
      expected: '_rx to be an object {ts, peer, lane}',
      received: show(rxField),
      where: where(got),
    });
    const meta = rxField as Rec;
    const ts = meta['ts'];
    expectTrue(typeof ts === 'string' && RFC3339.test(ts), {
      expected: '_rx.ts as an RFC 3339 timestamp (e.g. 2026-11-26T14:13:48.123Z)',
      received: show(ts),
      where: where(got),
      hint: 'new Date().toISOString()',
    });
    const tsMs = Date.parse(ts);
    expectTrue(tsMs >= before - 2000 && tsMs <= after + 2000, {
      expected: `_rx.ts = the receive time (between ${new Date(before).toISOString()} and ${new Date(after).toISOString()})`,
      received: ts,
      where: where(got),
      hint: "_rx.ts is when the receiver got the line, not the record's own ts",
    });
    expectEqual(meta['peer'], c.localPeer, {
      what: '_rx.peer (the client address:port)',
      where: where(got),
      hint: 'socket.remoteAddress + ":" + socket.remotePort',
    });
    expectEqual(meta['lane'], 'day08', { what: '_rx.lane', where: where(got), hint: '--lane defaults to "day08"' });
    expectTrue(!('seq' in meta) && !('stream' in meta), {
      expected: 'no _rx.seq / _rx.stream on day 08 (text lines carry no sequence)',
      received: show(meta),
      where: where(got),
    });

    // The same trip through the shipper: one NDJSON record and one plain-text line from stdin.
    const shipId = `d08.2-ship-${ctx.seed}`;
    const shipped = rec(shipId, { level: 'error', msg: 'sent by the shipper' });
    const text = `plain text line ${ctx.seed} from the shipper`;
    const res = await ctx.run('shipper', ['--target', `${rx.host}:${rx.port}`, '--input', '-'], {
      input: `${line(shipped)}${text}\n`,
      timeoutMs: 15_000,
    });
    const cmd = `shipper --target ${rx.host}:${rx.port} --input -`;
    exitedWith(res, 0, cmd, 'the shipper exits 0 once everything it read was sent');
    const done = res.json.find((j) => j['event'] === 'done');
    expectTrue(done !== undefined, {
      expected: `a {"event":"done",…} line on stdout of \`${cmd}\``,
      received: show(res.stdout.slice(-300) || '(empty stdout)'),
      where: 'shipper stdout',
    });
    expectEqual(done['sent'], 2, {
      what: 'done line "sent" (2 input lines)',
      where: 'shipper done line',
      hint: 'count every line sent',
    });
    const ids = await waitForIds(dataDir, [shipId], 5000, 'the shipper sends each input line to the receiver');
    const viaShipper = ids.get(shipId) as PersistedRecord;
    expectEqual(withoutRx(viaShipper.record), shipped, {
      what: 'a JSON input line, persisted (without _rx)',
      where: where(viaShipper),
      hint: 'a line that is a JSON object is sent as it is',
    });
    const wrapped = await waitFor(
      async () => (await readRecords(dataDir)).records.find((p) => p.record['msg'] === text),
      {
        timeoutMs: 5000,
        what: `a record with msg ${show(text)} (the plain-text input line)`,
        where: dataDir,
        hint: 'a line that is not a JSON object is wrapped: {ts, level:"info", msg: line}',
      },
    );
    expectEqual(wrapped.record['level'], 'info', { what: 'level of a wrapped plain-text line', where: where(wrapped) });
    const wts = wrapped.record['ts'];
    expectTrue(typeof wts === 'string' && RFC3339.test(wts), {
      expected: 'ts of a wrapped plain-text line as RFC 3339',
      received: show(wts),
      where: where(wrapped),
    });
  },
};

const d08_3: Check = {
  id: 'd08.3',
  title: '10,000 records from 20 concurrent connections, each persisted exactly once',
  points: 15,
  timeoutMs: 60_000,
  async run(ctx) {
    const CONNS = 20;
    const PER = 500;
    const total = CONNS * PER;
    const { rx, dataDir } = await startReceiver(ctx);
    const sent = new Map<string, Rec>();
    const firsts: string[] = [];
    const payloads: Buffer[] = [];
    const baseTs = Date.parse('2026-11-26T00:00:00.000Z');
    for (let k = 0; k < CONNS; k++) {
      let text = '';
      for (let i = 0; i < PER; i++) {
        const id = `${ctx.seed}-c${k}-${i}`;
        if (i === 0) firsts.push(id);
        const r: Rec = {
          ts: new Date(baseTs + randInt(ctx.rng, 0, 86_400_000)).toISOString(),
          level: pick(ctx.rng, LEVELS),
          msg: randomMsg(ctx.rng),
          service: `svc-${k % 5}`,
          attrs: { id, conn: k, i, r: randInt(ctx.rng, 0, 1e9) },
        };
        sent.set(id, r);
        text += line(r);
      }
      payloads.push(Buffer.from(text));
    }
    const clients = await Promise.all(payloads.map(() => ctx.connect(rx.host, rx.port)));
    // First record of each connection, and wait for all 20: the receiver now serves 20 at once.
    const firstLen = payloads.map((b) => b.indexOf(0x0a) + 1);
    await Promise.all(clients.map((c, k) => c.write((payloads[k] as Buffer).subarray(0, firstLen[k]))));
    await waitForIds(
      dataDir,
      firsts,
      5000,
      `${SPLIT}: each connection has its own LineDecoder; a line that ends in this chunk goes to line() at once`,
    );
    ctx.log(
      `${CONNS} connections served, sending the rest of ${total} records (${payloads.reduce((n, b) => n + b.length, 0)} bytes)`,
    );
    await Promise.all(
      clients.map(async (c, k) => {
        const buf = (payloads[k] as Buffer).subarray(firstLen[k]);
        await c.writeSplit(buf, randomCuts(ctx.rng, buf.length));
        await c.end();
      }),
    );
    ctx.log('all sent and ended');

    // Wait for the count to reach the total, or to stop moving.
    let last = -1;
    let lastChange = Date.now();
    const deadline = Date.now() + 20_000;
    let read = await readRecords(dataDir);
    while (read.records.length < total && Date.now() < deadline && Date.now() - lastChange < 3000) {
      await sleep(50);
      read = await readRecords(dataDir);
      if (read.records.length !== last) {
        last = read.records.length;
        lastChange = Date.now();
      }
    }
    ctx.log(`${read.records.length} records persisted`);
    if (read.invalid.length > 0) {
      const bad = read.invalid[0];
      fail({
        expected: 'every line of *.ndjson to be a JSON object',
        received: `${read.invalid.length} bad lines; first: ${show(bad?.text)} (${bad?.problem})`,
        where: `${bad?.file} line ${bad?.lineNo}`,
        hint: `${SPLIT}: only complete lines reach onLine; the bytes after a chunk's last LF are held until their LF comes`,
      });
    }
    const count = new Map<string, number>();
    let foreign = 0;
    for (const p of read.records) {
      const id = idOf(p.record);
      if (id === undefined || !sent.has(id)) {
        foreign++;
        continue;
      }
      count.set(id, (count.get(id) ?? 0) + 1);
      const want = sent.get(id) as Rec;
      if (!isDeepStrictEqual(withoutRx(p.record), want)) {
        fail({
          expected: `record ${id} persisted as sent: ${show(want, 300)}`,
          received: show(withoutRx(p.record), 300),
          where: where(p),
          hint: `${SPLIT}: a line split across TCP reads (even inside a multi-byte character) is held as bytes and joined whole at its LF`,
        });
      }
    }
    const missing = [...sent.keys()].filter((id) => !count.has(id));
    const dups = [...count].filter(([, n]) => n > 1).map(([id]) => id);
    if (missing.length > 0 || dups.length > 0 || foreign > 0) {
      const byConn = new Map<number, number>();
      for (const id of missing) {
        const k = Number(/-c(\d+)-/.exec(id)?.[1]);
        byConn.set(k, (byConn.get(k) ?? 0) + 1);
      }
      fail({
        expected: `${total} records, each exactly once`,
        received: `${read.records.length} records: ${missing.length} missing${missing.length ? ` (e.g. ${missing.slice(0, 3).join(', ')}; per connection ${show(Object.fromEntries(byConn))})` : ''}, ${dups.length} duplicated${dups.length ? ` (e.g. ${dups.slice(0, 3).join(', ')})` : ''}, ${foreign} unexpected`,
        where: dataDir,
        hint: `${SPLIT}: a line may arrive in many pieces (hold each, join them at its LF), and one piece may end several lines`,
      });
    }
    await waitForStat(
      dataDir,
      'records.persisted',
      total,
      5000,
      'stats.json records.persisted counts every record written (rewritten each --stats-interval-ms)',
    );
  },
};

const d08_4: Check = {
  id: 'd08.4',
  title: 'CRLF line endings and a UTF-8 character split across two writes',
  points: 10,
  timeoutMs: 30_000,
  async run(ctx) {
    const { rx, dataDir } = await startReceiver(ctx);
    const c = await ctx.connect(rx.host, rx.port);
    const a = rec('crlf', { msg: 'a line ending in CR LF' });
    const b = rec('split', { msg: 'split: € 😀 ü 日本 — intact' });
    const d = rec('last', { msg: 'the last one' });
    // CRLF, then two empty lines (one of them CR LF): ignored, never rejected.
    await c.write(`${JSON.stringify(a)}\r\n\r\n\n`);
    const bBuf = Buffer.from(line(b));
    const euro = bBuf.indexOf(Buffer.from('€'));
    const smile = bBuf.indexOf(Buffer.from('😀'));
    // Cut inside the 3-byte € and inside the 4-byte 😀; pause so the parts arrive as separate reads.
    await c.writeSplit(bBuf, [euro + 1, smile + 2], { gapMs: 40 });
    await c.write(`${JSON.stringify(d)}\r\n`);
    const got = await waitForIds(dataDir, ['crlf', 'split', 'last'], 5000);
    const pa = got.get('crlf') as PersistedRecord;
    const pb = got.get('split') as PersistedRecord;
    expectEqual(withoutRx(pa.record), a, { what: 'the CRLF record (without _rx)', where: where(pa) });
    expectTrue(!pa.raw.includes('\r') && !(got.get('last') as PersistedRecord).raw.includes('\r'), {
      expected: 'no CR in the persisted line',
      received: show(pa.raw.slice(-60)),
      where: where(pa),
      hint: `${SPLIT}: drop one CR just before the LF, for a line inside one chunk (push) and for a held one (completeHeld)`,
    });
    expectEqual(pb.record['msg'], b['msg'], {
      what: 'msg of the record whose € and 😀 were split across writes',
      where: where(pb),
      hint: `${SPLIT}: work on bytes (Buffers) and join the pieces before anyone decodes them; never toString() a piece, a chunk can end inside a character`,
    });
    expectEqual(withoutRx(pb.record), b, { what: 'the split record (without _rx)', where: where(pb) });
    await waitForStat(dataDir, 'records.persisted', 3, 5000, 'stats.json records.persisted counts records written');
    const stats = await readStats(dataDir);
    const { rejects } = await readRejects(dataDir);
    expectTrue(rejects.length === 0 && (statNumber(stats, 'records.rejected') ?? 0) === 0, {
      expected: 'no rejects (empty lines, and lines that are only CR, are ignored)',
      received: `${rejects.length} rejects ${show(rejects.map((r) => r.reject))}, stats records.rejected = ${show(statNumber(stats, 'records.rejected'))}`,
      where: `${dataDir}/rejects.ndjson`,
      hint: `${SPLIT}: drop the CR before the LF first, then skip a line that is empty`,
    });
  },
};

const d08_5: Check = {
  id: 'd08.5',
  title: 'A line over --max-line-bytes is rejected as line_too_long before its LF; the connection carries on',
  points: 15,
  timeoutMs: 30_000,
  async run(ctx) {
    const { rx, dataDir } = await startReceiver(ctx, ['--max-line-bytes', '1024']);
    const c = await ctx.connect(rx.host, rx.port);
    const padTo = (id: string, bytes: number) => {
      const r = rec(id, { msg: '' });
      const room = bytes - Buffer.byteLength(JSON.stringify(r));
      return { ...r, msg: 'x'.repeat(room) };
    };
    const near = padTo('near-limit', 1000);
    const whole = padTo('too-long-whole', 2000);
    const long = padTo('too-long', 5000);
    const after = rec('after-long', { msg: 'the line after the long one' });
    const later = rec('later', { msg: 'a line in a later write' });
    const wholeText = JSON.stringify(whole);
    const longText = JSON.stringify(long);
    expectEqual(Buffer.byteLength(longText), 5000, { what: 'harness self-test: long line bytes' });
    const tooLong = async (n: number, hint: string) => {
      let reasons: unknown[] = [];
      return waitFor(
        async () => {
          const { rejects } = await readRejects(dataDir);
          reasons = rejects.map((x) => x.reject['reason']);
          const found = rejects.filter((x) => x.reject['reason'] === 'line_too_long');
          return found.length >= n ? found : undefined;
        },
        {
          timeoutMs: 5000,
          what: `${n} reject${n > 1 ? 's' : ''} with reason "line_too_long" in <data-dir>/rejects.ndjson`,
          where: `${dataDir}/rejects.ndjson`,
          hint,
          received: () => (reasons.length ? `rejects with reasons ${show(reasons)}` : 'no rejects'),
        },
      );
    };

    // A record just under the limit, then a complete 2000-byte line in the same write.
    await c.write(`${line(near)}${line(whole)}`);
    const [r1] = await tooLong(
      1,
      `${LIMIT}: a complete line over maxLineBytes goes to onTooLong (the receiver rejects it as "line_too_long"), never to onLine`,
    );
    checkRejectShape(r1 as RejectEntry, wholeText, c.localPeer, 'the line_too_long reject');

    // The first 3500 of 5000 bytes, in two writes: over the limit already, and no LF yet. The receiver
    // must not wait for the LF to find out (a peer that never sends one would fill its memory).
    await c.writeSplit(longText.slice(0, 3500), [1500], { gapMs: 20 });
    const [, r2] = await tooLong(
      2,
      `${LIMIT}: a line is too long as soon as more than --max-line-bytes of it has arrived, before its LF: report it then (onTooLong) and drop what is held`,
    );
    checkRejectShape(r2 as RejectEntry, longText, c.localPeer, 'the line_too_long reject of a line still arriving');

    // The rest of the long line, its LF and the next record together; then a record in a later write.
    await c.write(`${longText.slice(3500)}\n${line(after)}`);
    const got = await waitForIds(
      dataDir,
      ['near-limit', 'after-long'],
      5000,
      `${LIMIT}: after a too-long line, skip to its LF (takeHeld ends the skip) and decode the next line as usual`,
    );
    expectEqual(withoutRx((got.get('after-long') as PersistedRecord).record), after, {
      what: 'the record after the long line',
      where: where(got.get('after-long') as PersistedRecord),
    });
    await c.write(line(later));
    await waitForIds(
      dataDir,
      ['later'],
      5000,
      `${LIMIT}: the skip ends at the long line's LF (takeHeld): a later line is not skipped`,
    );
    const { records } = await readRecords(dataDir);
    const leaked = records.filter(
      (p) =>
        idOf(p.record)?.startsWith('too-long') || p.record['msg'] === long['msg'] || p.record['msg'] === whole['msg'],
    );
    expectTrue(leaked.length === 0, {
      expected: 'the too-long records not persisted',
      received: `persisted at ${leaked.map(where).join(', ')}`,
      where: dataDir,
      hint: `${LIMIT}: a too-long line never reaches onLine`,
    });
    expectEqual(records.length, 3, {
      what: 'records persisted (near-limit, after-long, later)',
      where: dataDir,
      hint: `${LIMIT}: the bytes of a too-long line are dropped up to its LF, not decoded as new lines`,
    });
    const { rejects } = await readRejects(dataDir);
    expectEqual(
      rejects.map((x) => x.reject['reason']),
      ['line_too_long', 'line_too_long'],
      {
        what: 'reasons in rejects.ndjson',
        where: `${dataDir}/rejects.ndjson`,
        hint: `${LIMIT}: one too-long line is one onTooLong, however many reads it took (report when it first goes over, then skip)`,
      },
    );
    expectTrue(!c.destroyed && !c.peerEnded, {
      expected: 'the connection to stay open',
      received: 'the receiver closed it',
      where: `connection from ${c.localPeer}`,
      hint: 'a too-long line is not fatal (shared/protocol/README.md §2)',
    });
  },
};

const d08_6: Check = {
  id: 'd08.6',
  title: 'Invalid JSON and a record missing level land in rejects.ndjson, counted in stats.json',
  points: 15,
  timeoutMs: 30_000,
  async run(ctx) {
    const { rx, dataDir } = await startReceiver(ctx);
    const c = await ctx.connect(rx.host, rx.port);
    const broken = '{"ts":"2026-11-26T14:13:48.123Z","level":"info","msg":"broken';
    const noLevel = JSON.stringify({
      ts: '2026-11-26T14:13:48.123Z',
      msg: 'where is my level',
      attrs: { id: 'no-level' },
    });
    const ok1 = rec('ok-1');
    await c.write(`${broken}\n${noLevel}\n${line(ok1)}`);
    await waitForIds(
      dataDir,
      ['ok-1'],
      5000,
      `${VALIDATE}: a bad line is an answer ({ok: false, reason}), never an exception: the next line is processed`,
    );
    const bad = await waitForReject(
      dataDir,
      'invalid_json',
      5000,
      `${VALIDATE} (validateRecord): a line JSON.parse refuses is {ok: false, reason: "invalid_json"}`,
    );
    checkRejectShape(bad, broken, c.localPeer, 'the invalid_json reject');
    const missing = await waitForReject(
      dataDir,
      'missing_level',
      5000,
      `${VALIDATE} (validateRecordObject): an object without "level" is {ok: false, reason: "missing_level"}`,
    );
    checkRejectShape(missing, noLevel, c.localPeer, 'the missing_level reject');
    // The connection carries on after the rejects.
    const ok2 = rec('ok-2');
    await c.write(line(ok2));
    await waitForIds(dataDir, ['ok-1', 'ok-2'], 5000, 'the connection carries on after rejected lines');
    const { records } = await readRecords(dataDir);
    expectTrue(!records.some((p) => idOf(p.record) === 'no-level'), {
      expected: 'the record without a level not persisted',
      received: 'it was persisted',
      where: dataDir,
      hint: `${VALIDATE}: a record needs ts, level and msg`,
    });
    expectEqual(records.length, 2, { what: 'records persisted (ok-1, ok-2)', where: dataDir });
    await waitForStat(dataDir, 'records.rejected', 2, 5000, 'stats.json records.rejected counts every reject');
    await waitForStat(dataDir, 'records.persisted', 2, 5000, 'stats.json records.persisted counts records written');
    expectTrue(!c.destroyed && !c.peerEnded, {
      expected: 'the connection to stay open',
      received: 'the receiver closed it',
      where: `connection from ${c.localPeer}`,
      hint: 'bad input is rejected, never fatal to the connection',
    });
  },
};

const d08_7: Check = {
  id: 'd08.7',
  title: 'Half a line then silence is cut at --idle-timeout-ms; other clients carry on',
  points: 10,
  timeoutMs: 30_000,
  async run(ctx) {
    const IDLE = 500;
    const EARLY = 100; // may close this much before IDLE after our write (the timer may start at accept)
    const LATE = 1000; // and this much after
    const { rx, dataDir } = await startReceiver(ctx, ['--idle-timeout-ms', String(IDLE)]);
    const idle = await ctx.connect(rx.host, rx.port);
    const busy = await ctx.connect(rx.host, rx.port);
    const half = '{"ts":"2026-11-26T14:13:48.123Z","level":"info","msg":"half a li';
    let stop = false;
    const busyIds: string[] = [];
    // Resolves with the CheckFailure if the receiver cuts the busy connection (a write fails).
    const busyLoop = (async () => {
      for (let i = 0; !stop && i < 40; i++) {
        const id = `busy-${i}`;
        busyIds.push(id);
        await busy.write(line(rec(id)));
        await sleep(100);
      }
    })().then(
      () => undefined,
      (err: unknown) => err,
    );
    await idle.write(half);
    const wroteAt = Date.now();
    ctx.log('half a line written on the idle connection');
    let closedAt: number;
    try {
      closedAt = (
        await idle.waitClosed(IDLE + LATE + 500, `the receiver to close the idle connection after ${IDLE} ms`)
      ).at;
    } finally {
      // Keep the busy client going a little past the cut, then stop it.
      await sleep(300);
      stop = true;
    }
    const busyError = await busyLoop;
    const elapsed = closedAt - wroteAt;
    ctx.log(`idle connection closed after ${elapsed} ms`);
    expectTrue(elapsed >= IDLE - EARLY && elapsed <= IDLE + LATE, {
      expected: `the idle connection closed ${IDLE} ms after its last byte (allowed: ${IDLE - EARLY}..${IDLE + LATE} ms)`,
      received: `closed after ${elapsed} ms`,
      where: `connection from ${idle.localPeer}`,
      hint: `${RECEIVER} (the idle sweep): cut a connection whose last complete line (conn.lastLineAt) is --idle-timeout-ms old`,
    });
    expectTrue(!busyError && !busy.destroyed && !busy.peerEnded, {
      expected: 'the busy connection (a record every 100 ms) to stay open',
      received: 'the receiver closed it too',
      where: `connection from ${busy.localPeer}`,
      hint: `${RECEIVER} (the idle sweep): compare each connection's own lastLineAt, cut only that one`,
    });
    await waitForIds(dataDir, busyIds, 5000, 'every record of the busy connection is persisted');
    const r = await waitForReject(
      dataDir,
      'idle_timeout',
      5000,
      `${RECEIVER} (the idle sweep): reject the partial line it holds (conn.decoder.buffered()) with reason "idle_timeout", then close the socket`,
    );
    checkRejectShape(r, half, idle.localPeer, 'the idle_timeout reject');
  },
};

const d08_8: Check = {
  id: 'd08.8',
  title: 'A final line without LF is persisted when the client ends',
  points: 10,
  timeoutMs: 30_000,
  async run(ctx) {
    const { rx, dataDir } = await startReceiver(ctx);
    const c = await ctx.connect(rx.host, rx.port);
    const first = rec('first');
    const final = rec('final-no-lf', { msg: 'no LF after me' });
    await c.write(`${line(first)}${JSON.stringify(final)}`);
    await c.end();
    ctx.log('sent two records, the second without LF, then ended (half-close)');
    await c.waitClosed(5000, 'the receiver to end its side after the client ended');
    const got = await waitForIds(
      dataDir,
      ['first', 'final-no-lf'],
      5000,
      `the bytes after the last LF are a final line: your end() in lessons/day08/line-decoder.ts completes it, and ${RECEIVER} ('end' handler) calls decoder.end() and flushes before ending our side`,
    );
    const p = got.get('final-no-lf') as PersistedRecord;
    expectEqual(withoutRx(p.record), final, { what: 'the final line (without _rx)', where: where(p) });
    const { files } = await readRecords(dataDir);
    const partial = files.find((f) => f.endsInPartialLine);
    expectTrue(!partial, {
      expected: 'every persisted line to end in LF',
      received: `ends in ${show(partial?.partialTail)}`,
      where: partial?.file ?? dataDir,
      hint: 'write the final line with its LF',
    });
  },
};

const d08_9: Check = {
  id: 'd08.9',
  title: 'SIGTERM: exit 0 within 5 s, nothing lost, no partial line, final stats.json',
  points: 10,
  timeoutMs: 30_000,
  async run(ctx) {
    const N = 300;
    const { rx, dataDir } = await startReceiver(ctx);
    const c = await ctx.connect(rx.host, rx.port);
    const ids: string[] = [];
    let text = '';
    for (let i = 0; i < N; i++) {
      const id = `sigterm-${i}`;
      ids.push(id);
      text += line(rec(id, { msg: asciiMsg(ctx.rng) }));
    }
    await c.writeSplit(
      `${text}{"ts":"2026-11-26T14:13:48.123Z","level":"info","msg":"half a`,
      randomCuts(ctx.rng, text.length),
    );
    // SIGTERM once the receiver has the lines (stats says so, or they are on disk): not before.
    await waitFor(
      async () =>
        (statNumber(await readStats(dataDir).catch(() => null), 'records.received') ?? 0) >= N ||
        (await readRecords(dataDir)).records.length >= N,
      {
        timeoutMs: 5000,
        what: `the receiver to take in the ${N} lines (stats.json records.received or the *.ndjson files)`,
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
        hint: `${RECEIVER} (SIGTERM): close the server AND the open connections; server.close() alone waits for every client to leave`,
      });
    expectTrue(res.exitCode === 0 && res.signal === null, {
      expected: 'exit code 0 after SIGTERM',
      received: `exit code ${res.exitCode}, signal ${res.signal}; stderr tail: ${show(rx.stderrText().trim().slice(-300))}`,
      where: `pid ${rx.pid}`,
      hint: `${RECEIVER} (SIGTERM): stop accepting, flush, write stats, then return (the shutdown helper exits 0)`,
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
      hint: `${RECEIVER} (SIGTERM): close the sink (await sink.close()) before exiting`,
    });
    const seen = new Map<string, number>();
    for (const p of read.records) {
      const id = idOf(p.record);
      if (id !== undefined) seen.set(id, (seen.get(id) ?? 0) + 1);
    }
    const missing = ids.map((id, i) => (seen.has(id) ? -1 : i)).filter((i) => i >= 0);
    expectTrue(missing.length === 0, {
      expected: `all ${N} complete lines persisted`,
      received: `${missing.length} missing (line numbers ${formatRanges(missing)})`,
      where: dataDir,
      hint: `${RECEIVER} (SIGTERM): keep reading until the wire is quiet (--drain-quiet-ms), then flush what is buffered`,
    });
    const dups = [...seen].filter(([, n]) => n > 1);
    expectTrue(dups.length === 0 && read.records.length === N, {
      expected: `exactly ${N} records (the half line is not a record)`,
      received: `${read.records.length} records, ${dups.length} duplicated`,
      where: dataDir,
    });
    const stats = await readStats(dataDir).catch((err: Error) =>
      fail({ expected: 'stats.json to be JSON', received: err.message, where: `${dataDir}/stats.json` }),
    );
    if (!stats) fail({ expected: 'stats.json written at shutdown', received: 'no stats.json', where: dataDir });
    const updatedAt = stats['updatedAt'];
    const updatedMs =
      typeof updatedAt === 'string' ? Date.parse(updatedAt) : typeof updatedAt === 'number' ? updatedAt : NaN;
    expectTrue(updatedMs >= sigtermAt - 5, {
      expected: `stats.json updatedAt ≥ the SIGTERM time ${new Date(sigtermAt).toISOString()}`,
      received: show(updatedAt),
      where: `${dataDir}/stats.json`,
      hint: `${RECEIVER} (SIGTERM): write the final stats (await statsWriter.stop()) after the sink is closed`,
    });
    expectEqual(statNumber(stats, 'records.persisted'), read.records.length, {
      what: 'final stats.json records.persisted (= records in the files)',
      where: `${dataDir}/stats.json`,
    });
  },
};

const d08_10: Check = {
  id: 'd08.10',
  title: '--max-connections: a connection over the limit is refused; the others carry on',
  points: 5,
  timeoutMs: 30_000,
  async run(ctx) {
    const { rx, dataDir } = await startReceiver(ctx, ['--max-connections', '2']);
    const c1 = await ctx.connect(rx.host, rx.port);
    const c2 = await ctx.connect(rx.host, rx.port);
    await c1.write(line(rec('c1-a')));
    await c2.write(line(rec('c2-a')));
    await waitForIds(dataDir, ['c1-a', 'c2-a'], 5000);
    let c3: TcpClient | undefined;
    try {
      c3 = await ctx.connect(rx.host, rx.port);
    } catch (err) {
      if (!(err instanceof CheckFailure)) throw err;
      ctx.log(`third connection refused at connect: ${err.received}`);
    }
    if (c3) {
      await c3.write(line(rec('c3-refused'))).catch(() => undefined);
      await c3.waitClosed(3000, 'the receiver to close the third connection (over --max-connections 2)');
    }
    await c1.write(line(rec('c1-b')));
    await c2.write(line(rec('c2-b')));
    await waitForIds(
      dataDir,
      ['c1-b', 'c2-b'],
      5000,
      `${RECEIVER} (accept): refusing the third connection must leave the first two alone`,
    );
    expectTrue(!c1.destroyed && !c2.destroyed && !c1.peerEnded && !c2.peerEnded, {
      expected: 'the first two connections to stay open',
      received: `first ${c1.destroyed || c1.peerEnded ? 'closed' : 'open'}, second ${c2.destroyed || c2.peerEnded ? 'closed' : 'open'}`,
      where: rx.host,
    });
    const { records } = await readRecords(dataDir);
    const leaked = records.find((p) => idOf(p.record) === 'c3-refused');
    expectTrue(!leaked, {
      expected: 'nothing from the refused connection persisted',
      received: `persisted at ${leaked ? where(leaked) : ''}`,
      where: dataDir,
      hint: `${RECEIVER} (accept): a connection over --max-connections is destroyed at once, before it is read`,
    });
    // A slot freed by a client leaving is usable again.
    await c1.end();
    await c1.waitClosed(5000, 'the receiver to end its side after the client ended');
    await waitFor(
      async () => {
        const c4 = await ctx.connect(rx.host, rx.port);
        await c4.write(line(rec('c4'))).catch(() => undefined);
        const closed = await Promise.race([c4.closed.then(() => true), sleep(300).then(() => false)]);
        if (closed) return false;
        return c4;
      },
      {
        timeoutMs: 3000,
        what: 'a new connection to be accepted once one of the two has left',
        where: rx.host,
        hint: 'count open connections down when one closes',
      },
    );
    await waitForIds(dataDir, ['c4'], 5000, 'a connection accepted after a slot freed works');
  },
};

export const checks: Check[] = [d08_1, d08_2, d08_3, d08_4, d08_5, d08_6, d08_7, d08_8, d08_9, d08_10];
