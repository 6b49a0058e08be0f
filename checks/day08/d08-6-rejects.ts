import { expectEqual, expectTrue } from '../harness/assert.ts';
import { readRecords } from '../harness/persisted.ts';
import type { Check } from '../harness/types.ts';
import { idOf } from '../harness/kit/records.ts';
import {
  receiverWithClient,
  line,
  rec,
  waitForIds,
  waitForReject,
  waitForStat,
  checkRejectShape,
  VALIDATE,
} from './support.ts';

export const d08_6: Check = {
  id: 'd08.6',
  title: 'Invalid JSON and a record missing level land in rejects.ndjson, counted in stats.json',
  points: 15,
  timeoutMs: 30_000,
  async run(ctx) {
    const { dataDir, c } = await receiverWithClient(ctx);
    const broken = '{"ts":"2026-11-26T14:13:48.123Z","level":"info","msg":"broken';
    const noLevel = JSON.stringify({
      ts: '2026-11-26T14:13:48.123Z',
      msg: 'where is my level',
      attrs: { id: 'no-level' },
    });
    const ok1 = rec('ok-1');
    await c.write(`${broken}\n${noLevel}\n${line(ok1)}`);
    await waitForIds(
      dataDir,
      ['ok-1'],
      5000,
      `${VALIDATE}: a bad line is an answer ({ok: false, reason}), never an exception: the next line is processed`,
    );
    const bad = await waitForReject(
      dataDir,
      'invalid_json',
      5000,
      `${VALIDATE} (validateRecord): a line JSON.parse refuses is {ok: false, reason: "invalid_json"}`,
    );
    checkRejectShape(bad, broken, c.localPeer, 'the invalid_json reject');
    const missing = await waitForReject(
      dataDir,
      'missing_level',
      5000,
      `${VALIDATE} (validateRecordObject): an object without "level" is {ok: false, reason: "missing_level"}`,
    );
    checkRejectShape(missing, noLevel, c.localPeer, 'the missing_level reject');
    // The connection carries on after the rejects.
    const ok2 = rec('ok-2');
    await c.write(line(ok2));
    await waitForIds(dataDir, ['ok-1', 'ok-2'], 5000, 'the connection carries on after rejected lines');
    const { records } = await readRecords(dataDir);
    expectTrue(!records.some((p) => idOf(p.record) === 'no-level'), {
      expected: 'the record without a level not persisted',
      received: 'it was persisted',
      where: dataDir,
      hint: `${VALIDATE}: a record needs ts, level and msg`,
    });
    expectEqual(records.length, 2, { what: 'records persisted (ok-1, ok-2)', where: dataDir });
    await waitForStat(dataDir, 'records.rejected', 2, 5000, 'stats.json records.rejected counts every reject');
    await waitForStat(dataDir, 'records.persisted', 2, 5000, 'stats.json records.persisted counts records written');
    expectTrue(!c.destroyed && !c.peerEnded, {
      expected: 'the connection to stay open',
      received: 'the receiver closed it',
      where: `connection from ${c.localPeer}`,
      hint: 'bad input is rejected, never fatal to the connection',
    });
  },
};
