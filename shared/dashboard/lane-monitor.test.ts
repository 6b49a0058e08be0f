import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LaneMonitor, totalsOf } from './lane-monitor.ts';
import { writeStats } from './test-support.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ls-monitor-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const opts = { staleMs: 3000, checkPid: true, historyPoints: 5, tailBytes: 64 << 10 };

describe('LaneMonitor', () => {
  it('computes rates between snapshots, none across a restart, and none once stale', async () => {
    const dir = join(root, 'r');
    const m = new LaneMonitor({ name: 'r', dataDir: dir }, opts);
    const t0 = Date.now();
    await writeStats(dir, { updatedAt: new Date(t0).toISOString(), received: 100, wire: 1000 });
    await m.refresh(t0);
    expect(m.snapshot(t0).rates.recordsPerSec).toBe(0); // one snapshot: no rate yet
    await writeStats(dir, { updatedAt: new Date(t0 + 500).toISOString(), received: 350, wire: 3000 });
    await m.refresh(t0 + 600);
    expect(m.snapshot(t0 + 600).rates).toMatchObject({ recordsPerSec: 500, bytesPerSec: 4000 });
    // same snapshot read again within the stale window: the rate stands
    await m.refresh(t0 + 900);
    expect(m.snapshot(t0 + 900).rates.recordsPerSec).toBe(500);
    // the receiver restarted: counters went back to small numbers
    await writeStats(dir, { updatedAt: new Date(t0 + 1500).toISOString(), received: 20, wire: 100 });
    await m.refresh(t0 + 1600);
    expect(m.snapshot(t0 + 1600).rates.recordsPerSec).toBe(0);
    await writeStats(dir, { updatedAt: new Date(t0 + 2500).toISOString(), received: 120, wire: 100 });
    await m.refresh(t0 + 2600);
    expect(m.snapshot(t0 + 2600).rates.recordsPerSec).toBe(100);
    // nothing new for longer than staleMs: down, and no rate
    await m.refresh(t0 + 2500 + 3000);
    const s = m.snapshot(t0 + 2500 + 3000);
    expect(s.health).toMatchObject({ alive: false, reason: 'stale', ageMs: 3000 });
    expect(s.rates.recordsPerSec).toBe(0);
    // history keeps at most historyPoints
    expect(m.history().t).toHaveLength(5);
    expect(m.history().recordsPerSec).toEqual([500, 500, 0, 100, 0]);
  });

  it('falls back to the file mtime when updatedAt is missing', async () => {
    const dir = join(root, 'm');
    await writeStats(dir);
    await writeFile(join(dir, 'stats.json'), JSON.stringify({ lane: 'm', records: { received: 1 } }));
    const m = new LaneMonitor({ name: 'm', dataDir: dir, transport: 'udp' }, opts);
    await m.refresh();
    const s = m.snapshot();
    expect(s.health.alive).toBe(true);
    expect(s.health.pidAlive).toBeNull(); // no pid to check
    expect(s.transport).toBe('udp');
    expect(s.totals.received).toBe(1);
  });

  it('reads compression, TLS handshake failures and drops by reason from the lane-specific sections', () => {
    const day12 = totalsOf({
      compression: { none: { wireBytes: 100, rawBytes: 100 }, zstd: { wireBytes: 100, rawBytes: 700 } },
    });
    expect(day12).toMatchObject({ compressionRatio: 4, tlsHandshakeFailures: null, drops: {} });
    expect(
      totalsOf({ tls: { handshakes: { ok: 3, failed: 2 }, handshakeFailures: { unknown_ca: 1, expired: 1 } } })
        .tlsHandshakeFailures,
    ).toBe(2);
    expect(totalsOf({ tls: { handshakes: { ok: 3, failed: 0 }, handshakeFailures: {} } }).tlsHandshakeFailures).toBe(0);
    expect(
      totalsOf({ syslog: { tls: { handshakeErrors: 4 }, udp: { dropped: 2 } }, records: { dropped: 2 } }),
    ).toMatchObject({ tlsHandshakeFailures: 4, drops: { udp_sink_backlog: 2 } });
    // day 10: kernel drops never reach the receiver's own count; app-queue drops do
    expect(totalsOf({ udp: { kernelDrops: 5, appDrops: 3, tooOld: 0 }, records: { dropped: 3 } }).drops).toEqual({
      kernel_buffer_full: 5,
      app_queue_full: 3,
    });
    // day 14: the bounded queue names its overflow policy; anything else counted as dropped is "other"
    expect(totalsOf({ queue: { overflow: 'drop-newest', dropped: 7 }, records: { dropped: 9 } }).drops).toEqual({
      'queue_full_drop-newest': 7,
      other: 2,
    });
    expect(totalsOf(null)).toMatchObject({
      compressionRatio: null,
      tlsHandshakeFailures: null,
      drops: {},
      writesRefused: null,
    });
    // the acknowledged lanes' refused writes (issue 17: stream owners)
    expect(
      totalsOf({ ownership: { streams: 2, refused: { stream_owned: 3, hello_required: 1 } } }).writesRefused,
    ).toEqual({ stream_owned: 3, hello_required: 1 });
  });

  it('totalsOf tolerates missing and odd fields', () => {
    expect(totalsOf(null)).toMatchObject({ received: 0, gaps: 0, streams: 0 });
    expect(
      totalsOf({ records: { received: '7' }, streams: { a: { gaps: 2 }, b: null, c: { gaps: 1, reordered: 4 } } }),
    ).toMatchObject({ received: 0, gaps: 3, reordered: 4, streams: 3 });
  });
});
