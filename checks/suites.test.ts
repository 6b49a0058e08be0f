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
