// The machine, shared by every copy graded at once (issue 19): a check takes it shared, an `exclusive`
// check (heavy or timing-sensitive: d14.2's open loop, …; Check.exclusive in checks/dayNN.ts) takes it
// alone. First come, first served: a shared request behind a waiting exclusive one waits too, so an
// exclusive check is never starved by a stream of others.
export class MachineLock {
  private shared = 0;
  private alone = false;
  private readonly queue: Array<{ exclusive: boolean; grant: () => void }> = [];

  acquire(exclusive: boolean): Promise<() => void> {
    return new Promise((resolve) => {
      this.queue.push({
        exclusive,
        grant: () => {
          let released = false;
          resolve(() => {
            if (released) return;
            released = true;
            if (exclusive) this.alone = false;
            else this.shared--;
            this.pump();
          });
        },
      });
      this.pump();
    });
  }

  /** What holds it now (for tests and the progress line). */
  state(): { shared: number; alone: boolean; waiting: number } {
    return { shared: this.shared, alone: this.alone, waiting: this.queue.length };
  }

  private pump(): void {
    while (this.queue.length > 0 && !this.alone) {
      const head = this.queue[0]!;
      if (head.exclusive && this.shared > 0) return;
      this.queue.shift();
      if (head.exclusive) this.alone = true;
      else this.shared++;
      head.grant();
    }
  }
}
