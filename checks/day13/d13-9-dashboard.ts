import { readFileSync } from 'node:fs';
import { encodeBatch } from '../../shared/protocol/batch.ts';
import { expectEqual, expectTrue, fail, show, waitFor } from '../harness/assert.ts';
import { readRecords, readStats, statNumber, type Stats } from '../harness/persisted.ts';
import { randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import {
  type Rec,
  type Json,
  certsFor,
  startReceiver,
  withClients,
  helloOverTls,
  waitAck,
  rec,
  tlsSection,
  failuresOf,
  waitFailures,
} from './support.ts';

export const d13_9: Check = {
  id: 'd13.9',
  title: 'The dashboard (--dashboard-port): its numbers match stats.json and the files',
  // Given: the lesson starts the dashboard on its own data dir; no TODO asks for it.
  given: true,
  points: 0,
  timeoutMs: 40_000,
  async run(ctx) {
    const certs = await certsFor(ctx);
    const recv = await startReceiver(ctx, certs, { extra: ['--dashboard-port', '0'] });
    const url = recv.rx.ready['dashboard'];
    if (typeof url !== 'string' || !/^http:\/\//.test(url))
      fail({
        expected: 'the ready line to carry "dashboard": the dashboard\'s URL',
        received: show(recv.rx.ready),
        where: 'receiver ready line',
        hint: 'with --dashboard-port N start startDashboard({lanes:[{name, dataDir}], port: N}) and put its url in the ready line',
      });
    const base = url.replace(/\/+$/, '');
    const ca = readFileSync(certs.ca.cert);
    const N = randInt(ctx.rng, 100, 200);
    await withClients(ctx, async (clients) => {
      const { c, stream: S } = await helloOverTls(ctx, clients, recv.port, ca, {
        label: 'TLS client',
        name: 'check-d13.9',
        secure: 'a verified TLS handshake',
        ack: 'HELLO → ACK',
      });
      const records = Array.from({ length: N }, (_, i) => JSON.stringify(rec(`dash-${i + 1}`, ctx.rng)));
      records[7] = JSON.stringify({ ts: '2026-11-26T14:13:48.123Z', msg: 'no level' }); // a reject
      await c.write(encodeBatch({ stream: S, seq: 1, records }));
      await waitAck(c, S, N, 5000, 'the batch is ACKed');
    });
    const plain = await ctx.connect(recv.rx.host, recv.port);
    await plain.write(Buffer.from('hello in the clear\n')).catch(() => undefined);
    await plain.waitClosed(4000, 'a plaintext connection closed');
    await waitFailures(recv.dataDir, 'plaintext ≥ 1', (f) => (f['plaintext'] ?? 0) >= 1, 'count plaintext connections');

    const get = async (p: string): Promise<{ status: number; text: string; json: Json | undefined }> => {
      const res = await fetch(`${base}${p}`, { signal: AbortSignal.timeout(3000) });
      const text = await res.text();
      let json: Json | undefined;
      try {
        json = JSON.parse(text) as Json;
      } catch {
        json = undefined;
      }
      return { status: res.status, text, json };
    };
    let detail = '';
    await waitFor(
      async () => {
        const stats = await readStats(recv.dataDir);
        const files = await readRecords(recv.dataDir);
        const persisted = statNumber(stats, 'records.persisted');
        const rejected = statNumber(stats, 'records.rejected');
        const plaintext = failuresOf(stats)['plaintext'];
        const r = await get('/api/stats');
        const lane = (r.json?.['lanes'] as Json[] | undefined)?.[0];
        const totals = (lane?.['totals'] ?? {}) as Json;
        const laneTls = tlsSection((lane?.['stats'] ?? null) as Stats | null);
        const dashPlain = ((laneTls['handshakeFailures'] ?? {}) as Json)['plaintext'];
        detail = `stats.json persisted ${persisted}, rejected ${rejected}, plaintext ${plaintext}; files ${files.records.length} records; /api/stats totals.persisted ${show(totals['persisted'])}, totals.rejected ${show(totals['rejected'])}, stats.tls.handshakeFailures.plaintext ${show(dashPlain)} (HTTP ${r.status})`;
        return (
          persisted === N - 1 &&
          files.records.length === N - 1 &&
          rejected === 1 &&
          totals['persisted'] === persisted &&
          totals['rejected'] === rejected &&
          dashPlain === plaintext
        );
      },
      {
        timeoutMs: 6000,
        intervalMs: 200,
        what: "the dashboard's /api/stats to match stats.json and the records files",
        where: `${base}/api/stats`,
        hint: "the dashboard reads the lane's own data dir (startDashboard({lanes:[{name, dataDir: --data-dir}]}))",
        received: () => detail,
      },
    );
    const health = await get('/api/health');
    const h = (health.json?.['lanes'] as Json[] | undefined)?.[0];
    expectEqual(h?.['alive'], true, {
      what: '/api/health lanes[0].alive',
      where: `${base}/api/health: ${show(health.json, 300)}`,
      hint: 'the receiver rewrites stats.json at least once a second, with its pid',
    });
    const name: unknown = h?.['name'];
    const laneName = typeof name === 'string' ? name : JSON.stringify(name ?? '');
    const stats = await readStats(recv.dataDir);
    const plaintext = failuresOf(stats)['plaintext'];
    const metrics = await get('/metrics');
    const line = metrics.text
      .split('\n')
      .find(
        (l) =>
          l.startsWith('logstream_tls_handshake_failures_total{') &&
          l.includes(`lane="${laneName}"`) &&
          l.includes('reason="plaintext"'),
      );
    expectTrue(line !== undefined && Number(line.split(' ').pop()) === plaintext, {
      expected: `/metrics logstream_tls_handshake_failures_total{lane="${laneName}",reason="plaintext"} ${plaintext}`,
      received: show(line ?? '(no such line)'),
      where: `${base}/metrics`,
      hint: 'the dashboard exports stats.json → tls.handshakeFailures',
    });
    const logs = await get('/api/logs?limit=5');
    const got = ((logs.json?.['records'] as Json[] | undefined) ?? []).map(
      (e) => ((e['record'] as Rec | undefined)?.['attrs'] as Rec | undefined)?.['id'],
    );
    const want = (await readRecords(recv.dataDir)).records
      .slice(-5)
      .reverse()
      .map((p) => (p.record['attrs'] as Rec | undefined)?.['id']);
    expectEqual(got, want, {
      what: '/api/logs?limit=5: the ids of the newest 5 records, newest first',
      where: `${base}/api/logs?limit=5`,
      hint: 'the dashboard reads the newest records file of --data-dir',
    });
  },
};
