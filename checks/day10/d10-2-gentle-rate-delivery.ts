import { expectEqual, expectTrue, fail, show, waitFor } from '../harness/assert.ts';
import { formatRanges, readRecords, statNumber } from '../harness/persisted.ts';
import { randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import { exitedWith } from '../harness/kit/exit.ts';
import { idOf, rxOf, where } from '../harness/kit/records.ts';
import { startReceiver, doneLine, statsNow, waitForStreamCounts } from './support.ts';

// The 10,000 records of the title, at 20,000 records/s (--rate): gentle enough for loopback UDP to lose none.
const N = 10_000;
const RATE = 20_000;

export const d10_2: Check = {
  id: 'd10.2',
  title: '10,000 records through the shipper at a gentle rate: all delivered, none duplicated, _rx has stream and seq',
  points: 10,
  timeoutMs: 60_000,
  async run(ctx) {
    const { rx, dataDir } = await startReceiver(ctx);
    const stream = randInt(ctx.rng, 1, 0xffff_fff0);
    const seed = randInt(ctx.rng, 1, 1_000_000);
    const args = [
      '--target',
      `${rx.host}:${rx.port}`,
      '--generate',
      String(N),
      '--seed',
      String(seed),
      '--rate',
      String(RATE),
      '--stream-id',
      String(stream),
    ];
    const cmd = `shipper ${args.join(' ')}`;
    const res = await ctx.run('shipper', args, { timeoutMs: 30_000 });
    exitedWith(res, 0, cmd, 'the shipper exits 0 once every record was handed to the socket', { tailChars: 400 });
    const done = doneLine(res, cmd);
    ctx.log(`done ${JSON.stringify(done)}`);
    expectEqual(done['sent'], N, { what: 'done line "sent" (records)', where: 'shipper done line' });
    expectEqual(done['rejected'], 0, {
      what: 'done line "rejected"',
      where: 'shipper done line',
      hint: 'generated records (~200 bytes) all fit in a 1472-byte datagram',
    });
    const dgrams = done['datagrams'];
    expectTrue(typeof dgrams === 'number' && dgrams > 0 && dgrams <= N / 3, {
      expected: `done line "datagrams": the number of datagrams sent, a few records each (at most ${N / 3} for ${N} records of ~200 bytes)`,
      received: show(dgrams),
      where: 'shipper done line',
      hint: 'your TODO in lessons/day10/shipper.ts (pack): add records to the open datagram while the next one fits, then close it',
    });

    let persisted = 0;
    let last = -1;
    let lastChange = Date.now();
    // Until all N are there, or the count stops moving for a second (then the checks below say what is missing).
    await waitFor(
      async () => {
        persisted = statNumber(await statsNow(dataDir), 'records.persisted') ?? 0;
        if (persisted !== last) {
          last = persisted;
          lastChange = Date.now();
        }
        return persisted >= N || (persisted > 0 && Date.now() - lastChange > 1000);
      },
      {
        timeoutMs: 10_000,
        what: `stats.json records.persisted to reach ${N}`,
        where: `${dataDir}/stats.json`,
        hint: 'persist every record of every good datagram',
        received: async () => {
          const st = await statsNow(dataDir);
          return `records.persisted = ${persisted}; streams = ${JSON.stringify(st?.streams ?? {})}; udp = ${JSON.stringify(st?.['udp'] ?? null)}`;
        },
      },
    );
    const read = await waitFor(
      async () => {
        const r = await readRecords(dataDir);
        return r.records.length >= persisted ? r : undefined;
      },
      {
        timeoutMs: 5000,
        what: `${persisted} records in <data-dir>/*.ndjson (stats.json records.persisted)`,
        where: dataDir,
      },
    );
    expectTrue(read.invalid.length === 0, {
      expected: 'every line of *.ndjson to be a JSON object',
      received: `${read.invalid.length} bad lines, first: ${show(read.invalid[0]?.text)}`,
      where: read.invalid[0] ? `${read.invalid[0].file} line ${read.invalid[0].lineNo}` : dataDir,
    });
    const ofStream = read.records.filter((p) => rxOf(p)['stream'] === stream);
    expectEqual(ofStream.length, N, {
      what: `records persisted with _rx.stream = ${stream} (--stream-id)`,
      where: dataDir,
      hint: '_rx gets the stream id and the seq of each record: {"ts","peer","lane","stream","seq"}',
    });
    const seen = new Map<number, number>();
    for (const p of ofStream) {
      const meta = rxOf(p);
      const seq = meta['seq'];
      if (typeof seq !== 'number') fail({ expected: '_rx.seq as a number', received: show(meta), where: where(p) });
      seen.set(seq, (seen.get(seq) ?? 0) + 1);
      // --generate N --seed S makes record i (from 1) carry attrs.id "s<S>-<i>": seq i must be record i.
      const id = idOf(p.record);
      if (id !== `s${seed}-${seq}`)
        fail({
          expected: `the record with _rx.seq ${seq} to be generated record #${seq} (attrs.id "s${seed}-${seq}")`,
          received: `attrs.id ${show(id)}`,
          where: where(p),
          hint: 'record i of a BATCH has seq = the frame seq + i; seqs start at 1 and grow by 1 per record',
        });
      if (meta['lane'] !== 'day10' || typeof meta['peer'] !== 'string' || !/^127\.0\.0\.1:\d+$/.test(meta['peer'])) {
        fail({
          expected: '_rx.lane "day10" and _rx.peer "127.0.0.1:<port>" (the datagram\'s source)',
          received: show(meta),
          where: where(p),
        });
      }
    }
    const missing: number[] = [];
    for (let s = 1; s <= N; s++) if (!seen.has(s)) missing.push(s);
    const dups = [...seen].filter(([, n]) => n > 1).map(([s]) => s);
    expectTrue(missing.length === 0 && dups.length === 0, {
      expected: `seqs 1..${N}, each persisted once`,
      received: `missing ${formatRanges(missing)}; duplicated ${formatRanges(dups)}`,
      where: dataDir,
      hint: missing.length
        ? `stats: ${JSON.stringify((await statsNow(dataDir))?.['udp'] ?? null)}`
        : 'a duplicate seq is counted, not written again',
    });
    await waitForStreamCounts(
      dataDir,
      stream,
      { hwm: N, received: N, gaps: 0, duplicates: 0, reordered: 0 },
      5000,
      'your TODOs in lessons/day10/seq-accounting.ts (account, openGap): per stream, hwm is the highest seq seen and received counts the records persisted',
    );
  },
};
