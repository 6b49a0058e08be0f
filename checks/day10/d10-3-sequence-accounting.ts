import { expectEqual, expectTrue, fail, show, waitFor } from '../harness/assert.ts';
import { formatRanges, readRecords, statNumber } from '../harness/persisted.ts';
import { randInt, type Rng } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import { idOf, rxOf, where } from '../harness/kit/records.ts';
import { batchDatagram, startReceiver, udpPeer, statsNow, type SeqCounts, waitForStreamCounts } from './support.ts';

/** A run of seqs sent in one datagram. */
type Batch = { seq: number; count: number };

/**
 * The accounting model of the README (and lessons/day10/README.md (UDP)), run by the check on what it sent: per record with
 * seq q, q > hwm + 1 opens a gap, q ≤ hwm fills a gap (reordered) or is a duplicate.
 */
function expectedCounts(sends: readonly Batch[]): SeqCounts & { persisted: Set<number> } {
  let hwm = 0;
  const missing = new Set<number>();
  const c = { hwm: 0, received: 0, gaps: 0, duplicates: 0, reordered: 0, persisted: new Set<number>() };
  for (const { seq, count } of sends) {
    for (let q = seq; q < seq + count; q++) {
      if (q > hwm) {
        for (let m = hwm + 1; m < q; m++) missing.add(m);
        c.gaps += q - hwm - 1;
        hwm = q;
        c.received++;
        c.persisted.add(q);
      } else if (missing.delete(q)) {
        c.gaps--;
        c.reordered++;
        c.received++;
        c.persisted.add(q);
      } else {
        c.duplicates++;
      }
    }
  }
  c.hwm = hwm;
  return c;
}

/**
 * What the check sends (drawn from `rng`, so a seed replays it): stream A, seqs 1..MAX cut into batches, some of
 * them dropped, swapped, repeated, and a few resends that overlap what came before; stream B (A + 1) interleaved,
 * in order, with one run of seqs skipped. `order` names each datagram (stream, first seq + count) for the log.
 */
function sendPlan(rng: Rng) {
  const A = randInt(rng, 1, 0x7fff_ffff);
  const B = A + 1;
  const MAX = 150;
  const batches: Batch[] = [];
  for (let s = 1; s <= MAX;) {
    const count = Math.min(randInt(rng, 1, 4), MAX - s + 1);
    batches.push({ seq: s, count });
    s += count;
  }
  const plan: Batch[] = [];
  const delayed: Array<{ at: number; b: Batch }> = [];
  for (let i = 0; i < batches.length; i++) {
    const b = batches[i]!;
    const r = rng();
    if (r < 0.12) continue; // lost
    if (r < 0.24)
      delayed.push({ at: i + randInt(rng, 1, 4), b }); // late: after a few later batches
    else plan.push(b);
    if (rng() < 0.1) delayed.push({ at: i + randInt(rng, 0, 3), b }); // a copy, now or a little later
    for (const d of delayed.filter((x) => x.at === i)) plan.push(d.b);
  }
  for (const d of delayed.filter((x) => x.at >= batches.length)) plan.push(d.b);
  for (let k = 0; k < 4; k++) {
    // Resends that straddle what came before: part duplicates or fills, part new.
    const at = randInt(rng, 1, plan.length - 1);
    const seq = randInt(rng, 1, MAX - 4);
    plan.splice(at, 0, { seq, count: randInt(rng, 2, 5) });
  }
  const planB: Batch[] = [
    { seq: 1, count: 3 },
    { seq: 4, count: 3 },
    { seq: 10, count: 2 },
    { seq: 12, count: 1 },
  ];
  const datagrams: Buffer[] = [];
  const order: string[] = [];
  const send = (stream: number, name: string, b: Batch) => {
    datagrams.push(batchDatagram(stream, b.seq, b.count, name));
    order.push(`${name}${b.seq}+${b.count}`);
  };
  let bi = 0;
  for (let i = 0; i < plan.length; i++) {
    send(A, 'A', plan[i]!);
    if (i % 7 === 3 && bi < planB.length) send(B, 'B', planB[bi++]!);
  }
  while (bi < planB.length) send(B, 'B', planB[bi++]!);
  return { A, B, sentA: plan, sentB: planB, datagrams, order };
}

export const d10_3: Check = {
  id: 'd10.3',
  title:
    'Sequence accounting is exact: skipped, repeated and reordered seqs are counted as gaps, duplicates, reordered',
  points: 25,
  timeoutMs: 30_000,
  async run(ctx) {
    const { rx, dataDir } = await startReceiver(ctx);
    const { A, B, sentA, sentB, datagrams, order } = sendPlan(ctx.rng);
    const wantA = expectedCounts(sentA);
    const wantB = expectedCounts(sentB);
    ctx.log(
      `stream A=${A}: ${sentA.length} datagrams, expected ${JSON.stringify({ ...wantA, persisted: wantA.persisted.size })}`,
    );
    ctx.log(`stream B=${B}: expected ${JSON.stringify({ ...wantB, persisted: wantB.persisted.size })}`);
    ctx.log(`send order (stream, first seq + count): ${order.join(' ')}`);

    const peer = await udpPeer(rx.host, rx.port);
    try {
      // One at a time over loopback: nothing is lost or reordered on the way, only by our plan.
      const errors = await peer.sendAll(datagrams, 1);
      expectEqual(errors, 0, {
        what: 'failed sends from the check',
        where: `udp ${rx.host}:${rx.port}`,
        hint: 'is the receiver bound to the UDP port it announced?',
      });
    } finally {
      peer.close();
    }
    const hint =
      'your TODOs in lessons/day10/seq-accounting.ts (account, openGap): per record with seq q: q > hwm + 1 → gaps += q - hwm - 1 (remember the missing seqs); q ≤ hwm and q was missing → reordered++, gaps--; q ≤ hwm otherwise → duplicates++ (not written again). received counts records persisted (new ones)';
    const { persisted: pa, ...countsA } = wantA;
    const { persisted: pb, ...countsB } = wantB;
    await waitForStreamCounts(dataDir, A, countsA, 5000, hint);
    await waitForStreamCounts(dataDir, B, countsB, 5000, hint);

    // The files hold each seq that arrived exactly once, with the right record at the right seq.
    const total = pa.size + pb.size;
    const read = await waitFor(
      async () => {
        const r = await readRecords(dataDir);
        return r.records.length >= total ? r : undefined;
      },
      {
        timeoutMs: 5000,
        what: `${total} records in <data-dir>/*.ndjson`,
        where: dataDir,
        received: async () => `${(await readRecords(dataDir)).records.length} records`,
      },
    );
    for (const [stream, name, want] of [
      [A, 'A', pa],
      [B, 'B', pb],
    ] as const) {
      const got = new Map<number, number>();
      for (const p of read.records) {
        const meta = rxOf(p);
        if (meta['stream'] !== stream) continue;
        const seq = meta['seq'] as number;
        got.set(seq, (got.get(seq) ?? 0) + 1);
        if (idOf(p.record) !== `${name}-${seq}`)
          fail({
            expected: `the record persisted with _rx.seq ${seq} to be record ${name}-${seq}`,
            received: `attrs.id ${show(idOf(p.record))}`,
            where: where(p),
            hint: 'record i of a BATCH has seq = the frame seq + i',
          });
      }
      const missing = [...want].filter((s) => !got.has(s)).sort((a, b) => a - b);
      const extra = [...got.keys()].filter((s) => !want.has(s)).sort((a, b) => a - b);
      const dups = [...got]
        .filter(([, n]) => n > 1)
        .map(([s]) => s)
        .sort((a, b) => a - b);
      expectTrue(missing.length === 0 && extra.length === 0 && dups.length === 0, {
        expected: `stream ${name} (${stream}): each seq that arrived persisted exactly once (${want.size} seqs)`,
        received: `missing ${formatRanges(missing) || 'none'}; unexpected ${formatRanges(extra) || 'none'}; written more than once ${formatRanges(dups) || 'none'}`,
        where: dataDir,
        hint: 'your TODOs in lessons/day10/seq-accounting.ts (account, openGap): a late record that fills a gap is persisted (its mask bit 1); a duplicate is counted and not written again (0)',
      });
    }
    const dupTotal = countsA.duplicates + countsB.duplicates;
    await waitFor(async () => statNumber(await statsNow(dataDir), 'records.duplicates') === dupTotal, {
      timeoutMs: 3000,
      what: `stats.json records.duplicates = ${dupTotal} (the streams' duplicates summed)`,
      where: `${dataDir}/stats.json`,
      received: async () => `records.duplicates = ${show(statNumber(await statsNow(dataDir), 'records.duplicates'))}`,
    });
  },
};
