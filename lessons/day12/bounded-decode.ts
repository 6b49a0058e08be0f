/**
 * Day 12 — decoding what a peer sent, within a limit [d12.6].
 *
 * A compressed BATCH says nothing trustworthy about its decoded size: 1 MiB of gzip can inflate to 1 GiB
 * (deflate reaches ~1000:1 on zeros; zstd, lz4 and brotli go further). A receiver that decompresses first
 * and checks the size afterwards has already spent the memory — one client can take it down. So the
 * limit (--max-decoded-bytes, shared/protocol/README.md §5) is enforced WHILE decoding: the codec table
 * (shared/protocol/codecs.ts) hands out the output a chunk at a time (`codec.decompressChunks(payload)`,
 * each chunk ≤ MAX_CHUNK_BYTES, the next one decoded only when asked for), and we stop asking as soon as
 * the output passes the limit: a bomb costs at most limit + one chunk, whatever it would inflate to.
 *
 * `codec.decompress(payload)` (all at once, no limit) is for bytes we trust, such as our own files at
 * rest — never for the wire.
 *
 * Used by this day's receiver (with its own accounting around it) and, as `decodeAnyCodec`, by the later
 * lanes that take compressed batches (day 13).
 */
import type { PayloadDecoder } from '../../shared/protocol/batch.ts';
import { usableCodec, type Codec } from '../../shared/protocol/codecs.ts';
import { LsError, LS_ERR } from '../../shared/protocol/errors.ts';

/**
 * The decoded `payload`, never more than `maxBytes`: LS_ERR_TOO_LARGE as soon as the output passes the
 * limit (nothing more is decoded), LS_ERR_DECODE when the payload does not decompress (from the codec).
 */
export function decompressBounded(codec: Codec, payload: Buffer, maxBytes: number): Buffer {
  // @solution [d12.6] decode chunk by chunk (codec.decompressChunks) and stop with LS_ERR_TOO_LARGE as soon as the output passes maxBytes
  // @stub return codec.decompress(payload);
  const parts: Buffer[] = [];
  let total = 0;
  for (const chunk of codec.decompressChunks(payload)) {
    total += chunk.length;
    // Leaving the loop (the throw) drops the generator: the codec decodes nothing more.
    if (total > maxBytes)
      throw new LsError(
        LS_ERR.LS_ERR_TOO_LARGE,
        `${codec.name} payload decodes to more than ${maxBytes} bytes (--max-decoded-bytes)`,
      );
    parts.push(chunk);
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
  // @end-solution
}

/**
 * decodeBatch's `decodePayload` for a receiver that takes every codec this process can run (an unknown id
 * never gets here: the frame decoder refuses it with LS_ERR_CODEC; a missing package is
 * LS_ERR_CODEC_UNAVAILABLE), each decoded within the limit.
 */
export const decodeAnyCodec: PayloadDecoder = (frame, maxBytes) =>
  decompressBounded(usableCodec(frame.codec), frame.payload, maxBytes);
