import { CheckFailure, expectTrue, waitFor } from '../harness/assert.ts';
import { readRecords } from '../harness/persisted.ts';
import type { TcpClient } from '../harness/tcp.ts';
import type { Check } from '../harness/types.ts';
import { idOf, sleep, where } from '../harness/kit/records.ts';
import { RECEIVER, receiverWithClient, line, rec, waitForIds } from './support.ts';

export const d08_10: Check = {
  id: 'd08.10',
  title: '--max-connections: a connection over the limit is refused; the others carry on',
  points: 5,
  timeoutMs: 30_000,
  async run(ctx) {
    const { rx, dataDir, c: c1 } = await receiverWithClient(ctx, ['--max-connections', '2']);
    const c2 = await ctx.connect(rx.host, rx.port);
    await c1.write(line(rec('c1-a')));
    await c2.write(line(rec('c2-a')));
    await waitForIds(dataDir, ['c1-a', 'c2-a'], 5000);
    let c3: TcpClient | undefined;
    try {
      c3 = await ctx.connect(rx.host, rx.port);
    } catch (err) {
      if (!(err instanceof CheckFailure)) throw err;
      ctx.log(`third connection refused at connect: ${err.received}`);
    }
    if (c3) {
      await c3.write(line(rec('c3-refused'))).catch(() => undefined);
      await c3.waitClosed(3000, 'the receiver to close the third connection (over --max-connections 2)');
    }
    await c1.write(line(rec('c1-b')));
    await c2.write(line(rec('c2-b')));
    await waitForIds(
      dataDir,
      ['c1-b', 'c2-b'],
      5000,
      `${RECEIVER} (accept): refusing the third connection must leave the first two alone`,
    );
    expectTrue(!c1.destroyed && !c2.destroyed && !c1.peerEnded && !c2.peerEnded, {
      expected: 'the first two connections to stay open',
      received: `first ${c1.destroyed || c1.peerEnded ? 'closed' : 'open'}, second ${c2.destroyed || c2.peerEnded ? 'closed' : 'open'}`,
      where: rx.host,
    });
    const { records } = await readRecords(dataDir);
    const leaked = records.find((p) => idOf(p.record) === 'c3-refused');
    expectTrue(!leaked, {
      expected: 'nothing from the refused connection persisted',
      received: `persisted at ${leaked ? where(leaked) : ''}`,
      where: dataDir,
      hint: `${RECEIVER} (accept): a connection over --max-connections is destroyed at once, before it is read`,
    });
    // A slot freed by a client leaving is usable again.
    await c1.end();
    await c1.waitClosed(5000, 'the receiver to end its side after the client ended');
    await waitFor(
      async () => {
        const c4 = await ctx.connect(rx.host, rx.port);
        await c4.write(line(rec('c4'))).catch(() => undefined);
        const closed = await Promise.race([c4.closed.then(() => true), sleep(300).then(() => false)]);
        if (closed) return false;
        return c4;
      },
      {
        timeoutMs: 3000,
        what: 'a new connection to be accepted once one of the two has left',
        where: rx.host,
        hint: 'count open connections down when one closes',
      },
    );
    await waitForIds(dataDir, ['c4'], 5000, 'a connection accepted after a slot freed works');
  },
};
