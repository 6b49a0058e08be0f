import type { Check } from '../harness/types.ts';
import { freePort } from '../../shared/free-port.ts';
import { expectCliContract, expectReadyLine, startReceiverByEnv } from '../harness/kit/contract.ts';

export const d08_1: Check = {
  id: 'd08.1',
  title: 'The process contract: ready line, --help, bad flags exit 2, LOGSTREAM_<FLAG>',
  // Given: the flags, --help and the ready line come with the lesson (shared/cli.ts, shared/process.ts).
  given: true,
  points: 0,
  timeoutMs: 45_000,
  async run(ctx) {
    const dataDir = await ctx.tmp();
    await expectCliContract(
      ctx,
      [
        {
          program: 'receiver',
          base: ['--data-dir', dataDir, '--port', '0'],
          usage: ['--port', '--data-dir'],
          noReady: 'validate every flag before listening',
          bad: [['--bogus'], ['--port', 'abc']],
        },
        { program: 'shipper', usage: [], bad: [], helpHint: 'the shipper follows the same contract: --help exits 0' },
      ],
      { timeoutMs: 15_000, noteReady: true },
    );

    // LOGSTREAM_<FLAG> from the environment, and the ready line itself.
    const port = await freePort();
    const rx = await startReceiverByEnv(ctx, ['--data-dir', dataDir], { LOGSTREAM_PORT: String(port) });
    expectReadyLine(rx.ready, {
      lesson: 'day08',
      transport: 'tcp',
      port,
      defaultHost: true,
      where: 'ready line',
      shape: '{"event":"ready","role":"receiver","lesson":"day08","transport":"tcp","host":…,"port":…}',
    });
    const c = await ctx.connect('127.0.0.1', port);
    c.destroy();
  },
};
