import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureBlock } from './report.ts';
import { formatTodoRef, todoMap } from './todos.ts';

let tmp: string;
const ref = [
  'import x from "y";',
  '// @solution [d42.1, d42.2] count the lines',
  '// @stub return 0;',
  'return lines.length;',
  '// @end-solution',
  '',
  '// @solution [d42.2] and the bytes',
  'bytes();',
  '// @end-solution',
  '',
].join('\n');
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'todos-test-'));
  await mkdir(path.join(tmp, 'ref', 'day42'), { recursive: true });
  await writeFile(path.join(tmp, 'ref', 'day42', 'ingest.ts'), ref);
  await writeFile(path.join(tmp, 'ref', 'day42', 'ingest.test.ts'), '// @solution [d42.9] not a lesson file\n');
  await mkdir(path.join(tmp, 'lessons', 'day42'), { recursive: true });
  await writeFile(
    path.join(tmp, 'lessons', 'day42', 'ingest.ts'),
    [
      '// my notes',
      '// more notes',
      'import x from "y";',
      '// TODO [d42.1, d42.2] count the lines',
      'return 0;',
      '',
      'bytes(); // done',
    ].join('\n'),
  );
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('todoMap', () => {
  it("maps each check id to the reference's TODOs, at their line in the learner's file (else the starter's)", () => {
    const map = todoMap(path.join(tmp, 'ref', 'day42'), path.join(tmp, 'lessons', 'day42'));
    expect(map.get('d42.1')).toEqual([
      { ids: ['d42.1', 'd42.2'], title: 'count the lines', file: 'lessons/day42/ingest.ts', line: 4 },
    ]);
    expect(map.get('d42.2')?.map(formatTodoRef)).toEqual([
      'TODO [d42.1, d42.2] count the lines — lessons/day42/ingest.ts:4',
      'TODO [d42.2] and the bytes — lessons/day42/ingest.ts:5',
    ]);
    expect(map.has('d42.9')).toBe(false);
  });

  it('a failure block names the TODOs the check depends on', () => {
    const dependsOn = todoMap(path.join(tmp, 'ref', 'day42')).get('d42.1');
    const block = failureBlock({
      id: 'd42.1',
      title: 't',
      points: 10,
      earned: 0,
      status: 'failed',
      ms: 1,
      failure: { expected: 'e', received: 'r' },
      ...(dependsOn ? { dependsOn } : {}),
    });
    expect(block).toContain('    depends on: TODO [d42.1, d42.2] count the lines — ref/day42/ingest.ts:2');
  });
});
