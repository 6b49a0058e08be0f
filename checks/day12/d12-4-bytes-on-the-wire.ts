import { expectTrue, show } from '../harness/assert.ts';
import { randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import { at } from '../harness/kit/records.ts';
import { availableCodecs, startReceiver, withProxy, ship } from './support.ts';

export const d12_4: Check = {
  id: 'd12.4',
  exclusive: true,
  title: 'Compression cuts the bytes on the wire (counted by a proxy): gzip ≥ 4× fewer than none on generated records',
  points: 10,
  timeoutMs: 90_000,
  async run(ctx) {
    const N = 50_000;
    const seed = randInt(ctx.rng, 1, 1_000_000);
    const { rx } = await startReceiver(ctx);
    const codecs = availableCodecs(ctx);
    const up: Record<string, number> = {};
    for (const codec of codecs) {
      await withProxy(rx.port, async (proxy) => {
        const done = await ship(
          ctx,
          at(proxy.port),
          ['--generate', String(N), '--seed', String(seed), '--codec', codec.name, '--keepalive-ms', '60000'],
          N,
          `ship --generate ${N} with --codec ${codec.name}`,
        );
        up[codec.name] = proxy.counters.bytesUp;
        ctx.log(
          `--codec ${codec.name}: ${proxy.counters.bytesUp} bytes shipper → receiver (done wireBytes ${String(done['wireBytes'])}, ratio ${String(done['ratio'])})`,
        );
        const wire = Number(done['wireBytes']);
        expectTrue(wire > 0 && wire <= proxy.counters.bytesUp, {
          expected: `done line "wireBytes" (${show(done['wireBytes'])}) ≤ the bytes the proxy forwarded (${proxy.counters.bytesUp})`,
          received: show(done['wireBytes']),
          where: `shipper --codec ${codec.name} done line`,
          hint: 'wireBytes counts the BATCH payload bytes actually sent',
        });
      });
    }
    const none = up['none']!;
    const gzip = up['gzip']!;
    expectTrue(none / gzip >= 4, {
      expected: `at least 4× fewer bytes on the wire with --codec gzip than with --codec none (same ${N} generated records, seed ${seed})`,
      received: `none ${none} bytes, gzip ${gzip} bytes: ${(none / gzip).toFixed(2)}×`,
      where: 'FaultProxy bytesUp (shipper → receiver)',
      hint: 'your TODO in lessons/day12/shipper.ts (compressBatch): return codec.compress(payload, level) for a batch big enough to pay; 1000 log records compress ~8× with gzip',
    });
    for (const [name, bytes] of Object.entries(up)) {
      if (name === 'none') continue;
      expectTrue(none / bytes >= 2, {
        expected: `at least 2× fewer bytes on the wire with --codec ${name} than with none`,
        received: `none ${none} bytes, ${name} ${bytes} bytes: ${(none / bytes).toFixed(2)}×`,
        where: 'FaultProxy bytesUp',
        hint: `your TODO in lessons/day12/shipper.ts (compressBatch): compress each batch with --codec ${name}`,
      });
    }
  },
};
