import dgram from 'node:dgram';
import { expectEqual, waitFor } from '../harness/assert.ts';
import { statNumber } from '../harness/persisted.ts';
import { pick } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import { expectCliContract, expectReadyLine, startReceiverByEnv } from '../harness/kit/contract.ts';
import { statsNow } from './support.ts';

/** What the kernel grants a socket that asks for `bytes` of receive buffer (Linux doubles it and caps it). */
async function grantedRcvbuf(bytes: number): Promise<number> {
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: bytes });
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const granted = s.getRecvBufferSize();
  s.close();
  return granted;
}

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const port = s.address().port;
  s.close();
  return port;
}

export const d10_1: Check = {
  id: 'd10.1',
  title: 'The process contract: ready line with the granted receive buffer, --help, bad flags exit 2, LOGSTREAM_<FLAG>',
  // Given: the lesson hands over the CLI, the socket options and the ready line; no TODO asks for them.
  given: true,
  points: 0,
  timeoutMs: 45_000,
  async run(ctx) {
    const dataDir = await ctx.tmp();
    const noReady = 'validate every flag before binding the socket';
    await expectCliContract(
      ctx,
      [
        {
          program: 'receiver',
          base: ['--data-dir', dataDir, '--port', '0'],
          usage: ['--port', '--data-dir', '--rcvbuf', '--max-datagram'],
          noReady,
          bad: [['--bogus'], ['--rcvbuf', 'lots']],
        },
        {
          program: 'shipper',
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
      ],
      { timeoutMs: 20_000, tailChars: 400 },
    );

    // LOGSTREAM_<FLAG>, the ready line, and the receive buffer the kernel granted (not the one asked for).
    const port = await freeUdpPort();
    const ask = pick(ctx.rng, [96 << 10, 192 << 10, 320 << 10]);
    const granted = await grantedRcvbuf(ask);
    ctx.log(`asking for rcvbuf ${ask} through LOGSTREAM_RCVBUF; this kernel grants ${granted} for that`);
    const rx = await startReceiverByEnv(ctx, ['--data-dir', dataDir, '--stats-interval-ms', '100'], {
      LOGSTREAM_PORT: String(port),
      LOGSTREAM_RCVBUF: String(ask),
    });
    const r = rx.ready;
    expectReadyLine(r, {
      lesson: 'day10',
      transport: 'lsp1-udp',
      port,
      defaultHost: true,
      where: 'ready line',
      shape:
        '{"event":"ready","role":"receiver","lesson":"day10","transport":"lsp1-udp","host":…,"port":…,"rcvbuf":<granted>}',
    });
    expectEqual(r['rcvbuf'], granted, {
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
};
