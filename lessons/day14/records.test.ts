import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { decodeBatch } from '../../shared/protocol/batch.ts';
import { FrameDecoder, FrameType, HEADER_SIZE } from '../../shared/protocol/frame.ts';
import { validateRecord } from '../day08/validate.ts';
import { parseSyslog } from '../../shared/protocol/syslog/scan.ts';
import { createLane } from './lanes.ts';
import { parseSizeSpec, putUint, RecordWriter } from './records.ts';

function lines(w: RecordWriter, n: number): string[] {
  const buf = Buffer.alloc(4 << 20);
  let pos = 0;
  let left = n;
  while (left > 0) {
    const k = w.fill(buf, pos, left);
    expect(k).toBeGreaterThan(0);
    pos = w.end;
    left -= k;
  }
  return buf.toString('latin1', 0, pos).split('\n').slice(0, -1);
}

describe('RecordWriter', () => {
  it('the same seed gives the same bytes; another seed other records', () => {
    const a = lines(new RecordWriter({ seed: 7 }), 2000);
    const b = lines(new RecordWriter({ seed: 7 }), 2000);
    const c = lines(new RecordWriter({ seed: 8, idPrefix: 's7' }), 2000);
    expect(a).toEqual(b);
    const same = a.filter((l, i) => l === c[i]).length;
    expect(same).toBeLessThan(20);
  });

  it('every record is a valid LSP/1 record with a unique id, levels weighted, several services', () => {
    const recs = lines(new RecordWriter({ seed: 3 }), 5000).map((l) => {
      const v = validateRecord(Buffer.from(l));
      expect(v.ok, l).toBe(true);
      return JSON.parse(l) as { level: string; service: string; attrs: { id: string } };
    });
    expect(new Set(recs.map((r) => r.attrs.id)).size).toBe(5000);
    expect(recs[0]!.attrs.id).toBe('s3-1');
    const levels = new Map<string, number>();
    for (const r of recs) levels.set(r.level, (levels.get(r.level) ?? 0) + 1);
    expect([...levels.entries()].sort((x, y) => y[1] - x[1])[0]![0]).toBe('info');
    expect(levels.size).toBeGreaterThanOrEqual(5);
    expect(new Set(recs.map((r) => r.service)).size).toBeGreaterThanOrEqual(6);
  });

  it('--record-size: fixed and uniform sizes are met (never below the unpadded record)', () => {
    // (sizes are met to within the id's digits: a record's id is spliced into its body)
    const fixed = lines(new RecordWriter({ seed: 1, size: parseSizeSpec('500') }), 500);
    for (const l of fixed) expect(Math.abs(Buffer.byteLength(l) - 500)).toBeLessThanOrEqual(10);
    const uni = lines(new RecordWriter({ seed: 1, size: parseSizeSpec('300-900') }), 1000).map((l) => l.length);
    expect(Math.min(...uni)).toBeGreaterThanOrEqual(290);
    expect(Math.max(...uni)).toBeLessThanOrEqual(910);
    const capped = lines(
      new RecordWriter({ seed: 1, size: parseSizeSpec('lognormal:2000:1'), maxRecordBytes: 1443 }),
      1000,
    ).map((l) => l.length);
    expect(Math.max(...capped)).toBeLessThanOrEqual(1443);
  });

  it('parseSizeSpec refuses what it cannot mean', () => {
    expect(() => parseSizeSpec('big')).toThrow();
    expect(() => parseSizeSpec('900-300')).toThrow();
    expect(() => parseSizeSpec('0')).toThrow();
    expect(parseSizeSpec('lognormal:400')).toEqual({ kind: 'lognormal', median: 400, sigma: 0.5 });
  });

  it('syslog framings: octet-counted RFC 5424 that our parser reads back with the same fields', () => {
    const json = lines(new RecordWriter({ seed: 5 }), 50).map((l) => JSON.parse(l) as Record<string, unknown>);
    const w = new RecordWriter({ seed: 5, framing: 'syslog-octet' });
    const buf = Buffer.alloc(1 << 16);
    expect(w.fill(buf, 0, 50)).toBe(50);
    let pos = 0;
    for (let i = 0; i < 50; i++) {
      const sp = buf.indexOf(0x20, pos);
      const len = Number(buf.toString('latin1', pos, sp));
      const msg = buf.subarray(sp + 1, sp + 1 + len);
      pos = sp + 1 + len;
      const rec = parseSyslog(msg);
      expect(rec.msg).toBe(json[i]!['msg']);
      expect(rec.service).toBe(json[i]!['service']);
      expect(rec.host).toBe(json[i]!['host']);
      expect(rec.level === json[i]!['level'] || (rec.level === 'debug' && json[i]!['level'] === 'trace')).toBe(true);
      expect(JSON.stringify(rec.attrs)).toContain(`"id":"s5-${i + 1}"`);
    }
    expect(pos).toBe(w.end);
  });

  it('putUint writes decimal digits', () => {
    const b = Buffer.alloc(32);
    for (const n of [0, 7, 10, 99, 100, 12345, 2 ** 31 - 1, 2 ** 31, 2 ** 40 + 3]) {
      const end = putUint(b, 1, n);
      expect(b.toString('latin1', 1, end)).toBe(String(n));
    }
  });
});

describe('DatagramLane (udp)', () => {
  it('never sends a datagram over --max-datagram, one whole BATCH each, seqs consecutive', async () => {
    const rx = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20 });
    const got: Buffer[] = [];
    rx.on('message', (m) => got.push(m));
    await new Promise<void>((r) => rx.bind(0, '127.0.0.1', r));
    const max = 600;
    const writer = new RecordWriter({ seed: 2, size: parseSizeSpec('150-571'), maxRecordBytes: max - HEADER_SIZE - 1 });
    const lane = createLane('udp', {
      index: 0,
      host: '127.0.0.1',
      port: rx.address().port,
      writer,
      stream: 9,
      batchRecords: 50,
      batchDelayMs: 0,
      windowBatches: 1,
      maxDatagram: max,
      helloName: 't',
    });
    await lane.connect();
    lane.push(300, performance.now());
    await lane.finish(5000);
    expect(lane.sent).toBe(300);
    // UDP may lose datagrams on a busy machine: wait until all came or none came for a while
    let records = 0;
    let quietSince = Date.now();
    while (records < 300 && Date.now() - quietSince < 1000) {
      await new Promise((r) => setTimeout(r, 10));
      const n = got.reduce((k, m) => k + m.readUInt16BE(6), 0);
      if (n !== records) quietSince = Date.now();
      records = n;
    }
    rx.close();
    expect(got.length).toBeGreaterThan(0);
    // every datagram: ≤ max, exactly one BATCH, its seqs right after the previous datagram's
    const ranges: Array<[number, number]> = [];
    for (const m of got) {
      expect(m.length).toBeLessThanOrEqual(max);
      const frames = new FrameDecoder().push(m);
      expect(frames).toHaveLength(1);
      expect(frames[0]!.type).toBe(FrameType.BATCH);
      expect(frames[0]!.stream).toBe(9);
      ranges.push([frames[0]!.seq, decodeBatch(frames[0]!).length]);
    }
    ranges.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < ranges.length; i++)
      expect(ranges[i]![0]).toBeGreaterThanOrEqual(ranges[i - 1]![0] + ranges[i - 1]![1]);
    const last = ranges[ranges.length - 1]!;
    expect(last[0] + last[1] - 1).toBeLessThanOrEqual(300);
    // a datagram leaves only when the next record would not fit (or the batch is full): most are nearly full
    if (records === 300) expect(ranges[0]![0]).toBe(1);
  });
});
