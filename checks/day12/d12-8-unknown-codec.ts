import { encodeBatch, encodeBatchPayload } from '../../shared/protocol/batch.ts';
import { encodeFrame, FrameType } from '../../shared/protocol/frame.ts';
import type { Check } from '../harness/types.ts';
import {
  availableCodecs,
  corpus,
  expectPersisted,
  streamId,
  waitAck,
  hello,
  expectNack,
  startReceiver,
  expectNothingFrom,
} from './support.ts';

/** A BATCH frame with any codec byte and payload (the CRC is recomputed over the payload as given). */
function rawBatch(stream: number, seq: number, count: number, codec: number, payload: Buffer): Buffer {
  const frame = encodeFrame({ type: FrameType.BATCH, count, stream, seq, payload });
  frame[4] = codec; // encodeFrame refuses ids LSP/1 does not define; the header byte is all a receiver sees
  return frame;
}

export const d12_8: Check = {
  id: 'd12.8',
  title:
    'An unknown codec id is refused with LS_ERR_CODEC; a codec the receiver does not take (--codecs) with LS_ERR_CODEC_UNAVAILABLE',
  points: 15,
  timeoutMs: 60_000,
  async run(ctx) {
    const { rx, dataDir } = await startReceiver(ctx, ['--codecs', 'none,gzip']);
    const records = corpus(ctx, 100, 'codec');
    const raw = encodeBatchPayload(records);
    for (const id of [5, 9, 77, 255]) {
      const S = streamId(ctx.rng);
      await expectNack(
        ctx,
        rx,
        S,
        rawBatch(S, 1, records.length, id, raw),
        'LS_ERR_CODEC',
        `a BATCH with codec id ${id} (LSP/1 defines 0..4)`,
        'look the codec id up in the codec table; an id it does not hold is a fatal LS_ERR_CODEC',
      );
    }
    const refused = availableCodecs(ctx).filter((c) => c.id > 1);
    for (const c of refused) {
      const S = streamId(ctx.rng);
      await expectNack(
        ctx,
        rx,
        S,
        encodeBatch({ stream: S, seq: 1, records, codec: c.id }),
        'LS_ERR_CODEC_UNAVAILABLE',
        `a ${c.name} BATCH to a receiver started with --codecs none,gzip`,
        'your TODO in lessons/day12/receiver.ts (decodePayload): decode only the codecs this receiver accepts (acceptedCodecs); any other is a fatal LS_ERR_CODEC_UNAVAILABLE (the shipper should pick one the receiver takes)',
      );
      await expectNothingFrom(dataDir, S, `the refused ${c.name} batch`);
    }
    // …while gzip and none, which it does take, still work
    const G = streamId(ctx.rng);
    const c = await hello(ctx, rx, G, 'check-d12.8-good');
    await c.write(
      Buffer.concat([
        encodeBatch({ stream: G, seq: 1, records: records.slice(0, 50), codec: 1 }),
        encodeBatch({ stream: G, seq: 51, records: records.slice(50) }),
      ]),
    );
    await waitAck(c, G, records.length, 10_000, 'gzip and none are accepted with --codecs none,gzip');
    await expectPersisted(dataDir, G, records, 'a codec in --codecs is decoded as usual');
  },
};
