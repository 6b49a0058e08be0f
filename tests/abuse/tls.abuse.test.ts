/**
 * TLS garbage against the TLS ports: the day 13 LSP/1-over-TLS receiver and the syslog lane's TLS port
 * (lessons/stack/syslog-receiver.ts, RFC 5425), plus hostile syslog on its TCP port. Both started as
 * child processes through the process contract. Each attack: the receiver stays up, its RSS stays
 * bounded, and a good TLS client on another connection still gets its records persisted (ACKed on
 * day 13). Results: tests/abuse/last-run.json.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frameOctetCounted } from '../../lessons/stack/syslog-framing.ts';
import { ensureCerts } from '../../shared/tls/certs.ts';
import {
  abuseSuite,
  alive,
  closed,
  fdsOf,
  goodLspClient,
  goodMarker,
  mib,
  persistedWith,
  rawConnect,
  roundsUntilStopped,
  waitFor,
  type AbuseSuite,
  type GoodClient,
  type RunningReceiver,
} from './support.ts';

const HANDSHAKE_MS = 1500;

let certDir: string;
let ca: Buffer;
let clientHello: Buffer;

/** The first flight of a real TLS client: a ClientHello, captured from a plain TCP server. */
async function captureClientHello(): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const got = new Promise<Buffer>((resolve) =>
    server.once('connection', (s) =>
      s.once('data', (d: Buffer) => {
        resolve(d);
        s.destroy();
      }),
    ),
  );
  const c = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false });
  c.on('error', () => {});
  const hello = await got;
  c.destroy();
  server.close();
  return hello;
}

// Registered before the suites below, so the certificates exist before their receivers start and are
// removed after they stop (vitest runs beforeAll hooks in order, afterAll hooks in reverse).
beforeAll(async () => {
  certDir = await mkdtemp(join(tmpdir(), 'ls-abuse-certs-'));
  const set = await ensureCerts(certDir);
  ca = await readFile(set.ca.cert);
  clientHello = await captureClientHello();
});

afterAll(async () => {
  await rm(certDir, { recursive: true, force: true });
});

/** Both receivers: the certificates made above, and a handshake timeout next to the idle one. */
const TLS_LIMITS = { maxConnections: 500, idleMs: 3000, handshakeMs: HANDSHAKE_MS };

/** A good syslog-over-TLS client: octet-counted RFC 5424 messages carrying `marker`. */
async function goodSyslogTls(port: number, marker: string, n: number): Promise<void> {
  const s = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const c = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' });
    c.once('secureConnect', () => resolve(c));
    c.once('error', reject);
  });
  const msgs = Array.from({ length: n }, (_, i) =>
    frameOctetCounted(Buffer.from(`<14>1 2026-11-26T14:13:48.000Z good-host good-app - - - ${marker} ${i}`)),
  );
  s.end(Buffer.concat(msgs));
  await closed(s);
}

/** The syslog port's good client: TLS connections of 50 messages each, back to back while the attack runs. */
function goodSyslogClient(rx: RunningReceiver): GoodClient {
  const marker = goodMarker();
  let delivered = 0;
  const rounds = roundsUntilStopped(async () => {
    await goodSyslogTls(rx.ports['tls']!, marker, 50);
    delivered += 50;
  });
  return {
    stop: rounds.stop,
    async finish() {
      await rounds.done;
      const persisted = await waitFor('good messages persisted', async () =>
        (await persistedWith(rx.dataDir, marker)) === delivered ? delivered : 0,
      );
      return { ok: persisted === delivered, detail: { goodDelivered: delivered } };
    },
    close: () => {},
  };
}

const day13 = abuseSuite({
  suite: 'tls-day13',
  receiver: { name: 'day13', file: 'lessons/day13/receiver.ts', limits: TLS_LIMITS, args: () => ['--certs', certDir] },
  good: (rx) => goodLspClient(rx, ca),
  keep: ['tls'],
});

const syslog = abuseSuite({
  suite: 'tls-syslog',
  receiver: {
    name: 'syslog',
    file: 'lessons/stack/syslog-receiver.ts',
    limits: TLS_LIMITS,
    args: () => ['--certs', certDir, '--tcp-port', '0', '--tls-port', '0', '--udp-port', 'off'],
  },
  good: goodSyslogClient,
  keep: ['syslog'],
});

interface SprayResult {
  sent: number;
  /** connections the receiver closed within `closeWithinMs` */
  closedByReceiver: number;
  /** still open then (we close them ourselves) */
  stillOpen: number;
}

/**
 * `n` connections to `port`, each sent `bytes(i)`, 150 at a time; waits up to `closeWithinMs` for the
 * receiver to close each batch, then closes what is left itself (and counts it).
 */
async function spray(
  port: number,
  n: number,
  bytes: (i: number) => Buffer,
  closeWithinMs = HANDSHAKE_MS + 2000,
): Promise<SprayResult> {
  const r: SprayResult = { sent: 0, closedByReceiver: 0, stillOpen: 0 };
  for (let i = 0; i < n; i += 150) {
    const socks = (
      await Promise.allSettled(Array.from({ length: Math.min(150, n - i) }, () => rawConnect(port)))
    ).flatMap((x) => (x.status === 'fulfilled' ? [x.value] : []));
    const closedAt = socks.map(() => false);
    socks.forEach((s, j) => {
      s.once('close', () => (closedAt[j] = true));
      s.resume(); // read what the receiver sends (a TLS alert, its FIN): a socket that never reads never sees the close
      s.write(bytes(i + j));
    });
    await waitFor('the receiver to close them', () => closedAt.every(Boolean), closeWithinMs, 20).catch(
      () => undefined,
    );
    r.sent += socks.length;
    for (const [j, s] of socks.entries()) {
      if (closedAt[j]) r.closedByReceiver++;
      else {
        r.stillOpen++;
        s.destroy();
      }
    }
  }
  return r;
}

/** A TLS record header (handshake, TLS 1.2) followed by random bytes; or a real ClientHello, damaged. */
function tlsGarbage(i: number): Buffer {
  if (i % 3 === 0) return Buffer.concat([Buffer.from([0x16, 0x03, 0x03]), randomBytes(2 + (i % 500))]);
  if (i % 3 === 1) {
    const h = Buffer.from(clientHello);
    for (let k = 0; k < 8; k++) {
      const at = 5 + ((i * 31 + k * 17) % (h.length - 5));
      h[at] = h[at]! ^ (1 << (k % 8));
    }
    return h;
  }
  return Buffer.concat([clientHello.subarray(0, 5), randomBytes(300)]);
}

/** The two TLS ports: the day 13 receiver's and the syslog lane's (RFC 5425). */
const TLS_PORTS: Array<{ name: string; suite: AbuseSuite; port: () => number }> = [
  { name: 'day 13', suite: day13, port: () => day13.rx.port },
  { name: 'syslog TLS port', suite: syslog, port: () => syslog.rx.ports['tls']! },
];

describe('TLS ports under TLS garbage', () => {
  describe.each(TLS_PORTS)('$name', ({ suite, port }) => {
    it('300 connections of TLS garbage (record header + random, damaged ClientHellos) are refused', async () => {
      await suite.attacked('TLS garbage (300 conns)', async () => ({ ...(await spray(port(), 300, tlsGarbage)) }));
    });

    // A refused handshake (tlsClientError, also the handshake timeout) must close the TCP connection:
    // otherwise every garbage client keeps a file descriptor until it hangs up by itself.
    it('every connection with a refused handshake is closed by the receiver (its fds come back)', async () => {
      const { rx } = suite;
      const before = fdsOf(rx.pid)!;
      const r = await spray(port(), 60, tlsGarbage);
      suite.results.push({
        receiver: rx.name,
        attack: 'refused handshakes closed by the receiver',
        rssBeforeMiB: 0,
        rssPeakMiB: mib(rx.rss.peak),
        receiverUp: alive(rx.pid),
        goodClientOk: true,
        ms: 0,
        detail: { ...r },
      });
      expect(r.stillOpen).toBe(0);
      await waitFor(
        'the receiver to release the refused connections',
        () => fdsOf(rx.pid)! <= before + 2,
        HANDSHAKE_MS + 3000,
      );
    });

    it(`200 half-sent ClientHellos are cut by the handshake timeout (${HANDSHAKE_MS} ms)`, async () => {
      await suite.attacked('stalled handshakes (200 conns)', async () => {
        const t0 = Date.now();
        const r = await spray(port(), 200, () => clientHello.subarray(0, Math.floor(clientHello.length / 2)));
        expect(r.stillOpen).toBe(0);
        return { ...r, afterMs: Date.now() - t0 };
      });
    });
  });

  it('day 13: plaintext garbage on the TLS port is refused', async () => {
    await day13.attacked('plaintext garbage (200 conns)', async () => {
      // random bytes, but never a first byte of 0x16: that one would be a TLS handshake record
      const r = await spray(day13.rx.port, 200, (i) => {
        const b = randomBytes(1 + (i % 2000));
        if (b[0] === 0x16) b[0] = 0x17;
        return b;
      });
      expect(r.stillOpen).toBe(0);
      return { ...r };
    });
  });

  it('syslog TCP port: huge octet counts, non-UTF-8 and garbage are rejected, never fatal', async () => {
    await syslog.attacked('syslog TCP: 4 GiB count, non-UTF-8, garbage', async () => {
      const tcp = syslog.rx.ports['tcp']!;
      const s = await rawConnect(tcp);
      s.write('4294967295 <13>1 - - - - - - never ends');
      s.write(randomBytes(64 << 10));
      s.destroy();
      const sent = [
        Buffer.concat([Buffer.from('<13>1 - h a - - - '), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from('\n')]),
        Buffer.from('99999999999 x\n'),
        Buffer.from(`<13>1 - h a - - ${'[x@1 a="b"]'.repeat(5000)} deep sd\n`),
        Buffer.concat([randomBytes(16 << 10).map((b) => (b === 0x0a ? 0x20 : b)), Buffer.from('\n')]),
      ];
      const c = await rawConnect(tcp);
      c.end(Buffer.concat(sent));
      await closed(c);
      return { sent: sent.length };
    });
  });
});
