/**
 * A real rsyslogd as a peer, for the syslog lane's tests and benchmark: a config written to a temp dir,
 * `rsyslogd -n -f <conf> -i <pidfile>` in the foreground, readiness by condition (a port that accepts,
 * a socket file that exists — never a fixed sleep), and a stop by its own pid (never by name).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';

/** Path of an executable found in PATH or the usual sbin dirs, or undefined. */
export function findProgram(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** rsyslogd's version line (e.g. `rsyslogd  8.2302.0`), or undefined. */
export function rsyslogVersion(): string | undefined {
  const bin = findProgram('rsyslogd');
  if (!bin) return undefined;
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8' });
  return r.stdout?.split('\n')[0]?.trim() || undefined;
}

/** A port that was free a moment ago (bind to 0, read it, close). rsyslog needs a number up front. */

/** Polls `cond` until it holds or the deadline passes (then throws naming `what`). */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** True once something accepts TCP connections on 127.0.0.1:port. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface RsyslogOptions {
  /** a directory of its own (config, pidfile, work dir, outputs) */
  dir: string;
  /** the config body; `global(workDirectory=…)` is added in front unless `global` is set */
  config: string;
  /** extra parameters of the `global(...)` statement, e.g. `DefaultNetstreamDriverCAFile="…"` */
  global?: string;
  /** ready when this TCP port accepts */
  readyPort?: number;
  /** ready when this (unix socket) path exists */
  readyPath?: string;
  readyTimeoutMs?: number;
}

export interface Rsyslog {
  pid: number;
  child: ChildProcess;
  /** what rsyslogd wrote to stdout/stderr (its own errors land here) */
  output: string[];
  /** stops it by pid: SIGTERM, then SIGKILL after 5 s */
  stop(): Promise<void>;
}

/** Starts rsyslogd in the foreground with the given config and waits until it is ready. */
export async function startRsyslog(opts: RsyslogOptions): Promise<Rsyslog> {
  const bin = findProgram('rsyslogd');
  if (!bin) throw new Error('rsyslogd is not installed (apt-get install rsyslog rsyslog-gnutls)');
  const work = join(opts.dir, 'work');
  await mkdir(work, { recursive: true });
  const conf = join(opts.dir, 'rsyslog.conf');
  await writeFile(conf, `global(workDirectory="${work}" ${opts.global ?? ''})\n${opts.config}\n`);
  const child = spawn(bin, ['-n', '-f', conf, '-i', join(opts.dir, 'rsyslogd.pid')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`rsyslogd exited with ${child.exitCode}: ${output.join('')}`);
        if (opts.readyPort !== undefined) return canConnect(opts.readyPort);
        if (opts.readyPath !== undefined) return existsSync(opts.readyPath);
        return true;
      },
      'rsyslogd to be ready',
      opts.readyTimeoutMs ?? 10_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { pid: child.pid!, child, output, stop };
}
