import { expectEqual, expectTrue, fail, show, waitFor } from '../harness/assert.ts';
import { formatRanges, readRecords, readStats, statNumber } from '../harness/persisted.ts';
import type { Rng } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import { idOf } from '../harness/kit/records.ts';
import { RECEIVER, startReceiver, line, rec, randomMsg, randomCuts } from './support.ts';

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
    const { rx, dataDir } = await startReceiver(ctx);
    const c = await ctx.connect(rx.host, rx.port);
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
    const sigtermAt = Date.now();
    const res = await rx.stop(8000);
    ctx.log(`SIGTERM → exit code ${res.exitCode}, signal ${res.signal}, after ${res.ms} ms`);
    if (res.timedOut)
      fail({
        expected: 'exit within 5 s of SIGTERM',
        received: 'still running after 8 s (killed)',
        where: `pid ${rx.pid}`,
        hint: `${RECEIVER} (SIGTERM): close the server AND the open connections; server.close() alone waits for every client to leave`,
      });
    expectTrue(res.exitCode === 0 && res.signal === null, {
      expected: 'exit code 0 after SIGTERM',
      received: `exit code ${res.exitCode}, signal ${res.signal}; stderr tail: ${show(rx.stderrText().trim().slice(-300))}`,
      where: `pid ${rx.pid}`,
      hint: `${RECEIVER} (SIGTERM): stop accepting, flush, write stats, then return (the shutdown helper exits 0)`,
    });
    expectTrue(res.ms <= 5000, {
      expected: 'exit within 5000 ms of SIGTERM',
      received: `${res.ms} ms`,
      where: `pid ${rx.pid}`,
    });
    const read = await readRecords(dataDir);
    const partial = read.files.find((f) => f.endsInPartialLine);
    expectTrue(!partial, {
      expected: 'no *.ndjson ending in a partial line after SIGTERM',
      received: `ends in ${show(partial?.partialTail)}`,
      where: partial?.file ?? dataDir,
      hint: `${RECEIVER} (SIGTERM): close the sink (await sink.close()) before exiting`,
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
    const stats = await readStats(dataDir).catch((err: Error) =>
      fail({ expected: 'stats.json to be JSON', received: err.message, where: `${dataDir}/stats.json` }),
    );
    if (!stats) fail({ expected: 'stats.json written at shutdown', received: 'no stats.json', where: dataDir });
    const updatedAt = stats['updatedAt'];
    const updatedMs =
      typeof updatedAt === 'string' ? Date.parse(updatedAt) : typeof updatedAt === 'number' ? updatedAt : NaN;
    expectTrue(updatedMs >= sigtermAt - 5, {
      expected: `stats.json updatedAt ≥ the SIGTERM time ${new Date(sigtermAt).toISOString()}`,
      received: show(updatedAt),
      where: `${dataDir}/stats.json`,
      hint: `${RECEIVER} (SIGTERM): write the final stats (await statsWriter.stop()) after the sink is closed`,
    });
    expectEqual(statNumber(stats, 'records.persisted'), read.records.length, {
      what: 'final stats.json records.persisted (= records in the files)',
      where: `${dataDir}/stats.json`,
    });
  },
};
