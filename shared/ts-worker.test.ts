import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tsWorker, workerScript } from './ts-worker.ts';

describe('tsWorker: a TypeScript module in a worker without the TypeScript loader', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(os.tmpdir(), 'ts-worker-'));
    // a module with types and an import of another .ts module, like the lanes' workers
    await writeFile(join(dir, 'double.ts'), 'export const double = (n: number): number => n * 2;\n');
    await writeFile(
      join(dir, 'worker.ts'),
      [
        "import { isMainThread, parentPort, workerData } from 'node:worker_threads';",
        "import { double } from './double.ts';",
        'interface Job { n: number }',
        'if (!isMainThread) parentPort!.postMessage(double((workerData as Job).n));',
      ].join('\n'),
    );
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('bundles the module and what it imports into plain JavaScript, once per module', () => {
    const code = workerScript(join(dir, 'worker.ts'));
    expect(code).not.toMatch(/interface Job|: number/);
    expect(code).toMatch(/n \* 2/);
    expect(workerScript(join(dir, 'worker.ts'))).toBe(code);
  });

  it('runs it with its workerData', async () => {
    const w = tsWorker(join(dir, 'worker.ts'), { workerData: { n: 21 } });
    const got = await new Promise((resolve, reject) => w.once('message', resolve).once('error', reject));
    await w.terminate();
    expect(got).toBe(42);
  });
});
