import { encodeHello } from '../../shared/protocol/frame.ts';
import { expectEqual, expectTrue } from '../harness/assert.ts';
import { readStats } from '../harness/persisted.ts';
import type { Check } from '../harness/types.ts';
import { sleep, waitOrGiveUp } from '../harness/kit/records.ts';
import { type Handshake, secure, waitAck, streamId, failuresOf, waitFailures, withTlsReceiver } from './support.ts';

/** A TLS 1.1 ClientHello, built by hand (for an OpenSSL that refuses to send one itself). */
function tls11ClientHello(rng: () => number): Buffer {
  const random = Buffer.from(Array.from({ length: 32 }, () => Math.floor(rng() * 256)));
  const suites = Buffer.from([0x00, 0x08, 0xc0, 0x13, 0xc0, 0x14, 0x00, 0x2f, 0x00, 0x35]);
  const body = Buffer.concat([
    Buffer.from([0x03, 0x02]),
    random,
    Buffer.from([0x00]),
    suites,
    Buffer.from([0x01, 0x00]),
  ]);
  const hs = Buffer.concat([Buffer.from([0x01, 0x00, body.length >> 8, body.length & 0xff]), body]);
  return Buffer.concat([Buffer.from([0x16, 0x03, 0x02, hs.length >> 8, hs.length & 0xff]), hs]);
}

export const d13_5: Check = {
  id: 'd13.5',
  title: 'TLS versions: 1.1 is refused (and counted), 1.2 is accepted, 1.3 is the default',
  points: 10,
  timeoutMs: 40_000,
  async run(ctx) {
    await withTlsReceiver(ctx, async ({ recv, ca, clients }) => {
      const old = clients.connect(recv.port, { ca, minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1' }, 'TLS 1.1 client');
      const h = await Promise.race([
        old.handshake,
        sleep(5000).then((): Handshake => ({ ok: false, code: 'TIMEOUT', message: '' })),
      ]);
      expectTrue(!h.ok, {
        expected: 'a TLS 1.1 client to be refused',
        received: `the handshake succeeded (${old.socket.getProtocol()})`,
        where: old.label,
        hint: 'your TODO in lessons/day13/receiver.ts (tlsOptions): minVersion --min-tls (TLSv1.2 at least): TLS 1.0 and 1.1 are broken (and deprecated by RFC 8996)',
      });
      ctx.log(`TLS 1.1 client: ${h.code} ${h.message}`);
      // a refused TLS 1.1 client is counted within ~2 s, unless this Node refused it before sending anything
      const counted = await waitOrGiveUp(
        async () => (failuresOf(await readStats(recv.dataDir).catch(() => null))['protocol_version'] ?? 0) >= 1,
        { timeoutMs: 2000, intervalMs: 100, what: 'tls.handshakeFailures.protocol_version ≥ 1' },
      );
      if (!counted) {
        // This Node/OpenSSL may have refused TLS 1.1 locally, before sending anything: send one by hand.
        ctx.log('no protocol_version failure counted yet: sending a hand-made TLS 1.1 ClientHello');
        const raw = await ctx.connect(recv.rx.host, recv.port);
        await raw.write(tls11ClientHello(ctx.rng)).catch(() => undefined);
        await raw.waitClosed(4000, 'the receiver to refuse a TLS 1.1 ClientHello and close');
        const got = Buffer.from(raw.received());
        expectTrue(!(got[0] === 0x16 && got[5] === 0x02), {
          expected: 'no ServerHello for a TLS 1.1 ClientHello',
          received: `a ServerHello (version bytes ${got.subarray(9, 11).toString('hex')})`,
          where: `connection from ${raw.localPeer}`,
          hint: 'your TODO in lessons/day13/receiver.ts (tlsOptions): minVersion --min-tls (TLSv1.2 at least)',
        });
      }
      await waitFailures(
        recv.dataDir,
        'protocol_version ≥ 1',
        (f) => (f['protocol_version'] ?? 0) >= 1,
        'count a client offering only old versions as "protocol_version" (tlsClientError ERR_SSL_UNSUPPORTED_PROTOCOL)',
      );

      const v12 = clients.connect(recv.port, { ca, maxVersion: 'TLSv1.2' }, 'TLS 1.2 client');
      await secure(v12, 'TLS 1.2 is still accepted (--min-tls defaults to TLSv1.2)');
      expectEqual(v12.socket.getProtocol(), 'TLSv1.2', {
        what: 'the version a TLS-1.2-only client negotiates',
        where: v12.label,
      });
      const S = streamId(ctx.rng);
      await v12.write(encodeHello(S, { name: 'check-d13.5-tls12' }));
      await waitAck(v12, S, 0, 5000, 'LSP/1 over TLS 1.2 works like over 1.3');

      const v13 = clients.connect(recv.port, { ca }, 'default client');
      await secure(v13, 'a default client connects');
      expectEqual(v13.socket.getProtocol(), 'TLSv1.3', {
        what: 'the version a default client negotiates',
        where: v13.label,
        hint: 'your TODO in lessons/day13/receiver.ts (tlsOptions): allow TLS 1.3 (maxVersion TLSv1.3): it is the default when both sides have it',
      });
    });
  },
};
