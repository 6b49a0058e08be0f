/**
 * The LZ4 *frame* format (https://github.com/lz4/lz4/blob/dev/doc/lz4_Frame_format.md), payload format of
 * LSP/1 codec 3, built on a native LZ4 *block* codec. Internal to codecs.ts; pure, no I/O.
 *
 * Why not the native frame functions? lz4-napi (Rust lz4_flex) has compressFrameSync/decompressFrameSync,
 * but its frame decoder has no output cap, decodes only the FIRST frame of its input and silently ignores
 * whatever follows (garbage included), and both are 2-4x slower than its block functions on our batches
 * (decode ~0.3 vs ~1.2+ GB/s, encode ~0.4 vs ~0.9 GB/s, scripts/bench/codecs.ts). So we write and read the
 * frame structure here and let the native code do only blocks:
 *
 *   - encoding: one frame, independent blocks of at most 4 MiB, the content size in the header (so a
 *     decoder can refuse an oversized payload from its first 15 bytes), no checksums (the LSP/1 frame has a
 *     CRC-32 over the payload). Any LZ4 frame decoder reads it (the `lz4` tool, lz4_flex, python-lz4, …);
 *   - decoding: walk the structure first (header, block sizes, checksum fields, end mark; no
 *     decompression), then decode block by block, one block per step of a generator: each block decodes
 *     to at most the frame's block maximum (64 KiB .. 4 MiB, from the header), whatever the payload
 *     claims, and the next one is decoded only when the caller asks for it. A caller that counts the
 *     output and stops asking bounds what a payload can cost it (how much is the caller's decision).
 *
 * Anything the walk does not fully understand (bad magic, reserved bits, header checksum, truncated block,
 * trailing bytes, a dictionary id, the legacy format) is LS_ERR_DECODE before any native call. Frames from
 * other encoders are accepted: linked blocks, block and content checksums (checked, xxh32), several frames
 * and skippable frames back to back.
 */
import { LsError, LS_ERR } from './errors.ts';

/** What we need from a native LZ4 *block* library (lz4-napi's compressSync/uncompressSync). */
export interface Lz4Native {
  /** Compress `data` as one raw LZ4 block, prefixed with its size as a u32 LE (lz4_flex's convention). */
  compressBlock(data: Buffer): Buffer;
  /**
   * Decode one raw LZ4 block whose input starts with a u32 LE *maximum* output size (the same convention).
   * `dict` holds up to 64 KiB of preceding output (linked blocks).
   */
  decompressBlock(sizePrefixedBlock: Buffer, dict?: Buffer): Buffer;
}

const FRAME_MAGIC = 0x184d2204;
const LEGACY_MAGIC = 0x184c2102;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
const WINDOW = 64 * 1024;
/** Block maximum sizes by BD id (4..7). */
const BLOCK_MAX: Record<number, number> = { 4: 64 << 10, 5: 256 << 10, 6: 1 << 20, 7: 4 << 20 };

interface FrameInfo {
  /** first byte of the frame (its magic) */
  start: number;
  /** first byte after the frame (after its content checksum, if any) */
  end: number;
  /** first block header */
  blocksStart: number;
  blockMax: number;
  linked: boolean;
  blockChecksums: boolean;
  contentChecksum: boolean;
  contentSize: number | undefined;
  /** upper bound of what the frame's blocks can decode to */
  bound: number;
}

function decodeError(message: string, cause?: unknown): LsError {
  return new LsError(
    LS_ERR.LS_ERR_DECODE,
    `lz4 payload does not decompress: ${message}`,
    cause === undefined ? undefined : { cause },
  );
}

function need(data: Buffer, pos: number, n: number, what: string): void {
  if (pos + n > data.length) throw decodeError(`truncated ${what} at byte ${pos}`);
}

/**
 * Walk every frame of `data` (LZ4 frames and skippable frames, back to back, nothing else) without
 * decompressing. Throws LS_ERR_DECODE on anything malformed.
 */
export function walkLz4Frames(data: Buffer): FrameInfo[] {
  if (data.length === 0) throw decodeError('empty payload');
  const frames: FrameInfo[] = [];
  let pos = 0;
  while (pos < data.length) {
    need(data, pos, 4, 'magic');
    const magic = data.readUInt32LE(pos);
    if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      need(data, pos, 8, 'skippable frame header');
      const size = data.readUInt32LE(pos + 4);
      need(data, pos + 8, size, 'skippable frame');
      pos += 8 + size;
      continue;
    }
    if (magic === LEGACY_MAGIC) throw decodeError('the legacy LZ4 format is not supported');
    if (magic !== FRAME_MAGIC) throw decodeError(`bad magic 0x${magic.toString(16)} at byte ${pos}`);
    const start = pos;
    need(data, pos, 7, 'frame header');
    const flg = data[pos + 4]!;
    const bd = data[pos + 5]!;
    if (flg >> 6 !== 0b01) throw decodeError(`unsupported frame version ${flg >> 6}`);
    if (flg & 0b10 || bd & 0b1000_1111) throw decodeError('reserved bits set in the frame descriptor');
    if (flg & 0b1) throw decodeError('frames that need a dictionary are not supported');
    const blockMax = BLOCK_MAX[(bd >> 4) & 0b111];
    if (blockMax === undefined) throw decodeError(`bad block maximum size id ${(bd >> 4) & 0b111}`);
    const hasSize = (flg & 0b1000) !== 0;
    const descEnd = pos + 6 + (hasSize ? 8 : 0);
    need(data, pos, descEnd - pos + 1, 'frame header');
    const hc = (xxh32(data.subarray(pos + 4, descEnd)) >>> 8) & 0xff;
    if (hc !== data[descEnd]) throw decodeError('frame header checksum mismatch');
    let contentSize: number | undefined;
    if (hasSize) {
      // A u64; past 2^53 it is over any limit anyway, so the float is exact enough to compare.
      contentSize = data.readUInt32LE(pos + 6) + data.readUInt32LE(pos + 10) * 2 ** 32;
    }
    const info: FrameInfo = {
      start,
      end: 0,
      blocksStart: descEnd + 1,
      blockMax,
      linked: (flg & 0b10_0000) === 0,
      blockChecksums: (flg & 0b1_0000) !== 0,
      contentChecksum: (flg & 0b100) !== 0,
      contentSize,
      bound: 0,
    };
    pos = info.blocksStart;
    let bound = 0;
    for (;;) {
      need(data, pos, 4, 'block header');
      const word = data.readUInt32LE(pos);
      pos += 4;
      if (word === 0) break; // end mark
      const size = word & 0x7fffffff;
      if (size > blockMax) throw decodeError(`block of ${size} bytes over the frame's ${blockMax}-byte maximum`);
      const raw = word >>> 31 === 1;
      need(data, pos, size + (info.blockChecksums ? 4 : 0), 'block');
      bound += raw ? size : Math.min(blockMax, size * 255);
      pos += size + (info.blockChecksums ? 4 : 0);
    }
    if (info.contentChecksum) {
      need(data, pos, 4, 'content checksum');
      pos += 4;
    }
    info.end = pos;
    info.bound = bound;
    // A frame whose content size disagrees with what its blocks can hold is corrupt.
    if (contentSize !== undefined && contentSize > bound)
      throw decodeError('declared content size larger than its blocks can hold');
    frames.push(info);
  }
  return frames;
}

/** Largest block we write: 4 MiB, the largest the frame format allows. */
const MAX_BLOCK = 4 << 20;

/**
 * Compress `data` as one LZ4 frame: independent blocks of ≤ 4 MiB, content size in the header, a block
 * that does not shrink stored as is. Native errors propagate (the caller maps them).
 */
export function lz4CompressFrame(data: Buffer, native: Lz4Native): Buffer {
  const n = data.length;
  // Smallest block maximum that holds the whole input: decoders size their buffers by it.
  const id = n <= 64 << 10 ? 4 : n <= 256 << 10 ? 5 : n <= 1 << 20 ? 6 : 7;
  const parts: Buffer[] = [frameHeader(0b0110_1000, id << 4, n)];
  let total = parts[0]!.length + 4;
  for (let off = 0; off < n; off += MAX_BLOCK) {
    const chunk = data.subarray(off, Math.min(n, off + MAX_BLOCK));
    const packed = native.compressBlock(chunk); // u32 LE size + block
    const head = Buffer.allocUnsafe(4);
    if (packed.length - 4 < chunk.length) {
      head.writeUInt32LE(packed.length - 4, 0);
      parts.push(head, packed.subarray(4));
    } else {
      head.writeUInt32LE((chunk.length | 0x80000000) >>> 0, 0); // incompressible: stored as is
      parts.push(head, chunk);
    }
    total += 4 + parts[parts.length - 1]!.length;
  }
  parts.push(Buffer.alloc(4)); // end mark
  return Buffer.concat(parts, total);
}

/** Magic, FLG, BD, optional content size, header checksum. */
function frameHeader(flg: number, bd: number, contentSize?: number): Buffer {
  const withSize = contentSize !== undefined;
  const h = Buffer.allocUnsafe(withSize ? 15 : 7);
  h.writeUInt32LE(FRAME_MAGIC, 0);
  h[4] = withSize ? flg | 0b1000 : flg & ~0b1000;
  h[5] = bd;
  if (withSize) {
    h.writeUInt32LE(contentSize % 2 ** 32, 6);
    h.writeUInt32LE(Math.floor(contentSize / 2 ** 32), 10);
  }
  h[h.length - 1] = (xxh32(h.subarray(4, h.length - 1)) >>> 8) & 0xff;
  return h;
}

/**
 * Decompress an LZ4 frame payload one block at a time: each step yields one decoded block (at most its
 * frame's block maximum, ≤ 4 MiB) and decodes nothing more until the caller asks for the next. Throws
 * LS_ERR_DECODE on malformed input (the structure is checked before the first block is decoded). Only
 * LsError escapes.
 */
export function* lz4DecompressBlocks(data: Buffer, native: Lz4Native): Generator<Buffer, void, undefined> {
  const frames = walkLz4Frames(data);
  for (const f of frames) {
    // what a content checksum covers (kept only when there is one), and the last 64 KiB (linked blocks)
    const content: Buffer[] = [];
    let window: Buffer | undefined;
    let frameTotal = 0;
    let pos = f.blocksStart;
    for (;;) {
      const word = data.readUInt32LE(pos);
      pos += 4;
      if (word === 0) break;
      const size = word & 0x7fffffff;
      const body = data.subarray(pos, pos + size);
      pos += size;
      if (f.blockChecksums) {
        if (xxh32(body) !== data.readUInt32LE(pos)) throw decodeError('block checksum mismatch');
        pos += 4;
      }
      let out: Buffer;
      if (word >>> 31 === 1) {
        out = body;
      } else {
        // The most this block may produce: the frame's block maximum, and no more than the declared
        // content size still to come (a tighter bound also means a smaller native allocation).
        let room = Math.min(f.blockMax, size * 255);
        if (f.contentSize !== undefined) room = Math.min(room, f.contentSize - frameTotal);
        const framed = Buffer.allocUnsafe(4 + size);
        framed.writeUInt32LE(room, 0);
        body.copy(framed, 4);
        const dict = f.linked && frameTotal > 0 ? window : undefined;
        try {
          out = native.decompressBlock(framed, dict);
        } catch (err) {
          throw decodeError((err as Error).message, err);
        }
        if (out.length > room) throw decodeError('block inflates past its bound');
      }
      frameTotal += out.length;
      if (f.contentSize !== undefined && frameTotal > f.contentSize)
        throw decodeError(`frame declares ${f.contentSize} bytes and holds more`);
      if (f.contentChecksum) content.push(out);
      if (f.linked) window = lastBytes(window, out, WINDOW);
      if (out.length > 0) yield out;
    }
    if (f.contentSize !== undefined && f.contentSize !== frameTotal) {
      throw decodeError(`frame declares ${f.contentSize} bytes and holds ${frameTotal}`);
    }
    if (f.contentChecksum && xxh32(Buffer.concat(content, frameTotal)) !== data.readUInt32LE(pos))
      throw decodeError('content checksum mismatch');
  }
}

/** The last `n` bytes of `prev` followed by `next` (a copy only when both contribute). */
function lastBytes(prev: Buffer | undefined, next: Buffer, n: number): Buffer {
  if (next.length >= n || prev === undefined) return next.subarray(Math.max(0, next.length - n));
  const keep = Math.min(prev.length, n - next.length);
  return Buffer.concat([prev.subarray(prev.length - keep), next], keep + next.length);
}

const P1 = 0x9e3779b1;
const P2 = 0x85ebca77;
const P3 = 0xc2b2ae3d;
const P4 = 0x27d4eb2f;
const P5 = 0x165667b1;

const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r));
const round = (acc: number, input: number): number => Math.imul(rotl((acc + Math.imul(input, P2)) | 0, 13), P1);

/** XXH32 (seed 0 by default): the checksum of the LZ4 frame format. Returns an unsigned 32-bit number. */
export function xxh32(buf: Uint8Array, seed = 0): number {
  const len = buf.length;
  const view = new DataView(buf.buffer, buf.byteOffset, len);
  let i = 0;
  let h: number;
  if (len >= 16) {
    let v1 = (seed + P1 + P2) | 0;
    let v2 = (seed + P2) | 0;
    let v3 = seed | 0;
    let v4 = (seed - P1) | 0;
    const limit = len - 16;
    while (i <= limit) {
      v1 = round(v1, view.getUint32(i, true));
      v2 = round(v2, view.getUint32(i + 4, true));
      v3 = round(v3, view.getUint32(i + 8, true));
      v4 = round(v4, view.getUint32(i + 12, true));
      i += 16;
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else {
    h = (seed + P5) | 0;
  }
  h = (h + len) | 0;
  while (i + 4 <= len) {
    h = Math.imul(rotl((h + Math.imul(view.getUint32(i, true), P3)) | 0, 17), P4);
    i += 4;
  }
  while (i < len) {
    h = Math.imul(rotl((h + Math.imul(buf[i]!, P5)) | 0, 11), P1);
    i++;
  }
  h ^= h >>> 15;
  h = Math.imul(h, P2);
  h ^= h >>> 13;
  h = Math.imul(h, P3);
  h ^= h >>> 16;
  return h >>> 0;
}
