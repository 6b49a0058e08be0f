import { expectEqual, expectTrue, show } from '../harness/assert.ts';
import { readRejects, readStats, statNumber, type PersistedRecord } from '../harness/persisted.ts';
import type { Check } from '../harness/types.ts';
import { where, withoutRx } from '../harness/kit/records.ts';
import { SPLIT, receiverWithClient, line, rec, waitForIds, waitForStat } from './support.ts';

export const d08_4: Check = {
  id: 'd08.4',
  title: 'CRLF line endings and a UTF-8 character split across two writes',
  points: 10,
  timeoutMs: 30_000,
  async run(ctx) {
    const { dataDir, c } = await receiverWithClient(ctx);
    const a = rec('crlf', { msg: 'a line ending in CR LF' });
    const b = rec('split', { msg: 'split: € 😀 ü 日本 — intact' });
    const d = rec('last', { msg: 'the last one' });
    // CRLF, then two empty lines (one of them CR LF): ignored, never rejected.
    await c.write(`${JSON.stringify(a)}\r\n\r\n\n`);
    const bBuf = Buffer.from(line(b));
    const euro = bBuf.indexOf(Buffer.from('€'));
    const smile = bBuf.indexOf(Buffer.from('😀'));
    // Cut inside the 3-byte € and inside the 4-byte 😀; pause so the parts arrive as separate reads.
    await c.writeSplit(bBuf, [euro + 1, smile + 2], { gapMs: 40 });
    await c.write(`${JSON.stringify(d)}\r\n`);
    const got = await waitForIds(dataDir, ['crlf', 'split', 'last'], 5000);
    const pa = got.get('crlf') as PersistedRecord;
    const pb = got.get('split') as PersistedRecord;
    expectEqual(withoutRx(pa.record), a, { what: 'the CRLF record (without _rx)', where: where(pa) });
    expectTrue(!pa.raw.includes('\r') && !(got.get('last') as PersistedRecord).raw.includes('\r'), {
      expected: 'no CR in the persisted line',
      received: show(pa.raw.slice(-60)),
      where: where(pa),
      hint: `${SPLIT}: drop one CR just before the LF, for a line inside one chunk (push) and for a held one (completeHeld)`,
    });
    expectEqual(pb.record['msg'], b['msg'], {
      what: 'msg of the record whose € and 😀 were split across writes',
      where: where(pb),
      hint: `${SPLIT}: work on bytes (Buffers) and join the pieces before anyone decodes them; never toString() a piece, a chunk can end inside a character`,
    });
    expectEqual(withoutRx(pb.record), b, { what: 'the split record (without _rx)', where: where(pb) });
    await waitForStat(dataDir, 'records.persisted', 3, 5000, 'stats.json records.persisted counts records written');
    const stats = await readStats(dataDir);
    const { rejects } = await readRejects(dataDir);
    expectTrue(rejects.length === 0 && (statNumber(stats, 'records.rejected') ?? 0) === 0, {
      expected: 'no rejects (empty lines, and lines that are only CR, are ignored)',
      received: `${rejects.length} rejects ${show(rejects.map((r) => r.reject))}, stats records.rejected = ${show(statNumber(stats, 'records.rejected'))}`,
      where: `${dataDir}/rejects.ndjson`,
      hint: `${SPLIT}: drop the CR before the LF first, then skip a line that is empty`,
    });
  },
};
