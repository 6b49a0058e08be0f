import dgram from 'node:dgram';
import { expectEqual, waitFor } from '../harness/assert.ts';
import { statNumber } from '../harness/persisted.ts';
import { pick } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import { contractCheck, envReceiver, RECEIVER_BASE } from '../harness/kit/contract.ts';
import { statsNow } from './support.ts';

/** What the kernel grants a socket that asks for `bytes` of receive buffer (Linux doubles it and caps it). */
async function grantedRcvbuf(bytes: number): Promise<number> {
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: bytes });
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const granted = s.getRecvBufferSize();
  s.close();
  return granted;
}

const noReady = 'validate every flag before binding the socket';

// Given: the lesson hands over the CLI, the socket options and the ready line; no TODO asks for them.
export const d10_1: Check = contractCheck({
  id: 'd10.1',
  title: 'The process contract: ready line with the granted receive buffer, --help, bad flags exit 2, LOGSTREAM_<FLAG>',
  timeoutMs: 45_000,
  programs: {
    receiver: {
      base: RECEIVER_BASE,
      usage: ['--port', '--data-dir', '--rcvbuf', '--max-datagram'],
      noReady,
      bad: [['--bogus'], ['--rcvbuf', 'lots']],
    },
    shipper: {
      base: ['--target', '127.0.0.1:9', '--generate', '1'],
      usage: ['--target', '--max-datagram', '--rate', '--stream-id'],
      helpHint: 'the shipper follows the same contract: --help exits 0',
      noReady,
      bad: [
        [
          '--max-datagram',
          '70000',
          'UDP carries at most 65507 bytes: a larger --max-datagram is a usage error (exit 2)',
        ],
        ['--rate', 'fast', '--rate takes a number of records/s, 0 or max'],
      ],
    },
  },
  runs: { timeoutMs: 20_000, tailChars: 400 },
  async then(ctx, { dataDir }) {
    // LOGSTREAM_<FLAG>, the ready line, and the receive buffer the kernel granted (not the one asked for).
    const ask = pick(ctx.rng, [96 << 10, 192 << 10, 320 << 10]);
    const granted = await grantedRcvbuf(ask);
    ctx.log(`asking for rcvbuf ${ask} through LOGSTREAM_RCVBUF; this kernel grants ${granted} for that`);
    const { rx } = await envReceiver(ctx, dataDir, {
      args: ['--stats-interval-ms', '100'],
      env: { LOGSTREAM_RCVBUF: String(ask) },
      port: 'udp',
      ready: {
        lesson: 'day10',
        transport: 'lsp1-udp',
        defaultHost: true,
        where: 'ready line',
        shape:
          '{"event":"ready","role":"receiver","lesson":"day10","transport":"lsp1-udp","host":…,"port":…,"rcvbuf":<granted>}',
      },
    });
    expectEqual(rx.ready['rcvbuf'], granted, {
      what: `ready line "rcvbuf" after asking for ${ask} bytes (LOGSTREAM_RCVBUF)`,
      where: 'ready line',
      hint: 'report what the kernel GRANTED (socket.getRecvBufferSize() after bind), not what you asked for: Linux doubles the request and caps it at net.core.rmem_max',
    });
    await waitFor(
      async () => {
        const got = statNumber(await statsNow(dataDir), 'udp.rcvbuf');
        expectEqual(got, granted, {
          what: 'stats.json udp.rcvbuf (the granted receive buffer)',
          where: `${dataDir}/stats.json`,
        });
        return true;
      },
      { timeoutMs: 5000, what: 'stats.json with udp.rcvbuf', where: `${dataDir}/stats.json` },
    );
  },
});
