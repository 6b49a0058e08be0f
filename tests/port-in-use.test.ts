// Issue 22.4: every receiver defaults to its lane's port, so a second run of a lane (or `npm start` beside
// `npm run lesson`) finds the port taken. Each receiver then exits 2 with one line naming the flag and the lane
// (shared/process.ts listenOrExit/bindOrExit), as the process contract reports a bad value (CONVENTIONS.md §2),
// never a stack trace. The port is held here by a socket of this test, on a port the OS picked (never a lane's
// fixed number, which a running stack may hold); the receiver runs in a temp cwd with its own --data-dir.
import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import dgram from 'node:dgram';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LANE_TABLE } from '../shared/lanes.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const TSX = join(REPO, 'node_modules/.bin/tsx');

/** A socket of this test holding a free 127.0.0.1 port; `close` gives it back. */
async function hold(kind: 'tcp' | 'udp'): Promise<{ port: number; close: () => Promise<void> }> {
  if (kind === 'tcp') {
    const s = net.createServer();
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    return {
      port: (s.address() as net.AddressInfo).port,
      close: () => new Promise<void>((resolve) => s.close(() => resolve())),
    };
  }
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  return { port: s.address().port, close: () => new Promise<void>((resolve) => s.close(resolve)) };
}

interface Case {
  name: string;
  receiver: string;
  lane: string;
  kind: 'tcp' | 'udp';
  /** the flag the port is given with, and the one the error line names */
  flag: string;
  /** other flags: the syslog receiver's other transports are turned off */
  extra: string[];
}

const SYSLOG_OTHERS: Record<string, string[]> = {
  '--tcp-port': ['--udp-port', 'off', '--tls-port', 'off'],
  '--udp-port': ['--tcp-port', 'off', '--tls-port', 'off'],
  '--tls-port': ['--tcp-port', 'off', '--udp-port', 'off'],
};

const CASES: Case[] = LANE_TABLE.flatMap((l): Case[] =>
  l.transport === 'syslog'
    ? Object.entries(SYSLOG_OTHERS).map(([flag, extra]) => ({
        name: `${l.id} ${flag}`,
        receiver: l.receiver,
        lane: l.id,
        kind: flag === '--udp-port' ? 'udp' : 'tcp',
        flag,
        extra,
      }))
    : [
        {
          name: l.id,
          receiver: l.receiver,
          lane: l.id,
          kind: l.transport === 'lsp1-udp' ? 'udp' : 'tcp',
          flag: '--port',
          extra: [],
        },
      ],
);

describe('a receiver whose port is in use exits 2 with one line naming the flag (issue 22.4)', () => {
  for (const c of CASES) {
    it(`${c.name}: ${c.receiver}`, { timeout: 60_000 }, async () => {
      const held = await hold(c.kind);
      const cwd = mkdtempSync(join(os.tmpdir(), `port-in-use-${c.lane}-`));
      try {
        const run = await execa(
          TSX,
          [join(REPO, c.receiver), c.flag, String(held.port), '--data-dir', join(cwd, 'data'), ...c.extra],
          { cwd, reject: false },
        );
        expect(run.exitCode, run.stderr).toBe(2);
        const where = `127\\.0\\.0\\.1:${held.port} \\(lane ${c.lane}\\) is in use by another program`;
        expect(run.stderr).toMatch(new RegExp(`^\\S+: ${c.flag}: ${where}: use ${c.flag} 0 \\(any free port\\)`, 'm'));
        expect(run.stderr).not.toMatch(/^\s+at /m); // one line, no stack trace
      } finally {
        await held.close();
        rmSync(cwd, { recursive: true, force: true });
      }
    });
  }
});
