import { encodeBatch } from '../../shared/protocol/batch.ts';
import { encodeHello, FrameDecoder, FrameType, type Frame } from '../../shared/protocol/frame.ts';
import { expectTrue } from '../harness/assert.ts';
import { randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import { where } from '../harness/kit/records.ts';
import { secure, waitAck, rec, streamId, recordsOf, expectSeqs, waitFailures, withTlsReceiver } from './support.ts';

export const d13_4: Check = {
  id: 'd13.4',
  title: 'A plaintext client on the TLS port is refused and counted; TLS clients carry on',
  // Given: the lesson's first-byte look (and the TLS handshake itself) refuses plaintext; tls-failures.ts counts it.
  given: true,
  points: 0,
  timeoutMs: 40_000,
  async run(ctx) {
    await withTlsReceiver(ctx, async ({ recv, ca, clients }) => {
      const good = clients.connect(recv.port, { ca }, 'TLS client');
      await secure(good, 'a verified TLS handshake with the dev CA');
      const G = streamId(ctx.rng);
      await good.write(encodeHello(G, { name: 'check-d13.4-good' }));
      await waitAck(good, G, 0, 5000, 'HELLO → ACK over TLS');

      // An LSP/1 client that forgot TLS: HELLO + a BATCH in the clear.
      const P = streamId(ctx.rng);
      const plain = await ctx.connect(recv.rx.host, recv.port);
      const bytes = Buffer.concat([
        encodeHello(P, { name: 'check-d13.4-plaintext' }),
        encodeBatch({ stream: P, seq: 1, records: [JSON.stringify(rec('plain-1', ctx.rng))] }),
      ]);
      await plain.write(bytes).catch(() => undefined);
      await plain.waitClosed(4000, 'the receiver to close a plaintext connection on its TLS port');
      let frames: Frame[] = [];
      try {
        frames = new FrameDecoder().push(Buffer.from(plain.received()));
      } catch {
        frames = []; // not LSP/1 (a TLS alert, say): certainly no ACK
      }
      expectTrue(!frames.some((f) => f.type === FrameType.ACK), {
        expected: 'no ACK for a plaintext HELLO on the TLS port',
        received: 'an ACK: the receiver parsed plaintext LSP/1',
        where: `plaintext connection from ${plain.localPeer}`,
        hint: 'a TLS port never speaks plaintext: refuse (a NACK saying "use TLS" is fine), count, close',
      });

      // Plain HTTP too.
      const http = await ctx.connect(recv.rx.host, recv.port);
      await http.write(Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n')).catch(() => undefined);
      await http.waitClosed(4000, 'the receiver to close a plaintext HTTP request on its TLS port');

      await waitFailures(
        recv.dataDir,
        'plaintext ≥ 2',
        (f) => (f['plaintext'] ?? 0) >= 2,
        'a connection whose first byte is not a TLS handshake record (0x16) is plaintext: count it as "plaintext" in stats.json → tls.handshakeFailures',
      );
      const leaked = await recordsOf(recv.dataDir, P);
      expectTrue(leaked.length === 0, {
        expected: 'nothing persisted from the plaintext connection',
        received: `${leaked.length} records of stream ${P} at ${leaked.map(where).join(', ')}`,
        where: recv.dataDir,
      });

      expectTrue(!good.isClosed(), {
        expected: 'the TLS connection to stay open',
        received: 'the receiver closed it',
        where: good.label,
        hint: 'a bad client affects its own connection only',
      });
      const n = randInt(ctx.rng, 5, 40);
      await good.write(
        encodeBatch({
          stream: G,
          seq: 1,
          records: Array.from({ length: n }, (_, i) => JSON.stringify(rec(`good-${i + 1}`, ctx.rng))),
        }),
      );
      await waitAck(good, G, n, 5000, 'the TLS client carries on');
      await expectSeqs(recv.dataDir, G, n, 'records of the TLS client are persisted');
    });
  },
};
