import { readFileSync } from 'node:fs';
import { encodeHello, FrameType } from '../../shared/protocol/frame.ts';
import { issueClientCert } from '../../shared/tls/certs.ts';
import { expectTrue, fail, show } from '../harness/assert.ts';
import { tail } from '../harness/process.ts';
import { randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import { doneOf, spawnShipper } from '../harness/kit/programs.ts';
import { rxOf, sleep, where } from '../harness/kit/records.ts';
import {
  certsFor,
  startReceiver,
  type Handshake,
  type TlsConn,
  withClients,
  waitExit,
  shipperBase,
  streamId,
  expectSeqs,
  waitFailures,
} from './support.ts';

/**
 * A client that must be refused: its handshake fails, or (TLS 1.3: the server checks a client
 * certificate after the client's side is done) the connection is closed before any answer to a HELLO.
 * Returns how it was refused.
 */
async function expectRefused(conn: TlsConn, stream: number, what: string, hint: string): Promise<string> {
  const h = await Promise.race([
    conn.handshake,
    sleep(5000).then((): Handshake => ({ ok: false, code: 'TIMEOUT', message: 'no handshake result in 5 s' })),
  ]);
  if (!h.ok && h.code === 'TIMEOUT')
    fail({
      expected: `${what}: refused`,
      received: 'the handshake neither finished nor failed within 5 s',
      where: conn.label,
      hint,
    });
  if (h.ok) await conn.write(encodeHello(stream, { name: `check-${conn.label}` })).catch(() => undefined);
  const closed = await Promise.race([conn.closed, sleep(4000).then(() => undefined)]);
  const acks = conn.frames().filter((f) => f.type === FrameType.ACK);
  expectTrue(acks.length === 0, {
    expected: `${what}: refused (no answer to its HELLO)`,
    received: `an ACK (seq ${acks[0]?.seq}): the receiver accepted it`,
    where: conn.label,
    hint,
  });
  expectTrue(closed !== undefined, {
    expected: `${what}: the connection closed by the receiver`,
    received: 'still open after 4 s',
    where: conn.label,
    hint,
  });
  return h.ok
    ? `handshake finished on our side, then closed (${closed.error?.code ?? 'no error'})`
    : `handshake failed: ${h.code}`;
}

export const d13_7: Check = {
  id: 'd13.7',
  title:
    'Mutual TLS: no client certificate → refused; one from another CA → refused; a good one → accepted, its subject in _rx',
  points: 25,
  timeoutMs: 50_000,
  async run(ctx) {
    const certs = await certsFor(ctx);
    const cn = `edge-${randInt(ctx.rng, 1000, 9999)}`;
    const edge = await issueClientCert(certs.dir, await ctx.tmp(), { cn });
    const recv = await startReceiver(ctx, certs, { extra: ['--mtls'] });
    const ca = readFileSync(certs.ca.cert);
    await withClients(ctx, async (clients) => {
      const none = clients.connect(recv.port, { ca }, 'client without a certificate');
      ctx.log(
        `no certificate: ${await expectRefused(none, streamId(ctx.rng), 'a client without a certificate', 'your mTLS TODO in lessons/day13/receiver.ts (tlsOptions): with --mtls, ca + requestCert + rejectUnauthorized: a client must present a certificate signed by --ca')}`,
      );
      await waitFailures(
        recv.dataDir,
        'no_client_cert ≥ 1',
        (f) => (f['no_client_cert'] ?? 0) >= 1,
        'count a client that sent no certificate as "no_client_cert"',
      );

      const other = clients.connect(
        recv.port,
        { ca, cert: readFileSync(certs.otherClient.cert), key: readFileSync(certs.otherClient.key) },
        'client with a certificate from another CA',
      );
      ctx.log(
        `other CA: ${await expectRefused(other, streamId(ctx.rng), 'a client whose certificate (CN=shipper-1!) another CA signed', 'your mTLS TODO in lessons/day13/receiver.ts (tlsOptions): verify the client certificate against --ca: the right name signed by the wrong CA proves nothing')}`,
      );
      await waitFailures(
        recv.dataDir,
        'unknown_ca ≥ 1',
        (f) => (f['unknown_ca'] ?? 0) >= 1,
        'count a client certificate not signed by --ca as "unknown_ca" (the TLS socket\'s authorizationError says why)',
      );
    });

    // A good certificate, through the shipper: accepted, and every record names it.
    const N = 300;
    const sh = spawnShipper(
      ctx,
      await shipperBase(ctx, recv.port, certs.ca.cert, [
        '--generate',
        String(N),
        '--cert',
        edge.cert,
        '--key',
        edge.key,
      ]),
    );
    const exit = await waitExit(
      sh,
      25_000,
      "a shipper with a client certificate from the receiver's CA delivers everything",
    );
    expectTrue(exit.exitCode === 0, {
      expected: `\`${sh.cmd}\` to exit 0`,
      received: `exit code ${exit.exitCode}; stderr tail:\n${tail(sh.stderrText(), 5, 10)}`,
      where: `pid ${sh.pid}`,
      hint: 'the shipper presents --cert/--key in the handshake',
    });
    const done = doneOf(sh);
    const records = await expectSeqs(
      recv.dataDir,
      Number(done['stream']),
      N,
      'a verified client is served like any other',
    );
    const bad = records.find(
      (p) => typeof rxOf(p)['clientSubject'] !== 'string' || !String(rxOf(p)['clientSubject']).includes(`CN=${cn}`),
    );
    expectTrue(bad === undefined, {
      expected: `every record of the mTLS shipper with _rx.clientSubject naming CN=${cn}`,
      received: bad ? `_rx ${show(rxOf(bad))}` : '',
      where: bad ? where(bad) : recv.dataDir,
      hint: "your TODOs in lessons/day13/receiver.ts: verifiedSubject (the subject of socket.getPeerX509Certificate(), remembered per socket) and identityOf (return { clientSubject } for the connection's socket: day 09 puts it in _rx)",
    });
  },
};
