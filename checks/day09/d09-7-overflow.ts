import { expectEqual, expectTrue, show } from '../harness/assert.ts';
import { formatRanges } from '../harness/persisted.ts';
import { tail } from '../harness/process.ts';
import type { Check } from '../harness/types.ts';
import {
  type Rec,
  waitExit,
  doneOf,
  streamOf,
  waitProgress,
  recordsOf,
  waitStat,
  withReceiverDown,
} from './support.ts';

// N records read while the receiver is down, Q of them held in memory (--queue-records): N - Q must be dropped.
const N = 5000;
const Q = 1000;

export const d09_7: Check = {
  id: 'd09.7',
  title: 'Overflow: drop-newest / drop-oldest drop exactly what they report; the receiver counts the gap',
  points: 10,
  timeoutMs: 60_000,
  async run(ctx) {
    for (const policy of ['drop-newest', 'drop-oldest'] as const) {
      const flags = [
        '--generate',
        String(N),
        '--queue-records',
        String(Q),
        '--overflow',
        policy,
        '--batch-records',
        '100',
      ];
      await withReceiverDown(ctx, flags, async ({ sh, up }) => {
        const p = await waitProgress(
          sh,
          `progress with read = ${N} (--overflow ${policy}, receiver unreachable)`,
          (j) => Number(j['read']) >= N,
          20_000,
          `with --overflow ${policy} the source is never blocked: past --queue-records, records are dropped and counted (your overflow TODO in lessons/day09/policies.ts: q.skip, q.discardOldestUnsent, q.dropped)`,
          { on: 'read', ms: 3000 },
        );
        ctx.log(`${policy}: all read while refused: ${JSON.stringify(p)}`);
        const recv = await up();
        const exit = await waitExit(sh, 30_000, 'once the receiver is up, send what was kept');
        const done = doneOf(sh);
        ctx.log(`${policy}: done ${JSON.stringify(done)}`);
        expectEqual(done['dropped'], N - Q, {
          what: `done line "dropped" with --overflow ${policy}, --queue-records ${Q}, --generate ${N}`,
          where: `shipper done line ${show(done, 300)}`,
          hint: `memory holds ${Q} records; the other ${N - Q} are dropped, and your overflow TODO (lessons/day09/policies.ts) counts each dropped record once with q.dropped(k, …)`,
        });
        expectTrue(exit.exitCode === 0, {
          expected: 'exit 0 (acked + dropped == read)',
          received: `exit code ${exit.exitCode}; stderr tail:\n${tail(sh.stderrText(), 5, 10)}`,
          where: `pid ${sh.pid}`,
        });
        const stream = streamOf(done, sh);
        const records = await recordsOf(recv.dataDir, stream);
        const seqs = records.map((r) => (r.record['_rx'] as Rec)['seq'] as number);
        const want = policy === 'drop-newest' ? [1, Q] : [N - Q + 1, N];
        const wrong = seqs.filter((s) => s < want[0]! || s > want[1]!);
        const ok =
          seqs.length === Q &&
          wrong.length === 0 &&
          new Set(seqs).size === Q &&
          seqs.every((s, i) => i === 0 || s > seqs[i - 1]!);
        expectTrue(ok, {
          expected: `persisted seqs exactly ${want[0]}..${want[1]} of stream ${stream} (--overflow ${policy}), in order`,
          received: `${seqs.length} records, seqs ${formatRanges([...new Set(seqs)].sort((a, b) => a - b))}`,
          where: recv.dataDir,
          hint:
            policy === 'drop-newest'
              ? 'your overflow TODO (lessons/day09/policies.ts): drop-newest keeps what is held and drops what arrives; a dropped record still uses up its seq (q.skip)'
              : 'your overflow TODO (lessons/day09/policies.ts): drop-oldest throws away the oldest held, never sent records (q.discardOldestUnsent) to make room for new ones; seqs are assigned when read, so the survivors are the last 1000',
        });
        if (policy === 'drop-oldest') {
          await waitStat(
            recv.dataDir,
            `streams.${stream}.gaps`,
            (v) => v === N - Q,
            `= ${N - Q}`,
            5000,
            'a first seq above the accepted mark + 1 is a gap: your dedup/gap TODO in lessons/day09/ingest.ts counts the missing seqs in marks.stats.gaps (stats.json streams[<id>].gaps)',
          );
        }
      });
    }
  },
};
