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

/**
 * The config of an rsyslogd that forwards what programs log to its unix socket `sock` (imuxsock: `logger -u sock`)
 * to a syslog receiver on 127.0.0.1:`tcpPort`, each message twice with omfwd over TCP: octet-counted RFC 5424 and
 * LF-framed traditional (RFC 3164). `more`: further actions of the same ruleset (e.g. a TLS one). One copy for the
 * lane's test and check stack.3 (issue 22).
 */
export function forwardingConfig(sock: string, tcpPort: number, more: string[] = []): string {
  const omfwd = `action(type="omfwd" target="127.0.0.1" port="${tcpPort}" protocol="tcp"`;
  return [
    'module(load="imuxsock" SysSock.Use="off")',
    `input(type="imuxsock" Socket="${sock}" ruleset="fwd" UseSpecialParser="off" ParseHostname="on")`,
    'ruleset(name="fwd") {',
    `  ${omfwd} TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")`,
    `  ${omfwd} template="RSYSLOG_TraditionalForwardFormat")`,
    ...more.map((action) => `  ${action}`),
    '}',
  ].join('\n');
}

/**
 * util-linux `logger` arguments that write `msg` to the unix socket `sock` as RFC 5424 from app rs-app at
 * local3.warning, with structured data [req@32473 n="`n`"] and MSGID RQ: what the forwarding tests send.
 */
export function loggerToSocket(sock: string, n: number, msg: string): string[] {
  const sd = ['--sd-id', 'req@32473', '--sd-param', `n="${n}"`];
  return ['-u', sock, '--rfc5424', ...sd, '--msgid', 'RQ', '-t', 'rs-app', '-p', 'local3.warning', msg];
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
