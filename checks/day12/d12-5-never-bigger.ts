import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expectEqual, expectTrue, show } from '../harness/assert.ts';
import type { Check } from '../harness/types.ts';
import { at } from '../harness/kit/records.ts';
import { type Json, byStream, expectPersisted, startReceiver, withProxy, ship } from './support.ts';

export const d12_5: Check = {
  id: 'd12.5',
  title:
    'Tiny or incompressible batches are never made bigger: sent uncompressed (codec 0) below --min-compress-bytes or when compressing does not shrink them',
  points: 15,
  timeoutMs: 90_000,
  async run(ctx) {
    const N = 1000;
    // ~70-byte records, one per BATCH: gzip's own header and trailer alone are 18 bytes
    const file = path.join(await ctx.tmp(), 'tiny.ndjson');
    const lines: string[] = [];
    for (let i = 0; i < N; i++)
      lines.push(
        `{"ts":"2026-11-26T14:13:${String(i % 60).padStart(2, '0')}Z","level":"info","msg":"${Math.floor(ctx.rng() * 1e12).toString(36)}"}`,
      );
    await writeFile(file, `${lines.join('\n')}\n`);
    const { rx, dataDir } = await startReceiver(ctx);
    const common = ['--input', file, '--batch-records', '1', '--keepalive-ms', '60000', '--name', 'tiny'];
    const variants: Array<{ label: string; args: string[] }> = [
      { label: '--codec none', args: ['--codec', 'none'] },
      { label: '--codec gzip (default --min-compress-bytes)', args: ['--codec', 'gzip'] },
      { label: '--codec gzip --min-compress-bytes 0', args: ['--codec', 'gzip', '--min-compress-bytes', '0'] },
    ];
    const up: number[] = [];
    const streams: number[] = [];
    const dones: Json[] = [];
    for (const v of variants) {
      await withProxy(rx.port, async (proxy) => {
        const done = await ship(
          ctx,
          at(proxy.port),
          [...common, ...v.args],
          N,
          `ship ${N} one-record batches with ${v.label}`,
        );
        up.push(proxy.counters.bytesUp);
        streams.push(done['stream'] as number);
        dones.push(done);
        ctx.log(`${v.label}: ${proxy.counters.bytesUp} bytes up; done ${JSON.stringify(done)}`);
      });
    }
    // Not trying at all is cheaper than trying and throwing the result away: the done line says which happened.
    expectEqual(dones[1]!['tooSmall'], N, {
      what: `done line "tooSmall" with ${variants[1]!.label} (${N} batches of ~70 bytes)`,
      where: `done line ${show(dones[1], 400)}`,
      hint: 'your TODO in lessons/day12/shipper.ts (compressBatch): a batch below --min-compress-bytes is not compressed at all (no CPU spent): return it as it is and count it in decisions.tooSmall',
    });
    expectEqual(dones[2]!['notSmaller'], N, {
      what: `done line "notSmaller" with ${variants[2]!.label}`,
      where: `done line ${show(dones[2], 400)}`,
      hint: 'your TODO in lessons/day12/shipper.ts (compressBatch): with --min-compress-bytes 0 every tiny batch is compressed and comes out bigger: return the payload itself (it goes as codec 0) and count it in decisions.notSmaller',
    });
    const slack = 64; // the HELLO (same --name) is the only other frame; allow a few bytes for its JSON
    for (let i = 1; i < variants.length; i++) {
      expectTrue(up[i]! <= up[0]! + slack, {
        expected: `${variants[i]!.label} to put no more bytes on the wire than --codec none (${up[0]} bytes, + ${slack})`,
        received: `${up[i]} bytes (+${up[i]! - up[0]!})`,
        where: `FaultProxy bytesUp, ${N} batches of one ~70-byte record`,
        hint: 'a compressed tiny batch is BIGGER (gzip adds 18+ bytes of header and trailer): in your compressBatch TODO (lessons/day12/shipper.ts) skip compression below --min-compress-bytes, and return the batch as it is (sent as codec 0) whenever compressing did not make it smaller',
      });
    }
    const all = await byStream(dataDir);
    for (const s of streams)
      await expectPersisted(
        dataDir,
        s,
        lines,
        'every tiny record arrives, whichever codec id its batch carries',
        `stream ${s}`,
        all,
      );
  },
};
