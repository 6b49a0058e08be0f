import { expectEqual, expectTrue, fail, waitFor } from '../harness/assert.ts';
import { randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import { exitedWith } from '../harness/kit/exit.ts';
import { doneLine, udpListener, decodeDatagram } from './support.ts';

export const d10_7: Check = {
  id: 'd10.7',
  title: '--rate paces the shipper (records/s, token bucket); --rate max is accepted',
  points: 5,
  timeoutMs: 40_000,
  exclusive: true,
  async run(ctx) {
    const N = 2000;
    const RATE = 4000;
    const stream = randInt(ctx.rng, 1, 0xffff_fff0);
    const [l, lmax] = await Promise.all([udpListener(), udpListener()]);
    try {
      const args = [
        '--target',
        `127.0.0.1:${l.port}`,
        '--generate',
        String(N),
        '--rate',
        String(RATE),
        '--stream-id',
        String(stream),
      ];
      const argsMax = ['--target', `127.0.0.1:${lmax.port}`, '--generate', '500', '--rate', 'max'];
      const [res, resMax] = await Promise.all([
        ctx.run('shipper', args, { timeoutMs: 25_000 }),
        ctx.run('shipper', argsMax, { timeoutMs: 25_000 }),
      ]);
      const cmd = `shipper ${args.join(' ')}`;
      exitedWith(res, 0, cmd, 'the shipper exits 0 once every record was sent', { tailChars: 400 });
      exitedWith(resMax, 0, `shipper ${argsMax.join(' ')}`, '--rate max (or 0) means unlimited', { tailChars: 400 });
      const done = doneLine(res, cmd);
      await waitFor(() => l.datagrams.reduce((n, d) => n + d.bytes.readUInt16BE(6), 0) >= N, {
        timeoutMs: 5000,
        what: `datagrams holding ${N} records at the check's socket`,
        where: `udp 127.0.0.1:${l.port}`,
        received: () => `${l.datagrams.length} datagrams`,
      });
      expectEqual(done['datagrams'], l.datagrams.length, {
        what: 'done line "datagrams" (the datagrams the check received)',
        where: 'shipper done line',
      });
      const first = l.datagrams[0]!.at;
      const last = l.datagrams[l.datagrams.length - 1]!.at;
      const spreadMs = last - first;
      // A token bucket may let a burst through (here: up to 10% of a second's worth), then holds the rate.
      const minMs = ((N - RATE * 0.1) / RATE) * 1000;
      ctx.log(
        `${N} records at --rate ${RATE}: first to last datagram ${spreadMs.toFixed(0)} ms (at least ${minMs.toFixed(0)} ms expected)`,
      );
      expectTrue(spreadMs >= minMs, {
        expected: `${N} records at --rate ${RATE} records/s to take at least ${minMs.toFixed(0)} ms from the first datagram to the last`,
        received: `${spreadMs.toFixed(0)} ms`,
        where: cmd,
        hint: 'your TODO in lessons/day10/shipper.ts (sendReady): each datagram takes as many tokens from the bucket as it has records (bucket.take(n) says how long to wait), and the shipper waits when they run out',
      });
      const dec = decodeDatagram(l.datagrams[0]!.bytes);
      if (typeof dec === 'string')
        fail({ expected: 'one BATCH frame per datagram', received: dec, where: 'datagram #1' });
      expectEqual(dec.frame.stream, stream, { what: 'frame stream (--stream-id)', where: 'datagram #1' });
    } finally {
      l.close();
      lmax.close();
    }
  },
};
