import { HEADER_SIZE } from '../../shared/protocol/frame.ts';
import { expectEqual, expectTrue, fail, show, waitFor } from '../harness/assert.ts';
import { pick, randInt, type Rng } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import { exitedWith } from '../harness/kit/exit.ts';
import { doneLine, type Received, udpListener, decodeDatagram, TS } from './support.ts';

/** A record of exactly `bytes` UTF-8 bytes (as JSON text), padded with 1-, 2- and 3-byte characters. */
function recOfBytes(id: string, bytes: number, rng: Rng): string {
  const base = JSON.stringify({ ts: TS, level: 'info', msg: '', attrs: { id } });
  let pad = bytes - Buffer.byteLength(base);
  if (pad < 0) throw new RangeError(`a record cannot be as small as ${bytes} bytes`);
  let msg = '';
  while (pad > 0) {
    const r = rng();
    if (pad >= 3 && r < 0.3) {
      msg += '€';
      pad -= 3;
    } else if (pad >= 2 && r < 0.6) {
      msg += 'é';
      pad -= 2;
    } else {
      msg += pick(rng, ['a', 'b', 'x', ' ', '7']);
      pad -= 1;
    }
  }
  const text = JSON.stringify({ ts: TS, level: 'info', msg, attrs: { id } });
  if (Buffer.byteLength(text) !== bytes)
    throw new Error(`recOfBytes: made ${Buffer.byteLength(text)} bytes, wanted ${bytes}`);
  return text;
}

/** Greedy in-order packing: the fewest datagrams any shipper keeping the order can use. */
function greedyDatagrams(sizes: number[], maxPayload: number): number {
  let n = 0;
  let open = 0;
  for (const s of sizes) {
    if (open > 0 && open + s <= maxPayload) open += s;
    else {
      n++;
      open = s;
    }
  }
  return n;
}

export const d10_6: Check = {
  id: 'd10.6',
  title:
    'The shipper never sends a datagram over --max-datagram, packs records tightly, and rejects a record that cannot fit',
  points: 15,
  timeoutMs: 40_000,
  async run(ctx) {
    const M = pick(ctx.rng, [700, 1200, 1472]);
    const limit = M - HEADER_SIZE - 1; // the largest record that fits (its LF takes the last byte)
    const N = 200;
    const records: string[] = [];
    for (let i = 0; i < N; i++) {
      const r = ctx.rng();
      const size =
        r < 0.55
          ? randInt(ctx.rng, 90, 300)
          : r < 0.75
            ? limit - randInt(ctx.rng, 0, 40)
            : r < 0.85
              ? limit
              : Math.floor(limit / 2) - randInt(ctx.rng, 0, 1);
      records.push(recOfBytes(`p-${i}`, size, ctx.rng));
    }
    // The second run: one record a single byte too large, among good ones.
    const over: string[] = [];
    for (let i = 0; i < 10; i++) over.push(recOfBytes(`q-${i}`, randInt(ctx.rng, 90, 200), ctx.rng));
    const bigAt = randInt(ctx.rng, 2, 8);
    over.splice(bigAt, 0, recOfBytes('too-big', limit + 1, ctx.rng));

    const streamA = randInt(ctx.rng, 1, 0x7fff_ffff);
    const streamB = streamA + 1;
    const [la, lb] = await Promise.all([udpListener(), udpListener()]);
    try {
      const argsA = [
        '--target',
        `127.0.0.1:${la.port}`,
        '--input',
        '-',
        '--max-datagram',
        String(M),
        '--stream-id',
        String(streamA),
        '--rate',
        '20000',
      ];
      const argsB = [
        '--target',
        `127.0.0.1:${lb.port}`,
        '--input',
        '-',
        '--max-datagram',
        String(M),
        '--stream-id',
        String(streamB),
      ];
      const [ra, rb] = await Promise.all([
        ctx.run('shipper', argsA, { input: `${records.join('\n')}\n`, timeoutMs: 25_000 }),
        ctx.run('shipper', argsB, { input: `${over.join('\n')}\n`, timeoutMs: 25_000 }),
      ]);
      const cmdA = `shipper ${argsA.join(' ')}`;
      exitedWith(ra, 0, cmdA, 'every record fits: exit 0', { tailChars: 400 });
      const doneA = doneLine(ra, cmdA);
      ctx.log(`run A (${N} records, --max-datagram ${M}): ${JSON.stringify(doneA)}`);
      expectEqual(doneA['sent'], N, { what: 'done line "sent"', where: 'shipper done line (run A)' });
      await waitFor(() => la.datagrams.reduce((n, d) => n + d.bytes.readUInt16BE(6), 0) >= N, {
        timeoutMs: 5000,
        what: `the check's socket to receive datagrams holding ${N} records`,
        where: `udp 127.0.0.1:${la.port}`,
        received: () => `${la.datagrams.length} datagrams`,
      });

      const check = (dgs: Received[], stream: number, want: string[], run: string) => {
        let nextSeq = 1;
        const got: string[] = [];
        dgs.forEach((d, i) => {
          const at = `datagram #${i + 1} of ${dgs.length} (${run})`;
          expectTrue(d.bytes.length <= M, {
            expected: `every datagram ≤ --max-datagram ${M} bytes`,
            received: `${d.bytes.length} bytes`,
            where: at,
            hint: `your TODO in lessons/day10/shipper.ts (pack): the 28-byte header counts, the payload (maxPayload) may hold ${M - HEADER_SIZE} bytes, each record plus its LF, counted in BYTES (UTF-8), not characters`,
          });
          const dec = decodeDatagram(d.bytes);
          if (typeof dec === 'string')
            fail({
              expected: 'exactly one valid BATCH frame per datagram',
              received: dec,
              where: at,
              hint: 'one closed datagram = one encodeBatch() frame',
            });
          expectEqual(dec.frame.stream, stream, { what: 'frame stream (--stream-id)', where: at });
          expectEqual(dec.frame.seq, nextSeq, {
            what: 'frame seq (the seq of its first record; seqs grow by one per record, from 1)',
            where: at,
            hint: 'your TODO in lessons/day10/shipper.ts (pack): a rejected record never joins a datagram, so it takes no seq (otherwise the receiver counts a gap that is no loss)',
          });
          nextSeq += dec.frame.count;
          got.push(...dec.lines);
        });
        const firstDiff = want.findIndex((r, i) => got[i] !== r);
        expectTrue(got.length === want.length && firstDiff === -1, {
          expected: `the ${want.length} records, in order, byte for byte`,
          received: `${got.length} records${firstDiff >= 0 ? `; record ${firstDiff + 1} is ${show(got[firstDiff]?.slice(0, 120))}, expected ${show(want[firstDiff]?.slice(0, 120))}` : ''}`,
          where: run,
        });
      };
      check(la.datagrams, streamA, records, 'run A');
      const sizes = records.map((r) => Buffer.byteLength(r) + 1);
      const greedy = greedyDatagrams(sizes, M - HEADER_SIZE);
      const allowed = Math.ceil(greedy * 1.25) + 2;
      ctx.log(
        `run A: ${la.datagrams.length} datagrams (greedy packing: ${greedy}); largest ${Math.max(...la.datagrams.map((d) => d.bytes.length))} bytes`,
      );
      expectTrue(la.datagrams.length <= allowed, {
        expected: `records packed into few datagrams: at most ${allowed} (in-order packing needs ${greedy})`,
        received: `${la.datagrams.length} datagrams`,
        where: 'run A',
        hint: 'your TODO in lessons/day10/shipper.ts (pack): add records to the open datagram while the next one fits (payload + record ≤ maxPayload), then close it',
      });
      expectTrue(
        la.datagrams.some((d) => d.bytes.length === M),
        {
          expected: `a record of exactly ${limit} bytes to travel in a datagram of exactly ${M} bytes (the limit is inclusive)`,
          received: `no datagram of ${M} bytes; sizes seen: ${[...new Set(la.datagrams.map((d) => d.bytes.length))]
            .sort((a, b) => b - a)
            .slice(0, 8)
            .join(', ')}`,
          where: 'run A',
          hint: 'a datagram may be exactly --max-datagram bytes',
        },
      );

      // Run B: the oversized record is rejected with a clear error; the others go out around it.
      const cmdB = `shipper ${argsB.join(' ')}`;
      const doneB = doneLine(rb, cmdB);
      ctx.log(`run B: ${JSON.stringify(doneB)}; stderr ${show(rb.stderr.slice(-300))}`);
      expectEqual(doneB['rejected'], 1, {
        what: `done line "rejected" (one record of ${limit + 1} bytes cannot fit in ${M - HEADER_SIZE} bytes of payload)`,
        where: 'shipper done line (run B)',
        hint: 'your TODO in lessons/day10/shipper.ts (pack): a record that cannot fit alone goes to reject() (counted, an error on stderr), never into a datagram',
      });
      expectEqual(doneB['sent'], over.length - 1, {
        what: 'done line "sent" (the other records)',
        where: 'shipper done line (run B)',
      });
      exitedWith(rb, 1, cmdB, 'exit 1 when a record could not be sent', { tailChars: 400 });
      expectTrue(rb.stderr.includes(String(M)), {
        expected: `a clear error on stderr naming the limit (--max-datagram ${M})`,
        received: show(rb.stderr.trim().slice(0, 400) || '(empty stderr)'),
        where: 'shipper stderr (run B)',
        hint: 'say which record, how big it is, and the limit it broke',
      });
      await waitFor(() => lb.datagrams.reduce((n, d) => n + d.bytes.readUInt16BE(6), 0) >= over.length - 1, {
        timeoutMs: 5000,
        what: `the check's socket to receive the ${over.length - 1} records that fit`,
        where: `udp 127.0.0.1:${lb.port}`,
        received: () => `${lb.datagrams.length} datagrams`,
      });
      check(
        lb.datagrams,
        streamB,
        over.filter((_, i) => i !== bigAt),
        'run B',
      );
    } finally {
      la.close();
      lb.close();
    }
  },
};
