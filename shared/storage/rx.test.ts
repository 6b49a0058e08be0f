import { describe, expect, it } from 'vitest';
import { RxWriter, peerName } from './rx.ts';

describe('RxWriter', () => {
  it('splices _rx before the closing brace and keeps the record bytes untouched', () => {
    const w = new RxWriter(16); // tiny, to exercise growth
    w.context({ ts: '2026-11-26T00:00:00.000Z', peer: '127.0.0.1:5', lane: 'day08' });
    const rec = '{"ts":"2026-11-26T00:00:00Z","level":"info","msg":"h\\u00e9 ✓","attrs":{"a":[1,2]}}';
    w.add(Buffer.from(`  ${rec}  `));
    w.addSeq(Buffer.from(rec), 7, 42);
    expect(w.count).toBe(2);
    const out = w.take()!.toString();
    const [a, b] = out
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(a).toMatchObject({
      msg: 'h\u00e9 ✓',
      attrs: { a: [1, 2] },
      _rx: { ts: '2026-11-26T00:00:00.000Z', peer: '127.0.0.1:5', lane: 'day08' },
    });
    expect(a!._rx as object).not.toHaveProperty('seq');
    expect(b).toMatchObject({ _rx: { stream: 7, seq: 42 } });
    expect(out.startsWith(rec.slice(0, -1))).toBe(true);
    expect(w.take()).toBeUndefined();
  });
  it('adds context extras', () => {
    const w = new RxWriter();
    w.context({ ts: 't', peer: 'p', lane: 'l', extra: { subject: 'CN=client' } });
    w.add(Buffer.from('{"a":1}'));
    expect(JSON.parse(w.take()!.toString())).toEqual({
      a: 1,
      _rx: { ts: 't', peer: 'p', lane: 'l', subject: 'CN=client' },
    });
  });
  it('names peers', () => {
    expect(peerName('::ffff:127.0.0.1', 80)).toBe('127.0.0.1:80');
    expect(peerName('::1', 80)).toBe('[::1]:80');
  });
});

describe('RxWriter.addSeq digits', () => {
  it.each([0, 1, 9, 10, 99, 100, 4294967295, Number.MAX_SAFE_INTEGER])('writes %d exactly', (n) => {
    const w = new RxWriter(8);
    w.context({ ts: 't', peer: 'p', lane: 'l' });
    w.addSeq(Buffer.from('{"a":1}'), n, n);
    expect((JSON.parse(w.take()!.toString()) as { _rx: unknown })._rx).toEqual({
      ts: 't',
      peer: 'p',
      lane: 'l',
      stream: n,
      seq: n,
    });
  });
});
