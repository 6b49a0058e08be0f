import { appendFile, mkdtemp, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileFollower, type FilePosition, type FollowChunk } from './follow.ts';

let dir: string;
let path: string;
beforeEach(async () => {
  dir = await mkdtemp(join(os.tmpdir(), 'follow-test-'));
  path = join(dir, 'app.log');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs a follower in the background; `lines` collects what it yields. */
function run(opts: { start?: FilePosition } = {}) {
  const chunks: FollowChunk[] = [];
  const events: string[] = [];
  const f = new FileFollower({
    path,
    ...(opts.start ? { start: opts.start } : {}),
    pollMs: 5,
    mapLine: (line) => line.toString(),
    onEvent: (what) => events.push(what),
  });
  const done = (async () => {
    for await (const c of f.chunks()) chunks.push(c);
  })();
  return {
    chunks,
    events,
    lines: () => chunks.flatMap((c) => c.lines),
    last: () => chunks[chunks.length - 1]?.at,
    stop: async () => {
      f.stop();
      await done;
    },
  };
}

async function until(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('FileFollower', () => {
  it('reads what is there, then what is appended; a line is only complete at its LF', async () => {
    await writeFile(path, 'a\nb\n');
    const r = run();
    await until(() => r.lines().length === 2, 'a, b');
    await appendFile(path, 'c\nhalf');
    await until(() => r.lines().length === 3, 'c');
    expect(r.last()?.pos).toBe(6); // after "c\n": the half line is not covered
    await appendFile(path, '-done\n');
    await until(() => r.lines().length === 4, 'the completed line');
    expect(r.lines()).toEqual(['a', 'b', 'c', 'half-done']);
    expect(r.last()?.pos).toBe((await stat(path)).size);
    await r.stop();
  });

  it('waits for a file that does not exist yet', async () => {
    const r = run();
    await new Promise((res) => setTimeout(res, 30));
    await writeFile(path, 'x\n');
    await until(() => r.lines().length === 1, 'x');
    await r.stop();
  });

  it('rotation: finishes the old file (last line without LF included), then reads the new one from 0', async () => {
    await writeFile(path, 'old1\n');
    const r = run();
    await until(() => r.lines().length === 1, 'old1');
    const oldIno = (await stat(path)).ino;
    await appendFile(path, 'old2\nold3');
    await rename(path, `${path}.1`);
    await writeFile(path, 'new1\n');
    await until(() => r.lines().length === 4, 'the rest of the old file and the new one');
    expect(r.lines()).toEqual(['old1', 'old2', 'old3', 'new1']);
    const oldChunk = r.chunks.find((c) => c.lines.includes('old3'))!;
    expect(oldChunk.at.ino).toBe(oldIno);
    expect(r.last()).toMatchObject({ ino: (await stat(path)).ino, pos: 5 });
    expect(r.events.some((e) => e.startsWith('file rotated'))).toBe(true);
    await r.stop();
  });

  it('truncation in place: reads the file again from the start', async () => {
    await writeFile(path, 'one\ntwo\n');
    const r = run();
    await until(() => r.lines().length === 2, 'one, two');
    await truncate(path, 0);
    await appendFile(path, 'three\n');
    await until(() => r.lines().length === 3, 'three');
    expect(r.lines()).toEqual(['one', 'two', 'three']);
    await r.stop();
  });

  it('resumes at a stored position of the same file', async () => {
    await writeFile(path, 'a\nb\nc\n');
    const st = await stat(path);
    const r = run({ start: { path, dev: st.dev, ino: st.ino, pos: 2 } });
    await until(() => r.lines().length === 2, 'b, c');
    expect(r.lines()).toEqual(['b', 'c']);
    await r.stop();
  });

  it('resumes in a file rotated away meanwhile (found by inode), then goes on with the new one', async () => {
    await writeFile(path, 'a\nb\nc\n');
    const st = await stat(path);
    await rename(path, `${path}.1`);
    await writeFile(path, 'd\n');
    const r = run({ start: { path, dev: st.dev, ino: st.ino, pos: 4 } });
    await until(() => r.lines().length === 2, 'c, d');
    expect(r.lines()).toEqual(['c', 'd']);
    expect(r.events.some((e) => e.startsWith('resuming in the rotated-away file'))).toBe(true);
    await r.stop();
  });

  it('a stored file that is gone entirely: the current file is read from the start', async () => {
    await writeFile(path, 'a\n');
    const r = run({ start: { path, dev: 1, ino: 999_999_999, pos: 100 } });
    await until(() => r.lines().length === 1, 'a');
    await r.stop();
  });
});
