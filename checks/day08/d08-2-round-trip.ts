import { expectEqual, expectTrue, show, waitFor } from '../harness/assert.ts';
import { readRecords, type PersistedRecord } from '../harness/persisted.ts';
import type { Check } from '../harness/types.ts';
import { exitedWith } from '../harness/kit/exit.ts';
import { where, withoutRx } from '../harness/kit/records.ts';
import { RFC3339, type Rec, SPLIT, startReceiver, line, rec, waitForIds } from './support.ts';

export const d08_2: Check = {
  id: 'd08.2',
  title: 'One record round-trip: fields untouched plus _rx {ts, peer, lane}',
  points: 10,
  timeoutMs: 30_000,
  async run(ctx) {
    const { rx, dataDir } = await startReceiver(ctx);
    const id = `d08.2-${ctx.seed}`;
    const sent: Rec = {
      ts: '2026-11-26T14:13:48.123Z',
      level: 'warn',
      msg: 'hello, día ocho ✓ "quoted" \\ back',
      service: 'checks',
      host: 'check-host',
      attrs: { id, n: 42, f: 1.5, nested: { list: [1, 'two', null, true], empty: {} } },
      extra: 'any other top-level field is kept as it came',
    };
    const c = await ctx.connect(rx.host, rx.port);
    const before = Date.now();
    await c.write(line(sent));
    const got = (await waitForIds(dataDir, [id], 5000)).get(id) as PersistedRecord;
    const after = Date.now();
    expectEqual(withoutRx(got.record), sent, {
      what: 'the persisted record without _rx',
      where: where(got),
      hint: `${SPLIT}: a line reaches onLine byte for byte as it was sent, without its LF`,
    });
    const rxField = got.record['_rx'];
    expectTrue(rxField !== null && typeof rxField === 'object' && !Array.isArray(rxField), {
      expected: '_rx to be an object {ts, peer, lane}',
      received: show(rxField),
      where: where(got),
    });
    const meta = rxField as Rec;
    const ts = meta['ts'];
    expectTrue(typeof ts === 'string' && RFC3339.test(ts), {
      expected: '_rx.ts as an RFC 3339 timestamp (e.g. 2026-11-26T14:13:48.123Z)',
      received: show(ts),
      where: where(got),
      hint: 'new Date().toISOString()',
    });
    const tsMs = Date.parse(ts);
    expectTrue(tsMs >= before - 2000 && tsMs <= after + 2000, {
      expected: `_rx.ts = the receive time (between ${new Date(before).toISOString()} and ${new Date(after).toISOString()})`,
      received: ts,
      where: where(got),
      hint: "_rx.ts is when the receiver got the line, not the record's own ts",
    });
    expectEqual(meta['peer'], c.localPeer, {
      what: '_rx.peer (the client address:port)',
      where: where(got),
      hint: 'socket.remoteAddress + ":" + socket.remotePort',
    });
    expectEqual(meta['lane'], 'day08', { what: '_rx.lane', where: where(got), hint: '--lane defaults to "day08"' });
    expectTrue(!('seq' in meta) && !('stream' in meta), {
      expected: 'no _rx.seq / _rx.stream on day 08 (text lines carry no sequence)',
      received: show(meta),
      where: where(got),
    });

    // The same trip through the shipper: one NDJSON record and one plain-text line from stdin.
    const shipId = `d08.2-ship-${ctx.seed}`;
    const shipped = rec(shipId, { level: 'error', msg: 'sent by the shipper' });
    const text = `plain text line ${ctx.seed} from the shipper`;
    const res = await ctx.run('shipper', ['--target', `${rx.host}:${rx.port}`, '--input', '-'], {
      input: `${line(shipped)}${text}\n`,
      timeoutMs: 15_000,
    });
    const cmd = `shipper --target ${rx.host}:${rx.port} --input -`;
    exitedWith(res, 0, cmd, 'the shipper exits 0 once everything it read was sent', { noteReady: true });
    const done = res.json.find((j) => j['event'] === 'done');
    expectTrue(done !== undefined, {
      expected: `a {"event":"done",…} line on stdout of \`${cmd}\``,
      received: show(res.stdout.slice(-300) || '(empty stdout)'),
      where: 'shipper stdout',
    });
    expectEqual(done['sent'], 2, {
      what: 'done line "sent" (2 input lines)',
      where: 'shipper done line',
      hint: 'count every line sent',
    });
    const ids = await waitForIds(dataDir, [shipId], 5000, 'the shipper sends each input line to the receiver');
    const viaShipper = ids.get(shipId) as PersistedRecord;
    expectEqual(withoutRx(viaShipper.record), shipped, {
      what: 'a JSON input line, persisted (without _rx)',
      where: where(viaShipper),
      hint: 'a line that is a JSON object is sent as it is',
    });
    const wrapped = await waitFor(
      async () => (await readRecords(dataDir)).records.find((p) => p.record['msg'] === text),
      {
        timeoutMs: 5000,
        what: `a record with msg ${show(text)} (the plain-text input line)`,
        where: dataDir,
        hint: 'a line that is not a JSON object is wrapped: {ts, level:"info", msg: line}',
      },
    );
    expectEqual(wrapped.record['level'], 'info', { what: 'level of a wrapped plain-text line', where: where(wrapped) });
    const wts = wrapped.record['ts'];
    expectTrue(typeof wts === 'string' && RFC3339.test(wts), {
      expected: 'ts of a wrapped plain-text line as RFC 3339',
      received: show(wts),
      where: where(wrapped),
    });
  },
};
