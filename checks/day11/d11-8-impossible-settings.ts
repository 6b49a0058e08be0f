import { expectEqual, expectTrue, show } from '../harness/assert.ts';
import { tail } from '../harness/process.ts';
import { randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import { startFakeReceiver, flagNamed } from './support.ts';

export const d11_8: Check = {
  id: 'd11.8',
  title:
    'Settings that can never work are refused at start with the flag named (exit 2): zero, negative, --batch-bytes or --max-datagram smaller than a record',
  points: 14,
  timeoutMs: 60_000,
  async run(ctx) {
    const cases: Array<[string[], string]> = [
      [['--batch-records', '0'], '--batch-records'],
      [['--batch-records', '-5'], '--batch-records'],
      [['--batch-bytes', '0'], '--batch-bytes'],
      [['--batch-delay-ms', '-1'], '--batch-delay-ms'],
      [['--batch-bytes', String(randInt(ctx.rng, 100, 150))], '--batch-bytes'], // generated records are ~200 bytes
      [['--transport', 'udp', '--max-datagram', '64'], '--max-datagram'],
      [['--transport', 'udp', '--max-datagram', String(randInt(ctx.rng, 120, 170))], '--max-datagram'],
    ];
    const fake = await startFakeReceiver(ctx);
    const results = await Promise.all(
      cases.map(async ([extra]) =>
        ctx.run(
          'shipper',
          ['--target', `127.0.0.1:${fake.port}`, '--generate', '100', '--state-dir', await ctx.tmp(), ...extra],
          { timeoutMs: 20_000 },
        ),
      ),
    );
    for (let i = 0; i < cases.length; i++) {
      const [extra, flag] = cases[i]!;
      const r = results[i]!;
      const what = `shipper --generate 100 ${extra.join(' ')}`;
      expectEqual(r.exitCode, 2, {
        what: `exit code of \`${what}\``,
        where: `${what}; stderr: ${show(tail(r.stderr, 3, 3), 300)}`,
        hint: 'a setting that can never work is a usage error: one line naming the flag on stderr, exit 2, before connecting (--max-datagram over UDP: your TODO in lessons/day11/shipper.ts, validateDatagram)',
      });
      expectTrue(flagNamed(r, flag), {
        expected: `stderr to name ${flag}`,
        received: show(r.stderr.slice(0, 300)),
        where: what,
      });
    }
    expectEqual(fake.batches.length, 0, { what: 'BATCH frames sent by refused runs', where: "the check's receiver" });
  },
};
