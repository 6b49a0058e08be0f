/**
 * A worker thread that runs a TypeScript module without the TypeScript loader (issue 21.6: memory).
 *
 * The lab runs TypeScript directly (tsx, no build step). A worker thread does not inherit the main
 * thread's loader, so a worker that imports a .ts file must register tsx again — and with it comes a
 * module-hooks thread of its own and the loader's caches: a worker cost ~25 MB of RSS that way against
 * ~7 MB for a worker running plain JavaScript (measured here, an idle worker each). So the worker is given
 * plain JavaScript instead: esbuild — the compiler tsx itself uses — bundles the module and what it
 * imports into one script at start-up (~50 ms, once per module per process), and the worker evaluates
 * that. The code that runs is the same source file; only who strips its types changes.
 *
 * The module must start its worker side itself when `isMainThread` is false (look at `workerData`), and
 * must not need `import.meta` on that side (a CommonJS bundle has none). Node's own modules stay imports.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

type Esbuild = typeof import('esbuild');
/** esbuild, loaded when a bundle is first made: a module that imports this file and is itself bundled into a
 * worker (a worker's own file usually is) does not drag esbuild into that bundle. */
let esbuild: Esbuild | undefined;

const bundles = new Map<string, string>();

/** What a worker runs: a module (a file URL or path of a .ts file), or the source of an entry module. */
export type WorkerEntry = string | URL | { contents: string; resolveDir: string };

/** `entry` and what it imports bundled into one CommonJS script, made once per process. */
export function workerScript(entry: WorkerEntry): string {
  const key = typeof entry === 'object' && !(entry instanceof URL) ? entry.contents : String(entry);
  let code = bundles.get(key);
  if (code === undefined) {
    const where =
      typeof entry === 'object' && !(entry instanceof URL)
        ? { stdin: { contents: entry.contents, resolveDir: entry.resolveDir, loader: 'ts' as const } }
        : { entryPoints: [entry instanceof URL || entry.startsWith('file:') ? fileURLToPath(entry) : entry] };
    esbuild ??= createRequire(import.meta.url)('esbuild') as Esbuild;
    const out = esbuild.buildSync({
      ...where,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      write: false,
      logLevel: 'silent',
    });
    code = out.outputFiles[0]!.text;
    bundles.set(key, code);
  }
  return code;
}

/** A worker thread running `entry` (see workerScript) with `options` (workerData, resourceLimits, …). */
export function tsWorker(entry: WorkerEntry, options: Omit<WorkerOptions, 'eval'> = {}): Worker {
  return new Worker(workerScript(entry), { ...options, eval: true });
}
