/**
 * The integrated stack as the stack tests start it (scripts/stack-demo.test.ts, scripts/stack.browser.test.ts):
 * scripts/stack.ts with every lane this checkout has, demo traffic at 20 records/s and the dashboard, on
 * free ports, its data and certificates under `root`.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startProgram, type Program } from '../../scripts/lib/launch.ts';

/** Starts the stack (its ready line: `await stack.ready`). */
export async function startDemoStack(
  root: string,
  dashboard: { refreshMs: number; staleMs?: number },
): Promise<Program> {
  const config = join(root, 'stack.json');
  await writeFile(
    config,
    JSON.stringify({
      dataDir: join(root, 'data'),
      certsDir: join(root, 'certs'),
      dashboard,
      demo: { enabled: true, recordsPerSecond: 20 },
    }),
  );
  return startProgram({
    name: 'stack',
    file: 'scripts/stack.ts',
    args: ['--config', config, '--any-ports', '--quiet'],
    readyTimeoutMs: 90_000,
  });
}
