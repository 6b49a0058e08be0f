import { expectEqual, expectTrue, waitFor } from '../harness/assert.ts';
import { formatRanges, readRecords, readStats, statNumber } from '../harness/persisted.ts';
import type { Rng } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import { idOf } from '../harness/kit/records.ts';
import { expectFinalStats, expectSigtermExit } from '../harness/kit/shutdown.ts';
import { RECEIVER, receiverWithClient, line, rec, randomMsg, randomCuts } from './support.ts';

function asciiMsg(rng: Rng): string {
  return randomMsg(rng).replace(/[^\x20-\x7e]/g, '?');
}

export const d08_9: Check = {
  id: 'd08.9',
  title: 'SIGTERM: exit 0 within 5 s, nothing lost, no partial line, final stats.json',
  points: 10,
  timeoutMs: 30_000,
  async run(ctx) {
    const N = 300;
    const { rx, dataDir, c } = await receiverWithClient(ctx);
    const ids: string[] = [];
    let text = '';
    for (let i = 0; i < N; i++) {
      const id = `sigterm-${i}`;
      ids.push(id);
      text += line(rec(id, { msg: asciiMsg(ctx.rng) }));
    }
    await c.writeSplit(
      `${text}{"ts":"2026-11-26T14:13:48.123Z","level":"info","msg":"half a`,
      randomCuts(ctx.rng, text.length),
    );
    // SIGTERM once the receiver has the lines (stats says so, or they are on disk): not before.
    await waitFor(
      async () =>
        (statNumber(await readStats(dataDir).catch(() => null), 'records.received') ?? 0) >= N ||
        (await readRecords(dataDir)).records.length >= N,
      {
        timeoutMs: 5000,
        what: `the receiver to take in the ${N} lines (stats.json records.received or the *.ndjson files)`,
        where: dataDir,
      },
    );
    const { sigtermAt, read } = await expectSigtermExit(ctx, rx, dataDir, {
      hang: `${RECEIVER} (SIGTERM): close the server AND the open connections; server.close() alone waits for every client to leave`,
      exit: `${RECEIVER} (SIGTERM): stop accepting, flush, write stats, then return (the shutdown helper exits 0)`,
      partial: `${RECEIVER} (SIGTERM): close the sink (await sink.close()) before exiting`,
    });
    const seen = new Map<string, number>();
    for (const p of read.records) {
      const id = idOf(p.record);
      if (id !== undefined) seen.set(id, (seen.get(id) ?? 0) + 1);
    }
    const missing = ids.map((id, i) => (seen.has(id) ? -1 : i)).filter((i) => i >= 0);
    expectTrue(missing.length === 0, {
      expected: `all ${N} complete lines persisted`,
      received: `${missing.length} missing (line numbers ${formatRanges(missing)})`,
      where: dataDir,
      hint: `${RECEIVER} (SIGTERM): keep reading until the wire is quiet (--drain-quiet-ms), then flush what is buffered`,
    });
    const dups = [...seen].filter(([, n]) => n > 1);
    expectTrue(dups.length === 0 && read.records.length === N, {
      expected: `exactly ${N} records (the half line is not a record)`,
      received: `${read.records.length} records, ${dups.length} duplicated`,
      where: dataDir,
    });
    const stats = await expectFinalStats(
      dataDir,
      sigtermAt,
      `${RECEIVER} (SIGTERM): write the final stats (await statsWriter.stop()) after the sink is closed`,
    );
    expectEqual(statNumber(stats, 'records.persisted'), read.records.length, {
      what: 'final stats.json records.persisted (= records in the files)',
      where: `${dataDir}/stats.json`,
    });
  },
};
