import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameDecoder, FrameType } from './frame.ts';
import { PendingBytes } from './pending-bytes.ts';

describe('PendingBytes', () => {
  it('keeps big chunks as views and packs small ones together', () => {
    const p = new PendingBytes();
    const big = Buffer.alloc(2000, 0x62);
    const data: Buffer[] = [];
    for (let i = 0; i < 5000; i++) data.push(Buffer.from([i & 0xff]));
    data.splice(2500, 0, big);
    for (const c of data) p.push(c);
    expect(p.length).toBe(7000);
    expect(Buffer.concat(p.parts).equals(Buffer.concat(data))).toBe(true);
    expect(p.parts.length).toBeLessThanOrEqual(3);
    expect(p.parts.some((x) => x.buffer === big.buffer)).toBe(true);
  });

  it('a view taken before clear() is not overwritten afterwards', () => {
    const p = new PendingBytes();
    p.push(Buffer.from('abc'));
    const view = p.parts[0]!;
    p.clear();
    p.push(Buffer.from('xyz'));
    expect(view.toString()).toBe('abc');
    expect(p.length).toBe(3);
  });
});

describe('decoders fed a trickle hold few objects', () => {
  it('FrameDecoder: a 200 kB frame one byte at a time', () => {
    const payload = Buffer.alloc(200_000);
    for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
    const bytes = encodeFrame({ type: FrameType.BATCH, count: 1, stream: 1, seq: 1, payload });
    const d = new FrameDecoder();
    for (let i = 0; i < bytes.length - 1; i++) expect(d.push(bytes.subarray(i, i + 1))).toEqual([]);
    expect((d as unknown as { pending: PendingBytes }).pending.parts.length).toBeLessThanOrEqual(13);
    const [frame] = d.push(bytes.subarray(bytes.length - 1));
    expect(frame!.payload.equals(payload)).toBe(true);
  });

  it('FrameDecoder: mixed 1500- and 7-byte chunks', () => {
    const payload = Buffer.alloc(50_000, 0x33);
    const bytes = Buffer.concat([
      encodeFrame({ type: FrameType.PING, seq: 1, payload }),
      encodeFrame({ type: FrameType.PONG, seq: 2 }),
    ]);
    const d = new FrameDecoder();
    const got = [];
    for (let i = 0, k = 0; i < bytes.length; k++) {
      const n = k % 2 === 0 ? 1500 : 7;
      got.push(...d.push(bytes.subarray(i, i + n)));
      i += n;
    }
    expect(got.map((f) => [f.type, f.seq, f.payload.length])).toEqual([
      [FrameType.PING, 1, 50_000],
      [FrameType.PONG, 2, 0],
    ]);
  });
});
