// What several of day08's checks use (split out of checks/day08.ts, issue 22).
import { expectEqual, expectTrue, show, waitFor } from '../harness/assert.ts';
import {
  readRecords,
  readRejects,
  readStats,
  statNumber,
  type InvalidLine,
  type PersistedRecord,
  type RejectEntry,
} from '../harness/persisted.ts';
import { pick, randInt, type Rng } from '../harness/rng.ts';
import type { TcpClient } from '../harness/tcp.ts';
import type { CheckContext, RunningProgram } from '../harness/types.ts';
import { startReceiver as startKitReceiver } from '../harness/kit/programs.ts';
import { idOf } from '../harness/kit/records.ts';

export const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

export type Rec = Record<string, unknown>;

// Where the learner's TODOs are (README "Your TODOs").
export const SPLIT = 'your framing TODO in lessons/day08/line-decoder.ts (push, completeHeld)';

export const RECEIVER = 'your TODO in lessons/day08/receiver.ts';

export const LIMIT = 'your line-limit TODO in lessons/day08/line-decoder.ts (hold, takeHeld, line)';

export const VALIDATE = 'your TODO in lessons/day08/validate.ts';

/** Starts the receiver on a free port with its own data dir; stats every 100 ms so checks can wait on them. */
export const startReceiver = (ctx: CheckContext, extra: string[] = []) =>
  startKitReceiver(ctx, {
    extra,
    portCheck: {
      what: 'the ready line to carry the bound port (a positive integer)',
      where: 'ready line',
      hint: 'with --port 0 the OS picks a port; announce the one you got (server.address().port)',
    },
  });

/** The receiver (startReceiver, with `extra` flags) and one client connected to it: where most checks begin. */
export async function receiverWithClient(
  ctx: CheckContext,
  extra: string[] = [],
): Promise<{ rx: RunningProgram; dataDir: string; c: TcpClient }> {
  const { rx, dataDir } = await startReceiver(ctx, extra);
  return { rx, dataDir, c: await ctx.connect(rx.host, rx.port) };
}

export const line = (rec: Rec) => `${JSON.stringify(rec)}\n`;

export function rec(id: string, fields: Rec = {}): Rec {
  return {
    ts: '2026-11-26T14:13:48.123Z',
    level: 'info',
    msg: `record ${id}`,
    ...fields,
    attrs: { id, ...(fields['attrs'] ?? {}) },
  };
}

/** Waits until every id is persisted; fails naming the ones missing. */
export async function waitForIds(
  dataDir: string,
  ids: string[],
  timeoutMs: number,
  hint?: string,
): Promise<Map<string, PersistedRecord>> {
  let seen = new Map<string, PersistedRecord>();
  let invalid: InvalidLine[] = [];
  await waitFor(
    async () => {
      const read = await readRecords(dataDir);
      const { records } = read;
      invalid = read.invalid;
      seen = new Map();
      for (const p of records) {
        const id = idOf(p.record);
        if (id !== undefined) seen.set(id, p);
      }
      return ids.every((id) => seen.has(id));
    },
    {
      timeoutMs,
      what: `record${ids.length > 1 ? 's' : ''} ${ids.length > 5 ? `${ids.slice(0, 5).join(', ')}, …` : ids.join(', ')} in <data-dir>/*.ndjson`,
      where: dataDir,
      hint:
        hint ??
        `${SPLIT}: every complete line goes to line() (and so to onLine), which the receiver validates and writes to <data-dir>/*.ndjson`,
      received: () => {
        const missing = ids.filter((id) => !seen.has(id));
        const bad = invalid[0];
        return `${missing.length} of ${ids.length} missing (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}); ${seen.size} records with an id found${bad ? `; ${invalid.length} lines of *.ndjson are not JSON objects (first: ${bad.file} line ${bad.lineNo}: ${show(bad.text.slice(0, 100))})` : ''}`;
      },
    },
  );
  return seen;
}

export async function waitForReject(
  dataDir: string,
  reason: string,
  timeoutMs: number,
  hint: string,
): Promise<RejectEntry> {
  let reasons: unknown[] = [];
  return waitFor(
    async () => {
      const { rejects } = await readRejects(dataDir);
      reasons = rejects.map((r) => r.reject['reason']);
      return rejects.find((r) => r.reject['reason'] === reason);
    },
    {
      timeoutMs,
      what: `a reject with reason "${reason}" in <data-dir>/rejects.ndjson`,
      where: `${dataDir}/rejects.ndjson`,
      hint,
      received: () => (reasons.length ? `rejects with reasons ${show(reasons)}` : 'no rejects'),
    },
  );
}

export async function waitForStat(
  dataDir: string,
  dotted: string,
  want: number,
  timeoutMs: number,
  hint: string,
): Promise<void> {
  let last: number | undefined;
  let exists = false;
  await waitFor(
    async () => {
      const stats = await readStats(dataDir).catch(() => null);
      exists = stats !== null;
      last = statNumber(stats, dotted);
      return last === want;
    },
    {
      timeoutMs,
      what: `stats.json ${dotted} = ${want}`,
      where: `${dataDir}/stats.json`,
      hint,
      received: () => (exists ? `${dotted} = ${show(last)}` : 'no stats.json'),
    },
  );
}

export function checkRejectShape(r: RejectEntry, sentLine: string, peer: string, what: string): void {
  const at = `rejects.ndjson line ${r.lineNo}`;
  const sample = r.reject['sample'];
  expectTrue(typeof sample === 'string' && sample.length > 0, {
    expected: `${what}: a non-empty "sample" string`,
    received: show(sample),
    where: at,
    hint: 'sample = the first (at most 256) bytes of the rejected line, as text',
  });
  expectTrue(Buffer.byteLength(sample) <= 256, {
    expected: `${what}: sample of at most 256 bytes`,
    received: `${Buffer.byteLength(sample)} bytes`,
    where: at,
    hint: 'cut the sample to the first 256 bytes of the line',
  });
  expectTrue(sentLine.startsWith(sample), {
    expected: `${what}: sample = the start of the line sent, ${show(sentLine.slice(0, 80))}`,
    received: show(sample),
    where: at,
    hint: 'the sample is the line as received, without its LF',
  });
  expectEqual(r.reject['peer'], peer, {
    what: `${what}: reject "peer"`,
    where: at,
    hint: 'peer = the client address:port, as in _rx.peer',
  });
  const ts = r.reject['ts'];
  expectTrue(typeof ts === 'string' && RFC3339.test(ts), {
    expected: `${what}: reject "ts" as an RFC 3339 timestamp`,
    received: show(ts),
    where: at,
  });
}

export const WORDS = [
  'alpha',
  'beta',
  'gamma',
  'día',
  'Grüße',
  '日本語',
  'naïve',
  '😀',
  'tab\there',
  'quote"d',
  'back\\slash',
  'ok',
  'GET',
  '/api/v1',
  '200',
  'ms',
  'user=42',
  'ελληνικά',
  '€',
];

export function randomMsg(rng: Rng): string {
  const n = randInt(rng, 1, 40);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(pick(rng, WORDS));
  return parts.join(' ');
}

/** Random cut points in [1, len): sizes vary from a byte to several KiB. */
export function randomCuts(rng: Rng, len: number): number[] {
  const cuts: number[] = [];
  let at = 0;
  for (;;) {
    const r = rng();
    at += r < 0.1 ? randInt(rng, 1, 8) : r < 0.5 ? randInt(rng, 9, 1024) : randInt(rng, 1025, 16384);
    if (at >= len) return cuts;
    cuts.push(at);
  }
}
