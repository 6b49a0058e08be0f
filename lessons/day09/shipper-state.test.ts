import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirLockedError } from '../../shared/dir-lock.ts';
import { ShipperState } from './shipper-state.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(os.tmpdir(), 'state-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ShipperState', () => {
  it('makes a random u32 stream id on the first run and keeps it', () => {
    const a = ShipperState.open(dir);
    expect(a.created).toBe(true);
    expect(Number.isInteger(a.stream) && a.stream > 0 && a.stream < 2 ** 32).toBe(true);
    const b = ShipperState.open(dir);
    expect(b.created).toBe(false);
    expect(b.stream).toBe(a.stream);
  });

  it('--stream-id overrides the kept id for one run without replacing it', () => {
    const a = ShipperState.open(dir);
    expect(ShipperState.open(dir, { streamId: 7 }).stream).toBe(7);
    expect(ShipperState.open(dir).stream).toBe(a.stream);
  });

  it('keeps a followed position per stream and path', async () => {
    const a = ShipperState.open(dir);
    const pos = { path: '/var/log/app.log', dev: 1, ino: 2, pos: 300, seq: 12 };
    a.saveFollow(pos);
    expect(ShipperState.open(dir).followOf('/var/log/app.log')).toEqual(pos);
    expect(ShipperState.open(dir).followOf('/var/log/other.log')).toBeUndefined();
    expect(ShipperState.open(dir, { streamId: a.stream + 1 }).followOf('/var/log/app.log')).toBeUndefined();
    expect(
      (JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as { follow: { pos: number } }).follow.pos,
    ).toBe(300);
  });

  it('a damaged state file starts over rather than crashing', async () => {
    await writeFile(join(dir, 'state.json'), '{"version":1,"str');
    const s = ShipperState.open(dir);
    expect(s.created).toBe(true);
  });
});

describe('ShipperState lock', () => {
  it('one live shipper per state dir; a stale lock (its process gone) is taken over', async () => {
    const a = ShipperState.open(dir);
    // this process holds it: a second open from another (live) process is refused
    await writeFile(join(dir, 'state.lock'), `${process.ppid}\n`);
    expect(() => ShipperState.open(dir)).toThrow(DirLockedError);
    // a pid that is not running: stale
    await writeFile(join(dir, 'state.lock'), '999999999\n');
    const b = ShipperState.open(dir);
    expect(b.stream).toBe(a.stream);
    b.release();
    await expect(readFile(join(dir, 'state.lock'), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
