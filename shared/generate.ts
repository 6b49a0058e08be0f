/**
 * Synthetic, seeded log records (~200 bytes of NDJSON each): what `--generate N` ships and what the
 * benchmarks and the load generator send. Same seed → byte-identical records; each record carries a
 * unique `attrs.id` so checks can find it again.
 *
 * It is built for speed (millions of records/s): the strings are precomputed pools and each record is
 * one template concatenation.
 */
import { seededRandom } from './random.ts';

export const SERVICES = [
  'checkout',
  'payments',
  'search',
  'auth',
  'inventory',
  'shipping',
  'gateway',
  'recommendations',
];
export const HOSTS = Array.from({ length: 16 }, (_, i) => `web-${String(i + 1).padStart(2, '0')}`);
export const REGIONS = ['eu-west-1', 'eu-central-1', 'us-east-1', 'us-west-2', 'ap-south-1'];
/** Realistic weights: mostly info, some debug, few warnings, rare errors. */
export const LEVEL_WEIGHTS: ReadonlyArray<readonly [string, number]> = [
  ['trace', 2],
  ['debug', 15],
  ['info', 70],
  ['warn', 9],
  ['error', 3.5],
  ['fatal', 0.5],
];
export const VERBS = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'];
export const PATHS = [
  '/api/orders',
  '/api/cart',
  '/api/users',
  '/api/search',
  '/api/items',
  '/health',
  '/api/payments',
];
export const STATUS = ['200', '200', '200', '200', '201', '204', '304', '400', '404', '500'];

export const LEVEL_TABLE_SIZE = 1000;
/** Levels laid out by weight (LEVEL_TABLE_SIZE entries): a weighted draw is one table lookup. */
export function buildLevelTable(): string[] {
  const total = LEVEL_WEIGHTS.reduce((a, [, w]) => a + w, 0);
  const table: string[] = [];
  for (const [level, w] of LEVEL_WEIGHTS)
    for (let k = Math.round((w / total) * LEVEL_TABLE_SIZE); k > 0; k--) table.push(level);
  while (table.length < LEVEL_TABLE_SIZE) table.push('info');
  return table.slice(0, LEVEL_TABLE_SIZE);
}

export interface GeneratorOptions {
  seed?: number;
  /** timestamp of record 0 (ms since epoch); default a fixed instant, so a seed reproduces bytes */
  baseTimeMs?: number;
  /** milliseconds between consecutive records' ts */
  stepMs?: number;
  /**
   * Real-time timestamps: each record's ts is this clock (ms since epoch) read when `next()` makes it, and
   * `baseTimeMs`/`stepMs` are not used. For live demo traffic (scripts/stack.ts, issue 20.4), where a record
   * should say when it was made; seeded runs leave it out, so the same seed keeps giving the same bytes.
   */
  clock?: () => number;
  /** extra bytes of padding in attrs.pad, to shape record sizes */
  padBytes?: number;
  /** prefix of attrs.id (default `s<seed>`) */
  idPrefix?: string;
}

/** A record factory: `next()` returns the next record as one JSON line (no LF). */
export class RecordGenerator {
  private i = 0;
  private readonly rnd;
  /** levels laid out by weight, so a weighted draw is one table lookup */
  private readonly levelTable: string[];
  private readonly base: number;
  private readonly step: number;
  private readonly clock: (() => number) | undefined;
  private readonly pad: string;
  private readonly idPrefix: string;
  private lastTsMs = Number.NaN;
  private lastTs = '';

  constructor(opts: GeneratorOptions = {}) {
    const seed = opts.seed ?? 1;
    this.rnd = seededRandom(seed);
    this.levelTable = buildLevelTable();
    this.base = opts.baseTimeMs ?? Date.UTC(2026, 0, 1);
    this.step = opts.stepMs ?? 0.1;
    this.clock = opts.clock;
    this.pad = opts.padBytes ? ',"pad":"' + 'x'.repeat(opts.padBytes) + '"' : '';
    this.idPrefix = opts.idPrefix ?? `s${seed}`;
  }

  /** how many records were produced */
  get count(): number {
    return this.i;
  }

  next(): string {
    const i = this.i++;
    const r = this.rnd;
    const tsMs = Math.floor(this.clock ? this.clock() : this.base + i * this.step);
    if (tsMs !== this.lastTsMs) {
      this.lastTsMs = tsMs;
      this.lastTs = new Date(tsMs).toISOString();
    }
    const level = this.levelTable[r.int(LEVEL_TABLE_SIZE)]!;
    const service = r.pick(SERVICES);
    const user = r.int(100_000);
    const latency = 1 + r.int(250);
    const msg = `${r.pick(VERBS)} ${r.pick(PATHS)}/${r.int(10_000)} ${r.pick(STATUS)} ${latency}ms`;
    return `{"ts":"${this.lastTs}","level":"${level}","msg":"${msg}","service":"${service}","host":"${r.pick(HOSTS)}","attrs":{"id":"${this.idPrefix}-${i + 1}","user":${user},"region":"${r.pick(REGIONS)}","latency_ms":${latency}${this.pad}}}`;
  }

  /** The next `n` records. */
  take(n: number): string[] {
    const out = new Array<string>(n);
    for (let k = 0; k < n; k++) out[k] = this.next();
    return out;
  }
}
