/**
 * Replays the nasty inputs kept in tests/fuzz/corpus/*.json as plain regression tests (no randomness).
 * Each case names its decoder (`target`), its input (`hex`, `text`, or `parts`: strings and
 * [string, repeat] pairs, for inputs too big to keep literally), and what must come out. Frame and
 * stream cases are also replayed one byte at a time: the outcome must not depend on the cuts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CODECS, codecByName } from '../../shared/protocol/codecs.ts';
import { FrameDecoder, parseHello, type Frame } from '../../shared/protocol/frame.ts';
import { validateRecord, validateRecordObject } from '../../lessons/day08/validate.ts';
import { SyslogFrameDecoder } from '../../lessons/stack/syslog-framing.ts';
import { syslogToRecord } from '../../shared/protocol/syslog/scan.ts';
import { SyslogRecordWriter } from '../../shared/protocol/syslog/writer.ts';
import { RxWriter } from '../../shared/storage/rx.ts';
import { asLsError } from './support.ts';
import { decompressBounded } from '../../lessons/day12/bounded-decode.ts';

interface Case {
  name: string;
  target: 'frame' | 'codec' | 'record' | 'syslog-message' | 'syslog-stream';
  hex?: string;
  text?: string;
  parts?: Array<string | [string, number]>;
  maxPayloadBytes?: number;
  codec?: string;
  max?: number;
  maxMessageBytes?: number;
  expect: Record<string, unknown>;
}

const DIR = new URL('./corpus/', import.meta.url);

function input(c: Case): Buffer {
  if (c.hex !== undefined) return Buffer.from(c.hex, 'hex');
  if (c.text !== undefined) return Buffer.from(c.text);
  return Buffer.from((c.parts ?? []).map((p) => (typeof p === 'string' ? p : p[0].repeat(p[1]))).join(''));
}

const bytewise = (b: Buffer) => [...b].map((x) => Buffer.from([x]));

function frames(
  chunks: Buffer[],
  max?: number,
): { frames: Frame[]; error?: { code: string; offset: number | undefined } } {
  const d = new FrameDecoder(max === undefined ? {} : { maxPayloadBytes: max });
  const out: Frame[] = [];
  try {
    for (const c of chunks) d.push(c, out);
    return { frames: out };
  } catch (err) {
    const e = asLsError(err);
    return { frames: out, error: { code: e.code, offset: e.offset } };
  }
}

function syslogEvents(chunks: Buffer[], max: number): string[] {
  const events: string[] = [];
  const d = new SyslogFrameDecoder({
    maxMessageBytes: max,
    onMessage: (_b, _s, _e, framing) => events.push(`M:${framing}`),
    onReject: (i) => events.push(`R:${i.reason}:${i.offset}`),
  });
  for (const c of chunks) d.push(c);
  d.end();
  return events;
}

function replay(c: Case): void {
  const data = input(c);
  switch (c.target) {
    case 'frame': {
      const whole = frames([data], c.maxPayloadBytes);
      expect(frames(bytewise(data), c.maxPayloadBytes)).toEqual(whole);
      expect(whole.frames).toHaveLength(c.expect['frames'] as number);
      expect(whole.error).toEqual(c.expect['error']);
      if (c.expect['parseHello'])
        expect(() => parseHello(whole.frames[0]!)).toThrow(expect.objectContaining({ code: c.expect['parseHello'] }));
      return;
    }
    case 'codec': {
      const codec = codecByName(c.codec!);
      if (!codec.availability().ok) return;
      try {
        const out = decompressBounded(codec, data, c.max!);
        expect(out.length).toBe(c.expect['length']);
      } catch (err) {
        expect(asLsError(err).code).toBe(c.expect['code']);
      }
      return;
    }
    case 'record': {
      const v = validateRecord(data, c.max);
      if (c.expect['ok']) {
        expect(v.ok).toBe(true);
        // and the receivers' `_rx` splice makes one JSON line of it
        const w = new RxWriter(64);
        w.context({ ts: '2026-11-26T00:00:00.000Z', peer: 'p', lane: 'corpus' });
        w.addSeq(data, 1, 1);
        const line = w.take()!.toString();
        expect(line.endsWith('}\n')).toBe(true);
        expect((JSON.parse(line) as { _rx: unknown })._rx).toEqual({
          ts: '2026-11-26T00:00:00.000Z',
          peer: 'p',
          lane: 'corpus',
          stream: 1,
          seq: 1,
        });
      } else {
        expect(v).toMatchObject({ ok: false, reason: c.expect['reason'] });
      }
      return;
    }
    case 'syslog-message': {
      const r = syslogToRecord(data, Date.parse('2028-03-01T00:00:00Z'));
      if (c.expect['ok']) {
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(validateRecordObject(JSON.parse(JSON.stringify(r.record))).ok).toBe(true);
        const w = new SyslogRecordWriter(64);
        w.setReceived(Date.parse('2028-03-01T00:00:00Z'));
        expect(w.add(data, 0, data.length)).toBeUndefined();
        expect(JSON.parse(w.take()!.toString())).toEqual(JSON.parse(JSON.stringify(r.record)));
      } else {
        expect(r).toMatchObject({ ok: false, reason: c.expect['reason'] });
      }
      return;
    }
    case 'syslog-stream': {
      const whole = syslogEvents([data], c.maxMessageBytes!);
      expect(whole).toEqual(c.expect['events']);
      expect(syslogEvents(bytewise(data), c.maxMessageBytes!)).toEqual(whole);
      return;
    }
  }
}

const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

describe('fuzz corpus (tests/fuzz/corpus)', () => {
  it('has cases, and every codec the corpus names exists', () => {
    expect(files.length).toBeGreaterThan(0);
    expect(CODECS.size).toBe(5);
  });
  for (const file of files) {
    const cases = JSON.parse(readFileSync(new URL(file, DIR), 'utf8')) as Case[];
    describe(file, () => {
      for (const c of cases) it(c.name, () => replay(c));
    });
  }
});
