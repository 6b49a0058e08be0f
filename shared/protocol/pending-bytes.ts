/**
 * The bytes a decoder holds for an incomplete frame or line, as a list of chunks.
 *
 * Big chunks are kept as they are (views, no copy). Small chunks are copied into a shared
 * accumulator instead. Without that, a peer that trickles a 4 MiB frame one byte per TCP segment
 * would leave us holding millions of tiny Buffer objects (about 100 bytes of heap each) for a single
 * frame. With it, the list has at most one entry per SMALL_CHUNK bytes, plus one accumulator.
 * Internal to shared/protocol.
 */

/** Chunks shorter than this are copied into the accumulator rather than kept as views. */
const SMALL_CHUNK = 1024;
const ACCUMULATOR_SIZE = 16 * 1024;

export class PendingBytes {
  /** The held bytes, in order. The last entry may be a view of the accumulator. */
  parts: Buffer[] = [];
  /** Total bytes held. */
  length = 0;
  private acc: Buffer | null = null;
  private accUsed = 0;

  push(chunk: Buffer): void {
    const n = chunk.length;
    if (n === 0) return;
    this.length += n;
    if (n >= SMALL_CHUNK) {
      this.parts.push(chunk);
      this.acc = null; // the accumulator is no longer the last entry
      return;
    }
    if (this.acc === null || this.accUsed + n > this.acc.length) {
      this.acc = Buffer.allocUnsafe(ACCUMULATOR_SIZE);
      this.accUsed = 0;
      this.parts.push(this.acc.subarray(0, 0));
    }
    chunk.copy(this.acc, this.accUsed);
    this.accUsed += n;
    this.parts[this.parts.length - 1] = this.acc.subarray(0, this.accUsed);
  }

  /** Forget everything. Any view handed out stays valid: a new accumulator is used from now on. */
  clear(): void {
    this.parts = [];
    this.length = 0;
    this.acc = null;
    this.accUsed = 0;
  }
}
