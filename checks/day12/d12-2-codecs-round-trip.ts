import { encodeBatch, encodeBatchPayload } from '../../shared/protocol/batch.ts';
import { expectEqual, expectTrue, show } from '../harness/assert.ts';
import { statNumber } from '../harness/persisted.ts';
import { randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import {
  availableCodecs,
  corpus,
  byStream,
  expectPersisted,
  streamId,
  waitAck,
  hello,
  startReceiver,
  waitStats,
} from './support.ts';

export const d12_2: Check = {
  id: 'd12.2',
  exclusive: true,
  title:
    "Every available codec round-trips 50,000 records in BATCH frames, byte for byte; stats.json reports each codec's bytes, ratio and CPU",
  points: 15,
  timeoutMs: 90_000,
  async run(ctx) {
    const N = 50_000;
    const { rx, dataDir } = await startReceiver(ctx);
    const codecs = availableCodecs(ctx);
    // Every codec's frames are built (compressed) first, before any connection opens: built while other
    // codecs' connections were opening, the synchronous compression held the event loop long enough on a
    // loaded machine for their connects to time out.
    const prepared = codecs.map((codec) => {
      const stream = streamId(ctx.rng);
      const records = corpus(ctx, N, `rt-${codec.name}`);
      let frames = 0;
      let wire = 0;
      let raw = 0;
      const chunks: Buffer[] = [];
      for (let seq = 1; seq <= N;) {
        // seeded batch sizes, tiny ones included; seeded levels across the codec's range
        const n = Math.min(N - seq + 1, ctx.rng() < 0.1 ? randInt(ctx.rng, 1, 5) : randInt(ctx.rng, 200, 3000));
        const slice = records.slice(seq - 1, seq - 1 + n);
        const level = codec.levels ? randInt(ctx.rng, codec.levels.min, Math.min(codec.levels.max, 9)) : undefined;
        const frame = encodeBatch({
          stream,
          seq,
          records: slice,
          codec: codec.id,
          ...(level === undefined ? {} : { level }),
        });
        frames++;
        wire += frame.length - 28;
        raw += encodeBatchPayload(slice).length;
        chunks.push(frame);
        seq += n;
      }
      const all = Buffer.concat(chunks);
      const cuts: number[] = [];
      for (let p = randInt(ctx.rng, 1, 5000); p < all.length; p += randInt(ctx.rng, 1, 200_000)) cuts.push(p);
      return { codec, stream, records, frames, wire, raw, all, cuts };
    });
    const runs = await Promise.all(
      prepared.map(async ({ codec, stream, records, frames, wire, raw, all, cuts }) => {
        const c = await hello(ctx, rx, stream, `check-d12.2-${codec.name}`);
        await c.writeSplit(all, cuts);
        await waitAck(
          c,
          stream,
          N,
          30_000,
          `decode every ${codec.name} BATCH (codec id ${codec.id}) within the limit and ACK it once durable (your TODOs in lessons/day12/receiver.ts decodePayload and bounded-decode.ts)`,
        );
        ctx.log(`${codec.name}: ${frames} frames, ${raw} raw → ${wire} wire bytes (ratio ${(raw / wire).toFixed(2)})`);
        return { codec, stream, records, frames, wire, raw };
      }),
    );
    const all = await byStream(dataDir);
    for (const r of runs) {
      await expectPersisted(
        dataDir,
        r.stream,
        r.records,
        `decode ${r.codec.name} payloads exactly: every record of the batch, in order, at seq frame.seq + i, its bytes untouched`,
        `stream ${r.stream} (${r.codec.name})`,
        all,
      );
    }
    const hint =
      'your measuring TODOs in lessons/day12/receiver.ts (decodePayload and the stats writer): stats.json "compression": {"<codec>": {"batches", "records", "wireBytes" (payload as sent), "rawBytes" (decoded), "ratio" (raw/wire), "cpuMs", "cpuMsPerMB"}} per codec';
    const stats = await waitStats(
      dataDir,
      runs.map((r) => [
        `compression.${r.codec.name}.batches`,
        (v) => v === r.frames,
        `= ${r.frames} (the frames sent with ${r.codec.name})`,
      ]),
      5000,
      hint,
    );
    for (const r of runs) {
      const k = `compression.${r.codec.name}`;
      const where = `${dataDir}/stats.json ${k}`;
      expectEqual(statNumber(stats, `${k}.records`), N, { what: `${k}.records`, where, hint });
      expectEqual(statNumber(stats, `${k}.wireBytes`), r.wire, {
        what: `${k}.wireBytes (the payload bytes as sent, summed over the batches)`,
        where,
        hint,
      });
      expectEqual(statNumber(stats, `${k}.rawBytes`), r.raw, {
        what: `${k}.rawBytes (the decoded payload bytes)`,
        where,
        hint,
      });
      const ratio = statNumber(stats, `${k}.ratio`);
      expectTrue(ratio !== undefined && Math.abs(ratio - r.raw / r.wire) <= 0.01 * (r.raw / r.wire), {
        expected: `${k}.ratio ≈ rawBytes / wireBytes = ${(r.raw / r.wire).toFixed(3)}`,
        received: show(ratio),
        where,
        hint,
      });
      const cpu = statNumber(stats, `${k}.cpuMsPerMB`);
      expectTrue(cpu !== undefined && cpu >= 0 && Number.isFinite(cpu), {
        expected: `${k}.cpuMsPerMB: a number ≥ 0`,
        received: show(cpu),
        where,
        hint,
      });
    }
  },
};
