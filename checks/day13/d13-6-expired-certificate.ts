import type { Check } from '../harness/types.ts';
import { certsFor, startReceiver, shipperBase, expectShipperRefuses } from './support.ts';

export const d13_6: Check = {
  id: 'd13.6',
  title: 'An expired receiver certificate is refused by the shipper with a clear message',
  points: 15,
  timeoutMs: 40_000,
  async run(ctx) {
    const certs = await certsFor(ctx);
    const recv = await startReceiver(ctx, certs, {
      extra: ['--cert', certs.expiredServer.cert, '--key', certs.expiredServer.key],
    });
    await expectShipperRefuses(
      ctx,
      recv,
      await shipperBase(ctx, recv.port, certs.ca.cert, ['--generate', '50', '--max-attempts', '2']),
      'a shipper facing an expired receiver certificate',
      /expired/i,
      'your TODO in lessons/day13/shipper.ts (connectTls): with verification on, an expired certificate is refused (CERT_HAS_EXPIRED, explained by tls-failures.ts as "expired"); never work around it by turning verification off',
    );
  },
};
