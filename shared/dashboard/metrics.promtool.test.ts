/**
 * /metrics as Prometheus itself reads it (issue 20.2): `promtool check metrics` (Debian's prometheus
 * package; `npm test` unpacks it into .work/peers/ when missing, tests/support/peers.ts) exits 0 on the
 * page of lanes of every kind, fresh and busy; every counter ends in `_total`; every family is there
 * from the start with a 0 series per lane and per known reason; no `kind` label mixes meanings.
 * No promtool: the promtool runs are skipped outside CI (the rest still runs); under CI=true they fail.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { needPeers, promtoolCheck } from '../../tests/support/peers.ts';
import { startDashboard, type Dashboard } from './server.ts';
import { TLS_FAILURE_REASONS, UDP_DATAGRAM_REJECTS } from './metrics.ts';
import { writeStats } from './test-support.ts';

const promtoolPeer = needPeers('promtool');

let root: string;
let fresh: Dashboard;
let busy: Dashboard;
const dir = (name: string) => join(root, name);

/** The exposition's families: name → TYPE and samples (label sets as text). */
function families(text: string): Map<string, { type: string; samples: string[] }> {
  const out = new Map<string, { type: string; samples: string[] }>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) out.set(t[1]!, { type: t[2]!, samples: [] });
    else if (line && !line.startsWith('#')) out.get(/^[^{ ]+/.exec(line)![0])?.samples.push(line);
  }
  return out;
}

const scrape = async (d: Dashboard) => (await fetch(new URL('/metrics', d.url))).text();

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ls-metrics-'));
  // Fresh lanes: receivers that just started (every counter 0), and one with no stats.json yet.
  await writeStats(dir('f-tcp'), { lane: 'f-tcp', transport: 'tcp' });
  await writeStats(dir('f-tls'), {
    lane: 'f-tls',
    transport: 'lsp1-tls',
    extra: {
      tls: { version: 'TLSv1.3', handshakes: { ok: 0, failed: 0 }, handshakeFailures: {} },
      ownership: { streams: 0, refused: { stream_owned: 0, hello_required: 0 } },
    },
  });
  await writeStats(dir('f-syslog'), {
    lane: 'f-syslog',
    transport: 'syslog',
    extra: {
      syslog: {
        udp: { port: 1, dropped: 0 },
        tcp: { port: 2 },
        tls: { port: 3, handshakeErrors: 0, handshakeFailures: {} },
      },
    },
  });
  await writeStats(dir('f-udp'), {
    lane: 'f-udp',
    transport: 'lsp1-udp',
    extra: { udp: { kernelDrops: 0, appDrops: 0, tooOld: 0 } },
  });
  fresh = await startDashboard({
    lanes: ['f-tcp', 'f-tls', 'f-syslog', 'f-udp', 'f-none'].map((name) => ({ name, dataDir: dir(name) })),
    refreshMs: 60_000,
  });
  // Busy lanes: every kind of count, a reason nobody listed, a label value that needs escaping.
  await writeStats(dir('b-tcp'), {
    lane: 'b-tcp',
    received: 103,
    persisted: 100,
    duplicates: 4,
    rejected: 4,
    dropped: 2,
    wire: 20_000,
    decoded: 40_000,
    rejects: { invalid_json: 2, 'we"ird\\reason\nx': 1 },
    streams: { '1': { hwm: 100, gaps: 3, duplicates: 4, reordered: 1 } },
  });
  await writeStats(dir('b-tls'), {
    lane: 'b-tls',
    transport: 'lsp1-tls',
    extra: {
      tls: { handshakes: { ok: 5, failed: 4 }, handshakeFailures: { unknown_ca: 2, plaintext: 1 } },
      ownership: { streams: 2, refused: { stream_owned: 3, hello_required: 1 } },
    },
  });
  await writeStats(dir('b-syslog'), {
    lane: 'b-syslog',
    transport: 'syslog',
    rejects: { syslog_bad_pri: 3 },
    rejected: 3,
    extra: {
      syslog: {
        udp: { dropped: 7 },
        tls: { port: 3, handshakeErrors: 2, handshakeFailures: { plaintext: 1, client_closed: 1 } },
      },
    },
  });
  await writeStats(dir('b-queue'), {
    lane: 'b-queue',
    dropped: 9,
    extra: { queue: { overflow: 'drop-newest', dropped: 9 }, compression: { zstd: { wireBytes: 100, rawBytes: 450 } } },
  });
  busy = await startDashboard({
    lanes: ['b-tcp', 'b-tls', 'b-syslog', 'b-queue'].map((name) => ({ name, dataDir: dir(name) })),
    refreshMs: 60_000,
  });
});

afterAll(async () => {
  await fresh?.close();
  await busy?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('/metrics by the rules Prometheus checks', () => {
  it.skipIf(promtoolPeer.skip)('promtool check metrics accepts the page of fresh lanes and of busy ones', async () => {
    promtoolPeer.assert();
    for (const [name, d] of [
      ['fresh', fresh],
      ['busy', busy],
    ] as const) {
      const r = promtoolCheck(await scrape(d));
      expect(r, `promtool check metrics on the ${name} lanes' page`).toEqual({ status: 0, output: '' });
    }
  });

  it.skipIf(promtoolPeer.skip)('promtool is a real judge: it rejects what the page used to have', () => {
    promtoolPeer.assert();
    const old =
      '# HELP logstream_tls_handshake_failures x\n# TYPE logstream_tls_handshake_failures counter\nlogstream_tls_handshake_failures{lane="a"} 1\n';
    const r = promtoolCheck(old);
    expect(r.status).not.toBe(0);
    expect(r.output).toContain('_total');
  });

  it('every counter ends in _total, no gauge does; no family has a kind label', async () => {
    for (const d of [fresh, busy]) {
      for (const [name, f] of families(await scrape(d))) {
        expect(name.endsWith('_total'), `${name} (${f.type})`).toBe(f.type === 'counter');
        for (const s of f.samples) expect(s, name).not.toMatch(/[{,]kind="/);
      }
    }
  });

  it('every family is there from the start, with a 0 series per lane and per known reason', async () => {
    const text = await scrape(fresh);
    const fam = families(text);
    for (const name of [
      'logstream_records_received_total',
      'logstream_records_persisted_total',
      'logstream_records_duplicate_total',
      'logstream_gaps_total',
      'logstream_received_bytes_total',
    ]) {
      for (const lane of ['f-tcp', 'f-tls', 'f-syslog', 'f-udp', 'f-none'])
        expect(text, name).toContain(`${name}{lane="${lane}"} 0\n`);
    }
    // rejects by reason: each reason the lane's transport knows
    expect(text).toContain('logstream_rejects_total{lane="f-tcp",reason="invalid_json"} 0\n');
    expect(text).toContain('logstream_rejects_total{lane="f-syslog",reason="syslog_bad_pri"} 0\n');
    // a UDP lane: the records' reasons and the malformed datagrams' (issue 18.4)
    for (const r of ['invalid_json', ...UDP_DATAGRAM_REJECTS])
      expect(text).toContain(`logstream_rejects_total{lane="f-udp",reason="${r}"} 0\n`);
    // drops by reason: the reasons the lane's stats.json has counters for, and other
    for (const r of ['kernel_buffer_full', 'app_queue_full', 'too_old', 'other'])
      expect(text).toContain(`logstream_drops_total{lane="f-udp",reason="${r}"} 0\n`);
    expect(text).toContain('logstream_drops_total{lane="f-syslog",reason="udp_sink_backlog"} 0\n');
    expect(text).toContain('logstream_drops_total{lane="f-tcp",reason="other"} 0\n');
    // TLS failures by reason: every reason, for both TLS lanes (day 13's and the syslog lane's TLS port), none for the others
    for (const lane of ['f-tls', 'f-syslog'])
      for (const r of TLS_FAILURE_REASONS)
        expect(text).toContain(`logstream_tls_handshake_failures_total{lane="${lane}",reason="${r}"} 0\n`);
    expect(
      fam.get('logstream_tls_handshake_failures_total')!.samples.filter((s) => /lane="f-(tcp|udp|none)"/.test(s)),
    ).toEqual([]);
    // writes refused by reason (issue 17): the acknowledged lanes that count them (an ownership section)
    for (const r of ['stream_owned', 'hello_required'])
      expect(text).toContain(`logstream_writes_refused_total{lane="f-tls",reason="${r}"} 0\n`);
    expect(
      fam.get('logstream_writes_refused_total')!.samples.filter((s) => /lane="f-(tcp|udp|none|syslog)"/.test(s)),
    ).toEqual([]);
    // families that have no sample yet still say what they are (the compression ratio of a lane that compressed nothing)
    expect(fam.get('logstream_compression_ratio')).toEqual({ type: 'gauge', samples: [] });
  });

  it('one metric per meaning, matching the stats files, by reason where there are reasons', async () => {
    const text = await scrape(busy);
    for (const line of [
      'logstream_records_received_total{lane="b-tcp"} 103',
      'logstream_records_persisted_total{lane="b-tcp"} 100',
      'logstream_records_duplicate_total{lane="b-tcp"} 4',
      'logstream_received_bytes_total{lane="b-tcp"} 20000',
      'logstream_decoded_bytes_total{lane="b-tcp"} 40000',
      'logstream_gaps_total{lane="b-tcp"} 3',
      'logstream_rejects_total{lane="b-tcp",reason="invalid_json"} 2',
      'logstream_rejects_total{lane="b-tcp",reason="we\\"ird\\\\reason\\nx"} 1',
      // records.rejected beyond the reasons' sum: other
      'logstream_rejects_total{lane="b-tcp",reason="other"} 1',
      'logstream_drops_total{lane="b-tcp",reason="other"} 2',
      'logstream_rejects_total{lane="b-syslog",reason="syslog_bad_pri"} 3',
      'logstream_drops_total{lane="b-syslog",reason="udp_sink_backlog"} 7',
      'logstream_drops_total{lane="b-queue",reason="queue_full_drop-newest"} 9',
      'logstream_tls_handshake_failures_total{lane="b-tls",reason="unknown_ca"} 2',
      'logstream_tls_handshake_failures_total{lane="b-tls",reason="plaintext"} 1',
      // handshakes.failed beyond the reasons: other
      'logstream_tls_handshake_failures_total{lane="b-tls",reason="other"} 1',
      'logstream_tls_handshake_failures_total{lane="b-syslog",reason="plaintext"} 1',
      'logstream_tls_handshake_failures_total{lane="b-syslog",reason="client_closed"} 1',
      'logstream_tls_handshake_failures_total{lane="b-syslog",reason="other"} 0',
      'logstream_compression_ratio{lane="b-queue"} 4.5',
      'logstream_writes_refused_total{lane="b-tls",reason="stream_owned"} 3',
      'logstream_writes_refused_total{lane="b-tls",reason="hello_required"} 1',
    ]) {
      expect(text).toContain(`${line}\n`);
    }
  });
});
