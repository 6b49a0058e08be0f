// The dashboard's /metrics against real receivers (issue 20.2): shared/ cannot import the lessons, so
// shared/dashboard/metrics.ts keeps its own list of TLS failure reasons; this holds it equal to day 13's
// (at compile time), and shows the syslog lane's TLS failures counted by reason end to end: a plaintext
// client on its TLS port → stats.json → `logstream_tls_handshake_failures_total{lane="syslog",reason="plaintext"} 1`,
// on a page promtool accepts.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HandshakeFailureReason } from '../lessons/day13/tls-failures.ts';
import { REPO_ROOT } from '../scripts/lib/launch.ts';
import { TLS_FAILURE_REASONS } from '../shared/dashboard/metrics.ts';
import { startDashboard, type Dashboard } from '../shared/dashboard/server.ts';
import { waitFor } from '../shared/dashboard/test-support.ts';
import { needPeers, promtoolCheck } from './support/peers.ts';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// A reason added to day 13's classifier and not to the dashboard (or the reverse) fails the type check.
const sameReasons: Same<HandshakeFailureReason, (typeof TLS_FAILURE_REASONS)[number]> = true;

const promtoolPeer = needPeers('promtool');
let root: string;
let receiver: ChildProcess | undefined;
let dash: Dashboard | undefined;
let tlsPort = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ls-metrics-reasons-'));
  receiver = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'lessons/stack/syslog-receiver.ts',
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
    ],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    createInterface({ input: receiver!.stdout! }).once('line', (l) =>
      resolve(JSON.parse(l) as Record<string, unknown>),
    );
    receiver!.once('exit', (code) => reject(new Error(`the syslog receiver exited ${code} before its ready line`)));
  });
  tlsPort = Number((ready.ports as { tls: number }).tls);
  dash = await startDashboard({ lanes: [{ name: 'syslog', dataDir: join(root, 'syslog') }], refreshMs: 100 });
}, 60_000);

afterAll(async () => {
  await dash?.close();
  if (receiver && receiver.exitCode === null) {
    receiver.kill('SIGTERM');
    await new Promise((r) => receiver!.once('exit', r));
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
