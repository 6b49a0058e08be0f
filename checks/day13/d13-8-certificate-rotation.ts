import { encodeBatch } from '../../shared/protocol/batch.ts';
import { encodeHello } from '../../shared/protocol/frame.ts';
import { issueServerCert } from '../../shared/tls/certs.ts';
import { expectTrue, waitFor } from '../harness/assert.ts';
import { randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import { sleep } from '../harness/kit/records.ts';
import { withTlsReceiver, secure, waitAck, rec, streamId, expectSeqs } from './support.ts';

export const d13_8: Check = {
  id: 'd13.8',
  exclusive: true,
  title: 'Certificate rotation: new connections get the new certificate, an open one keeps streaming, nothing lost',
  points: 15,
  timeoutMs: 50_000,
  async run(ctx) {
    await withTlsReceiver(ctx, async ({ certs, recv, ca, clients }) => {
      const a = clients.connect(recv.port, { ca }, 'streaming client');
      await secure(a, 'a verified TLS handshake');
      const before = a.socket.getPeerX509Certificate()?.serialNumber;
      const S = streamId(ctx.rng);
      await a.write(encodeHello(S, { name: 'check-d13.8' }));
      await waitAck(a, S, 0, 5000, 'HELLO → ACK');
      let seq = 0;
      let stop = false;
      const streaming = (async () => {
        while (!stop) {
          const n = randInt(ctx.rng, 5, 40);
          await a.write(
            encodeBatch({
              stream: S,
              seq: seq + 1,
              records: Array.from({ length: n }, (_, i) => JSON.stringify(rec(`rot-${seq + 1 + i}`, ctx.rng))),
            }),
          );
          seq += n;
          await sleep(10); // a steady trickle: traffic shaping only
        }
      })().then(
        () => undefined,
        (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
      );
      await waitAck(a, S, 200, 10_000, 'ACKs while streaming');

      const issued = await issueServerCert(certs.dir, certs.dir); // new key and certificate, renamed over the old files
      const rotatedAt = Date.now();
      const seqAtRotation = seq;
      ctx.log(`rotated: serial ${before} → ${issued.serial} with ${seqAtRotation} records sent`);
      let seen: string | undefined;
      await waitFor(
        async () => {
          const b = clients.connect(recv.port, { ca }, 'new client after the rotation');
          await secure(
            b,
            'new connections still get a verified handshake during and after a rotation (never a half-written pair)',
          );
          seen = b.socket.getPeerX509Certificate()?.serialNumber;
          b.socket.destroy();
          return seen === issued.serial;
        },
        {
          timeoutMs: 6000,
          intervalMs: 200,
          what: `a new connection to present the new certificate (serial ${issued.serial})`,
          where: `receiver :${recv.port}`,
          hint: 'your TODO in lessons/day13/receiver.ts (maybeReload): when fileSignature() changed, loadMaterial() and hand the new pair to tlsServer.setSecureContext() (keep the old one when it does not load)',
          received: () => `serial ${seen} (the old one is ${before})`,
        },
      );
      ctx.log(`new certificate served ${Date.now() - rotatedAt} ms after the rotation`);
      await waitAck(
        a,
        S,
        seqAtRotation + 1,
        5000,
        'the connection opened before the rotation keeps its session and keeps being ACKed',
      );
      stop = true;
      const err = await streaming;
      if (err) throw err;
      expectTrue(!a.isClosed(), {
        expected: 'the connection opened before the rotation to stay open',
        received: 'it was closed',
        where: a.label,
        hint: 'a reload changes what NEW handshakes get; never drop open connections',
      });
      await waitAck(a, S, seq, 10_000, 'every batch of the open connection is ACKed');
      await expectSeqs(recv.dataDir, S, seq, 'nothing is lost while the certificate changes');
    });
  },
};
