import { show, waitUntil } from '../harness/assert.ts';
import type { Check, ProgramEvent } from '../harness/types.ts';
import { spawnShipper } from '../harness/kit/programs.ts';
import { at } from '../harness/kit/records.ts';
import {
  startReceiver,
  waitExit,
  expectDelivered,
  streamOf,
  waitProgress,
  rec,
  expectSeqs,
  withProxy,
  shipperBase,
} from './support.ts';

export const d09_8: Check = {
  id: 'd09.8',
  exclusive: true,
  title: 'A stalled (half-open) receiver is detected by the ack timeout and the shipper reconnects',
  points: 10,
  timeoutMs: 60_000,
  async run(ctx) {
    const ACK_TIMEOUT = 1000;
    const BOUND = ACK_TIMEOUT + 2000;
    const { rx, dataDir } = await startReceiver(ctx);
    await withProxy(rx.port, async (proxy) => {
      const sh = spawnShipper(
        ctx,
        await shipperBase(ctx, at(proxy.port), [
          '--input',
          '-',
          '--ack-timeout-ms',
          String(ACK_TIMEOUT),
          '--keepalive-ms',
          '500',
          '--batch-delay-ms',
          '5',
        ]),
        { stdin: true },
      );
      let next = 0;
      const feed = async (n: number) => {
        let text = '';
        for (let i = 0; i < n; i++) text += `${JSON.stringify(rec(`st-${next++}`, ctx.rng))}\n`;
        await sh.write(text);
      };
      await feed(2000);
      await waitProgress(
        sh,
        'progress with acked = 2000 (streaming through the proxy)',
        (j) => Number(j['acked']) >= 2000,
        20_000,
        'the shipper ships stdin lines as they come and reports acked (each ACK frees what it covers: your Outbox.ack, lessons/day09/outbox.ts)',
      );
      const stallAt = Date.now();
      proxy.stall(true);
      const from = sh.events.length;
      await feed(2000); // in flight, never ACKed while stalled
      ctx.log('proxy stalled; 2000 more records written to the shipper');
      let left: ProgramEvent | undefined;
      try {
        left = await waitUntil(
          () =>
            sh.events
              .slice(from)
              .find(
                (e) =>
                  e.json['event'] === 'state' &&
                  e.json['from'] === 'streaming' &&
                  (e.json['to'] === 'backoff' || e.json['to'] === 'connecting'),
              ),
          {
            timeoutMs: BOUND,
            what: 'a state event from "streaming" to "backoff" (or "connecting")',
            where: `shipper pid ${sh.pid} stdout`,
            hint: 'a half-open peer never answers and TCP does not notice: your deadConnection TODO (lessons/day09/policies.ts) says the connection is dead when batches are in flight with no ACK progress (or a PING has no PONG) for --ack-timeout-ms',
            received: () =>
              `state events since the stall: ${show(
                sh.events
                  .slice(from)
                  .filter((e) => e.json['event'] === 'state')
                  .map((e) => `${String(e.json['from'])}→${String(e.json['to'])}`),
              )}`,
          },
        );
      } finally {
        // A half-open peer never comes back: its connections die with what they held, then the path heals.
        proxy.cut();
        proxy.stall(false);
      }
      ctx.log(`left streaming ${left.at - stallAt} ms after the stall: ${JSON.stringify(left.json)}`);
      await feed(1000);
      sh.endInput();
      const exit = await waitExit(
        sh,
        30_000,
        'after the stall ends: reconnect, HELLO, resend what was not ACKed, finish (your resumeAfterHello, lessons/day09/policies.ts)',
      );
      const done = expectDelivered(sh, exit, next);
      await expectSeqs(
        dataDir,
        streamOf(done, sh),
        next,
        'resend what a dead connection swallowed (your resumeAfterHello and Outbox.rewind); the receiver drops what it already had (your dedup TODO in lessons/day09/ingest.ts)',
      );
    });
  },
};
