// The system peers (tests/support/peers.ts, issue 20.1): how they are found, and the skip path a fresh
// machine takes. `npm test` run with a PATH stripped of every system directory (no rsyslogd, chromium,
// nats-server, docker-compose, promtool), LOGSTREAM_NO_APT=1 and CI unset SKIPS the tests that need them
// — it does not fail — and says once which command installs them; under CI=true the same run fails.
import { execa } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../scripts/lib/launch.ts';
import { findPeer, installCommand, missingPeers, needPeers, PEER_IDS, searchDirs } from './support/peers.ts';

const OVERRIDES = ['LOGSTREAM_CHROMIUM', 'NATS_SERVER', 'DOCKER_COMPOSE', 'LOGSTREAM_PROMTOOL'] as const;

/** Runs `body` with these environment variables (undefined: unset), then puts them back. */
function withEnv<T>(vars: Record<string, string | undefined>, body: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const set = (v: Record<string, string | undefined>) => {
    for (const [k, x] of Object.entries(v))
      if (x === undefined) delete process.env[k];
      else process.env[k] = x;
  };
  set(vars);
  try {
    return body();
  } finally {
    set(saved);
  }
}

let empty: string;
beforeAll(async () => {
  empty = await mkdtemp(join(tmpdir(), 'ls-nopath-'));
});
afterAll(async () => {
  if (empty) await rm(empty, { recursive: true, force: true });
});

/** No peer anywhere: an empty PATH dir, every override a path that does not exist (the promtool cache too). */
const noPeers = () => ({ PATH: empty, ...Object.fromEntries(OVERRIDES.map((k) => [k, join(empty, 'none')])) });

describe('finding the peers', () => {
  it('searches PATH and the sbin beside each bin (Debian puts rsyslogd and nats-server in /usr/sbin)', () => {
    expect(searchDirs('/usr/local/bin:/usr/bin:/bin:relative:/opt/tools')).toEqual([
      '/usr/local/bin',
      '/usr/local/sbin',
      '/usr/bin',
      '/usr/sbin',
      '/bin',
      '/sbin',
      '/opt/tools',
    ]);
  });

  it('finds none with a PATH stripped of the system directories', () => {
    withEnv(noPeers(), () => {
      expect(missingPeers()).toEqual([...PEER_IDS]);
      for (const id of PEER_IDS) expect(findPeer(id), id).toBeUndefined();
    });
  });

  it('names the Debian packages in one apt-get command', () => {
    expect(installCommand(['rsyslogd', 'rsyslog-gnutls', 'logger', 'promtool'])).toMatch(
      /apt-get install -y --no-install-recommends rsyslog rsyslog-gnutls bsdutils prometheus$/,
    );
  });

  it('a missing peer skips outside CI and fails under CI=true, naming the command', () => {
    withEnv({ ...noPeers(), CI: undefined }, () => {
      const need = needPeers('nats-server');
      expect(need.skip).toBe(true);
      expect(need.reason).toMatch(/nats-server.*apt-get install .*nats-server/);
    });
    withEnv({ ...noPeers(), CI: 'true' }, () => {
      const need = needPeers('nats-server');
      expect(need.skip).toBe(false);
      expect(() => need.assert()).toThrow(/apt-get install .*nats-server.*CI=true/);
    });
  });
});

describe('npm test on a machine without the peers', () => {
  // Files that fail today without their peers (the scale checks, the JetStream sink) and the dashboard's
  // browser and Prometheus tests: run through scripts/test-all.ts itself, as `npm test -- <files>` does.
  const files = [
    'checks/scale.test.ts',
    'lessons/scale/jetstream/sink.test.ts',
    'shared/dashboard/dashboard.browser.test.ts',
    'shared/dashboard/metrics.promtool.test.ts',
  ];
  const testAll = (env: Record<string, string | undefined>, which = files) =>
    execa(process.execPath, ['--import', 'tsx', 'scripts/test-all.ts', ...which], {
      cwd: REPO_ROOT,
      // extendEnv false: nothing of this process's environment (CI, overrides) leaks in
      extendEnv: false,
      env: { HOME: process.env.HOME, TMPDIR: process.env.TMPDIR, LOGSTREAM_NO_APT: '1', ...noPeers(), ...env },
      reject: false,
      all: true,
      timeout: 180_000,
    });

  it('skips exactly the tests that need a peer, says once how to install them, and passes', async () => {
    const r = await testAll({});
    const out = r.all ?? '';
    expect(r.exitCode, out.slice(-3000)).toBe(0);
    const summary = /\n(\d+) passed, (\d+) failed, (\d+) skipped$/.exec(out);
    expect(summary, out.slice(-3000)).not.toBeNull();
    const [, passed, failed, skipped] = summary!.map(Number);
    expect(failed).toBe(0);
    expect(passed, 'the tests that need no peer still ran').toBeGreaterThan(0);
    expect(skipped).toBeGreaterThan(0);
    const lines = out.split('\n').filter((l) => l.startsWith('Skipped: the tests that need'));
    expect(lines, out.slice(-3000)).toHaveLength(1);
    expect(lines[0]).toMatch(/apt-get install -y --no-install-recommends .*nats-server/);
    expect(lines[0]).toContain('LOGSTREAM_NO_APT=1');
    expect(out).not.toMatch(/installing the system peers/);
  }, 200_000);

  it('under CI=true the same skip is a failure', async () => {
    const r = await testAll({ CI: 'true' }, ['lessons/scale/jetstream/sink.test.ts']);
    expect(r.exitCode).toBe(1);
    expect(r.all).toMatch(/nats-server, not on this machine: .*apt-get install/);
    expect(r.all).toMatch(/\n0 passed, [1-9]\d* failed$/);
  }, 200_000);
});
