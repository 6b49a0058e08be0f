import { expectEqual, expectTrue, show } from '../harness/assert.ts';
import { readRecords, type PersistedRecord } from '../harness/persisted.ts';
import type { Check } from '../harness/types.ts';
import { where, withoutRx } from '../harness/kit/records.ts';
import { RECEIVER, receiverWithClient, line, rec, waitForIds } from './support.ts';

export const d08_8: Check = {
  id: 'd08.8',
  title: 'A final line without LF is persisted when the client ends',
  points: 10,
  timeoutMs: 30_000,
  async run(ctx) {
    const { dataDir, c } = await receiverWithClient(ctx);
    const first = rec('first');
    const final = rec('final-no-lf', { msg: 'no LF after me' });
    await c.write(`${line(first)}${JSON.stringify(final)}`);
    await c.end();
    ctx.log('sent two records, the second without LF, then ended (half-close)');
    await c.waitClosed(5000, 'the receiver to end its side after the client ended');
    const got = await waitForIds(
      dataDir,
      ['first', 'final-no-lf'],
      5000,
      `the bytes after the last LF are a final line: your end() in lessons/day08/line-decoder.ts completes it, and ${RECEIVER} ('end' handler) calls decoder.end() and flushes before ending our side`,
    );
    const p = got.get('final-no-lf') as PersistedRecord;
    expectEqual(withoutRx(p.record), final, { what: 'the final line (without _rx)', where: where(p) });
    const { files } = await readRecords(dataDir);
    const partial = files.find((f) => f.endsInPartialLine);
    expectTrue(!partial, {
      expected: 'every persisted line to end in LF',
      received: `ends in ${show(partial?.partialTail)}`,
      where: partial?.file ?? dataDir,
      hint: 'write the final line with its LF',
    });
  },
};
