import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { expectEqual, expectTrue, fail, show } from '../harness/assert.ts';
import type { Check } from '../harness/types.ts';
import { freePort } from '../../shared/free-port.ts';
import { exitedWith, stderrNames } from '../harness/kit/exit.ts';
import { at } from '../harness/kit/records.ts';

export const d13_1: Check = {
  id: 'd13.1',
  title:
    'Process contract (ready line, --help, bad flags exit 2, LOGSTREAM_* env); certificates created on the first run, keys 0600',
  // Given: the flags, --help, the ready line and the certificates made on the first run come with the lesson.
  given: true,
  points: 0,
  timeoutMs: 60_000,
  async run(ctx) {
    const dataDir = await ctx.tmp();
    const freshCerts = path.join(await ctx.tmp(), 'new-certs'); // does not exist yet
    const base = ['--data-dir', dataDir, '--port', '0', '--certs', freshCerts];
    const [rxHelp, rxBogus, rxOldTls, shHelp, shInsecure, shOldTls] = await Promise.all([
      ctx.run('receiver', ['--help'], { timeoutMs: 20_000 }),
      ctx.run('receiver', [...base, '--bogus'], { timeoutMs: 20_000 }),
      ctx.run('receiver', [...base, '--min-tls', 'TLSv1.1'], { timeoutMs: 20_000 }),
      ctx.run('shipper', ['--help'], { timeoutMs: 20_000 }),
      ctx.run('shipper', ['--generate', '1', '--state-dir', await ctx.tmp(), '--insecure'], { timeoutMs: 20_000 }),
      ctx.run('shipper', ['--generate', '1', '--state-dir', await ctx.tmp(), '--min-tls', 'TLSv1.1'], {
        timeoutMs: 20_000,
      }),
    ]);
    exitedWith(rxHelp, 0, 'receiver --help', '--help prints usage on stdout and exits 0');
    const usage = rxHelp.stdout + rxHelp.stderr;
    for (const flag of [
      '--port',
      '--data-dir',
      '--certs',
      '--cert',
      '--key',
      '--ca',
      '--mtls',
      '--min-tls',
      '--dashboard-port',
    ]) {
      expectTrue(usage.includes(flag), {
        expected: `receiver usage naming ${flag}`,
        received: show(usage.slice(0, 400)),
        where: 'receiver --help',
        hint: 'list every flag in --help',
      });
    }
    exitedWith(rxBogus, 2, 'receiver --bogus', 'an unknown flag is an error: one stderr line naming it, exit 2');
    stderrNames(rxBogus, '--bogus', 'receiver --bogus');
    exitedWith(
      rxOldTls,
      2,
      'receiver --min-tls TLSv1.1',
      'TLS 1.0 and 1.1 are never accepted: --min-tls takes TLSv1.2 | TLSv1.3',
    );
    stderrNames(rxOldTls, '--min-tls', 'receiver --min-tls TLSv1.1');
    exitedWith(shHelp, 0, 'shipper --help', '--help prints usage on stdout and exits 0');
    const shUsage = shHelp.stdout + shHelp.stderr;
    for (const flag of ['--target', '--ca', '--cert', '--key', '--certs', '--state-dir', '--max-attempts']) {
      expectTrue(shUsage.includes(flag), {
        expected: `shipper usage naming ${flag}`,
        received: show(shUsage.slice(0, 400)),
        where: 'shipper --help',
        hint: 'list every flag in --help',
      });
    }
    exitedWith(
      shInsecure,
      2,
      'shipper --insecure',
      'there is no way to turn verification off: --insecure is an unknown flag (exit 2)',
    );
    stderrNames(shInsecure, '--insecure', 'shipper --insecure');
    exitedWith(
      shOldTls,
      2,
      'shipper --min-tls TLSv1.1',
      'the shipper never offers TLS 1.0/1.1: --min-tls takes TLSv1.2 | TLSv1.3',
    );
    stderrNames(shOldTls, '--min-tls', 'shipper --min-tls TLSv1.1');

    // LOGSTREAM_<FLAG>, the ready line, and certificates made on the first run.
    const port = await freePort();
    const rx = await ctx.start('receiver', ['--data-dir', dataDir, '--stats-interval-ms', '100'], {
      env: { LOGSTREAM_PORT: String(port), LOGSTREAM_CERTS: freshCerts },
    });
    ctx.log(
      `receiver started with LOGSTREAM_PORT=${port} LOGSTREAM_CERTS=${freshCerts}: ready ${JSON.stringify(rx.ready)}`,
    );
    const r = rx.ready;
    expectEqual(r['role'], 'receiver', { what: 'ready line "role"', where: 'receiver ready line' });
    expectEqual(r['lesson'], 'day13', { what: 'ready line "lesson"', where: 'receiver ready line' });
    expectEqual(r['transport'], 'lsp1-tls', {
      what: 'ready line "transport"',
      where: 'receiver ready line',
      hint: 'day 13 speaks LSP/1 binary frames over TLS: "lsp1-tls"',
    });
    expectEqual(r['host'], '127.0.0.1', { what: 'ready line "host" (default --host)', where: 'receiver ready line' });
    expectEqual(r['port'], port, {
      what: 'ready line "port" when started with LOGSTREAM_PORT',
      where: 'receiver ready line',
      hint: 'every flag also reads LOGSTREAM_<FLAG> from the environment (flag first)',
    });
    const names = existsSync(freshCerts) ? await readdir(freshCerts) : [];
    for (const f of ['ca.crt', 'server.crt', 'server.key']) {
      expectTrue(names.includes(f), {
        expected: `${f} created in --certs on the first run`,
        received: `files ${show(names)}`,
        where: freshCerts,
        hint: 'call ensureCerts(--certs) (shared/tls/certs.ts) at start: certificates without manual steps',
      });
    }
    for (const f of names.filter((n) => n.endsWith('.key'))) {
      const mode = (await stat(path.join(freshCerts, f))).mode & 0o777;
      expectTrue(mode === 0o600, {
        expected: `private key ${f} with mode 0600`,
        received: `mode ${mode.toString(8).padStart(4, '0')}`,
        where: path.join(freshCerts, f),
        hint: 'a private key readable by others is no longer private',
      });
    }

    // The shipper, configured by environment alone, trusting the CA the receiver just made.
    const N = 100;
    const env = {
      LOGSTREAM_TARGET: at(port),
      LOGSTREAM_GENERATE: String(N),
      LOGSTREAM_STATE_DIR: await ctx.tmp(),
      LOGSTREAM_CA: path.join(freshCerts, 'ca.crt'),
    };
    const res = await ctx.run('shipper', [], { env, timeoutMs: 20_000 });
    const cmd = `LOGSTREAM_TARGET=${at(port)} LOGSTREAM_GENERATE=${N} LOGSTREAM_CA=… shipper.ts`;
    exitedWith(
      res,
      0,
      cmd,
      'the shipper reads LOGSTREAM_TARGET, LOGSTREAM_GENERATE, LOGSTREAM_CA, … and exits 0 once everything is ACKed',
    );
    const done = res.json.find((j) => j['event'] === 'done');
    if (!done)
      fail({
        expected: `a {"event":"done",…} line on the stdout of \`${cmd}\``,
        received: show(res.stdout.slice(-300) || '(empty stdout)'),
        where: 'shipper stdout',
      });
    expectEqual(done['acked'], N, { what: 'done line "acked"', where: `done line ${show(done, 300)}` });
  },
};
