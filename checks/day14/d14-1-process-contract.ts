import { expectEqual } from '../harness/assert.ts';
import type { Check } from '../harness/types.ts';
import { contractCheck, envReceiver, RECEIVER_BASE, runByEnv } from '../harness/kit/contract.ts';
import { at } from '../harness/kit/records.ts';

// the CLI and the receiver are handed over: no TODO asks for them
export const d14_1: Check = contractCheck({
  id: 'd14.1',
  title: 'Process contract: --help, bad flags exit 2 naming the flag, LOGSTREAM_* env, the receiver ready line',
  timeoutMs: 90_000,
  programs: {
    loadgen: {
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
        ['--transport', 'carrier-pigeon', '--transport takes ndjson | lsp | lsp-tls | udp | syslog-tcp | syslog-udp'],
      ],
    },
    receiver: {
      base: RECEIVER_BASE,
      usage: ['--port', '--data-dir', '--queue', '--overflow', '--drain-rate', '--fsync'],
      bad: [['--bogus'], ['--overflow', 'sometimes', '--overflow takes block | drop-newest']],
    },
  },
  runs: { timeoutMs: 40_000, tailChars: 400 },
  async then(ctx, { dataDir }) {
    // LOGSTREAM_<FLAG> from the environment, and the ready line itself
    const { port } = await envReceiver(ctx, dataDir, {
      port: 'tcp',
      readyTimeoutMs: 45_000,
      ready: {
        lesson: 'day14',
        transport: 'lsp1-tcp',
        showLine: true,
        transportHint: 'the day 14 lane speaks LSP/1 over TCP',
      },
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
});
