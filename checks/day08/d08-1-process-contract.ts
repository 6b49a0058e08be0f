import type { Check } from '../harness/types.ts';
import { contractCheck, envReceiver, RECEIVER_BASE } from '../harness/kit/contract.ts';

// Given: the flags, --help and the ready line come with the lesson (shared/cli.ts, shared/process.ts).
export const d08_1: Check = contractCheck({
  id: 'd08.1',
  title: 'The process contract: ready line, --help, bad flags exit 2, LOGSTREAM_<FLAG>',
  timeoutMs: 45_000,
  programs: {
    receiver: {
      base: RECEIVER_BASE,
      usage: ['--port', '--data-dir'],
      noReady: 'validate every flag before listening',
      bad: [['--bogus'], ['--port', 'abc']],
    },
    shipper: { usage: [], bad: [], helpHint: 'the shipper follows the same contract: --help exits 0' },
  },
  runs: { timeoutMs: 15_000, noteReady: true },
  async then(ctx, { dataDir }) {
    // LOGSTREAM_<FLAG> from the environment, and the ready line itself.
    const { port } = await envReceiver(ctx, dataDir, {
      port: 'tcp',
      ready: {
        lesson: 'day08',
        transport: 'tcp',
        defaultHost: true,
        where: 'ready line',
        shape: '{"event":"ready","role":"receiver","lesson":"day08","transport":"tcp","host":…,"port":…}',
      },
    });
    const c = await ctx.connect('127.0.0.1', port);
    c.destroy();
  },
});
