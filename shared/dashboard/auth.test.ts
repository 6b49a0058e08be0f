// A dashboard that asks who you are (issue 17.2): off loopback it serves only to the bearer token or a
// client certificate from the CA, and without either it refuses to start; on loopback nothing changes.
// Traffic stays on loopback: the "off loopback" decision is made testable with requireAuth.
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCerts, type CertSet } from '../tls/certs.ts';
import { DashboardError, isLoopback, startDashboard, type Dashboard } from './server.ts';
import { writeStats } from './test-support.ts';

const TOKEN = 'a-token-of-the-right-length-0123456789';
let root: string;
let lanes: Array<{ name: string; dataDir: string }>;
const open: Dashboard[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ls-dash-auth-'));
  await writeStats(join(root, 'a'), { lane: 'a', received: 5 });
  lanes = [{ name: 'a', dataDir: join(root, 'a') }];
});
afterAll(async () => {
  for (const d of open) await d.close();
  await rm(root, { recursive: true, force: true });
});

async function start(opts: Partial<Parameters<typeof startDashboard>[0]>): Promise<Dashboard> {
  const d = await startDashboard({ lanes, refreshMs: 60_000, ...opts });
  open.push(d);
  return d;
}

const get = (d: Dashboard, path: string, headers: Record<string, string> = {}) =>
  fetch(new URL(path, d.url), { headers, signal: AbortSignal.timeout(3000) });

describe('who may read the dashboard', () => {
  it('tells loopback from the rest', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1'])
      expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '192.168.1.5', '10.0.0.1', 'fe80::1', 'dashboard.example'])
      expect(isLoopback(h), h).toBe(false);
  });

  it('refuses to start off loopback without a token or a client CA (before it listens)', async () => {
    for (const host of ['0.0.0.0', '::', '192.0.2.1']) {
      const err = await startDashboard({ lanes, host, port: 0 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, host).toBeInstanceOf(DashboardError);
      expect((err as DashboardError).code).toBe('LS_ERR_DASHBOARD_AUTH');
      expect((err as DashboardError).message).toContain(`refusing to serve on ${host}`);
    }
    const short = await startDashboard({ lanes, host: '0.0.0.0', token: 'short' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((short as DashboardError).code).toBe('LS_ERR_DASHBOARD_CONFIG');
  });

  it('on loopback nothing changes: no token asked', async () => {
    const d = await start({});
    expect(d.requireAuth).toBe(false);
    expect((await get(d, '/api/health')).status).toBe(200);
  });

  it('where it asks: 401 without the token (or with a wrong one) on every endpoint, 200 with it (Bearer, or Basic for a browser)', async () => {
    const d = await start({ token: TOKEN, requireAuth: true });
    expect(d.requireAuth).toBe(true);
    for (const path of ['/', '/app.js', '/api/health', '/api/stats', '/api/logs', '/api/events', '/metrics', '/nope']) {
      const r = await get(d, path);
      expect(r.status, path).toBe(401);
      expect(r.headers.get('www-authenticate'), path).toContain('Basic realm="logstream dashboard"');
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('LS_ERR_UNAUTHORIZED');
    }
    expect((await get(d, '/api/stats', { authorization: `Bearer ${TOKEN}x` })).status).toBe(401);
    expect((await get(d, '/api/stats', { authorization: 'Bearer ' })).status).toBe(401);
    expect(
      (await get(d, '/api/stats', { authorization: `Basic ${Buffer.from('me:wrong').toString('base64')}` })).status,
    ).toBe(401);
    const ok = await get(d, '/api/stats', { authorization: `Bearer ${TOKEN}` });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { lanes: Array<{ totals: { received: number } }> }).lanes[0]!.totals.received).toBe(5);
    expect(
      (await get(d, '/', { authorization: `Basic ${Buffer.from(`anyone:${TOKEN}`).toString('base64')}` })).status,
    ).toBe(200);
    const metrics = await (await get(d, '/metrics', { authorization: `Bearer ${TOKEN}` })).text();
    expect(Number(/^logstream_dashboard_unauthorized_total (\d+)$/m.exec(metrics)?.[1])).toBe(11); // every refusal counted
  });

  describe('a client certificate from the lab CA (HTTPS)', () => {
    let certs: CertSet;
    beforeAll(async () => {
      certs = await ensureCerts(join(root, 'certs'));
    });

    const request = (
      d: Dashboard,
      path: string,
      client?: { cert: string; key: string },
      headers: Record<string, string> = {},
    ) =>
      new Promise<number>((resolve, reject) => {
        const req = https.get(
          new URL(path, d.url),
          {
            ca: readFileSync(certs.ca.cert),
            ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
            headers,
            timeout: 3000,
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
      });

    it('serves a client certificate the CA signed, or the token; refuses the rest', async () => {
      const d = await start({
        requireAuth: true,
        token: TOKEN,
        tls: {
          cert: readFileSync(certs.server.cert),
          key: readFileSync(certs.server.key),
          clientCa: readFileSync(certs.ca.cert),
        },
      });
      expect(d.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
      expect(await request(d, '/api/health', certs.clients['shipper-1'])).toBe(200);
      expect(await request(d, '/api/health')).toBe(401);
      expect(await request(d, '/api/health', certs.otherClient)).toBe(401); // the right name, another CA
      expect(await request(d, '/api/health', undefined, { authorization: `Bearer ${TOKEN}` })).toBe(200);
    });

    it('a client CA alone is enough to start off loopback', async () => {
      const tls = {
        cert: readFileSync(certs.server.cert),
        key: readFileSync(certs.server.key),
        clientCa: readFileSync(certs.ca.cert),
      };
      // (the decision only: host 0.0.0.0 would pass it, requireAuth on loopback shows the same rule serving)
      const d = await start({ requireAuth: true, tls });
      expect(await request(d, '/api/health', certs.clients['shipper-1'])).toBe(200);
      expect(await request(d, '/api/health')).toBe(401);
    });
  });
});
