// The dashboard's /metrics against real receivers (issue 20.2): shared/ cannot import the lessons, so
// shared/dashboard/metrics.ts keeps its own list of TLS failure reasons; this holds it equal to day 13's
// (at compile time), and shows the syslog lane's TLS failures counted by reason end to end: a plaintext
// client on its TLS port → stats.json → `logstream_tls_handshake_failures_total{lane="syslog",reason="plaintext"} 1`,
// on a page promtool accepts. And malformed UDP datagrams (issue 18.4): a real day 10 receiver on a real
// socket counts each by reason in stats.json (`rejects`, `records.rejected`, beside `udp.malformed`), and
// /metrics shows them as rejects by reason — never as records.
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MalformedReason } from '../lessons/day10/malformed.ts';
import type { HandshakeFailureReason } from '../lessons/day13/tls-failures.ts';
import { REPO_ROOT } from '../scripts/lib/launch.ts';
import { TLS_FAILURE_REASONS, UDP_DATAGRAM_REJECTS } from '../shared/dashboard/metrics.ts';
import { encodeBatch } from '../shared/protocol/batch.ts';
import { encodeHello } from '../shared/protocol/frame.ts';
import { startDashboard, type Dashboard } from '../shared/dashboard/server.ts';
import { waitFor } from '../shared/dashboard/test-support.ts';
import { needPeers, promtoolCheck } from './support/peers.ts';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// A reason added to day 13's classifier and not to the dashboard (or the reverse) fails the type check.
const sameReasons: Same<HandshakeFailureReason, (typeof TLS_FAILURE_REASONS)[number]> = true;
// The same for the reasons a UDP lane rejects a datagram for (day 10's list, the dashboard's copy).
const sameUdpReasons: Same<MalformedReason, (typeof UDP_DATAGRAM_REJECTS)[number]> = true;

const promtoolPeer = needPeers('promtool');
let root: string;
let receiver: ChildProcess | undefined;
let udpReceiver: ChildProcess | undefined;
let dash: Dashboard | undefined;
let tlsPort = 0;
let udpPort = 0;

/** Starts a lesson program and returns it with its ready line. */
async function start(file: string, args: string[]): Promise<[ChildProcess, Record<string, unknown>]> {
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (l) => resolve(JSON.parse(l) as Record<string, unknown>));
    child.once('exit', (code) => reject(new Error(`${file} exited ${code} before its ready line`)));
  });
  return [child, ready];
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ls-metrics-reasons-'));
  let ready: Record<string, unknown>;
  [receiver, ready] = await start('lessons/stack/syslog-receiver.ts', [
    '--port',
    '0',
    '--udp-port',
    'off',
    '--data-dir',
    join(root, 'syslog'),
    '--certs',
    join(root, 'certs'),
    '--stats-interval-ms',
    '100',
  ]);
  tlsPort = Number((ready.ports as { tls: number }).tls);
  let udpReady: Record<string, unknown>;
  [udpReceiver, udpReady] = await start('lessons/day10/receiver.ts', [
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--data-dir',
    join(root, 'day10'),
    '--max-datagram',
    '2048',
    '--stats-interval-ms',
    '100',
  ]);
  udpPort = Number(udpReady.port);
  dash = await startDashboard({
    lanes: [
      { name: 'syslog', dataDir: join(root, 'syslog') },
      { name: 'day10', dataDir: join(root, 'day10') },
    ],
    refreshMs: 100,
  });
}, 60_000);

afterAll(async () => {
  await dash?.close();
  for (const child of [receiver, udpReceiver]) {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }
  if (root) await rm(root, { recursive: true, force: true });
});

describe('TLS failures by reason, from the syslog lane to /metrics', () => {
  it("the dashboard's reasons are day 13's", () => {
    expect(sameReasons).toBe(true);
  });

  it('a plaintext client on the TLS port is counted as plaintext, from the start at 0', async () => {
    const metrics = async () => (await fetch(new URL('/metrics', dash!.url))).text();
    const line = (reason: string) => `logstream_tls_handshake_failures_total{lane="syslog",reason="${reason}"}`;
    await waitFor('the lane on /metrics', async () => (await metrics()).includes(`${line('plaintext')} 0\n`), 20_000);
    const s = net.connect(tlsPort, '127.0.0.1', () => s.write('<13>1 - - - - - - not TLS\n'));
    s.on('error', () => {});
    await new Promise((r) => s.once('close', r));
    const text = await waitFor(
      'plaintext counted',
      async () => {
        const t = await metrics();
        return t.includes(`${line('plaintext')} 1\n`) ? t : undefined;
      },
      20_000,
    );
    for (const r of TLS_FAILURE_REASONS.filter((x) => x !== 'plaintext')) expect(text).toContain(`${line(r)} 0\n`);
    const stats = JSON.parse(await readFile(join(root, 'syslog', 'stats.json'), 'utf8')) as {
      syslog: { tls: { handshakeErrors: number; handshakeFailures: Record<string, number> } };
    };
    expect(stats.syslog.tls).toMatchObject({ handshakeErrors: 1, handshakeFailures: { plaintext: 1 } });
    if (!promtoolPeer.skip) {
      promtoolPeer.assert();
      expect(promtoolCheck(text)).toEqual({ status: 0, output: '' });
    }
  }, 60_000);
});

describe('malformed UDP datagrams, from a day 10 receiver to /metrics (issue 18.4)', () => {
  it("the dashboard's datagram reasons are day 10's", () => {
    expect(sameUdpReasons).toBe(true);
  });

  it('each malformed datagram is a reject by reason in stats.json and on /metrics, not a record', async () => {
    const metrics = async () => (await fetch(new URL('/metrics', dash!.url))).text();
    const line = (reason: string) => `logstream_rejects_total{lane="day10",reason="${reason}"}`;
    // every reason starts at 0 once the lane says it is UDP
    const first = await waitFor(
      'the day 10 lane on /metrics',
      async () => {
        const t = await metrics();
        return t.includes(`${line('truncated')} 0\n`) ? t : undefined;
      },
      20_000,
    );
    for (const r of UDP_DATAGRAM_REJECTS) expect(first).toContain(`${line(r)} 0\n`);

    const good = encodeBatch({
      stream: 7,
      seq: 1,
      records: ['{"ts":"2026-12-06T00:00:00Z","level":"info","msg":"ok"}'],
    });
    const badCrc = Buffer.from(good);
    badCrc[badCrc.length - 2]! ^= 0xff; // a payload byte: the CRC no longer matches
    const sent: Array<[MalformedReason, Buffer]> = [
      ['truncated', good.subarray(0, 20)],
      ['truncated', good.subarray(0, good.length - 1)],
      ['trailing_bytes', Buffer.concat([good, good])],
      ['bad_magic', Buffer.alloc(40, 0x41)],
      ['bad_crc', badCrc],
      ['not_batch', encodeHello(7, { name: 'udp-client' })],
      ['too_large', Buffer.alloc(3000, 0x20)],
    ];
    const socket = dgram.createSocket('udp4');
    try {
      for (const [, d] of sent)
        await new Promise<void>((r, j) => socket.send(d, udpPort, '127.0.0.1', (e) => (e ? j(e) : r())));
    } finally {
      socket.close();
    }
    const want = new Map<string, number>();
    for (const [r] of sent) want.set(r, (want.get(r) ?? 0) + 1);

    const text = await waitFor(
      'every malformed datagram counted on /metrics',
      async () => {
        const t = await metrics();
        return [...want].every(([r, n]) => t.includes(`${line(r)} ${n}\n`)) ? t : undefined;
      },
      20_000,
    );
    // as rejects, not as records: nothing received or persisted, nothing put down to `other`
    expect(text).toContain('logstream_records_received_total{lane="day10"} 0\n');
    expect(text).toContain('logstream_records_persisted_total{lane="day10"} 0\n');
    expect(text).not.toMatch(/logstream_rejects_total\{lane="day10",reason="other"\}/);
    for (const r of UDP_DATAGRAM_REJECTS.filter((x) => !want.has(x))) expect(text).toContain(`${line(r)} 0\n`);

    const stats = JSON.parse(await readFile(join(root, 'day10', 'stats.json'), 'utf8')) as {
      records: { received: number; rejected: number };
      rejects: Record<string, number>;
      udp: { malformed: Record<string, number> };
    };
    expect(stats.rejects).toEqual(Object.fromEntries(want));
    expect(stats.records).toMatchObject({ received: 0, rejected: sent.length });
    expect(stats.udp.malformed).toEqual({ total: sent.length, ...Object.fromEntries(want) });
    if (!promtoolPeer.skip) {
      promtoolPeer.assert();
      expect(promtoolCheck(text)).toEqual({ status: 0, output: '' });
    }
  }, 60_000);
});
