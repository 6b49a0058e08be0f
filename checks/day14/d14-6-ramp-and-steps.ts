import { expectEqual, expectTrue } from '../harness/assert.ts';
import type { Check } from '../harness/types.ts';
import { at } from '../harness/kit/records.ts';
import { TODO_SCHEDULE, TODO_TURN, startReceiver, stopReceiver, runLoadgen, num } from './support.ts';

export const d14_6: Check = {
  id: 'd14.6',
  title:
    'Ramp and steps: an open-loop run sends the integral of its rate profile (--ramp during and after the ramp, --steps cut short by --duration)',
  points: 15,
  timeoutMs: 90_000,
  async run(ctx) {
    const rx = await startReceiver(ctx);
    const seed = 1 + Math.floor(ctx.rng() * 1e6);
    // Each run's last turn counts up to --duration exactly, so "sent" is the integral however the
    // machine's timers behave: no timing tolerance needed, only rounding.
    const cases = [
      {
        args: ['--rate', '8000', '--ramp', '2', '--duration', '1'],
        want: 2000,
        why: '8000/s reached after a 2 s ramp, stopped after 1 s: 8000 × 1² / (2 × 2)',
      },
      {
        args: ['--rate', '6000', '--ramp', '2', '--duration', '3'],
        want: 12_000,
        why: '6000/s reached after a 2 s ramp, 3 s in all: 6000 × (3 − 2/2)',
      },
      {
        args: ['--steps', '3000,9000', '--step-duration', '1', '--duration', '1.5'],
        want: 7500,
        why: '3000/s for 1 s, then 9000/s for 0.5 s: 3000 + 4500',
      },
    ];
    const runs = await Promise.all(
      cases.map((c, i) =>
        runLoadgen(ctx, ['--target', at(rx.port), ...c.args, '--seed', String(seed + i)], { json: true }),
      ),
    );
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i]!;
      const rep = runs[i]!.report!;
      const where = `the --json report of \`${runs[i]!.cmd}\``;
      expectEqual(rep['mode'], 'open', { what: '"mode"', where });
      const sent = num(rep, 'sent', where);
      expectTrue(Math.abs(sent - c.want) <= c.want * 0.01, {
        expected: `"sent" = ${c.want} ± 1% (${c.why})`,
        received: String(sent),
        where,
        hint: `${TODO_SCHEDULE}: dueAt(t) is the area under the rate: a ramp's triangle rate·t²/(2·ramp) while it rises, then rate·(t − ramp/2); steps add rate_i × the part of step i before t. ${TODO_TURN} sends dueAt(t) − what was generated, the last turn at exactly --duration`,
      });
    }
    await stopReceiver(rx);
  },
};
