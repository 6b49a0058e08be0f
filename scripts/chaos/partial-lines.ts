/**
 * "No partial last line" (COURSE.md (what a receiver writes), issue 10 part 4): every `*.ndjson` file under a directory, searched
 * recursively, must end in LF (or be empty) once its writer has shut down cleanly.
 */
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface PartialLine {
  file: string;
  /** bytes after the last LF */
  bytes: number;
}

export async function partialLines(dir: string): Promise<PartialLine[]> {
  const out: PartialLine[] = [];
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await partialLines(path)));
    else if (e.isFile() && e.name.endsWith('.ndjson')) {
      const bytes = await tailAfterLastLf(path);
      if (bytes > 0) out.push({ file: path, bytes });
    }
  }
  return out;
}

async function tailAfterLastLf(path: string): Promise<number> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const buf = Buffer.alloc(64 * 1024);
    let end = size;
    while (end > 0) {
      const len = Math.min(buf.length, end);
      await fh.read(buf, 0, len, end - len);
      const lf = buf.lastIndexOf(0x0a, len - 1);
      if (lf >= 0) return size - (end - len + lf + 1);
      end -= len;
    }
    return size;
  } finally {
    await fh.close();
  }
}
