import { readFile } from 'node:fs/promises';
import zlib from 'node:zlib';
import { encodeBatch } from '../../shared/protocol/batch.ts';
import { encodeFrame, FrameType } from '../../shared/protocol/frame.ts';
import { expectTrue } from '../harness/assert.ts';
import type { Check } from '../harness/types.ts';
import { sleep } from '../harness/kit/records.ts';
import {
  MiB,
  availableCodecs,
  corpus,
  streamId,
  waitAck,
  hello,
  expectNack,
  goodClient,
  startReceiver,
  expectNothingFrom,
} from './support.ts';

/** Resident memory of a process, in KiB: VmHWM (its peak) and VmRSS (now), from /proc. */
async function memoryKiB(pid: number): Promise<{ hwm: number; rss: number } | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/status`, 'utf8');
    const num = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
    return { hwm: num('VmHWM'), rss: num('VmRSS') };
  } catch {
    return undefined;
  }
}

/** ~1 MiB of gzip that inflates to 1 GiB of zeros: 1024 gzip members of 1 MiB each (gunzip reads them all). */
function gzipBomb(): Buffer {
  const member = zlib.gzipSync(Buffer.alloc(MiB), { level: 9 });
  return Buffer.concat(Array.from({ length: 1024 }, () => member));
}

export const d12_6: Check = {
  id: 'd12.6',
  exclusive: true,
  title:
    'A decompression bomb (~1 MiB of gzip → 1 GiB) is refused with LS_ERR_TOO_LARGE, memory stays bounded, other connections carry on',
  points: 25,
  timeoutMs: 60_000,
  async run(ctx) {
    const LIMIT = 8 * MiB;
    const { rx, dataDir } = await startReceiver(ctx, ['--max-decoded-bytes', String(LIMIT)]);
    const G = streamId(ctx.rng);
    const good = await hello(ctx, rx, G, 'check-d12.6-good');
    // A big legal batch first: 20,000 records (~4 MB decoded, under the limit) must be accepted.
    const big = corpus(ctx, 20_000, 'big');
    await good.write(encodeBatch({ stream: G, seq: 1, records: big, codec: 1 }));
    await waitAck(
      good,
      G,
      big.length,
      10_000,
      `a gzip BATCH decoding to ~4 MB is under --max-decoded-bytes ${LIMIT}: accept it (your TODO in lessons/day12/bounded-decode.ts returns the whole output when it stays within the limit)`,
    );
    const other = await goodClient(ctx, rx, 'check-d12.6-good2');
    const good2 = other.c;

    const before = await memoryKiB(rx.pid);
    let peakRss = before?.rss ?? 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const m = await memoryKiB(rx.pid);
        if (m) peakRss = Math.max(peakRss, m.rss);
        await sleep(10);
      }
    })();
    const bomb = gzipBomb();
    const B = streamId(ctx.rng);
    try {
      await expectNack(
        ctx,
        rx,
        B,
        encodeFrame({ type: FrameType.BATCH, codec: 1, count: 1, stream: B, seq: 1, payload: bomb }),
        'LS_ERR_TOO_LARGE',
        `a ${bomb.length}-byte gzip payload that inflates to 1 GiB (--max-decoded-bytes ${LIMIT})`,
        'your TODO in lessons/day12/bounded-decode.ts (decompressBounded): take the output chunk by chunk (codec.decompressChunks), count it, and throw LS_ERR_TOO_LARGE as soon as it passes maxBytes — the connection gets the NACK',
        20_000,
      );
    } finally {
      sampling = false;
      await sampler;
    }
    const after = await memoryKiB(rx.pid);
    if (before && after) {
      const grewMiB = (Math.max(after.hwm, peakRss) - before.hwm) / 1024;
      ctx.log(
        `receiver memory: VmHWM ${before.hwm} → ${after.hwm} kB, sampled VmRSS peak ${peakRss} kB (+${grewMiB.toFixed(0)} MiB)`,
      );
      expectTrue(grewMiB < 256, {
        expected: "the receiver's peak memory to grow by less than 256 MiB while refusing a 1 GiB bomb",
        received: `it grew by ${grewMiB.toFixed(0)} MiB (VmHWM ${before.hwm} → ${after.hwm} kB)`,
        where: `/proc/${rx.pid}/status`,
        hint: 'your TODO in lessons/day12/bounded-decode.ts must stop decoding WHILE it happens: codec.decompress() then a size check has already spent the memory; stop asking codec.decompressChunks() for more once the count passes the limit',
      });
    } else {
      ctx.log('no /proc/<pid>/status here: the memory bound is not measured');
    }
    // zstd, lz4, brotli: bombs that inflate to 64 MiB (8× the limit)
    const zeros = Buffer.alloc(64 * MiB);
    for (const codec of availableCodecs(ctx).filter((c) => c.id > 1)) {
      const S = streamId(ctx.rng);
      const payload = codec.compress(zeros, codec.levels?.min);
      await expectNack(
        ctx,
        rx,
        S,
        encodeFrame({ type: FrameType.BATCH, codec: codec.id, count: 1, stream: S, seq: 1, payload }),
        'LS_ERR_TOO_LARGE',
        `a ${payload.length}-byte ${codec.name} payload that inflates to 64 MiB (--max-decoded-bytes ${LIMIT})`,
        'every codec goes through your decompressBounded TODO (lessons/day12/bounded-decode.ts): stop at the limit whatever the codec',
      );
    }
    await other.through(dataDir, { who: 'the other client', despite: 'the bombs' });
    expectTrue(!good2.destroyed && !good2.peerEnded, {
      expected: 'the other connection to stay open',
      received: 'the receiver closed it',
      where: `connection from ${good2.localPeer}`,
      hint: 'a bomb is fatal for its own connection only',
    });
    await expectNothingFrom(dataDir, B, 'the bomb');
  },
};
