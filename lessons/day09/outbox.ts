/**
 * A shipper's unacknowledged batches, in seq order (shared/protocol/README.md §4): the at-least-once half of day 09.
 *
 *   [ in flight (sent, no ACK yet) | never sent / to send again ]
 *     ▲ ack(S) forgets every record ≤ S   ▲ takeToSend() moves the next one into flight, window allowing
 *
 * A batch leaves the outbox only when an ACK covers it. When a connection is lost, `rewind()` makes every
 * batch "to send" again; the next HELLO's ACK then says where the receiver stands, `ack()` forgets what it
 * already holds — re-slicing a batch it holds only the start of — and the rest is sent again.
 *
 * The window (--window-batches, --window-bytes) bounds what is in flight: enough to keep the pipe full
 * while the receiver fsyncs, not so much that a reconnect resends the world.
 *
 * A batch is kept as its encoded NDJSON payload (one Buffer, outside the JS heap) rather than as record
 * strings: a shipper holding 200,000 unacknowledged records would otherwise make every garbage
 * collection walk 200,000 strings. Seqs here are the shipper's own (consecutive within a batch); mapping
 * them to wire seqs is the caller's business.
 */
export interface OutBatch {
  /** seq of the first record */
  firstSeq: number;
  /** records in the payload */
  count: number;
  /** the records as NDJSON, one per line, final LF included (a BATCH payload before compression) */
  payload: Buffer;
  /** how many times it was put on a connection (0 = never sent) */
  sends: number;
}

export interface WindowLimits {
  /** batches in flight at most */
  maxBatches: number;
  /** payload bytes in flight at most (one batch may always go, however big) */
  maxBytes: number;
}

export class Outbox {
  /** live batches are q[head..]; those in q[head..sentEnd) are in flight */
  private q: OutBatch[] = [];
  private head = 0;
  private sentEnd = 0;
  /** records held (in flight + to send) */
  records = 0;
  /** payload bytes held */
  bytes = 0;
  /** payload bytes in flight */
  inflightBytes = 0;

  constructor(private readonly window: WindowLimits) {
    if (!(window.maxBatches >= 1) || !(window.maxBytes >= 1)) throw new RangeError('window limits must be at least 1');
  }

  /** batches held */
  get length(): number {
    return this.q.length - this.head;
  }

  /** batches in flight */
  get inflight(): number {
    return this.sentEnd - this.head;
  }

  /** batches waiting to be sent (never sent, or to send again after a reconnect) */
  get waiting(): number {
    return this.q.length - this.sentEnd;
  }

  /** one past the highest seq held, or undefined when empty */
  get endSeq(): number | undefined {
    if (this.length === 0) return undefined;
    const last = this.q[this.q.length - 1]!;
    return last.firstSeq + last.count;
  }

  /** Adds a batch after the others; its seqs must follow theirs (gaps allowed: dropped records). */
  push(batch: OutBatch): void {
    const end = this.endSeq;
    if (batch.count < 1) throw new RangeError('Outbox: empty batch');
    if (end !== undefined && batch.firstSeq < end)
      throw new RangeError(`Outbox: batch at seq ${batch.firstSeq} overlaps the held seqs (up to ${end - 1})`);
    this.q.push(batch);
    this.records += batch.count;
    this.bytes += batch.payload.length;
  }

  /** The next batch to put on the connection, now counted in flight; undefined when none or the window is full. */
  takeToSend(): OutBatch | undefined {
    const b = this.q[this.sentEnd];
    if (b === undefined) return undefined;
    const inflight = this.inflight;
    if (inflight >= this.window.maxBatches) return undefined;
    if (inflight > 0 && this.inflightBytes + b.payload.length > this.window.maxBytes) return undefined;
    this.sentEnd++;
    this.inflightBytes += b.payload.length;
    b.sends++;
    return b;
  }

  // @solution [d09.1, d09.3, d09.4, d09.5, d09.6, d09.7, d09.8] ack(seq) forgets every record ≤ seq (a batch covered in part keeps its tail, re-sliced) and returns how many; rewind() makes every batch in flight "to send" again
  // @stub ack(_seq: number): number { return 0; }
  // @stub rewind(): void {}
  /**
   * A cumulative ACK: every record with seq ≤ `seq` is safe. Forgets them — a batch covered in part keeps
   * its unacknowledged tail, re-sliced to start after `seq` — and returns how many records were forgotten.
   */
  ack(seq: number): number {
    const LF = 0x0a;
    let acked = 0;
    while (this.head < this.q.length) {
      const b = this.q[this.head]!;
      const size = b.payload.length;
      if (b.firstSeq + b.count - 1 <= seq) {
        // wholly covered
        acked += b.count;
        this.records -= b.count;
        this.bytes -= size;
        if (this.head < this.sentEnd) this.inflightBytes -= size;
        else this.sentEnd++;
        this.q[this.head] = undefined as unknown as OutBatch; // let it be collected
        this.head++;
        continue;
      }
      if (b.firstSeq <= seq) {
        // covered in part: keep the records after `seq` (the payload is one record per line)
        const k = seq - b.firstSeq + 1;
        let cut = 0;
        for (let j = 0; j < k; j++) cut = b.payload.indexOf(LF, cut) + 1;
        b.payload = b.payload.subarray(cut);
        b.firstSeq = seq + 1;
        b.count -= k;
        acked += k;
        this.records -= k;
        this.bytes -= cut;
        if (this.head < this.sentEnd) this.inflightBytes -= cut;
      }
      break;
    }
    this.compact();
    return acked;
  }

  /** The connection is gone: whatever was in flight is to be sent again (after the next HELLO's ACK). */
  rewind(): void {
    this.sentEnd = this.head;
    this.inflightBytes = 0;
  }
  // @end-solution

  /** drop-oldest: removes and returns the oldest batch never sent (one sent before may be stored already). */
  dropOldestUnsent(): OutBatch | undefined {
    let i = this.sentEnd;
    while (i < this.q.length && this.q[i]!.sends > 0) i++;
    const b = this.q[i];
    if (b === undefined) return undefined;
    this.q.splice(i, 1);
    this.records -= b.count;
    this.bytes -= b.payload.length;
    return b;
  }

  /** All held batches, oldest first. */
  *batches(): IterableIterator<OutBatch> {
    for (let i = this.head; i < this.q.length; i++) yield this.q[i]!;
  }

  /** Gives back the slots of forgotten batches (after ack). */
  compact(): void {
    if (this.head === this.q.length) {
      this.q = [];
      this.sentEnd -= this.head;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.q.length) {
      this.q = this.q.slice(this.head);
      this.sentEnd -= this.head;
      this.head = 0;
    }
  }
}
