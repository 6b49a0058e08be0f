import { appendFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expectTrue, fail, show } from '../harness/assert.ts';
import { formatRanges, readRecords, readStats, statNumber, verifySeqs } from '../harness/persisted.ts';
import { tail } from '../harness/process.ts';
import { randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import { spawnShipper } from '../harness/kit/programs.ts';
import { at, idOf } from '../harness/kit/records.ts';
import { type Rec, startReceiver, waitExit, doneOf, waitProgress, rec, waitStat, shipperBase } from './support.ts';

export const d09_5: Check = {
  id: 'd09.5',
  title: 'Shipper kill -9 while following a file, restarted: resumes, nothing lost or duplicated',
  points: 10,
  timeoutMs: 90_000,
  async run(ctx) {
    const { rx, dataDir } = await startReceiver(ctx);
    const file = path.join(await ctx.tmp(), 'app.log');
    const stateDir = await ctx.tmp();
    const ids: string[] = [];
    const lines = (from: number, n: number) => {
      let text = '';
      for (let i = from; i < from + n; i++) {
        const id = `fl-${i}`;
        ids.push(id);
        text += `${JSON.stringify(rec(id, ctx.rng))}\n`;
      }
      return text;
    };
    /** appends in a few writes, as a logging process would */
    const append = async (text: string) => {
      const cuts = [
        0,
        ...[1, 2, 3]
          .map(() => text.indexOf('\n', randInt(ctx.rng, 0, text.length - 1)) + 1)
          .filter((x) => x > 0)
          .sort((a, b) => a - b),
        text.length,
      ];
      for (let i = 1; i < cuts.length; i++)
        if (cuts[i]! > cuts[i - 1]!) await appendFile(file, text.slice(cuts[i - 1], cuts[i]));
    };
    await writeFile(file, lines(0, 3000));
    const args = await shipperBase(ctx, at(rx.port), ['--input', file, '--follow'], stateDir);
    const first = spawnShipper(ctx, args);
    await waitStat(
      dataDir,
      'records.persisted',
      (v) => (v ?? 0) >= 1000,
      '≥ 1000',
      20_000,
      'with --follow the shipper ships the lines already in the file, then what is appended',
      first,
    );
    await append(lines(3000, 6000));
    await waitProgress(
      first,
      'progress with read > 3000 (the appended lines are being read)',
      (j) => Number(j['read']) > 3000,
      20_000,
      '--follow keeps reading lines appended to the file',
    );
    first.kill('SIGKILL');
    await waitExit(first, 5000, 'SIGKILL');
    const persistedAtKill = statNumber(await readStats(dataDir).catch(() => null), 'records.persisted');
    ctx.log(`shipper killed (-9) with ~${persistedAtKill} records persisted`);
    // While it is down: more lines, the last one only half written.
    const whileDown = lines(9000, 2000);
    const half = JSON.stringify(rec('fl-split', ctx.rng));
    ids.push('fl-split');
    await append(whileDown);
    await appendFile(file, half.slice(0, 40));
    const second = spawnShipper(ctx, args);
    await appendFile(file, `${half.slice(40)}\n`);
    await append(lines(11_000, 2000));
    const total = ids.length;
    await waitStat(
      dataDir,
      'records.persisted',
      (v) => (v ?? 0) >= total,
      `≥ ${total}`,
      30_000,
      'the restarted shipper resumes after its last ACKed line (kept in --state-dir by your advanceFollow, lessons/day09/policies.ts) and follows the file on',
      second,
    );
    // Stop the shipper before counting: whatever it still had to send (a duplicate, say) is in by then.
    const stopped = Date.now();
    second.kill('SIGTERM');
    const exit = await waitExit(second, 6000, 'SIGTERM: stop reading, drain, done line, exit 0 within 5 s');
    expectTrue(exit.exitCode === 0, {
      expected: 'exit 0 after SIGTERM (everything read was ACKed)',
      received: `exit code ${exit.exitCode}, signal ${exit.signal} after ${exit.at - stopped} ms; stderr tail:\n${tail(second.stderrText(), 5, 10)}`,
      where: `pid ${second.pid}`,
    });
    doneOf(second);
    const read = await readRecords(dataDir);
    const count = new Map<string, number>();
    for (const p of read.records) {
      const id = idOf(p.record);
      if (id !== undefined) count.set(id, (count.get(id) ?? 0) + 1);
    }
    const missing = ids.filter((id) => !count.has(id));
    const dups = [...count].filter(([, n]) => n > 1).map(([id]) => id);
    const foreign = read.records.filter((p) => {
      const id = idOf(p.record);
      return id === undefined || !id.startsWith('fl-');
    });
    if (missing.length || dups.length || foreign.length || read.invalid.length) {
      fail({
        expected: `each of the ${total} appended lines persisted exactly once`,
        received: `${read.records.length} records: ${missing.length} missing${missing.length ? ` (e.g. ${missing.slice(0, 3).join(', ')})` : ''}, ${dups.length} duplicated${dups.length ? ` (e.g. ${dups.slice(0, 3).join(', ')})` : ''}, ${foreign.length} not lines of the file${foreign.length ? ` (e.g. ${show(foreign[0]!.raw.slice(0, 120))} — a half-written line shipped early?)` : ''}, ${read.invalid.length} invalid lines`,
        where: dataDir,
        hint: "duplicated: the stored read position must move only over lines whose records are ACKed (your advanceFollow, lessons/day09/policies.ts), and a restart resumes after the HELLO's ACK (your resumeAfterHello); missing: every line after the stored position is read again with the same seqs",
      });
    }
    const stream = (read.records[0]!.record['_rx'] as Rec)['stream'] as number;
    const r = verifySeqs(read.records, { stream });
    expectTrue(r.lost.length === 0 && r.duplicated.length === 0 && r.count === total && r.maxSeq === total, {
      expected: `seqs 1..${total} of stream ${stream}, each once`,
      received: `lost ${formatRanges(r.lost)}; duplicated ${formatRanges(r.duplicated)}; ${r.count} records; highest seq ${r.maxSeq}`,
      where: dataDir,
      hint: 'a restarted shipper keeps its stream id and numbers each line as before',
    });
  },
};
