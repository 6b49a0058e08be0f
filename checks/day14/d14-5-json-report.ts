import { expectEqual, expectTrue, show } from '../harness/assert.ts';
import type { Check } from '../harness/types.ts';
import { at } from '../harness/kit/records.ts';
import { type Json, TODO_LATENCY, REPORT_FIELDS, startReceiver, stopReceiver, runLoadgen } from './support.ts';

// ---- d14.5 -----------------------------------------------------------------------------------------

function typeOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

function fieldAt(obj: Json, dotted: string): Array<{ path: string; value: unknown; present: boolean }> {
  const parts = dotted.split('.');
  let cur: Array<{ path: string; value: unknown; present: boolean }> = [{ path: '', value: obj, present: true }];
  for (const p of parts) {
    const next: typeof cur = [];
    for (const c of cur) {
      if (p === '*') {
        if (Array.isArray(c.value))
          c.value.forEach((v, i) => next.push({ path: `${c.path}[${i}]`, value: v, present: true }));
        continue;
      }
      const o = c.value as Json | null;
      const present = o !== null && typeof o === 'object' && p in o;
      next.push({ path: c.path ? `${c.path}.${p}` : p, value: present ? o[p] : undefined, present });
    }
    cur = next;
  }
  return cur;
}

export const d14_5: Check = {
  id: 'd14.5',
  title:
    '--json writes every documented report field with its type; the done line agrees; latency percentiles are ordered',
  points: 15,
  timeoutMs: 90_000,
  async run(ctx) {
    const rx = await startReceiver(ctx);
    const { done, report } = await runLoadgen(
      ctx,
      ['--target', at(rx.port), '--count', '5000', '--connections', '2', '--verify-dir', rx.dataDir],
      { json: true },
    );
    const rep = report!;
    for (const [field, type] of REPORT_FIELDS) {
      for (const f of fieldAt(rep, field)) {
        const t = typeOf(f.value);
        expectTrue(f.present && type.split('|').includes(t), {
          expected: `report field "${f.path}" (${type})`,
          received: f.present ? `${t}: ${show(f.value)}` : 'missing',
          where: 'the --json report',
          hint: 'every field the README documents is in the report, null where there is nothing to measure',
        });
      }
    }
    for (const k of ['sent', 'acked', 'dropped', 'lost', 'duplicated', 'achievedRate'])
      expectEqual(done[k], rep[k], { what: `done line "${k}" = the --json report's`, where: 'loadgen done line' });
    expectEqual(rep['sent'], 5000, { what: '"sent" with --count 5000', where: 'the --json report' });
    expectEqual(rep['connections'], 2, { what: '"connections"', where: 'the --json report' });
    const streams = rep['streams'] as Json[];
    expectEqual(streams.length, 2, { what: 'one "streams" entry per connection', where: 'the --json report' });
    expectEqual(
      streams.reduce((n, s) => n + Number(s['sent']), 0),
      5000,
      { what: 'the streams\' "sent" adding up to "sent"', where: 'the --json report' },
    );
    const lat = rep['latencyMs'] as Json;
    const order = ['p50', 'p90', 'p99', 'p999', 'max'].map((k) => lat[k] as number);
    expectTrue(
      order.every((v) => typeof v === 'number' && v > 0) && order.every((v, i) => i === 0 || v >= order[i - 1]!),
      {
        expected: 'ACK latency p50 ≤ p90 ≤ p99 ≤ p999 ≤ max, all > 0 ms (an ACKed lane)',
        received: show(lat),
        where: 'the --json report latencyMs',
        hint: `${TODO_LATENCY}: the lanes' HDR histograms (the time from when a record was due to the ACK covering it) as one; percentiles in ms`,
      },
    );
    expectEqual(lat['n'], 5000, {
      what: 'latencyMs.n (records measured: every ACKed one, all lanes together)',
      where: 'the --json report',
      hint: `${TODO_LATENCY}: every lane's histogram counts`,
    });
    expectTrue((rep['peakRssMb'] as number) > 10 && ((rep['cpu'] as Json)['userMs'] as number) > 0, {
      expected: 'its own peak RSS (MB) and CPU time, measured',
      received: show({ peakRssMb: rep['peakRssMb'], cpu: rep['cpu'] }),
      where: 'the --json report',
    });
    await stopReceiver(rx);
  },
};
