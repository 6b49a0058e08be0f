/**
 * Day 09 shipper, --follow: the acknowledged read position of the followed file, written to the state
 * dir (lessons/day09/shipper-state.ts) at most every 200 ms, and at once when asked (the first HELLO's
 * answer, the end). What position is acknowledged is day 09's advanceFollow policy [d09.5]; this only
 * keeps writing it without a write per ACK.
 */
import type { FollowState, ShipperState } from './shipper-state.ts';

export class FollowSaver {
  private savedAt = 0;
  private timer: NodeJS.Timeout | undefined;

  /** `acked`: where a resumed run starts (state.followOf(input)), undefined for a fresh one */
  constructor(
    private readonly state: ShipperState,
    private acked: FollowState | undefined,
  ) {}

  /** A new acknowledged position: written now or within 200 ms. */
  save(pos: FollowState): void {
    this.acked = pos;
    this.write(false);
  }

  /** The stream's base is known (first HELLO answered): a fresh run starts "from the file's start, after seq base". */
  based(path: string, base: number): void {
    this.acked ??= { path, dev: 0, ino: 0, pos: 0, seq: base };
    this.write(true);
  }

  /** The end: the last acknowledged position, written now (if there is one). */
  flush(): void {
    if (this.acked) this.write(true);
  }

  private write(now: boolean): void {
    const since = Date.now() - this.savedAt;
    if (now || since >= 200) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.savedAt = Date.now();
      this.state.saveFollow(this.acked!);
    } else {
      this.timer ??= setTimeout(() => this.write(true), 200 - since);
    }
  }
}
