/**
 * Network abuse against the NDJSON-over-TCP receiver (lessons/day08/receiver.ts), started as a child
 * process through the process contract. Each attack: the receiver stays up, its RSS stays bounded, and a
 * good client on another connection keeps getting its lines persisted. Results: tests/abuse/last-run.json.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ABUSE_LIMITS,
  abuseSuite,
  closed,
  goodMarker,
  idleFlood,
  MiB,
  persistedWith,
  rawConnect,
  record,
  resetStorm,
  slowloris,
  waitFor,
  type GoodClient,
  type RunningReceiver,
} from './support.ts';

const MAX_CONNECTIONS = ABUSE_LIMITS.maxConnections;

/** The good client: 50 lines every 100 ms while the attack runs (well inside the idle timeout), 50 more at the end. */
async function goodLineClient(rx: RunningReceiver): Promise<GoodClient> {
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

const abuse = abuseSuite({
  suite: 'ndjson-day08',
  receiver: {
    name: 'day08',
    file: 'lessons/day08/receiver.ts',
  },
  good: goodLineClient,
  keep: ['records', 'connections', 'rejects'],
});

describe('NDJSON receiver (day 08) under network abuse', () => {
  it('slowloris: 100 connections trickling one never-ending line are cut by the idle timeout', async () => {
    await abuse.attacked('slowloris (100 conns, 1 byte / 100 ms)', () => slowloris(abuse.rx.port, 100, () => 'a'));
  });

  it('a 64 MiB line without LF: rejected once as line_too_long, memory bounded by the line limit', async () => {
    await abuse.attacked('64 MiB line, no LF', async () => {
      const tooLong = async () => (await abuse.rejects()).byReason['line_too_long'] ?? 0;
      const before = await tooLong();
      const s = await rawConnect(abuse.rx.port);
      const chunk = Buffer.alloc(1 * MiB, 0x61);
      for (let i = 0; i < 64; i++) if (!s.write(chunk)) await new Promise((r) => s.once('drain', r));
      s.end('\n');
      await closed(s);
      const rejected = await waitFor('the line_too_long reject counted', async () => (await tooLong()) - before);
      expect(rejected).toBe(1);
      return { bytes: 64 * MiB, rejected };
    });
  });

  it(`idle connections past the limit: ${MAX_CONNECTIONS * 5} opened, at most ${MAX_CONNECTIONS} held`, async () => {
    await abuse.attacked(`idle flood (${MAX_CONNECTIONS * 5} conns, limit ${MAX_CONNECTIONS})`, () =>
      idleFlood(abuse.rx.port, MAX_CONNECTIONS * 5, MAX_CONNECTIONS),
    );
  });

  it('connect-and-reset storm: 2000 connections, half reset in the middle of a line', async () => {
    await abuse.attacked('connect/reset storm (2000)', async () => {
      const storm = await resetStorm(abuse.rx.port, '{"ts":"2026-11-26T14:13:48Z","level":"in');
      await abuse.untilOpen(1); // the good client's
      return storm;
    });
  });

  it('hostile lines: non-UTF-8, Unicode whitespace around JSON, deep nesting, garbage — rejected or stored, never fatal', async () => {
    await abuse.attacked('hostile lines (non-UTF-8, U+00A0/BOM, 10 000-deep JSON, random bytes)', async () => {
      const before = await abuse.rejects();
      const s = await rawConnect(abuse.rx.port);
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
      // counted from stats.json (every reject), not from rejects.ndjson (a sample, per second)
      const after = await waitFor('5 more rejects counted', async () => {
        const r = await abuse.rejects();
        return r.total - before.total >= 5 ? r : undefined;
      });
      expect(await waitFor('deep record persisted', () => persistedWith(abuse.rx.dataDir, 'deep-one'))).toBe(1);
      return { rejectsByReason: after.byReason };
    });
  });
});
