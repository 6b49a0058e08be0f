import { expectTrue, show, waitUntil } from '../harness/assert.ts';
import type { Check, WatchedProgram } from '../harness/types.ts';
import { spawnShipper } from '../harness/kit/programs.ts';
import { at } from '../harness/kit/records.ts';
import {
  type Json,
  startReceiver,
  waitExit,
  expectDelivered,
  streamOf,
  expectSeqs,
  withProxy,
  shipperBase,
} from './support.ts';

/** Waits until a progress line satisfies `cond` or the program exits; true for the former. */
async function progressOrExit(
  p: WatchedProgram,
  what: string,
  cond: (j: Json) => boolean,
  timeoutMs: number,
  hint = '--progress-ms N prints {"event":"progress",…} every N ms',
): Promise<boolean> {
  const hit = await waitUntil(
    () =>
      p.events.some((e) => e.json['event'] === 'progress' && cond(e.json)) ? 'hit' : p.exited() ? 'exited' : undefined,
    {
      timeoutMs,
      what: `${what} (or the shipper to finish)`,
      where: `shipper pid ${p.pid} stdout`,
      hint,
      received: () => `last progress line ${show(p.lastEvent('progress') ?? '(none)', 300)}`,
    },
  );
  return hit === 'hit';
}

export const d09_3: Check = {
  id: 'd09.3',
  exclusive: true,
  title:
    '200,000 records through a fault proxy that cuts every ~0.5 s: every seq 1..N persisted exactly once, in order',
  points: 20,
  timeoutMs: 90_000,
  async run(ctx) {
    const N = 200_000;
    // ACKs every 100 ms (--fsync interval), not per group commit: a cut then always finds batches sent and not
    // yet ACKed, so the shipper resends and the receiver must drop what it already has. With group commit on a
    // quiet machine every batch could be ACKed before the cut, and a receiver without dedup would pass.
    const { rx, dataDir } = await startReceiver(ctx, { extra: ['--fsync', 'interval'] });
    await withProxy(rx.port, async (proxy) => {
      proxy.schedule({ action: 'cut', everyMs: 500 });
      const sh = spawnShipper(
        ctx,
        await shipperBase(ctx, at(proxy.port), ['--generate', String(N), '--seed', String(ctx.seed % 1_000_000)]),
      );
      // Also cut at fixed points of the run, so even a very fast shipper meets a few cuts mid-stream.
      const marks = [0.2, 0.5, 0.8].map((f) => Math.floor(N * f));
      for (const m of marks) {
        if (
          !(await progressOrExit(
            sh,
            `progress with sent ≥ ${m}`,
            (j) => Number(j['sent']) >= m,
            30_000,
            'the window only lets more go out once ACKs free it: your Outbox.ack (lessons/day09/outbox.ts) forgets what an ACK covers',
          ))
        )
          break;
        proxy.cut();
      }
      const exit = await waitExit(
        sh,
        60_000,
        'after a cut: reconnect (with backoff), HELLO, and resend what was not ACKed: your resumeAfterHello (lessons/day09/policies.ts) and Outbox.rewind/ack (lessons/day09/outbox.ts)',
      );
      ctx.log(`shipper exit ${exit.exitCode}; proxy ${JSON.stringify(proxy.counters)}`);
      const done = expectDelivered(
        sh,
        exit,
        N,
        '; after each cut resend everything not yet ACKed (your resumeAfterHello in lessons/day09/policies.ts)',
      );
      ctx.log(`done ${JSON.stringify(done)}`);
      expectTrue(proxy.counters.connectionsBroken >= 2, {
        expected: 'the proxy to have cut at least 2 live connections (harness self-test)',
        received: `${proxy.counters.connectionsBroken} cut`,
        where: 'FaultProxy counters',
      });
      await expectSeqs(
        dataDir,
        streamOf(done, sh),
        N,
        "lost: resend every unacknowledged batch after reconnecting, starting after the HELLO's ACK (your resumeAfterHello in lessons/day09/policies.ts, Outbox.rewind in outbox.ts); duplicated: drop what the receiver already accepted (your dedup TODO in lessons/day09/ingest.ts)",
      );
    });
  },
};
