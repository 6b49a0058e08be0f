import { encodeBatch } from '../../shared/protocol/batch.ts';
import { encodeHello } from '../../shared/protocol/frame.ts';
import { expectEqual, expectTrue, fail, show } from '../harness/assert.ts';
import { randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import { idOf, where, withoutRx } from '../harness/kit/records.ts';
import { type Rec, startReceiver, rec, streamId, waitAck, expectSeqs, waitStat } from './support.ts';

export const d09_2: Check = {
  id: 'd09.2',
  title: 'Handshake: HELLO on a fresh receiver → ACK 0; after 1,000 records → ACK 1000',
  points: 10,
  timeoutMs: 30_000,
  async run(ctx) {
    const { rx, dataDir } = await startReceiver(ctx);
    const S = streamId(ctx.rng);
    const c = await ctx.connect(rx.host, rx.port);
    await c.write(encodeHello(S, { name: 'check-d09.2' }));
    const first = await waitAck(
      c,
      S,
      0,
      5000,
      'a HELLO is answered with an ACK (type 3) holding the highest durable seq of that stream: 0 for a new one (your onHello TODO in lessons/day09/ingest.ts)',
    );
    expectEqual(first[0], 0, {
      what: `the ACK to the HELLO of a new stream ${S}`,
      where: `connection from ${c.localPeer}`,
      hint: 'a stream never seen has nothing durable: ACK seq 0 (your onHello TODO in lessons/day09/ingest.ts)',
    });

    // 1,000 records in batches of seeded sizes, written in pieces split at random offsets.
    const N = 1000;
    const sent: Rec[] = [];
    const frames: Buffer[] = [];
    for (let seq = 1; seq <= N;) {
      const n = Math.min(N - seq + 1, randInt(ctx.rng, 1, 150));
      const records: string[] = [];
      for (let i = 0; i < n; i++) {
        const r = rec(`hs-${seq + i}`, ctx.rng);
        sent.push(r);
        records.push(JSON.stringify(r));
      }
      frames.push(encodeBatch({ stream: S, seq, records }));
      seq += n;
    }
    const all = Buffer.concat(frames);
    const cuts: number[] = [];
    for (let p = randInt(ctx.rng, 1, 3000); p < all.length; p += randInt(ctx.rng, 1, 6000)) cuts.push(p);
    await c.writeSplit(all, cuts);
    ctx.log(`${frames.length} BATCH frames (${all.length} bytes) sent in ${cuts.length + 1} writes`);
    const acks = await waitAck(
      c,
      S,
      N,
      10_000,
      'your ACK TODO in lessons/day09/ingest.ts: ACK (cumulative) each batch once it is durable; the last ACK covers seq 1000',
    );
    expectTrue(acks.every((s, i) => i === 0 || s >= acks[i - 1]!) && acks.every((s) => s <= N), {
      expected: `ACK seqs that never go back and never pass ${N}`,
      received: show(acks.slice(0, 30)),
      where: `connection from ${c.localPeer}`,
      hint: 'an ACK is cumulative: the highest S such that 1..S are durable (your ACK TODO in lessons/day09/ingest.ts: conn.ack(stream, marks.durable) once durable)',
    });

    const records = await expectSeqs(
      dataDir,
      S,
      N,
      'persist each record of a BATCH with _rx.stream and _rx.seq = frame seq + index',
    );
    const p0 = records.find((p) => idOf(p.record) === 'hs-1');
    if (!p0) fail({ expected: 'the record with attrs.id "hs-1" persisted', received: 'not found', where: dataDir });
    expectEqual(withoutRx(p0.record), sent[0], {
      what: 'the first record without _rx',
      where: where(p0),
      hint: 'keep every field of the record as it came; only add _rx',
    });
    const meta = p0.record['_rx'] as Rec;
    expectEqual(meta['seq'], 1, { what: '_rx.seq of the first record', where: where(p0) });
    expectEqual(meta['stream'], S, {
      what: '_rx.stream',
      where: where(p0),
      hint: "_rx.stream is the frame's stream id, a number",
    });

    // A new connection, the same stream: the receiver says where to resume.
    const c2 = await ctx.connect(rx.host, rx.port);
    await c2.write(encodeHello(S, { name: 'check-d09.2' })); // the same name: on a plaintext lane it is the stream's owner (issue 17)
    const again = await waitAck(c2, S, 0, 5000, 'answer every HELLO with an ACK');
    expectEqual(again[0], N, {
      what: `the ACK to a second HELLO of stream ${S}`,
      where: `connection from ${c2.localPeer}`,
      hint: "the HELLO's ACK holds the stream's durable high-water mark, so a shipper resumes after it: your onHello TODO in lessons/day09/ingest.ts answers marks.durable, and your ACK TODO raises it (hwm.markDurable) once a batch is durable",
    });
    await waitStat(
      dataDir,
      `streams.${S}.hwm`,
      (v) => v === N,
      `= ${N}`,
      5000,
      "stats.json streams[<id>].hwm is the stream's durable mark: hwm.markDurable(marks, upTo) in your ACK TODO (lessons/day09/ingest.ts) raises it",
    );
  },
};
