import { describe, expect, it } from 'vitest';
import { LineDecoder, type LineTooLongInfo } from './line-decoder.ts';
import { bytewise, splitsInTwo } from '../../shared/protocol/test-support.ts';

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
      expect(r.tooLong.map((t) => t.offset), how).toEqual([6, 6 + 502 + 7]);
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
      expect(r.tooLong.map((t) => t.sample.toString()), how).toEqual(['ccccccccc', 'ddddddddd']);
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
});
