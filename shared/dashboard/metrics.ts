/**
 * `/metrics` in the Prometheus text exposition format (version 0.0.4), as Prometheus' own checker
 * (`promtool check metrics`) accepts it (issue 20.2):
 *   - one `# HELP` and `# TYPE` per family, every family on every scrape, even before it has a value;
 *   - every counter's name ends in `_total`, and no gauge's does;
 *   - one metric per meaning: received, persisted and duplicate records are separate counters (a `kind`
 *     label would put values side by side that cannot be summed: received includes persisted);
 *   - a 0 series from the start for each lane and, for the by-reason counters, each reason the lane's
 *     transport knows (rejects, drops, TLS handshake failures), so `rate()` and alerts have a start.
 * Counters come straight from each lane's stats.json, so a Prometheus server computes its own rates; the
 * `*_per_second` gauges are the dashboard's own view.
 */
import type { RejectReason } from '../protocol/record.ts';
import { SYSLOG_REASONS } from '../protocol/syslog/errors.ts';
import type { LaneSnapshot } from './lane-monitor.ts';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Kind = 'counter' | 'gauge';
type Sample = [Record<string, string>, number];

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

/** HELP text escapes backslash and newline. */
const help = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

class Exposition {
  private out = '';
  family(name: string, kind: Kind, text: string, samples: readonly Sample[]): void {
    // Prometheus' naming rules, enforced where the names are made (promtool checks the same)
    if ((kind === 'counter') !== name.endsWith('_total'))
      throw new Error(`metric ${name}: a counter's name ends in _total, and only a counter's`);
    this.out += `# HELP ${name} ${help(text)}\n# TYPE ${name} ${kind}\n`;
    for (const [l, v] of samples) this.out += `${name}${labels(l)} ${fmt(v)}\n`;
  }
  text(): string {
    return this.out;
  }
}

// ---- the reasons a lane's counters start with -------------------------------------------------------

/** LSP/1 record rejects (shared/protocol/record.ts); the Record type makes the list complete. */
const RECORD_REJECTS: Record<RejectReason, true> = {
  line_too_long: true,
  record_too_large: true,
  invalid_utf8: true,
  invalid_json: true,
  not_object: true,
  missing_ts: true,
  missing_level: true,
  missing_msg: true,
  invalid_ts: true,
  invalid_level: true,
  invalid_msg: true,
  invalid_field: true,
};

/** The syslog lane (lessons/stack/syslog-receiver.ts): the codec's reasons and the connection's own. */
const SYSLOG_REJECTS = [...SYSLOG_REASONS, 'idle_timeout', 'incomplete_at_shutdown'];

/**
 * Why a UDP lane rejects a whole datagram (day 10's `udp.malformed` reasons, lessons/day10/malformed.ts;
 * tests/metrics-reasons.test.ts holds the two lists equal). A malformed datagram is a reject, not a record.
 */
export const UDP_DATAGRAM_REJECTS = [
  'bad_magic',
  'bad_version',
  'bad_type',
  'bad_flags',
  'bad_crc',
  'too_large',
  'bad_count',
  'bad_codec',
  'codec_unavailable',
  'bad_payload',
  'bad_seq',
  'truncated',
  'trailing_bytes',
  'not_batch',
  'too_many_streams',
  'malformed',
] as const;

/** What the scale lesson's archiver rejects (lessons/scale/archiver.ts). */
const ARCHIVER_REJECTS = ['not_lsp_message'];

/**
 * Why a TLS handshake failed, as the TLS lanes count it (day 13's classifier, lessons/day13/tls-failures.ts;
 * tests/metrics-reasons.test.ts holds the two lists equal).
 */
export const TLS_FAILURE_REASONS = [
  'plaintext',
  'protocol_version',
  'no_client_cert',
  'unknown_ca',
  'expired',
  'not_yet_valid',
  'bad_client_cert',
  'client_closed',
  'handshake_timeout',
  'no_shared_cipher',
  'other',
] as const;

/** Why an acknowledged lane refuses a write (lessons/day09/ingest.ts, stats.json → ownership.refused). */
const WRITE_REFUSALS = ['stream_owned', 'hello_required'];

/** Rejects a lane's transport knows; nothing before its stats.json says what it is. */
function knownRejects(l: LaneSnapshot): readonly string[] {
  if (l.stats === null && l.transport === 'unknown') return [];
  if (l.transport === 'syslog') return SYSLOG_REJECTS;
  if (l.transport === 'jetstream') return ARCHIVER_REJECTS;
  // a UDP lane rejects whole datagrams as well as the records inside good ones
  if (l.transport === 'lsp1-udp') return [...Object.keys(RECORD_REJECTS), ...UDP_DATAGRAM_REJECTS];
  return Object.keys(RECORD_REJECTS);
}

const obj = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** Drop reasons a lane's stats.json has a counter for (lane-monitor.ts names them); `other` always. */
function knownDrops(l: LaneSnapshot): string[] {
  const s = obj(l.stats);
  const out: string[] = [];
  if (s.udp !== undefined) out.push('kernel_buffer_full', 'app_queue_full', 'too_old');
  if (obj(obj(s.syslog).udp).dropped !== undefined) out.push('udp_sink_backlog');
  const queue = obj(s.queue);
  if (s.queue !== undefined)
    out.push(typeof queue.overflow === 'string' ? `queue_full_${queue.overflow}` : 'queue_full');
  out.push('other');
  return out;
}

/**
 * TLS handshake failures by reason, for a lane with TLS: day 13's `tls.handshakeFailures` (what
 * `tls.handshakes.failed` counts beyond them is `other`), the syslog lane's `syslog.tls.handshakeFailures`
 * (an older receiver with only `handshakeErrors`: all `other`). Undefined for a lane without TLS.
 */
function tlsFailures(l: LaneSnapshot): Map<string, number> | undefined {
  if (l.totals.tlsHandshakeFailures === null) return undefined;
  const s = obj(l.stats);
  const out = new Map<string, number>(TLS_FAILURE_REASONS.map((r) => [r, 0]));
  const add = (reason: string, n: number) => out.set(reason, (out.get(reason) ?? 0) + n);
  const byReason = (v: unknown) =>
    Object.entries(obj(v)).filter(([, n]) => typeof n === 'number' && Number.isFinite(n)) as Array<[string, number]>;
  if (s.tls !== undefined) {
    const tls = obj(s.tls);
    const reasons = byReason(tls.handshakeFailures);
    for (const [r, n] of reasons) add(r, n);
    add('other', Math.max(0, num(obj(tls.handshakes).failed) - reasons.reduce((a, [, n]) => a + n, 0)));
  }
  const syslogTls = obj(obj(s.syslog).tls);
  if (syslogTls.handshakeErrors !== undefined || syslogTls.handshakeFailures !== undefined) {
    const reasons = byReason(syslogTls.handshakeFailures);
    for (const [r, n] of reasons) add(r, n);
    add('other', Math.max(0, num(syslogTls.handshakeErrors) - reasons.reduce((a, [, n]) => a + n, 0)));
  }
  return out;
}

/** Known reasons at 0, then what stats.json counts (a reason nobody listed still shows). */
function byReason(lane: string, known: readonly string[], counted: Iterable<[string, number]>): Sample[] {
  const m = new Map<string, number>(known.map((r) => [r, 0]));
  for (const [r, n] of counted) m.set(r, (m.get(r) ?? 0) + n);
  return [...m].map(([reason, n]) => [{ lane, reason }, n]);
}

function rejectsOf(l: LaneSnapshot): Array<[string, number]> {
  const counted = Object.entries(obj(l.stats?.rejects)).filter(
    ([, n]) => typeof n === 'number' && Number.isFinite(n),
  ) as Array<[string, number]>;
  // records.rejected beyond what the reasons add up to (a receiver that counts without a reason): `other`
  const rest = l.totals.rejected - counted.reduce((a, [, n]) => a + n, 0);
  return rest > 0 ? [...counted, ['other', rest]] : counted;
}

export function renderMetrics(
  lanes: readonly LaneSnapshot[],
  dashboard: { sseClients: number; unauthorized?: number },
): string {
  const e = new Exposition();
  const perLane = (get: (l: LaneSnapshot) => number, which: readonly LaneSnapshot[] = lanes): Sample[] =>
    which.map((l) => [{ lane: l.name }, get(l)]);
  const withStats = lanes.filter((l) => l.stats !== null);

  e.family(
    'logstream_lane_up',
    'gauge',
    'Whether the lane is up: stats.json recent and its pid alive (1) or not (0).',
    perLane((l) => (l.health.alive ? 1 : 0)),
  );
  e.family(
    'logstream_stats_age_seconds',
    'gauge',
    'Seconds since the lane last rewrote stats.json (lanes that have one).',
    perLane(
      (l) => (l.health.ageMs ?? 0) / 1000,
      lanes.filter((l) => l.health.ageMs !== null),
    ),
  );
  e.family(
    'logstream_records_received_total',
    'counter',
    'Records received (new ones, duplicates excluded), since the receiver started.',
    perLane((l) => l.totals.received),
  );
  e.family(
    'logstream_records_persisted_total',
    'counter',
    "Records written to the lane's data dir (or its durable store).",
    perLane((l) => l.totals.persisted),
  );
  e.family(
    'logstream_records_duplicate_total',
    'counter',
    "Records sent again (seq at or below the stream's mark) and not stored twice.",
    perLane((l) => l.totals.duplicates),
  );
  e.family(
    'logstream_rejects_total',
    'counter',
    'Inputs rejected, by reason (the reason in rejects.ndjson).',
    lanes.flatMap((l) => byReason(l.name, knownRejects(l), rejectsOf(l))),
  );
  e.family(
    'logstream_drops_total',
    'counter',
    'Records or datagrams dropped, by reason (full kernel buffers, full queues, ...).',
    lanes.flatMap((l) => byReason(l.name, knownDrops(l), Object.entries(l.totals.drops))),
  );
  e.family(
    'logstream_gaps_total',
    'counter',
    'Seqs skipped, summed over the streams of the lane (LSP/1 gaps).',
    perLane((l) => l.totals.gaps),
  );
  e.family(
    'logstream_reordered_total',
    'counter',
    'Records that arrived out of order, summed over streams.',
    perLane((l) => l.totals.reordered),
  );
  e.family(
    'logstream_received_bytes_total',
    'counter',
    'Bytes received on the wire (as sent, compressed or not).',
    perLane((l) => l.totals.bytesWire),
  );
  e.family(
    'logstream_decoded_bytes_total',
    'counter',
    'Bytes of records after decoding (decompressed).',
    perLane((l) => l.totals.bytesDecoded),
  );
  e.family(
    'logstream_connections_open',
    'gauge',
    'Connections open now.',
    perLane((l) => l.totals.connectionsOpen),
  );
  e.family(
    'logstream_connections_total',
    'counter',
    'Connections accepted since the receiver started.',
    perLane((l) => l.totals.connectionsTotal),
  );
  e.family(
    'logstream_streams',
    'gauge',
    'Streams the receiver keeps a high-water mark for.',
    perLane((l) => l.totals.streams),
  );
  e.family(
    'logstream_tls_handshake_failures_total',
    'counter',
    "Failed TLS handshakes by reason (lanes with TLS: day 13, the syslog lane's TLS port).",
    withStats.flatMap((l) => {
      const m = tlsFailures(l);
      return m ? [...m].map(([reason, n]): Sample => [{ lane: l.name, reason }, n]) : [];
    }),
  );
  e.family(
    'logstream_writes_refused_total',
    'counter',
    'HELLOs and BATCHes refused, by reason: stream_owned (another identity owns the stream), hello_required (a BATCH before its HELLO). Acknowledged lanes.',
    lanes.flatMap((l) =>
      l.totals.writesRefused ? byReason(l.name, WRITE_REFUSALS, Object.entries(l.totals.writesRefused)) : [],
    ),
  );
  e.family(
    'logstream_compression_ratio',
    'gauge',
    'Decoded bytes per wire byte of compressed batches (lanes that have compressed some).',
    perLane(
      (l) => l.totals.compressionRatio ?? 0,
      withStats.filter((l) => l.totals.compressionRatio !== null),
    ),
  );
  e.family(
    'logstream_records_per_second',
    'gauge',
    'Records received per second, from the two latest stats snapshots.',
    perLane((l) => l.rates.recordsPerSec),
  );
  e.family(
    'logstream_persisted_per_second',
    'gauge',
    'Records persisted per second.',
    perLane((l) => l.rates.persistedPerSec),
  );
  e.family(
    'logstream_bytes_per_second',
    'gauge',
    'Wire bytes received per second.',
    perLane((l) => l.rates.bytesPerSec),
  );
  e.family('logstream_dashboard_sse_clients', 'gauge', 'Browsers connected to /api/events.', [
    [{}, dashboard.sseClients],
  ]);
  e.family(
    'logstream_dashboard_unauthorized_total',
    'counter',
    'Requests refused with 401: no token or client certificate where the dashboard asks who you are.',
    [[{}, dashboard.unauthorized ?? 0]],
  );
  return e.text();
}
