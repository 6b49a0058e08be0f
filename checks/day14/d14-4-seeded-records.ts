import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expectEqual, expectTrue, fail, show } from '../harness/assert.ts';
import { readRecords } from '../harness/persisted.ts';
import type { Check } from '../harness/types.ts';
import { at } from '../harness/kit/records.ts';
import { type Json, startReceiver, stopReceiver, runLoadgen, ofRun } from './support.ts';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

function withoutRx(rec: Json): string {
  const { _rx, ...rest } = rec;
  void _rx;
  return JSON.stringify(rest);
}

export const d14_4: Check = {
  id: 'd14.4',
  title:
    'Seeded records: the same seed gives identical records (also those persisted by a real run), another seed different ones; realistic mix',
  // records.ts is handed over (a fast, seeded record writer): no TODO asks for it
  given: true,
  points: 0,
  timeoutMs: 90_000,
  async run(ctx) {
    const seed = 1 + Math.floor(ctx.rng() * 1e6);
    const dir = await ctx.tmp();
    const N = 3000;
    const dumpArgs = (s: number, file: string) => [
      '--dry-run',
      '--count',
      String(N),
      '--seed',
      String(s),
      '--dump',
      path.join(dir, file),
    ];
    const rx = await startReceiver(ctx);
    await Promise.all([
      runLoadgen(ctx, dumpArgs(seed, 'a1.ndjson')),
      runLoadgen(ctx, dumpArgs(seed, 'a2.ndjson')),
      runLoadgen(ctx, dumpArgs(seed + 1, 'b.ndjson')),
      runLoadgen(ctx, ['--target', at(rx.port), '--count', '2000', '--seed', String(seed), '--verify-dir', rx.dataDir]),
    ]);
    const read = async (f: string) =>
      (
        await readFile(path.join(dir, f), 'utf8').catch(() =>
          fail({ expected: `--dump to write ${f}`, received: 'no such file', where: dir }),
        )
      )
        .split('\n')
        .filter((l) => l.length > 0);
    const [a1, a2, b] = [await read('a1.ndjson'), await read('a2.ndjson'), await read('b.ndjson')];
    expectEqual(a1.length, N, {
      what: `records in the --dump of --dry-run --count ${N}`,
      where: path.join(dir, 'a1.ndjson'),
    });
    const firstDiff = a1.findIndex((l, i) => l !== a2[i]);
    expectTrue(firstDiff === -1 && a1.length === a2.length, {
      expected: `seed ${seed} twice: byte-identical records`,
      received: `they differ at record ${firstDiff + 1}: ${show(a1[firstDiff]?.slice(0, 150))} vs ${show(a2[firstDiff]?.slice(0, 150))}`,
      where: dir,
      hint: 'every random draw comes from one PRNG seeded by --seed; no Date.now() or Math.random() in the records',
    });

    // another seed: different records, and not just a different id
    const body = (line: string, i: number, file: string): Json => {
      let v: Json;
      try {
        v = JSON.parse(line) as Json;
      } catch (err) {
        fail({
          expected: 'each dumped line to be one JSON record',
          received: `${(err as Error).message}: ${show(line.slice(0, 200))}`,
          where: `${file} line ${i + 1}`,
        });
      }
      return v;
    };
    const noId = (v: Json) => {
      const attrs = { ...(v['attrs'] as Json) };
      delete attrs['id'];
      return JSON.stringify({ ...v, attrs });
    };
    const A = a1.map((l, i) => body(l, i, 'a1.ndjson'));
    const B = b.map((l, i) => body(l, i, 'b.ndjson'));
    const same = A.filter((v, i) => B[i] !== undefined && noId(v) === noId(B[i])).length;
    expectTrue(same < N * 0.1, {
      expected: `seeds ${seed} and ${seed + 1}: different records (ids aside)`,
      received: `${same} of ${N} records identical apart from attrs.id`,
      where: dir,
      hint: 'the seed must drive every draw (level, service, message, attrs, size)',
    });

    // realistic: valid records, several services, weighted levels, attrs
    const services = new Set<string>();
    const levels = new Map<string, number>();
    for (let i = 0; i < A.length; i++) {
      const v = A[i]!;
      const where = `a1.ndjson line ${i + 1}: ${show(a1[i]!.slice(0, 160))}`;
      expectTrue(typeof v['ts'] === 'string' && !Number.isNaN(Date.parse(v['ts'])), {
        expected: 'an RFC 3339 "ts"',
        received: show(v['ts']),
        where,
      });
      expectTrue(typeof v['msg'] === 'string' && LEVELS.includes(v['level'] as string), {
        expected: 'a "msg" string and a "level" of trace…fatal',
        received: show({ level: v['level'], msg: v['msg'] }),
        where,
      });
      expectTrue(typeof v['attrs'] === 'object' && v['attrs'] !== null, {
        expected: 'an "attrs" object',
        received: show(v['attrs']),
        where,
      });
      if (typeof v['service'] === 'string') services.add(v['service']);
      levels.set(v['level'] as string, (levels.get(v['level'] as string) ?? 0) + 1);
    }
    const byCount = [...levels.entries()].sort((x, y) => y[1] - x[1]);
    expectTrue(services.size >= 4, {
      expected: 'records from several services (≥ 4)',
      received: show([...services]),
      where: 'a1.ndjson',
    });
    expectTrue(levels.size >= 4 && byCount[0]?.[0] === 'info', {
      expected: 'weighted levels: ≥ 4 of them, info the most common',
      received: show(Object.fromEntries(byCount)),
      where: 'a1.ndjson',
    });

    // a real run with the same seed sent exactly those records
    await stopReceiver(rx);
    const { records } = await readRecords(rx.dataDir);
    const got = ofRun(records, `s${seed}`).sort((x, y) => x.n - y.n);
    expectEqual(got.length, 2000, { what: `records persisted by \`--count 2000 --seed ${seed}\``, where: rx.dataDir });
    for (let i = 0; i < got.length; i++) {
      const want = JSON.stringify(A[got[i]!.n - 1]);
      const have = withoutRx(got[i]!.rec.record);
      if (have !== want)
        fail({
          expected: `the persisted record ${got[i]!.n} (its _rx aside) = record ${got[i]!.n} of the --dry-run dump with the same seed: ${show(want.slice(0, 200))}`,
          received: show(have.slice(0, 200)),
          where: `${got[i]!.rec.file} line ${got[i]!.rec.lineNo}`,
          hint: 'a seed reproduces a run byte for byte, sent or dumped',
        });
    }
  },
};
