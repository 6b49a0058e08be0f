// The syslog lane against real peers, as real processes on loopback: util-linux `logger`, rsyslogd as a
// client (plain TCP with both framings, TLS with the gtls driver) and as a server (our forwarder → rsyslog
// imptcp → omfile), plus malformed input over raw sockets. Every wait is a condition with a deadline.
// Missing logger/rsyslogd: skipped with a message locally, a failure under CI=true (.ci/run installs them:
// apt-get install rsyslog rsyslog-gnutls bsdutils).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCerts, type CertSet } from '../../shared/tls/certs.ts';
import { freePort } from '../../shared/free-port.ts';
import {
  findProgram,
  forwardingConfig,
  loggerToSocket,
  startRsyslog,
  waitFor,
  type Rsyslog,
} from '../../tests/support/rsyslog-peer.ts';
import { RecordOutput } from '../../shared/protocol/syslog/writer.ts';
import { InlineSyslogParser, WorkerSyslogParser, type ParsedBatch, type SyslogStreamParser } from './syslog-parser.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const CI = process.env.CI === 'true';
const LOGGER = findProgram('logger');
const RSYSLOGD = findProgram('rsyslogd');
const HAVE_GTLS =
  RSYSLOGD !== undefined &&
  [
    '/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so',
    '/usr/lib/aarch64-linux-gnu/rsyslog/lmnsd_gtls.so',
    '/usr/lib/rsyslog/lmnsd_gtls.so',
    '/usr/lib64/rsyslog/lmnsd_gtls.so',
  ].some((p) => existsSync(p));

/** Skips locally (with a clear message) when a peer program is missing; under CI that is a failure. */
function peersMissing(what: Array<[string, boolean]>): boolean {
  const missing = what.filter(([, ok]) => !ok).map(([name]) => name);
  if (missing.length === 0) return false;
  const msg = `syslog peer tests need ${missing.join(', ')} (apt-get install rsyslog rsyslog-gnutls bsdutils)`;
  if (CI) throw new Error(`${msg}: missing under CI=true`);
  console.warn(`SKIPPED: ${msg}`);
  return true;
}

/** What the rsyslog-as-a-TLS-client cases need: rsyslogd, its gnutls driver, and logger to feed it. */
const RSYSLOG_TLS_CLIENT_PEERS: Array<[string, boolean]> = [
  ['rsyslogd (rsyslog)', RSYSLOGD !== undefined],
  ['rsyslog-gnutls', HAVE_GTLS],
  ['logger (bsdutils)', LOGGER !== undefined],
];

interface Rec {
  ts: string;
  level: string;
  msg: string;
  service?: string;
  host?: string;
  attrs: {
    facility: string;
    severity: string;
    procid?: string;
    msgid?: string;
    sd?: Record<string, Record<string, string | string[]>>;
    [k: string]: unknown;
  };
  _rx: { ts: string; peer: string; lane: string; transport: 'udp' | 'tcp' | 'tls'; client?: string };
}

interface Receiver {
  child: ChildProcess;
  dir: string;
  ports: { udp: number | null; tcp: number | null; tls: number | null };
  stderr: string[];
  records(): Promise<Rec[]>;
  rejects(): Promise<Array<{ reason: string; peer: string; sample: string }>>;
  /** waits until `pred` holds for the persisted records; returns them */
  until(pred: (rs: Rec[]) => boolean, what: string, timeoutMs?: number): Promise<Rec[]>;
  stop(): Promise<number | null>;
}

let certs: CertSet;
let tmp: string;
const started: Array<{ stop(): Promise<unknown> }> = [];

async function readLines(path: string): Promise<string[]> {
  try {
    return (await readFile(path, 'utf8')).split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

async function startReceiver(extra: string[] = []): Promise<Receiver> {
  const dir = await mkdtemp(join(tmp, 'rx-'));
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('LOGSTREAM_')) env[k] = v;
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(HERE, 'syslog-receiver.ts'),
      '--port',
      '0',
      '--data-dir',
      dir,
      '--certs',
      certs.dir,
      '--stats-interval-ms',
      '100',
      ...extra,
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const stderr: string[] = [];
  createInterface({ input: child.stderr }).on('line', (l) => stderr.push(l));
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ready line within 20 s:\n${stderr.join('\n')}`)), 20_000);
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(t);
      resolve(JSON.parse(line) as Record<string, unknown>);
    });
    child.once('exit', (code) => reject(new Error(`receiver exited ${code} before ready:\n${stderr.join('\n')}`)));
  });
  expect(ready).toMatchObject({
    event: 'ready',
    role: 'receiver',
    lesson: 'stack',
    transport: 'syslog',
    host: '127.0.0.1',
  });
  const ports = ready['ports'] as Receiver['ports'];
  expect(ready['port']).toBe(ports.tcp ?? ports.tls ?? ports.udp);
  const records = async () => {
    const out: Rec[] = [];
    for (const f of (await readdir(dir)).filter((n) => /^records-\d+\.ndjson$/.test(n)).sort()) {
      for (const l of await readLines(join(dir, f))) out.push(JSON.parse(l) as Rec);
    }
    return out;
  };
  const rx: Receiver = {
    child,
    dir,
    ports,
    stderr,
    records,
    rejects: async () =>
      (await readLines(join(dir, 'rejects.ndjson'))).map(
        (l) => JSON.parse(l) as { reason: string; peer: string; sample: string },
      ),
    async until(pred, what, timeoutMs = 15_000) {
      let last: Rec[] = [];
      try {
        await waitFor(async () => pred((last = await records())), what, timeoutMs, 50);
      } catch (err) {
        throw new Error(
          `${(err as Error).message}; have ${last.length} records: ${JSON.stringify(last.slice(-3))}\n${stderr.slice(-5).join('\n')}`,
        );
      }
      return last;
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exit;
    },
  };
  started.push(rx);
  return rx;
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
}

const byMsg = (rs: Rec[], text: string) => rs.filter((r) => r.msg.trim() === text);
const HOST = os.hostname();
const SHORT_HOST = HOST.split('.')[0]!;

beforeAll(async () => {
  tmp = await mkdtemp(join(os.tmpdir(), 'logstream-syslog-'));
  certs = await ensureCerts(join(tmp, 'certs'));
});

afterAll(async () => {
  await Promise.allSettled(started.map((p) => p.stop()));
  await rm(tmp, { recursive: true, force: true });
});

describe('util-linux logger → syslog lane', () => {
  it('UDP, TCP (LF), TCP octet-counted; RFC 5424 with structured data and RFC 3164 with tag/PID', async () => {
    if (peersMissing([['logger (bsdutils)', LOGGER !== undefined]])) return;
    // on a worker thread here (the other tests run the default, inline parsing)
    const rx = await startReceiver(['--tls-port', 'off', '--parse-threads', '1']);
    const { udp, tcp } = rx.ports;
    const sd = ['--sd-id', 'zoo@32473', '--sd-param', 'tiger="hungry"', '--sd-param', 'quote="a\\"b\\]c"'];
    const cases: Array<{ args: string[]; msg: string; transport: 'udp' | 'tcp'; rfc: 5424 | 3164 }> = [
      {
        args: ['--udp', '--port', String(udp), '--rfc5424', ...sd, '--msgid', 'M1'],
        msg: 'udp 5424',
        transport: 'udp',
        rfc: 5424,
      },
      { args: ['--udp', '--port', String(udp), '--rfc3164'], msg: 'udp 3164', transport: 'udp', rfc: 3164 },
      {
        args: ['--tcp', '--port', String(tcp), '--rfc5424', ...sd, '--msgid', 'M2'],
        msg: 'tcp lf 5424',
        transport: 'tcp',
        rfc: 5424,
      },
      { args: ['--tcp', '--port', String(tcp), '--rfc3164'], msg: 'tcp lf 3164', transport: 'tcp', rfc: 3164 },
      {
        args: ['--tcp', '--octet-count', '--port', String(tcp), '--rfc5424', ...sd, '--msgid', 'M3'],
        msg: 'tcp octet 5424',
        transport: 'tcp',
        rfc: 5424,
      },
      {
        args: ['--tcp', '--octet-count', '--port', String(tcp), '--rfc3164'],
        msg: 'tcp octet 3164',
        transport: 'tcp',
        rfc: 3164,
      },
    ];
    for (const c of cases)
      run(LOGGER!, ['--server', '127.0.0.1', ...c.args, '-t', 'lab-app', '--id=4242', '-p', 'local0.err', c.msg]);
    const rs = await rx.until((r) => cases.every((c) => byMsg(r, c.msg).length === 1), 'one record per logger message');
    for (const c of cases) {
      const r = byMsg(rs, c.msg)[0]!;
      expect(r, c.msg).toMatchObject({
        level: 'error',
        service: 'lab-app',
        msg: c.msg,
        host: c.rfc === 5424 ? HOST : SHORT_HOST,
      });
      expect(r.attrs, c.msg).toMatchObject({ facility: 'local0', severity: 'err', procid: '4242' });
      expect(r._rx, c.msg).toMatchObject({ lane: 'syslog', transport: c.transport });
      expect(r._rx.peer, c.msg).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(Date.parse(r.ts), c.msg).toBeGreaterThan(Date.now() - 3_600_000);
      if (c.rfc === 5424) {
        expect(r.attrs.sd?.['zoo@32473'], c.msg).toEqual({ tiger: 'hungry', quote: 'a"b]c' });
        expect(r.attrs.msgid, c.msg).toMatch(/^M[123]$/);
      }
    }
    expect(await rx.rejects()).toEqual([]);
    expect(await rx.stop()).toBe(0);
    const stats = JSON.parse(await readFile(join(rx.dir, 'stats.json'), 'utf8')) as {
      lane: string;
      records: { persisted: number };
      syslog: Record<string, { persisted: number }>;
    };
    expect(stats.lane).toBe('syslog');
    expect(stats.records.persisted).toBe(6);
    expect(stats.syslog['udp']!.persisted).toBe(2);
    expect(stats.syslog['tcp']!.persisted).toBe(4);
  });
});

describe('malformed syslog is rejected per message; the connection and the lane carry on', () => {
  it('bad PRI, bad count, count over the limit, truncated count; UDP too large and bad PRI', async () => {
    const rx = await startReceiver(['--tls-port', 'off', '--max-message-bytes', '1024']);
    const tcpPort = rx.ports.tcp!;
    const a = net.connect({ host: '127.0.0.1', port: tcpPort });
    const b = net.connect({ host: '127.0.0.1', port: tcpPort });
    await Promise.all([a, b].map((s) => new Promise<void>((r) => s.once('connect', () => r()))));
    const oct = (m: string) => `${Buffer.byteLength(m)} ${m}`;
    // connection A: garbage interleaved with good messages
    a.write('<999>1 - - - - - - bad pri\n');
    a.write(oct('<13>1 - h app - - - good 1'));
    a.write(`2000 ${'x'.repeat(2000)}`); // count over the 1024 limit: skipped exactly
    a.write(oct('<13>1 - h app - - - good 2'));
    a.write('12x junk up to the LF\n'); // not a count: resync after the LF
    a.write('<13>1 - h app - - - good 3\n');
    a.write('no pri at all\n');
    // connection B, meanwhile, is unaffected
    b.write(oct('<14>1 - h other - - - from b'));
    const rs = await rx.until(
      (r) => ['good 1', 'good 2', 'good 3', 'from b'].every((m) => byMsg(r, m).length === 1),
      'the good messages around the bad ones',
    );
    expect(rs.map((r) => r.msg)).toEqual(expect.arrayContaining(['good 1', 'good 2', 'good 3', 'from b']));
    expect(rs).toHaveLength(4);
    // A is still open and still read
    a.write('<13>1 - h app - - - good 4\n');
    await rx.until((r) => byMsg(r, 'good 4').length === 1, 'a message after the errors on the same connection');
    // a count cut by the end of the stream
    a.end('35');
    await new Promise<void>((r) => a.once('close', () => r()));
    b.end();
    // UDP: a datagram over the limit, one without a PRI, then a good one
    const u = dgram.createSocket('udp4');
    const send = (m: string | Buffer) =>
      new Promise<void>((r, j) => u.send(m, rx.ports.udp!, '127.0.0.1', (e) => (e ? j(e) : r())));
    await send(`<13>1 - - - - - - ${'y'.repeat(1100)}`);
    await send('hello without pri');
    await send('<13>1 - h udp - - - good udp');
    await rx.until((r) => byMsg(r, 'good udp').length === 1, 'the good datagram');
    u.close();
    await waitFor(async () => (await rx.rejects()).length >= 7, 'seven rejects', 10_000, 50);
    const rejects = await rx.rejects();
    expect(rejects.map((r) => r.reason).sort()).toEqual(
      [
        'syslog_bad_count',
        'syslog_bad_count',
        'syslog_bad_pri',
        'syslog_bad_pri',
        'syslog_bad_pri',
        'syslog_count_too_large',
        'syslog_too_large',
      ].sort(),
    );
    const tooLarge = rejects.find((r) => r.reason === 'syslog_count_too_large')!;
    expect(tooLarge.sample.startsWith('2000 xxx')).toBe(true);
    expect(tooLarge.sample.length).toBeLessThanOrEqual(256);
    expect(rejects.find((r) => r.sample === 'no pri at all')?.reason).toBe('syslog_bad_pri');
    expect(await rx.stop()).toBe(0);
    const stats = JSON.parse(await readFile(join(rx.dir, 'stats.json'), 'utf8')) as {
      records: { rejected: number; persisted: number };
      rejects: Record<string, number>;
    };
    expect(stats.records).toMatchObject({ rejected: 7, persisted: 6 });
    expect(stats.rejects).toEqual({
      syslog_bad_pri: 3,
      syslog_bad_count: 2,
      syslog_count_too_large: 1,
      syslog_too_large: 1,
    });
  });
});

describe('a count too large to skip closes that connection only', () => {
  for (const threads of ['0', '1']) {
    it(`--parse-threads ${threads} --max-skip-bytes: a count over the message limit is skipped up to it; past it the connection is closed, others carry on`, async () => {
      const rx = await startReceiver([
        '--tls-port',
        'off',
        '--udp-port',
        'off',
        '--parse-threads',
        threads,
        '--max-message-bytes',
        '1024',
        '--max-skip-bytes',
        '4096',
      ]);
      const port = rx.ports.tcp!;
      const connect = async () => {
        const s = net.connect({ host: '127.0.0.1', port });
        s.on('error', () => {});
        await new Promise<void>((r) => s.once('connect', () => r()));
        return s;
      };
      const [a, b] = [await connect(), await connect()];
      const aClosed = new Promise<void>((r) => a.once('close', () => r()));
      const oct = (m: string) => `${Buffer.byteLength(m)} ${m}`;
      a.write(oct('<13>1 - h app - - - a1'));
      a.write(`3000 ${'x'.repeat(3000)}`); // over the message limit, within the skip limit: skipped
      a.write(oct('<13>1 - h app - - - a2'));
      await rx.until((r) => byMsg(r, 'a2').length === 1, 'the message after the skipped one');
      a.write(`999999 ${'y'.repeat(100)}`); // past the skip limit: the lane closes A
      a.write(oct('<13>1 - h app - - - never'));
      await aClosed;
      b.write(oct('<13>1 - h app - - - b1'));
      const c = await connect();
      c.end(oct('<13>1 - h app - - - c1'));
      await rx.until(
        (r) => byMsg(r, 'b1').length === 1 && byMsg(r, 'c1').length === 1,
        'the other connections carry on',
      );
      b.end();
      expect(await rx.stop()).toBe(0);
      expect((await rx.records()).map((r) => r.msg).sort()).toEqual(['a1', 'a2', 'b1', 'c1']);
      const rejects = await rx.rejects();
      expect(rejects.map((r) => [r.reason, r.sample.slice(0, 7)])).toEqual([
        ['syslog_count_too_large', '3000 xx'],
        ['syslog_count_too_large', '999999 '],
      ]);
      const stats = JSON.parse(await readFile(join(rx.dir, 'stats.json'), 'utf8')) as {
        rejects: Record<string, number>;
        syslog: { tcp: { framingClosed: number } };
      };
      expect(stats.rejects).toEqual({ syslog_count_too_large: 2 });
      expect(stats.syslog.tcp.framingClosed).toBe(1);
    });
  }
});

describe('syslog-parser.ts: parse workers make the same records and rejects as the inline parser', () => {
  it('many batches through the shared slabs, records bigger than a slab, rejects, and a fatal count', async () => {
    const oct = (m: string | Buffer) => Buffer.concat([Buffer.from(`${Buffer.byteLength(m)} `), Buffer.from(m)]);
    const parts: Buffer[] = [];
    for (let i = 0; i < 6000; i++)
      parts.push(
        oct(
          `<${(i * 7) % 192}>1 2026-11-26T10:00:00.${String(i % 1000).padStart(3, '0')}Z web-${i % 9} app - REQ [req@32473 id="${i}" q="a\\"b"] message ${i} é`,
        ),
      );
    // every byte escaped as \u00XX: ~6× the input, so a batch's records outgrow a 4 MiB slab
    for (let i = 0; i < 120; i++)
      parts.push(oct(Buffer.concat([Buffer.from(`<13>1 - h ctl - - - `), Buffer.alloc(60_000, 1)])));
    parts.push(
      Buffer.from('<999>1 - - - - - - bad pri\n'),
      oct('<13>1 - h app - - - after'),
      Buffer.from('99999999 '),
      oct('<13>never'),
    );
    const stream = Buffer.concat(parts);
    const limits = { maxMessageBytes: 64 << 10, maxSkipBytes: 1 << 20 };
    const run = async (make: (onOutput: (b: ParsedBatch) => void) => SyslogStreamParser, out?: RecordOutput) => {
      const records: Buffer[] = [];
      const events: string[] = [];
      let closed!: () => void;
      const done = new Promise<void>((r) => (closed = r));
      const p = make((b) => {
        if (b.records) records.push(Buffer.from(b.records));
        for (const o of b.outputs) {
          events.push(`${o.messages}/${o.persisted}/${o.rejects.map((r) => r.reason).join(',')}/${o.fatal ?? false}`);
          if (o.closed) closed();
        }
      });
      await p.ready;
      p.open(1, ',"peer":"t"}');
      for (let off = 0, k = 0; off < stream.length; off += 64 << 10, k++)
        p.push(1, stream.subarray(off, off + (64 << 10)), 1_764_150_000_000 + k);
      p.close(1);
      await done;
      await p.stop();
      return { records: out ? out.buf.subarray(0, out.len) : Buffer.concat(records), events };
    };
    const output = new RecordOutput(Buffer.alloc(1 << 20));
    const inline = await run((cb) => new InlineSyslogParser(limits, cb, output), output);
    const worker = await run((cb) => new WorkerSyslogParser(1, limits, cb, (err) => expect.fail(err.message)));
    const lines = inline.records.toString().split('\n').filter(Boolean);
    expect(lines).toHaveLength(6000 + 120 + 1);
    expect((JSON.parse(lines.at(-1)!) as { msg: string }).msg).toBe('after');
    expect(worker.records.equals(inline.records)).toBe(true);
    const summary = (ev: string[]) => ev.join(' ').match(/syslog_\w+|true/g);
    expect(summary(worker.events)).toEqual(summary(inline.events));
    expect(summary(inline.events)).toEqual(['syslog_bad_pri', 'syslog_count_too_large', 'true']);
  }, 60_000);
});

describe('the process contract and the connection life cycle', () => {
  it('--help exits 0; a bad port, an unknown flag or every transport off exits 2 naming it', () => {
    const cli = (...a: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', join(HERE, 'syslog-receiver.ts'), ...a], {
        encoding: 'utf8',
        timeout: 20_000,
      });
    const help = cli('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--udp-port/);
    const bad = cli('--udp-port', 'banana');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--udp-port/);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(cli('--no-such-flag').status).toBe(2);
    const off = cli('--udp-port', 'off', '--tcp-port', '-1', '--tls-port', 'off');
    expect(off.status).toBe(2);
    expect(off.stderr).toMatch(/every transport is off/);
  });

  for (const threads of ['0', '2']) {
    it(`--parse-threads ${threads}: a half-sent message is rejected at SIGTERM (incomplete_at_shutdown) and on idle timeout`, async () => {
      // The idle cut must hit the first connection only: the second one completes a message after the
      // cut, and the lane is stopped well within the timeout after that.
      const rx = await startReceiver([
        '--udp-port',
        'off',
        '--tls-port',
        'off',
        '--parse-threads',
        threads,
        '--idle-timeout-ms',
        '2000',
      ]);
      const idle = net.connect({ host: '127.0.0.1', port: rx.ports.tcp! });
      const idleClosed = new Promise<void>((r) => idle.once('close', () => r()));
      idle.on('error', () => {});
      idle.write('40 <13>1 - - idle - - - half');
      await idleClosed; // cut by the idle timeout
      const s = net.connect({ host: '127.0.0.1', port: rx.ports.tcp! });
      s.on('error', () => {});
      s.write('<13>1 - h app - - - whole\n<13>1 - h app - - - no LF yet');
      await rx.until((r) => byMsg(r, 'whole').length === 1, 'the complete message');
      expect(await rx.stop()).toBe(0);
      const rejects = await rx.rejects();
      expect(rejects.map((r) => [r.reason, r.sample])).toEqual([
        ['idle_timeout', '<13>1 - - idle - - - half'],
        ['incomplete_at_shutdown', '<13>1 - h app - - - no LF yet'],
      ]);
      expect((await rx.records()).map((r) => r.msg)).toEqual(['whole']);
      const stats = JSON.parse(await readFile(join(rx.dir, 'stats.json'), 'utf8')) as {
        connections: { idleTimeouts: number };
        parse: { threads: number };
      };
      expect(stats.connections.idleTimeouts).toBe(1);
      expect(stats.parse.threads).toBe(Number(threads));
    });
  }
});

describe('rsyslog as a client → syslog lane', () => {
  let rsyslog: Rsyslog | undefined;
  afterAll(async () => rsyslog?.stop());

  it('omfwd over TCP (octet-counted RFC 5424 and LF-framed RFC 3164) and over TLS (gtls, x509/name, client cert)', async () => {
    if (peersMissing(RSYSLOG_TLS_CLIENT_PEERS)) return;
    const rx = await startReceiver(['--udp-port', 'off', '--mtls', '--parse-threads', '2']);
    const dir = await mkdtemp(join(tmp, 'rsyslog-client-'));
    const sock = join(dir, 'log.sock');
    const client = certs.clients['shipper-1']!;
    rsyslog = await startRsyslog({
      dir,
      global: `DefaultNetstreamDriverCAFile="${certs.ca.cert}" DefaultNetstreamDriverCertFile="${client.cert}" DefaultNetstreamDriverKeyFile="${client.key}"`,
      readyPath: sock,
      config: forwardingConfig(sock, rx.ports.tcp!, [
        `action(type="omfwd" target="127.0.0.1" port="${rx.ports.tls}" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format"
         StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="localhost")`,
      ]),
    });
    for (let i = 1; i <= 3; i++) run(LOGGER!, loggerToSocket(sock, i, `via rsyslog ${i}`));
    const rs = await rx.until(
      (r) => [1, 2, 3].every((i) => byMsg(r, `via rsyslog ${i}`).length === 3),
      'each message three times (octet TCP, LF TCP, TLS)',
    );
    for (let i = 1; i <= 3; i++) {
      const got = byMsg(rs, `via rsyslog ${i}`);
      for (const r of got) {
        expect(r).toMatchObject({ level: 'warn', service: 'rs-app' });
        expect(r.host === HOST || r.host === SHORT_HOST).toBe(true);
        expect(r.attrs).toMatchObject({ facility: 'local3', severity: 'warning' });
      }
      const tls = got.filter((r) => r._rx.transport === 'tls');
      const tcp = got.filter((r) => r._rx.transport === 'tcp');
      expect(tls).toHaveLength(1);
      expect(tcp).toHaveLength(2);
      expect(tls[0]!._rx.client).toBe('shipper-1');
      // RFC 5424 forwards carry the structured data and MSGID; the traditional (3164) one cannot
      const with5424 = got.filter((r) => r.attrs.sd !== undefined);
      expect(with5424).toHaveLength(2);
      for (const r of with5424) {
        expect(r.attrs.sd?.['req@32473']).toEqual({ n: String(i) });
        expect(r.attrs.msgid).toBe('RQ');
      }
    }
    expect(await rx.rejects()).toEqual([]);
    await rsyslog.stop();
    expect(rsyslog.output.join('')).not.toMatch(/error/i);
    expect(await rx.stop()).toBe(0);
  });

  it('TLS with anon auth against the lane (no client certificate)', async () => {
    if (peersMissing(RSYSLOG_TLS_CLIENT_PEERS)) return;
    const rx = await startReceiver(['--udp-port', 'off', '--tcp-port', 'off']);
    const dir = await mkdtemp(join(tmp, 'rsyslog-anon-'));
    const sock = join(dir, 'log.sock');
    const r = await startRsyslog({
      dir,
      global: `DefaultNetstreamDriverCAFile="${certs.ca.cert}"`,
      readyPath: sock,
      config: `
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="${sock}" ruleset="fwd")
ruleset(name="fwd") {
  action(type="omfwd" target="127.0.0.1" port="${rx.ports.tls}" protocol="tcp" StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="anon" template="RSYSLOG_SyslogProtocol23Format")
}`,
    });
    try {
      run(LOGGER!, ['-u', sock, '-t', 'anon-app', 'over anon tls']);
      const rs = await rx.until((x) => byMsg(x, 'over anon tls').length === 1, 'the anon-TLS message');
      expect(byMsg(rs, 'over anon tls')[0]!).toMatchObject({ service: 'anon-app', _rx: { transport: 'tls' } });
    } finally {
      await r.stop();
    }
    expect(await rx.stop()).toBe(0);
  });
});

describe('records → syslog: the forwarder to rsyslog (imptcp → omfile) and to our own TLS port', () => {
  const records = [
    {
      ts: '2026-11-26T14:13:48.123Z',
      level: 'error',
      msg: 'payment failed',
      service: 'payments',
      host: 'web-07',
      attrs: {
        facility: 'local2',
        procid: '311',
        msgid: 'PAY',
        sd: { 'order@32473': { id: 'A-1', note: 'has "quotes" ] and \\' } },
        user: 42,
      },
    },
    { ts: '2026-11-26T14:13:49Z', level: 'debug', msg: 'cache miss', service: 'search', host: 'web-08' },
    { ts: '2026-11-26T14:13:50.5+01:00', level: 'fatal', msg: 'two\nlines', service: 'gateway' },
  ];

  it('octet-counted and LF-framed RFC 5424 over TCP: rsyslog parses every field', async () => {
    if (peersMissing([['rsyslogd (rsyslog)', RSYSLOGD !== undefined]])) return;
    const dir = await mkdtemp(join(tmp, 'rsyslog-server-'));
    const port = await freePort();
    const out = join(dir, 'out.log');
    const r = await startRsyslog({
      dir,
      readyPort: port,
      config: `
module(load="imptcp")
input(type="imptcp" port="${port}" address="127.0.0.1" ruleset="in")
template(name="fields" type="string" string="%timereported:::date-rfc3339%|%hostname%|%app-name%|%procid%|%msgid%|%syslogfacility-text%|%syslogseverity-text%|%structured-data%|%msg%\\n")
ruleset(name="in") { action(type="omfile" file="${out}" template="fields") }`,
    });
    try {
      const input = join(dir, 'records.ndjson');
      await writeFile(input, `${records.map((x) => JSON.stringify(x)).join('\n')}\nnot a record\n`);
      for (const framing of ['octet', 'lf']) {
        const done = await runForward([
          '--target',
          `127.0.0.1:${port}`,
          '--input',
          input,
          '--format',
          'ndjson',
          '--framing',
          framing,
        ]);
        expect(done).toMatchObject({ event: 'done', sent: 3, skipped: 1, delivered: true });
      }
      await waitFor(async () => (await readLines(out)).length >= 6, 'six lines in rsyslog output', 15_000, 50);
      const lines = await readLines(out);
      expect(lines).toHaveLength(6);
      for (const half of [lines.slice(0, 3), lines.slice(3)]) {
        const fields = half.map((l) => l.split('|'));
        // rsyslog writes the instant in its own notation: compare instants, and every other field exactly
        expect(fields.map((f) => Date.parse(f[0]!))).toEqual(records.map((x) => Date.parse(x.ts)));
        expect(fields.map((f) => f.slice(1).join('|'))).toEqual([
          'web-07|payments|311|PAY|local2|err|[order@32473 id="A-1" note="has \\"quotes\\" \\] and \\\\"][lsp@32473 user="42"]|payment failed',
          'web-08|search|-|-|user|debug|-|cache miss',
          // LF framing cannot carry a LF inside MSG: the forwarder sends a space there
          expect.stringMatching(/^-\|gateway\|-\|-\|user\|crit\|-\|two( |#012)lines$/),
        ]);
      }
    } finally {
      await r.stop();
    }
  });

  it('over TLS to the syslog lane: the record comes back with its fields', async () => {
    const rx = await startReceiver(['--udp-port', 'off', '--tcp-port', 'off']);
    const input = join(rx.dir, '..', `fwd-${process.pid}.ndjson`);
    await writeFile(input, `${records.map((x) => JSON.stringify(x)).join('\n')}\n`);
    const done = await runForward([
      '--target',
      `127.0.0.1:${rx.ports.tls}`,
      '--tls',
      '--ca',
      certs.ca.cert,
      '--input',
      input,
    ]);
    expect(done).toMatchObject({ sent: 3, delivered: true });
    const rs = await rx.until((x) => x.length === 3, 'three records');
    // each record comes back as sent, plus what syslog adds: the severity its level maps to (the facility
    // defaults to user), and an attribute syslog has no field for as a param of SD-ID lsp@32473
    const { user, ...attrs } = records[0]!.attrs!;
    expect(rs[0]).toMatchObject({
      ...records[0],
      attrs: { ...attrs, severity: 'err', sd: { ...attrs.sd, 'lsp@32473': { user: String(user) } } },
      _rx: { transport: 'tls' },
    });
    expect(rs[1]).toMatchObject({ ...records[1], attrs: { facility: 'user', severity: 'debug' } });
    expect(rs[2]).toMatchObject({ ...records[2], attrs: { facility: 'user', severity: 'crit' } });
    expect(await rx.stop()).toBe(0);
  });
});

async function runForward(args: string[]): Promise<Record<string, unknown>> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(HERE, 'syslog-forward.ts'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  const done = out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((e) => e['event'] === 'done');
  if (!done || code !== 0) throw new Error(`syslog-forward exited ${code}: ${out}\n${err}`);
  return done;
}
