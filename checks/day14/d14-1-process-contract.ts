import { expectEqual } from '../harness/assert.ts';
import type { Check } from '../harness/types.ts';
import { freePort } from '../../shared/free-port.ts';
import { expectCliContract, expectReadyLine, runByEnv, startReceiverByEnv } from '../harness/kit/contract.ts';
import { at } from '../harness/kit/records.ts';

export const d14_1: Check = {
  id: 'd14.1',
  title: 'Process contract: --help, bad flags exit 2 naming the flag, LOGSTREAM_* env, the receiver ready line',
  // the CLI and the receiver are handed over: no TODO asks for them
  given: true,
  points: 0,
  timeoutMs: 90_000,
  async run(ctx) {
    const dataDir = await ctx.tmp();
    await expectCliContract(
      ctx,
      [
        {
          program: 'loadgen',
          base: ['--dry-run', '--count', '1'],
          usage: [
            '--target',
            '--transport',
            '--rate',
            '--ramp',
            '--steps',
            '--connections',
            '--duration',
            '--count',
            '--batch-records',
            '--codec',
            '--ca',
            '--seed',
            '--record-size',
            '--dry-run',
            '--dump',
            '--verify-dir',
            '--json',
            '--progress',
          ],
          bad: [
            ['--bogus'],
            ['--rate', 'fast', '--rate takes a number of records/s or max'],
            [
              '--transport',
              'carrier-pigeon',
              '--transport takes ndjson | lsp | lsp-tls | udp | syslog-tcp | syslog-udp',
            ],
          ],
        },
        {
          program: 'receiver',
          base: ['--port', '0', '--data-dir', dataDir],
          usage: ['--port', '--data-dir', '--queue', '--overflow', '--drain-rate', '--fsync'],
          bad: [['--bogus'], ['--overflow', 'sometimes', '--overflow takes block | drop-newest']],
        },
      ],
      { timeoutMs: 40_000, tailChars: 400 },
    );

    // LOGSTREAM_<FLAG> from the environment, and the ready line itself
    const port = await freePort();
    const rx = await startReceiverByEnv(ctx, ['--data-dir', dataDir], { LOGSTREAM_PORT: String(port) }, 45_000);
    expectReadyLine(rx.ready, {
      lesson: 'day14',
      transport: 'lsp1-tcp',
      port,
      where: `receiver ready line ${JSON.stringify(rx.ready)}`,
      transportHint: 'the day 14 lane speaks LSP/1 over TCP',
    });
    // and the loadgen, configured by the environment alone
    const { done } = await runByEnv(
      ctx,
      'loadgen',
      { LOGSTREAM_TARGET: at(port), LOGSTREAM_COUNT: '200', LOGSTREAM_RATE: 'max' },
      {
        cmd: `LOGSTREAM_TARGET=${at(port)} LOGSTREAM_COUNT=200 loadgen.ts`,
        timeoutMs: 40_000,
        tailChars: 400,
        hint: 'the loadgen reads LOGSTREAM_TARGET, LOGSTREAM_COUNT, … and exits 0 once everything is ACKed',
      },
    );
    expectEqual(done['sent'], 200, {
      what: 'done line "sent" with LOGSTREAM_COUNT=200',
      where: 'loadgen done line',
      hint: 'every flag also reads LOGSTREAM_<FLAG>',
    });
  },
};
