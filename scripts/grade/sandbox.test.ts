// Learner code is untrusted (issue 19, Deliver 3): inside the class grader's sandbox a copy cannot read a
// sibling learner's folder nor the reference lessons (the solutions), nor reach the machine's loopback;
// it can read its own copy and the reference shared/. Two proofs: a program run in the sandbox as the
// grader builds it, and a whole class grade in which one learner's receiver tries to read its neighbour
// and the reference (the check passes only if it cannot), with --no-sandbox as the control that the
// same learner CAN read them there (so the test can fail). No bwrap: skipped outside CI (tests/support/peers.ts).
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stageLessons } from '../../checks/harness/lesson-copy.ts';
import { REPO_ROOT } from '../../checks/harness/runner.ts';
import { IN_CI, needPeers } from '../../tests/support/peers.ts';
import { gradeClass } from './class.ts';
import { probeSandbox, sandboxArgs, type SandboxProbe } from './sandbox.ts';

const run = promisify(execFile);
const need = needPeers('bwrap');
let tmp: string;
let probe: SandboxProbe = { ok: false, reason: 'not probed' };

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'grade-sandbox-test-'));
  if (!need.skip) probe = await probeSandbox(REPO_ROOT, tmp);
  if (!probe.ok && !need.skip) {
    // bwrap is there but cannot start (no user namespaces, not root): say so; under CI=true it fails.
    const msg = `the sandbox cannot start here: ${probe.reason}`;
    if (IN_CI()) throw new Error(msg);
    console.warn(`skipped: ${msg}`);
  }
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A class: bob holds a secret; alice (and mallory) hold a copy of the reference day 08. */
async function makeClass(root: string): Promise<{ bobSecret: string; refFile: string }> {
  const bobSecret = path.join(root, 'bob', 'lessons', 'day08', 'SECRET.md');
  await mkdir(path.dirname(bobSecret), { recursive: true });
  await writeFile(bobSecret, "bob's answers\n");
  await cp(path.join(REPO_ROOT, 'lessons', 'day08'), path.join(root, 'alice', 'lessons', 'day08'), { recursive: true });
  return { bobSecret, refFile: path.join(REPO_ROOT, 'lessons', 'day08', 'receiver.ts') };
}

describe.skipIf(need.skip)(`the class grader's sandbox${need.skip ? ` (skipped: ${need.reason})` : ''}`, () => {
  it('a program in it reads its own copy and the reference shared/, not a sibling, not the reference lessons, not the host loopback', async (t) => {
    if (!probe.ok) return t.skip();
    const root = path.join(tmp, 'direct');
    const { bobSecret, refFile } = await makeClass(root);
    const stageRoot = path.join(tmp, 'stage-alice');
    await stageLessons({
      repoRoot: REPO_ROOT,
      sourceLessonsRoot: path.join(root, 'alice', 'lessons'),
      lessons: ['day08'],
      destRoot: stageRoot,
    });
    const privateTmp = await mkdtemp(path.join(tmp, 'private-'));
    // A server of the host's loopback: the sandbox has a loopback of its own, so it cannot reach it.
    const server = net.createServer((s) => s.end('host loopback\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const probes = {
      own: path.join(stageRoot, 'lessons', 'day08', 'receiver.ts'),
      shared: path.join(REPO_ROOT, 'shared', 'cli.ts'),
      sibling: bobSecret,
      siblingDir: path.join(root, 'bob'),
      reference: refFile,
      referenceDir: path.join(REPO_ROOT, 'lessons'),
      git: path.join(REPO_ROOT, '.git', 'HEAD'),
    };
    const script = `
      const fs = require('node:fs'), net = require('node:net');
      const out = {};
      for (const [k, p] of Object.entries(${JSON.stringify(probes)})) {
        try { fs.statSync(p).isDirectory() ? fs.readdirSync(p) : fs.readFileSync(p); out[k] = 'read'; }
        catch (e) { out[k] = e.code; }
      }
      try { fs.writeFileSync(${JSON.stringify(probes.own)}, 'x'); out.writeOwn = 'wrote'; } catch (e) { out.writeOwn = e.code; }
      try { fs.writeFileSync('/tmp/mine', 'x'); out.writeTmp = 'wrote'; } catch (e) { out.writeTmp = e.code; }
      const c = net.connect(${port}, '127.0.0.1');
      c.on('data', () => { out.hostLoopback = 'reached'; done(); });
      c.on('error', (e) => { out.hostLoopback = e.code; done(); });
      function done() { console.log(JSON.stringify(out)); process.exit(0); }
    `;
    try {
      const { stdout } = await run(
        'bwrap',
        [
          ...sandboxArgs({ repoRoot: REPO_ROOT, stageRoot, privateTmp, userNamespace: probe.userNamespace }),
          process.execPath,
          '-e',
          script,
        ],
        { timeout: 30_000 },
      );
      expect(JSON.parse(stdout)).toEqual({
        own: 'read',
        shared: 'read',
        sibling: 'ENOENT',
        siblingDir: 'ENOENT',
        reference: 'ENOENT',
        referenceDir: 'ENOENT',
        git: 'ENOENT',
        writeOwn: 'EROFS',
        writeTmp: 'wrote',
        hostLoopback: 'ECONNREFUSED',
      });
    } finally {
      server.close();
    }
  }, 60_000);

  it("a learner's receiver cannot read its neighbour's folder nor the reference lessons during a class grade (and can without the sandbox)", async (t) => {
    if (!probe.ok) return t.skip();
    const root = path.join(tmp, 'class');
    const { bobSecret, refFile } = await makeClass(root);
    // mallory: the reference day 08, whose receiver stops with LEAK if it can read either file
    const mallory = path.join(root, 'mallory', 'lessons', 'day08');
    await cp(path.join(REPO_ROOT, 'lessons', 'day08'), mallory, { recursive: true });
    const receiver = path.join(mallory, 'receiver.ts');
    await writeFile(
      receiver,
      `import { readFileSync as peek } from 'node:fs';\nfor (const p of ${JSON.stringify([bobSecret, refFile])}) {\n  let text: string | undefined;\n  try {\n    text = peek(p, 'utf8');\n  } catch {\n    text = undefined;\n  }\n  if (text !== undefined) throw new Error(\`LEAK: read \${p}\`);\n}\n${await readFile(receiver, 'utf8')}`,
    );
    const grade = (sandbox: boolean) =>
      gradeClass({
        classDir: root,
        outDir: path.join(tmp, sandbox ? 'out-sandbox' : 'out-plain'),
        seed: 7,
        days: ['day08'],
        only: ['d08.2'],
        jobs: 2,
        budgetS: 120,
        concurrency: 1,
        runUntouched: false,
        sandbox,
        fresh: true,
        progress: false,
      });
    const d08 = (r: Awaited<ReturnType<typeof grade>>, name: string) =>
      r.learners.find((l) => l.name === name)?.days[0];
    const boxed = await grade(true);
    expect(boxed.sandbox.used).toBe(true);
    expect(d08(boxed, 'mallory')?.status, JSON.stringify(d08(boxed, 'mallory')?.results[0]?.failure)).toBe('complete');
    expect(d08(boxed, 'alice')?.status).toBe('complete');
    const plain = await grade(false);
    expect(plain.sandbox.used).toBe(false);
    expect(d08(plain, 'mallory')?.status, 'without the sandbox the neighbour is readable').not.toBe('complete');
    expect(JSON.stringify(d08(plain, 'mallory')?.results)).toMatch(/LEAK: read/);
  }, 180_000);
});
