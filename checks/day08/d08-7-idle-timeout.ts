import { expectTrue, waitUntil } from '../harness/assert.ts';
import type { Check } from '../harness/types.ts';
import { sleep } from '../harness/kit/records.ts';
import { RECEIVER, receiverWithClient, line, rec, waitForIds, waitForReject, checkRejectShape } from './support.ts';

export const d08_7: Check = {
  id: 'd08.7',
  title: 'Half a line then silence is cut at --idle-timeout-ms; other clients carry on',
  points: 10,
  timeoutMs: 30_000,
  async run(ctx) {
    const IDLE = 500;
    const EARLY = 100; // may close this much before IDLE after our write (the timer may start at accept)
    const LATE = 1000; // and this much after
    const { rx, dataDir, c: idle } = await receiverWithClient(ctx, ['--idle-timeout-ms', String(IDLE)]);
    const busy = await ctx.connect(rx.host, rx.port);
    const half = '{"ts":"2026-11-26T14:13:48.123Z","level":"info","msg":"half a li';
    let stop = false;
    let busyDone = false;
    const busyIds: string[] = [];
    // Resolves with the CheckFailure if the receiver cuts the busy connection (a write fails).
    const busyLoop = (async () => {
      try {
        for (let i = 0; !stop && i < 40; i++) {
          const id = `busy-${i}`;
          busyIds.push(id);
          await busy.write(line(rec(id)));
          // The pause is what is tested: a client that sends a line every 100 ms is never idle for 500 ms.
          await sleep(100);
        }
      } finally {
        busyDone = true;
      }
    })().then(
      () => undefined,
      (err: unknown) => err,
    );
    await idle.write(half);
    const wroteAt = Date.now();
    ctx.log('half a line written on the idle connection');
    let closedAt: number;
    try {
      closedAt = (
        await idle.waitClosed(IDLE + LATE + 500, `the receiver to close the idle connection after ${IDLE} ms`)
      ).at;
      // Keep the busy client going past the cut (two more of its records written), then stop it.
      const atCut = busyIds.length;
      await waitUntil(() => busyDone || busyIds.length >= atCut + 3, {
        timeoutMs: 5000,
        what: 'the busy client to write two more records after the idle connection was cut',
        where: `connection from ${busy.localPeer}`,
      });
    } finally {
      stop = true;
    }
    const busyError = await busyLoop;
    const elapsed = closedAt - wroteAt;
    ctx.log(`idle connection closed after ${elapsed} ms`);
    expectTrue(elapsed >= IDLE - EARLY && elapsed <= IDLE + LATE, {
      expected: `the idle connection closed ${IDLE} ms after its last byte (allowed: ${IDLE - EARLY}..${IDLE + LATE} ms)`,
      received: `closed after ${elapsed} ms`,
      where: `connection from ${idle.localPeer}`,
      hint: `${RECEIVER} (the idle sweep): cut a connection whose last complete line (conn.lastLineAt) is --idle-timeout-ms old`,
    });
    expectTrue(!busyError && !busy.destroyed && !busy.peerEnded, {
      expected: 'the busy connection (a record every 100 ms) to stay open',
      received: 'the receiver closed it too',
      where: `connection from ${busy.localPeer}`,
      hint: `${RECEIVER} (the idle sweep): compare each connection's own lastLineAt, cut only that one`,
    });
    await waitForIds(dataDir, busyIds, 5000, 'every record of the busy connection is persisted');
    const r = await waitForReject(
      dataDir,
      'idle_timeout',
      5000,
      `${RECEIVER} (the idle sweep): reject the partial line it holds (conn.decoder.buffered()) with reason "idle_timeout", then close the socket`,
    );
    checkRejectShape(r, half, idle.localPeer, 'the idle_timeout reject');
  },
};
