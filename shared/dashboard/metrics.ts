/**
 * `/metrics` in the Prometheus text exposition format (version 0.0.4): one `# HELP` and `# TYPE` per
 * family, then its samples. Counters come straight from each lane's stats.json, so a Prometheus
 * server can compute its own rates; the `*_per_second` gauges are the dashboard's own view.
 */
import type { LaneSnapshot } from './lane-monitor.ts';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Kind = 'counter' | 'gauge';

/** Label values escape backslash, double quote and newline (the exposition format's rule). */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(l: Record<string, string>): string {
  const parts: string[] = [];
  for (const k in l) parts.push(`${k}="${escapeLabel(l[k]!)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function fmt(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

class Exposition {
  private out = '';
  family(name: string, kind: Kind, help: string, samples: Array<[Record<string, string>, number]>): void {
    if (samples.length === 0) return;
    this.out += `# HELP ${name} ${help}\n# TYPE ${name} ${kind}\n`;
    for (const [l, v] of samples) this.out += `${name}${labels(l)} ${fmt(v)}\n`;
  }
  text(): string {
    return this.out;
  }
}

function numbersOf(v: unknown): Array<[string, number]> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return [];
  const out: Array<[string, number]> = [];
  for (const [k, n] of Object.entries(v as Record<string, unknown>)) if (typeof n === 'number' && Number.isFinite(n)) out.push([k, n]);
  return out;
}

export function renderMetrics(lanes: readonly LaneSnapshot[], dashboard: { sseClients: number }): string {
  const e = new Exposition();
  const withStats = lanes.filter((l) => l.stats !== null);
  e.family('logstream_lane_up', 'gauge', 'Whether the lane is up: stats.json recent and its pid alive (1) or not (0).', lanes.map((l) => [{ lane: l.name }, l.health.alive ? 1 : 0]));
  e.family(
    'logstream_stats_age_seconds',
    'gauge',
    'Seconds since the lane last rewrote stats.json.',
    lanes.filter((l) => l.health.ageMs !== null).map((l) => [{ lane: l.name }, (l.health.ageMs ?? 0) / 1000]),
  );
  const kinds = ['received', 'persisted', 'rejected', 'duplicates', 'dropped'] as const;
  e.family(
    'logstream_records_total',
    'counter',
    'Records counted by the receiver, by kind (received, persisted, rejected, duplicates, dropped).',
    withStats.flatMap((l) => kinds.map((kind): [Record<string, string>, number] => [{ lane: l.name, kind }, l.totals[kind]])),
  );
  e.family('logstream_gaps_total', 'counter', 'Seqs skipped, summed over the streams of the lane (LSP1 §4).', withStats.map((l) => [{ lane: l.name }, l.totals.gaps]));
  e.family('logstream_reordered_total', 'counter', 'Records that arrived out of order, summed over streams.', withStats.map((l) => [{ lane: l.name }, l.totals.reordered]));
  e.family(
    'logstream_bytes_total',
    'counter',
    'Bytes received, by kind: wire (as sent) or decoded (after decompression).',
    withStats.flatMap((l): Array<[Record<string, string>, number]> => [
      [{ lane: l.name, kind: 'wire' }, l.totals.bytesWire],
      [{ lane: l.name, kind: 'decoded' }, l.totals.bytesDecoded],
    ]),
  );
  e.family('logstream_connections_open', 'gauge', 'Connections open now.', withStats.map((l) => [{ lane: l.name }, l.totals.connectionsOpen]));
  e.family('logstream_connections_total', 'counter', 'Connections accepted since the receiver started.', withStats.map((l) => [{ lane: l.name }, l.totals.connectionsTotal]));
  e.family('logstream_streams', 'gauge', 'Streams the receiver keeps a high-water mark for.', withStats.map((l) => [{ lane: l.name }, l.totals.streams]));
  e.family(
    'logstream_rejects_total',
    'counter',
    'Rejected inputs by reason.',
    withStats.flatMap((l) => numbersOf(l.stats?.rejects).map(([reason, n]): [Record<string, string>, number] => [{ lane: l.name, reason }, n])),
  );
  e.family(
    'logstream_tls_handshake_failures_total',
    'counter',
    'Failed TLS handshakes by reason (lanes whose stats.json has a tls section).',
    withStats.flatMap((l) => {
      const tls = l.stats?.tls as Record<string, unknown> | undefined;
      return numbersOf(tls?.handshakeFailures).map(([reason, n]): [Record<string, string>, number] => [{ lane: l.name, reason }, n]);
    }),
  );
  e.family(
    'logstream_tls_handshake_failures',
    'counter',
    'Failed TLS handshakes, all reasons (lanes with TLS; the syslog lane counts its TLS port).',
    withStats.filter((l) => l.totals.tlsHandshakeFailures !== null).map((l) => [{ lane: l.name }, l.totals.tlsHandshakeFailures ?? 0]),
  );
  e.family(
    'logstream_drops_total',
    'counter',
    'Records or datagrams dropped, by reason (overflow policies, full kernel buffers, …).',
    withStats.flatMap((l) => Object.entries(l.totals.drops).map(([reason, n]): [Record<string, string>, number] => [{ lane: l.name, reason }, n])),
  );
  e.family(
    'logstream_compression_ratio',
    'gauge',
    'Decoded bytes per wire byte of compressed batches (lanes that compress).',
    withStats.filter((l) => l.totals.compressionRatio !== null).map((l) => [{ lane: l.name }, l.totals.compressionRatio ?? 0]),
  );
  e.family('logstream_records_per_second', 'gauge', 'Records received per second, from the two latest stats snapshots.', lanes.map((l) => [{ lane: l.name }, l.rates.recordsPerSec]));
  e.family('logstream_persisted_per_second', 'gauge', 'Records persisted per second.', lanes.map((l) => [{ lane: l.name }, l.rates.persistedPerSec]));
  e.family('logstream_bytes_per_second', 'gauge', 'Wire bytes received per second.', lanes.map((l) => [{ lane: l.name }, l.rates.bytesPerSec]));
  e.family('logstream_dashboard_sse_clients', 'gauge', 'Browsers connected to /api/events.', [[{}, dashboard.sseClients]]);
  return e.text();
}
