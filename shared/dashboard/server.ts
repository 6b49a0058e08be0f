/**
 * The live dashboard: a small HTTP server on loopback that watches one or more lanes' data dirs and
 * serves a page (plain HTML + one ES module, uPlot for the chart, no build step, no CDN), JSON
 * endpoints, a Server-Sent Events stream and Prometheus metrics.
 *
 *   const d = await startDashboard({ lanes: [{ name: 'tls', dataDir: 'data/day13' }], port: 0 });
 *   console.log(d.url); … await d.close();
 *
 * Endpoints (all GET):
 *   /                       the page (#/ overview, #/lane/<name> one lane)
 *   /api/health             per lane: alive, reason, updatedAt, ageMs, pid
 *   /api/stats[?lane=]      per lane: stats.json as read + rates + totals + health
 *   /api/history[?lane=]    the rates the charts show (one point per tick): one lane, or every lane
 *   /favicon.svg, /favicon.ico   the tab icon (no 404 in a browser's console or an access log)
 *   /api/logs?lane=&level=&service=&limit=   latest records, newest first
 *   /api/rejects?lane=&limit=                latest rejects, newest first
 *   /api/events             SSE: event "snapshot" (same body as /api/stats) every refreshMs
 *   /metrics                Prometheus text format
 * A bad query parameter is a 400 `{ error: { code: 'LS_ERR_QUERY', param, message } }`; an unknown
 * lane a 404 with code LS_ERR_UNKNOWN_LANE.
 *
 * Who may read (issue 17.2): every endpoint shows log contents or what they imply. On loopback nothing is
 * asked (anyone there can read the data dirs anyway). Bound anywhere else — or with `requireAuth` — it
 * serves only to a request with the bearer token (`Authorization: Bearer <token>`; a browser: Basic auth,
 * any user, the token as password) or, over HTTPS with `tls.clientCa`, a client certificate that CA
 * signed; everything else is a 401 (counted: logstream_dashboard_unauthorized_total). Without a token
 * or a client CA it refuses to start off loopback (LS_ERR_DASHBOARD_AUTH).
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIPv4, isIPv6 } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { TailEntry } from './lane-files.ts';
import { LaneMonitor, type LaneConfig } from './lane-monitor.ts';
import { METRICS_CONTENT_TYPE, renderMetrics } from './metrics.ts';
import { CodedError } from '../errors.ts';

export type { LaneConfig, LaneSnapshot } from './lane-monitor.ts';

export const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type Level = (typeof LEVELS)[number];

export type DashboardErrorCode =
  'LS_ERR_DASHBOARD_CONFIG' | 'LS_ERR_DASHBOARD_AUTH' | 'LS_ERR_QUERY' | 'LS_ERR_UNKNOWN_LANE';

export class DashboardError extends CodedError {
  readonly code: DashboardErrorCode;
  constructor(code: DashboardErrorCode, message: string, opts?: { cause?: unknown }) {
    super(message, opts?.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'DashboardError';
    this.code = code;
  }
}

export interface DashboardOptions {
  lanes: LaneConfig[];
  /** default 127.0.0.1: the dashboard shows log contents, keep it on loopback */
  host?: string;
  /** default 0 (any free port) */
  port?: number;
  /** how often data dirs are read and SSE snapshots pushed (default 1000 ms) */
  refreshMs?: number;
  /** a lane whose stats.json is older than this is down (default 3000 ms) */
  staleMs?: number;
  /** check that the pid in stats.json runs (default true; turn off when receivers run in other containers) */
  checkPid?: boolean;
  /** bytes read from the end of records / rejects files per request (default 256 KiB) */
  tailBytes?: number;
  /** chart points kept per lane (default 600) */
  historyPoints?: number;
  /** the bearer token a request must carry when authentication is required (at least 16 characters) */
  token?: string;
  /** ask who you are even on loopback (default: only off loopback) */
  requireAuth?: boolean;
  /** serve HTTPS with this certificate; with `clientCa`, a client certificate it signed is accepted in place of the token */
  tls?: { cert: Buffer | string; key: Buffer | string; clientCa?: Buffer | string };
}

/** Loopback addresses (127.0.0.0/8, ::1, localhost): only this host reaches them. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIPv4(host)) return host.startsWith('127.');
  if (isIPv6(host)) return host === '::1' || /^::ffff:127\./i.test(host);
  return false; // a name that resolves elsewhere, or a wildcard (0.0.0.0, ::)
}

/** The shortest token accepted: a guessable one would make the check decoration. */
export const MIN_TOKEN_LENGTH = 16;

export interface Dashboard {
  host: string;
  port: number;
  url: string;
  /** requests must say who they are (off loopback, or requireAuth) */
  requireAuth: boolean;
  /** re-reads every lane now (tests; the timer does it every refreshMs) */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

const LANE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_LIMIT = 1000;
const JSON_TYPE = 'application/json; charset=utf-8';
/** An SSE client that cannot keep up is cut rather than buffered without bound. */
const SSE_MAX_BUFFER = 1 << 20;

const here = dirname(fileURLToPath(import.meta.url));

interface StaticFile {
  type: string;
  body: Buffer;
}

async function loadStatic(): Promise<Map<string, StaticFile>> {
  const require = createRequire(import.meta.url);
  const uplotDist = dirname(require.resolve('uplot'));
  const files: Array<[string, string, string]> = [
    ['/', join(here, 'static', 'index.html'), 'text/html; charset=utf-8'],
    ['/app.js', join(here, 'static', 'app.js'), 'text/javascript; charset=utf-8'],
    ['/style.css', join(here, 'static', 'style.css'), 'text/css; charset=utf-8'],
    ['/favicon.svg', join(here, 'static', 'favicon.svg'), 'image/svg+xml'],
    ['/favicon.ico', join(here, 'static', 'favicon.ico'), 'image/x-icon'],
    ['/vendor/uPlot.esm.js', join(uplotDist, 'uPlot.esm.js'), 'text/javascript; charset=utf-8'],
    ['/vendor/uPlot.min.css', join(uplotDist, 'uPlot.min.css'), 'text/css; charset=utf-8'],
  ];
  const out = new Map<string, StaticFile>();
  for (const [route, path, type] of files) out.set(route, { type, body: await readFile(path) });
  return out;
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // uPlot positions its elements with inline styles; everything else comes from this origin
  'content-security-policy':
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
};

class QueryError extends DashboardError {
  constructor(
    readonly param: string,
    message: string,
    code: DashboardErrorCode = 'LS_ERR_QUERY',
  ) {
    super(code, message);
  }
}

type Query = Record<string, string | string[] | undefined>;

function one(q: Query, name: string): string | undefined {
  const v = q[name];
  if (Array.isArray(v)) throw new QueryError(name, `give ${name} once`);
  return v;
}

function onlyParams(q: Query, allowed: readonly string[]): void {
  for (const k of Object.keys(q))
    if (!allowed.includes(k))
      throw new QueryError(k, `unknown parameter '${k}' (allowed: ${allowed.join(', ') || 'none'})`);
}

function limitParam(q: Query, def: number): number {
  const raw = one(q, 'limit');
  if (raw === undefined) return def;
  if (!/^\d{1,7}$/.test(raw)) throw new QueryError('limit', `limit must be a whole number 1..${MAX_LIMIT}`);
  const n = Number(raw);
  if (n < 1 || n > MAX_LIMIT) throw new QueryError('limit', `limit must be a whole number 1..${MAX_LIMIT}`);
  return n;
}

/** Parses `level=warn` or `level=warn,error`. */
function levelParam(q: Query): Set<string> | undefined {
  const raw = one(q, 'level');
  if (raw === undefined || raw === '') return undefined;
  const wanted = raw.split(',').map((s) => s.trim().toLowerCase());
  for (const l of wanted)
    if (!(LEVELS as readonly string[]).includes(l))
      throw new QueryError('level', `level '${l}' is not one of ${LEVELS.join(', ')}`);
  return new Set(wanted);
}

function serviceParam(q: Query): string | undefined {
  const raw = one(q, 'service');
  if (raw === undefined || raw === '') return undefined;
  if (raw.length > 200) throw new QueryError('service', 'service is longer than 200 characters');
  return raw;
}

export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  // Who may read, decided before anything listens or ticks.
  const listenHost = opts.host ?? '127.0.0.1';
  const requireAuth = opts.requireAuth ?? !isLoopback(listenHost);
  if (opts.token !== undefined && opts.token.length < MIN_TOKEN_LENGTH)
    throw new DashboardError(
      'LS_ERR_DASHBOARD_CONFIG',
      `the token is ${opts.token.length} characters: give at least ${MIN_TOKEN_LENGTH}`,
    );
  if (requireAuth && opts.token === undefined && opts.tls?.clientCa === undefined) {
    throw new DashboardError(
      'LS_ERR_DASHBOARD_AUTH',
      `refusing to serve on ${listenHost}: off loopback the dashboard shows log contents only to a bearer token or a client certificate from the CA, and none was given`,
    );
  }
  const tokenDigest = opts.token === undefined ? undefined : createHash('sha256').update(opts.token).digest();
  let unauthorized = 0;
  const refreshMs = opts.refreshMs ?? 1000;
  const staleMs = opts.staleMs ?? 3000;
  if (!opts.lanes.length) throw new DashboardError('LS_ERR_DASHBOARD_CONFIG', 'give at least one lane');
  if (!Number.isFinite(refreshMs) || refreshMs < 10)
    throw new DashboardError('LS_ERR_DASHBOARD_CONFIG', `refreshMs must be at least 10 (got ${refreshMs})`);
  const seen = new Set<string>();
  for (const l of opts.lanes) {
    if (!LANE_NAME.test(l.name))
      throw new DashboardError('LS_ERR_DASHBOARD_CONFIG', `lane name '${l.name}' must be 1-64 of A-Z a-z 0-9 . _ -`);
    if (seen.has(l.name)) throw new DashboardError('LS_ERR_DASHBOARD_CONFIG', `lane '${l.name}' given twice`);
    seen.add(l.name);
  }
  const monitorOpts = {
    staleMs,
    checkPid: opts.checkPid ?? true,
    historyPoints: opts.historyPoints ?? 600,
    tailBytes: opts.tailBytes ?? 256 << 10,
  };
  const monitors = new Map(opts.lanes.map((l) => [l.name, new LaneMonitor(l, monitorOpts)]));
  const statics = await loadStatic();

  const snapshotBody = (lanes: Iterable<LaneMonitor>, now = Date.now()) => ({
    now: new Date(now).toISOString(),
    refreshMs,
    staleMs,
    lanes: [...lanes].map((m) => m.snapshot(now)),
  });

  // --- the tick: read every lane, then push one snapshot to every SSE client ----------------------
  const sseClients = new Set<ServerResponse>();
  let eventId = 0;
  let lastEvent = '';
  let lastSnapshot = '';
  let lastTick = 0;
  const laneJson = new Map<string, string>();
  const refresh = async () => {
    const now = Date.now();
    await Promise.all([...monitors.values()].map((m) => m.refresh(now)));
    eventId++;
    lastTick = now;
    lastSnapshot = JSON.stringify(snapshotBody(monitors.values(), now));
    laneJson.clear();
    lastEvent = `id: ${eventId}\nevent: snapshot\ndata: ${lastSnapshot}\n\n`;
    for (const res of sseClients) {
      if (res.writableLength > SSE_MAX_BUFFER) {
        sseClients.delete(res);
        res.destroy();
        continue;
      }
      res.write(lastEvent);
    }
  };
  await refresh();
  let ticking = false;
  const timer = setInterval(() => {
    if (ticking) return; // a slow disk: skip a tick rather than pile reads up
    ticking = true;
    void refresh().finally(() => (ticking = false));
  }, refreshMs);
  timer.unref();

  // --- HTTP ----------------------------------------------------------------------------------------
  const app: FastifyInstance = opts.tls
    ? Fastify({
        logger: false,
        forceCloseConnections: true,
        https: {
          cert: opts.tls.cert,
          key: opts.tls.key,
          minVersion: 'TLSv1.2',
          ...(opts.tls.clientCa !== undefined
            ? { ca: opts.tls.clientCa, requestCert: true, rejectUnauthorized: false }
            : {}),
        },
      })
    : Fastify({ logger: false, forceCloseConnections: true });

  // Who may read: a verified client certificate or the token; else 401 (the browser then asks for it).
  const allowed = (req: FastifyRequest): boolean => {
    if (opts.tls?.clientCa !== undefined && (req.raw.socket as TLSSocket).authorized === true) return true;
    if (!tokenDigest) return false;
    const h = req.headers.authorization ?? '';
    let given: string | undefined;
    if (/^bearer /i.test(h)) given = h.slice(7).trim();
    else if (/^basic /i.test(h)) {
      const userPass = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8');
      given = userPass.slice(userPass.indexOf(':') + 1);
    }
    return given !== undefined && timingSafeEqual(createHash('sha256').update(given).digest(), tokenDigest);
  };
  if (requireAuth) {
    app.addHook('onRequest', async (req, reply) => {
      if (allowed(req)) return;
      unauthorized++;
      reply
        .code(401)
        .header('www-authenticate', [
          'Basic realm="logstream dashboard", charset="UTF-8"',
          'Bearer realm="logstream dashboard"',
        ])
        .header('cache-control', 'no-store')
        .send({
          error: {
            code: 'LS_ERR_UNAUTHORIZED',
            message:
              'this dashboard asks who you are: send the token (Authorization: Bearer <token>, or the password of Basic auth)',
          },
        });
      return reply;
    });
  }

  app.addHook('onSend', async (_req, reply, payload) => {
    reply.headers(SECURITY_HEADERS);
    return payload;
  });

  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    if (err instanceof DashboardError) {
      const status = err.code === 'LS_ERR_UNKNOWN_LANE' ? 404 : 400;
      const param = err instanceof QueryError ? err.param : undefined;
      return reply.code(status).send({ error: { code: err.code, ...(param ? { param } : {}), message: err.message } });
    }
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    return reply
      .code(status)
      .send({ error: { code: status === 500 ? 'LS_ERR_INTERNAL' : 'LS_ERR_REQUEST', message: err.message } });
  });
  app.setNotFoundHandler((req, reply) => {
    reply
      .code(404)
      .send({ error: { code: 'LS_ERR_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` } });
  });

  for (const [route, file] of statics) {
    app.get(route, (_req, reply) => {
      reply.header('content-type', file.type).header('cache-control', 'no-cache').send(file.body);
    });
  }

  const laneParam = (q: Query, required: boolean): LaneMonitor | undefined => {
    const name = one(q, 'lane');
    if (name === undefined || name === '') {
      if (required) throw new QueryError('lane', `lane is required (one of ${[...monitors.keys()].join(', ')})`);
      return undefined;
    }
    const m = monitors.get(name);
    if (!m)
      throw new QueryError(
        'lane',
        `no lane '${name}' (lanes: ${[...monitors.keys()].join(', ')})`,
        'LS_ERR_UNKNOWN_LANE',
      );
    return m;
  };
  const q = (req: FastifyRequest) => req.query as Query;

  app.get('/api/health', (req) => {
    onlyParams(q(req), []);
    const now = Date.now();
    return {
      now: new Date(now).toISOString(),
      lanes: [...monitors.values()].map((m) => ({ name: m.name, ...m.health(now) })),
    };
  });

  // The snapshot of the last tick, serialised once per tick (ageMs and `now` are as of that tick).
  app.get('/api/stats', (req, reply) => {
    onlyParams(q(req), ['lane']);
    const m = laneParam(q(req), false);
    if (!m) return reply.type(JSON_TYPE).send(lastSnapshot);
    let one = laneJson.get(m.name);
    if (one === undefined) {
      one = JSON.stringify({
        now: new Date(lastTick).toISOString(),
        refreshMs,
        staleMs,
        lanes: [m.snapshot(lastTick)],
      });
      laneJson.set(m.name, one);
    }
    return reply.type(JSON_TYPE).send(one);
  });

  // One lane (its page's chart), or every lane (the overview's records/s chart): the monitors refresh on
  // the same tick, so their `t` are the same points in time.
  app.get('/api/history', (req) => {
    onlyParams(q(req), ['lane']);
    const m = laneParam(q(req), false);
    if (m) return { lane: m.name, refreshMs, ...m.history() };
    return { refreshMs, lanes: [...monitors.values()].map((x) => ({ lane: x.name, ...x.history() })) };
  });

  // Records and rejects go out as the lines were written (no re-serialising): the response is built
  // as text around them, which is several times faster than JSON.stringify of the parsed objects.
  app.get('/api/logs', async (req, reply) => {
    const query = q(req);
    onlyParams(query, ['lane', 'level', 'service', 'limit']);
    const m = laneParam(query, false);
    const levels = levelParam(query);
    const service = serviceParam(query);
    const limit = limitParam(query, 100);
    const lanes = m ? [m] : [...monitors.values()];
    const out: Array<{ lane: string; entry: TailEntry }> = [];
    for (const lane of lanes) {
      let n = 0;
      for (const e of await lane.latestRecords()) {
        if (levels && !levels.has(e.value.level as string)) continue;
        if (service !== undefined && e.value.service !== service) continue;
        out.push({ lane: lane.name, entry: e });
        if (++n >= limit) break;
      }
    }
    // several lanes: merge by receive time (then record time), newest first
    if (lanes.length > 1) {
      const t = (x: { entry: TailEntry }) => {
        const rx = x.entry.value._rx as { ts?: unknown } | undefined;
        const ts = rx?.ts ?? x.entry.value.ts;
        return typeof ts === 'string' ? ts : '';
      };
      out.sort((a, b) => (t(a) < t(b) ? 1 : t(a) > t(b) ? -1 : 0));
      out.length = Math.min(out.length, limit);
    }
    let body = `{"lane":${JSON.stringify(m?.name ?? null)},"count":${out.length},"records":[`;
    for (let i = 0; i < out.length; i++)
      body += `${i ? ',' : ''}{"lane":${JSON.stringify(out[i]!.lane)},"record":${out[i]!.entry.raw}}`;
    reply.type(JSON_TYPE).send(`${body}]}`);
  });

  app.get('/api/rejects', async (req, reply) => {
    const query = q(req);
    onlyParams(query, ['lane', 'limit']);
    const m = laneParam(query, true)!;
    const limit = limitParam(query, 50);
    const rejects = (await m.latestRejects()).slice(0, limit);
    reply
      .type(JSON_TYPE)
      .send(
        `{"lane":${JSON.stringify(m.name)},"count":${rejects.length},"rejects":[${rejects.map((e) => e.raw).join(',')}]}`,
      );
  });

  app.get('/api/events', (req: FastifyRequest, reply: FastifyReply) => {
    onlyParams(q(req), []);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      ...SECURITY_HEADERS,
    });
    res.write(`retry: ${Math.max(1000, refreshMs)}\n\n`);
    res.write(lastEvent);
    sseClients.add(res);
    const drop = () => sseClients.delete(res);
    req.raw.on('close', drop);
    res.on('error', drop);
  });

  app.get('/metrics', (req, reply) => {
    onlyParams(q(req), []);
    const now = Date.now();
    reply.header('content-type', METRICS_CONTENT_TYPE).send(
      renderMetrics(
        [...monitors.values()].map((m) => m.snapshot(now)),
        { sseClients: sseClients.size, unauthorized },
      ),
    );
  });

  await app.listen({ host: listenHost, port: opts.port ?? 0 });
  const addr = app.server.address() as AddressInfo;
  const host = addr.address;
  const url = `${opts.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${addr.port}/`;

  let closing: Promise<void> | undefined;
  return {
    host,
    port: addr.port,
    url,
    requireAuth,
    refresh,
    close() {
      closing ??= (async () => {
        clearInterval(timer);
        for (const res of sseClients) res.end();
        sseClients.clear();
        await app.close();
      })();
      return closing;
    },
  };
}
