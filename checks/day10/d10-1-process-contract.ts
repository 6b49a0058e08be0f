import dgram from 'node:dgram';
import { expectEqual, expectTrue, show, waitFor } from '../harness/assert.ts';
import { statNumber } from '../harness/persisted.ts';
import { pick } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import { exitedWith, stderrNames } from '../harness/kit/exit.ts';
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
    const base = ['--data-dir', dataDir, '--port', '0'];
    const [help, shipHelp, bogus, badRcvbuf, badMaxDgram, badRate] = await Promise.all([
      ctx.run('receiver', ['--help'], { timeoutMs: 20_000 }),
      ctx.run('shipper', ['--help'], { timeoutMs: 20_000 }),
      ctx.run('receiver', [...base, '--bogus'], { timeoutMs: 20_000 }),
      ctx.run('receiver', [...base, '--rcvbuf', 'lots'], { timeoutMs: 20_000 }),
      ctx.run('shipper', ['--target', '127.0.0.1:9', '--generate', '1', '--max-datagram', '70000'], {
        timeoutMs: 20_000,
      }),
      ctx.run('shipper', ['--target', '127.0.0.1:9', '--generate', '1', '--rate', 'fast'], { timeoutMs: 20_000 }),
    ]);
    exitedWith(help, 0, 'receiver --help', '--help prints usage on stdout and exits 0', { tailChars: 400 });
    const usage = help.stdout + help.stderr;
    expectTrue(
      ['--port', '--data-dir', '--rcvbuf', '--max-datagram'].every((f) => usage.includes(f)),
      {
        expected: 'receiver usage naming --port, --data-dir, --rcvbuf and --max-datagram',
        received: show(usage.slice(0, 400)),
        where: 'receiver --help',
        hint: 'list every flag in --help',
      },
    );
    exitedWith(shipHelp, 0, 'shipper --help', 'the shipper follows the same contract: --help exits 0', {
      tailChars: 400,
    });
    const shipUsage = shipHelp.stdout + shipHelp.stderr;
    expectTrue(
      ['--target', '--max-datagram', '--rate', '--stream-id'].every((f) => shipUsage.includes(f)),
      {
        expected: 'shipper usage naming --target, --max-datagram, --rate and --stream-id',
        received: show(shipUsage.slice(0, 400)),
        where: 'shipper --help',
      },
    );
    exitedWith(bogus, 2, 'receiver --bogus', 'an unknown flag is an error: one stderr line naming it, exit 2', {
      tailChars: 400,
    });
    stderrNames(bogus, '--bogus', 'receiver --bogus', { noReady: 'validate every flag before binding the socket' });
    exitedWith(
      badRcvbuf,
      2,
      'receiver --rcvbuf lots',
      'a bad value is an error: one stderr line naming the flag, exit 2',
      { tailChars: 400 },
    );
    stderrNames(badRcvbuf, '--rcvbuf', 'receiver --rcvbuf lots', {
      noReady: 'validate every flag before binding the socket',
    });
    exitedWith(
      badMaxDgram,
      2,
      'shipper --max-datagram 70000',
      'UDP carries at most 65507 bytes: a larger --max-datagram is a usage error (exit 2)',
      { tailChars: 400 },
    );
    stderrNames(badMaxDgram, '--max-datagram', 'shipper --max-datagram 70000', {
      noReady: 'validate every flag before binding the socket',
    });
    exitedWith(badRate, 2, 'shipper --rate fast', '--rate takes a number of records/s, 0 or max', { tailChars: 400 });
    stderrNames(badRate, '--rate', 'shipper --rate fast', { noReady: 'validate every flag before binding the socket' });

    // LOGSTREAM_<FLAG>, the ready line, and the receive buffer the kernel granted (not the one asked for).
    const port = await freeUdpPort();
    const ask = pick(ctx.rng, [96 << 10, 192 << 10, 320 << 10]);
    const granted = await grantedRcvbuf(ask);
    ctx.log(`asking for rcvbuf ${ask} through LOGSTREAM_RCVBUF; this kernel grants ${granted} for that`);
    const rx = await ctx.start('receiver', ['--data-dir', dataDir, '--stats-interval-ms', '100'], {
      env: { LOGSTREAM_PORT: String(port), LOGSTREAM_RCVBUF: String(ask) },
    });
    ctx.log(`ready ${JSON.stringify(rx.ready)}`);
    const r = rx.ready;
    const hint =
      '{"event":"ready","role":"receiver","lesson":"day10","transport":"lsp1-udp","host":…,"port":…,"rcvbuf":<granted>}';
    expectEqual(r['role'], 'receiver', { what: 'ready line "role"', where: 'ready line', hint });
    expectEqual(r['lesson'], 'day10', { what: 'ready line "lesson"', where: 'ready line', hint });
    expectEqual(r['transport'], 'lsp1-udp', { what: 'ready line "transport"', where: 'ready line', hint });
    expectEqual(r['host'], '127.0.0.1', { what: 'ready line "host" (default --host)', where: 'ready line' });
    expectEqual(r['port'], port, {
      what: 'ready line "port" when started with LOGSTREAM_PORT',
      where: 'ready line',
      hint: 'every flag also reads LOGSTREAM_<FLAG> from the environment (flag first)',
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
