// Issue 22.4: every lane's receiver and its client, both started with no flags but the client's source, meet on
// the lane's port (shared/lanes.ts) and the records arrive. The lane ports are fixed numbers a running `npm start`
// (or another test) may hold: such a lane is skipped with the reason, never failed. Each lane runs in its own
// temp cwd, so the programs' relative defaults (data/<lane>, data/<lane>-shipper, certs/) land there.
import { execa, type ResultPromise } from 'execa';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import dgram from 'node:dgram';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LANE_TABLE, type Lane } from '../shared/lanes.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const TSX = join(REPO, 'node_modules/.bin/tsx');
const RECORDS = 10;

/** The client each lane is run with by hand, and its arguments besides the source (day 14: the load generator). */
function clientOf(lane: Lane): { file: string; args: string[] } {
  if (lane.id === 'day14') return { file: 'lessons/day14/loadgen.ts', args: ['--count', String(RECORDS)] };
  return { file: lane.shipper, args: ['--generate', String(RECORDS)] };
}

/** Whether host:port is free for `kind` right now (a probe bind, closed at once). */
function free(kind: 'tcp' | 'udp', port: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (kind === 'tcp') {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    } else {
      const s = dgram.createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
    }
  });
}

/** The ports a lane's receiver takes by default: why it cannot run now, or undefined. */
async function taken(lane: Lane): Promise<string | undefined> {
  const wanted: Array<['tcp' | 'udp', number]> =
    lane.transport === 'lsp1-udp'
      ? [['udp', lane.port]]
      : lane.transport === 'syslog'
        ? [
            ['tcp', lane.port],
            ['udp', lane.port],
            ['tcp', lane.tlsPort!],
          ]
        : [['tcp', lane.port]];
  for (const [kind, port] of wanted) {
    if (!(await free(kind, port))) return `${kind} port ${port} is in use on this machine (npm start? another run?)`;
  }
  return undefined;
}

/** The first stdout line that is a JSON object with `event`. */
function firstEvent(proc: ResultPromise, event: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout! });
    lines.on('line', (line) => {
      if (!line.startsWith('{')) return;
      const ev = JSON.parse(line) as Record<string, unknown>;
      if (ev['event'] === event) resolve(ev);
    });
    void proc.then((r) => reject(new Error(`exited (${r.exitCode}) before its ${event} line:\n${String(r.stderr)}`)));
  });
}

/** Lines of the records files a receiver wrote in its data dir. */
function persisted(dataDir: string): number {
  let n = 0;
  for (const f of readdirSync(dataDir).filter((f) => /^records.*\.ndjson$/.test(f)))
    n += readFileSync(join(dataDir, f), 'utf8').split('\n').filter(Boolean).length;
  return n;
}

describe('receivers and their clients meet with default flags (issue 22.4)', () => {
  for (const lane of LANE_TABLE) {
    it(`${lane.id}: ${lane.receiver} and ${clientOf(lane).file}, no port flags`, { timeout: 90_000 }, async (ctx) => {
      const why = await taken(lane);
      if (why) ctx.skip(`${lane.id} skipped: ${why}`);
      const cwd = mkdtempSync(join(os.tmpdir(), `default-ports-${lane.id}-`));
      const receiver = execa(TSX, [join(REPO, lane.receiver)], { cwd, reject: false, stderr: 'pipe' });
      try {
        const ready = await firstEvent(receiver, 'ready');
        expect(ready['port']).toBe(lane.port);
        const client = clientOf(lane);
        const run = await execa(TSX, [join(REPO, client.file), ...client.args], { cwd, reject: false });
        expect(run.exitCode, `${client.file} failed:\n${run.stderr}`).toBe(0);
        receiver.kill('SIGTERM');
        expect((await receiver).exitCode).toBe(0);
        expect(persisted(join(cwd, String(ready['dataDir'])))).toBe(RECORDS);
      } finally {
        receiver.kill('SIGKILL');
        await receiver;
        rmSync(cwd, { recursive: true, force: true });
      }
    });
  }
});
