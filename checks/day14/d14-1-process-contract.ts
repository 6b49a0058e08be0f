import { expectEqual, expectTrue, fail, show } from '../harness/assert.ts';
import type { Check, CheckContext } from '../harness/types.ts';
import { freePort } from '../../shared/free-port.ts';
import { exitedWith, stderrNames } from '../harness/kit/exit.ts';
import { at } from '../harness/kit/records.ts';
import type { Json } from './support.ts';

export const d14_1: Check = {
  id: 'd14.1',
  title: 'Process contract: --help, bad flags exit 2 naming the flag, LOGSTREAM_* env, the receiver ready line',
  // the CLI and the receiver are handed over: no TODO asks for them
  given: true,
  points: 0,
  timeoutMs: 90_000,
  async run(ctx) {
    const dataDir = await ctx.tmp();
    const [lgHelp, lgBogus, lgRate, lgTransport, rxHelp, rxBogus, rxOverflow] = await Promise.all([
      ctx.run('loadgen', ['--help'], { timeoutMs: 40_000 }),
      ctx.run('loadgen', ['--dry-run', '--count', '1', '--bogus'], { timeoutMs: 40_000 }),
      ctx.run('loadgen', ['--dry-run', '--count', '1', '--rate', 'fast'], { timeoutMs: 40_000 }),
      ctx.run('loadgen', ['--dry-run', '--count', '1', '--transport', 'carrier-pigeon'], { timeoutMs: 40_000 }),
      ctx.run('receiver', ['--help'], { timeoutMs: 40_000 }),
      ctx.run('receiver', ['--port', '0', '--data-dir', dataDir, '--bogus'], { timeoutMs: 40_000 }),
      ctx.run('receiver', ['--port', '0', '--data-dir', dataDir, '--overflow', 'sometimes'], { timeoutMs: 40_000 }),
    ]);
    exitedWith(lgHelp, [0], 'loadgen --help', '--help prints usage on stdout and exits 0', { tailChars: 400 });
    const usage = lgHelp.stdout + lgHelp.stderr;
    for (const flag of [
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
    ]) {
      expectTrue(usage.includes(flag), {
        expected: `loadgen usage naming ${flag}`,
        received: show(usage.slice(0, 400)),
        where: 'loadgen --help',
        hint: 'list every flag in --help',
      });
    }
    exitedWith(lgBogus, [2], 'loadgen --bogus', 'an unknown flag is an error: one stderr line naming it, exit 2', {
      tailChars: 400,
    });
    stderrNames(lgBogus, '--bogus', 'loadgen --bogus');
    exitedWith(lgRate, [2], 'loadgen --rate fast', '--rate takes a number of records/s or max', { tailChars: 400 });
    stderrNames(lgRate, '--rate', 'loadgen --rate fast');
    exitedWith(
      lgTransport,
      [2],
      'loadgen --transport carrier-pigeon',
      '--transport takes ndjson | lsp | lsp-tls | udp | syslog-tcp | syslog-udp',
      { tailChars: 400 },
    );
    stderrNames(lgTransport, '--transport', 'loadgen --transport carrier-pigeon');
    exitedWith(rxHelp, [0], 'receiver --help', '--help prints usage on stdout and exits 0', { tailChars: 400 });
    for (const flag of ['--port', '--data-dir', '--queue', '--overflow', '--drain-rate', '--fsync']) {
      expectTrue((rxHelp.stdout + rxHelp.stderr).includes(flag), {
        expected: `receiver usage naming ${flag}`,
        received: show(rxHelp.stdout.slice(0, 400)),
        where: 'receiver --help',
        hint: 'list every flag in --help',
      });
    }
    exitedWith(rxBogus, [2], 'receiver --bogus', 'an unknown flag is an error: one stderr line naming it, exit 2', {
      tailChars: 400,
    });
    stderrNames(rxBogus, '--bogus', 'receiver --bogus');
    exitedWith(rxOverflow, [2], 'receiver --overflow sometimes', '--overflow takes block | drop-newest', {
      tailChars: 400,
    });
    stderrNames(rxOverflow, '--overflow', 'receiver --overflow sometimes');

    // LOGSTREAM_<FLAG> from the environment, and the ready line itself
    const port = await freePort();
    const rx = await ctx.start('receiver', ['--data-dir', dataDir], {
      env: { LOGSTREAM_PORT: String(port) },
      readyTimeoutMs: 45_000,
    });
    const r = rx.ready;
    const where = `receiver ready line ${JSON.stringify(r)}`;
    expectEqual(r['role'], 'receiver', { what: 'ready line "role"', where });
    expectEqual(r['lesson'], 'day14', { what: 'ready line "lesson"', where });
    expectEqual(r['transport'], 'lsp1-tcp', {
      what: 'ready line "transport"',
      where,
      hint: 'the day 14 lane speaks LSP/1 over TCP',
    });
    expectEqual(r['port'], port, {
      what: 'ready line "port" when started with LOGSTREAM_PORT',
      where,
      hint: 'every flag also reads LOGSTREAM_<FLAG> (flag first)',
    });
    // and the loadgen, configured by the environment alone
    const { done } = await runLoadgenEnv(ctx, port);
    expectEqual(done['sent'], 200, {
      what: 'done line "sent" with LOGSTREAM_COUNT=200',
      where: 'loadgen done line',
      hint: 'every flag also reads LOGSTREAM_<FLAG>',
    });
  },
};

/** The loadgen configured by LOGSTREAM_* alone (d14.1). */
async function runLoadgenEnv(ctx: CheckContext, port: number): Promise<{ done: Json }> {
  const env = { LOGSTREAM_TARGET: at(port), LOGSTREAM_COUNT: '200', LOGSTREAM_RATE: 'max' };
  const r = await ctx.run('loadgen', [], { env, timeoutMs: 40_000 });
  const cmd = `LOGSTREAM_TARGET=${at(port)} LOGSTREAM_COUNT=200 loadgen.ts`;
  exitedWith(
    r,
    [0],
    cmd,
    'the loadgen reads LOGSTREAM_TARGET, LOGSTREAM_COUNT, … and exits 0 once everything is ACKed',
    { tailChars: 400 },
  );
  const done = r.json.filter((j) => j['event'] === 'done').pop();
  if (!done) fail({ expected: 'a done line', received: show(r.stdout.slice(-300)), where: cmd });
  return { done };
}
