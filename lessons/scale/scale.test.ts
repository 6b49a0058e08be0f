// The scale-out pieces that need no NATS: the generated cluster configs, --target lists, and the
// shipper's failover between two receivers (--sink file) when the first one is killed.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeConfig, type NatsNodeSpec } from './jetstream/cluster.ts';
import { readRxStreamSeq } from '../../shared/storage/rx.ts';
import { parseTargets } from '../day09/shipper-engine.ts';
import { QUICK_SHIPPER_FLAGS } from '../../tests/support/shipper-flags.ts';

const node = (i: number): NatsNodeSpec => ({
  name: `n${i}`,
  clientPort: 4300 + i,
  clusterPort: 5300 + i,
  httpPort: 0,
  storeDir: `/s/n${i}`,
  confPath: '',
  logPath: '',
});

describe('cluster configs', () => {
  it('each node: its own name, store dir and ports, and routes to every other node', () => {
    const all = [1, 2, 3].map(node);
    for (const n of all) {
      const conf = nodeConfig(n, all, '127.0.0.1', 'lsp', 8 << 20);
      expect(conf).toContain(`server_name: ${n.name}`);
      expect(conf).toContain(`listen: 127.0.0.1:${n.clientPort}`);
      expect(conf).toContain(`store_dir: "${n.storeDir}"`);
      expect(conf).toContain(`listen: 127.0.0.1:${n.clusterPort}`);
      for (const o of all) expect(conf.includes(`nats-route://127.0.0.1:${o.clusterPort}`)).toBe(o !== n);
    }
  });
  it('a single node runs JetStream without a cluster block', () => {
    expect(nodeConfig(node(1), [node(1)], '127.0.0.1', 'lsp', 1 << 20)).not.toContain('cluster {');
  });
});

describe('--target lists', () => {
  it('parses one or several host:port, the first being the target', () => {
    expect(parseTargets('127.0.0.1:5301')).toEqual({
      host: '127.0.0.1',
      port: 5301,
      all: [{ host: '127.0.0.1', port: 5301 }],
    });
    const t = parseTargets('a:1, [::1]:2,c:3');
    expect(t.host).toBe('a');
    expect(t.all.map((x) => `${x.host}:${x.port}`)).toEqual(['a:1', '::1:2', 'c:3']);
    expect(() => parseTargets('a:1,nohost')).toThrow();
  });
});

const procs: ChildProcess[] = [];
afterEach(() => {
  for (const p of procs.splice(0)) if (p.exitCode === null) p.kill('SIGKILL');
});

function start(
  file: string,
  args: string[],
): { p: ChildProcess; lines: Array<Record<string, unknown>>; exit: Promise<number | null> } {
  const p = spawn(process.execPath, ['--import', 'tsx', file, ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
  procs.push(p);
  const lines: Array<Record<string, unknown>> = [];
  let buf = '';
  p.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    for (const l of parts) {
      try {
        lines.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        // not JSON
      }
    }
  });
  return { p, lines, exit: new Promise((r) => p.on('exit', (code) => r(code))) };
}

async function until<T>(f: () => T | undefined | false | Promise<T | undefined | false>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function seqs(dir: string): Promise<number[]> {
  const out: number[] = [];
  for (const f of (await readdir(dir)).filter((n) => /^records-\d+\.ndjson$/.test(n))) {
    const buf = await readFile(path.join(dir, f));
    for (let s = 0, e = buf.indexOf(10); e >= 0; s = e + 1, e = buf.indexOf(10, s))
      readRxStreamSeq(buf, s, e, (_st, q) => out.push(q));
  }
  return out;
}

describe('shipper failover', () => {
  it('moves to the next --target when its receiver is killed, and delivers everything', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'scale-failover-'));
    try {
      const rx = [1, 2].map((i) =>
        start('lessons/scale/receiver.ts', [
          '--port',
          '0',
          '--data-dir',
          path.join(dir, `r${i}`),
          '--sink',
          'file',
          '--stats-interval-ms',
          '100',
        ]),
      );
      const ports = await Promise.all(
        rx.map((r) => until(() => r.lines.find((l) => l['event'] === 'ready')?.['port'] as number | undefined, 40_000)),
      );
      const n = 20_000;
      const tx = start('lessons/scale/shipper.ts', [
        '--target',
        ports.map((p) => `127.0.0.1:${p}`).join(','),
        '--generate',
        String(n),
        '--rate',
        '8000',
        '--state-dir',
        path.join(dir, 's'),
        ...QUICK_SHIPPER_FLAGS,
      ]);
      await until(
        () => Number(tx.lines.filter((l) => l['event'] === 'progress').at(-1)?.['acked'] ?? 0) >= 2000,
        40_000,
      );
      rx[0]!.p.kill('SIGKILL');
      expect(await tx.exit).toBe(0);
      const done = tx.lines.find((l) => l['event'] === 'done')!;
      expect(done['acked']).toBe(n);
      expect(tx.lines.some((l) => l['event'] === 'state' && String(l['reason']).includes(String(ports[1])))).toBe(true);
      const got = new Set([...(await seqs(path.join(dir, 'r1'))), ...(await seqs(path.join(dir, 'r2')))]);
      expect(got.size).toBe(n); // every seq is in one of the two receivers' files
      expect((await seqs(path.join(dir, 'r2'))).length).toBeGreaterThan(0);
      // The second receiver still runs (it rewrites stats.json every 100 ms): stop it, and wait for its exit,
      // before its data dir goes — else rm races its writes (ENOTEMPTY, seen in CI).
      rx[1]!.p.kill('SIGTERM');
      await rx[1]!.exit;
    } finally {
      for (const p of procs) {
        if (p.exitCode !== null || p.signalCode !== null) continue;
        const gone = new Promise<void>((res) => p.once('exit', () => res()));
        p.kill('SIGKILL');
        await gone;
      }
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
