// Every day in the registry has its own test file running both suites (see suites.ts).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { knownLessons } from './harness/runner.ts';

it('each registered day has checks/<day>.test.ts', () => {
  const here = path.dirname(new URL(import.meta.url).pathname);
  const missing = knownLessons().filter((d) => !existsSync(path.join(here, `${d}.test.ts`)));
  expect(missing).toEqual([]);
});

it('programClosure follows a program to the lesson files it imports, and no further', async () => {
  const { mkdtemp, writeFile } = await import('node:fs/promises');
  const os = await import('node:os');
  const { programClosure } = await import('./suites.ts');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'closure-'));
  await writeFile(
    path.join(dir, 'receiver.ts'),
    "import { a } from './seq-accounting.ts';\nimport { b } from '../../shared/x.ts';\n",
  );
  await writeFile(path.join(dir, 'seq-accounting.ts'), "const m = await import('./deep.ts');\n");
  await writeFile(path.join(dir, 'deep.ts'), '');
  await writeFile(path.join(dir, 'shipper.ts'), "import { c } from './other.ts';\n");
  expect([...programClosure(dir, ['receiver.ts'])].sort()).toEqual(['deep.ts', 'receiver.ts', 'seq-accounting.ts']);
  expect([...programClosure(dir, [])]).toEqual([]);
});
