/** Helpers shared by the protocol tests (CONVENTIONS.md §4 codec recipe). Not part of the library. */
import zlib from 'node:zlib';
import { expect } from 'vitest';
import { LsError } from './errors.ts';
import { FrameDecoder, type Frame, type FrameDecoderOptions } from './frame.ts';

/** Bytes from a hex string; spaces, newlines and `|` separators are ignored, so vectors can be laid out. */
export function hex(s: string): Buffer {
  const clean = s.replace(/[\s|]/g, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(clean)) throw new Error(`bad hex: ${s}`);
  return Buffer.from(clean, 'hex');
}

/** CRC-32 of `data` as 8 hex digits, for the crc field of a hand-written vector. */
export function crcHex(data: Buffer | string): string {
  return zlib
    .crc32(typeof data === 'string' ? Buffer.from(data) : data)
    .toString(16)
    .padStart(8, '0');
}

/**
 * The seed of a file's seeded property tests: LS_FUZZ_SEED to replay a run, otherwise a fresh one, printed either
 * way (CONVENTIONS.md §3: randomness is seeded and the seed is printed).
 */
export function fuzzSeed(name: string): number {
  const env = process.env['LS_FUZZ_SEED'];
  const seed = env !== undefined && env !== '' ? Number(env) : Math.floor(Math.random() * 0x7fffffff);
  console.log(`[${name}] fuzz seed ${seed} (replay with LS_FUZZ_SEED=${seed})`);
  return seed;
}

/** Every way to cut `data` into two chunks (including an empty first or last chunk). */
export function* splitsInTwo(data: Buffer): Generator<Buffer[]> {
  for (let i = 0; i <= data.length; i++) yield [data.subarray(0, i), data.subarray(i)];
}

/** `data` one byte at a time. */
export function bytewise(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i++) out.push(data.subarray(i, i + 1));
  return out;
}

/** Cut `data` at the given (unsorted, possibly repeated) positions. */
export function cutAt(data: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.max(0, Math.min(data.length, c))))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(data.subarray(prev, p));
    prev = p;
  }
  out.push(data.subarray(prev));
  return out;
}

/** Run `fn`, return the LsError it throws; fail if it throws anything else or nothing. */
export function catchLs(fn: () => unknown): LsError {
  try {
    fn();
  } catch (err) {
    if (err instanceof LsError) return err;
    throw new Error(`expected an LsError, got ${String(err)}`, { cause: err });
  }
  throw new Error('expected an LsError, nothing was thrown');
}

/** What a fresh FrameDecoder made of a stream: its frames, the LsError it stopped at, the most it buffered. */
export interface Decoded {
  frames: Frame[];
  error?: LsError;
  maxBuffered: number;
  decoder: FrameDecoder;
}

/**
 * Feeds `chunks` to a fresh FrameDecoder (frame.test.ts and tests/fuzz/frame.fuzz.test.ts): anything thrown but an
 * LsError is rethrown, and a decoder that threw must stay dead (the same error again, whatever comes next).
 */
export function decodeStream(chunks: readonly Buffer[], opts?: FrameDecoderOptions): Decoded {
  const decoder = new FrameDecoder(opts);
  const frames: Frame[] = [];
  let maxBuffered = 0;
  try {
    for (const c of chunks) {
      decoder.push(c, frames);
      maxBuffered = Math.max(maxBuffered, decoder.bufferedBytes);
    }
  } catch (err) {
    if (!(err instanceof LsError)) throw err;
    expect(() => decoder.push(Buffer.from('LS'))).toThrow(err);
    expect(decoder.error).toBe(err);
    return { frames, error: err, maxBuffered, decoder };
  }
  return { frames, maxBuffered, decoder };
}
