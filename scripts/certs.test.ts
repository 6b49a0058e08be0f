// npm run certs -- --server-names: a server certificate a client can verify by a container's service
// name (docker/docker-compose.yml makes the certs with --server-names day13,syslog). Real CLI runs, a real
// TLS handshake with verification on.
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './lib/launch.ts';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'certs-test-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

interface Described {
  what: string;
  serial: string;
  san: string;
}

async function certs(dir: string, ...args: string[]): Promise<Described> {
  const r = await execa(process.execPath, ['--import', 'tsx', 'scripts/certs.ts', '--out', dir, '--json', ...args], {
    cwd: REPO_ROOT,
  });
  const out = JSON.parse(r.stdout) as { certs: Described[] };
  const server = out.certs.find((c) => c.what === 'server');
  if (!server) throw new Error(`no server certificate in ${r.stdout}`);
  return server;
}

/** Handshake with the server certificate of `dir`, verifying it against its CA for `servername`. */
async function handshake(dir: string, servername: string): Promise<string | undefined> {
  const [cert, key, ca] = await Promise.all(
    ['server.crt', 'server.key', 'ca.crt'].map((f) => readFile(path.join(dir, f))),
  );
  const server = tls.createServer({ cert, key }, (s) => s.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  try {
    return await new Promise<string | undefined>((resolve) => {
      const c = tls.connect({ host: '127.0.0.1', port, ca, servername }, () => {
        c.destroy();
        resolve(undefined);
      });
      c.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
  } finally {
    server.close();
  }
}

describe('npm run certs -- --server-names', () => {
  it('reissues server.crt with the names (same CA) only when it lacks one, and a client verifies by that name', async () => {
    const dir = path.join(tmp, 'c');
    const plain = await certs(dir);
    expect(plain.san).not.toContain('DNS:day13');
    expect(await handshake(dir, 'day13'), 'a localhost certificate is refused for the name day13').toBe(
      'ERR_TLS_CERT_ALTNAME_INVALID',
    );

    const named = await certs(dir, '--server-names', 'day13,syslog');
    expect(named.serial).not.toBe(plain.serial);
    expect(named.san).toContain('DNS:localhost');
    expect(named.san).toContain('DNS:day13');
    expect(named.san).toContain('DNS:syslog');
    expect(await handshake(dir, 'day13')).toBeUndefined();
    expect(await handshake(dir, 'localhost')).toBeUndefined();

    const again = await certs(dir, '--server-names', 'syslog');
    expect(again.serial, 'a certificate that already holds every name is kept').toBe(named.serial);
  });
});
