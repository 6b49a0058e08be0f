import { encodeBatch } from '../../shared/protocol/batch.ts';
import { encodeFrame, encodePing, FrameType, HEADER_SIZE } from '../../shared/protocol/frame.ts';
import { expectEqual, expectTrue, show, waitFor } from '../harness/assert.ts';
import { formatRanges, readRecords, readRejects, statNumber } from '../harness/persisted.ts';
import { randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import { rxOf, where } from '../harness/kit/records.ts';
import { type Rec, startReceiver, udpPeer, TS, recText, statsNow, waitForStreamCounts } from './support.ts';

export const d10_5: Check = {
  id: 'd10.5',
  title:
    'Garbage, truncated frames and bad CRCs are counted by reason and sampled at a bounded rate; good datagrams around them are persisted',
  points: 15,
  timeoutMs: 40_000,
  async run(ctx) {
    const SAMPLES_PER_SEC = 20;
    const { rx, dataDir, startedAt } = await startReceiver(ctx, [
      '--max-datagram',
      '2000',
      '--reject-samples-per-sec',
      String(SAMPLES_PER_SEC),
    ]);
    const G = randInt(ctx.rng, 1, 0x7fff_ffff);
    const H = G + 1;
    const N = 30;
    const BAD_SEQ = randInt(ctx.rng, 3, N - 2);
    const good: Buffer[] = [];
    for (let seq = 1; seq <= N; seq += 2) {
      const records = [seq, seq + 1].map((s) =>
        s === BAD_SEQ ? JSON.stringify({ ts: TS, msg: 'no level', attrs: { id: `G-${s}` } }) : recText(`G-${s}`),
      );
      good.push(encodeBatch({ stream: G, seq, records }));
    }
    const garbage = () => {
      const b = Buffer.alloc(randInt(ctx.rng, 40, 300));
      for (let i = 0; i < b.length; i++) b[i] = randInt(ctx.rng, 0, 255);
      b[0] = randInt(ctx.rng, 0, 0x4b); // never "L": not a frame
      return b;
    };
    const frameH = (seq: number) => encodeBatch({ stream: H, seq, records: [recText(`H-${seq}`)] });
    const flipped = (i: number) => {
      // A copy of good datagram i with one character of a msg changed: still valid JSON, wrong CRC.
      const b = Buffer.from(good[i]!);
      const at = b.indexOf('record G-', HEADER_SIZE);
      b[at] = 'R'.charCodeAt(0);
      return b;
    };
    const oneGood = good[0]!;
    const countMismatch = encodeFrame({
      type: FrameType.BATCH,
      stream: H,
      seq: 20,
      count: 3,
      payload: Buffer.from(`${recText('H-20')}\n${recText('H-21')}\n`),
    });
    const malformed: Array<{ reason: string; bytes: Buffer; before?: number }> = [
      { reason: 'bad_magic', bytes: garbage() },
      { reason: 'bad_magic', bytes: garbage() },
      { reason: 'bad_magic', bytes: garbage() },
      { reason: 'truncated', bytes: Buffer.from('hello') },
      { reason: 'truncated', bytes: oneGood.subarray(0, randInt(ctx.rng, 5, HEADER_SIZE - 1)) },
      { reason: 'truncated', bytes: oneGood.subarray(0, randInt(ctx.rng, HEADER_SIZE + 1, oneGood.length - 1)) },
      { reason: 'bad_crc', bytes: flipped(3), before: 3 },
      { reason: 'bad_crc', bytes: flipped(9), before: 9 },
      { reason: 'not_batch', bytes: encodePing(42) },
      { reason: 'trailing_bytes', bytes: Buffer.concat([frameH(1), frameH(2)]) },
      { reason: 'bad_count', bytes: countMismatch },
      {
        reason: 'too_large',
        bytes: encodeBatch({ stream: H, seq: 30, records: [recText('H-30', { msg: 'y'.repeat(2500) })] }),
      },
    ];
    // Interleave: a corrupted copy right before its good original; the rest at random places.
    const datagrams: Buffer[] = [];
    const labels: string[] = [];
    const loose = malformed.filter((m) => m.before === undefined);
    for (let i = 0; i < good.length; i++) {
      for (const m of malformed.filter((x) => x.before === i)) {
        datagrams.push(m.bytes);
        labels.push(m.reason);
      }
      if (loose.length && ctx.rng() < 0.7) {
        const m = loose.splice(randInt(ctx.rng, 0, loose.length - 1), 1)[0]!;
        datagrams.push(m.bytes);
        labels.push(m.reason);
      }
      datagrams.push(good[i]!);
      labels.push(`good(G ${2 * i + 1}-${2 * i + 2})`);
    }
    for (const m of loose) {
      datagrams.push(m.bytes);
      labels.push(m.reason);
    }
    ctx.log(`send order: ${labels.join(', ')}`);
    const expected: Record<string, number> = {};
    for (const m of malformed) expected[m.reason] = (expected[m.reason] ?? 0) + 1;

    const peer = await udpPeer(rx.host, rx.port);
    try {
      await peer.sendAll(datagrams, 1);
      // Counted by reason.
      let seenMalformed: unknown;
      await waitFor(
        async () => {
          const st = await statsNow(dataDir);
          const m = st?.['udp'] && typeof st['udp'] === 'object' ? (st['udp'] as Rec)['malformed'] : undefined;
          seenMalformed = m;
          if (!m || typeof m !== 'object') return false;
          const mm = m as Rec;
          return Object.entries(expected).every(([k, v]) => mm[k] === v) && mm['total'] === malformed.length;
        },
        {
          timeoutMs: 5000,
          what: `stats.json udp.malformed = ${JSON.stringify({ total: malformed.length, ...expected })}`,
          where: `${dataDir}/stats.json`,
          hint: 'your TODO in lessons/day10/receiver.ts (oneFrame): one datagram = exactly one BATCH frame with a good CRC. Reasons: bad_magic (not "LS"), truncated (shorter than its header or its declared length), trailing_bytes (more than one frame), bad_crc, not_batch, bad_count (count ≠ lines), too_large (over --max-datagram)',
          received: () => `udp.malformed = ${JSON.stringify(seenMalformed ?? null)}`,
        },
      );

      // The good datagrams around them: every record persisted once, with its own content; the invalid
      // record rejected with its seq; nothing from a malformed datagram persisted.
      const want = N - 1;
      const read = await waitFor(
        async () => {
          const r = await readRecords(dataDir);
          return r.records.filter((p) => rxOf(p)['stream'] === G).length >= want ? r : undefined;
        },
        {
          timeoutMs: 5000,
          what: `${want} records of stream ${G} in <data-dir>/*.ndjson`,
          where: dataDir,
          received: async () => `${(await readRecords(dataDir)).records.length} records in all`,
        },
      );
      const ofH = read.records.filter((p) => rxOf(p)['stream'] === H);
      expectTrue(ofH.length === 0, {
        expected: 'no record from a malformed datagram persisted',
        received: `${ofH.length}, e.g. ${show(ofH[0]?.raw.slice(0, 160))}`,
        where: ofH[0] ? where(ofH[0]) : dataDir,
        hint: 'a datagram with two frames, a wrong count or over --max-datagram is malformed as a whole',
      });
      const seqs = new Map<number, number>();
      for (const p of read.records.filter((x) => rxOf(x)['stream'] === G)) {
        const seq = rxOf(p)['seq'] as number;
        seqs.set(seq, (seqs.get(seq) ?? 0) + 1);
        expectEqual(p.record['msg'], `record G-${seq}`, {
          what: `msg of the record with seq ${seq}`,
          where: where(p),
          hint: 'a datagram whose CRC does not match is malformed: never persist its records',
        });
      }
      const missing: number[] = [];
      for (let s = 1; s <= N; s++) if (s !== BAD_SEQ && !seqs.has(s)) missing.push(s);
      const twice = [...seqs].filter(([, n]) => n > 1).map(([s]) => s);
      expectTrue(missing.length === 0 && twice.length === 0 && !seqs.has(BAD_SEQ), {
        expected: `stream ${G}: seqs 1..${N} but ${BAD_SEQ} (an invalid record) persisted once each`,
        received: `missing ${formatRanges(missing) || 'none'}; twice ${formatRanges(twice) || 'none'}; seq ${BAD_SEQ} ${seqs.has(BAD_SEQ) ? 'persisted' : 'not persisted'}`,
        where: dataDir,
      });
      await waitForStreamCounts(
        dataDir,
        G,
        { hwm: N, received: N, gaps: 0, duplicates: 0, reordered: 0 },
        3000,
        'malformed datagrams do not touch the accounting; an invalid record counts as received (shared/protocol/README.md §3)',
      );

      // Sampled into rejects.ndjson: one entry per reason at least, with the sender and a sample.
      const reasons = Object.keys(expected);
      const { rejects } = await waitFor(
        async () => {
          const r = await readRejects(dataDir);
          const have = new Set(r.rejects.map((x) => x.reject['reason']));
          return reasons.every((x) => have.has(x)) && have.has('missing_level') ? r : undefined;
        },
        {
          timeoutMs: 5000,
          what: `rejects.ndjson entries with reasons ${reasons.join(', ')} and missing_level`,
          where: `${dataDir}/rejects.ndjson`,
          received: async () =>
            `reasons ${show([...new Set((await readRejects(dataDir)).rejects.map((x) => x.reject['reason']))])}`,
        },
      );
      for (const r of rejects) {
        const at = `rejects.ndjson line ${r.lineNo}`;
        expectEqual(r.reject['peer'], peer.localPeer, {
          what: `"peer" of the ${String(r.reject['reason'])} reject`,
          where: at,
          hint: "peer = the datagram's source address:port",
        });
        const sample = r.reject['sample'];
        expectTrue(typeof sample === 'string' && sample.length > 0 && Buffer.byteLength(sample) <= 3 * 256, {
          expected: 'a non-empty "sample" of at most 256 bytes of the datagram',
          received: show(sample),
          where: at,
        });
      }
      const inv = rejects.find((r) => r.reject['reason'] === 'missing_level')!;
      expectEqual(inv.reject['seq'], BAD_SEQ, {
        what: 'the missing_level reject\'s "seq"',
        where: `rejects.ndjson line ${inv.lineNo}`,
        hint: 'an invalid record inside a good frame is rejected with its seq',
      });

      // A flood: every datagram counted, but only a bounded number sampled (the disk must not fill up).
      const FLOOD = 3000;
      const ROUND = 300;
      for (let sent = 0; sent < FLOOD; sent += ROUND) {
        await peer.sendAll(
          Array.from({ length: ROUND }, () => Buffer.from(`garbage ${sent} ${'z'.repeat(80)}`)),
          32,
        );
        const wantBad = expected['bad_magic']! + sent + ROUND;
        await waitFor(async () => statNumber(await statsNow(dataDir), 'udp.malformed.bad_magic') === wantBad, {
          timeoutMs: 5000,
          what: `stats.json udp.malformed.bad_magic = ${wantBad} (every flood datagram counted)`,
          where: `${dataDir}/stats.json`,
          received: async () =>
            `udp.malformed.bad_magic = ${show(statNumber(await statsNow(dataDir), 'udp.malformed.bad_magic'))}`,
        });
      }
    } finally {
      peer.close();
    }
    // Whatever was sampled reaches the file: wait until it holds as many lines as stats.json says were written.
    await waitFor(
      async () => {
        const written = statNumber(await statsNow(dataDir), 'udp.samples.written');
        return written !== undefined && (await readRejects(dataDir)).rejects.length >= written;
      },
      {
        timeoutMs: 3000,
        what: 'rejects.ndjson to hold every sample stats.json counts as written (udp.samples.written)',
        where: `${dataDir}/rejects.ndjson`,
      },
    );
    const lifeSec = (Date.now() - startedAt) / 1000;
    const { rejects } = await readRejects(dataDir);
    const budget = Math.ceil(SAMPLES_PER_SEC * (lifeSec + 1)) + SAMPLES_PER_SEC + 5;
    ctx.log(
      `rejects.ndjson holds ${rejects.length} lines after ${lifeSec.toFixed(1)} s and a flood of 3000 garbage datagrams (budget ${budget})`,
    );
    expectTrue(rejects.length <= budget, {
      expected: `at most ~${SAMPLES_PER_SEC} samples a second in rejects.ndjson (--reject-samples-per-sec ${SAMPLES_PER_SEC}): ≤ ${budget} lines after ${lifeSec.toFixed(1)} s`,
      received: `${rejects.length} lines for 3000+ malformed datagrams`,
      where: `${dataDir}/rejects.ndjson`,
      hint: 'your TODO in lessons/day10/receiver.ts (malformed): count every malformed datagram, but write a sample only while the token bucket `samples` allows it',
    });
  },
};
