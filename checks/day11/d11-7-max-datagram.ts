import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { HEADER_SIZE } from '../../shared/protocol/frame.ts';
import { expectEqual, expectTrue, fail, show } from '../harness/assert.ts';
import { tail } from '../harness/process.ts';
import { randInt, type Rng } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import {
  waitExit,
  doneOf,
  startUdpListener,
  startShipper,
  batchFlags,
  udpHolds,
  decodeDatagram,
  recordOfSize,
  idOf,
  linesOf,
} from './support.ts';

export const d11_7: Check = {
  id: 'd11.7',
  title:
    'UDP: no datagram exceeds --max-datagram however records are sized; an exact fit is sent, a record that cannot fit is rejected',
  points: 14,
  timeoutMs: 60_000,
  async run(ctx) {
    const L = randInt(ctx.rng, 600, 1000);
    const P = L - HEADER_SIZE; // payload room
    const lines: string[] = [];
    let id = 0;
    const add = (bytesWithLf: number) => lines.push(recordOfSize(`u-${++id}`, bytesWithLf - 1));
    const rng: Rng = ctx.rng;
    let tooBigId = '';
    for (let block = 0; block < 30; block++) {
      for (let i = randInt(rng, 1, 6); i > 0; i--) add(randInt(rng, 90, 160)); // small ones
      add(P); // an exact fit: alone in its datagram, exactly L bytes
      const a = randInt(rng, 90, P - 100);
      add(a);
      add(P + 1 - a); // together one byte over: must NOT share a datagram
      add(P - randInt(rng, 1, 12)); // near the limit
      if (block === 17) {
        add(P + 1); // one byte too large even alone: rejected
        tooBigId = `u-${id}`;
      }
    }
    const file = path.join(await ctx.tmp(), 'mixed.ndjson');
    await writeFile(file, lines.join('\n') + '\n');
    const udp = await startUdpListener(ctx);
    const u = await startShipper(
      ctx,
      udp.port,
      [
        '--input',
        file,
        '--max-datagram',
        String(L),
        // delay long: a batch leaves by size, or at the end of the input (close); a 20 ms timer sometimes sent
        // the last, partial batch first and hid a close() that drops it (close-drops-partial-batch passed in CI)
        ...batchFlags({ records: 65_535, bytes: '1MiB', delayMs: 30_000 }),
      ],
      { udp: true },
    );
    await waitExit(u, 30_000, 'the UDP shipper sends everything it can and exits');
    await udpHolds(udp, lines.length - 1);
    const where = `udp port ${udp.port}, --max-datagram ${L}`;
    let largest = 0;
    const got: string[] = [];
    for (let d = 0; d < udp.datagrams.length; d++) {
      const buf = udp.datagrams[d]!.buf;
      largest = Math.max(largest, buf.length);
      if (buf.length > L)
        fail({
          expected: `every datagram ≤ --max-datagram (${L} bytes)`,
          received: `datagram ${d + 1} is ${buf.length} bytes`,
          where,
          hint: `your TODO in lessons/day11/shipper.ts (batchLimits): over UDP the 28-byte header counts, a payload may hold ${P} bytes, each record's LF included`,
        });
      got.push(...linesOf(decodeDatagram(buf, `datagram ${d + 1}, ${where}`)).map(idOf));
    }
    const want = lines.map(idOf).filter((x) => x !== tooBigId);
    expectEqual(got, want, {
      what: `the records received (all but ${tooBigId}, in order, once)`,
      where,
      hint: `your TODOs in lessons/day11/batcher.ts (add, fits) and shipper.ts (batchLimits): a record of exactly ${P} bytes with its LF fits (the datagram is then exactly ${L} bytes); only ${tooBigId} (${P + 1} bytes) cannot fit and is rejected`,
    });
    expectEqual(largest, L, { what: 'the largest datagram (the exact fits fill one completely)', where });
    const done = doneOf(u);
    expectEqual(done['rejected'], 1, {
      what: 'done line "rejected" (records too large for any datagram)',
      where: `shipper done line ${show(done, 300)}`,
      hint: 'your TODO in lessons/day11/batcher.ts (fits): a record that cannot fit alone does not fit; the UDP lane then rejects it with a clear error (lessons/day10/README.md, UDP), counted, never sent',
    });
    expectTrue(/too large|cannot fit|LS_ERR_TOO_LARGE/i.test(u.stderrText()), {
      expected: 'a clear error on stderr about the record that cannot fit',
      received: tail(u.stderrText(), 5, 5) || '(empty)',
      where: `pid ${u.pid} stderr`,
    });
  },
};
