import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { expectEqual, expectTrue, show } from '../harness/assert.ts';
import type { Check } from '../harness/types.ts';
import { waitExit, expectDelivered, streamOf, waitProgress, expectSeqs, withReceiverDown } from './support.ts';

export const d09_6: Check = {
  id: 'd09.6',
  title: 'Receiver down for a while with --spool: everything delivered once it is back',
  points: 10,
  timeoutMs: 60_000,
  async run(ctx) {
    const N = 20_000;
    const spool = path.join(await ctx.tmp(), 'spool');
    const flags = ['--generate', String(N), '--spool', spool, '--queue-records', '500', '--batch-records', '100'];
    await withReceiverDown(ctx, flags, async ({ sh, up }) => {
      const p = await waitProgress(
        sh,
        `progress with read = ${N} while the receiver is down`,
        (j) => Number(j['read']) >= N,
        20_000,
        'past --queue-records in memory, records go to the --spool dir instead of blocking the source: your admit TODO in lessons/day09/policies.ts (q.room(), q.toMemory, q.toSpool)',
        { on: 'read', ms: 3000 },
      );
      const files = await readdir(spool).catch(() => [] as string[]);
      ctx.log(`all ${N} read while refused: progress ${JSON.stringify(p)}; spool dir holds ${files.length} files`);
      expectTrue(Number(p['spooled']) > 0 || files.length > 0, {
        expected: 'records spooled to disk (progress "spooled" > 0, or files in the --spool dir)',
        received: `progress ${show(p)}; spool dir ${show(files)}`,
        where: spool,
        hint: 'memory holds --queue-records at most; the rest goes to the spool (your admit TODO in lessons/day09/policies.ts)',
      });
      expectTrue(Number(p['queued']) <= 500, {
        expected: 'at most --queue-records 500 records in memory ("queued")',
        received: show(p),
        where: `shipper pid ${sh.pid} progress`,
        hint: 'queued = records held in memory (open batch + outbox): admit takes at most q.room() into memory (lessons/day09/policies.ts)',
      });
      expectEqual(p['acked'], 0, {
        what: 'acked while the receiver is down',
        where: `shipper pid ${sh.pid} progress`,
      });
      // fsync every 20 ms: with 500 records in memory at most, each ACK round trip waits for one fsync.
      const recv = await up({ extra: ['--fsync-interval-ms', '20'] });
      const exit = await waitExit(
        sh,
        40_000,
        'once the receiver is up, reconnect and send the spool in seq order (behind a non-empty spool, new records go to the spool too: your admit TODO in lessons/day09/policies.ts)',
      );
      const done = expectDelivered(sh, exit, N);
      expectTrue(Number(done['spooled']) > 0, {
        expected: 'done line "spooled" > 0',
        received: show(done['spooled']),
        where: 'shipper done line',
        hint: 'count records that went through the spool',
      });
      await expectSeqs(
        recv.dataDir,
        streamOf(done, sh),
        N,
        'spooled records keep their seqs and go out in order, before what came after them: while the spool holds anything, admit sends new records to the spool (lessons/day09/policies.ts)',
      );
    });
  },
};
