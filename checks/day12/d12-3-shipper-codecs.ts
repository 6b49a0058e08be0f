import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Codec } from '../../shared/protocol/codecs.ts';
import { expectEqual, expectTrue, fail, show } from '../harness/assert.ts';
import { randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import { at } from '../harness/kit/records.ts';
import {
  type Json,
  availableCodecs,
  corpus,
  byStream,
  expectPersisted,
  startReceiver,
  ship,
  waitStats,
} from './support.ts';

export const d12_3: Check = {
  id: 'd12.3',
  exclusive: true,
  title:
    'The shipper ships 50,000 records with every available codec (--codec, --level): persisted as sent, reported per codec',
  points: 10,
  timeoutMs: 120_000,
  async run(ctx) {
    const N = 50_000;
    const { rx, dataDir } = await startReceiver(ctx);
    const codecs = availableCodecs(ctx).filter((c) => c.id !== 0);
    const dir = await ctx.tmp();
    const runs: Array<{ codec: Codec; records: string[]; done: Json }> = [];
    // two shippers at a time: the receiver takes both streams at once
    for (let i = 0; i < codecs.length; i += 2) {
      const pair = codecs.slice(i, i + 2);
      runs.push(
        ...(await Promise.all(
          pair.map(async (codec) => {
            const records = corpus(ctx, N, `sh-${codec.name}`);
            const file = path.join(dir, `${codec.name}.ndjson`);
            await writeFile(file, `${records.join('\n')}\n`);
            // level 0 (gzip, brotli) stores rather than compresses: a batch that does not shrink is rightly sent raw
            const level = codec.levels
              ? ['--level', String(randInt(ctx.rng, Math.max(1, codec.levels.min), Math.min(codec.levels.max, 6)))]
              : [];
            const done = await ship(
              ctx,
              at(rx.port),
              ['--input', file, '--codec', codec.name, ...level],
              N,
              `ship every record with --codec ${codec.name}; exit 0 once all are ACKed (your TODO in lessons/day12/shipper.ts compressBatch compresses each batch)`,
            );
            ctx.log(`${codec.name} ${level.join(' ')}: done ${JSON.stringify(done)}`);
            return { codec, records, done };
          }),
        )),
      );
    }
    const all = await byStream(dataDir);
    for (const { codec, records, done } of runs) {
      const where = `shipper --codec ${codec.name} done line ${show(done, 400)}`;
      expectEqual(done['codec'], codec.name, { what: 'done line "codec"', where });
      const raw = Number(done['rawBytes']);
      const wire = Number(done['wireBytes']);
      const ratio = Number(done['ratio']);
      expectTrue(raw >= Buffer.byteLength(records.join('\n')) && wire > 0 && wire < raw / 2, {
        expected: `rawBytes ≥ the NDJSON shipped (${Buffer.byteLength(records.join('\n'))} B) and 0 < wireBytes < rawBytes / 2 (log records compress well)`,
        received: `rawBytes ${show(done['rawBytes'])}, wireBytes ${show(done['wireBytes'])}`,
        where,
        hint: 'your TODO in lessons/day12/shipper.ts (compressBatch): compress each batch big enough to pay with codec.compress(payload, level) and return the result (rawBytes: payload bytes before compression; wireBytes: as sent)',
      });
      expectTrue(Math.abs(ratio - raw / wire) <= 0.01 * (raw / wire), {
        expected: `done line "ratio" ≈ rawBytes / wireBytes = ${(raw / wire).toFixed(3)}`,
        received: show(done['ratio']),
        where,
      });
      const stream = done['stream'];
      if (typeof stream !== 'number')
        fail({ expected: 'done line "stream" (the stream id)', received: show(stream), where });
      await expectPersisted(
        dataDir,
        stream,
        records,
        `the receiver must hold exactly the lines of the --input file, whatever the codec`,
        `stream ${stream} (--codec ${codec.name})`,
        all,
      );
    }
    const stats = await waitStats(
      dataDir,
      runs.map((r) => [
        `compression.${r.codec.name}.batches`,
        (v) => (v ?? 0) > 0,
        `> 0 (batches shipped with --codec ${r.codec.name})`,
      ]),
      5000,
      'the shipper must really send its batches with --codec (your compressBatch TODO in lessons/day12/shipper.ts), and the receiver counts batches per codec (your decodePayload TODO in lessons/day12/receiver.ts)',
    );
    ctx.log(`receiver compression stats ${JSON.stringify(stats['compression'])}`);
  },
};
