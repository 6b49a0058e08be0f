/**
 * A FileSink writer for tests/sink-kill.test.ts (issue 18, item 2): appends numbered lines
 * `{"i":N,"pad":"…"}` to a sink in DIR (--rotate-bytes 4096, gzip at rest, fsync never: durable = handed
 * to the kernel, which survives a kill of the process) and prints, after each append is durable, how
 * many lines are acknowledged. Run with LOGSTREAM_FAULT_SINK=kill-at:POINT[:N], it dies by SIGKILL at
 * that point; without one it stops after LIMIT lines and exits 0.
 *   usage: node --import tsx tests/support/sink-kill-child.ts DIR [LIMIT]
 */
import { FileSink } from '../../shared/storage/file-sink.ts';

const dir = process.argv[2]!;
const limit = Number(process.argv[3] ?? 50_000);
const ROTATE_BYTES = 4096;
const sink = await FileSink.open({ dir, fsync: 'never', rotateBytes: ROTATE_BYTES, compressRotated: 'gzip' });
const line = (i: number) => `{"i":${i},"pad":"${'x'.repeat(i % 37)}"}\n`;
let n = 0;
for (let round = 0; n < limit; round++) {
  // mostly small groups, every 7th one larger than a whole file (split across a rotation)
  const count = round % 7 === 6 ? 300 : 1 + (round % 40);
  let text = '';
  for (let k = 0; k < count; k++) text += line(n++);
  await sink.whenDurable(sink.append(text));
  process.stdout.write(`${n}\n`); // synchronous on a pipe: the parent sees every ack before a kill
}
await sink.close();
