import { expectTrue, show, waitFor } from '../harness/assert.ts';
import { readRejects } from '../harness/persisted.ts';
import { randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import {
  PERSIST_MS,
  startSyslogLane,
  withStacks,
  connectTcp,
  write,
  recordsIn,
  waitForMsgs,
  octet,
} from './support.ts';

export const stack_5: Check = {
  id: 'stack.5',
  title:
    'malformed syslog (bad PRI, a count over the limit, a truncated octet-counted message) is rejected per message with its reason; the connection and the lane carry on',
  points: 15,
  timeoutMs: 45_000,
  run: withStacks(async (ctx) => {
    const { tcp, host, dataDir } = await startSyslogLane(ctx, ['--max-message-bytes', '1024']);
    const n = randInt(ctx.rng, 1000, 9999);
    const good = (i: number) => `<13>1 - h bad-input-app - - - good ${n} ${i}`;
    const a = await connectTcp(host, tcp);
    const b = await connectTcp(host, tcp);
    try {
      // connection A: bad ones between good ones, each framing the way it must be resynchronised
      await write(a, `<999>1 - h bad-input-app - - - bad pri ${n}\n`); // LF framing: resync at the LF
      await write(a, octet(good(1)));
      await write(a, `2000 ${'x'.repeat(2000)}`); // a count over the 1024 limit: skipped, exactly
      await write(a, octet(good(2)));
      await write(a, `${good(3)}\n`);
      await waitForMsgs(
        ctx,
        dataDir,
        [1, 2, 3].map((i) => `good ${n} ${i}`),
        'the good messages around the bad ones, on the same connection',
      );
      // connection B: a message, then an octet-counted one cut by the end of the stream
      await write(b, octet(good(4)));
      b.end(`90 ${good(99)}`);
      await waitForMsgs(ctx, dataDir, [`good ${n} 4`], 'the message before the truncated one');
      // A is still read after all that, and a new connection works: the lane carries on
      await write(a, `${good(5)}\n`);
      const c = await connectTcp(host, tcp);
      await write(c, octet(good(6)));
      c.end();
      await waitForMsgs(
        ctx,
        dataDir,
        [`good ${n} 5`, `good ${n} 6`],
        'a message on the first connection after the errors, and one on a new connection',
      );
      const want = ['syslog_bad_pri', 'syslog_count_too_large', 'syslog_truncated'];
      let rejects: Array<Record<string, unknown>> = [];
      await waitFor(
        async () => (rejects = (await readRejects(dataDir)).rejects.map((r) => r.reject)).length >= want.length,
        {
          timeoutMs: PERSIST_MS,
          what: `${want.length} rejects in rejects.ndjson`,
          where: dataDir,
          signal: ctx.signal,
          received: () => show(rejects),
          hint: 'every message that cannot be read is one line in rejects.ndjson: {ts, peer, reason, sample}',
        },
      );
      const reasons = rejects.map((r) => r.reason).sort();
      expectTrue(JSON.stringify(reasons) === JSON.stringify(want), {
        expected: `one reject per bad message, reasons ${want.join(', ')}`,
        received: show(rejects),
        where: `${dataDir}/rejects.ndjson`,
        hint: "reasons are the syslog codec's names (shared/protocol/syslog/errors.ts, lessons/stack/syslog-framing.ts)",
      });
      for (const r of rejects)
        expectTrue(typeof r.sample === 'string' && typeof r.peer === 'string', {
          expected: 'each reject with its peer and a sample of the bytes',
          received: show(r),
        });
      expectTrue(String(rejects.find((r) => r.reason === 'syslog_bad_pri')?.sample).includes(`bad pri ${n}`), {
        expected: 'the bad-PRI reject to sample that message',
        received: show(rejects.find((r) => r.reason === 'syslog_bad_pri')),
      });
      const recs = await recordsIn(dataDir);
      expectTrue(recs.length === 6, {
        expected: '6 records (the good messages only)',
        received: `${recs.length}: ${show(recs.map((r) => r.record.msg))}`,
        where: dataDir,
      });
    } finally {
      a.destroy();
      b.destroy();
    }
  }),
};
