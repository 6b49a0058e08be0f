import { isDeepStrictEqual } from 'node:util';
import { fail, show, waitUntil } from '../harness/assert.ts';
import { readRecords } from '../harness/persisted.ts';
import { pick, randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import { idOf, where, withoutRx } from '../harness/kit/records.ts';
import { type Rec, SPLIT, startReceiver, line, waitForIds, waitForStat, randomMsg, randomCuts } from './support.ts';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

// 20 connections served at once, 500 records each: the 10,000 of the title.
const CONNS = 20;
const PER = 500;

export const d08_3: Check = {
  id: 'd08.3',
  title: '10,000 records from 20 concurrent connections, each persisted exactly once',
  points: 15,
  timeoutMs: 60_000,
  async run(ctx) {
    const total = CONNS * PER;
    const { rx, dataDir } = await startReceiver(ctx);
    const sent = new Map<string, Rec>();
    const firsts: string[] = [];
    const payloads: Buffer[] = [];
    const baseTs = Date.parse('2026-11-26T00:00:00.000Z');
    for (let k = 0; k < CONNS; k++) {
      let text = '';
      for (let i = 0; i < PER; i++) {
        const id = `${ctx.seed}-c${k}-${i}`;
        if (i === 0) firsts.push(id);
        const r: Rec = {
          ts: new Date(baseTs + randInt(ctx.rng, 0, 86_400_000)).toISOString(),
          level: pick(ctx.rng, LEVELS),
          msg: randomMsg(ctx.rng),
          service: `svc-${k % 5}`,
          attrs: { id, conn: k, i, r: randInt(ctx.rng, 0, 1e9) },
        };
        sent.set(id, r);
        text += line(r);
      }
      payloads.push(Buffer.from(text));
    }
    const clients = await Promise.all(payloads.map(() => ctx.connect(rx.host, rx.port)));
    // First record of each connection, and wait for all 20: the receiver now serves 20 at once.
    const firstLen = payloads.map((b) => b.indexOf(0x0a) + 1);
    await Promise.all(clients.map((c, k) => c.write((payloads[k] as Buffer).subarray(0, firstLen[k]))));
    await waitForIds(
      dataDir,
      firsts,
      5000,
      `${SPLIT}: each connection has its own LineDecoder; a line that ends in this chunk goes to line() at once`,
    );
    ctx.log(
      `${CONNS} connections served, sending the rest of ${total} records (${payloads.reduce((n, b) => n + b.length, 0)} bytes)`,
    );
    await Promise.all(
      clients.map(async (c, k) => {
        const buf = (payloads[k] as Buffer).subarray(firstLen[k]);
        await c.writeSplit(buf, randomCuts(ctx.rng, buf.length));
        await c.end();
      }),
    );
    ctx.log('all sent and ended');

    // Wait for the count to reach the total, or to stop moving (3 s without a new record): what is there then is
    // checked record by record below, which says what is missing.
    let last = -1;
    let lastChange = Date.now();
    let read = await readRecords(dataDir);
    await waitUntil(
      async () => {
        read = await readRecords(dataDir);
        if (read.records.length !== last) {
          last = read.records.length;
          lastChange = Date.now();
        }
        return read.records.length >= total || Date.now() - lastChange >= 3000;
      },
      {
        timeoutMs: 20_000,
        intervalMs: 50,
        what: `${total} records in *.ndjson (or their count to stop growing)`,
        where: dataDir,
        hint: 'the count of persisted records was still growing: does the receiver write each record as its line completes?',
        received: () => `${read.records.length} records`,
      },
    );
    ctx.log(`${read.records.length} records persisted`);
    if (read.invalid.length > 0) {
      const bad = read.invalid[0];
      fail({
        expected: 'every line of *.ndjson to be a JSON object',
        received: `${read.invalid.length} bad lines; first: ${show(bad?.text)} (${bad?.problem})`,
        where: `${bad?.file} line ${bad?.lineNo}`,
        hint: `${SPLIT}: only complete lines reach onLine; the bytes after a chunk's last LF are held until their LF comes`,
      });
    }
    const count = new Map<string, number>();
    let foreign = 0;
    for (const p of read.records) {
      const id = idOf(p.record);
      if (id === undefined || !sent.has(id)) {
        foreign++;
        continue;
      }
      count.set(id, (count.get(id) ?? 0) + 1);
      const want = sent.get(id) as Rec;
      if (!isDeepStrictEqual(withoutRx(p.record), want)) {
        fail({
          expected: `record ${id} persisted as sent: ${show(want, 300)}`,
          received: show(withoutRx(p.record), 300),
          where: where(p),
          hint: `${SPLIT}: a line split across TCP reads (even inside a multi-byte character) is held as bytes and joined whole at its LF`,
        });
      }
    }
    const missing = [...sent.keys()].filter((id) => !count.has(id));
    const dups = [...count].filter(([, n]) => n > 1).map(([id]) => id);
    if (missing.length > 0 || dups.length > 0 || foreign > 0) {
      const byConn = new Map<number, number>();
      for (const id of missing) {
        const k = Number(/-c(\d+)-/.exec(id)?.[1]);
        byConn.set(k, (byConn.get(k) ?? 0) + 1);
      }
      fail({
        expected: `${total} records, each exactly once`,
        received: `${read.records.length} records: ${missing.length} missing${missing.length ? ` (e.g. ${missing.slice(0, 3).join(', ')}; per connection ${show(Object.fromEntries(byConn))})` : ''}, ${dups.length} duplicated${dups.length ? ` (e.g. ${dups.slice(0, 3).join(', ')})` : ''}, ${foreign} unexpected`,
        where: dataDir,
        hint: `${SPLIT}: a line may arrive in many pieces (hold each, join them at its LF), and one piece may end several lines`,
      });
    }
    await waitForStat(
      dataDir,
      'records.persisted',
      total,
      5000,
      'stats.json records.persisted counts every record written (rewritten each --stats-interval-ms)',
    );
  },
};
