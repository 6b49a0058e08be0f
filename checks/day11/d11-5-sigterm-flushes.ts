import { expectEqual } from '../harness/assert.ts';
import { randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import {
  waitExit,
  doneOf,
  expectExit0,
  waitProgress,
  startLeg,
  batchFlags,
  recordOfSize,
  idOf,
  linesOf,
} from './support.ts';

export const d11_5: Check = {
  id: 'd11.5',
  title: 'SIGTERM sends the partial batch before exiting (TCP: ACKed; UDP: a last datagram): nothing lost',
  points: 14,
  timeoutMs: 60_000,
  exclusive: true,
  async run(ctx) {
    const k = randInt(ctx.rng, 5, 9);
    const recs = Array.from({ length: k }, (_, i) => recordOfSize(`term-${i + 1}`, randInt(ctx.rng, 90, 200)));
    const flags = ['--input', '-', ...batchFlags({ records: 1000, bytes: '64KiB', delayMs: 60_000 })];

    // The same steps over both legs: TCP (the check's receiver ACKs whatever arrives) and UDP (the check's socket).
    const words = {
      tcp: {
        readTimeoutMs: 10_000,
        readHint: '--progress-ms N prints {"event":"progress","read",…}',
        before: 'BATCH frames before SIGTERM (the batch is neither full nor old enough)',
        exit: 'SIGTERM: send the open batch, wait for its ACK, done line, exit 0 within 5 s',
        got: `records received over TCP after SIGTERM`,
        hint: "on SIGTERM the day 09 engine flushes the partial batch (your Batcher's flush) and drains the ACKs: check your TODOs in lessons/day11/batcher.ts",
      },
      udp: {
        readTimeoutMs: 20_000,
        readHint: '--progress-ms N prints {"event":"progress","read",…} over UDP too',
        before: 'datagrams before SIGTERM',
        exit: 'SIGTERM: send the open batch as a last datagram, done line, exit 0',
        got: 'records received over UDP after SIGTERM',
        hint: 'your TODOs in lessons/day11/batcher.ts (close: the partial batch leaves) and shipper.ts (the UDP shutdown handler: close the batcher, then wait for the send)',
      },
    } as const;
    for (const name of ['tcp', 'udp'] as const) {
      const w = words[name];
      const leg = await startLeg(ctx, name, flags, { progressMs: 50, stdin: true });
      const sh = leg.shipper;
      if (name === 'tcp')
        await waitProgress(sh, 'a progress line in state "streaming"', (j) => j['state'] === 'streaming', 20_000);
      await sh.write(recs.join('\n') + '\n');
      const read = `a progress line with read = ${k}${name === 'udp' ? ' (udp)' : ''}`;
      await waitProgress(sh, read, (j) => Number(j['read']) >= k, w.readTimeoutMs, w.readHint);
      expectEqual(leg.received(), 0, {
        what: w.before,
        where: `${name}, --batch-delay-ms 60000`,
        hint: 'your TODO in lessons/day11/batcher.ts (add): a batch that is neither full nor old enough stays open (it leaves on SIGTERM)',
      });
      sh.kill('SIGTERM');
      expectExit0(sh, await waitExit(sh, 6000, w.exit));
      const got = (await leg.frames(recs.length)).flatMap(linesOf);
      expectEqual(got.map(idOf), recs.map(idOf), { what: w.got, where: leg.where(), hint: w.hint });
      if (name === 'tcp')
        expectEqual(doneOf(sh)['acked'], k, { what: 'done line "acked" (tcp)', where: 'shipper done line' });
    }
  },
};
