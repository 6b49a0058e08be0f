import { expectEqual, expectTrue, show, waitFor } from '../harness/assert.ts';
import { readRecords, readRejects, type PersistedRecord, type RejectEntry } from '../harness/persisted.ts';
import type { Check } from '../harness/types.ts';
import { idOf, where, withoutRx } from '../harness/kit/records.ts';
import { receiverWithClient, line, rec, waitForIds, checkRejectShape, LIMIT } from './support.ts';

export const d08_5: Check = {
  id: 'd08.5',
  title: 'A line over --max-line-bytes is rejected as line_too_long before its LF; the connection carries on',
  points: 15,
  timeoutMs: 30_000,
  async run(ctx) {
    const { dataDir, c } = await receiverWithClient(ctx, ['--max-line-bytes', '1024']);
    const padTo = (id: string, bytes: number) => {
      const r = rec(id, { msg: '' });
      const room = bytes - Buffer.byteLength(JSON.stringify(r));
      return { ...r, msg: 'x'.repeat(room) };
    };
    const near = padTo('near-limit', 1000);
    const whole = padTo('too-long-whole', 2000);
    const long = padTo('too-long', 5000);
    const after = rec('after-long', { msg: 'the line after the long one' });
    const later = rec('later', { msg: 'a line in a later write' });
    const wholeText = JSON.stringify(whole);
    const longText = JSON.stringify(long);
    expectEqual(Buffer.byteLength(longText), 5000, { what: 'harness self-test: long line bytes' });
    const tooLong = async (n: number, hint: string) => {
      let reasons: unknown[] = [];
      return waitFor(
        async () => {
          const { rejects } = await readRejects(dataDir);
          reasons = rejects.map((x) => x.reject['reason']);
          const found = rejects.filter((x) => x.reject['reason'] === 'line_too_long');
          return found.length >= n ? found : undefined;
        },
        {
          timeoutMs: 5000,
          what: `${n} reject${n > 1 ? 's' : ''} with reason "line_too_long" in <data-dir>/rejects.ndjson`,
          where: `${dataDir}/rejects.ndjson`,
          hint,
          received: () => (reasons.length ? `rejects with reasons ${show(reasons)}` : 'no rejects'),
        },
      );
    };

    // A record just under the limit, then a complete 2000-byte line in the same write.
    await c.write(`${line(near)}${line(whole)}`);
    const [r1] = await tooLong(
      1,
      `${LIMIT}: a complete line over maxLineBytes goes to onTooLong (the receiver rejects it as "line_too_long"), never to onLine`,
    );
    checkRejectShape(r1 as RejectEntry, wholeText, c.localPeer, 'the line_too_long reject');

    // The first 3500 of 5000 bytes, in two writes: over the limit already, and no LF yet. The receiver
    // must not wait for the LF to find out (a peer that never sends one would fill its memory).
    await c.writeSplit(longText.slice(0, 3500), [1500], { gapMs: 20 });
    const [, r2] = await tooLong(
      2,
      `${LIMIT}: a line is too long as soon as more than --max-line-bytes of it has arrived, before its LF: report it then (onTooLong) and drop what is held`,
    );
    checkRejectShape(r2 as RejectEntry, longText, c.localPeer, 'the line_too_long reject of a line still arriving');

    // The rest of the long line, its LF and the next record together; then a record in a later write.
    await c.write(`${longText.slice(3500)}\n${line(after)}`);
    const got = await waitForIds(
      dataDir,
      ['near-limit', 'after-long'],
      5000,
      `${LIMIT}: after a too-long line, skip to its LF (takeHeld ends the skip) and decode the next line as usual`,
    );
    expectEqual(withoutRx((got.get('after-long') as PersistedRecord).record), after, {
      what: 'the record after the long line',
      where: where(got.get('after-long') as PersistedRecord),
    });
    await c.write(line(later));
    await waitForIds(
      dataDir,
      ['later'],
      5000,
      `${LIMIT}: the skip ends at the long line's LF (takeHeld): a later line is not skipped`,
    );
    const { records } = await readRecords(dataDir);
    const leaked = records.filter(
      (p) =>
        idOf(p.record)?.startsWith('too-long') || p.record['msg'] === long['msg'] || p.record['msg'] === whole['msg'],
    );
    expectTrue(leaked.length === 0, {
      expected: 'the too-long records not persisted',
      received: `persisted at ${leaked.map(where).join(', ')}`,
      where: dataDir,
      hint: `${LIMIT}: a too-long line never reaches onLine`,
    });
    expectEqual(records.length, 3, {
      what: 'records persisted (near-limit, after-long, later)',
      where: dataDir,
      hint: `${LIMIT}: the bytes of a too-long line are dropped up to its LF, not decoded as new lines`,
    });
    const { rejects } = await readRejects(dataDir);
    expectEqual(
      rejects.map((x) => x.reject['reason']),
      ['line_too_long', 'line_too_long'],
      {
        what: 'reasons in rejects.ndjson',
        where: `${dataDir}/rejects.ndjson`,
        hint: `${LIMIT}: one too-long line is one onTooLong, however many reads it took (report when it first goes over, then skip)`,
      },
    );
    expectTrue(!c.destroyed && !c.peerEnded, {
      expected: 'the connection to stay open',
      received: 'the receiver closed it',
      where: `connection from ${c.localPeer}`,
      hint: 'a too-long line is not fatal (shared/protocol/README.md §2)',
    });
  },
};
