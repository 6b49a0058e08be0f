import { encodeBatch, encodeBatchPayload } from '../../shared/protocol/batch.ts';
import { encodeFrame, encodeHello, FrameType } from '../../shared/protocol/frame.ts';
import { expectTrue } from '../harness/assert.ts';
import { randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import { sleep, where } from '../harness/kit/records.ts';
import { expectNackThenClose } from '../harness/kit/lsp.ts';
import { startReceiver, rec, streamId, waitAck, recordsOf, expectSeqs } from './support.ts';

export const d09_9: Check = {
  id: 'd09.9',
  title:
    'Bad frames (magic, CRC, length over limit, count mismatch) → NACK with the right code, only that connection closed',
  // The connection machinery (shared/lsp-receiver.ts) and the decoders do this for every receiver: no TODO asks for it.
  given: true,
  points: 0,
  timeoutMs: 40_000,
  async run(ctx) {
    const MAX = 65_536;
    const { rx, dataDir } = await startReceiver(ctx, { extra: ['--max-payload-bytes', String(MAX)] });
    const G = streamId(ctx.rng);
    const good = await ctx.connect(rx.host, rx.port);
    await good.write(encodeHello(G, { name: 'check-d09.9-good' }));
    await waitAck(good, G, 0, 5000, 'answer a HELLO with an ACK');
    let goodSeq = 0;
    let stop = false;
    const streaming = (async () => {
      while (!stop) {
        const n = randInt(ctx.rng, 1, 50);
        const records = Array.from({ length: n }, (_, i) => JSON.stringify(rec(`good-${goodSeq + 1 + i}`, ctx.rng)));
        await good.write(encodeBatch({ stream: G, seq: goodSeq + 1, records }));
        goodSeq += n;
        await sleep(5); // traffic shaping only: a steady trickle while the bad frames go in
      }
    })().then(
      () => undefined,
      (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
    );

    const badStream = streamId(ctx.rng);
    const two = [JSON.stringify(rec('bad-1', ctx.rng)), JSON.stringify(rec('bad-2', ctx.rng))];
    const batch = () => encodeBatch({ stream: badStream, seq: 1, records: two });
    const cases: Array<{ name: string; code: string; bytes: Buffer }> = [
      {
        name: 'wrong magic',
        code: 'LS_ERR_MAGIC',
        bytes: (() => {
          const b = batch();
          b[0] = 0x58;
          b[1] = 0x58;
          return b;
        })(),
      },
      {
        name: 'bad CRC',
        code: 'LS_ERR_CRC',
        bytes: (() => {
          const b = batch();
          b[24] = b[24]! ^ 0xff;
          return b;
        })(),
      },
      {
        name: `declared length ${MAX + 1} over --max-payload-bytes ${MAX} (header only)`,
        code: 'LS_ERR_TOO_LARGE',
        bytes: (() => {
          const b = Buffer.from(batch().subarray(0, 28));
          b.writeUInt32BE(MAX + 1, 20);
          return b;
        })(),
      },
      {
        name: 'count 3 with 2 records in the payload',
        code: 'LS_ERR_COUNT',
        bytes: encodeFrame({
          type: FrameType.BATCH,
          count: 3,
          stream: badStream,
          seq: 1,
          payload: encodeBatchPayload(two),
        }),
      },
    ];
    for (const k of cases) {
      const c = await ctx.connect(rx.host, rx.port);
      await c.write(encodeHello(badStream, { name: 'check-d09.9-bad' })); // one writer of badStream (issue 17: the first name owns it)
      await waitAck(c, badStream, 0, 5000, 'answer a HELLO with an ACK');
      await c.write(k.bytes).catch(() => undefined); // the receiver may close before all of it is written
      await expectNackThenClose(c, {
        code: k.code,
        what: `a frame with ${k.name}`,
        timeoutMs: 3000,
        hint: 'a fatal framing error: send NACK {code, message}, then close that connection',
        codeHint:
          'the code is the LsError the decoder raised: the decode step in lessons/day09/ingest.ts lets it through unchanged (never catch and re-throw it)',
      });
      ctx.log(`${k.name}: NACK ${k.code}, connection closed`);
    }
    stop = true;
    const err = await streaming;
    if (err) throw err;
    expectTrue(!good.destroyed && !good.peerEnded, {
      expected: 'the good connection to stay open',
      received: 'the receiver closed it',
      where: `connection from ${good.localPeer}`,
      hint: 'a framing error is fatal for its own connection only',
    });
    await waitAck(good, G, goodSeq, 10_000, "the good client's batches are all ACKed");
    await expectSeqs(
      dataDir,
      G,
      goodSeq,
      "the good client's records are all persisted, whatever other connections send",
    );
    const leaked = await recordsOf(dataDir, badStream);
    expectTrue(leaked.length === 0, {
      expected: 'nothing persisted from the bad frames',
      received: `${leaked.length} records of stream ${badStream} at ${leaked.map(where).join(', ')}`,
      where: dataDir,
      hint: 'a BATCH whose count does not match its payload is refused whole: nothing of it is appended (decode before your dedup TODO touches the marks)',
    });
  },
};
