/**
 * One lane as the dashboard sees it: its latest stats.json, whether it is alive, its rates, a short
 * history for the chart, and a cache of its latest records. `refresh()` runs once per dashboard tick;
 * every HTTP request is answered from what the last tick found, so the endpoints cost no file I/O
 * except the records/rejects tails (cached by file size and mtime).
 *
 * Health: a lane is up when its stats.json was updated less than `staleMs` ago (receivers rewrite it
 * at least once a second, COURSE.md (what a receiver writes)) and the pid it names is still running. Rates are differences of
 * successive snapshots divided by the time between their `updatedAt`s, so they do not depend on how
 * the dashboard's tick lines up with the receiver's writes.
 */
import {
  listRecordFiles,
  parseNewestFirst,
  pidAlive,
  readStats,
  REJECTS_FILE,
  tailLines,
  type StatsRead,
  type TailEntry,
} from './lane-files.ts';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface LaneConfig {
  /** shown in the UI and used in URLs: 1-64 of A-Z a-z 0-9 . _ - */
  name: string;
  dataDir: string;
  /** shown until stats.json says otherwise */
  transport?: string;
}

export type DownReason = 'no_stats' | 'unreadable' | 'pid_dead' | 'stale';

export interface LaneHealth {
  alive: boolean;
  /** why the lane is down; absent when alive */
  reason?: DownReason;
  updatedAt: string | null;
  ageMs: number | null;
  pid: number | null;
  /** null when not checked (no pid, or pid checks off) */
  pidAlive: boolean | null;
}

export interface LaneRates {
  /** records received per second */
  recordsPerSec: number;
  persistedPerSec: number;
  rejectedPerSec: number;
  /** bytes on the wire per second */
  bytesPerSec: number;
  decodedBytesPerSec: number;
}

export interface LaneTotals {
  received: number;
  persisted: number;
  rejected: number;
  duplicates: number;
  dropped: number;
  /** summed over streams */
  gaps: number;
  reordered: number;
  bytesWire: number;
  bytesDecoded: number;
  connectionsOpen: number;
  connectionsTotal: number;
  streams: number;
  /** decoded ÷ wire bytes of compressed batches (a `compression` section), or null when the lane compresses nothing */
  compressionRatio: number | null;
  /** failed TLS handshakes (a `tls` section, or the syslog lane's TLS port), or null for a lane without TLS */
  tlsHandshakeFailures: number | null;
  /** records or datagrams dropped, by reason (overflow policies, kernel drops, …) */
  drops: Record<string, number>;
  /** writes refused, by reason (an `ownership` section: the acknowledged lanes' stream owners, issue 17), or null for a lane without one */
  writesRefused: Record<string, number> | null;
}

export interface LaneSnapshot {
  name: string;
  transport: string;
  dataDir: string;
  health: LaneHealth;
  rates: LaneRates;
  totals: LaneTotals;
  /** stats.json as read, or null when there is none */
  stats: Record<string, unknown> | null;
  /** why stats.json could not be read */
  statsError?: string;
}

export interface History {
  /** unix seconds */
  t: number[];
  recordsPerSec: number[];
  bytesPerSec: number[];
}

export interface MonitorOptions {
  staleMs: number;
  checkPid: boolean;
  historyPoints: number;
  /** how much of the newest records files a /api/logs request reads */
  tailBytes: number;
}

const ZERO_RATES: LaneRates = Object.freeze({
  recordsPerSec: 0,
  persistedPerSec: 0,
  rejectedPerSec: 0,
  bytesPerSec: 0,
  decodedBytesPerSec: 0,
});

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function obj(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** The counters the overview shows, from a stats.json object (missing fields count as 0). */
export function totalsOf(stats: Record<string, unknown> | null): LaneTotals {
  const s = stats ?? {};
  const records = obj(s.records);
  const bytes = obj(s.bytes);
  const conns = obj(s.connections);
  const streams = obj(s.streams);
  let gaps = 0;
  let reordered = 0;
  let n = 0;
  for (const k in streams) {
    const st = obj(streams[k]);
    gaps += num(st.gaps);
    reordered += num(st.reordered);
    n++;
  }
  return {
    ...extrasOf(s, num(records.dropped)),
    received: num(records.received),
    persisted: num(records.persisted),
    rejected: num(records.rejected),
    duplicates: num(records.duplicates),
    dropped: num(records.dropped),
    gaps,
    reordered,
    bytesWire: num(bytes.wire),
    bytesDecoded: num(bytes.decoded),
    connectionsOpen: num(conns.open),
    connectionsTotal: num(conns.total),
    streams: n,
  };
}

/**
 * The lane-specific sections of stats.json, read by name where they exist: `compression` (day 12:
 * {codec: {wireBytes, rawBytes}}), `tls` (day 13: handshakeFailures by reason, handshakes.failed),
 * `syslog.tls.handshakeErrors`, and the drop counters of the UDP lanes and of bounded queues.
 */
function extrasOf(
  s: Record<string, unknown>,
  dropped: number,
): Pick<LaneTotals, 'compressionRatio' | 'tlsHandshakeFailures' | 'drops' | 'writesRefused'> {
  let wire = 0;
  let raw = 0;
  for (const c of Object.values(obj(s.compression))) {
    const codec = obj(c);
    wire += num(codec.wireBytes);
    raw += num(codec.rawBytes);
  }
  const compressionRatio = wire > 0 ? Math.round((raw / wire) * 100) / 100 : null;

  let tlsHandshakeFailures: number | null = null;
  if (s.tls !== undefined) {
    const tls = obj(s.tls);
    const byReason = Object.values(obj(tls.handshakeFailures)).reduce<number>((n, v) => n + num(v), 0);
    tlsHandshakeFailures = Math.max(byReason, num(obj(tls.handshakes).failed));
  }
  const syslogTls = obj(obj(s.syslog).tls);
  if (syslogTls.handshakeErrors !== undefined)
    tlsHandshakeFailures = (tlsHandshakeFailures ?? 0) + num(syslogTls.handshakeErrors);

  const drops: Record<string, number> = {};
  const add = (reason: string, n: number) => {
    if (n > 0) drops[reason] = (drops[reason] ?? 0) + n;
  };
  const udp = obj(s.udp);
  add('kernel_buffer_full', num(udp.kernelDrops));
  add('app_queue_full', num(udp.appDrops));
  add('too_old', num(udp.tooOld));
  add('udp_sink_backlog', num(obj(obj(s.syslog).udp).dropped));
  const queue = obj(s.queue);
  // day 14's bounded queue names its overflow policy (drop-newest, …)
  add(typeof queue.overflow === 'string' ? `queue_full_${queue.overflow}` : 'queue_full', num(queue.dropped));
  const known = Object.values(drops).reduce((a, b) => a + b, 0) - num(udp.kernelDrops);
  add('other', dropped - Math.max(0, known));

  // HELLOs and BATCHes refused by reason: another identity owns the stream, or a BATCH before its HELLO
  let writesRefused: Record<string, number> | null = null;
  if (s.ownership !== undefined) {
    writesRefused = {};
    for (const [reason, n] of Object.entries(obj(obj(s.ownership).refused))) writesRefused[reason] = num(n);
  }
  return { compressionRatio, tlsHandshakeFailures, drops, writesRefused };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

interface Point {
  updatedAtMs: number;
  totals: LaneTotals;
}

interface TailCache {
  key: string;
  items: TailEntry[];
}

export class LaneMonitor {
  private read: StatsRead = { ok: false, reason: 'no_stats', detail: 'not read yet' };
  private prev: Point | undefined;
  private rates: LaneRates = ZERO_RATES;
  private totals: LaneTotals = totalsOf(null);
  private pidOk: boolean | null = null;
  private readonly hist: History = { t: [], recordsPerSec: [], bytesPerSec: [] };
  private recordsCache: TailCache | undefined;
  private rejectsCache: TailCache | undefined;

  constructor(
    readonly config: LaneConfig,
    private readonly opts: MonitorOptions,
  ) {}

  get name(): string {
    return this.config.name;
  }

  /** Reads stats.json, checks the pid, updates rates and history. One call per tick. */
  async refresh(now = Date.now()): Promise<void> {
    const read = await readStats(this.config.dataDir);
    this.read = read;
    if (!read.ok) {
      this.rates = ZERO_RATES;
      this.totals = totalsOf(null);
      this.pidOk = null;
      this.prev = undefined;
    } else {
      const totals = totalsOf(read.stats);
      const updatedAtMs = this.updatedAtMs(read);
      const prev = this.prev;
      if (prev && updatedAtMs > prev.updatedAtMs) {
        const dt = (updatedAtMs - prev.updatedAtMs) / 1000;
        const rate = (a: number, b: number) => round(Math.max(0, a - b) / dt);
        // counters going backwards mean the receiver restarted: that interval has no meaningful rate
        const restarted = totals.received < prev.totals.received;
        this.rates = restarted
          ? ZERO_RATES
          : {
              recordsPerSec: rate(totals.received, prev.totals.received),
              persistedPerSec: rate(totals.persisted, prev.totals.persisted),
              rejectedPerSec: rate(totals.rejected, prev.totals.rejected),
              bytesPerSec: rate(totals.bytesWire, prev.totals.bytesWire),
              decodedBytesPerSec: rate(totals.bytesDecoded, prev.totals.bytesDecoded),
            };
      } else if (!prev || now - updatedAtMs >= this.opts.staleMs) {
        this.rates = ZERO_RATES;
      }
      if (!prev || updatedAtMs !== prev.updatedAtMs) this.prev = { updatedAtMs, totals };
      this.totals = totals;
      const pid = read.stats.pid;
      this.pidOk =
        this.opts.checkPid && typeof pid === 'number' && Number.isInteger(pid) && pid > 0 ? pidAlive(pid) : null;
    }
    const h = this.health(now);
    if (!h.alive) this.rates = ZERO_RATES;
    this.hist.t.push(Math.round(now / 100) / 10);
    this.hist.recordsPerSec.push(this.rates.recordsPerSec);
    this.hist.bytesPerSec.push(this.rates.bytesPerSec);
    if (this.hist.t.length > this.opts.historyPoints) {
      this.hist.t.shift();
      this.hist.recordsPerSec.shift();
      this.hist.bytesPerSec.shift();
    }
  }

  /** updatedAt as ms; the file's mtime when the field is missing or not a date. */
  private updatedAtMs(read: StatsRead & { ok: true }): number {
    const u = read.stats.updatedAt;
    const ms = typeof u === 'string' ? Date.parse(u) : NaN;
    return Number.isFinite(ms) ? ms : read.mtimeMs;
  }

  health(now = Date.now()): LaneHealth {
    const read = this.read;
    if (!read.ok) return { alive: false, reason: read.reason, updatedAt: null, ageMs: null, pid: null, pidAlive: null };
    const updatedAtMs = this.updatedAtMs(read);
    const ageMs = Math.max(0, Math.round(now - updatedAtMs));
    const pid = typeof read.stats.pid === 'number' ? read.stats.pid : null;
    let reason: DownReason | undefined;
    if (this.pidOk === false) reason = 'pid_dead';
    else if (ageMs >= this.opts.staleMs) reason = 'stale';
    return {
      alive: reason === undefined,
      ...(reason ? { reason } : {}),
      updatedAt: new Date(updatedAtMs).toISOString(),
      ageMs,
      pid,
      pidAlive: this.pidOk,
    };
  }

  snapshot(now = Date.now()): LaneSnapshot {
    const read = this.read;
    const transport =
      read.ok && typeof read.stats.transport === 'string' ? read.stats.transport : (this.config.transport ?? 'unknown');
    return {
      name: this.config.name,
      transport,
      dataDir: this.config.dataDir,
      health: this.health(now),
      rates: this.rates,
      totals: this.totals,
      stats: read.ok ? read.stats : null,
      ...(read.ok ? {} : { statsError: read.detail }),
    };
  }

  history(): History {
    return this.hist;
  }

  /**
   * The latest persisted records, newest first: complete lines from the last `tailBytes` of the
   * newest records files (older files are read only while the budget lasts, e.g. just after a rotation).
   */
  async latestRecords(): Promise<TailEntry[]> {
    const files = await listRecordFiles(this.config.dataDir);
    let budget = this.opts.tailBytes;
    const chosen: typeof files = [];
    for (const f of files) {
      if (budget <= 0) break;
      chosen.push(f);
      budget -= f.size;
    }
    const key = chosen.map((f) => `${f.name}:${f.size}:${f.mtimeMs}`).join('|');
    if (this.recordsCache?.key === key) return this.recordsCache.items;
    const items: TailEntry[] = [];
    budget = this.opts.tailBytes;
    for (const f of chosen) {
      const chunk = await tailLines(f.path, budget);
      if (!chunk) continue;
      parseNewestFirst(chunk.lines, items);
      budget -= chunk.size;
      if (!chunk.fromStart) break;
    }
    this.recordsCache = { key, items };
    return items;
  }

  /** The latest rejects, newest first (tail of rejects.ndjson). */
  async latestRejects(): Promise<TailEntry[]> {
    const path = join(this.config.dataDir, REJECTS_FILE);
    const st = await stat(path).catch(() => undefined);
    if (!st) return [];
    if (this.rejectsCache?.key === `${st.size}:${st.mtimeMs}`) return this.rejectsCache.items;
    const chunk = await tailLines(path, this.opts.tailBytes);
    if (!chunk) return [];
    const items = parseNewestFirst(chunk.lines);
    // keyed by what the tail saw: a write between stat and read is picked up next time
    this.rejectsCache = { key: `${chunk.size}:${chunk.mtimeMs}`, items };
    return items;
  }
}
