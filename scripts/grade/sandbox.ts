// The sandbox a learner's copy is checked in (issue 19, Deliver 3): learner code is untrusted. bubblewrap
// (`bwrap`, Debian's package) gives the check harness and the learner's programs (the same sandbox: the
// black-box checks reach the programs over its loopback) a root of their own that holds only:
//   - the system (/usr and the /bin, /lib… links, a few files of /etc), read-only;
//   - the reference shared/, checks/ (without checks/fixtures, which quote the solutions), node_modules/,
//     package.json, tsconfig.json and the grader's worker, read-only, at their paths in the repository;
//   - the copy under test, staged beside links to the reference shared/ and node_modules/, read-only;
//   - a private temp dir (/tmp: every check's ctx.tmp(), data dirs, certificates, tsx's cache), /proc, /dev;
//   - a network namespace of its own: loopback only (bwrap brings lo up), so ports never collide between
//     copies graded at once and nothing leaves the machine;
//   - its own pid, ipc and uts namespaces, a user namespace (uid 1000) when the kernel allows one, no
//     capabilities, a new session (no terminal to inject into), and it dies with the grader.
// Neither the reference lessons/ (the solutions), nor .git, nor a sibling learner's folder, nor anything
// else of the instructor's exists in there. Imports resolve as the grader's own: the staged copy's links
// lead to the reference shared/ and node_modules/, and tsx reads the repository's tsconfig.json
// (TSX_TSCONFIG_PATH), whatever the copy carries.
import { execFile } from 'node:child_process';
import { existsSync, lstatSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SandboxSpec {
  repoRoot: string;
  /** The staged copy (its `lessons/`, and links to the reference shared/ and node_modules/). */
  stageRoot: string;
  /** A fresh host folder that is the sandbox's /tmp (removed by the caller). */
  privateTmp: string;
  /** Run as uid 1000 in a user namespace (the probe found that it works). */
  userNamespace: boolean;
  /**
   * A host folder that is tsx's compile cache in there (`/tmp/tsx-<uid>`): one per LEARNER, shared by that
   * learner's days only (a cache another learner could write would let them change what this one runs).
   */
  tsxCache?: string;
}

/** Files of /etc a Node program needs (name lookup of localhost, TLS roots, users, time zone). */
const ETC = ['hosts', 'ssl', 'ca-certificates', 'passwd', 'group', 'nsswitch.conf', 'localtime', 'alternatives'];
/**
 * What of the repository the sandbox sees (read-only); never lessons/. tests/support holds what the checks
 * share with the tests (the quick shipper flags, the rsyslog peer), which the check kit imports.
 */
const REPO_PARTS = [
  'shared',
  'checks',
  'tests/support',
  'node_modules',
  'package.json',
  'tsconfig.json',
  'scripts/grade',
];

/** bwrap's arguments up to and including `--`: the command follows. */
export function sandboxArgs(spec: SandboxSpec): string[] {
  const a: string[] = [];
  a.push('--ro-bind', '/usr', '/usr');
  for (const top of ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']) {
    const p = `/${top}`;
    if (!existsSync(p)) continue;
    const st = lstatSync(p);
    if (st.isSymbolicLink()) a.push('--symlink', readlinkSync(p), p);
    else a.push('--ro-bind', p, p);
  }
  for (const e of ETC) if (existsSync(`/etc/${e}`)) a.push('--ro-bind', `/etc/${e}`, `/etc/${e}`);
  a.push('--proc', '/proc', '--dev', '/dev');
  // The private temp dir first: the binds below that live under /tmp (the staged copy) are mounted on it.
  a.push('--bind', spec.privateTmp, '/tmp');
  if (spec.tsxCache)
    a.push('--bind', spec.tsxCache, `/tmp/tsx-${spec.userNamespace ? 1000 : (process.getuid?.() ?? 0)}`);
  for (const part of REPO_PARTS) {
    const p = path.join(spec.repoRoot, part);
    if (existsSync(p)) a.push('--ro-bind', p, p);
  }
  // The fixtures patch the reference lessons by exact text: they would show a learner the solutions.
  const fixtures = path.join(spec.repoRoot, 'checks', 'fixtures');
  if (existsSync(fixtures)) a.push('--tmpfs', fixtures, '--remount-ro', fixtures);
  a.push('--ro-bind', spec.stageRoot, spec.stageRoot);
  a.push(
    spec.userNamespace ? '--unshare-all' : '--unshare-net',
    ...(spec.userNamespace ? ['--uid', '1000', '--gid', '1000'] : ['--unshare-pid', '--unshare-ipc', '--unshare-uts']),
    '--hostname',
    'grade-sandbox',
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
    '--clearenv',
    '--setenv',
    'PATH',
    '/usr/local/bin:/usr/bin:/bin',
    '--setenv',
    'HOME',
    '/tmp',
    '--setenv',
    'TMPDIR',
    '/tmp',
    '--setenv',
    'NO_COLOR',
    '1',
    '--setenv',
    'TSX_TSCONFIG_PATH',
    path.join(spec.repoRoot, 'tsconfig.json'),
    '--chdir',
    spec.repoRoot,
    '--',
  );
  return a;
}

export type SandboxProbe = { ok: true; userNamespace: boolean } | { ok: false; reason: string };

/** The bwrap to start: LOGSTREAM_BWRAP (a path; the tests point it at nothing to see the refusal), else bwrap on PATH. */
export function bwrapPath(): string {
  return process.env['LOGSTREAM_BWRAP'] || 'bwrap';
}

const probed = new Map<string, Promise<SandboxProbe>>();

/**
 * Can the grader start its sandbox here? Starts one (with a user namespace, else without) that must see
 * loopback up and listen on it. The answer is kept for the process.
 */
export function probeSandbox(repoRoot: string, privateTmp: string): Promise<SandboxProbe> {
  const bwrap = bwrapPath();
  const known = probed.get(bwrap);
  if (known) return known;
  const probe = (async (): Promise<SandboxProbe> => {
    const script =
      "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{const c=require('net').connect(s.address().port,'127.0.0.1',()=>{console.log('loopback ok');process.exit(0)})})";
    let last = `${bwrap} is not installed (apt-get install bubblewrap)`;
    for (const userNamespace of [true, false]) {
      try {
        const stageRoot = path.join(repoRoot, 'shared'); // any folder: the probe grades nothing
        const args = sandboxArgs({ repoRoot, stageRoot, privateTmp, userNamespace });
        const { stdout } = await run(bwrap, [...args, process.execPath, '-e', script], { timeout: 20_000 });
        if (stdout.includes('loopback ok')) return { ok: true, userNamespace };
        last = `the sandbox started but its loopback did not answer (${stdout.trim().slice(0, 200)})`;
      } catch (err) {
        const e = err as NodeJS.ErrnoException & { stderr?: string };
        if (e.code === 'ENOENT') return { ok: false, reason: last };
        last = `bwrap failed: ${(e.stderr ?? e.message).trim().split('\n')[0]}`;
      }
    }
    return { ok: false, reason: last };
  })();
  probed.set(bwrap, probe);
  return probe;
}
