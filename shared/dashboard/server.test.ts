import http from 'node:http';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { History, LaneHealth, LaneSnapshot } from './lane-monitor.ts';
import { startDashboard, type Dashboard } from './server.ts';
import {
  appendRecords,
  appendRejects,
  deadPid,
  recordLine,
  waitFor,
  writeStats,
  type FakeRecord,
} from './test-support.ts';

let root: string;
let dash: Dashboard;
const dirs = { a: '', b: '', dead: '', stale: '', missing: '', tls: '' };

/** A lane as the API shows it: /api/stats and SSE snapshots, /api/health, /api/history (no lane given). */
type ApiLane = Omit<LaneSnapshot, 'stats'> &
  LaneHealth &
  History & {
    lane: string;
    stats: { records: Record<string, number>; streams: Record<string, unknown>; tls?: unknown } | null;
  };
interface ApiRecord {
  lane: string;
  record: { _rx: { seq: number }; level: string; msg: string; service: string };
}
/** Every field a response of the dashboard's API may hold (each test reads the ones of its route). */
interface ApiBody extends History {
  lanes: ApiLane[];
  lane: string | null;
  count: number;
  records: ApiRecord[];
  rejects: Array<{ reason: string; seq?: number; sample?: string }>;
  error: { code: string; param?: string; message: string };
}

async function get(path: string): Promise<{ status: number; headers: Headers; json: ApiBody; text: string }> {
  const res = await fetch(new URL(path, dash.url));
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json: json as ApiBody, text };
}

async function fetchJson(url: URL): Promise<ApiBody> {
  return (await (await fetch(url)).json()) as ApiBody;
}

const levels = ['info', 'warn', 'error', 'debug'];
const services = ['api', 'db', 'web'];
function fixtureRecords(from: number, n: number): FakeRecord[] {
  const out: FakeRecord[] = [];
  for (let i = from; i < from + n; i++)
    out.push({ seq: i, level: levels[i % 4]!, service: services[i % 3]!, msg: `message ${i}` });
  return out;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ls-dash-'));
  for (const k of Object.keys(dirs) as Array<keyof typeof dirs>) dirs[k] = join(root, k);
  // lane a: two records files (an older rotated one and the active one), rejects, two streams
  await appendRecords(dirs.a, 'records-000001.ndjson', fixtureRecords(1, 50), 'a');
  await appendRecords(dirs.a, 'records-000002.ndjson', fixtureRecords(51, 50), 'a');
  const past = new Date(Date.now() - 60_000);
  await utimes(join(dirs.a, 'records-000001.ndjson'), past, past); // rotated a minute ago
  await appendRejects(dirs.a, [
    { reason: 'invalid_json', seq: 3, sample: '{not json' },
    { reason: 'missing_field', seq: 9, sample: '{"msg":"x"}' },
    { reason: 'line_too_long', sample: 'aaaa' },
  ]);
  await writeStats(dirs.a, {
    lane: 'a',
    received: 103,
    persisted: 100,
    rejected: 3,
    duplicates: 4,
    dropped: 2,
    wire: 20_000,
    decoded: 40_000,
    open: 2,
    total: 5,
    rejects: { invalid_json: 1, missing_field: 1, 'we"ird\\reason\nx': 1 },
    streams: {
      '1': { hwm: 100, gaps: 3, duplicates: 4, reordered: 1 },
      '2': { hwm: 7, gaps: 2, duplicates: 0, reordered: 0 },
    },
  });
  // lane b: text lane without streams; its records file ends in a line still being written
  await appendRecords(dirs.b, 'records-000001.ndjson', [{ level: 'info', msg: 'only one', service: 'web' }], 'b');
  await writeFile(
    join(dirs.b, 'records-000001.ndjson'),
    `${recordLine({ level: 'info', msg: 'only one', service: 'web' }, 'b')}{"ts":"2026-01-01T00:00:00Z","lev`,
  );
  await writeStats(dirs.b, { lane: 'b', transport: 'udp', received: 1, persisted: 1 });
  await writeStats(dirs.dead, { lane: 'dead', pid: await deadPid() });
  await writeStats(dirs.stale, { lane: 'stale', updatedAt: new Date(Date.now() - 60_000).toISOString() });
  await writeStats(dirs.tls, {
    lane: 'tls',
    transport: 'tls',
    extra: {
      tls: {
        version: 'TLSv1.3',
        cipher: 'TLS_AES_256_GCM_SHA384',
        clientSubjects: ['CN=shipper-1'],
        handshakeFailures: { unknown_ca: 2, expired: 1 },
      },
    },
  });
  dash = await startDashboard({
    lanes: [
      { name: 'a', dataDir: dirs.a },
      { name: 'b', dataDir: dirs.b },
      { name: 'dead', dataDir: dirs.dead },
      { name: 'stale', dataDir: dirs.stale },
      { name: 'missing', dataDir: dirs.missing, transport: 'tcp' },
      { name: 'tls', dataDir: dirs.tls },
    ],
    refreshMs: 100,
    // long enough that lanes written once in beforeAll stay up however slowly a busy machine runs the file
    staleMs: 30_000,
  });
});

afterAll(async () => {
  await dash?.close();
  await rm(root, { recursive: true, force: true });
});

describe('/api/health', () => {
  it('says which lanes are up, and why the others are down', async () => {
    const { status, json } = await get('/api/health');
    expect(status).toBe(200);
    const by = Object.fromEntries(json.lanes.map((l) => [l.name, l])) as Record<
      'a' | 'dead' | 'stale' | 'missing',
      ApiLane
    >;
    expect(by.a).toMatchObject({ alive: true, pid: process.pid, pidAlive: true });
    expect(by.a.ageMs).toBeGreaterThanOrEqual(0);
    expect(by.a.ageMs).toBeLessThan(30_000);
    expect(by.dead).toMatchObject({ alive: false, reason: 'pid_dead', pidAlive: false });
    expect(by.stale).toMatchObject({ alive: false, reason: 'stale' });
    expect(by.stale.ageMs).toBeGreaterThanOrEqual(60_000);
    expect(by.missing).toMatchObject({ alive: false, reason: 'no_stats', updatedAt: null, pid: null });
  });
});

describe('/api/stats', () => {
  it('returns stats.json as written, with totals summed over streams', async () => {
    const { json } = await get('/api/stats?lane=a');
    expect(json.lanes).toHaveLength(1);
    const a = json.lanes[0]!;
    expect(a.stats!.records).toEqual({ received: 103, persisted: 100, rejected: 3, duplicates: 4, dropped: 2 });
    expect(a.stats!.streams['1']).toEqual({ hwm: 100, gaps: 3, duplicates: 4, reordered: 1 });
    expect(a.totals).toMatchObject({
      received: 103,
      persisted: 100,
      rejected: 3,
      duplicates: 4,
      dropped: 2,
      gaps: 5,
      reordered: 1,
      bytesWire: 20_000,
      connectionsOpen: 2,
      connectionsTotal: 5,
      streams: 2,
    });
    expect(a.transport).toBe('tcp');
    const all = await get('/api/stats');
    expect(all.json.lanes.map((l) => l.name)).toEqual(['a', 'b', 'dead', 'stale', 'missing', 'tls']);
    const missing = all.json.lanes.find((l) => l.name === 'missing');
    expect(missing).toMatchObject({ stats: null, transport: 'tcp', totals: { received: 0 } });
  });

  it('passes the tls section through', async () => {
    const { json } = await get('/api/stats?lane=tls');
    expect(json.lanes[0]!.stats!.tls).toMatchObject({
      version: 'TLSv1.3',
      handshakeFailures: { unknown_ca: 2, expired: 1 },
    });
  });

  it('computes rates from successive snapshots (deltas over updatedAt)', async () => {
    const dir = join(root, 'rates');
    const t0 = Date.now();
    await writeStats(dir, { updatedAt: new Date(t0).toISOString(), received: 1000, persisted: 900, wire: 10_000 });
    const d = await startDashboard({ lanes: [{ name: 'r', dataDir: dir }], refreshMs: 60_000 });
    try {
      await writeStats(dir, {
        updatedAt: new Date(t0 + 2000).toISOString(),
        received: 2000,
        persisted: 1900,
        wire: 30_000,
      });
      await d.refresh();
      const lane = (await fetchJson(new URL('/api/stats', d.url))).lanes[0]!;
      expect(lane.rates).toMatchObject({ recordsPerSec: 500, persistedPerSec: 500, bytesPerSec: 10_000 });
      const hist = await fetchJson(new URL('/api/history?lane=r', d.url));
      expect(hist.recordsPerSec.at(-1)).toBe(500);
      expect(hist.t.length).toBe(hist.recordsPerSec.length);
      // without a lane: every lane, for the overview's chart
      const all = await fetchJson(new URL('/api/history', d.url));
      expect(all.lanes.map((l) => l.lane)).toEqual(['r']);
      expect(all.lanes[0]!.recordsPerSec.at(-1)).toBe(500);
      expect(all.lanes[0]!.t).toEqual(hist.t);
    } finally {
      await d.close();
    }
  });
});

describe('/api/logs', () => {
  it('returns the latest records newest first, across a rotation', async () => {
    const { json } = await get('/api/logs?lane=a&limit=60');
    expect(json.count).toBe(60);
    const seqs = json.records.map((e) => e.record._rx.seq);
    expect(seqs[0]).toBe(100);
    expect(seqs).toEqual(Array.from({ length: 60 }, (_, i) => 100 - i));
    expect(json.records[0]!.lane).toBe('a');
  });

  it('filters by level and service', async () => {
    const err = (await get('/api/logs?lane=a&level=error&limit=1000')).json;
    expect(err.count).toBe(25);
    expect(err.records.every((e) => e.record.level === 'error')).toBe(true);
    const both = (await get('/api/logs?lane=a&level=warn,error&service=db&limit=1000')).json;
    const expected = fixtureRecords(1, 100).filter(
      (r) => (r.level === 'warn' || r.level === 'error') && r.service === 'db',
    );
    expect(both.records.map((e) => e.record._rx.seq)).toEqual(expected.map((r) => r.seq).reverse());
  });

  it('merges lanes when no lane is given, and leaves out a line still being written', async () => {
    const b = (await get('/api/logs?lane=b')).json;
    expect(b.records.map((e) => e.record.msg)).toEqual(['only one']);
    const all = (await get('/api/logs?service=web&limit=1000')).json;
    expect(all.lane).toBeNull();
    expect(new Set(all.records.map((e) => e.lane))).toEqual(new Set(['a', 'b']));
  });

  it('reads only the tail of a big file', async () => {
    const dir = join(root, 'big');
    const many = fixtureRecords(1, 20_000);
    await appendRecords(dir, 'records-000001.ndjson', many);
    await writeStats(dir, { received: many.length });
    const d = await startDashboard({ lanes: [{ name: 'big', dataDir: dir }], refreshMs: 60_000, tailBytes: 8192 });
    try {
      const json = await fetchJson(new URL('/api/logs?lane=big&limit=1000', d.url));
      const lineBytes = recordLine(many[0]!).length;
      expect(json.count).toBeGreaterThan(8192 / lineBytes / 2);
      expect(json.count).toBeLessThanOrEqual(Math.ceil(8192 / (lineBytes - 10)));
      expect(json.records[0]!.record._rx.seq).toBe(20_000);
      // every record is whole: the partial first line of the tail was dropped
      for (const [i, e] of json.records.entries()) expect(e.record._rx.seq).toBe(20_000 - i);
    } finally {
      await d.close();
    }
  });

  it('picks up records appended after the first read', async () => {
    await appendRecords(
      dirs.b,
      'records-000002.ndjson',
      [{ level: 'fatal', msg: 'late arrival', service: 'web' }],
      'b',
    );
    const json = await waitFor('the new record', async () => {
      const j = (await get('/api/logs?lane=b&level=fatal')).json;
      return j.count === 1 ? j : undefined;
    });
    expect(json.records[0]!.record.msg).toBe('late arrival');
  });

  it.each([
    ['/api/logs?lane=a&level=loud', 400, 'LS_ERR_QUERY', 'level'],
    ['/api/logs?lane=a&level=info,nope', 400, 'LS_ERR_QUERY', 'level'],
    ['/api/logs?lane=a&limit=0', 400, 'LS_ERR_QUERY', 'limit'],
    ['/api/logs?lane=a&limit=abc', 400, 'LS_ERR_QUERY', 'limit'],
    ['/api/logs?lane=a&limit=1001', 400, 'LS_ERR_QUERY', 'limit'],
    ['/api/logs?lane=a&color=red', 400, 'LS_ERR_QUERY', 'color'],
    ['/api/logs?lane=a&lane=b', 400, 'LS_ERR_QUERY', 'lane'],
    ['/api/logs?lane=zzz', 404, 'LS_ERR_UNKNOWN_LANE', 'lane'],
    ['/api/rejects', 400, 'LS_ERR_QUERY', 'lane'],
    ['/api/health?x=1', 400, 'LS_ERR_QUERY', 'x'],
  ])('%s → %i %s', async (path, status, code, param) => {
    const res = await get(path);
    expect(res.status).toBe(status);
    expect(res.json.error).toMatchObject({ code, param });
    expect(typeof res.json.error.message).toBe('string');
  });

  it('has a favicon (a browser asks for /favicon.ico whatever the page says)', async () => {
    const ico = await fetch(new URL('/favicon.ico', dash.url));
    expect(ico.status).toBe(200);
    expect(ico.headers.get('content-type')).toBe('image/x-icon');
    const body = Buffer.from(await ico.arrayBuffer());
    expect(body.readUInt16LE(0)).toBe(0); // ICONDIR: reserved 0, type 1 (icon), at least one image
    expect(body.readUInt16LE(2)).toBe(1);
    expect(body.readUInt16LE(4)).toBeGreaterThan(0);
    const svg = await get('/favicon.svg');
    expect(svg.status).toBe(200);
    expect(svg.headers.get('content-type')).toBe('image/svg+xml');
    expect(svg.text).toContain('<svg');
    expect((await get('/')).text).toContain('href="/favicon.svg"');
  });

  it('answers an unknown route with a JSON 404', async () => {
    const res = await get('/api/nope');
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('LS_ERR_NOT_FOUND');
  });
});

describe('/api/rejects', () => {
  it('returns the latest rejects newest first, with reasons', async () => {
    const { json } = await get('/api/rejects?lane=a');
    expect(json.rejects.map((r) => r.reason)).toEqual(['line_too_long', 'missing_field', 'invalid_json']);
    expect(json.rejects[1]).toMatchObject({ seq: 9, sample: '{"msg":"x"}' });
    const one = (await get('/api/rejects?lane=a&limit=1')).json;
    expect(one.count).toBe(1);
    const none = (await get('/api/rejects?lane=b')).json;
    expect(none).toEqual({ lane: 'b', count: 0, rejects: [] });
  });
});

/** A strict reader of the Prometheus text format (0.0.4): every sample belongs to a declared family. */
function parseExposition(
  text: string,
): Map<string, { type: string; samples: Array<{ labels: Record<string, string>; value: number }> }> {
  const families = new Map<
    string,
    { type: string; samples: Array<{ labels: Record<string, string>; value: number }> }
  >();
  const helped = new Set<string>();
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.slice(0, -1).split('\n')) {
    let m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$/.exec(line);
    if (m) {
      helped.add(m[1]!);
      continue;
    }
    m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (m) {
      expect(families.has(m[1]!), `TYPE ${m[1]} twice`).toBe(false);
      families.set(m[1]!, { type: m[2]!, samples: [] });
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$/.exec(line);
    expect(m, `not a valid sample line: ${line}`).not.toBeNull();
    const fam = families.get(m![1]!);
    expect(fam, `sample before its TYPE: ${line}`).toBeDefined();
    expect(helped.has(m![1]!)).toBe(true);
    const labels: Record<string, string> = {};
    const body = m![3] ?? '';
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"(,|$)/y;
    let at = 0;
    while (at < body.length) {
      re.lastIndex = at;
      const lm = re.exec(body);
      expect(lm, `bad labels in ${line}`).not.toBeNull();
      labels[lm![1]!] = lm![2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      at = re.lastIndex;
    }
    fam!.samples.push({ labels, value: Number(m![4]) });
  }
  return families;
}

describe('/metrics', () => {
  it('is valid Prometheus text and matches the stats files', async () => {
    const res = await get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    const fam = parseExposition(res.text);
    const value = (name: string, labels: Record<string, string>) =>
      fam.get(name)?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    // one counter per meaning (issue 20.2; shared/dashboard/metrics.promtool.test.ts has promtool's verdict)
    expect(fam.get('logstream_records_received_total')?.type).toBe('counter');
    expect(value('logstream_records_received_total', { lane: 'a' })).toBe(103);
    expect(value('logstream_records_persisted_total', { lane: 'a' })).toBe(100);
    expect(value('logstream_records_duplicate_total', { lane: 'a' })).toBe(4);
    expect(fam.has('logstream_records_total'), 'no kind label mixing received and persisted').toBe(false);
    expect(value('logstream_gaps_total', { lane: 'a' })).toBe(5);
    expect(value('logstream_connections_open', { lane: 'a' })).toBe(2);
    expect(value('logstream_lane_up', { lane: 'a' })).toBe(1);
    expect(value('logstream_lane_up', { lane: 'dead' })).toBe(0);
    expect(value('logstream_lane_up', { lane: 'missing' })).toBe(0);
    expect(value('logstream_records_received_total', { lane: 'missing' })).toBe(0);
    expect(value('logstream_records_per_second', { lane: 'a' })).toBe(0);
    expect(value('logstream_rejects_total', { lane: 'a', reason: 'we"ird\\reason\nx' })).toBe(1);
    expect(value('logstream_rejects_total', { lane: 'a', reason: 'line_too_long' })).toBe(0);
    expect(value('logstream_tls_handshake_failures_total', { lane: 'tls', reason: 'unknown_ca' })).toBe(2);
    expect(value('logstream_tls_handshake_failures_total', { lane: 'tls', reason: 'plaintext' })).toBe(0);
    // lanes without TLS have no TLS series; the old per-lane sum without _total is gone
    expect(value('logstream_tls_handshake_failures_total', { lane: 'a' })).toBeUndefined();
    expect(fam.has('logstream_tls_handshake_failures')).toBe(false);
    expect(value('logstream_drops_total', { lane: 'a', reason: 'other' })).toBe(2);
    expect(fam.get('logstream_compression_ratio')?.type ?? 'gauge').toBe('gauge');
  });
});

describe('/api/events (SSE)', () => {
  it('sends a snapshot at once, then new ones as stats.json changes', async () => {
    const events: Array<{ event: string; data: ApiBody }> = [];
    let buf = '';
    const req = http.get(new URL('/api/events', dash.url));
    const res = await new Promise<http.IncomingMessage>((r) => req.once('response', r));
    expect(res.headers['content-type']).toContain('text/event-stream');
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buf += chunk;
      let end: number;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const ev = /^event: (.+)$/m.exec(block)?.[1];
        const data = /^data: (.+)$/m.exec(block)?.[1];
        if (ev && data) events.push({ event: ev, data: JSON.parse(data) as ApiBody });
      }
    });
    try {
      await waitFor('the first snapshot', () => events.length > 0);
      expect(events[0]!.event).toBe('snapshot');
      expect(events[0]!.data.lanes.find((l) => l.name === 'a')!.totals.received).toBe(103);
      await writeStats(dirs.b, { lane: 'b', transport: 'udp', received: 4242, persisted: 4240 });
      const seen = await waitFor('a snapshot with the new count', () =>
        events.find((e) => e.data.lanes.find((l) => l.name === 'b')?.totals.received === 4242),
      );
      expect(seen.data.lanes.find((l) => l.name === 'b')!.stats!.records.persisted).toBe(4240);
    } finally {
      req.destroy();
    }
  });

  it('ends open streams on close()', async () => {
    const dir = join(root, 'sse-close');
    await writeStats(dir);
    const d = await startDashboard({ lanes: [{ name: 'x', dataDir: dir }], refreshMs: 50 });
    const req = http.get(new URL('/api/events', d.url));
    const res = await new Promise<http.IncomingMessage>((r) => req.once('response', r));
    res.resume();
    const ended = new Promise<void>((r) => res.once('close', () => r()));
    await d.close();
    await ended;
  });
});

describe('the page and its assets', () => {
  it('serves the page, the app, and uPlot from node_modules, with a strict CSP', async () => {
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.text).toContain('<script type="module" src="/app.js">');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const app = await get('/app.js');
    expect(app.headers.get('content-type')).toContain('javascript');
    expect(app.text).toContain("from '/vendor/uPlot.esm.js'");
    const uplot = await get('/vendor/uPlot.esm.js');
    expect(uplot.status).toBe(200);
    expect(uplot.text).toContain('export { uPlot as default }');
    expect((await get('/vendor/uPlot.min.css')).status).toBe(200);
    // no external network: nothing on the page points off this origin
    expect(page.text).not.toMatch(/(src|href)="(https?:)?\/\//);
  });
});

describe('startDashboard configuration', () => {
  it.each([
    [[], 'no lanes'],
    [
      [
        { name: 'a', dataDir: '/x' },
        { name: 'a', dataDir: '/y' },
      ],
      'a duplicate name',
    ],
    [[{ name: '../a', dataDir: '/x' }], 'a name that is not URL-safe'],
  ])('refuses %j (%s)', async (lanes) => {
    await expect(startDashboard({ lanes })).rejects.toMatchObject({ code: 'LS_ERR_DASHBOARD_CONFIG' });
  });
});
