/**
 * Day 14 — the load generator's records, written straight into big Buffers.
 *
 * A load generator must be much faster than what it tests, or it measures itself. At 2M records/s a
 * record has 500 ns in total — `JSON.stringify` of an object alone costs more. So nothing here builds an
 * object or a string per record. At start a seeded pool of record bodies is composed from pre-encoded
 * pieces (`{"ts":"`, service names, hosts, levels, …, numbers written as ASCII digits in place), and the
 * whole pool is laid down once as a framed template with a fixed-width id placeholder per record. Record
 * i is pool body (i − 1) mod pool size: a run of records is one memcpy of the template, then each record's
 * own ts and id are spliced in (issue 21.5) — a template with spliced numbers. The output Buffer
 * goes to the socket as it is (NDJSON lane), or becomes a BATCH payload (LSP/1), or is cut into
 * datagrams at the record ends this writes down.
 *
 * Realistic, and reproducible: services, hosts, regions and levels come from shared/generate.ts's pools
 * (levels by weight: mostly info, rare fatal), messages depend on the level, sizes follow a configurable
 * distribution (`--record-size`), and every draw comes from one seeded PRNG — same seed, same bytes.
 * `ts` is synthetic (a fixed base + i × step) for the same reason; receive time is in `_rx.ts`.
 */
import {
  buildLevelTable,
  HOSTS,
  LEVEL_TABLE_SIZE,
  PATHS,
  REGIONS,
  SERVICES,
  STATUS,
  VERBS,
} from '../../shared/generate.ts';
import { seededRandom, type Random } from '../../shared/random.ts';

/** How each record is framed in the output. */
export type RecordFraming =
  /** one JSON record + LF (the NDJSON lane, and LSP/1 BATCH payloads) */
  | 'ndjson'
  /** RFC 5424 with RFC 6587 octet counting: `LEN SP MSG` (syslog over TCP) */
  | 'syslog-octet'
  /** RFC 5424 + LF (syslog over UDP: one message per datagram, cut at the recorded ends, LF left out) */
  | 'syslog-lf';

/** `--record-size`: how large records are (bytes of the JSON record, LF excluded). */
export type SizeSpec =
  | { kind: 'natural' }
  | { kind: 'fixed'; bytes: number }
  | { kind: 'uniform'; min: number; max: number }
  | { kind: 'lognormal'; median: number; sigma: number };

/** Records are padded up to their drawn size; they are never shorter than the unpadded record (~190 B). */
export const MAX_RECORD_SIZE = 60_000;

/** Parses `natural`, `N`, `MIN-MAX`, `lognormal:MEDIAN[:SIGMA]`; throws an Error naming what is wrong. */
export function parseSizeSpec(raw: string): SizeSpec {
  const s = raw.trim().toLowerCase();
  const int = (t: string): number => {
    if (!/^\d+$/.test(t))
      throw new Error(`'${raw}' is not a size spec (natural | N | MIN-MAX | lognormal:MEDIAN[:SIGMA])`);
    const n = Number(t);
    if (n < 1 || n > MAX_RECORD_SIZE) throw new Error(`${t} is out of range 1..${MAX_RECORD_SIZE} bytes`);
    return n;
  };
  if (s === 'natural') return { kind: 'natural' };
  let m = /^lognormal:(\d+)(?::(\d+(?:\.\d+)?))?$/.exec(s);
  if (m) return { kind: 'lognormal', median: int(m[1]!), sigma: m[2] === undefined ? 0.5 : Number(m[2]) };
  m = /^(\d+)-(\d+)$/.exec(s);
  if (m) {
    const min = int(m[1]!);
    const max = int(m[2]!);
    if (max < min) throw new Error(`'${raw}': MAX is below MIN`);
    return { kind: 'uniform', min, max };
  }
  return { kind: 'fixed', bytes: int(s) };
}

export interface RecordWriterOptions {
  seed: number;
  framing?: RecordFraming;
  size?: SizeSpec;
  /** no record is padded past this many bytes (e.g. what fits in a datagram) */
  maxRecordBytes?: number;
  /** attrs.id is `<idPrefix>-<n>`, n from 1; default `s<seed>` */
  idPrefix?: string;
  /** ts of record 1 (ms since epoch); default 2026-01-01T00:00:00Z, so a seed reproduces bytes */
  baseTimeMs?: number;
  /** ms between consecutive records' ts */
  stepMs?: number;
}

const enc = (s: string): Buffer => Buffer.from(s, 'latin1');
const pool = (items: readonly string[], wrap: (s: string) => string = (s) => s): Buffer[] =>
  items.map((s) => enc(wrap(s)));

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
const WARN = 3;
const SEVERITY: Record<string, number> = { trace: 7, debug: 7, info: 6, warn: 4, error: 3, fatal: 2 };
const ERRORS = [
  'upstream timed out',
  'connection reset by peer',
  'pool exhausted, request queued',
  'retry budget spent',
  'circuit breaker open',
  'slow query',
  'disk 91% full',
  'certificate expires in 7 days',
];
const SIZE_TABLE = 4096;
/** record bodies in the pool (seeded): every record is one of them with its own ts and id */
const POOL = 8192;
const TWO32 = 0x1_0000_0000;
// pool sizes as plain constants (the hot loop should not go through import bindings)
const N_SVC_HOST = SERVICES.length * HOSTS.length;
const N_REGIONS = REGIONS.length;
const N_ERRORS = ERRORS.length;
const N_REQUESTS = VERBS.length * PATHS.length;
const N_STATUS = STATUS.length;
/** filler for attrs.pad: readable text without quotes or backslashes */
const PAD = enc(
  'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore '.repeat(
    Math.ceil(MAX_RECORD_SIZE / 100) + 1,
  ),
);

/** Copies a short piece: a plain loop beats Buffer#copy's call overhead below a few dozen bytes. */
function put(dst: Buffer, pos: number, src: Buffer): number {
  const n = src.length;
  if (n > 48) return pos + src.copy(dst, pos);
  for (let i = 0; i < n; i++) dst[pos + i] = src[i]!;
  return pos + n;
}

/** A non-negative integer as ASCII digits at `pos`; returns the new position. */
export function putUint(dst: Buffer, pos: number, n: number): number {
  if (n < 10) {
    dst[pos] = 48 + n;
    return pos + 1;
  }
  if (n >= 0x8000_0000) return pos + dst.write(String(n), pos, 'latin1');
  const digits = digitsOf(n);
  let t = n | 0;
  for (let p = pos + digits - 1; p >= pos; p--) {
    const q = (t / 10) | 0;
    dst[p] = 48 + t - q * 10;
    t = q;
  }
  return pos + digits;
}

/** `n` as exactly `digits` ASCII digits at `pos` (the caller knows how many it has). */
function putDigits(dst: Buffer, pos: number, n: number, digits: number): void {
  if (n >= 0x8000_0000) {
    dst.write(String(n), pos, 'latin1');
    return;
  }
  let t = n | 0;
  for (let p = pos + digits - 1; p >= pos; p--) {
    const q = (t / 10) | 0;
    dst[p] = 48 + t - q * 10;
    t = q;
  }
}

function digitsOf(n: number): number {
  if (n < 100_000) return n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : n < 10_000 ? 4 : 5;
  if (n < 10_000_000_000)
    return n < 1_000_000 ? 6 : n < 10_000_000 ? 7 : n < 100_000_000 ? 8 : n < 1_000_000_000 ? 9 : 10;
  return String(n).length;
}

/** The size table: 4096 draws from the distribution, so a per-record size is one PRNG step. */
function sizeTable(spec: SizeSpec, rnd: Random, cap: number): Int32Array | undefined {
  if (spec.kind === 'natural') return undefined;
  const t = new Int32Array(SIZE_TABLE);
  for (let i = 0; i < SIZE_TABLE; i++) {
    let v: number;
    if (spec.kind === 'fixed') v = spec.bytes;
    else if (spec.kind === 'uniform') v = spec.min + Math.floor(rnd.next() * (spec.max - spec.min + 1));
    else {
      // Box–Muller: a normal draw, exponentiated
      const z = Math.sqrt(-2 * Math.log(1 - rnd.next())) * Math.cos(2 * Math.PI * rnd.next());
      v = Math.round(spec.median * Math.exp(spec.sigma * z));
    }
    t[i] = Math.max(1, Math.min(cap, v));
  }
  return t;
}

/**
 * Seeded records into Buffers. `fill()` writes as many whole records as fit (up to a count), so the
 * caller owns the memory: one big Buffer per chunk, reused or handed to the socket.
 */
export class RecordWriter {
  /** records written so far (the last one's id number) */
  count = 0;
  /** bytes of record text written so far (framing excluded: the JSON record or the syslog message) */
  recordBytes = 0;
  minRecord = Number.POSITIVE_INFINITY;
  maxRecord = 0;
  /** a record can take at most this many bytes of output, framing included */
  readonly maxOutputBytes: number;

  private readonly rnd: Random;
  private readonly framing: RecordFraming;
  private readonly sizes: Int32Array | undefined;
  private readonly base: number;
  private readonly step: number;
  private readonly cap: number;
  private readonly scratch: Buffer;
  private lastMs = Number.NaN;
  private readonly tsBuf = Buffer.alloc(24);

  // pre-encoded pieces: a record is ~10 copies of these plus 4 numbers
  private readonly json: boolean;
  /** level index by weight (0 trace … 5 fatal) */
  private readonly levels: Uint8Array;
  /** JSON: `","level":"info","msg":"`; syslog: `<PRI>1 ` */
  private readonly levelHead: Buffer[];
  /** JSON: `","service":"S","host":"H","attrs":{"id":"<prefix>-`; syslog: ` H S - - [lsp@32473 id="<prefix>-` */
  private readonly svcHost: Buffer[];
  private readonly idHead: Buffer;
  /** `GET /api/orders/` */
  private readonly requests: Buffer[];
  private readonly status = pool(STATUS, (s) => ` ${s} `);
  private readonly errors = pool(ERRORS, (s) => `${s} after `);
  private readonly regions: Buffer[];
  private readonly msgScratch = Buffer.allocUnsafe(256);
  /** the seeded pool of record bodies: each split around its id, with where its ts goes */
  private readonly pool: Array<{ head: Buffer; tail: Buffer; tsAt: number }> = [];

  constructor(opts: RecordWriterOptions) {
    this.rnd = seededRandom(opts.seed);
    this.framing = opts.framing ?? 'ndjson';
    this.json = this.framing === 'ndjson';
    const names = buildLevelTable();
    this.levels = Uint8Array.from(names, (l) => LEVELS.indexOf(l as (typeof LEVELS)[number]));
    this.cap = Math.min(MAX_RECORD_SIZE, opts.maxRecordBytes ?? MAX_RECORD_SIZE);
    // (a body holds its id as one digit: leave room for the ten a record's own id may need)
    this.sizes = sizeTable(opts.size ?? { kind: 'natural' }, seededRandom(opts.seed ^ 0x5eed), this.cap - 10);
    this.base = opts.baseTimeMs ?? Date.UTC(2026, 0, 1);
    this.step = opts.stepMs ?? 0.1;
    const prefix = opts.idPrefix ?? `s${opts.seed}`;
    if (!/^[A-Za-z0-9_.:-]+$/.test(prefix))
      throw new RangeError(`idPrefix must be [A-Za-z0-9_.:-]+, got ${JSON.stringify(prefix)}`);
    const json = this.json;
    this.idHead = enc(` - - [lsp@32473 id="${prefix}-`);
    this.levelHead = LEVELS.map((l) => enc(json ? `","level":"${l}","msg":"` : `<${8 + SEVERITY[l]!}>1 `));
    this.svcHost = SERVICES.flatMap((s) =>
      HOSTS.map((h) => enc(json ? `","service":"${s}","host":"${h}","attrs":{"id":"${prefix}-` : ` ${h} ${s}`)),
    );
    this.requests = VERBS.flatMap((v) => PATHS.map((p) => enc(`${v} ${p}/`)));
    this.regions = pool(REGIONS, (s) => (json ? `,"region":"${s}","latency_ms":` : `" region="${s}" latency_ms="`));
    const largest = this.sizes ? Math.max(...this.sizes) : 0;
    this.maxOutputBytes = Math.max(largest, 400) + 32;
    this.scratch = Buffer.allocUnsafe(this.maxOutputBytes);
    // The pool: POOL bodies (fewer when records are large: at most ~16 MB), drawn from the seed first.
    const mean = this.sizes ? this.sizes.reduce((a, b) => a + b, 0) / this.sizes.length : 210;
    const n = Math.max(64, Math.min(POOL, Math.floor((16 << 20) / Math.max(mean, 210))));
    for (let j = 0; j < n; j++) {
      const len = this.compose(this.scratch, 0);
      this.pool.push({
        head: Buffer.from(this.scratch.subarray(0, this.idAt)),
        tail: Buffer.from(this.scratch.subarray(this.idAt + 1, len)),
        tsAt: this.tsAt,
      });
    }
    this.recOff = new Int32Array(n + 1);
    this.tsOff = new Int32Array(n);
    this.idOff = new Int32Array(n);
    this.lens = new Int32Array(n);
  }

  /** Mean record size so far (bytes, framing excluded). */
  get meanRecordBytes(): number {
    return this.count ? this.recordBytes / this.count : 0;
  }

  /**
   * Writes up to `n` records into `buf` from `pos`, as long as a whole record surely fits. Returns how
   * many were written; `this.end` is where the last one ends. With `ends`, the end offset of each record
   * is stored (`ends[k]` for the k-th record of this call) — to cut datagrams at record boundaries.
   *
   * The hot loop (issue 21.5): record i is pool body (i − 1) mod pool size, so consecutive records are
   * consecutive bodies of the template — the whole pool laid down once, framed, with a D-digit id in
   * each. A run of records is ONE copy of the template, then each record gets its own id digits and ts
   * spliced in place. Per record: a few digits and a 24-byte ts; no object, no string, no PRNG step.
   */
  fill(buf: Buffer, pos: number, n: number, ends?: Int32Array): number {
    const limit = buf.length - this.maxOutputBytes;
    const size = this.pool.length;
    const ts = this.tsBuf;
    let k = 0;
    while (k < n && pos <= limit) {
      const first = this.count + 1;
      const digits = digitsOf(first);
      if (digits !== this.tmplDigits) this.buildTemplate(digits);
      const tmpl = this.tmpl;
      const recOff = this.recOff;
      const j0 = (first - 1) % size;
      // the run: up to the template's end, the next id width, `n`, and the last record that surely fits
      const most = Math.min(n - k, size - j0, 10 ** digits - first);
      const base = recOff[j0]!;
      let m = 0;
      while (m < most && pos + recOff[j0 + m]! - base <= limit) m++;
      const shift = pos - base;
      buf.set(tmpl.subarray(base, recOff[j0 + m]), pos);
      for (let t = 0; t < m; t++) {
        const j = j0 + t;
        const i = first + t;
        const ms = Math.floor(this.base + (i - 1) * this.step);
        if (ms !== this.lastMs) {
          this.lastMs = ms;
          ts.write(new Date(ms).toISOString(), 0, 'latin1');
        }
        buf.set(ts, shift + this.tsOff[j]!);
        putDigits(buf, shift + this.idOff[j]!, i, digits);
        const len = this.lens[j]! + digits;
        this.recordBytes += len;
        if (len < this.minRecord) this.minRecord = len;
        if (len > this.maxRecord) this.maxRecord = len;
        if (ends) ends[k + t] = shift + recOff[j + 1]!;
      }
      this.count += m;
      k += m;
      pos += recOff[j0 + m]! - base;
    }
    this.end = pos;
    return k;
  }

  /**
   * The template for ids of `digits` digits: every pool body in order, framed as the lane wants it
   * (octet count, LF), its id a placeholder of that width. Rebuilt once per decade of ids.
   */
  private buildTemplate(digits: number): void {
    const pool = this.pool;
    const octet = this.framing === 'syslog-octet';
    let total = 0;
    for (const b of pool) total += b.head.length + digits + b.tail.length + 12;
    const tmpl = Buffer.allocUnsafeSlow(total);
    let o = 0;
    for (let j = 0; j < pool.length; j++) {
      const b = pool[j]!;
      const len = b.head.length + digits + b.tail.length;
      this.recOff[j] = o;
      if (octet) {
        o = putUint(tmpl, o, len);
        tmpl[o++] = 0x20;
      }
      this.tsOff[j] = o + b.tsAt;
      o += b.head.copy(tmpl, o);
      this.idOff[j] = o;
      tmpl.fill(0x30, o, o + digits);
      o += digits;
      o += b.tail.copy(tmpl, o);
      if (!octet) tmpl[o++] = 0x0a; // ndjson, syslog-lf
      this.lens[j] = len - digits;
    }
    this.recOff[pool.length] = o;
    this.tmpl = tmpl.subarray(0, o);
    this.tmplDigits = digits;
  }

  private tmpl = Buffer.alloc(0);
  private tmplDigits = 0;
  /** per pool body: where its record starts in the template (and one past the last), its ts, its id */
  private recOff = new Int32Array(0);
  private tsOff = new Int32Array(0);
  private idOff = new Int32Array(0);
  /** per pool body: record bytes without the id digits */
  private lens = new Int32Array(0);

  /** where the last fill() stopped */
  end = 0;

  /**
   * One record body (no framing) at `start`, every field drawn from the PRNG; returns its length and
   * notes where its ts (`tsAt`) and its id digits (`idAt`, written as "0") are, for the pool.
   */
  private compose(b: Buffer, start: number): number {
    const i = 1;
    const r = this.rnd;
    // Four 32-bit draws, split by division into every field (fewer PRNG steps: they are a third of the
    // cost). Always the same draws in the same order: the seed alone decides the bytes.
    let a = r.int(TWO32);
    const level = this.levels[a % LEVEL_TABLE_SIZE]!;
    a = (a / LEVEL_TABLE_SIZE) >>> 0;
    const svcHost = a % N_SVC_HOST;
    a = (a / N_SVC_HOST) >>> 0;
    const region = a % N_REGIONS; // (a < 2^32 / 128000 ≈ 33554: region and err still well spread)
    const err = ((a / N_REGIONS) >>> 0) % N_ERRORS;
    let b2 = r.int(TWO32);
    const request = b2 % N_REQUESTS;
    b2 = (b2 / N_REQUESTS) >>> 0;
    const status = b2 % N_STATUS;
    b2 = (b2 / N_STATUS) >>> 0;
    const latency = 1 + (b2 % 250);
    let c = r.int(TWO32);
    const user = c % 100_000;
    c = (c / 100_000) >>> 0;
    const item = c % 10_000;
    const target = this.sizes ? this.sizes[r.int(SIZE_TABLE)]! : 0;

    const json = this.json;
    let p = start;
    if (json) {
      p = put(b, p, K_TS);
      this.tsAt = p - start;
      p = put(b, p, this.tsBuf);
      p = put(b, p, this.levelHead[level]!);
    } else {
      p = put(b, p, this.levelHead[level]!);
      this.tsAt = p - start;
      p = put(b, p, this.tsBuf);
      p = put(b, p, this.svcHost[svcHost]!);
    }
    // msg: an access-log line, or for warn and worse an error text
    const msgAt = p;
    if (level >= WARN) {
      p = put(b, p, this.errors[err]!);
    } else {
      p = put(b, p, this.requests[request]!);
      p = putUint(b, p, item);
      p = put(b, p, this.status[status]!);
    }
    p = putUint(b, p, latency);
    b[p++] = 0x6d; // m
    b[p++] = 0x73; // s
    if (json) {
      p = put(b, p, this.svcHost[svcHost]!);
      p = this.putIdAndAttrs(b, p, start, K_USER, user, region, latency);
      if (target > 0) p = this.pad(b, p, target - (p - start) - 2, K_PAD_JSON, K_QUOTE);
      b[p++] = 0x7d; // }
      b[p++] = 0x7d;
    } else {
      // syslog: MSG goes last, after the structured data
      const msgLen = p - msgAt;
      const msg = this.msgScratch;
      b.copy(msg, 0, msgAt, p);
      p = put(b, msgAt, this.idHead);
      p = this.putIdAndAttrs(b, p, start, K_USER_SD, user, region, latency);
      b[p++] = 0x22; // "
      if (target > 0) p = this.pad(b, p, target - (p - start) - 2 - msgLen, K_PAD_SD, K_QUOTE);
      b[p++] = 0x5d; // ]
      b[p++] = 0x20;
      p += msg.copy(b, p, 0, msgLen);
    }
    void i;
    return p - start;
  }

  /**
   * The id's place (noted in idAt) and the attributes after it, user, region and latency: the same in both
   * formats but for the key that opens them (`keyUser`: the JSON attrs, or the syslog SD params).
   */
  private putIdAndAttrs(
    b: Buffer,
    p: number,
    start: number,
    keyUser: Buffer,
    user: number,
    region: number,
    latency: number,
  ): number {
    this.idAt = p - start;
    b[p++] = 0x30; // the id's place: each record splices its own
    p = put(b, p, keyUser);
    p = putUint(b, p, user);
    p = put(b, p, this.regions[region]!);
    return putUint(b, p, latency);
  }

  private tsAt = 0;
  private idAt = 0;

  /** `,"pad":"…"` so that the record reaches `room` more bytes (nothing when the record is already that large). */
  private pad(b: Buffer, p: number, room: number, head: Buffer, tail: Buffer): number {
    const n = room - head.length - tail.length;
    if (n <= 0) return p;
    p = put(b, p, head);
    p += PAD.copy(b, p, 0, n);
    return put(b, p, tail);
  }
}

const K_TS = enc('{"ts":"');
const K_USER = enc('","user":');
const K_USER_SD = enc('" user="');
const K_PAD_JSON = enc(',"pad":"');
const K_PAD_SD = enc(' pad="');
const K_QUOTE = enc('"');
