/**
 * The stack's syslog forwarder: LSP/1 records out as RFC 5424 syslog, to rsyslog, syslog-ng or any
 * syslog server (shared/protocol/README.md §7, the other way round). A shipper by the process contract (CONVENTIONS.md §2): `--input`
 * or `--generate`, and one `{"event":"done",…}` line at the end.
 *
 * Run: npx tsx lessons/stack/syslog-forward.ts --target 127.0.0.1:514 --input records.ndjson
 *      npx tsx lessons/stack/syslog-forward.ts --target 127.0.0.1:6514 --tls --ca certs/ca.crt --generate 1000
 *
 * Mapping: PRI from attrs.facility / attrs.severity (else facility user, severity from level), TIMESTAMP
 * ts, HOSTNAME host, APP-NAME service, PROCID/MSGID attrs.procid/attrs.msgid, STRUCTURED-DATA attrs.sd
 * plus the other attrs under [lsp@32473 …], MSG msg. Syslog has no ACKs: `delivered` in the done line
 * means the server read everything and closed its side after ours.
 */
import { readFileSync } from 'node:fs';
import { formatHostPort, opt, parseCli, requireOneSource, shipperOptions } from '../../shared/cli.ts';
import { openSource } from '../day08/input.ts';
import { createLog } from '../../shared/log.ts';
import { announceDone, onShutdown } from '../../shared/process.ts';
import { FACILITIES } from '../../shared/protocol/syslog/names.ts';
import { forwardSyslog, type SyslogForwardResult } from './syslog-forwarder.ts';

const args = parseCli({
  name: 'lessons/stack/syslog-forward.ts',
  summary: 'Forward LSP/1 records as RFC 5424 syslog over TCP (octet counting or LF) or TLS.',
  options: {
    ...shipperOptions('syslog'), // the syslog lane's TCP port, where syslog-receiver.ts listens by default (issue 22.4)
    framing: opt.choice(
      '--framing <f>',
      'octet (RFC 6587 octet counting, required for TLS by RFC 5425) | lf',
      ['octet', 'lf'] as const,
      'octet',
    ),
    facility: opt.choice('--facility <name>', 'facility of records without attrs.facility', FACILITIES, 'user'),
    tls: opt.flag('--tls', 'connect with TLS 1.2+'),
    ca: opt.string('--ca <file>', 'CA certificate to verify the server with (--tls)'),
    cert: opt.string('--cert <file>', 'client certificate (--tls, for servers that require one)'),
    key: opt.string('--key <file>', 'client key (--tls)'),
    servername: opt.string('--servername <name>', 'name the server certificate must carry (--tls)', 'localhost'),
    bom: opt.flag('--bom', 'start each MSG with a UTF-8 BOM (RFC 5424 §6.4; many collectors keep it in the text)'),
  },
  validate: requireOneSource,
});

const log = createLog('stack/syslog-forward');

// SIGTERM/SIGINT: stop taking input; what was read is still sent and closed cleanly, then the done line.
let stopping = false;
let forwarding: Promise<SyslogForwardResult> | undefined;
async function* untilStopped(source: AsyncIterable<string[]> | Iterable<string[]>): AsyncGenerator<string[]> {
  for await (const chunk of source) {
    if (stopping) return;
    yield chunk;
  }
}
onShutdown(
  async () => {
    stopping = true;
    await forwarding?.catch(() => undefined);
  },
  { log },
);

// one line at start, as every shipper prints (the stack starts a lane's demo records on it)
log.info('forwarding', { target: formatHostPort(args.target), framing: args.framing, tls: args.tls });
try {
  forwarding = forwardSyslog(untilStopped(openSource(args, (reason) => log.warn('input line skipped', { reason }))), {
    host: args.target.host,
    port: args.target.port,
    framing: args.framing,
    tls: args.tls
      ? {
          ca: args.ca ? readFileSync(args.ca) : undefined,
          cert: args.cert ? readFileSync(args.cert) : undefined,
          key: args.key ? readFileSync(args.key) : undefined,
          servername: args.servername,
        }
      : undefined,
    encode: { facility: args.facility, bom: args.bom },
    onSkip: (reason) => log.warn('not a record: skipped', { reason }),
  });
  const r = await forwarding;
  announceDone({
    sent: r.sent,
    acked: 0,
    dropped: 0,
    skipped: r.skipped,
    bytes: r.bytes,
    elapsedMs: r.elapsedMs,
    delivered: r.delivered,
    delivery: 'unacknowledged',
  });
  process.exit(r.delivered ? 0 : 1);
} catch (err) {
  log.error('forwarding failed', { target: formatHostPort(args.target), error: (err as Error).message });
  announceDone({ sent: 0, acked: 0, dropped: 0, error: (err as Error).message });
  process.exit(1);
}
