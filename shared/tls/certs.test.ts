import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, unlink } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CertError,
  ensureCerts,
  issueClientCert,
  issueServerCert,
  readCertFiles,
  signatureAlgorithmOf,
  type CertFiles,
  type CertSet,
} from './certs.ts';

let root: string;
let set: CertSet;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ls-certs-'));
  set = await ensureCerts(join(root, 'certs'), { clients: ['shipper-1', 'shipper-2'] });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function allPairs(s: CertSet): Array<[string, CertFiles]> {
  return [
    ['ca', s.ca],
    ['server', s.server],
    ['otherCa', s.otherCa],
    ['otherClient', s.otherClient],
    ['expiredServer', s.expiredServer],
    ['wrongHostServer', s.wrongHostServer],
    ...Object.entries(s.clients).map(([k, v]): [string, CertFiles] => [`client ${k}`, v]),
  ];
}

async function x509(path: string): Promise<X509Certificate> {
  return new X509Certificate(await readFile(path));
}

interface Outcome {
  ok: boolean;
  code?: string;
  /** what the server saw: the verified client subject CN, or why it refused */
  serverSaw?: string;
}

/**
 * A real TLS handshake on loopback: the server presents `serverPair`, demands a client certificate
 * signed by the dev CA; the client trusts only the dev CA and presents `clientPair`.
 */
async function handshake(
  serverPair: CertFiles,
  clientPair: CertFiles | undefined,
  opts: { host?: string; servername?: string } = {},
): Promise<Outcome> {
  const ca = await readFile(set.ca.cert);
  let serverSaw: string | undefined;
  const server = tls.createServer(
    { ...(await readCertFiles(serverPair)), ca, requestCert: true, rejectUnauthorized: true },
    (sock) => {
      const peer = sock.getPeerCertificate();
      const cn = peer.subject?.CN;
      serverSaw = Array.isArray(cn) ? cn.join(',') : cn;
      sock.end('hello\n');
    },
  );
  server.on('tlsClientError', (err: NodeJS.ErrnoException) => {
    serverSaw = `refused:${err.code ?? err.message}`;
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((res) => server.listen(0, host, res));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise<Outcome>((resolve) => {
      const sock = tls.connect({
        host,
        port,
        ca,
        ...(opts.servername ? { servername: opts.servername } : {}),
        ...(clientPair ? { cert: readFileSyncUtf(clientPair.cert), key: readFileSyncUtf(clientPair.key) } : {}),
      });
      let data = '';
      sock.on('data', (d: Buffer) => (data += d.toString()));
      sock.on('end', () =>
        resolve({ ok: data === 'hello\n', code: data === 'hello\n' ? undefined : 'NO_DATA', serverSaw }),
      );
      sock.on('error', (err: NodeJS.ErrnoException) =>
        resolve({ ok: false, code: err.code ?? err.message, serverSaw }),
      );
    });
  } finally {
    await new Promise<void>((res) => server.close(() => res()));
  }
}

function readFileSyncUtf(p: string): string {
  return readFileSync(p, 'utf8');
}

describe('ensureCerts: the development set', () => {
  it('writes every file, keys with mode 0600', async () => {
    for (const [what, f] of allPairs(set)) {
      const keyMode = (await stat(f.key)).mode & 0o777;
      expect(keyMode, `${what} key mode`).toBe(0o600);
      expect((await stat(f.cert)).isFile(), `${what} cert`).toBe(true);
      expect(await readFile(f.cert, 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/);
      expect(await readFile(f.key, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    }
  });

  it('signs everything with SHA-256', async () => {
    for (const [what, f] of allPairs(set)) {
      expect(signatureAlgorithmOf(await readFile(f.cert, 'utf8')), what).toBe('ecdsa-with-SHA256');
    }
  });

  it('chains every good certificate to the dev CA, and the "other" client to the other CA only', async () => {
    const ca = await x509(set.ca.cert);
    const other = await x509(set.otherCa.cert);
    expect(ca.ca).toBe(true);
    for (const f of [set.server, set.expiredServer, set.wrongHostServer, ...Object.values(set.clients)]) {
      const c = await x509(f.cert);
      expect(c.checkIssued(ca)).toBe(true);
      expect(c.verify(ca.publicKey)).toBe(true);
      expect(c.ca).toBe(false);
    }
    const oc = await x509(set.otherClient.cert);
    expect(oc.checkIssued(other)).toBe(true);
    expect(oc.verify(ca.publicKey)).toBe(false);
    expect(oc.subject).toContain('CN=shipper-1');
  });

  it('puts localhost, 127.0.0.1 and ::1 in the server SAN', async () => {
    const san = (await x509(set.server.cert)).subjectAltName ?? '';
    expect(san).toContain('DNS:localhost');
    expect(san).toContain('IP Address:127.0.0.1');
    expect(san).toMatch(/IP Address:(::1|0:0:0:0:0:0:0:1)(,|$)/);
  });

  it('makes the expired server certificate really expired, and the good ones valid now', async () => {
    const now = Date.now();
    const expired = await x509(set.expiredServer.cert);
    expect(new Date(expired.validTo).getTime()).toBeLessThan(now);
    const good = await x509(set.server.cert);
    expect(new Date(good.validFrom).getTime()).toBeLessThan(now);
    expect(new Date(good.validTo).getTime()).toBeGreaterThan(now + 300 * 86_400_000);
  });

  it('is idempotent: a second call changes nothing', async () => {
    const before = await Promise.all(allPairs(set).map(async ([, f]) => (await x509(f.cert)).serialNumber));
    const mtime = (await stat(set.server.cert)).mtimeMs;
    await ensureCerts(set.dir, { clients: ['shipper-1', 'shipper-2'] });
    const after = await Promise.all(allPairs(set).map(async ([, f]) => (await x509(f.cert)).serialNumber));
    expect(after).toEqual(before);
    expect((await stat(set.server.cert)).mtimeMs).toBe(mtime);
  });

  it('re-issues a missing piece with the existing CA', async () => {
    const dir = join(root, 'repair');
    const s = await ensureCerts(dir);
    const caSerial = (await x509(s.ca.cert)).serialNumber;
    const oldServer = (await x509(s.server.cert)).serialNumber;
    await unlink(s.server.key);
    await ensureCerts(dir);
    expect((await x509(s.ca.cert)).serialNumber).toBe(caSerial);
    expect((await x509(s.server.cert)).serialNumber).not.toBe(oldServer);
    expect((await x509(s.server.cert)).verify((await x509(s.ca.cert)).publicKey)).toBe(true);
  });

  it('lets parallel callers share one consistent set', async () => {
    const dir = join(root, 'parallel');
    const sets = await Promise.all([ensureCerts(dir), ensureCerts(dir), ensureCerts(dir)]);
    const ca = await x509(sets[0].ca.cert);
    expect((await x509(sets[2].server.cert)).verify(ca.publicKey)).toBe(true);
    expect((await x509(sets[1].clients['shipper-1']!.cert)).verify(ca.publicKey)).toBe(true);
  });
});

describe('TLS handshakes with the set (real sockets on loopback)', () => {
  it('verifies the server against the CA by name (localhost) and by IP (127.0.0.1), with mTLS', async () => {
    const byName = await handshake(set.server, set.clients['shipper-1'], { servername: 'localhost' });
    expect(byName).toEqual({ ok: true, code: undefined, serverSaw: 'shipper-1' });
    const byIp = await handshake(set.server, set.clients['shipper-2']);
    expect(byIp).toEqual({ ok: true, code: undefined, serverSaw: 'shipper-2' });
  });

  it('verifies the server by IP ::1 when IPv6 loopback exists', async (ctx) => {
    const probe = tls.createServer({});
    const v6 = await new Promise<boolean>((res) => {
      probe.once('error', () => res(false));
      probe.listen(0, '::1', () => probe.close(() => res(true)));
    });
    if (!v6) ctx.skip(); // the container has no ::1
    expect((await handshake(set.server, set.clients['shipper-1'], { host: '::1' })).ok).toBe(true);
  });

  it('refuses the expired server certificate', async () => {
    const r = await handshake(set.expiredServer, set.clients['shipper-1'], { servername: 'localhost' });
    expect(r.ok).toBe(false);
    expect(r.code).toBe('CERT_HAS_EXPIRED');
  });

  it('refuses a server certificate for another host name', async () => {
    const r = await handshake(set.wrongHostServer, set.clients['shipper-1'], { servername: 'localhost' });
    expect(r.ok).toBe(false);
    expect(r.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('refuses a client signed by the other CA, and a client with no certificate', async () => {
    const other = await handshake(set.server, set.otherClient, { servername: 'localhost' });
    expect(other.ok).toBe(false);
    expect(other.serverSaw).not.toBe('shipper-1');
    const none = await handshake(set.server, undefined, { servername: 'localhost' });
    expect(none.ok).toBe(false);
  });
});

describe('issueServerCert / issueClientCert', () => {
  it('rotates the server certificate with a new serial, still trusted', async () => {
    const dir = join(root, 'rotate');
    const s = await ensureCerts(dir);
    const before = await x509(s.server.cert);
    const issued = await issueServerCert(dir, dir);
    expect(issued.cert).toBe(s.server.cert);
    expect(issued.serial).not.toBe(before.serialNumber);
    expect((await x509(s.server.cert)).serialNumber).toBe(issued.serial);
    expect((await stat(issued.key)).mode & 0o777).toBe(0o600);
    const r = await handshake({ cert: issued.cert, key: issued.key }, s.clients['shipper-1'], {
      servername: 'localhost',
    });
    // the CA in `set` is a different one: this server must be refused by a client trusting `set.ca`
    expect(r.ok).toBe(false);
  });

  it('honours notAfter and writes to another directory', async () => {
    const out = join(root, 'issued');
    const notAfter = new Date(Date.now() + 2 * 86_400_000);
    const c = await issueClientCert(set.dir, out, { cn: 'edge-7', notAfter });
    expect(c.cert).toBe(join(out, 'client-edge-7.crt'));
    expect(Math.abs(c.notAfter.getTime() - notAfter.getTime())).toBeLessThan(1000);
    expect(c.subject).toContain('CN=edge-7');
    const r = await handshake(set.server, { cert: c.cert, key: c.key }, { servername: 'localhost' });
    expect(r).toMatchObject({ ok: true, serverSaw: 'edge-7' });
  });

  it('fails with stable codes', async () => {
    await expect(issueServerCert(join(root, 'nowhere'), root)).rejects.toMatchObject({
      code: 'LS_ERR_CERT_CA_MISSING',
    });
    await expect(issueClientCert(set.dir, root, { cn: '../evil' })).rejects.toBeInstanceOf(CertError);
    await expect(issueClientCert(set.dir, root, { cn: '../evil' })).rejects.toMatchObject({ code: 'LS_ERR_CERT_NAME' });
  });
});
