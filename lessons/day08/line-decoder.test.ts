import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineDecoder, type LineTooLongInfo } from './line-decoder.ts';
import { bytewise, cutAt, splitsInTwo } from '../../shared/protocol/test-support.ts';

interface Run {
  lines: string[];
  tooLong: LineTooLongInfo[];
}

/** Feed chunks (then end()) into a fresh LineDecoder; lines are copied to strings as they come. */
function run(chunks: readonly Buffer[], maxLineBytes: number, end = true): Run {
  const r: Run = { lines: [], tooLong: [] };
  const d = new LineDecoder({
    maxLineBytes,
    onLine: (line) => r.lines.push(line.toString('utf8')),
    onTooLong: (info) => r.tooLong.push(info),
  });
  for (const c of chunks) d.push(c);
  if (end) {
    d.end();
    expect(d.bufferedBytes).toBe(0);
  }
  return r;
}

function* feeds(data: Buffer): Generator<[string, Buffer[]]> {
  yield ['whole', [data]];
  yield ['bytewise', bytewise(data)];
  for (const parts of splitsInTwo(data)) yield [`split@${parts[0]!.length}`, parts];
}

describe('LineDecoder', () => {
  it('LF and CRLF line ends, empty lines ignored', () => {
    const input = Buffer.from('a\r\n\nb\n\r\n\r\rc\n');
    for (const [how, chunks] of feeds(input)) {
      // a lone CR that is not before the LF stays part of the line
      expect(run(chunks, 100).lines, how).toEqual(['a', 'b', '\r\rc']);
    }
  });

  it('a multi-byte UTF-8 character split across chunks arrives whole', () => {
    const input = Buffer.from('{"msg":"héllo € 😀"}\n{"msg":"日本"}\n');
    for (const [how, chunks] of feeds(input)) {
      expect(run(chunks, 100).lines, how).toEqual(['{"msg":"héllo € 😀"}', '{"msg":"日本"}']);
    }
  });

  it('end() flushes a final line without LF (not an error) and drops its CR', () => {
    for (const [how, chunks] of feeds(Buffer.from('a\nlast\r'))) {
      expect(run(chunks, 100), how).toEqual({ lines: ['a', 'last'], tooLong: [] });
    }
    expect(run([Buffer.from('a\npartial')], 100, false).lines).toEqual(['a']);
  });

  it('a too-long line is reported once, discarded up to its LF, and decoding goes on', () => {
    const long = 'x'.repeat(300) + 'é'.repeat(100); // 500 bytes
    const input = Buffer.from(`first\n${long}\r\nsecond\n${'y'.repeat(11)}\nthird`);
    for (const [how, chunks] of feeds(input)) {
      const r = run(chunks, 10);
      expect(r.lines, how).toEqual(['first', 'second', 'third']);
      expect(
        r.tooLong.map((t) => t.offset),
        how,
      ).toEqual([6, 6 + 502 + 7]);
      const [a, b] = r.tooLong;
      expect(a!.bytes, how).toBeGreaterThan(10);
      expect(b!.bytes, how).toBeGreaterThan(10);
      // the sample is the start of the line, at most 256 bytes
      expect(Buffer.from(long).subarray(0, a!.sample.length).equals(a!.sample), how).toBe(true);
      expect(a!.sample.length, how).toBe(Math.min(256, a!.bytes));
    }
  });

  it('with a limit above 256 the sample is always the first 256 bytes', () => {
    const long = Buffer.alloc(1000);
    for (let i = 0; i < long.length; i++) long[i] = 0x61 + (i % 26);
    const input = Buffer.concat([long, Buffer.from('\nok\n')]);
    for (const [how, chunks] of feeds(input)) {
      const r = run(chunks, 400);
      expect(r.lines, how).toEqual(['ok']);
      expect(r.tooLong, how).toHaveLength(1);
      expect(r.tooLong[0]!.sample.equals(long.subarray(0, 256)), how).toBe(true);
    }
  });

  it('boundaries: exactly maxLineBytes passes, one more is too long, a CR does not count', () => {
    const max = 8;
    const input = Buffer.from(`${'a'.repeat(8)}\n${'b'.repeat(8)}\r\n${'c'.repeat(9)}\n${'d'.repeat(9)}`);
    for (const [how, chunks] of feeds(input)) {
      const r = run(chunks, max);
      expect(r.lines, how).toEqual(['aaaaaaaa', 'bbbbbbbb']);
      expect(
        r.tooLong.map((t) => t.sample.toString()),
        how,
      ).toEqual(['ccccccccc', 'ddddddddd']);
    }
  });

  it('memory stays bounded while a huge line without LF streams in', () => {
    const r: LineTooLongInfo[] = [];
    const d = new LineDecoder({ maxLineBytes: 1000, onLine: () => {}, onTooLong: (i) => r.push(i) });
    const chunk = Buffer.alloc(4096, 0x61);
    for (let i = 0; i < 1000; i++) {
      d.push(chunk);
      expect(d.bufferedBytes).toBeLessThanOrEqual(1001);
    }
    expect(r).toHaveLength(1);
    d.push(Buffer.from('tail\nnext\n'));
    expect(r).toHaveLength(1);
  });

  it('lines inside one chunk are views into it (no copy)', () => {
    const chunk = Buffer.from('one\ntwo\n');
    const seen: Buffer[] = [];
    const d = new LineDecoder({ maxLineBytes: 100, onLine: (l) => seen.push(l), onTooLong: () => {} });
    d.push(chunk);
    expect(seen.map((l) => l.buffer === chunk.buffer)).toEqual([true, true]);
    expect(d.offset).toBe(chunk.length);
  });

  it('buffered() shows the start of the incomplete line', () => {
    const d = new LineDecoder({ maxLineBytes: 10_000, onLine: () => {}, onTooLong: () => {} });
    d.push(Buffer.from('done\npart'));
    for (const c of 'ial line') d.push(Buffer.from(c));
    expect(d.buffered().toString()).toBe('partial line');
    expect(d.bufferedBytes).toBe(12);
  });

  it('matches a split-on-LF model for random bytes and random cuts (seeded: LS_FUZZ_SEED replays)', () => {
    const env = process.env['LS_FUZZ_SEED'];
    const seed = env !== undefined && env !== '' ? Number(env) : Math.floor(Math.random() * 0x7fffffff);
    console.log(`[line-decoder] fuzz seed ${seed} (replay with LS_FUZZ_SEED=${seed})`);
    const alphabet = fc.constantFrom(0x0a, 0x0a, 0x0d, 0x61, 0x62, 0x7b, 0xe2, 0x82, 0xac, 0x00, 0xff);
    const cuts = fc.array(fc.nat({ max: 2000 }), { maxLength: 12 });
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 200 }), cuts, fc.nat({ max: 20 }), (arr, c, max) => {
        const data = Buffer.from(arr);
        const lines: string[] = [];
        const tooLong: LineTooLongInfo[] = [];
        const d = new LineDecoder({
          maxLineBytes: max,
          onLine: (l) => lines.push(l.toString('hex')),
          onTooLong: (i) => tooLong.push(i),
        });
        for (const chunk of cutAt(data, c)) d.push(chunk);
        d.end();

        // the model: split the whole input on LF, drop one CR before it, skip empty lines
        const wantLines: string[] = [];
        const wantLong: Array<{ offset: number; raw: Buffer }> = [];
        for (let start = 0; start < data.length;) {
          let lf = data.indexOf(0x0a, start);
          if (lf === -1) lf = data.length;
          const end = lf > start && data[lf - 1] === 0x0d ? lf - 1 : lf;
          if (end - start > max) wantLong.push({ offset: start, raw: data.subarray(start, lf) });
          else if (end > start) wantLines.push(data.subarray(start, end).toString('hex'));
          start = lf + 1;
        }
        expect(lines).toEqual(wantLines);
        expect(tooLong.map((t) => t.offset)).toEqual(wantLong.map((w) => w.offset));
        tooLong.forEach((t, i) => {
          const raw = wantLong[i]!.raw;
          expect(t.bytes).toBeGreaterThan(max);
          expect(t.bytes).toBeLessThanOrEqual(raw.length);
          expect(t.sample.length).toBe(Math.min(256, t.bytes));
          expect(raw.subarray(0, t.sample.length).equals(t.sample)).toBe(true);
        });
        expect(d.bufferedBytes).toBe(0);
      }),
      { seed, numRuns: 400 },
    );
  });
});
