import type { Check } from '../harness/types.ts';
import { certsFor, startReceiver, shipperBase, expectShipperRefuses } from './support.ts';

export const d13_3: Check = {
  id: 'd13.3',
  title: 'A shipper trusting another CA refuses the receiver: nothing sent, a clear message',
  points: 15,
  timeoutMs: 40_000,
  async run(ctx) {
    const certs = await certsFor(ctx);
    const recv = await startReceiver(ctx, certs);
    await expectShipperRefuses(
      ctx,
      recv,
      await shipperBase(ctx, recv.port, certs.otherCa.cert, ['--generate', '50', '--max-attempts', '2']),
      'a shipper whose --ca is another CA',
      /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT|CERT_SIGNATURE_FAILURE|not signed|unknown (CA|issuer)|--ca/i,
      'your TODO in lessons/day13/shipper.ts (connectTls): verify the receiver against --ca, always (ca + rejectUnauthorized: true): a client that does not verify talks to whoever answers. The message comes from tls-failures.ts.',
    );
  },
};
