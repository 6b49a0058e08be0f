import { encodeBatchPayload } from '../../shared/protocol/batch.ts';
import { CODECS } from '../../shared/protocol/codecs.ts';
import { encodeFrame, FrameType } from '../../shared/protocol/frame.ts';
import type { Check } from '../harness/types.ts';
import {
  availableCodecs,
  corpus,
  streamId,
  expectNack,
  goodClient,
  startReceiver,
  expectNothingFrom,
} from './support.ts';

export const d12_7: Check = {
  id: 'd12.7',
  title:
    'A compressed payload that does not decompress (its frame CRC correct) is a fatal LS_ERR_DECODE NACK, not a crash',
  // Given: the codec table reports LS_ERR_DECODE and the connection machinery NACKs it; no TODO asks for it.
  given: true,
  points: 0,
  timeoutMs: 60_000,
  async run(ctx) {
    const { rx, dataDir } = await startReceiver(ctx);
    const good = await goodClient(ctx, rx, 'check-d12.7-good');
    const codecs = availableCodecs(ctx).filter((c) => c.id !== 0);
    const records = corpus(ctx, 500, 'bad');
    const raw = encodeBatchPayload(records);
    const cases: Array<{ name: string; codec: number; payload: Buffer }> = [];
    // gzip carries its own CRC-32 of the data: any flipped byte is caught
    const gz = CODECS.get(1)!.compress(raw);
    const flipped = Buffer.from(gz);
    for (let i = 0; i < 16; i++) flipped[(flipped.length >> 1) + i]! ^= 0x5a;
    cases.push({ name: 'gzip payload with 16 bytes flipped in the middle', codec: 1, payload: flipped });
    for (const c of codecs) {
      const p = c.compress(raw);
      cases.push({
        name: `${c.name} payload cut to half its length`,
        codec: c.id,
        payload: p.subarray(0, p.length >> 1),
      });
    }
    for (const c of codecs.filter((x) => x.id !== 1))
      cases.push({ name: `a gzip payload labelled ${c.name} (codec ${c.id})`, codec: c.id, payload: gz });
    for (const k of cases) {
      const S = streamId(ctx.rng);
      await expectNack(
        ctx,
        rx,
        S,
        encodeFrame({
          type: FrameType.BATCH,
          codec: k.codec,
          count: records.length,
          stream: S,
          seq: 1,
          payload: k.payload,
        }),
        'LS_ERR_DECODE',
        `${k.name} (frame CRC recomputed, so it is correct)`,
        'the frame CRC only proves the bytes arrived as sent; a payload the codec cannot decode is LS_ERR_DECODE: NACK it and close that connection, never ACK it or crash',
      );
      await expectNothingFrom(dataDir, S, k.name);
    }
    await good.through(dataDir, { who: 'the good client', despite: 'the bad payloads' });
  },
};
