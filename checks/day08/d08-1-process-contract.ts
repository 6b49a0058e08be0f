import { expectEqual, expectTrue, show } from '../harness/assert.ts';
import type { Check } from '../harness/types.ts';
import { freePort } from '../../shared/free-port.ts';
import { exitedWith, stderrNames } from '../harness/kit/exit.ts';

export const d08_1: Check = {
  id: 'd08.1',
  title: 'The process contract: ready line, --help, bad flags exit 2, LOGSTREAM_<FLAG>',
  // Given: the flags, --help and the ready line come with the lesson (shared/cli.ts, shared/process.ts).
  given: true,
  points: 0,
  timeoutMs: 45_000,
  async run(ctx) {
    const dataDir = await ctx.tmp();
    const base = ['--data-dir', dataDir, '--port', '0'];
    const [help, bogus, badPort, shipHelp] = await Promise.all([
      ctx.run('receiver', ['--help'], { timeoutMs: 15_000 }),
      ctx.run('receiver', [...base, '--bogus'], { timeoutMs: 15_000 }),
      ctx.run('receiver', ['--data-dir', dataDir, '--port', 'abc'], { timeoutMs: 15_000 }),
      ctx.run('shipper', ['--help'], { timeoutMs: 15_000 }),
    ]);
    exitedWith(help, 0, 'receiver --help', '--help prints usage on stdout and exits 0', { noteReady: true });
    const usage = help.stdout + help.stderr;
    expectTrue(usage.includes('--port') && usage.includes('--data-dir'), {
      expected: 'usage text naming the flags (--port, --data-dir, …)',
      received: show(usage.slice(0, 300)),
      where: 'receiver --help',
      hint: 'list every flag in --help',
    });
    exitedWith(bogus, 2, 'receiver --bogus', 'an unknown flag is an error: one stderr line naming it, exit 2', {
      noteReady: true,
    });
    stderrNames(bogus, '--bogus', 'receiver --bogus', { noReady: 'validate every flag before listening' });
    exitedWith(badPort, 2, 'receiver --port abc', 'a bad value is an error: one stderr line naming the flag, exit 2', {
      noteReady: true,
    });
    stderrNames(badPort, '--port', 'receiver --port abc', { noReady: 'validate every flag before listening' });
    exitedWith(shipHelp, 0, 'shipper --help', 'the shipper follows the same contract: --help exits 0', {
      noteReady: true,
    });

    // LOGSTREAM_<FLAG> from the environment, and the ready line itself.
    const port = await freePort();
    const rx = await ctx.start('receiver', ['--data-dir', dataDir], { env: { LOGSTREAM_PORT: String(port) } });
    ctx.log(`receiver started with LOGSTREAM_PORT=${port}: ready ${JSON.stringify(rx.ready)}`);
    const r = rx.ready;
    expectEqual(r['role'], 'receiver', {
      what: 'ready line "role"',
      where: 'ready line',
      hint: '{"event":"ready","role":"receiver","lesson":"day08","transport":"tcp","host":…,"port":…}',
    });
    expectEqual(r['lesson'], 'day08', { what: 'ready line "lesson"', where: 'ready line' });
    expectEqual(r['transport'], 'tcp', { what: 'ready line "transport"', where: 'ready line' });
    expectEqual(r['host'], '127.0.0.1', {
      what: 'ready line "host" (default --host)',
      where: 'ready line',
      hint: 'the default host is 127.0.0.1',
    });
    expectEqual(r['port'], port, {
      what: 'ready line "port" when started with LOGSTREAM_PORT',
      where: 'ready line',
      hint: 'every flag also reads LOGSTREAM_<FLAG> from the environment (flag first)',
    });
    const c = await ctx.connect('127.0.0.1', port);
    c.destroy();
  },
};
