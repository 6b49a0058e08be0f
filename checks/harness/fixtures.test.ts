import { existsSync, lstatSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HarnessError } from './errors.ts';
import { applyPatches, materializeFixture, type Fixture } from './fixtures.ts';

let tmp: string;
let source: string;
const repoRoot = '/nonexistent-repo-root';

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'fixtures-test-'));
  source = path.join(tmp, 'src-lessons');
  await mkdir(path.join(source, 'day42', 'sub'), { recursive: true });
  await writeFile(path.join(source, 'day42', 'receiver.ts'), 'const limit = 10;\nconst other = 1;\n');
  await writeFile(path.join(source, 'day42', 'sub', 'helper.ts'), 'export const x = 1;\n');
  await writeFile(path.join(source, 'day42', 'receiver.test.ts'), 'test\n');
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const fixture = (patches: Fixture['patches'], name = 'f'): Fixture => ({
  name,
  description: 'd',
  patches,
  mustFail: [],
});

describe('applyPatches', () => {
  it('replaces a text found exactly once', () => {
    expect(
      applyPatches(
        'a.ts',
        'one two three',
        [
          { file: 'a.ts', find: 'two', replace: '2' },
          { file: 'b.ts', find: 'zzz', replace: '' },
        ],
        'f',
      ),
    ).toBe('one 2 three');
  });

  it('is an error (stale fixture) when the text is missing or found twice', () => {
    for (const text of ['nothing here', 'two and two']) {
      try {
        applyPatches('a.ts', text, [{ file: 'a.ts', find: 'two', replace: '2' }], 'f');
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(HarnessError);
        expect((err as HarnessError).code).toBe('LS_ERR_FIXTURE_STALE');
      }
    }
  });
});

/** materializeFixture of the test's source lessons (repoRoot is never read: the links only name it). */
const materialize = (lesson: string, f: Fixture, outDir: string) =>
  materializeFixture({ repoRoot, lesson, fixture: f, sourceLessonsRoot: source, outDir });

describe('materializeFixture', () => {
  it('copies the lesson, applies the patches, links shared and node_modules, leaves unit tests out', async () => {
    const outDir = path.join(tmp, 'out');
    const root = await materialize(
      'day42',
      fixture([{ file: 'receiver.ts', find: 'limit = 10', replace: 'limit = 1e9' }], 'no-limit'),
      outDir,
    );
    expect(root).toBe(path.join(outDir, 'day42-no-limit', 'lessons'));
    expect(await readFile(path.join(root, 'day42', 'receiver.ts'), 'utf8')).toBe(
      'const limit = 1e9;\nconst other = 1;\n',
    );
    expect(await readFile(path.join(root, 'day42', 'sub', 'helper.ts'), 'utf8')).toBe('export const x = 1;\n');
    expect(existsSync(path.join(root, 'day42', 'receiver.test.ts'))).toBe(false);
    for (const name of ['shared', 'node_modules']) {
      const link = path.join(outDir, 'day42-no-limit', name);
      expect(lstatSync(link).isSymbolicLink()).toBe(true);
      expect(readlinkSync(link)).toBe(path.join(repoRoot, name));
    }
    expect(JSON.parse(await readFile(path.join(outDir, 'day42-no-limit', 'package.json'), 'utf8'))).toMatchObject({
      type: 'module',
    });
    // Materializing again starts from a clean copy.
    await materialize(
      'day42',
      fixture([{ file: 'receiver.ts', find: 'limit = 10', replace: 'limit = 1e9' }], 'no-limit'),
      outDir,
    );
  });

  it('a stale patch (text not found, or no such file) is an error', async () => {
    const outDir = path.join(tmp, 'out2');
    await expect(
      materialize('day42', fixture([{ file: 'receiver.ts', find: 'limit = 99', replace: '' }]), outDir),
    ).rejects.toMatchObject({ code: 'LS_ERR_FIXTURE_STALE' });
    await expect(
      materialize('day42', fixture([{ file: 'missing.ts', find: 'x', replace: '' }]), outDir),
    ).rejects.toMatchObject({ code: 'LS_ERR_FIXTURE_STALE' });
  });

  it('an unknown lesson is an error', async () => {
    await expect(
      materializeFixture({
        repoRoot,
        lesson: 'day99',
        fixture: fixture([]),
        sourceLessonsRoot: source,
        outDir: path.join(tmp, 'out3'),
      }),
    ).rejects.toMatchObject({ code: 'LS_ERR_LESSON_MISSING' });
  });
});
