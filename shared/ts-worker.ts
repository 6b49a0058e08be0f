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
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { buildSync } from 'esbuild';

const bundles = new Map<string, string>();

/** `module` (a file URL or path of a .ts module) bundled into one CommonJS script, made once per process. */
export function workerScript(module: string | URL): string {
  const file = module instanceof URL || module.startsWith('file:') ? fileURLToPath(module) : module;
  let code = bundles.get(file);
  if (code === undefined) {
    const out = buildSync({
      entryPoints: [file],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      write: false,
      logLevel: 'silent',
    });
    code = out.outputFiles[0]!.text;
    bundles.set(file, code);
  }
  return code;
}

/** A worker thread running `module` (see workerScript) with `options` (workerData, resourceLimits, …). */
export function tsWorker(module: string | URL, options: Omit<WorkerOptions, 'eval'> = {}): Worker {
  return new Worker(workerScript(module), { ...options, eval: true });
}
