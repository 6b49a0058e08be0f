import { expectEqual, expectTrue, show } from '../harness/assert.ts';
import type { Check } from '../harness/types.ts';
import { spawnShipper } from '../harness/kit/programs.ts';
import { contractCheck, SHIPPER_BASE } from '../harness/kit/contract.ts';
import { waitExit, doneOf, expectExit0, startFakeReceiver } from './support.ts';

// Given: the CLI, the receivers and the done line are handed over; no TODO asks for them.
export const d11_1: Check = contractCheck({
  id: 'd11.1',
  title:
    'Process contract: ready lines for --transport tcp and udp, --help, bad flags exit 2, LOGSTREAM_* env, a done line',
  timeoutMs: 60_000,
  programs: {
    receiver: {
      base: async ({ tmp }) => ['--data-dir', await tmp(), '--port', '0'],
      usage: ['--transport', '--port', '--data-dir'],
      bad: [['--bogus'], ['--transport', 'sctp']],
    },
    shipper: {
      base: SHIPPER_BASE,
      usage: ['--transport', '--batch-records', '--batch-bytes', '--batch-delay-ms', '--max-datagram', '--target'],
      bad: [['--bogus']],
    },
  },
  runs: { timeoutMs: 20_000 },
  async then(ctx) {
    // TCP receiver by flags; UDP receiver by LOGSTREAM_* environment variables
    const tcp = await ctx.start('receiver', ['--host', '127.0.0.1', '--port', '0', '--data-dir', await ctx.tmp()]);
    expectEqual(tcp.ready['transport'], 'lsp1-tcp', {
      what: 'ready line "transport" (--transport tcp, the default)',
      where: 'receiver ready line',
      hint: 'LSP/1 over TCP announces "lsp1-tcp"',
    });
    expectEqual(tcp.ready['lesson'], 'day11', { what: 'ready line "lesson"', where: 'receiver ready line' });
    const udp = await ctx.start('receiver', [], {
      env: { LOGSTREAM_TRANSPORT: 'udp', LOGSTREAM_PORT: '0', LOGSTREAM_DATA_DIR: await ctx.tmp() },
    });
    expectEqual(udp.ready['transport'], 'lsp1-udp', {
      what: 'ready line "transport" with LOGSTREAM_TRANSPORT=udp',
      where: 'receiver ready line',
      hint: 'every flag also reads LOGSTREAM_<FLAG>; UDP announces "lsp1-udp"',
    });
    expectTrue(Number.isInteger(udp.port) && udp.port > 0, {
      expected: 'the UDP ready line to carry the bound port',
      received: show(udp.ready),
      where: 'receiver ready line',
    });

    // the shipper, target from the environment, to the check's own receiver: a done line, exit 0
    const fake = await startFakeReceiver(ctx);
    const sh = spawnShipper(ctx, ['--generate', '10', '--state-dir', await ctx.tmp(), '--progress-ms', '0'], {
      env: { LOGSTREAM_TARGET: `127.0.0.1:${fake.port}` },
    });
    const ex = await waitExit(sh, 20_000, 'with LOGSTREAM_TARGET set, the shipper ships to it and exits');
    expectExit0(sh, ex);
    const done = doneOf(sh);
    expectEqual(done['acked'], 10, { what: 'done line "acked"', where: `shipper done line ${show(done, 300)}` });
    for (const k of ['batches', 'recordsPerBatch', 'flushes', 'waitMs'])
      expectTrue(k in done, {
        expected: `the done line to report "${k}"`,
        received: show(done, 400),
        where: 'shipper done line',
        hint: 'day 11 done line: batches, recordsPerBatch, flushes {records, bytes, time, close}, socketWrites, waitMs {p50, p99}',
      });
    const [rs, us] = await Promise.all([tcp.stop(), udp.stop()]);
    for (const [s, what] of [
      [rs, 'tcp'],
      [us, 'udp'],
    ] as const)
      expectEqual(s.exitCode, 0, {
        what: `receiver (${what}) exit code after SIGTERM`,
        where: `receiver --transport ${what}`,
        hint: 'SIGTERM: flush, final stats, exit 0 within 5 s',
      });
  },
});
