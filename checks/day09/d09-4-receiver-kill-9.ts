import { failNow, show, waitUntil } from '../harness/assert.ts';
import type { Check } from '../harness/types.ts';
import { spawnShipper } from '../harness/kit/programs.ts';
import { at } from '../harness/kit/records.ts';
import { startReceiver, waitExit, expectDelivered, streamOf, expectSeqs, withProxy, shipperBase } from './support.ts';

export const d09_4: Check = {
  id: 'd09.4',
  exclusive: true,
  title: 'Receiver kill -9 three times during 500,000 records: nothing lost or duplicated',
  points: 15,
  timeoutMs: 120_000,
  async run(ctx) {
    // Unpaced and long enough to outlast three restarts: at full speed the receiver is busy, so what a
    // receiver that ACKs too early holds only in memory is sizeable at each kill (a paced shipper at 50,000/s
    // left the sink idle enough that an ACK-before-write receiver sometimes lost nothing); 500,000 records
    // keep the shipper streaming through the third kill (with 200,000 it once finished during a restart).
    const N = 500_000;
    // --fsync always (group commit): an ACK means written and fsynced, and what arrives during an fsync
    // waits in memory, which is what a kill -9 loses, and exactly what must not have been ACKed yet.
    const FSYNC = ['--fsync', 'always'];
    let recv = await startReceiver(ctx, { extra: FSYNC });
    const dataDir = recv.dataDir;
    await withProxy(recv.port, async (proxy) => {
      const sh = spawnShipper(
        ctx,
        await shipperBase(ctx, at(proxy.port), ['--generate', String(N), '--seed', String(ctx.seed % 1_000_000)]),
      );
      // Kill 1 at 30,000 acked; kills 2 and 3 once the restarted receiver has ACKed 10,000 more, so all
      // three land while records are streaming.
      const STEP = 10_000;
      let killAt = 30_000;
      for (let k = 1; k <= 3; k++) {
        const since = sh.events.length;
        await waitUntil(
          () => {
            const ex = sh.exited();
            if (ex)
              failNow({
                expected: `the shipper still streaming at kill ${k} (acked ≥ ${killAt} of ${N})`,
                received: `it exited (code ${ex.exitCode}); last progress ${show(sh.lastEvent('progress') ?? '(none)', 300)}`,
                where: `pid ${sh.pid}`,
                hint: 'harness pacing: the shipper finished before the receiver could be killed three times',
              });
            return sh.events
              .slice(since)
              .some((e) => e.json['event'] === 'progress' && Number(e.json['acked']) >= killAt);
          },
          {
            timeoutMs: 30_000,
            what: `progress with acked ≥ ${killAt}`,
            where: `shipper pid ${sh.pid} stdout`,
            hint: 'acked moves when an ACK frees what it covers (your Outbox.ack, lessons/day09/outbox.ts); after a receiver restart: reconnect, HELLO, resend after its ACK (your resumeAfterHello, lessons/day09/policies.ts)',
            received: () => `last progress ${show(sh.lastEvent('progress') ?? '(none)', 300)}`,
          },
        );
        // Kill it the moment an ACK leaves it: whatever that ACK covers must already be on disk.
        const victim = recv.rx;
        await new Promise<void>((resolve) => {
          const onForward = (dir: string) => {
            if (dir !== 'down') return;
            victim.kill('SIGKILL');
            done();
          };
          const timer = setTimeout(() => {
            victim.kill('SIGKILL');
            done();
          }, 2000);
          const done = () => {
            clearTimeout(timer);
            proxy.off('forward', onForward);
            resolve();
          };
          proxy.on('forward', onForward);
        });
        await victim.waitExit(5000);
        const acked = Number(sh.lastEvent('progress')?.['acked'] ?? 0);
        ctx.log(`kill ${k}: receiver pid ${victim.pid} killed (-9) just after it sent an ACK, around acked ${acked}`);
        recv = await startReceiver(ctx, { dataDir, extra: FSYNC });
        proxy.retarget(recv.port);
        killAt = acked + STEP;
      }
      const exit = await waitExit(
        sh,
        60_000,
        'after the receiver comes back: reconnect, HELLO, resend after its ACK (your resumeAfterHello, lessons/day09/policies.ts)',
      );
      ctx.log(`shipper exit ${exit.exitCode}; proxy ${JSON.stringify(proxy.counters)}`);
      const done = expectDelivered(sh, exit, N);
      await expectSeqs(
        dataDir,
        streamOf(done, sh),
        N,
        'lost: ACK only what is durable — your ACK TODO in lessons/day09/ingest.ts waits for whenStored() (a kill -9 loses what is only in memory); duplicated: dedup against the accepted mark (your dedup TODO there; the marks come back from disk at restart)',
      );
    });
  },
};
