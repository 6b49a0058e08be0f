import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { expectEqual, expectTrue, show } from '../harness/assert.ts';
import type { Check } from '../harness/types.ts';
import { contractCheck, envReceiver, runByEnv, SHIPPER_BASE } from '../harness/kit/contract.ts';
import { at } from '../harness/kit/records.ts';

const CERTS = 'new-certs'; // a directory of the check that does not exist yet: the receiver makes it

// Given: the flags, --help, the ready line and the certificates made on the first run come with the lesson.
export const d13_1: Check = contractCheck({
  id: 'd13.1',
  title:
    'Process contract (ready line, --help, bad flags exit 2, LOGSTREAM_* env); certificates created on the first run, keys 0600',
  timeoutMs: 60_000,
  programs: {
    receiver: {
      base: async ({ dataDir, fresh }) => ['--data-dir', dataDir, '--port', '0', '--certs', await fresh(CERTS)],
      usage: ['--port', '--data-dir', '--certs', '--cert', '--key', '--ca', '--mtls', '--min-tls', '--dashboard-port'],
      bad: [
        ['--bogus'],
        ['--min-tls', 'TLSv1.1', 'TLS 1.0 and 1.1 are never accepted: --min-tls takes TLSv1.2 | TLSv1.3'],
      ],
    },
    shipper: {
      base: SHIPPER_BASE,
      usage: ['--target', '--ca', '--cert', '--key', '--certs', '--state-dir', '--max-attempts'],
      bad: [
        {
          args: ['--insecure'],
          flag: '--insecure',
          cmd: 'shipper --insecure',
          hint: 'there is no way to turn verification off: --insecure is an unknown flag (exit 2)',
        },
        ['--min-tls', 'TLSv1.1', 'the shipper never offers TLS 1.0/1.1: --min-tls takes TLSv1.2 | TLSv1.3'],
      ],
    },
  },
  runs: { timeoutMs: 20_000 },
  async then(ctx, { dataDir, fresh }) {
    // LOGSTREAM_<FLAG>, the ready line, and certificates made on the first run.
    const freshCerts = await fresh(CERTS);
    const { port } = await envReceiver(ctx, dataDir, {
      args: ['--stats-interval-ms', '100'],
      env: { LOGSTREAM_CERTS: freshCerts },
      port: 'tcp',
      ready: {
        lesson: 'day13',
        transport: 'lsp1-tls',
        defaultHost: true,
        transportHint: 'day 13 speaks LSP/1 binary frames over TLS: "lsp1-tls"',
      },
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
    const { done } = await runByEnv(ctx, 'shipper', env, {
      cmd: `LOGSTREAM_TARGET=${at(port)} LOGSTREAM_GENERATE=${N} LOGSTREAM_CA=… shipper.ts`,
      timeoutMs: 20_000,
      hint: 'the shipper reads LOGSTREAM_TARGET, LOGSTREAM_GENERATE, LOGSTREAM_CA, … and exits 0 once everything is ACKed',
    });
    expectEqual(done['acked'], N, { what: 'done line "acked"', where: `done line ${show(done, 300)}` });
  },
});
