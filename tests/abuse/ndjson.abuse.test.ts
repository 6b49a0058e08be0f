/**
 * Network abuse against the NDJSON-over-TCP receiver (lessons/day08/receiver.ts), started as a child
 * process through the process contract. Each attack: the receiver stays up, its RSS stays bounded, and a
 * good client on another connection keeps getting its lines persisted. Results: tests/abuse/last-run.json.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  closed,
  goodMarker,
  limitArgs,
  MiB,
  openMany,
  persistedWith,
  rawConnect,
  readJson,
  record,
  startReceiver,
  underAttack,
  waitFor,
  writeSummary,
  type AttackResult,
  type GoodClient,
  type RunningReceiver,
} from './support.ts';

const MAX_CONNECTIONS = 300;
const IDLE_MS = 1500;

let rx: RunningReceiver;
const results: AttackResult[] = [];

beforeAll(async () => {
  rx = await startReceiver(
    'day08',
    'lessons/day08/receiver.ts',
    // every reject written (no per-second sampling): 'hostile lines' reads its rejects from rejects.ndjson, and
    // an earlier attack's rejects in the same second used up the default 100 lines (it timed out in CI)
    [...limitArgs({ maxConnections: MAX_CONNECTIONS, idleMs: IDLE_MS }), '--rejects-per-second', '0'],
  );
});

afterAll(async () => {
  const stats = await readJson(`${rx.dataDir}/stats.json`);
  const stop = await rx.stop();
  await writeSummary('ndjson-day08', results, {
    exit: stop,
    records: stats?.['records'] ?? null,
    connections: stats?.['connections'] ?? null,
  });
});

async function rejectReasons(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const text = await readFile(join(rx.dataDir, 'rejects.ndjson'), 'utf8').catch(() => '');
  for (const l of text.split('\n')) {
    if (!l) continue;
    const r = (JSON.parse(l) as { reason: string }).reason;
    out[r] = (out[r] ?? 0) + 1;
  }
  return out;
}

/** The good client: 50 lines every 100 ms while the attack runs (well inside the idle timeout), 50 more at the end. */
async function goodLineClient(): Promise<GoodClient> {
  const marker = goodMarker();
  const good = await rawConnect(rx.port);
  let sent = 0;
  const lines = (): string => {
    const text = Array.from({ length: 50 }, (_, i) => `${record(sent + i, ` ${marker}`)}\n`).join('');
    sent += 50;
    return text;
  };
  const timer = setInterval(() => good.write(lines()), 100);
  return {
    stop: () => clearInterval(timer),
    async finish() {
      good.end(lines());
      await closed(good); // the receiver ends its side once everything we sent is written
      const persisted = await waitFor(
        'good lines persisted',
        async () => ((await persistedWith(rx.dataDir, marker)) === sent ? sent : 0),
        10_000,
      ).catch(() => 0);
      return { ok: persisted === sent, detail: { goodLinesPersisted: persisted, goodLinesSent: sent } };
    },
    close: () => good.destroy(),
  };
}

/** One attack, while the good line client keeps writing on another connection. */
async function attacked(attack: string, attackFn: () => Promise<Record<string, unknown> | void>): Promise<void> {
  await underAttack(results, rx, attack, await goodLineClient(), attackFn);
}

describe('NDJSON receiver (day 08) under network abuse', () => {
  it('slowloris: 100 connections trickling one never-ending line are cut by the idle timeout', async () => {
    await attacked('slowloris (100 conns, 1 byte / 100 ms)', async () => {
      const socks = await openMany(100, rx.port);
      const timer = setInterval(() => {
        for (const s of socks) if (!s.destroyed) s.write('a');
      }, 100);
      try {
        const t0 = Date.now();
        await Promise.all(socks.map(closed));
        return { connections: socks.length, cutAfterMs: Date.now() - t0 };
      } finally {
        clearInterval(timer);
      }
    });
  });

  it('a 64 MiB line without LF: rejected once as line_too_long, memory bounded by the line limit', async () => {
    await attacked('64 MiB line, no LF', async () => {
      const s = await rawConnect(rx.port);
      const chunk = Buffer.alloc(1 * MiB, 0x61);
      for (let i = 0; i < 64; i++) if (!s.write(chunk)) await new Promise((r) => s.once('drain', r));
      s.end('\n');
      await closed(s);
      return { bytes: 64 * MiB };
    });
  });

  it(`idle connections past the limit: ${MAX_CONNECTIONS * 5} opened, at most ${MAX_CONNECTIONS} held`, async () => {
    await attacked(`idle flood (${MAX_CONNECTIONS * 5} conns, limit ${MAX_CONNECTIONS})`, async () => {
      const socks = await openMany(MAX_CONNECTIONS * 5, rx.port);
      const held = await waitFor('refusals', () => {
        const open = socks.filter((s) => !s.destroyed).length;
        return open <= MAX_CONNECTIONS ? open : 0;
      });
      await Promise.all(socks.map(closed));
      return { attempted: socks.length, heldAtMost: held };
    });
  });

  it('connect-and-reset storm: 2000 connections, half reset in the middle of a line', async () => {
    await attacked('connect/reset storm (2000)', async () => {
      for (let round = 0; round < 20; round++) {
        const socks = await openMany(100, rx.port);
        for (const [i, s] of socks.entries()) {
          if (i % 2) s.write('{"ts":"2026-11-26T14:13:48Z","level":"in');
          s.resetAndDestroy();
        }
      }
      await waitFor(
        'connections.open back to 1 (the good client)',
        async () =>
          ((await readJson(`${rx.dataDir}/stats.json`))?.['connections'] as { open: number } | undefined)?.open === 1,
      );
      return { resets: 2000 };
    });
  });

  it('hostile lines: non-UTF-8, Unicode whitespace around JSON, deep nesting, garbage — rejected or stored, never fatal', async () => {
    await attacked('hostile lines (non-UTF-8, U+00A0/BOM, 10 000-deep JSON, random bytes)', async () => {
      const before = await rejectReasons();
      const s = await rawConnect(rx.port);
      const deep = `{"ts":"2026-11-26T14:13:48Z","level":"info","msg":"deep-one","attrs":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`;
      const lines = [
        Buffer.from([0xff, 0xfe, 0x7b, 0x0a]),
        Buffer.from(`${record(1)}\u00a0\n`), // crashed the receiver before record.ts trimmed JSON whitespace only
        Buffer.from(`\ufeff${record(2)}\n`),
        Buffer.from(`${deep}\n`),
        Buffer.from(`${'['.repeat(30_000)}${']'.repeat(30_000)}\n`),
        Buffer.concat([randomBytes(8192).map((b) => (b === 0x0a ? 0x20 : b)), Buffer.from('\n')]),
      ];
      s.end(Buffer.concat(lines));
      await closed(s);
      const after = await waitFor('rejects written', async () => {
        const r = await rejectReasons();
        const n = Object.values(r).reduce((a, b) => a + b, 0) - Object.values(before).reduce((a, b) => a + b, 0);
        return n >= 5 ? r : undefined;
      });
      expect(await waitFor('deep record persisted', () => persistedWith(rx.dataDir, 'deep-one'))).toBe(1);
      return { rejectsByReason: after };
    });
  });
});
