import { describe, expect, it } from 'vitest';
import { SyslogRecordWriter } from '../../shared/protocol/syslog/writer.ts';
import { SyslogFrameDecoder } from './syslog-framing.ts';
import { warmUpStream } from './syslog-warm-up.ts';

describe('the syslog lane start-up warm-up sample', () => {
  it('is every shape the parser has a path for, all accepted, framed both ways', () => {
    const w = new SyslogRecordWriter();
    const framings = new Set<string>();
    const rejects: string[] = [];
    let messages = 0;
    const d = new SyslogFrameDecoder({
      maxMessageBytes: 64 << 10,
      reusesChunks: true, // warmUpStream reuses its read buffer
      onMessage: (buf, s, e, framing) => {
        messages++;
        framings.add(framing);
        const reason = w.add(buf, s, e);
        if (reason) rejects.push(reason);
      },
      onReject: (info) => rejects.push(info.reason),
    });
    for (const read of warmUpStream(1000)) d.push(read);
    d.end();
    expect(rejects).toEqual([]);
    expect(messages).toBe(1000);
    expect([...framings].sort()).toEqual(['lf', 'octet']);
    const records = w
      .peek()!
      .toString()
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(`${l.slice(0, -1)}}`) as { attrs: Record<string, unknown>; msg: string; ts: string });
    expect(records).toHaveLength(1000);
    // RFC 5424 with SD, without SD, with an escaped SD value and UTF-8, and RFC 3164 with TAG[pid]
    expect(records.some((r) => r.attrs['sd'] !== undefined)).toBe(true);
    expect(records.some((r) => r.attrs['sd'] === undefined && r.attrs['procid'] === undefined)).toBe(true);
    expect(
      records.some((r) => JSON.stringify(r.attrs['sd'] ?? null).includes('\\"quoted\\"') && r.msg.endsWith('\tcafé')),
    ).toBe(true);
    // RFC 3164: a TAG[pid] gives procid, and there is no MSGID
    expect(records.some((r) => r.attrs['procid'] !== undefined && r.attrs['msgid'] === undefined)).toBe(true);
  });

  it('is the same bytes every time (no clock, no randomness)', () => {
    const bytes = () => Buffer.concat([...warmUpStream(500)].map((r) => Buffer.from(r)));
    expect(bytes().equals(bytes())).toBe(true);
  });
});
