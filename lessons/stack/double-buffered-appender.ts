/**
 * Record lines on their way to the FileSink, through two buffers that take turns: one collects, the
 * other is being written. At most one append is in flight, so the sink writes one big buffer at a time
 * and never has to join many small ones (group commit: whatever arrived while a write ran goes in the
 * next one); and the two buffers are reused for ever, so a lane writing hundreds of MB/s makes next to
 * no garbage for the GC to chase.
 *
 * The collecting side is a RecordOutput (shared/protocol/syslog/writer.ts): the syslog lane's record writers
 * write straight into it, so a record is built once, where the file write takes it from — no copy.
 * Bytes made elsewhere (a worker thread's records) are copied in with add().
 *
 * It relies on FileSink no longer holding a buffer once `whenWritten` has resolved for it (true of
 * shared/storage/file-sink.ts: it writes the bytes, then forgets them); that is when a buffer takes its
 * next turn.
 */
import { RecordOutput } from '../../shared/protocol/syslog/writer.ts';
import type { FileSink } from '../../shared/storage/file-sink.ts';

export class DoubleBufferedAppender {
  /** the collecting buffer: writers may write complete lines into it directly (then call flush()) */
  readonly output: RecordOutput;
  /** the other buffer: being written while `writing`, free otherwise */
  private spare: Buffer;
  private writing = false;
  /** appends handed to the sink so far (a generation per flush) */
  private flushed = 0;
  private written = 0;
  /** bytes handed to the sink so far */
  private handed = 0;
  private readonly waiters: Array<{ gen: number; resolve: () => void; reject: (e: Error) => void }> = [];
  private failed: Error | undefined;

  constructor(
    private readonly sink: FileSink,
    initialBytes = 4 << 20,
    /** called after each write completes (the lane re-checks its backpressure then) */
    private readonly onWritten: () => void = () => {},
  ) {
    this.output = new RecordOutput(Buffer.allocUnsafeSlow(initialBytes));
    this.spare = Buffer.allocUnsafeSlow(initialBytes);
  }

  /** bytes collected and not yet handed to the sink */
  get pendingBytes(): number {
    return this.output.len;
  }

  /** every byte collected so far (handed to the sink or not) */
  get totalBytes(): number {
    return this.handed + this.output.len;
  }

  /** Copies `bytes` (complete lines) in; they reach the sink with the next flush. */
  add(bytes: Buffer): void {
    this.output.add(bytes);
  }

  /** Hands what was collected to the sink now, unless a write is in flight (then it goes right after). */
  flush(): void {
    if (this.writing || this.output.len === 0 || this.failed) return;
    const full = this.output.buf;
    // The collecting buffer grew (a write took long): the other one grows with it, once, rather than
    // growing again — allocating and copying — on every turn.
    if (this.spare.length < full.length) this.spare = Buffer.allocUnsafeSlow(full.length);
    const view = this.output.swap(this.spare);
    this.spare = full;
    this.handed += view.length;
    this.writing = true;
    const gen = ++this.flushed;
    let ticket: number;
    try {
      ticket = this.sink.append(view);
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    this.sink.whenWritten(ticket).then(
      () => {
        this.writing = false;
        this.written = gen;
        for (let i = this.waiters.length - 1; i >= 0; i--) {
          const w = this.waiters[i]!;
          if (w.gen <= gen) {
            this.waiters.splice(i, 1);
            w.resolve();
          }
        }
        this.flush();
        this.onWritten();
      },
      (err: Error) => this.fail(err),
    );
  }

  /** Resolves once everything added so far has been written by the sink (handed to the kernel). */
  whenWritten(): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    const gen = this.flushed + (this.output.len > 0 ? 1 : 0);
    if (gen <= this.written) return this.sink.whenWritten(this.sink.position);
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ gen, resolve, reject }));
    this.flush();
    return p;
  }

  /** Everything collected, written (the lane's shutdown, before sink.close()). */
  async drain(): Promise<void> {
    while (this.output.len > 0 || this.writing) await this.whenWritten();
  }

  private fail(err: Error): void {
    this.failed = err;
    this.writing = false;
    for (const w of this.waiters.splice(0)) w.reject(err);
  }
}
