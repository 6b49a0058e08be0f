// The syslog benchmark scenario works (not how fast: CONVENTIONS.md §5 — speed is judged by the benchmark's
// report, never asserted by a test): a seeded corpus, and one small run of every contender with its
// delivery check. Without rsyslogd the run is skipped locally, and fails under CI=true.
import { describe, expect, it } from 'vitest';
import { findProgram } from '../../tests/support/rsyslog-peer.ts';
import { parseSyslog } from '../../shared/protocol/syslog/scan.ts';
import { SyslogFrameDecoder } from '../../lessons/stack/syslog-framing.ts';
import { validateRecordObject } from '../../lessons/day08/validate.ts';
import { syslogCorpus, syslogScenario } from './syslog.ts';

describe('scripts/bench/syslog.ts', () => {
  it('the corpus is seeded, octet-counted, and every message reads as a valid record', () => {
    const a = syslogCorpus(3000, 7, 4096);
    const b = syslogCorpus(3000, 7, 4096);
    expect(Buffer.concat(a.chunks).equals(Buffer.concat(b.chunks))).toBe(true);
    expect(Buffer.concat(syslogCorpus(3000, 8, 4096).chunks).equals(Buffer.concat(a.chunks))).toBe(false);
    expect(a.chunks.length).toBeGreaterThan(10);
    let n = 0;
    const d = new SyslogFrameDecoder({
      maxMessageBytes: 1024,
      onMessage: (buf, s, e, framing) => {
        expect(framing).toBe('octet');
        const r = parseSyslog(buf.subarray(s, e));
        expect(validateRecordObject(r).ok).toBe(true);
        expect((r.attrs as { sd: Record<string, { id: string }> }).sd['req@32473']!.id).toBe(`s7-${++n}`);
      },
      onReject: (info) => expect.fail(`corpus message rejected: ${info.reason}`),
    });
    for (const c of a.chunks) d.push(c); // chunks cut between messages or not, the stream is whole
    d.end();
    expect(n).toBe(3000);
  });

  it('every contender delivers every message (small run)', async () => {
    if (!findProgram('rsyslogd')) {
      if (process.env.CI === 'true') throw new Error('rsyslogd missing under CI=true (apt-get install rsyslog)');
      console.warn('SKIPPED: the syslog benchmark needs rsyslogd (apt-get install rsyslog)');
      return;
    }
    const ctx = await syslogScenario.setup({ records: 5000 });
    for (const c of syslogScenario.contenders) {
      const r = await c.run(ctx);
      expect(r.records, c.name).toBe(5000);
      expect(r.ms, c.name).toBeGreaterThan(0);
    }
    expect(syslogScenario.notes).toMatch(/rsyslogd/);
  });
});
