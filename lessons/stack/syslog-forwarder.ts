/**
 * Records out as syslog: RFC 5424 messages over TCP (RFC 6587 octet counting, or LF framing) or TLS
 * (RFC 5425), to any syslog server — rsyslog, syslog-ng, our own syslog lane. The other half of shared/protocol/README.md §7:
 * the stack can hand what it collected to the tools a team already runs.
 *
 *   const r = await forwardSyslog(openSource(args), { host: '127.0.0.1', port: 514, framing: 'octet' });
 *
 * Syslog over TCP has no acknowledgements: the best a sender can know is that the server read everything
 * and closed its side after our FIN (rsyslog's imptcp/imtcp do). `delivered` says whether that happened.
 *
 * Prompt and bulky at once: records are gathered into one write of up to `writeBytes`, and whatever was
 * gathered is written at the end of each source chunk — a slow pipe's line leaves as soon as it is read,
 * a file's or --generate's big chunks leave in big writes.
 * The program around it is lessons/stack/syslog-forward.ts.
 */
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { waitDrain } from '../../shared/net.ts';
import { validateRecord } from '../day08/validate.ts';
import { encodeSyslog5424, type Syslog5424Options } from '../../shared/protocol/syslog/encode.ts';

export interface SyslogForwardOptions {
  host: string;
  port: number;
  /** `octet` (RFC 6587 §3.4.1, the default and what RFC 5425 requires for TLS) or `lf` (non-transparent) */
  framing?: 'octet' | 'lf';
  /** connect with TLS (1.2+); `ca` to trust, `cert`/`key` for a client certificate, `servername` to verify */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; servername?: string };
  encode?: Syslog5424Options;
  /**
   * bytes gathered at most before one socket write (default 64 KiB). What was gathered is also written at
   * the end of every source chunk: a line that was read leaves at once, without waiting for more input,
   * while bulk input (big chunks) still goes out in large writes (issue 18).
   */
  writeBytes?: number;
  /** a line that is not a valid record is skipped and reported here */
  onSkip?: (reason: string, line: string) => void;
  /** how long to wait for the server to close after our FIN (default 5 s) */
  closeTimeoutMs?: number;
}

export interface SyslogForwardResult {
  sent: number;
  skipped: number;
  bytes: number;
  elapsedMs: number;
  /** the server closed its side after reading everything we sent (the only proof syslog gives) */
  delivered: boolean;
}

/** One record as framed RFC 5424 bytes (LF framing turns line ends inside MSG into spaces: they would cut it). */
export function frameRecord(
  record: Parameters<typeof encodeSyslog5424>[0],
  framing: 'octet' | 'lf',
  opts?: Syslog5424Options,
): Buffer {
  if (framing === 'lf') {
    const flat =
      typeof record.msg === 'string' && /[\r\n]/.test(record.msg)
        ? { ...record, msg: record.msg.replace(/\r?\n|\r/g, ' ') }
        : record;
    const msg = encodeSyslog5424(flat, opts);
    return Buffer.concat([msg, Buffer.from('\n')]);
  }
  const msg = encodeSyslog5424(record, opts);
  return Buffer.concat([Buffer.from(`${msg.length} `, 'latin1'), msg]);
}

/** Sends record lines (JSON text, in chunks) as syslog; resolves once the server has closed its side. */
export async function forwardSyslog(
  source: AsyncIterable<string[]> | Iterable<string[]>,
  opts: SyslogForwardOptions,
): Promise<SyslogForwardResult> {
  const started = performance.now();
  const framing = opts.framing ?? 'octet';
  const writeBytes = opts.writeBytes ?? 64 << 10;
  const socket: net.Socket = opts.tls
    ? tls.connect({
        host: opts.host,
        port: opts.port,
        minVersion: 'TLSv1.2',
        ca: opts.tls.ca,
        cert: opts.tls.cert,
        key: opts.tls.key,
        servername: opts.tls.servername ?? 'localhost',
      })
    : net.connect({ host: opts.host, port: opts.port, noDelay: true });
  await once(socket, opts.tls ? 'secureConnect' : 'connect');
  let failure: Error | undefined;
  socket.on('error', (err) => (failure ??= err));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  // A server that closes first (FIN) raises no error, and a write to a closed socket fails silently: the
  // forwarder would go on reading its input and drop it (npm run chaos found it, issue 18). Fail instead.
  let ending = false;
  socket.once('close', () => {
    if (!ending) failure ??= new Error('the server closed the connection');
  });

  let sent = 0;
  let skipped = 0;
  let bytes = 0;
  let parts: Buffer[] = [];
  let partBytes = 0;
  const flush = async () => {
    if (!partBytes) return;
    const buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts, partBytes);
    parts = [];
    partBytes = 0;
    bytes += buf.length;
    if (!socket.write(buf)) await waitDrain(socket);
  };
  for await (const lines of source) {
    for (const line of lines) {
      const v = validateRecord(Buffer.from(line));
      if (!v.ok) {
        skipped++;
        opts.onSkip?.(v.reason, line);
        continue;
      }
      const framed = frameRecord(v.record, framing, opts.encode);
      parts.push(framed);
      partBytes += framed.length;
      sent++;
      if (partBytes >= writeBytes) await flush();
      if (failure) throw failure;
    }
    // The end of a chunk: the source has nothing more at hand (a pipe fed one line a second yields one
    // line per chunk), so what was read goes out now rather than when 64 KiB have piled up.
    await flush();
    if (failure) throw failure;
  }
  await flush();
  ending = true;
  socket.end();
  const timeout = new Promise<'timeout'>((resolve) =>
    setTimeout(() => resolve('timeout'), opts.closeTimeoutMs ?? 5000).unref(),
  );
  const how = await Promise.race([closed.then(() => 'closed' as const), timeout]);
  if (how === 'timeout') socket.destroy();
  if (failure) throw failure;
  return { sent, skipped, bytes, elapsedMs: Math.round(performance.now() - started), delivered: how === 'closed' };
}
