import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { encodeBatch } from '../../shared/protocol/batch.ts';
import { CODECS } from '../../shared/protocol/codecs.ts';
import { expectEqual, expectTrue, show } from '../harness/assert.ts';
import type { Check } from '../harness/types.ts';
import { corpus, expectPersisted, streamId, waitAck, hello, startReceiver } from './support.ts';

export const d12_9: Check = {
  id: 'd12.9',
  exclusive: true,
  title:
    'Rotated files compressed at rest (--rest-compression gzip|zstd, --rotate-bytes) hold every record exactly once',
  points: 10,
  timeoutMs: 90_000,
  async run(ctx) {
    const N = 20_000;
    const methods = [{ name: 'gzip', suffix: '.gz', magic: '1f8b' }];
    if (CODECS.get(2)!.availability().ok) methods.push({ name: 'zstd', suffix: '.zst', magic: '28b52ffd' });
    for (const m of methods) {
      // --fsync never: durable = written, so the ACK of each batch comes at once
      const { rx, dataDir } = await startReceiver(ctx, [
        '--rest-compression',
        m.name,
        '--rotate-bytes',
        '64KiB',
        '--fsync',
        'never',
      ]);
      const S = streamId(ctx.rng);
      const records = corpus(ctx, N, `rest-${m.name}`);
      const c = await hello(ctx, rx, S, `check-d12.9-${m.name}`);
      // one batch at a time (~150 KB persisted each, past --rotate-bytes): every batch ends a file
      const B = 500;
      for (let seq = 1; seq <= N; seq += B) {
        await c.write(encodeBatch({ stream: S, seq, records: records.slice(seq - 1, seq - 1 + B), codec: 1 }));
        await waitAck(c, S, seq + B - 1, 10_000, 'ACK every record once durable, across rotations');
      }
      const stop = await rx.stop(8000);
      expectTrue(stop.exitCode === 0 && !stop.timedOut, {
        expected: 'the receiver to exit 0 on SIGTERM (after finishing the compression of rotated files)',
        received: `exit ${stop.exitCode}, signal ${stop.signal}, timed out ${stop.timedOut}`,
        where: `receiver pid ${rx.pid}`,
        hint: 'FileSink.close() waits for background compressions',
      });
      const names = (await readdir(dataDir)).filter((n) => n.startsWith('records-')).sort();
      const compressed = names.filter((n) => n.endsWith(`.ndjson${m.suffix}`));
      const plain = names.filter((n) => n.endsWith('.ndjson'));
      const other = names.filter((n) => !compressed.includes(n) && !plain.includes(n));
      ctx.log(
        `--rest-compression ${m.name}: ${compressed.length} compressed files, plain ${show(plain)}, other ${show(other)}`,
      );
      expectTrue(compressed.length >= 10 && plain.length <= 1 && other.length === 0, {
        expected: `every rotated file compressed as records-NNNNNN.ndjson${m.suffix} (≥ 10 of them for ~6 MB at --rotate-bytes 64KiB), at most one plain records-*.ndjson (the active file), no temp files`,
        received: `${compressed.length} ${m.suffix} files, plain ${show(plain.slice(0, 5))}, other ${show(other.slice(0, 5))}`,
        where: dataDir,
        hint: `your TODO in lessons/day12/receiver.ts: hand --rest-compression ${m.name} (and --rest-level) to the sink (fileSink.compressRotated), which compresses each file as it is rotated`,
      });
      const first = await readFile(path.join(dataDir, compressed[0]!));
      expectEqual(first.subarray(0, m.magic.length / 2).toString('hex'), m.magic, {
        what: `the first bytes of ${compressed[0]} (${m.name} magic)`,
        where: dataDir,
        hint: `files named ${m.suffix} must be ${m.name} streams`,
      });
      await expectPersisted(
        dataDir,
        S,
        records,
        `each record lands in exactly one file: a compressed file replaces its source, it is never added beside it`,
        `stream ${S} (--rest-compression ${m.name})`,
      );
    }
  },
};
